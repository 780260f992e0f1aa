import { describe, expect, it } from '@jest/globals';
import {
  gatherBlockDeviceFacts,
  lsblkArgv,
  listHoldersArgv,
  newVolumeProblems,
  parseLsListing,
  parseLsblkJson,
  parseMdadmVersion,
} from '../../src/host/blockdev.js';
import { buildMirror } from '../../src/host/md.js';
import { SimulatedHost } from '../../src/host/simulated.js';
import { capture } from './captures.js';

const MiB = 1024 * 1024;

function sim() {
  return new SimulatedHost({
    host: 'hv1',
    now: () => 0,
    volumes: [
      { path: '/dev/mapper/old-vm1', kname: 'dm-0', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/new-vm1', kname: 'dm-1', sizeBytes: 256 * MiB },
      { path: '/dev/mapper/small', kname: 'dm-6', sizeBytes: 128 * MiB },
    ],
  });
}

describe('block-device parsers on the captures', () => {
  it('lsblk argv and JSON are the captured ones', () => {
    const c = capture('s0-lsblk.txt');
    expect(lsblkArgv(['/dev/mapper/old-vm1', '/dev/mapper/new-vm1'])).toEqual(c.argv);
    const devs = parseLsblkJson(c.output);
    expect(devs).toEqual([
      { name: 'old-vm1', kname: 'dm-0', path: '/dev/mapper/old-vm1', sizeBytes: 268435456, type: 'dm', mountpoint: null, fstype: null, majMin: '252:0', children: [] },
      { name: 'new-vm1', kname: 'dm-1', path: '/dev/mapper/new-vm1', sizeBytes: 268435456, type: 'dm', mountpoint: null, fstype: null, majMin: '252:1', children: [] },
    ]);
    expect(parseLsblkJson('')).toEqual([]);
  });

  it('holders listings', () => {
    const free = capture('s0-holders-free.txt');
    const held = capture('s1-holders-old.txt');
    expect(listHoldersArgv(['dm-1'])).toEqual(free.argv);
    expect(parseLsListing(free.output, ['/sys/block/dm-1/holders'])).toEqual(new Map([['/sys/block/dm-1/holders', []]]));
    expect(parseLsListing(held.output, ['/sys/block/dm-0/holders'])).toEqual(new Map([['/sys/block/dm-0/holders', ['md127']]]));
    const two = '/sys/block/dm-0/holders:\nmd127\n\n/sys/block/dm-1/holders:\n';
    expect(parseLsListing(two, ['/sys/block/dm-0/holders', '/sys/block/dm-1/holders'])).toEqual(
      new Map([['/sys/block/dm-0/holders', ['md127']], ['/sys/block/dm-1/holders', []]]),
    );
  });

  it('mdadm version', () => {
    expect(parseMdadmVersion('mdadm - v4.2 - 2021-12-30 - Debian 4.2-5\n')).toBe('4.2');
    expect(parseMdadmVersion('bash: mdadm: command not found')).toBeNull();
  });
});

describe('gatherBlockDeviceFacts', () => {
  it('reports a free new volume, a held old one, a missing one, in a few commands', async () => {
    const host = sim();
    await buildMirror(host, '/dev/md/ss-vm1-vda', '/dev/mapper/old-vm1');
    const before = host.history.length;
    const facts = await gatherBlockDeviceFacts(host, ['/dev/mapper/old-vm1', '/dev/mapper/new-vm1', '/dev/mapper/nope']);
    expect(host.history.length - before).toBeLessThanOrEqual(5);
    expect(facts.mdadm).toMatchObject({ present: true, version: '4.2' });
    const old = facts.devices.get('/dev/mapper/old-vm1')!;
    expect(old).toMatchObject({ exists: true, kname: 'dm-0', resolved: '/dev/dm-0', sizeBytes: 256 * MiB, holders: ['md127'], mdArray: 'md127' });
    const nu = facts.devices.get('/dev/mapper/new-vm1')!;
    expect(nu).toMatchObject({ exists: true, kname: 'dm-1', holders: [], mdArray: null, mountpoint: null });
    expect(facts.devices.get('/dev/mapper/nope')).toMatchObject({ exists: false, kname: null });
    expect(newVolumeProblems(nu, old)).toEqual([]);
    expect(newVolumeProblems(old, nu).map((p) => p.code)).toEqual(['held', 'in-array']);
  });

  it('turns mounted, held, too small, same-as-old and missing into reasons', async () => {
    const host = sim();
    host.markMounted('/dev/mapper/small', '/srv');
    host.setHolder('/dev/mapper/small', 'dm-7');
    const f = await gatherBlockDeviceFacts(host, ['/dev/mapper/old-vm1', '/dev/mapper/small', '/dev/dm-0', '/dev/mapper/nope']);
    const old = f.devices.get('/dev/mapper/old-vm1')!;
    const problems = newVolumeProblems(f.devices.get('/dev/mapper/small')!, old);
    expect(problems.map((p) => p.code)).toEqual(['too-small', 'mounted', 'held']);
    expect(problems[0]!.message).toBe('/dev/mapper/small has 134217728 bytes, fewer than the 268435456 of /dev/mapper/old-vm1');
    expect(problems[1]!.message).toContain('/srv');
    expect(newVolumeProblems(f.devices.get('/dev/dm-0')!, old).map((p) => p.code)).toContain('same-as-old');
    expect(newVolumeProblems(f.devices.get('/dev/mapper/nope')!, old)).toEqual([
      { code: 'missing', message: '/dev/mapper/nope is not a block device on this host' },
    ]);
  });

  it('notices a host without mdadm', async () => {
    const host = new SimulatedHost({ now: () => 0, mdadmInstalled: false, volumes: [{ path: '/dev/sdb', kname: 'sdb', sizeBytes: MiB, type: 'disk' }] });
    const f = await gatherBlockDeviceFacts(host, ['/dev/sdb']);
    expect(f.mdadm.present).toBe(false);
    expect(f.devices.get('/dev/sdb')).toMatchObject({ exists: true, kname: 'sdb' });
  });
});
