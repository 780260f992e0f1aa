// (b) The operator stops a run in mid-resync and rolls the VM back to OLD.
import { checkOnOld, Workspace } from '../harness.js';
import { capture, midResync, type Scenario } from './scenario.js';

export const rollbackMidResync: Scenario = {
  id: 'b',
  title: 'rollback in mid-resync',
  tenants: ['vm3'],
  async run(ctx) {
    const t = ctx.tenant('vm3');
    const ws = new Workspace('b', ctx.lab, [t]);
    ws.writeInventory({ resyncSpeedMax: '1MiB/s' });
    const before = await ctx.lab.virsh(['dumpxml', '--inactive', t.name]);
    const proc = ws.sanshift(['run', '--yes']);
    await midResync(ctx, ws, proc, t);
    capture('scenario-b-recovering.mdstat.txt', await ctx.lab.mdstat());
    // the operator stops the run (it would go on) and rolls back
    await proc.kill();
    const rb = ws.sanshift(['rollback', t.name, '--yes']);
    const code = await rb.finish(300_000);
    ctx.check(`sanshift rollback exits 0 (got ${code}; log ${rb.logFile})`, code === 0);
    ctx.check('vm3 runs on OLD, mirror gone, definition identical to the original', await checkOnOld(ctx.lab, t, before));
  },
};
