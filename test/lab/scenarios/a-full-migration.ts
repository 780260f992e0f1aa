// (a) The whole life of three VMs at once, with the writes a guest would make mid-resync, and
// the down windows taken apart (issue 9). a-slow-ssh is the same run with every ssh session of
// sanshift's costing one more second, as on a loaded production host (opt-in).
import { checkMigrated, checkNewContent, formatWindowTable, windowReport, Workspace, type Write } from '../harness.js';
import { capture, writeDuringResync, type Ctx, type Scenario } from './scenario.js';

async function migrateThree(ctx: Ctx, id: string, captures: boolean): Promise<void> {
  const ts = ['vm1', 'vm2', 'vm3'].map((n) => ctx.tenant(n));
  const ws = new Workspace(id, ctx.lab, ts);
  ws.writeInventory({ resyncSpeedMax: '4MiB/s' });
  const writes = new Map<string, Write[]>();
  const proc = ws.sanshift(['run', '--yes']);
  await Promise.all(ts.map((t, i) => writeDuringResync(ctx, t, writes, 600_000, captures && i === 1 ? 'scenario-a-vm2-recovering' : undefined)));
  const code = await proc.finish(1_200_000);
  ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
  ctx.check('NEW holds OLD plus every write', await checkNewContent(ctx.lab, ts, writes));
  ctx.check('every VM runs on NEW and is defined on NEW, no md array, no metadata', await checkMigrated(ctx.lab, ts));
  if (captures) capture('scenario-a-mdstat-after.txt', await ctx.lab.mdstat());
  const sessions = (await ctx.lab.sshSessions()).filter((x) => x.at >= proc.startedAt);
  ctx.say(`${sessions.length} ssh sessions on ${ctx.lab.hostName} during the run; down windows:\n${formatWindowTable(windowReport(ws.journal(), sessions.map((x) => x.at))).replace(/^/gm, `  [${id}]   `)}`);
}

export const fullMigration: Scenario = {
  id: 'a',
  title: 'full migration of vm1, vm2, vm3 with writes through every mirror mid-resync',
  tenants: ['vm1', 'vm2', 'vm3'],
  run: (ctx) => migrateThree(ctx, 'a', true),
};

export const SLOW_SSH_DELAY_MS = 1000;

export const fullMigrationSlowSsh: Scenario = {
  id: 'a-slow-ssh',
  // the delay is host-wide: nothing else on host A runs beside it
  wholeHost: 'A',
  optIn: true,
  title: `(a) again with ${SLOW_SSH_DELAY_MS} ms more per ssh session`,
  tenants: ['vm1', 'vm2', 'vm3'],
  async run(ctx) {
    await ctx.lab.setSshSessionDelay(SLOW_SSH_DELAY_MS);
    try {
      await migrateThree(ctx, 'a-slow-ssh', false);
    } finally {
      await ctx.lab.setSshSessionDelay(0);
    }
  },
};
