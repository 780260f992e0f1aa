import { describe, expect, it } from '@jest/globals';
import { parseMdDetail } from '../../src/host/mddetail.js';
import { capture, fixture, fixtureNames } from './captures.js';

const detailText = (name: string): string => (name.startsWith('seed-') ? fixture(name) : capture(name).output);

describe('parseMdDetail on every captured mdadm --detail', () => {
  const files = fixtureNames(/\.detail\.txt$/);

  it('finds the capture files', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it.each(files)('%s: counts agree with the devices table', (name) => {
    const d = parseMdDetail(detailText(name));
    expect(d.device).toMatch(/^\/dev\/md/);
    expect(d.raidLevel).toBe('raid1');
    expect(d.raidDevices).toBe(2);
    expect(d.state[0]).toBe('clean');
    const present = d.devices.filter((x) => x.path !== null);
    expect(present).toHaveLength(d.totalDevices!);
    expect(present.filter((x) => x.state.includes('faulty'))).toHaveLength(d.failedDevices!);
    expect(d.devices.filter((x) => x.state.join(' ') === 'active sync')).toHaveLength(d.activeDevices!);
    expect(d.state.includes('degraded')).toBe(d.activeDevices! < d.raidDevices!);
  });

  it('reads a rebuilding mirror', () => {
    const d = parseMdDetail(capture('s1-recovering.detail.txt').output);
    expect(d.device).toBe('/dev/md/ss-vm1-vda');
    expect(d.arraySize).toBe(262144);
    expect(d.state).toEqual(['clean', 'degraded', 'recovering']);
    expect(d.status).toEqual({ kind: 'Rebuild', percent: 6 });
    expect(d.fields['Consistency Policy']).toBe('resync');
    expect(d.fields['Version']).toBe('');
    expect(d.devices).toEqual([
      { number: 0, major: 252, minor: 0, raidDevice: 0, state: ['active', 'sync'], path: '/dev/dm-0' },
      { number: 2, major: 252, minor: 1, raidDevice: 1, state: ['spare', 'rebuilding'], path: '/dev/dm-1' },
    ]);
  });

  it('reads a check status and a removed slot', () => {
    expect(parseMdDetail(capture('s1-checking.detail.txt').output).status).toEqual({ kind: 'Check', percent: 28 });
    const built = parseMdDetail(capture('s1-built.detail.txt').output);
    expect(built.devices[1]).toEqual({ number: null, major: 0, minor: 0, raidDevice: 1, state: ['removed'], path: null });
    expect(built.status).toBeNull();
  });

  it('reads a faulty leg outside the slots', () => {
    const d = parseMdDetail(capture('s3-leg-failed.detail.txt').output);
    expect(d.failedDevices).toBe(1);
    expect(d.devices[2]).toEqual({ number: 2, major: 252, minor: 3, raidDevice: null, state: ['faulty'], path: '/dev/dm-3' });
  });

  it('reads the seed article copies', () => {
    const d = parseMdDetail(fixture('seed-recovering.detail.txt'));
    expect(d).toMatchObject({ device: '/dev/md126', arraySize: 104857600, status: { kind: 'Rebuild', percent: 1 } });
    expect(d.devices.map((x) => x.path)).toEqual(['/dev/dm-16', '/dev/dm-17']);
    expect(parseMdDetail(fixture('seed-synced.detail.txt')).state).toEqual(['clean']);
  });
});
