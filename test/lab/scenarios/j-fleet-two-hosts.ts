// (j) A fleet run across both lab hosts, two VMs on each, at most one mirror per host at a time
// (limits.mirrorsPerHost: 1): every VM migrates, and the journal shows the limit held. vm4
// powers off on ACPI and the others ignore it, so this also checks what (g) checks: a graceful
// shutdown without force, and the force after the timeout (g itself is opt-in, for CI's time).
import { checkMigrated, checkNewContent, mirrorsAtOnce, Workspace } from '../harness.js';
import { isResult, type Scenario } from './scenario.js';

const PER_HOST = 1;

export const fleetTwoHosts: Scenario = {
  id: 'j',
  wave: 2,
  title: `fleet run across both hosts (two VMs each), mirrorsPerHost ${PER_HOST}: all migrate, the limit holds`,
  tenants: ['vm4', 'vm6'],
  tenantsOnB: ['vm8', 'vm9'],
  async run(ctx) {
    const [a, b] = [ctx.lab, ctx.labB];
    const onA = [ctx.tenant('vm4'), ctx.tenant('vm6')];
    const onB = [ctx.tenantOnB('vm8'), ctx.tenantOnB('vm9')];
    const ws = new Workspace('j', a, onA, [{ lab: b, tenants: onB }]);
    // vm4's boot sector must be up (ACPI on) before its T2 shutdown: 8 s, as in (g)
    ws.writeInventory({ resyncSpeedMax: '16MiB/s', mirrorsPerHost: PER_HOST, shutdownTimeout: '8s' });
    const proc = ws.sanshift(['run', '--yes']);
    const code = await proc.finish(1_200_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    const hostOf = (vm: string): string => (onA.some((t) => t.name === vm) ? a.hostName : b.hostName);
    const most = mirrorsAtOnce(ws.journal(), hostOf);
    for (const host of [a.hostName, b.hostName]) {
      ctx.check(`${host}: at most ${PER_HOST} mirror at once (the journal shows ${most.get(host) ?? 0})`, (most.get(host) ?? 0) >= 1 && (most.get(host) ?? 0) <= PER_HOST);
    }
    const forced = (vm: string): string => JSON.stringify(ws.journal().filter(isResult(vm, 'shutdown-vm')).map((r) => r.detail?.['forced']));
    ctx.check(`vm4 powered off on ACPI at T1 and T2, no force (${forced('vm4')})`, forced('vm4') === '[false,false]');
    for (const vm of ['vm6', 'vm8', 'vm9']) ctx.check(`${vm} ignored ACPI and was forced off after the timeout (${forced(vm)})`, forced(vm) === '[true,true]');
    ctx.check('every VM on lab-hv runs and is defined on NEW; NEW holds OLD', [...await checkMigrated(a, onA), ...await checkNewContent(a, onA, new Map())]);
    ctx.check('every VM on lab-hv2 runs and is defined on NEW; NEW holds OLD', [...await checkMigrated(b, onB), ...await checkNewContent(b, onB, new Map())]);
  },
};
