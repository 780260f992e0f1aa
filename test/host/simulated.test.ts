// The simulated host against the lab captures: same commands, same bytes, except values that
// legitimately move with time (progress, speed, ETA).
import { describe, expect, it } from '@jest/globals';
import { SimulatedHost, mdadmHumanSize, mdstatProgressLine, resyncPerMille } from '../../src/host/simulated.js';
import { capture, fixture } from './captures.js';

const MiB = 1024 * 1024;
const T0 = Date.UTC(2026, 10, 24, 1, 54, 49);

function lab(speedMax = 4000) {
  let now = T0;
  const host = new SimulatedHost({
    host: 'hv-lab',
    now: () => now,
    systemSpeedMaxKiBs: speedMax,
    // the captures of fixtures/md were taken without udev: names dangle after a stop
    udev: false,
    volumes: [
      { path: '/dev/mapper/old-vm1', kname: 'dm-0', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/new-vm1', kname: 'dm-1', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/old-vm2', kname: 'dm-2', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/new-vm2', kname: 'dm-3', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/old-vm3', kname: 'dm-4', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/new-vm3', kname: 'dm-5', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/small', kname: 'dm-6', sizeBytes: 128 * MiB },
    ],
  });
  return {
    host,
    advance(ms: number) {
      now += ms;
    },
    at(ms: number) {
      now = ms;
    },
  };
}

/** Runs a captured command on the simulated host and returns stdout+stderr as captured. */
async function replay(host: SimulatedHost, name: string): Promise<{ output: string; exitCode: number; expected: ReturnType<typeof capture> }> {
  const c = capture(name);
  const r = await host.run(c.argv);
  return { output: r.stdout + r.stderr, exitCode: r.exitCode, expected: c };
}

async function expectSameAsCapture(host: SimulatedHost, name: string): Promise<void> {
  const { output, exitCode, expected } = await replay(host, name);
  expect(output).toBe(expected.output);
  expect(exitCode).toBe(expected.exitCode);
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A capture as a pattern: time-dependent numbers (progress, speed, ETA) may differ. */
function looselyMatches(actual: string, expected: string): void {
  const actualLines = actual.split('\n');
  const expectedLines = expected.split('\n');
  expect(actualLines).toHaveLength(expectedLines.length);
  expectedLines.forEach((line, i) => {
    // mark what may move with time, escape the rest, then turn the marks into patterns
    const marked = line
      .replace(/\[[=>.]{21}\]/, '\u0001BAR\u0001')
      .replace(/(recovery|check) =\s*\d+\.\d%/, '$1 =\u0001PCT\u0001')
      .replace(/\((\d+)\/(\d+)\) finish=\d+\.\dmin speed=\d+K\/sec/, '(\u0001N\u0001/$2) finish=\u0001ETA\u0001min speed=\u0001N\u0001K/sec')
      .replace(/(Rebuild Status : )\d+%/, '$1\u0001N\u0001%')
      .replace(/^(sync_completed: )\d+/, '$1\u0001N\u0001')
      .replace(/^(sync_speed: )\d+/, '$1\u0001N\u0001');
    const pattern = escape(marked)
      .replace(/\u0001BAR\u0001/g, '\\[[=>.]{21}\\]')
      .replace(/\u0001PCT\u0001/g, ' *\\d+\\.\\d%')
      .replace(/\u0001ETA\u0001/g, '\\d+\\.\\d')
      .replace(/\u0001N\u0001/g, '\\d+');
    expect({ line: i, text: actualLines[i] }).toEqual({ line: i, text: expect.stringMatching(new RegExp(`^${pattern}$`)) });
  });
}

/** The *.sysfs.txt listing as the simulated host shows it (dev-X/block links are not files). */
async function sysfsListing(host: SimulatedHost, md: string, expected: string): Promise<string> {
  const names = withoutBlockLines(expected)
    .split('\n')
    .filter((l) => l.includes(': '))
    .map((l) => l.split(': ')[0]!);
  const lines: string[] = [];
  for (const n of names) {
    const r = await host.run(['cat', `/sys/block/${md}/md/${n}`]);
    expect(r.exitCode).toBe(0);
    lines.push(`${n}: ${r.stdout.trimEnd()}`);
  }
  return `${lines.join('\n')}\n`;
}

function withoutBlockLines(listing: string): string {
  return listing
    .split('\n')
    .filter((l) => !/^dev-[^/]+\/block: /.test(l))
    .join('\n');
}

describe('simulated host, s1: the seed sequence on a named mirror', () => {
  it('answers build, add, resync, wait, stop exactly like the lab', async () => {
    const { host, advance } = lab();
    await expectSameAsCapture(host, 's0-mdstat-empty.txt');
    await expectSameAsCapture(host, 's0-blockdev-size.txt');
    await expectSameAsCapture(host, 's0-holders-free.txt');
    await expectSameAsCapture(host, 's1-build.txt');

    expect((await host.run(['cat', '/proc/mdstat'])).stdout).toBe(fixture('s1-built.mdstat.txt'));
    expect((await host.run(['mdadm', '--detail', '/dev/md/ss-vm1-vda'])).stdout).toBe(
      capture('s1-built.detail.txt').output,
    );
    expect(await sysfsListing(host, 'md127', fixture('s1-built.sysfs.txt'))).toBe(withoutBlockLines(fixture('s1-built.sysfs.txt')));
    await expectSameAsCapture(host, 's1-holders-old.txt');

    await expectSameAsCapture(host, 's1-add.txt');
    advance(4000);
    looselyMatches((await host.run(['cat', '/proc/mdstat'])).stdout, fixture('s1-recovering.mdstat.txt'));
    looselyMatches((await host.run(['mdadm', '--detail', '/dev/md/ss-vm1-vda'])).stdout, capture('s1-recovering.detail.txt').output);
    looselyMatches(await sysfsListing(host, 'md127', fixture('s1-recovering.sysfs.txt')), withoutBlockLines(fixture('s1-recovering.sysfs.txt')));

    host.setSystemSpeedMax(200000);
    advance(10_000);
    expect((await host.run(['cat', '/proc/mdstat'])).stdout).toBe(fixture('s1-synced.mdstat.txt'));
    expect((await host.run(['mdadm', '--detail', '/dev/md/ss-vm1-vda'])).stdout).toBe(capture('s1-synced.detail.txt').output);
    expect(await sysfsListing(host, 'md127', fixture('s1-synced.sysfs.txt'))).toBe(withoutBlockLines(fixture('s1-synced.sysfs.txt')));
    await expectSameAsCapture(host, 's1-wait-again.txt');

    await expectSameAsCapture(host, 's1-stop.txt');
    await expectSameAsCapture(host, 's1-mdstat-after.txt');
  });

  it('copies at the capped speed on the virtual clock', async () => {
    const { host, advance } = lab(4000);
    await host.run(capture('s1-build.txt').argv);
    await host.run(capture('s1-add.txt').argv);
    advance(10_000);
    const completed = (await host.run(['cat', '/sys/block/md127/md/sync_completed'])).stdout;
    expect(completed).toBe(`${4000 * 10 * 2} / 524288\n`);
    expect((await host.run(['cat', '/sys/block/md127/md/sync_speed'])).stdout).toBe('4000\n');
    // 256 MiB at 4000 KiB/s: 65.536 s in all
    advance(55_536);
    expect((await host.run(['cat', '/sys/block/md127/md/sync_action'])).stdout).toBe('idle\n');
    expect((await host.run(['cat', '/proc/mdstat'])).stdout).toContain('[2/2] [UU]');
  });
});

/** s1 up to recovering, then s2: a second mirror with a local cap. */
async function twoMirrors() {
  const l = lab();
  await l.host.run(capture('s1-build.txt').argv);
  await l.host.run(capture('s1-add.txt').argv);
  l.at(Date.UTC(2026, 10, 24, 1, 54, 54));
  await expectSameAsCapture(l.host, 's2-build.txt');
  const tee = await l.host.run(['tee', '/sys/block/md126/md/sync_speed_max'], { input: '3000\n' });
  expect(tee).toMatchObject({ exitCode: 0, stdout: '3000\n' });
  await expectSameAsCapture(l.host, 's2-add.txt');
  l.advance(1000);
  return l;
}

describe('simulated host, s2 and s3: two mirrors, a local cap, a failed leg', () => {
  it('lists both mirrors newest first, the cap as (local)', async () => {
    const { host } = await twoMirrors();
    looselyMatches((await host.run(['cat', '/proc/mdstat'])).stdout, fixture('s2-capped.mdstat.txt'));
    const two = capture('s2-two-mirrors.txt');
    looselyMatches((await host.run(two.argv)).stdout, two.output);
    looselyMatches((await host.run(['mdadm', '--detail', '/dev/md/ss-vm2-vda'])).stdout, capture('s2-capped.detail.txt').output);
    looselyMatches(await sysfsListing(host, 'md126', fixture('s2-capped.sysfs.txt')), withoutBlockLines(fixture('s2-capped.sysfs.txt')));
  });

  it('shows a failed new leg as (F), idle and degraded, then removes it', async () => {
    const { host, advance } = await twoMirrors();
    host.failLeg('/dev/md/ss-vm2-vda', 'new');
    advance(1000);
    looselyMatches((await host.run(['cat', '/proc/mdstat'])).stdout, fixture('s3-leg-failed.mdstat.txt'));
    expect((await host.run(['mdadm', '--detail', '/dev/md/ss-vm2-vda'])).stdout).toBe(capture('s3-leg-failed.detail.txt').output);
    expect(await sysfsListing(host, 'md126', fixture('s3-leg-failed.sysfs.txt'))).toBe(withoutBlockLines(fixture('s3-leg-failed.sysfs.txt')));

    await expectSameAsCapture(host, 's3-remove-failed.txt');
    looselyMatches((await host.run(['cat', '/proc/mdstat'])).stdout, fixture('s3-leg-removed.mdstat.txt'));
    expect((await host.run(['mdadm', '--detail', '/dev/md/ss-vm2-vda'])).stdout).toBe(capture('s3-leg-removed.detail.txt').output);
    expect(await sysfsListing(host, 'md126', fixture('s3-leg-removed.sysfs.txt'))).toBe(withoutBlockLines(fixture('s3-leg-removed.sysfs.txt')));
    await expectSameAsCapture(host, 's3-stop.txt');
  });
});

describe('simulated host: OLD fails while NEW is still recovering (LAB-NOTES, "When OLD fails")', () => {
  it('keeps OLD in_sync with write_error, stops the recovery and drops NEW back to a spare, as the lab showed', async () => {
    const { host, advance } = await twoMirrors();
    host.failLeg('/dev/md/ss-vm2-vda', 'old');
    advance(1000);
    const mdstat = (await host.run(['cat', '/proc/mdstat'])).stdout;
    const block = mdstat.split('md126 :')[1]!.split('\n      \n')[0]!;
    // no (F) on OLD; NEW a spare; one of two up; no recovery line
    expect(block).toMatch(/raid1 (\S+)\[2\]\(S\) (\S+)\[0\]\n/);
    expect(block).toContain('[2/1] [U_]');
    expect(block).not.toContain('recovery');
    const oldKname = /raid1 \S+\[2\]\(S\) (\S+)\[0\]/.exec(block)![1]!;
    const read = async (f: string) => (await host.run(['cat', `/sys/block/md126/md/${f}`])).stdout;
    expect(await read(`dev-${oldKname}/state`)).toBe('in_sync,write_error,want_replacement\n');
    expect(await read('sync_action')).toBe('idle\n');
    expect(await read('degraded')).toBe('1\n');
    // nothing restarts the copy from a failing source
    advance(60_000);
    expect((await host.run(['cat', '/proc/mdstat'])).stdout.split('md126 :')[1]!.split('\n      \n')[0]).not.toContain('recovery');
  });
});

describe('simulated host, s4: errors and traps', () => {
  it('gives the captured error texts', async () => {
    const { host } = await twoMirrors();
    await expectSameAsCapture(host, 's4-err-build-member-busy.txt');
    await expectSameAsCapture(host, 's4-err-build-nodev.txt');
    await expectSameAsCapture(host, 's4-err-detail-nonexistent.txt');
    await expectSameAsCapture(host, 's4-err-stop-nonexistent.txt');
    await expectSameAsCapture(host, 's4-err-add-member-busy.txt');
  });

  it('replays the name collision: a second array is built and the name moves to it', async () => {
    const { host } = await twoMirrors();
    await expectSameAsCapture(host, 's4-err-build-member-busy.txt'); // leaves ss-other dangling on md125
    host.failLeg('/dev/md/ss-vm2-vda', 'new');
    await host.run(capture('s3-remove-failed.txt').argv);
    await expectSameAsCapture(host, 's3-stop.txt'); // leaves ss-vm2-vda dangling on md126
    await expectSameAsCapture(host, 's4-build-small.txt');
    await expectSameAsCapture(host, 's4-err-add-larger-ok.txt');
    await expectSameAsCapture(host, 's4-stop-small.txt');
    await expectSameAsCapture(host, 's4-build-old3.txt');
    await expectSameAsCapture(host, 's4-err-add-smaller.txt');
    await expectSameAsCapture(host, 's4-name-collision.txt');

    looselyMatches((await host.run(['cat', '/proc/mdstat'])).stdout, fixture('s4-name-collision.mdstat.txt'));
    // the links of s4-name-collision-dev-md.txt
    const links = fixture('s4-name-collision-dev-md.txt')
      .split('\n')
      .map((l) => / (ss-\S+) -> (\S+)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    expect(links).toHaveLength(4);
    const r = await host.run(['readlink', '-m', '--', ...links.map((m) => `/dev/md/${m[1]}`)]);
    expect(r.stdout).toBe(links.map((m) => `${m[2]}\n`).join(''));
    // s4-members.txt: the legs of each array
    for (const line of fixture('s4-members.txt').trim().split('\n')) {
      const [md, ...devs] = line.replace(':', '').trim().split(/\s+/);
      for (const d of devs) expect((await host.run(['cat', `/sys/block/${md}/md/${d}/state`])).exitCode).toBe(0);
    }
  });

  it('refuses to stop a mirror that is open, and has nothing to wait for on an idle one', async () => {
    const { host } = lab();
    await host.run(capture('s4-build-old3.txt').argv);
    host.setOpenCount('/dev/md/ss-vm3-vda', 1);
    await expectSameAsCapture(host, 's4-err-stop-busy.txt');
    await expectSameAsCapture(host, 's4-wait-nothing-to-wait.txt');
    host.setOpenCount('/dev/md/ss-vm3-vda', 0);
    await expectSameAsCapture(host, 's5-stop-mirror.txt');
  });
});

describe('simulated host: faults, reboot, unknown commands', () => {
  it('forgets every array and name at reboot', async () => {
    const { host } = lab();
    await host.run(capture('s1-build.txt').argv);
    host.reboot();
    expect((await host.run(['cat', '/proc/mdstat'])).stdout).toBe(capture('s0-mdstat-empty.txt').output);
    expect((await host.run(['readlink', '-m', '--', '/dev/md/ss-vm1-vda'])).stdout).toBe('/dev/md/ss-vm1-vda\n');
  });

  it('refuses to use a volume marked in use, mounted or held', async () => {
    const { host } = lab();
    await host.run(capture('s1-build.txt').argv);
    host.markMounted('/dev/mapper/new-vm1', '/mnt');
    const r = await host.run(capture('s1-add.txt').argv);
    expect(r).toMatchObject({ exitCode: 1, stderr: 'mdadm: Cannot open /dev/mapper/new-vm1: Device or resource busy\n' });
    host.markMounted('/dev/mapper/new-vm1', null);
    host.setHolder('/dev/mapper/new-vm1', 'dm-9');
    expect((await host.run(capture('s1-add.txt').argv)).exitCode).toBe(1);
    host.setHolder('/dev/mapper/new-vm1', 'dm-9', false);
    host.markInUse('/dev/mapper/new-vm1');
    expect((await host.run(capture('s1-add.txt').argv)).exitCode).toBe(1);
    host.markInUse('/dev/mapper/new-vm1', false);
    expect((await host.run(capture('s1-add.txt').argv)).exitCode).toBe(0);
  });

  it('answers anything it does not simulate with exit 127', async () => {
    const { host } = lab();
    for (const argv of [['rm', '-rf', '/'], ['mdadm', '--create', '/dev/md0'], ['cat', '/etc/passwd'], ['mdadm', '--build', '/dev/md/x', '--level', '5']]) {
      const r = await host.run(argv);
      expect(r.exitCode === 127 || r.exitCode === 1).toBe(true);
      expect(r.stderr).not.toBe('');
    }
    expect((await host.run(['rm', '-rf', '/'])).stderr).toContain('command not simulated');
  });

  it('reports a missing mdadm like a shell would', async () => {
    const host = new SimulatedHost({ now: () => 0, mdadmInstalled: false });
    expect((await host.run(['mdadm', '--version'])).exitCode).toBe(127);
  });
});

describe('the loose comparison itself', () => {
  it('lets progress numbers move but catches a wrong slot map or a wrong member', () => {
    const captured = fixture('s1-recovering.mdstat.txt');
    looselyMatches(captured.replace('6.0% (16192/', '47.3% (123904/').replace('speed=5482K', 'speed=4000K'), captured);
    expect(() => looselyMatches(captured.replace('[U_]', '[UU]'), captured)).toThrow();
    expect(() => looselyMatches(captured.replace('dm-1[2]', 'dm-1[2](F)'), captured)).toThrow();
    expect(() => looselyMatches(captured.replace('/262144)', '/131072)'), captured)).toThrow();
  });
});

describe('simulated host: kernel and mdadm number formats', () => {
  it('prints sizes like mdadm human_size', () => {
    expect(mdadmHumanSize(262144 * 1024)).toBe(' (256.00 MiB 268.44 MB)');
    expect(mdadmHumanSize(104857600 * 1024)).toBe(' (100.00 GiB 107.37 GB)');
    expect(mdadmHumanSize(1000)).toBe('');
  });

  it('computes the per-mille and the progress line like md.c', () => {
    expect(resyncPerMille(16192 * 2, 262144 * 2)).toBe(60);
    expect(resyncPerMille(10240 * 2, 262144 * 2)).toBe(38);
    expect(resyncPerMille(29952 * 2, 262144 * 2)).toBe(113);
    expect(mdstatProgressLine('recovery', 16192, 262144, 5482)).toBe(
      '      [=>...................]  recovery =  6.0% (16192/262144) finish=0.7min speed=5482K/sec',
    );
    expect(mdstatProgressLine('recovery', 29952, 262144, 4992)).toBe(
      '      [==>..................]  recovery = 11.3% (29952/262144) finish=0.7min speed=4992K/sec',
    );
  });
});
