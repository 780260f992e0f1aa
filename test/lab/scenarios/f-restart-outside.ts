// (f) A VM restarted outside sanshift during its resync: the stale mirror is never cut over (I3).
import { checkMigrated, checkNewContent, Workspace, type Write } from '../harness.js';
import { isResult, midResync, type Scenario } from './scenario.js';

export const restartOutsideSanshift: Scenario = {
  id: 'f',
  title: 'VM restarted outside sanshift during the resync: detected (I3), mirror rebuilt, no stale cutover',
  tenants: ['vm1'],
  async run(ctx) {
    const t = ctx.tenant('vm1');
    const ws = new Workspace('f', ctx.lab, [t]);
    // 64 s for vm1's 128 MiB from the moment NEW joins (after the start on the mirror): room
    // for a restart outside sanshift and a write, and the copy that follows is short too
    ws.writeInventory({ resyncSpeedMax: '2MiB/s' });
    const proc = ws.sanshift(['run', '--yes']);
    await midResync(ctx, ws, proc, t);
    const builds = ws.journal().filter(isResult(t.name, 'build-mirror')).length;
    await ctx.lab.restartDomainOutsideSanshift(t.name);
    // it runs on OLD now: what it writes there never reaches NEW through the stale mirror
    const w: Write = { tag: 'w-f-outside', atMiB: 20, countMiB: 3 };
    await ctx.lab.writePattern('/dev/mapper/old-vm1', w.tag, w.atMiB, w.countMiB);
    ctx.dirtied.push({ volume: 'old-vm1', atMiB: w.atMiB, countMiB: w.countMiB });
    ctx.say('vm1 restarted outside sanshift (now on OLD); 3 MiB written to OLD directly');
    const stale = await ws.waitForRecord('stop-mirror (stale)', (r) => isResult(t.name, 'stop-mirror')(r) && r.detail?.['why'] === 'stale', 240_000, proc);
    ctx.say(`sanshift stopped the stale mirror at ${stale.at}`);
    const code = await proc.finish(600_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    ctx.check('the mirror was rebuilt after the restart', ws.journal().filter(isResult(t.name, 'build-mirror')).length > builds);
    ctx.check('NEW holds OLD including the write made outside the mirror (no stale cutover)', await checkNewContent(ctx.lab, [t], new Map([['new-vm1', [w]]])));
    ctx.check('vm1 on NEW, no md array, no metadata', await checkMigrated(ctx.lab, [t]));
  },
};
