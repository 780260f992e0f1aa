// (n) I3 while the VM is off (issue 10, item 2): vm4 is shut off before the run, so its whole
// copy runs with no guest to watch; something outside sanshift (an operator's dd, a host
// sharing the LUN) writes to OLD directly while md copies. The write counters of OLD and of
// the array disagree at the final check: NEW is never cut over stale, the copy is redone, and
// NEW ends with the write. The VM stays off, as it was found.
import { checkMigrated, checkNewContent, Workspace, type Write } from '../harness.js';
import { isResult, midResync, type Scenario } from './scenario.js';

export const writtenAroundWhileOff: Scenario = {
  id: 'n',
  // opt-in (npm run test:lab:full): CI's 20 minutes hold a-j and m; see docs/lab.md
  optIn: true,
  title: 'VM off for the whole copy, OLD written around the mirror: detected by write counters, copied again, no stale cutover',
  tenants: ['vm4'],
  async run(ctx) {
    const { lab } = ctx;
    const t = ctx.tenant('vm4');
    await lab.virsh(['destroy', t.name]);
    const ws = new Workspace('n', lab, [t]);
    // 64 MiB at 768 KiB/s: about 85 s of copy, time to write around it
    ws.writeInventory({ resyncSpeedMax: '768KiB/s' });
    const proc = ws.sanshift(['run', '--yes']);
    await midResync(ctx, ws, proc, t);
    ctx.check('vm4 is still off: sanshift copies an off VM without starting it', (await lab.domainState(t.name)).includes('shut off'));
    const w: Write = { tag: 'w-n-around', atMiB: 40, countMiB: 2 };
    await lab.writePattern(`/dev/mapper/${t.disks[0]!.oldVolume}`, w.tag, w.atMiB, w.countMiB);
    ctx.dirtied.push({ volume: t.disks[0]!.oldVolume, atMiB: w.atMiB, countMiB: w.countMiB });
    ctx.say(`2 MiB written to ${t.disks[0]!.oldVolume} directly, around the mirror, mid-copy`);
    const stale = await ws.waitForRecord('stop-mirror (stale)', (r) => isResult(t.name, 'stop-mirror')(r) && r.detail?.['why'] === 'stale', 600_000, proc);
    ctx.say(`sanshift found the write around the mirror and stopped it at ${stale.at}`);
    const code = await proc.finish(900_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    ctx.check('the mirror was built again for a second copy', ws.journal().filter(isResult(t.name, 'build-mirror')).length >= 2);
    ctx.check('NEW holds OLD including the write made around the mirror', await checkNewContent(lab, [t], new Map([[t.disks[0]!.newVolume, [w]]])));
    ctx.check('vm4 is defined on NEW, stays off, no md array, no metadata', await checkMigrated(lab, [t], { expectRunning: false }));
  },
};
