import { describe, expect, it } from '@jest/globals';
import { ActionError } from '../../src/util/errors.js';
import { describeCommandFailure } from '../../src/host/failure.js';
import { LocalRunner } from '../../src/host/local.js';
import {
  addLeg,
  buildMirror,
  identifyMirror,
  inspectMirrorName,
  interpretWait,
  kernelNameOf,
  mirrorMembers,
  pollMirrors,
  readMdDetail,
  removeFailedLegs,
  resolveMirror,
  setResyncSpeedMax,
  stopMirror,
} from '../../src/host/md.js';
import { SimulatedHost } from '../../src/host/simulated.js';
import { capture } from './captures.js';

const MiB = 1024 * 1024;

function sim() {
  let now = Date.UTC(2026, 10, 24, 2, 0, 0);
  const host = new SimulatedHost({
    host: 'hv1',
    now: () => now,
    systemSpeedMaxKiBs: 4000,
    // the captures of fixtures/md were taken without udev: names dangle after a stop
    udev: false,
    volumes: [
      { path: '/dev/mapper/old-vm1', kname: 'dm-0', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/new-vm1', kname: 'dm-1', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/old-vm2', kname: 'dm-2', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/new-vm2', kname: 'dm-3', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/small', kname: 'dm-6', sizeBytes: 128 * MiB },
    ],
  });
  return { host, advance: (ms: number) => (now += ms) };
}

const vm1 = { mdPath: '/dev/md/ss-vm1-vda', oldPath: '/dev/mapper/old-vm1', newPath: '/dev/mapper/new-vm1' };
const vm2 = { mdPath: '/dev/md/ss-vm2-vda', oldPath: '/dev/mapper/old-vm2', newPath: '/dev/mapper/new-vm2' };

describe('pollMirrors', () => {
  it('reads every mirror of a host with one command, and follows them to the end', async () => {
    const { host, advance } = sim();
    await buildMirror(host, vm1.mdPath, vm1.oldPath);
    await addLeg(host, vm1.mdPath, vm1.newPath);
    await buildMirror(host, vm2.mdPath, vm2.oldPath);
    await setResyncSpeedMax(host, 'md126', 3000);
    await addLeg(host, vm2.mdPath, vm2.newPath);
    advance(10_000);

    const before = host.history.length;
    const [m1, m2, gone] = await pollMirrors(host, [
      { kernelName: 'md127', memberKnames: ['dm-0', 'dm-1'] },
      { kernelName: 'md126', memberKnames: ['dm-2', 'dm-3'] },
      'md120',
    ]);
    expect(host.history.length - before).toBe(1);
    expect(m1).toMatchObject({ present: true, inSync: false, syncAction: 'recover', degraded: 1 });
    expect(m1!.progress).toMatchObject({ doneSectors: 80000, totalSectors: 524288, speedKiBs: 4000 });
    expect(m2!.speedLimit).toEqual({ kiBs: 3000, source: 'local' });
    expect(m2!.progress!.doneSectors).toBe(60000);
    expect(gone).toMatchObject({ kernelName: 'md120', present: false, inSync: false });

    advance(100_000);
    const done = await pollMirrors(host, ['md127', 'md126']);
    expect(done.map((m) => m.inSync)).toEqual([true, true]);
    expect(done[0]!.members.map((m) => m.kname)).toEqual(['dm-1', 'dm-0']);
  });

  it('reports a failed new leg: idle, degraded and not in sync (trap 4)', async () => {
    const { host, advance } = sim();
    await buildMirror(host, vm2.mdPath, vm2.oldPath);
    await addLeg(host, vm2.mdPath, vm2.newPath);
    advance(2000);
    host.failLeg(vm2.mdPath, 'new');
    const [s] = await pollMirrors(host, [{ kernelName: 'md127', memberKnames: ['dm-2', 'dm-3'] }]);
    expect(s).toMatchObject({ syncAction: 'idle', degraded: 1, inSync: false, failedLeg: 'dm-3', progress: null });
    expect(s!.members.find((m) => m.kname === 'dm-3')!.state).toEqual(['faulty', 'write_error']);
    await removeFailedLegs(host, vm2.mdPath);
    const [after] = await pollMirrors(host, ['md127']);
    expect(after).toMatchObject({ failedLeg: null, inSync: false });
  });

  it('copes with a vanished array after a reboot', async () => {
    const { host } = sim();
    await buildMirror(host, vm1.mdPath, vm1.oldPath);
    host.reboot();
    const [s] = await pollMirrors(host, [{ kernelName: 'md127', memberKnames: ['dm-0'] }]);
    expect(s).toMatchObject({ present: false, inSync: false });
  });

  it('runs against the real grep of this machine, where /proc/mdstat and md are absent', async () => {
    const [s] = await pollMirrors(new LocalRunner(), ['md127']);
    expect(s).toMatchObject({ present: false, inSync: false });
  });

  it('fails loudly when the poll itself cannot run', async () => {
    const broken = { host: 'hv9', kind: 'simulated' as const, close: async () => {}, run: async (argv: readonly string[]) => ({ argv, stdout: '', stderr: 'grep: invalid option\n', exitCode: 2, durationMs: 1 }) };
    await expect(pollMirrors(broken, ['md127'])).rejects.toThrow(/poll mirrors failed on host hv9/);
  });
});

describe('mirror identity (traps 1 and 2)', () => {
  it('recognises our mirror of OLD and NEW', async () => {
    const { host } = sim();
    await buildMirror(host, vm1.mdPath, vm1.oldPath);
    let id = await identifyMirror(host, vm1);
    expect(id).toMatchObject({ ours: true, hasOld: true, hasNew: false, oldKname: 'dm-0', newKname: 'dm-1', reason: null });
    await addLeg(host, vm1.mdPath, vm1.newPath);
    id = await identifyMirror(host, vm1);
    expect(id).toMatchObject({ ours: true, hasNew: true, name: { state: 'active', kernelName: 'md127' } });
    expect(await resolveMirror(host, vm1.mdPath)).toBe('md127');
    expect((await mirrorMembers(host, 'md127'))!.map((m) => m.kname)).toEqual(['dm-1', 'dm-0']);
  });

  it('trap 1: after a name collision the name points at another array, which is not ours', async () => {
    const { host } = sim();
    await buildMirror(host, vm1.mdPath, vm1.oldPath);
    await buildMirror(host, vm1.mdPath, '/dev/mapper/small'); // mdadm accepts it and moves the name
    const id = await identifyMirror(host, vm1);
    expect(id.ours).toBe(false);
    expect(id.name).toEqual({ state: 'active', kernelName: 'md126' });
    expect(id.reason).toMatch(/does not hold the old volume dm-0/);
    // the first array still runs under its bare name
    expect((await mirrorMembers(host, 'md127'))!.map((m) => m.kname)).toEqual(['dm-0']);
  });

  it('trap 2: a failed build leaves a dangling name, which resolves to nothing', async () => {
    const { host } = sim();
    await buildMirror(host, vm1.mdPath, vm1.oldPath);
    await expect(buildMirror(host, '/dev/md/ss-other', vm1.oldPath)).rejects.toThrow(/Device or resource busy/);
    expect(await inspectMirrorName(host, '/dev/md/ss-other')).toEqual({ state: 'dangling', target: '/dev/md126' });
    expect(await resolveMirror(host, '/dev/md/ss-other')).toBeNull();
    expect(await inspectMirrorName(host, '/dev/md/never')).toEqual({ state: 'free' });
    const id = await identifyMirror(host, { ...vm1, mdPath: '/dev/md/ss-other' });
    expect(id).toMatchObject({ ours: false, reason: expect.stringMatching(/not an active md array/) });
  });

  it('a stopped mirror leaves its name dangling too', async () => {
    const { host } = sim();
    await buildMirror(host, vm1.mdPath, vm1.oldPath);
    await stopMirror(host, vm1.mdPath);
    expect(await inspectMirrorName(host, vm1.mdPath)).toEqual({ state: 'dangling', target: '/dev/md127' });
  });

  it('kernelNameOf', () => {
    expect(kernelNameOf('/dev/dm-0')).toBe('dm-0');
    expect(kernelNameOf('/dev/md127')).toBe('md127');
    expect(kernelNameOf('/dev/mapper/new-vm1')).toBeNull();
  });
});

describe('typed failures', () => {
  it('a failed mdadm command is an ActionError naming host, argv, exit code and stderr', async () => {
    const { host } = sim();
    await buildMirror(host, vm1.mdPath, vm1.oldPath);
    const err = await addLeg(host, vm1.mdPath, '/dev/mapper/small').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActionError);
    const msg = (err as ActionError).message;
    expect(msg).toContain('host hv1');
    expect(msg).toContain('`mdadm --add /dev/md/ss-vm1-vda /dev/mapper/small`');
    expect(msg).toContain('exited 1');
    expect(msg).toContain('not large enough to join array');
    expect((err as ActionError).details.host).toBe('hv1');
  });

  it('stopping a mirror a domain holds open fails with the busy text', async () => {
    const { host } = sim();
    await buildMirror(host, vm1.mdPath, vm1.oldPath);
    host.setOpenCount(vm1.mdPath, 1);
    await expect(stopMirror(host, vm1.mdPath)).rejects.toThrow(/failed to stop array .* Device or resource busy \/ Perhaps a running process/);
  });

  it('describeCommandFailure quotes arguments that need it and falls back on stdout', () => {
    const msg = describeCommandFailure({ host: 'h', argv: ['tee', "/tmp/a b'c"], exitCode: 3, stderr: '', stdout: 'oops\n', doing: 'write' });
    expect(msg).toBe("write failed on host h: `tee '/tmp/a b'\\''c'` exited 3: oops");
  });

  it('reads --detail into a value', async () => {
    const { host } = sim();
    await buildMirror(host, vm1.mdPath, vm1.oldPath);
    const d = await readMdDetail(host, vm1.mdPath);
    expect(d).toMatchObject({ state: ['clean', 'degraded'], totalDevices: 1 });
    await expect(readMdDetail(host, '/dev/md/ss-none')).rejects.toThrow(/cannot open \/dev\/md\/ss-none/);
  });
});

describe('interpretWait (trap 3)', () => {
  const asResult = (name: string) => {
    const c = capture(name);
    return { argv: c.argv, stdout: c.output, stderr: '', exitCode: c.exitCode, durationMs: 0 };
  };
  it('exit 0 waited; exit 1 with nothing said is nothing to wait for', () => {
    expect(interpretWait(asResult('s1-wait.txt'))).toBe('waited');
    expect(interpretWait(asResult('s1-wait-again.txt'))).toBe('nothing-to-wait');
    expect(interpretWait(asResult('s4-wait-nothing-to-wait.txt'))).toBe('nothing-to-wait');
    expect(interpretWait({ ...asResult('s4-err-stop-nonexistent.txt'), stderr: 'mdadm: error opening' })).toBe('failed');
  });
});
