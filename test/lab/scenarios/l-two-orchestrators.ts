// (l) Two orchestrators with different state folders against one host (issue 11): a second
// run of a VM another run drives is refused, naming that run, before it touches anything; two
// runs of different VMs started at the same instant build their mirrors side by side without
// racing for an md minor (the host's md lock), and both complete.
import { join } from 'node:path';
import { checkMigrated, checkNewContent, Workspace } from '../harness.js';
import { isIntent, type Scenario } from './scenario.js';

export const twoOrchestrators: Scenario = {
  id: 'l',
  // opt-in (npm run test:lab:full): CI's 20 minutes hold a-j and m; see docs/lab.md
  optIn: true,
  title: 'two orchestrators, two state folders, one host: the second is refused naming the first; no md minor race',
  tenants: ['vm1', 'vm3'],
  async run(ctx) {
    const [vm1, vm3] = [ctx.tenant('vm1'), ctx.tenant('vm3')];
    const ws = new Workspace('l', ctx.lab, [vm1, vm3]);
    ws.writeInventory({ resyncSpeedMax: '4MiB/s' });
    const stateA = join(ws.dir, 'state-a');
    const stateB = join(ws.dir, 'state-b');
    // two operators, two machines' worth of state, started together
    const a = ws.sanshift(['run', 'vm1', '--yes', '--state-dir', stateA]);
    const b = ws.sanshift(['run', 'vm3', '--yes', '--state-dir', stateB]);
    await ws.waitForRecord('the first run acting on vm1', isIntent('vm1', 'build-mirror'), 600_000, a, stateA);
    const intruder = ws.sanshift(['run', 'vm1', '--yes', '--state-dir', stateB]);
    const refused = await intruder.finish(300_000);
    const log = intruder.log();
    ctx.check(`a second run of vm1 from another state folder exits 2 (got ${refused}; log ${intruder.logFile})`, refused === 2);
    ctx.check('it names the run that holds vm1, with its pid and machine', /VM vm1 is being migrated by run \S+ \(pid \d+ on [^)]+\) \(its lease on lab-hv runs \d+ s more\)/.test(log));
    ctx.check('and did nothing to vm1: no record of vm1 in its state folder', !ws.journal(stateB).some((r) => r.vm === 'vm1'));
    const [codeA, codeB] = await Promise.all([a.finish(900_000), b.finish(900_000)]);
    ctx.check(`both runs exit 0 (got ${codeA} and ${codeB}; logs ${a.logFile}, ${b.logFile})`, codeA === 0 && codeB === 0);
    ctx.check('NEW holds what OLD held, for both', await checkNewContent(ctx.lab, [vm1, vm3], new Map()));
    ctx.check('vm1 and vm3 run on NEW, no md array, no metadata', await checkMigrated(ctx.lab, [vm1, vm3]));
  },
};
