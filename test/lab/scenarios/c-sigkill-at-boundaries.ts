// (c) sanshift SIGKILLed at representative step boundaries, each in a fresh run; the last run
// converges. Every boundary is covered on the libvirt test driver by test/engine/crash.test.ts.
import { checkMigrated, checkNewContent, targetsOfRec, Workspace, type Rec, type Write } from '../harness.js';
import { isIntent, isResult, type Scenario } from './scenario.js';

export const sigkillAtBoundaries: Scenario = {
  id: 'c',
  title: 'sanshift SIGKILLed at step boundaries (vm2, two disks), then run again',
  tenants: ['vm2'],
  async run(ctx) {
    const t = ctx.tenant('vm2');
    const ws = new Workspace('c', ctx.lab, [t]);
    ws.writeInventory({ resyncSpeedMax: '2MiB/s' });
    const writes = new Map<string, Write[]>();
    // each kill lands right after the journal shows this record, in a fresh run each time
    const boundaries: [string, (r: Rec) => boolean][] = [
      // the prepare (before the T1 shutdown): both mirrors are built in one host command
      ['at build-mirror intent (both disks)', (r) => isIntent('vm2', 'build-mirror')(r) && targetsOfRec(r).includes('vda')],
      ['at start-on-mirror intent', isIntent('vm2', 'start-on-mirror')],
      // a kill at the start's intent may land after libvirt started it: the next run adopts it;
      // up on its one-legged mirrors, NEW not joined yet
      ['after start-on-mirror or adopt-start result', (r) => isResult('vm2', 'start-on-mirror')(r) || isResult('vm2', 'adopt-start')(r)],
      ['in mid-resync (after add-new-leg result, both disks)', (r) => isResult('vm2', 'add-new-leg')(r) && targetsOfRec(r).includes('vda')],
      ['at define-on-new result', isResult('vm2', 'define-on-new')],
      ['at stop-mirror result (first disk)', isResult('vm2', 'stop-mirror')],
    ];
    let seen = 0;
    for (const [label, match] of boundaries) {
      const proc = ws.sanshift(['run', '--yes']);
      // a boundary already passed by an earlier run cannot be hit again: skip it
      const already = ws.journal().filter(match).length;
      try {
        await ws.waitForCount(label, match, already + 1, 300_000, proc);
      } catch (e) {
        ctx.check(`kill ${label}: ${(e as Error).message}`, false);
        await proc.kill();
        continue;
      }
      await proc.kill();
      seen++;
      ctx.say(`SIGKILL ${label}`);
      if (label.startsWith('in mid-resync')) {
        // writes made while no sanshift runs: the mirror keeps them, the next run copies on
        for (const d of t.disks) {
          const w: Write = { tag: `w-c-${d.target}`, atMiB: 3, countMiB: 2 };
          await ctx.lab.writePattern(`/dev/md/ss-vm2-${d.target}`, w.tag, w.atMiB, w.countMiB);
          writes.set(d.newVolume, [w]);
          ctx.dirtied.push({ volume: d.oldVolume, atMiB: w.atMiB, countMiB: w.countMiB });
        }
        ws.writeInventory({ resyncSpeedMax: '16MiB/s' });
      }
    }
    const last = ws.sanshift(['run', '--yes']);
    const code = await last.finish(600_000);
    ctx.check(`the last run exits 0 (got ${code}; log ${last.logFile})`, code === 0);
    ctx.check(`all ${boundaries.length} kills landed`, seen === boundaries.length);
    ctx.check('NEW holds OLD plus every write', await checkNewContent(ctx.lab, [t], writes));
    ctx.check('vm2 runs on NEW and is defined on NEW, no md array, no metadata', await checkMigrated(ctx.lab, [t]));
  },
};
