// The state of one mirror as the engine needs it, computed from /proc/mdstat and the array's
// sysfs files. Pure. Trap 4 of the captures: `idle` is not `finished` — a mirror whose new leg
// failed is idle with degraded 1, so "in sync" needs [UU], idle, degraded 0 and no failed leg.
import { findArray, type Mdstat } from './mdstat.js';
import { mirrorSysfsPaths } from './mdadm.js';
import { parseCount, parseDevState, parseSpeedLimit, parseSyncCompleted, parseSyncSpeed, type SpeedLimit } from './sysfs.js';

export interface MirrorLeg {
  kname: string;
  /** md's device number ([N] in /proc/mdstat), not the slot */
  number: number;
  faulty: boolean;
  spare: boolean;
  /** dev-KNAME/state flags when the poll read them ("in_sync", "spare", "faulty,write_error") */
  state: string[] | null;
}

export interface MirrorProgress {
  doneSectors: number;
  totalSectors: number;
  /** 0..100, one decimal */
  percent: number;
  /** KiB/s, null when md reports none */
  speedKiBs: number | null;
}

export interface MirrorState {
  kernelName: string;
  /** listed in /proc/mdstat; false when the array vanished (stopped, host rebooted) */
  present: boolean;
  members: MirrorLeg[];
  /** [U_] as flags, null when not present */
  slotsUp: boolean[] | null;
  /** [UU], sync_action idle, degraded 0 and no failed leg: the copy is complete */
  inSync: boolean;
  /** sysfs `degraded`: number of missing or failed slots; null when unreadable */
  degraded: number | null;
  /** sysfs sync_action: idle, recover, resync, check, ... */
  syncAction: string | null;
  /** the running resync/recovery/check, null when none */
  progress: MirrorProgress | null;
  /** kernel name of a faulty leg, null when none */
  failedLeg: string | null;
  speedLimit: SpeedLimit | null;
  /** md's mismatch_cnt: informative only (cache='none' makes legit differences) */
  mismatchCount: number | null;
}

function single(files: Map<string, string[]>, path: string): string | null {
  const lines = files.get(path);
  return lines === undefined || lines.length === 0 ? null : lines.join('\n');
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Builds the state of mirror `kernelName` from a parsed /proc/mdstat and the split `grep -H`
 * dump of its sysfs files (see mirrorSysfsPaths). */
export function mirrorStateFrom(
  kernelName: string,
  mdstat: Mdstat,
  files: Map<string, string[]>,
  memberKnames: readonly string[] = [],
): MirrorState {
  const paths = mirrorSysfsPaths(kernelName, memberKnames);
  const [actionPath, completedPath, degradedPath, speedPath, speedMaxPath, mismatchPath] = paths as [
    string, string, string, string, string, string,
  ];
  const array = findArray(mdstat, kernelName);
  const present = array !== undefined;
  const syncAction = present ? single(files, actionPath)?.trim() ?? null : null;
  const degradedText = present ? single(files, degradedPath) : null;
  const degraded = degradedText === null ? null : parseCount(degradedText);

  const devStates = new Map<string, string[]>();
  for (const k of memberKnames) {
    const text = single(files, `/sys/block/${kernelName}/md/dev-${k}/state`);
    if (text !== null) devStates.set(k, parseDevState(text));
  }
  const members: MirrorLeg[] = (array?.members ?? []).map((m) => {
    const state = devStates.get(m.kname) ?? null;
    return {
      kname: m.kname,
      number: m.number,
      faulty: m.faulty || (state?.includes('faulty') ?? false),
      spare: m.spare,
      state,
    };
  });

  let progress: MirrorProgress | null = null;
  const completed = present ? parseSyncCompleted(single(files, completedPath) ?? '') : null;
  const sysSpeed = present ? parseSyncSpeed(single(files, speedPath) ?? '') : null;
  if (completed !== null && completed.total > 0) {
    progress = {
      doneSectors: completed.done,
      totalSectors: completed.total,
      percent: round1((completed.done / completed.total) * 100),
      speedKiBs: sysSpeed ?? array?.progress?.speedKiBs ?? null,
    };
  } else if (array?.progress != null) {
    const p = array.progress;
    progress = {
      doneSectors: p.doneKiB * 2,
      totalSectors: p.totalKiB * 2,
      percent: p.percent,
      speedKiBs: sysSpeed ?? p.speedKiBs,
    };
  }

  const failedLeg = members.find((m) => m.faulty)?.kname ?? null;
  const slotsUp = array?.slotsUp ?? null;
  const allSlotsUp = slotsUp !== null && slotsUp.length > 0 && slotsUp.every((u) => u);
  const inSync =
    present &&
    array.active &&
    allSlotsUp &&
    syncAction === 'idle' &&
    degraded === 0 &&
    failedLeg === null &&
    array.progress === null;

  return {
    kernelName,
    present,
    members,
    slotsUp,
    inSync,
    degraded,
    syncAction,
    progress,
    failedLeg,
    speedLimit: present ? parseSpeedLimit(single(files, speedMaxPath) ?? '') : null,
    mismatchCount: present ? parseCount(single(files, mismatchPath) ?? '') : null,
  };
}
