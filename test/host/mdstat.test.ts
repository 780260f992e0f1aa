import { describe, expect, it } from '@jest/globals';
import { arrayHolding, findArray, parseMdstat } from '../../src/host/mdstat.js';
import { capture, fixture, fixtureNames } from './captures.js';

describe('parseMdstat on every captured /proc/mdstat', () => {
  const files = fixtureNames(/\.mdstat\.txt$/);

  it('finds the capture files', () => {
    expect(files.length).toBeGreaterThanOrEqual(11);
  });

  it.each(files)('%s: every array has members, blocks, [n/m] and a slot map that agree', (name) => {
    const m = parseMdstat(fixture(name));
    expect(m.personalities).toEqual(['raid1']);
    expect(m.arrays.length).toBeGreaterThan(0);
    for (const a of m.arrays) {
      expect(a.kernelName).toMatch(/^md\d+$/);
      expect(a.active).toBe(true);
      expect(a.level).toBe('raid1');
      expect(a.members.length).toBeGreaterThan(0);
      expect(a.raidDisks).toBe(2);
      expect(a.slotsUp).toHaveLength(2);
      expect(a.slotsUp!.filter((u) => u).length).toBe(a.workingDisks);
      expect(a.blocks).toBeGreaterThan(0);
      if (a.progress !== null) expect(a.progress.totalKiB).toBe(a.blocks);
    }
  });

  it('reads the built mirror: OLD alone, non-persistent, [2/1] [U_], no progress', () => {
    const a = findArray(parseMdstat(fixture('s1-built.mdstat.txt')), 'md127')!;
    expect(a).toMatchObject({ blocks: 262144, superblock: 'non-persistent', raidDisks: 2, workingDisks: 1, slotsUp: [true, false], progress: null });
    expect(a.members).toEqual([{ kname: 'dm-0', number: 0, faulty: false, spare: false, writeMostly: false, replacement: false }]);
  });

  it('reads a recovery line', () => {
    const a = findArray(parseMdstat(fixture('s1-recovering.mdstat.txt')), 'md127')!;
    expect(a.members.map((m) => [m.kname, m.number])).toEqual([['dm-1', 2], ['dm-0', 0]]);
    expect(a.progress).toEqual({ action: 'recovery', percent: 6, doneKiB: 16192, totalKiB: 262144, finishMinutes: 0.7, speedKiBs: 5482 });
  });

  it('reads a check line on an array that is [UU]', () => {
    const a = findArray(parseMdstat(fixture('s1-checking.mdstat.txt')), 'md127')!;
    expect(a.slotsUp).toEqual([true, true]);
    expect(a.progress).toMatchObject({ action: 'check', percent: 14, doneKiB: 37120, speedKiBs: 37120 });
  });

  it('reads two mirrors in kernel order', () => {
    const m = parseMdstat(capture('s2-two-mirrors.txt').output);
    expect(m.arrays.map((a) => [a.kernelName, a.progress?.percent])).toEqual([['md126', 3.8], ['md127', 11.3]]);
  });

  it('marks a failed leg (F) and keeps the other array recovering', () => {
    const m = parseMdstat(fixture('s3-leg-failed.mdstat.txt'));
    const md126 = findArray(m, 'md126')!;
    expect(md126.members.find((x) => x.kname === 'dm-3')).toMatchObject({ faulty: true, number: 2 });
    expect(md126.progress).toBeNull();
    expect(findArray(m, 'md127')!.progress?.action).toBe('recovery');
    expect(findArray(parseMdstat(fixture('s3-leg-removed.mdstat.txt')), 'md126')!.members.map((x) => x.kname)).toEqual(['dm-2']);
  });

  it('tells which array holds a device', () => {
    const m = parseMdstat(fixture('s4-name-collision.mdstat.txt'));
    expect(m.arrays.map((a) => a.kernelName)).toEqual(['md123', 'md124', 'md127']);
    expect(arrayHolding(m, 'dm-6')?.kernelName).toBe('md124');
    expect(findArray(m, 'md124')!.blocks).toBe(131072);
    expect(arrayHolding(m, 'dm-5')).toBeUndefined();
  });

  it.each(['s0-mdstat-empty.txt', 's1-mdstat-after.txt'])('%s: no arrays', (name) => {
    expect(parseMdstat(capture(name).output)).toEqual({ personalities: ['raid1'], arrays: [] });
  });

  it('reads the seed article copies, whose whitespace was collapsed', () => {
    const rec = parseMdstat(fixture('seed-recovering.mdstat.txt')).arrays[0]!;
    expect(rec).toMatchObject({ kernelName: 'md126', blocks: 104857600, workingDisks: 1, slotsUp: [true, false] });
    expect(rec.members.map((m) => m.kname)).toEqual(['dm-17', 'dm-16']);
    expect(rec.progress).toEqual({ action: 'recovery', percent: 0.3, doneKiB: 355264, totalKiB: 104857600, finishMinutes: 39.2, speedKiBs: 44408 });
    expect(parseMdstat(fixture('seed-synced.mdstat.txt')).arrays[0]).toMatchObject({ slotsUp: [true, true], progress: null });
  });

  it('reads forms the lab did not capture: inactive arrays, spares, read-only, delayed resync', () => {
    const text = [
      'Personalities : [raid1] [raid6] ',
      'md9 : inactive sdc[1](S)',
      '      1048576 blocks super 1.2',
      '',
      'md10 : active (auto-read-only) raid1 sdd[0] sde[1](S)',
      '      1048576 blocks super 1.2 [2/1] [U_]',
      '        resync=DELAYED',
      '      bitmap: 0/1 pages [0KB], 65536KB chunk',
      '',
      'unused devices: <none>',
    ].join('\n');
    const m = parseMdstat(text);
    expect(m.personalities).toEqual(['raid1', 'raid6']);
    expect(findArray(m, 'md9')).toMatchObject({ active: false, level: null, members: [{ kname: 'sdc', spare: true }] });
    expect(findArray(m, 'md10')).toMatchObject({ readOnly: 'auto-read-only', level: 'raid1', pending: 'DELAYED', superblock: '1.2' });
  });
});
