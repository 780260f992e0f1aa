// (m) Two promises of the storage review on the real stack (issue 10): OLD fails while NEW is
// in sync (a dm `error` table under OLD, then a write through the mirror): md fails OLD, NEW
// holds the write, and sanshift goes forward to NEW, never back onto the stale OLD (item 1).
// And a console password in the definition survives every define, and is never written to the
// journal, the reports or sanshift's output (item 9).
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arraysOf, checkMigrated, checkNewContent, sleep, Workspace, type Write } from '../harness.js';
import type { Scenario } from './scenario.js';

// libvirt takes at most 8 characters for a VNC password
const SECRET = 'Zq7sEcrT';

/** every file under `dir`, read as text */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

export const oldFailsInSync: Scenario = {
  id: 'm',
  title: 'OLD fails while NEW is in sync: forward to NEW with every write; a console password survives and is never printed',
  tenants: ['vm6'],
  async run(ctx) {
    const { lab } = ctx;
    const t = ctx.tenant('vm6');
    const ws = new Workspace('m', lab, [t]);
    // the T2 window waits in this hook until the scenario has failed OLD (the hook runs on this
    // machine, in the inventory's folder)
    writeFileSync(join(ws.dir, 'hold-t2.sh'), '#!/bin/sh\n[ "$SANSHIFT_WINDOW" = T2 ] || exit 0\ntouch at-t2\ni=0\nwhile [ ! -f go ] && [ $i -lt 1000 ]; do sleep 0.25; i=$((i+1)); done\n');
    ws.writeInventory({ resyncSpeedMax: '16MiB/s', policy: { hooks: { beforeWindow: ['sh', './hold-t2.sh'] } } });
    // a VNC console with a password, in the persistent definition (read with its secrets)
    const xml = await lab.virsh(['dumpxml', '--inactive', '--security-info', 'vm6']);
    const withVnc = xml.replace('</devices>', `  <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' passwd='${SECRET}'/>\n  </devices>`);
    // the lab guest has no /dev/stdin: the definition goes through a file
    await lab.guestRun(['tee', '/run/m-vm6.xml'], { input: withVnc });
    await lab.guestRun(['virsh', 'define', '/run/m-vm6.xml']);
    const plan = ws.sanshift(['plan']);
    ctx.check(`plan exits 0 (log ${plan.logFile})`, (await plan.finish(300_000)) === 0);

    const proc = ws.sanshift(['run', '--yes']);
    const deadline = Date.now() + 900_000;
    while (!existsSync(join(ws.dir, 'at-t2'))) {
      if (proc.exited || Date.now() > deadline) throw new Error(`vm6 never reached its T2 hook; log ${proc.logFile}`);
      await sleep(250);
    }
    // vm6's own array: other scenarios' arrays run beside it on this host
    const [before] = await arraysOf(lab, [t]);
    ctx.check(`NEW is in sync before OLD fails (${before?.split('\n')[1]?.trim() ?? 'no array'})`, before !== undefined && /\[UU\]/.test(before));
    await lab.swapInErrorTable('old-vm6');
    const w: Write = { tag: 'w-m-after-old-failed', atMiB: 8, countMiB: 2 };
    await lab.writePattern('/dev/md/ss-vm6-vda', w.tag, w.atMiB, w.countMiB);
    const [failed = ''] = await arraysOf(lab, [t]);
    ctx.say(`vm6's array after the write:\n${failed}`);
    ctx.check('md failed OLD, and NEW is the one leg left in sync', /\(F\)/.test(failed) && /\[_U\]/.test(failed));
    writeFileSync(join(ws.dir, 'go'), '');
    const code = await proc.finish(900_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    ctx.check('NEW holds OLD plus the write made after OLD failed', await checkNewContent(lab, [t], new Map([['new-vm6', [w]]])));
    ctx.check('vm6 runs on NEW and is defined on NEW, no md array, no metadata', await checkMigrated(lab, [t]));
    const after = await lab.virsh(['dumpxml', '--inactive', '--security-info', 'vm6']);
    ctx.check('the console password is still in the definition', after.includes(`passwd='${SECRET}'`));
    const leaks = filesUnder(ws.dir).filter((f) => readFileSync(f, 'utf8').includes(SECRET));
    ctx.check(`no journal, report or output of sanshift holds the password (found in: ${leaks.join(', ') || 'none'})`, leaks.length === 0);
  },
};
