import { describe, expect, it } from '@jest/globals';
import {
  addLegArgv,
  buildMirrorArgv,
  detailArgv,
  mirrorSysfsPaths,
  readFilesArgv,
  removeFailedArgv,
  setSyncSpeedMaxCommand,
  stopMirrorArgv,
  waitArgv,
} from '../../src/host/mdadm.js';
import { capture } from './captures.js';

describe('mdadm argv builders produce the captured command lines', () => {
  it.each([
    ['s1-build.txt', () => buildMirrorArgv('/dev/md/ss-vm1-vda', '/dev/mapper/old-vm1')],
    ['s1-add.txt', () => addLegArgv('/dev/md/ss-vm1-vda', '/dev/mapper/new-vm1')],
    ['s1-stop.txt', () => stopMirrorArgv('/dev/md/ss-vm1-vda')],
    ['s1-built.detail.txt', () => detailArgv('/dev/md/ss-vm1-vda')],
    ['s1-wait.txt', () => waitArgv('/dev/md/ss-vm1-vda')],
    ['s3-remove-failed.txt', () => removeFailedArgv('/dev/md/ss-vm2-vda')],
  ])('%s', (name, build) => {
    expect(build()).toEqual(capture(name).argv);
  });

  it('refuses paths that are not safe device paths (I6)', () => {
    for (const bad of ['/dev/md/x; rm -rf /', 'old-vm1', '/dev/../etc/passwd', '/dev/md/$(id)', '-/dev/x']) {
      expect(() => buildMirrorArgv('/dev/md/ok', bad)).toThrow(/unsafe device path/);
      expect(() => stopMirrorArgv(bad)).toThrow(/unsafe device path/);
    }
  });

  it('sets the speed cap through tee with stdin, no shell', () => {
    expect(setSyncSpeedMaxCommand('md127', 3000)).toEqual({ argv: ['tee', '/sys/block/md127/md/sync_speed_max'], input: '3000\n' });
    expect(setSyncSpeedMaxCommand('md127', 'system').input).toBe('system\n');
    expect(() => setSyncSpeedMaxCommand('md127', 0)).toThrow();
    expect(() => setSyncSpeedMaxCommand('md127', 1.5)).toThrow();
    expect(() => setSyncSpeedMaxCommand('../x', 1000)).toThrow(/md kernel name/);
  });

  it('lists the sysfs files of a poll, member states included', () => {
    const paths = mirrorSysfsPaths('md126', ['dm-2', 'dm-3']);
    expect(paths).toContain('/sys/block/md126/md/sync_completed');
    expect(paths).toContain('/sys/block/md126/md/dev-dm-3/state');
    expect(readFilesArgv(paths).slice(0, 5)).toEqual(['grep', '-H', '-e', '', '--']);
    expect(() => mirrorSysfsPaths('md126', ['dm-2/../../x'])).toThrow();
  });
});
