// (j) A fleet run across both lab hosts, two VMs on each, at most one mirror per host at a time
// (limits.mirrorsPerHost: 1): every VM migrates, and the journal shows the limit held.
import { checkMigrated, checkNewContent, mirrorsAtOnce, Workspace } from '../harness.js';
import type { Scenario } from './scenario.js';

const PER_HOST = 1;

export const fleetTwoHosts: Scenario = {
  id: 'j',
  wave: 1,
  title: `fleet run across both hosts (two VMs each), mirrorsPerHost ${PER_HOST}: all migrate, the limit holds`,
  tenants: ['vm4', 'vm6'],
  tenantsOnB: ['vm8', 'vm9'],
  async run(ctx) {
    const [a, b] = [ctx.lab, ctx.labB];
    const onA = [ctx.tenant('vm4'), ctx.tenant('vm6')];
    const onB = [ctx.tenantOnB('vm8'), ctx.tenantOnB('vm9')];
    const ws = new Workspace('j', a, onA, [{ lab: b, tenants: onB }]);
    ws.writeInventory({ resyncSpeedMax: '16MiB/s', mirrorsPerHost: PER_HOST });
    const proc = ws.sanshift(['run', '--yes']);
    const code = await proc.finish(1_200_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    const hostOf = (vm: string): string => (onA.some((t) => t.name === vm) ? a.hostName : b.hostName);
    const most = mirrorsAtOnce(ws.journal(), hostOf);
    for (const host of [a.hostName, b.hostName]) {
      ctx.check(`${host}: at most ${PER_HOST} mirror at once (the journal shows ${most.get(host) ?? 0})`, (most.get(host) ?? 0) >= 1 && (most.get(host) ?? 0) <= PER_HOST);
    }
    ctx.check('every VM on lab-hv runs and is defined on NEW; NEW holds OLD', [...await checkMigrated(a, onA), ...await checkNewContent(a, onA, new Map())]);
    ctx.check('every VM on lab-hv2 runs and is defined on NEW; NEW holds OLD', [...await checkMigrated(b, onB), ...await checkNewContent(b, onB, new Map())]);
  },
};
