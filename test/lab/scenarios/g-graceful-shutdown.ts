// (g) Graceful shutdowns: a guest that powers off on ACPI, and one forced after the timeout.
import { checkMigrated, checkNewContent, Workspace } from '../harness.js';
import { isResult, type Scenario } from './scenario.js';

export const gracefulShutdown: Scenario = {
  id: 'g',
  // j checks the same on vm4 and three forced VMs in CI; this stays for test:lab:full
  optIn: true,
  title: 'graceful shutdown: vm4 powers off on ACPI, vm1 ignores it and is forced (policy force)',
  tenants: ['vm4', 'vm1'],
  async run(ctx) {
    const ts = [ctx.tenant('vm4'), ctx.tenant('vm1')];
    const ws = new Workspace('g', ctx.lab, ts);
    // slow enough that vm4's boot sector is up (ACPI enabled) before its T2 shutdown: a guest
    // still in its BIOS ignores the power button
    ws.writeInventory({ resyncSpeedMax: '4MiB/s', shutdownTimeout: '8s' });
    const proc = ws.sanshift(['run', '--yes']);
    const code = await proc.finish(600_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    const shutdowns = (vm: string) => ws.journal().filter(isResult(vm, 'shutdown-vm')).map((r) => r.detail?.['forced']);
    ctx.check(`vm4 shut down twice without force (${JSON.stringify(shutdowns('vm4'))})`, JSON.stringify(shutdowns('vm4')) === '[false,false]');
    ctx.check(`vm1 forced off twice after the timeout (${JSON.stringify(shutdowns('vm1'))})`, JSON.stringify(shutdowns('vm1')) === '[true,true]');
    const state = (await ctx.lab.virsh(['domstate', 'vm4'])).trim();
    ctx.check('vm4 runs again on NEW', state === 'running');
    ctx.check('both on NEW, NEW holds OLD', [...await checkMigrated(ctx.lab, ts), ...await checkNewContent(ctx.lab, [ts[1]!], new Map())]);
  },
};
