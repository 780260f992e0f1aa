import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { leaseArgv } from '../../src/host/leases.js';
import { mdActArgv, parseMdAct, type MdAction } from '../../src/host/md-act.js';
import { deviceOf, mirrorStateIn, parseProbe, probeArgv, sectorsWrittenAround } from '../../src/host/probe.js';
import { MD_ACT_SCRIPT, PROBE_SCRIPT } from '../../src/host/scripts.js';
import { SimulatedHost } from '../../src/host/simulated.js';
import { LocalRunner } from '../../src/host/local.js';
import { probeHost } from '../../src/host/probe.js';

// Real outputs of the host scripts, captured in the lab (kernel 6.1, mdadm 4.2, dash) by its
// scenario p on the volumes of the tenant vm3 (test/lab/scenarios/p-md-captures.ts). The kernel
// names and sizes are read from the captures, not assumed: a lab with other tenants renames them.
const CAPTURES = join(process.cwd(), 'fixtures', 'lab-captures');
function capture(name: string): { command: string; stdout: string } {
  const text = readFileSync(join(CAPTURES, `${name}.txt`), 'utf8');
  const lines = text.split('\n');
  const exit = lines.findIndex((l) => /^\[exit \d+\]$/.test(l));
  return { command: lines[0]!.slice(2), stdout: `${lines.slice(1, exit).join('\n')}\n` };
}

const vm3 = { mirror: '/dev/md/ss-vm3-vda', old: '/dev/mapper/old-vm3', new: '/dev/mapper/new-vm3' };
/** the capture's lease owner (p takes vm3's lease as this run, then acts under it) */
const OWNER = 'capture-run@lab:1';
const OTHER = 'other-run@elsewhere:2';
const underLease = { owner: OWNER, vm: 'vm3', ttlSeconds: 600 };
const MiB = 1024 * 1024;

/** what the lab's volumes were when p captured: kernel names, sizes, md's system-wide ceiling,
 * the stranger array's member (name-taken) and NEW's holder (new-held) */
const lab = (() => {
  const snap = parseProbe(capture('probe-full-free').stdout);
  const dev = (path: string) => deviceOf(snap, path)!;
  const nameTaken = capture('md-act-name-taken').stdout;
  return {
    old: dev(vm3.old),
    new: dev(vm3.new),
    systemSpeedMaxKiBs: Number(/^md md\d+ sync_speed_max (\d+) \(system\)$/m.exec(nameTaken)![1]),
    stranger: { kname: /holds (dm-\d+)$/m.exec(nameTaken)![1]!, sizeBytes: Number(/^size md\d+ (\d+)$/m.exec(nameTaken)![1]) * 512 },
    holder: /is held by (dm-\d+)$/m.exec(capture('md-act-new-held').stdout)![1]!,
  };
})();

describe('the probe, on real output', () => {
  it('reads links, identities, sizes, sector sizes and the tools', () => {
    const snap = parseProbe(capture('probe-full-free').stdout);
    expect(snap.mode).toBe('full');
    expect(snap.links.get(vm3.old)).toMatch(/^\/dev\/dm-\d+$/);
    expect(snap.links.get(vm3.mirror)).toBe(vm3.mirror);
    expect(deviceOf(snap, vm3.mirror)).toBeNull();
    const old = deviceOf(snap, vm3.old)!;
    expect(old).toMatchObject({ kname: snap.links.get(vm3.old)!.slice(5), majMin: expect.stringMatching(/^252:\d+$/), logicalBlockSize: 512, holders: [] });
    expect(old.sizeBytes % (1024 * 1024)).toBe(0);
    expect(deviceOf(snap, vm3.new)).toMatchObject({ sizeBytes: old.sizeBytes, holders: [] });
    expect(snap.tools).toEqual({ mdadm: 'mdadm - v4.2 - 2021-12-30 - Debian 4.2-5', flock: true, blockdev: true });
    expect(snap.mdLoaded).toBe(true);
    expect(snap.mdstat.arrays).toEqual([]);
  });

  it('refuses output that was cut short', () => {
    const text = capture('probe-full-free').stdout;
    expect(() => parseProbe(text.slice(0, text.indexOf('#end')))).toThrow(/before "#end"/);
  });
});

describe('md actions, on real output', () => {
  it('build: OLD alone in the array, capped, and a second build is a no-op', () => {
    const r = parseMdAct(capture('md-act-build').stdout);
    expect(r.outcomes).toEqual([{ verb: 'build', mirror: vm3.mirror, ok: true, kernelName: 'md127', already: false, output: ['mdadm: array /dev/md/ss-vm3-vda built and started.'] }]);
    const md = r.after.devices.get('md127')!;
    expect([...md.md!.legs]).toEqual([[lab.old.kname, 'in_sync']]);
    expect(md.md!.files.get('sync_speed_max')).toBe('1000 (local)');
    expect(r.after.devices.get(lab.old.kname)!.holders).toEqual(['md127']);
    expect(parseMdAct(capture('md-act-build-again').stdout).outcomes[0]).toMatchObject({ ok: true, already: true });
  });

  it('add: records the I3 baseline and starts the copy; writes around OLD show in the counters', () => {
    const r = parseMdAct(capture('md-act-flush-add').stdout);
    expect(r.outcomes.map((o) => [o.verb, o.ok])).toEqual([['flush', true], ['add', true]]);
    const base = r.baselines.get(vm3.mirror)!;
    expect(base).toMatchObject({ oldKname: lab.old.kname, mdKname: 'md127' });
    expect(mirrorStateIn(r.after, 'md127')).toMatchObject({ syncAction: 'recover', inSync: false });
    // then 1 MiB went through the mirror and 1 MiB straight to OLD
    const later = parseProbe(capture('probe-state-recovering-written-around').stdout);
    const now = { old: later.devices.get(lab.old.kname)!.counters!, md: later.devices.get('md127')!.counters! };
    expect(sectorsWrittenAround(base, now)).toBe(2048);
  });

  it('an action of a run that does not hold the VM\'s lease does nothing', () => {
    expect(capture('md-act-not-owner').command).toContain(`sanshift-md ${OTHER} vm3 600 stop`);
    const r = parseMdAct(capture('md-act-not-owner').stdout);
    expect(r.outcomes).toEqual([]);
    expect(r.leaseLost).toMatch(/^the lease of vm3 is not held by this run: capture-run@lab:1 \d+$/);
  });

  it('stop, then stop again: the second one finds nothing to stop', () => {
    expect(parseMdAct(capture('md-act-stop').stdout).outcomes[0]).toMatchObject({ verb: 'stop', ok: true, kernelName: 'md127', already: false });
    const again = parseMdAct(capture('md-act-stop-again').stdout);
    expect(again.outcomes[0]).toMatchObject({ verb: 'stop', ok: true, kernelName: null, already: true });
    expect(again.after.mdstat.arrays).toEqual([]);
  });

  it('refuses a name held by a stranger array, and skips what follows', () => {
    const r = parseMdAct(capture('md-act-name-taken').stdout);
    expect(r.outcomes).toEqual([
      { verb: 'build', mirror: vm3.mirror, ok: false, code: 'name-taken', message: `/dev/md127 holds ${lab.stranger.kname}`, output: [] },
      { verb: 'add', mirror: vm3.mirror, ok: false, code: 'skipped', message: 'not attempted after an earlier failure', output: [] },
    ]);
  });

  it('refuses to add a NEW that something holds (I5 on the host)', () => {
    const r = parseMdAct(capture('md-act-new-held').stdout);
    expect(r.outcomes[1]).toMatchObject({ verb: 'add', ok: false, code: 'new-in-use', message: `/dev/mapper/new-vm3 is in use: ${lab.new.kname} is held by ${lab.holder}` });
    expect(r.baselines.size).toBe(0);
  });
});

/** The captured outputs with what differs between two runs (counters, times) blanked. */
function normalise(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => !l.startsWith('stat ') && !l.startsWith('base '))
    .map((l) => l.replace(/^(md \S+ (?:sync_completed|sync_speed)) .*/, '$1 N').replace(/^(\s+\[[=>.]+\]\s+recovery =).*/, '$1 ...'))
    .join('\n');
}

describe('the simulated host answers the scripts as the real host did', () => {
  function labHost(): SimulatedHost {
    let t = 0;
    // the stock lab's udev removed /dev/md/NAME before the stopping script's own probe
    const host = new SimulatedHost({ now: () => (t += 10), systemSpeedMaxKiBs: lab.systemSpeedMaxKiBs, udevRemoval: 'at-once' });
    host.addVolume({ path: '/dev/mapper/capture-other', kname: lab.stranger.kname, sizeBytes: lab.stranger.sizeBytes });
    host.addVolume({ path: vm3.old, kname: lab.old.kname, sizeBytes: lab.old.sizeBytes });
    host.addVolume({ path: vm3.new, kname: lab.new.kname, sizeBytes: lab.new.sizeBytes });
    return host;
  }
  const act = async (host: SimulatedHost, actions: MdAction[], lease?: typeof underLease) => (await host.run(mdActArgv(actions, lease))).stdout;

  it('byte for byte, counters and progress aside, through the captured sequence', async () => {
    const host = labHost();
    const same = async (name: string, stdout: Promise<string>) => expect([name, normalise(await stdout)]).toEqual([name, normalise(capture(name).stdout)]);
    const lease = async (name: string, op: 'acquire' | 'release', owner: string) => {
      const argv = leaseArgv(op, owner, op === 'release' ? 0 : 600, ['vm3']);
      expect(capture(name).command).toBe(`sh -c LEASE_SCRIPT ${argv.slice(3).join(' ')}`);
      // the seconds a busy lease has left move with time
      const strip = (t: string) => t.replace(/^(busy \S+ \S+) \d+$/m, '$1 N');
      expect([name, strip((await host.run(argv)).stdout)]).toEqual([name, strip(capture(name).stdout)]);
    };
    await same('probe-full-free', host.run(probeArgv('full', [vm3.mirror, vm3.old, vm3.new])).then((r) => r.stdout));
    await lease('lease-acquire', 'acquire', OWNER);
    await lease('lease-busy', 'acquire', OTHER);
    await same('md-act-build', act(host, [{ verb: 'build', ...vm3, speedKiBs: 1000 }], underLease));
    await same('md-act-build-again', act(host, [{ verb: 'build', ...vm3, speedKiBs: 1000 }], underLease));
    // the refusal names the owner's expiry, on the host's clock
    const refused = await act(host, [{ verb: 'stop', ...vm3 }], { ...underLease, owner: OTHER });
    const expiry = (t: string) => t.replace(/(capture-run@lab:1) \d+$/m, '$1 T');
    expect(expiry(refused)).toBe(expiry(capture('md-act-not-owner').stdout));
    await same('md-act-flush-add', act(host, [{ verb: 'flush', ...vm3 }, { verb: 'add', ...vm3, speedKiBs: 1000 }], underLease));
    await same('md-act-stop', act(host, [{ verb: 'stop', ...vm3 }], underLease));
    await same('md-act-stop-again', act(host, [{ verb: 'stop', ...vm3 }], underLease));
    await host.run(['mdadm', '--build', vm3.mirror, '--level', '1', '--raid-disks=2', '/dev/mapper/capture-other', 'missing']);
    await same('md-act-name-taken', act(host, [{ verb: 'build', ...vm3 }, { verb: 'add', ...vm3 }]));
    await host.run(['mdadm', '--stop', vm3.mirror]);
    host.setHolder(vm3.new, lab.holder);
    await same('md-act-new-held', act(host, [{ verb: 'build', ...vm3 }, { verb: 'add', ...vm3 }]));
    host.setHolder(vm3.new, lab.holder, false);
    await same('md-act-cleanup-stop', act(host, [{ verb: 'stop', ...vm3 }]));
    await lease('lease-release', 'release', OWNER);
  });

  it('counts writes as the kernel does: through the mirror on both, around it on OLD alone', async () => {
    const host = labHost();
    const first = parseMdAct(await act(host, [{ verb: 'build', ...vm3 }, { verb: 'add', ...vm3 }]));
    host.write(vm3.mirror, 2048);
    host.write(vm3.old, 2048);
    const now = parseProbe((await host.run(probeArgv('state', [vm3.mirror, vm3.old, vm3.new]))).stdout);
    const counters = { old: now.devices.get(lab.old.kname)!.counters!, md: now.devices.get('md127')!.counters! };
    expect(sectorsWrittenAround(first.baselines.get(vm3.mirror)!, counters)).toBe(2048);
  });

  it('knows only sanshift\'s own scripts', async () => {
    const host = labHost();
    expect((await host.run(['sh', '-c', 'cat /proc/mdstat', 'x'])).exitCode).toBe(127);
    expect((await host.run(['sh', '-c', PROBE_SCRIPT, 'sanshift-probe', 'state'])).exitCode).toBe(0);
    expect(MD_ACT_SCRIPT).not.toBe(PROBE_SCRIPT);
  });
});

// The scan mode of `sanshift doctor`: no lab capture holds it yet (fixtures/lab-captures predate
// it), so the simulated host's answer is checked against what the script prints by construction,
// and the script itself runs here under the real sh, on this machine's own (md-less) kernel.
describe('the scan probe (doctor)', () => {
  function labHost(udev = true): SimulatedHost {
    let t = 1_800_000_000_000;
    const host = new SimulatedHost({ now: () => (t += 10), systemSpeedMaxKiBs: 1000, udev });
    host.addVolume({ path: '/dev/mapper/new-vm1', kname: 'dm-1', sizeBytes: 256 * MiB, serial: 'mpath-vm1-new' });
    host.addVolume({ path: vm3.old, kname: 'dm-6', sizeBytes: 64 * MiB, serial: '3600a0b80005ad1d7000001' });
    host.addVolume({ path: vm3.new, kname: 'dm-7', sizeBytes: 64 * MiB });
    return host;
  }

  it('every md array and /dev/md name of the host, whatever paths were asked, with their legs', async () => {
    const host = labHost(false);
    await host.run(mdActArgv([{ verb: 'build', ...vm3 }, { verb: 'add', ...vm3 }]));
    // trap 1: a second build under the same name leaves the first array without a name
    await host.run(['mdadm', '--build', vm3.mirror, '--level', '1', '--raid-disks=2', '/dev/mapper/new-vm1', 'missing']);
    const out = (await host.run(probeArgv('scan', []))).stdout;
    const snap = parseProbe(out);
    expect(snap.mode).toBe('scan');
    expect([...snap.links]).toEqual([[vm3.mirror, '/dev/md126']]);
    expect(snap.mdstat.arrays.map((a) => a.kernelName).sort()).toEqual(['md126', 'md127']);
    // md126 first (glob order), then md127; each leg examined (dev-* in glob order too), with
    // what udev says of it
    expect(out.split('\n').filter((l) => l.startsWith('dev ')).map((l) => l.split(' ')[1])).toEqual(['md126', 'md127', 'dm-1', 'dm-6', 'dm-7']);
    expect(snap.devices.get('dm-6')).toMatchObject({ udevSerial: '3600a0b80005ad1d7000001', holders: ['md127'] });
    expect([...snap.devices.get('md127')!.md!.legs.keys()]).toEqual(['dm-6', 'dm-7']);
    expect(snap.tools).not.toBeNull();
  });

  it('leases in file-name order, the host clock, file systems and swaps; none of it outside scan mode', async () => {
    const host = labHost();
    host.setLease('vm3', 'r1@admin:42', 1_800_000_600);
    host.setLease('vm1', 'r2@other:7', 1_799_999_000);
    host.setLease('vm1-b', 'r2@other:7', 1_800_000_100);
    host.setVolumeFacts(vm3.new, { fsType: 'ext4', partTable: 'gpt' });
    host.markSwap('/dev/mapper/new-vm1');
    const snap = parseProbe((await host.run(probeArgv('scan', [vm3.new, '/dev/mapper/new-vm1']))).stdout);
    // vm-vm1-b.lease sorts before vm-vm1.lease ('-' < '.')
    expect(snap.leases).toEqual([
      { vm: 'vm1-b', owner: 'r2@other:7', until: 1_800_000_100 },
      { vm: 'vm1', owner: 'r2@other:7', until: 1_799_999_000 },
      { vm: 'vm3', owner: 'r1@admin:42', until: 1_800_000_600 },
    ]);
    expect(snap.clock).toBe(1_800_000_000);
    expect(deviceOf(snap, vm3.new)).toMatchObject({ fsType: 'ext4', partTable: 'gpt' });
    expect(snap.swaps).toEqual(['/dev/dm-1']);
    const full = parseProbe((await host.run(probeArgv('full', [vm3.new]))).stdout);
    expect(full.leases).toEqual([]);
    expect(full.clock).toBeNull();
    expect(deviceOf(full, vm3.new)!.fsType).toBeUndefined();
    // a swap on NEW makes mdadm --add fail, as on the real host
    const r = parseMdAct((await host.run(mdActArgv([{ verb: 'build', mirror: '/dev/md/ss-vm1', old: vm3.old, new: '/dev/mapper/new-vm1' }, { verb: 'add', mirror: '/dev/md/ss-vm1', old: vm3.old, new: '/dev/mapper/new-vm1' }]))).stdout);
    expect(r.outcomes[1]).toMatchObject({ ok: false, code: 'new-in-use', message: '/dev/mapper/new-vm1 is in use: dm-1 is an active swap' });
  });

  it('the real script runs under sh here and ends with the host clock', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    const snap = await probeHost(new LocalRunner({ host: 'here' }), 'scan', ['/dev/null']);
    expect(snap.mode).toBe('scan');
    expect(snap.clock).toBeGreaterThanOrEqual(t0);
    expect(snap.clock).toBeLessThan(t0 + 60);
    expect(snap.links.get('/dev/null')).toBe('/dev/null');
    expect(snap.tools).not.toBeNull();
  });
});

describe('the probe reads /proc/mdstat', () => {
  // The kernel renders /proc/mdstat again from an array's position in its list at every read(2)
  // that finds its buffer empty; the shell's read builtin takes one byte per call. An array
  // stopped meanwhile (another VM's T2 on the host) then shifted the list and hid another
  // array: a VM in mid-resync was failed as "its mirror is gone" (lab scenario e, 2026-12-01;
  // scenario p counts it: 9 of 342 and 14 of 212 probes before, 0 after).
  it('in one read, never through a read loop of the shell', () => {
    const section = PROBE_SCRIPT.slice(PROBE_SCRIPT.indexOf("fact '#mdstat'"));
    expect(section).toMatch(/^\s*cat \/proc\/mdstat$/m);
    expect(PROBE_SCRIPT).not.toMatch(/<\s*\/proc\/mdstat/);
  });
});
