// (a) The whole life of three VMs at once, with the writes a guest would make mid-resync.
import { checkMigrated, checkNewContent, Workspace, type Write } from '../harness.js';
import { capture, writeDuringResync, type Scenario } from './scenario.js';

export const fullMigration: Scenario = {
  id: 'a',
  wave: 1,
  title: 'full migration of vm1, vm2, vm3 with writes through every mirror mid-resync',
  tenants: ['vm1', 'vm2', 'vm3'],
  async run(ctx) {
    const ts = ['vm1', 'vm2', 'vm3'].map((n) => ctx.tenant(n));
    const ws = new Workspace('a', ctx.lab, ts);
    ws.writeInventory({ resyncSpeedMax: '4MiB/s' });
    const writes = new Map<string, Write[]>();
    const proc = ws.sanshift(['run', '--yes']);
    await Promise.all(ts.map((t, i) => writeDuringResync(ctx, t, writes, 240_000, i === 1 ? 'scenario-a-vm2-recovering' : undefined)));
    const code = await proc.finish(600_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    ctx.check('NEW holds OLD plus every write', await checkNewContent(ctx.lab, ts, writes));
    ctx.check('every VM runs on NEW and is defined on NEW, no md array, no metadata', await checkMigrated(ctx.lab, ts));
    capture('scenario-a-mdstat-after.txt', await ctx.lab.mdstat());
  },
};
