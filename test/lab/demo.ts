// `npm run demo`: boot the lab (a hypervisor host with md, libvirtd and four running tenants),
// migrate every tenant live with sanshift as an operator would run it, write through the
// mirrors while they resync, then show the per-VM downtime and the content checks. Tears the
// lab down whatever happens.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_WORK, startLab, type Lab } from './lab.js';
import { labInventory } from './inventory.js';
import { REPO, checkMigrated, checkNewContent, downtimesFromJournal, writeDuringResync, type MidResyncWrites, type Rec } from './harness.js';

const DIR = join(LAB_WORK, 'demo');
const INVENTORY = join(DIR, 'inventory.yaml');

function sanshift(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    // inherited stdio: on a terminal, sanshift draws its own live view
    const child = spawn(process.execPath, [join(REPO, 'bin', 'sanshift.js'), ...args, '-i', INVENTORY], { stdio: 'inherit', cwd: DIR });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

function journal(): Rec[] {
  const runs = join(DIR, '.sanshift', 'runs');
  return readdirSync(runs).filter((f) => f.endsWith('.jsonl')).sort()
    .flatMap((f) => readFileSync(join(runs, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec));
}

async function demo(lab: Lab): Promise<boolean> {
  writeFileSync(INVENTORY, labInventory({ sshPort: lab.sshPort, keyFile: lab.keyFile, tenants: lab.tenants, resyncSpeedMax: '4MiB/s' }));
  console.log(`\n== the inventory (${INVENTORY})\n${readFileSync(INVENTORY, 'utf8')}`);
  console.log('== the tenants before: all running on their old volumes');
  console.log(await lab.virsh(['list', '--all']));
  // the lab's SAN is slow, so the resync can be watched and written to
  await lab.setHostResyncCeiling(4 * 1024);

  console.log(`== sanshift run -i ${INVENTORY} --yes\n`);
  const writes: MidResyncWrites = { writes: new Map(), dirtied: [], landedMidResync: new Map(), seen: new Map() };
  const writer = Promise.all(lab.tenants.filter((t) => !t.powersOffOnAcpi).map((t) => writeDuringResync(lab, t, 300_000, writes)))
    .then(() => null, (e: unknown) => e as Error);
  const code = await sanshift(['run', '--yes']);
  const writerError = await writer;

  console.log('\n== the run report (sanshift report)');
  if ((await sanshift(['report'])) !== 0) {
    console.log('per-VM downtime, from the journal:');
    for (const [vm, windows] of downtimesFromJournal(journal())) console.log(`  ${vm}: ${windows.map((w) => `${w.window} ${(w.ms / 1000).toFixed(1)} s`).join(', ')}`);
  }

  console.log('== content checks');
  let ok = code === 0;
  if (writerError) { console.log(`  FAIL the writer: ${writerError.message}`); ok = false; }
  for (const [mirror, landed] of writes.landedMidResync) {
    console.log(`  ${landed ? 'ok  ' : 'FAIL'} 5 MiB written through ${mirror} while it resynced (3 MiB ahead of the copy, 2 MiB behind it)`);
    ok &&= landed;
  }
  for (const t of lab.tenants) {
    const problems = [...await checkNewContent(lab, [t], writes.writes), ...await checkMigrated(lab, [t])];
    const volumes = t.disks.map((d) => `${d.oldVolume} -> ${d.newVolume}`).join(', ');
    console.log(`  ${problems.length === 0 ? 'ok  ' : 'FAIL'} ${t.name} (${volumes}): NEW holds OLD plus every write, runs and is defined on NEW, no sanshift metadata`);
    for (const p of problems) console.log(`       ${p}`);
    ok &&= problems.length === 0;
  }
  const left = await lab.mdstat();
  console.log(`  ${/^md\d+ :/m.test(left) ? 'FAIL' : 'ok  '} no md array left on the host`);
  console.log(await lab.virsh(['list', '--all']));
  return ok;
}

async function main(): Promise<number> {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  console.log('== booting the lab: a hypervisor host as a qemu guest (md, mdadm, libvirtd, sshd on 127.0.0.1), 1-2 min');
  const lab = await startLab({ log: (l) => console.log(`   ${l}`) });
  try {
    const ok = await demo(lab);
    console.log(ok ? '\ndemo: every VM migrated live, every check passed' : '\ndemo: FAILED (see above)');
    return ok ? 0 : 1;
  } finally {
    await lab.stop();
  }
}

const code = await main();
// The lab is down by now: end once stdout has drained, without waiting on a library's handles.
process.stdout.write('', () => process.exit(code));
