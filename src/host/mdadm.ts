// The exact argv of every md command sanshift issues. Pure: builds arrays, runs nothing.
// Forms follow the lab captures (fixtures/md): `--level 1` as two words, `--raid-disks=2`,
// no `--run` (a --build array starts at once: "built and started").
import { ActionError } from '../util/errors.js';
import { isSafeDevicePath } from '../util/validate.js';

/** Refuses anything that is not a safe /dev path before it reaches a command line (I6). */
export function assertDevicePath(path: string): string {
  if (!isSafeDevicePath(path)) throw new ActionError(`refusing unsafe device path ${JSON.stringify(path)}`);
  return path;
}

/** md kernel names: md0 .. md1048575 */
const MD_KERNEL_NAME = /^md[0-9]{1,7}$/;
/** block device kernel names: dm-0, sda, nvme0n1, loop3, md127 */
const KERNEL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

export function assertMdKernelName(kname: string): string {
  if (!MD_KERNEL_NAME.test(kname)) throw new ActionError(`not an md kernel name: ${JSON.stringify(kname)}`);
  return kname;
}

export function assertKernelName(kname: string): string {
  if (!KERNEL_NAME.test(kname)) throw new ActionError(`not a block device kernel name: ${JSON.stringify(kname)}`);
  return kname;
}

/** mdadm --build: a superblock-less RAID1 over OLD with the second slot empty */
export function buildMirrorArgv(mdPath: string, oldPath: string): string[] {
  return ['mdadm', '--build', assertDevicePath(mdPath), '--level', '1', '--raid-disks=2', assertDevicePath(oldPath), 'missing'];
}

/** mdadm --add: NEW joins as a spare and md starts copying OLD onto it */
export function addLegArgv(mdPath: string, newPath: string): string[] {
  return ['mdadm', '--add', assertDevicePath(mdPath), assertDevicePath(newPath)];
}

export function stopMirrorArgv(mdPath: string): string[] {
  return ['mdadm', '--stop', assertDevicePath(mdPath)];
}

export function detailArgv(mdPath: string): string[] {
  return ['mdadm', '--detail', assertDevicePath(mdPath)];
}

/** mdadm MD --fail DEV: marks one leg faulty (for tests and for abandoning a bad NEW) */
export function failLegArgv(mdPath: string, legPath: string): string[] {
  return ['mdadm', assertDevicePath(mdPath), '--fail', assertDevicePath(legPath)];
}

/** mdadm MD --remove failed: drops every faulty leg (captured form, s3-remove-failed) */
export function removeFailedArgv(mdPath: string): string[] {
  return ['mdadm', assertDevicePath(mdPath), '--remove', 'failed'];
}

/** mdadm --wait: blocks until resync/recovery ends; exit 1 means there was nothing to wait for */
export function waitArgv(mdPath: string): string[] {
  return ['mdadm', '--wait', assertDevicePath(mdPath)];
}

export function mdadmVersionArgv(): string[] {
  return ['mdadm', '--version'];
}

/** The sysfs file that caps one array's resync speed, KiB/s ("system" restores the default). */
export function syncSpeedMaxFile(mdKernelName: string): string {
  return `/sys/block/${assertMdKernelName(mdKernelName)}/md/sync_speed_max`;
}

/** tee writes its stdin into the sysfs file: no shell redirection needed. Pass the returned
 * `input` as the command's stdin. */
export function setSyncSpeedMaxCommand(mdKernelName: string, kiBs: number | 'system'): { argv: string[]; input: string } {
  if (kiBs !== 'system' && (!Number.isInteger(kiBs) || kiBs <= 0)) {
    throw new ActionError(`resync speed must be a positive whole number of KiB/s, got ${kiBs}`);
  }
  return { argv: ['tee', syncSpeedMaxFile(mdKernelName)], input: `${kiBs}\n` };
}

/** readlink -m prints one canonical path per argument, even for missing ones, so the lines
 * of the answer always line up with the paths asked. */
export function resolvePathsArgv(paths: readonly string[]): string[] {
  return ['readlink', '-m', '--', ...paths.map(assertDevicePath)];
}

export function readMdstatArgv(): string[] {
  return ['cat', '/proc/mdstat'];
}

/** The sysfs files of one array that the poll reads. */
export const MIRROR_SYSFS_FILES = ['sync_action', 'sync_completed', 'degraded', 'sync_speed', 'sync_speed_max', 'mismatch_cnt'] as const;

export function mirrorSysfsPaths(mdKernelName: string, memberKernelNames: readonly string[] = []): string[] {
  const dir = `/sys/block/${assertMdKernelName(mdKernelName)}/md`;
  return [
    ...MIRROR_SYSFS_FILES.map((f) => `${dir}/${f}`),
    ...memberKernelNames.map((k) => `${dir}/dev-${assertKernelName(k)}/state`),
  ];
}

/** grep -H '' prints every line of every file prefixed with its file name, empty lines kept;
 * a missing file only adds a line on stderr, the others still come out. */
export function readFilesArgv(files: readonly string[]): string[] {
  return ['grep', '-H', '-e', '', '--', ...files];
}
