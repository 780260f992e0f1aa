import { describe, expect, it } from '@jest/globals';
import {
  parseCount,
  parseDevState,
  parseSpeedLimit,
  parseSyncCompleted,
  parseSyncSpeed,
  parseSysfsListing,
  splitGrepDump,
} from '../../src/host/sysfs.js';
import { fixture, fixtureNames } from './captures.js';

describe('md sysfs files', () => {
  const files = fixtureNames(/\.sysfs\.txt$/);

  it.each(files)('%s: every value parses', (name) => {
    const s = parseSysfsListing(fixture(name));
    expect(s.get('level')).toBe('raid1');
    const action = s.get('sync_action')!;
    expect(['idle', 'recover', 'check']).toContain(action);
    // sync_completed and sync_speed are "none" exactly when nothing runs
    expect(parseSyncCompleted(s.get('sync_completed')!) === null).toBe(action === 'idle');
    expect(parseSyncSpeed(s.get('sync_speed')!) === null).toBe(action === 'idle');
    expect(parseSpeedLimit(s.get('sync_speed_max')!)).not.toBeNull();
    expect(parseSpeedLimit(s.get('sync_speed_min')!)).toEqual({ kiBs: 1000, source: 'system' });
    expect(parseCount(s.get('degraded')!)).not.toBeNull();
    expect(parseCount(s.get('mismatch_cnt')!)).toBe(0);
    for (const [k, v] of s) if (/^dev-.+\/state$/.test(k)) expect(parseDevState(v).length).toBeGreaterThan(0);
  });

  it('reads the values of a recovery, a local cap, a failed leg', () => {
    const rec = parseSysfsListing(fixture('s1-recovering.sysfs.txt'));
    expect(parseSyncCompleted(rec.get('sync_completed')!)).toEqual({ done: 32896, total: 524288 });
    expect(parseSyncSpeed(rec.get('sync_speed')!)).toBe(5504);
    expect(parseSpeedLimit(rec.get('sync_speed_max')!)).toEqual({ kiBs: 4000, source: 'system' });
    expect(parseSpeedLimit(parseSysfsListing(fixture('s2-capped.sysfs.txt')).get('sync_speed_max')!)).toEqual({ kiBs: 3000, source: 'local' });
    expect(parseDevState(parseSysfsListing(fixture('s3-leg-failed.sysfs.txt')).get('dev-dm-3/state')!)).toEqual(['faulty', 'write_error']);
    expect(parseSyncCompleted('none')).toBeNull();
    expect(parseSpeedLimit('garbage')).toBeNull();
  });
});

describe('splitGrepDump', () => {
  it('gives each file its lines, keeps empty lines and values holding colons', () => {
    const files = ['/proc/mdstat', '/sys/block/md127/md/sync_completed', '/sys/block/md12/md/sync_action'];
    const stdout = [
      '/proc/mdstat:Personalities : [raid1] ',
      '/proc/mdstat:md127 : active raid1 dm-0[0]',
      '/proc/mdstat:      ',
      '/proc/mdstat:',
      '/sys/block/md127/md/sync_completed:32896 / 524288',
      '',
    ].join('\n');
    const dump = splitGrepDump(stdout, files);
    expect(dump.get('/proc/mdstat')).toEqual(['Personalities : [raid1] ', 'md127 : active raid1 dm-0[0]', '      ', '']);
    expect(dump.get('/sys/block/md127/md/sync_completed')).toEqual(['32896 / 524288']);
    // a missing file (grep said so on stderr) has no entry, and md12 is not confused with md127
    expect(dump.has('/sys/block/md12/md/sync_action')).toBe(false);
  });
});
