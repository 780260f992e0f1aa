// Lab smoke test: boot the lab, run the seed's raw sequence on vm1 over ssh, check that NEW
// holds OLD plus the writes made during the resync, reach libvirt from this machine with
// @unraid/libvirt, power off the ACPI tenant, simulate a reboot, tear down. Prints timings
// and writes what it saw to fixtures/lab-captures/. Run: npx tsx test/lab/smoke.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hypervisor } from '@unraid/libvirt';
import { LAB_DIR, startLab, type ContentRun, type GuestResult, type Lab } from './lab.js';

const CAPTURES = join(LAB_DIR, '..', '..', 'fixtures', 'lab-captures');
const GUEST = join(LAB_DIR, 'guest');
const MIRROR = '/dev/md/ss-vm1-vda';
const OLD = '/dev/mapper/old-vm1';
const NEW = '/dev/mapper/new-vm1';

const timings: [string, number][] = [];
const failures: string[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function timed<T>(stage: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push([stage, Date.now() - t0]);
    console.log(`  ${stage}: ${Date.now() - t0} ms`);
  }
}

function check(what: string, ok: boolean, detail = ''): void {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}${ok || !detail ? '' : `: ${detail}`}`);
  if (!ok) failures.push(what);
}

function capture(name: string, r: GuestResult): GuestResult {
  const out = r.stdout + r.stderr;
  writeFileSync(join(CAPTURES, `${name}.txt`), `$ ${r.argv.join(' ')}\n${out}${out && !out.endsWith('\n') ? '\n' : ''}[exit ${r.exitCode}]\n`);
  return r;
}

async function run(lab: Lab, name: string, argv: string[], input?: string): Promise<GuestResult> {
  return capture(name, await lab.ssh(argv, input === undefined ? {} : { input }));
}

/** /proc/mdstat, mdadm --detail and sysfs of one mirror at one moment */
async function snapshot(lab: Lab, name: string, md: string): Promise<void> {
  writeFileSync(join(CAPTURES, `${name}.mdstat.txt`), await lab.mdstat());
  await run(lab, `${name}.detail`, ['mdadm', '--detail', MIRROR]);
  writeFileSync(join(CAPTURES, `${name}.sysfs.txt`), (await lab.guestRun(['bash', join(GUEST, 'md-sysfs.sh'), md])).stdout);
}

async function waitFor(what: string, timeoutMs: number, test: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await test()) return true;
    await sleep(250);
  }
  check(what, false, `not within ${timeoutMs} ms`);
  return false;
}

async function seedSequence(lab: Lab): Promise<void> {
  console.log('seed sequence on vm1');
  await run(lab, 'vm1-domstate-before', ['virsh', 'domstate', 'vm1']);
  await timed('T1 graceful shutdown tried (no-OS tenant ignores it)', async () => {
    await run(lab, 'vm1-shutdown', ['virsh', 'shutdown', 'vm1']);
    await sleep(5000);
    check('a no-OS tenant ignores ACPI shutdown', (await lab.domainState('vm1')) === 'running');
  });
  await timed('T1 destroy', async () => run(lab, 'vm1-destroy', ['virsh', 'destroy', 'vm1']));
  const inactiveXml = await lab.virsh(['dumpxml', '--inactive', 'vm1']);
  const md = await timed('T1 build + add', async () => {
    check('build', (await run(lab, 'vm1-build', ['mdadm', '--build', MIRROR, '--level', '1', '--raid-disks=2', OLD, 'missing'])).exitCode === 0);
    const mdName = (await lab.guestRun(['readlink', '-f', MIRROR])).stdout.trim().replace('/dev/', '');
    // a per-array cap, so the resync can be seen in progress and written to
    await lab.guestRun(['tee', `/sys/block/${mdName}/md/sync_speed_max`], { input: '2000\n' });
    await snapshot(lab, 'vm1-built', mdName);
    check('add', (await run(lab, 'vm1-add', ['mdadm', '--add', MIRROR, NEW])).exitCode === 0);
    return mdName;
  });
  await run(lab, 'vm1-dev-md', ['ls', '-l', '/dev/md']);
  const liveXml = inactiveXml.replace(`<source dev='${OLD}'/>`, `<source dev='${MIRROR}'/>`);
  check('one-off XML points at the mirror', liveXml.includes(MIRROR));
  await lab.guestRun(['tee', '/tmp/vm1-live.xml'], { input: liveXml });
  await timed('T1 virsh create on the mirror', async () => {
    check('virsh create', (await run(lab, 'vm1-create-oneoff', ['virsh', 'create', '/tmp/vm1-live.xml'])).exitCode === 0);
  });
  await snapshot(lab, 'vm1-recovering', md);
  check('mid-resync mdstat shows recovery', (await lab.mdstat()).includes('recovery ='));
  await timed('write 4 MiB through the mirror during the resync', () => lab.writePattern(MIRROR, 'w-resync', 100, 4));
  await run(lab, 'vm1-domblklist-live', ['virsh', 'domblklist', 'vm1']);
  await run(lab, 'vm1-domblklist-inactive', ['virsh', 'domblklist', '--inactive', 'vm1']);
  check('create while running is refused', (await run(lab, 'vm1-err-create-while-running', ['virsh', 'create', '/tmp/vm1-live.xml'])).exitCode !== 0);
  check('stop of a mirror in use is refused', (await run(lab, 'vm1-err-stop-mirror-in-use', ['mdadm', '--stop', MIRROR])).exitCode !== 0);
  await run(lab, 'vm1-holders-mirror', ['ls', `/sys/block/${md}/holders`]);
  await lab.guestRun(['tee', `/sys/block/${md}/md/sync_speed_max`], { input: 'system\n' });
  await timed('resync to [UU]', async () => {
    await waitFor('mirror in sync', 300_000, async () => {
      const sys = await lab.guestRun(['cat', `/sys/block/${md}/md/sync_action`, `/sys/block/${md}/md/degraded`]);
      return (await lab.mdstat()).includes('[UU]') && sys.stdout === 'idle\n0\n';
    });
  });
  await snapshot(lab, 'vm1-synced', md);
  await run(lab, 'vm1-wait-nothing-to-wait', ['mdadm', '--wait', MIRROR]);
  await timed('T2 destroy + stop mirror', async () => {
    await run(lab, 'vm1-destroy-on-mirror', ['virsh', 'destroy', 'vm1']);
    check('mdadm --stop', (await run(lab, 'vm1-stop-mirror', ['mdadm', '--stop', MIRROR])).exitCode === 0);
  });
  writeFileSync(join(CAPTURES, 'vm1-mdstat-after.txt'), await lab.mdstat());
  await run(lab, 'vm1-domblklist-after-destroy', ['virsh', 'domblklist', 'vm1']);
  await timed('content check (sha256 of both legs, block map of NEW)', async () => {
    const [oldSum, newSum] = [await lab.checksum(OLD), await lab.checksum(NEW)];
    check('NEW == OLD byte for byte', oldSum === newSum, `${oldSum} vs ${newSum}`);
    const map = await lab.contentMap(NEW);
    const want: ContentRun[] = [
      { tag: 'old-vm1', fromMiB: 0, toMiB: 100, intact: true },
      { tag: 'w-resync', fromMiB: 100, toMiB: 104, intact: true },
      { tag: 'old-vm1', fromMiB: 104, toMiB: lab.tenants.find((t) => t.name === 'vm1')!.disks[0]!.sizeMiB, intact: true },
    ];
    check('NEW holds OLD plus the writes made during the resync', JSON.stringify(map.runs) === JSON.stringify(want), JSON.stringify(map.runs));
    writeFileSync(join(CAPTURES, 'vm1-content-map-new.json'), JSON.stringify(map, null, 2) + '\n');
  });
  await timed('T2 define on NEW + start', async () => {
    await lab.guestRun(['tee', '/tmp/vm1-new.xml'], { input: inactiveXml.replace(`<source dev='${OLD}'/>`, `<source dev='${NEW}'/>`) });
    await run(lab, 'vm1-define-new', ['virsh', 'define', '/tmp/vm1-new.xml']);
    await run(lab, 'vm1-start-new', ['virsh', 'start', 'vm1']);
  });
  const blk = await run(lab, 'vm1-domblklist-on-new', ['virsh', 'domblklist', 'vm1']);
  check('vm1 runs on NEW', blk.stdout.includes(NEW));
}

async function libvirtFromThisMachine(lab: Lab): Promise<void> {
  console.log('libvirt over qemu+ssh from this machine');
  const hv = new Hypervisor({ uri: lab.libvirtUri });
  await timed('@unraid/libvirt connectOpen', () => hv.connectOpen());
  try {
    const names = await timed('@unraid/libvirt list domains + names', async () =>
      Promise.all((await hv.connectListAllDomains()).map((d) => hv.domainGetName(d))));
    check('sees the four tenants', ['vm1', 'vm2', 'vm3', 'vm4'].every((n) => names.includes(n)), names.join(','));
  } finally {
    await hv.connectClose();
  }
}

async function acpiTenant(lab: Lab): Promise<void> {
  console.log('ACPI tenant vm4');
  await timed('vm4 graceful shutdown to shut off', async () => {
    await run(lab, 'vm4-shutdown', ['virsh', 'shutdown', 'vm4']);
    await waitFor('vm4 powers off on ACPI', 60_000, async () => (await lab.domainState('vm4')) === 'shut off');
  });
  await run(lab, 'vm4-serial-log', ['cat', '/var/log/libvirt/qemu/vm4-serial.log']);
  await timed('vm4 start (boots its boot sector)', async () => {
    await lab.virsh(['start', 'vm4']);
    await waitFor('vm4 boot sector runs', 60_000, async () =>
      // libvirt truncates the serial log at each start: only the new boot's line is there
      (await lab.guestRun(['cat', '/var/log/libvirt/qemu/vm4-serial.log'])).stdout.trim() === 'sanshift-lab tenant: waiting for the ACPI power button');
  });
}

async function faultsAndReboot(lab: Lab): Promise<void> {
  console.log('fault helpers');
  const readNew = (): Promise<GuestResult> =>
    lab.ssh(['dd', 'if=/dev/mapper/new-vm3', 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct']);
  await lab.swapInErrorTable('new-vm3');
  check('an error table fails I/O', (await capture('new-vm3-read-error-table', await readNew())).exitCode !== 0);
  await lab.restoreVolumeTable('new-vm3');
  check('the linear table is back', (await readNew()).exitCode === 0);
  await timed('restartDomainOutsideSanshift(vm2)', () => lab.restartDomainOutsideSanshift('vm2'));
  check('vm2 running again', (await lab.domainState('vm2')) === 'running');
  await lab.guestRun(['mdadm', '--build', '/dev/md/ss-vm3-vda', '--level', '1', '--raid-disks=2', '/dev/mapper/old-vm3', 'missing']);
  await lab.virsh(['destroy', 'vm3']);
  await timed('simulateReboot', () => lab.simulateReboot());
  check('no md array after a reboot', !/^md\d+ :/m.test(await lab.mdstat()));
  check('no domain running after a reboot', (await lab.virsh(['list', '--name'])).trim() === '');
  await timed('start all tenants after the reboot', async () => {
    for (const t of lab.tenants) await lab.virsh(['start', t.name]);
  });
}

async function main(): Promise<void> {
  mkdirSync(CAPTURES, { recursive: true });
  console.log('booting the lab');
  const lab = await timed('lab boot (startLab)', () => startLab({ log: (l) => console.log(`  ${l}`) }));
  try {
    await run(lab, 'version-kernel', ['uname', '-r']);
    await run(lab, 'version-mdadm', ['mdadm', '--version']);
    await run(lab, 'version-libvirtd', ['libvirtd', '--version']);
    writeFileSync(join(CAPTURES, 'mdstat-empty.txt'), await lab.mdstat());
    await run(lab, 'vm1-dominfo', ['virsh', 'dominfo', 'vm1']);
    await seedSequence(lab);
    await libvirtFromThisMachine(lab);
    await acpiTenant(lab);
    await faultsAndReboot(lab);
  } finally {
    await timed('lab stop', () => lab.stop());
    await lab.stop();
  }
  console.log('\ntimings (ms)');
  for (const [k, ms] of timings) console.log(`  ${String(ms).padStart(7)}  ${k}`);
  console.log(`  guest boot steps: ${JSON.stringify(lab.timings.guestSteps)}; first ssh ${lab.timings.firstSshMs} ms`);
  if (failures.length) {
    console.error(`\nFAILED: ${failures.join('; ')}`);
    process.exitCode = 1;
  } else console.log('\nlab smoke test passed');
}

await main();
