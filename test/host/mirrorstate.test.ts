import { describe, expect, it } from '@jest/globals';
import { parseMdstat } from '../../src/host/mdstat.js';
import { mirrorStateFrom } from '../../src/host/mirrorstate.js';
import { parseSysfsListing } from '../../src/host/sysfs.js';
import { fixture } from './captures.js';

/** The files map the poll would get, from one capture moment (mdstat + sysfs of one array). */
function moment(prefix: string, md: string) {
  const mdstat = parseMdstat(fixture(`${prefix}.mdstat.txt`));
  const files = new Map<string, string[]>();
  const sysfs = parseSysfsListing(fixture(`${prefix}.sysfs.txt`));
  for (const [k, v] of sysfs) files.set(`/sys/block/${md}/md/${k}`, [v]);
  const members = [...sysfs.keys()].filter((k) => /^dev-.+\/state$/.test(k)).map((k) => k.slice(4, -6));
  return mirrorStateFrom(md, mdstat, files, members);
}

describe('mirrorStateFrom on the captured moments', () => {
  it('built (OLD alone): not in sync, degraded, nothing running', () => {
    const s = moment('s1-built', 'md127');
    expect(s).toMatchObject({ present: true, inSync: false, degraded: 1, syncAction: 'idle', progress: null, failedLeg: null });
    expect(s.members.map((m) => m.kname)).toEqual(['dm-0']);
  });

  it('recovering: progress from sync_completed, speed from sync_speed', () => {
    const s = moment('s1-recovering', 'md127');
    expect(s.inSync).toBe(false);
    expect(s.syncAction).toBe('recover');
    expect(s.progress).toEqual({ doneSectors: 32896, totalSectors: 524288, percent: 6.3, speedKiBs: 5504 });
    expect(s.speedLimit).toEqual({ kiBs: 4000, source: 'system' });
    expect(s.members.find((m) => m.kname === 'dm-1')!.state).toEqual(['spare']);
  });

  it('synced: in sync', () => {
    const s = moment('s1-synced', 'md127');
    expect(s).toMatchObject({ inSync: true, degraded: 0, progress: null, failedLeg: null, mismatchCount: 0 });
  });

  it('checking: [UU] but not idle, so not reported in sync', () => {
    const s = moment('s1-checking', 'md127');
    expect(s.inSync).toBe(false);
    expect(s.progress?.percent).toBe(37.6);
  });

  it('trap 4: a failed leg leaves the mirror idle and degraded, which is not finished', () => {
    const s = moment('s3-leg-failed', 'md126');
    expect(s).toMatchObject({ syncAction: 'idle', degraded: 1, inSync: false, failedLeg: 'dm-3' });
    expect(s.members.find((m) => m.kname === 'dm-3')!.state).toEqual(['faulty', 'write_error']);
    const removed = moment('s3-leg-removed', 'md126');
    expect(removed).toMatchObject({ inSync: false, failedLeg: null, degraded: 1 });
  });

  it('a capped second mirror shows its local limit', () => {
    expect(moment('s2-capped', 'md126').speedLimit).toEqual({ kiBs: 3000, source: 'local' });
  });

  it('an array missing from /proc/mdstat is not present and not in sync, even with stale files', () => {
    const files = new Map([['/sys/block/md127/md/sync_action', ['idle']], ['/sys/block/md127/md/degraded', ['0']]]);
    const s = mirrorStateFrom('md127', parseMdstat(fixture('s0-mdstat-empty.txt')), files);
    expect(s).toMatchObject({ present: false, inSync: false, members: [], syncAction: null });
  });

  it('falls back on the /proc/mdstat progress line when sysfs was not readable', () => {
    const s = mirrorStateFrom('md127', parseMdstat(fixture('s1-recovering.mdstat.txt')), new Map());
    expect(s.progress).toEqual({ doneSectors: 32384, totalSectors: 524288, percent: 6, speedKiBs: 5482 });
    expect(s.inSync).toBe(false);
  });
});
