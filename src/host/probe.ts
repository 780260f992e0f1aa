// The host probe: one session reads everything the engine and preflight decide on about a set
// of device paths (where each name points, every device's identity, size, sector size, write
// counters, holders, partitions, md arrays and their legs, /proc/mdstat; in `full` mode also
// mounts, swaps and the tools sanshift needs; in `scan` mode, for `sanshift doctor`, all of that
// plus every md array and /dev/md name of the host whatever paths were asked, the legs' own
// facts, what udev found on each device (a file system, a partition table), the VM leases and
// the host's clock). The script is in scripts.ts; this file builds its argv and turns its output
// into a HostSnapshot, plain data that the pure checks below read.
import { ActionError } from '../util/errors.js';
import { commandFailed } from './failure.js';
import { assertDevicePath, assertMdKernelName } from './mdadm.js';
import { findArray, parseMdstat, type Mdstat } from './mdstat.js';
import { mirrorStateFrom, type MirrorState } from './mirrorstate.js';
import type { CommandRunner } from './runner.js';
import { PROBE_SCRIPT } from './scripts.js';

export type ProbeMode = 'state' | 'full' | 'scan';

/** `sh -c PROBE_SCRIPT sanshift-probe MODE PATH...`; every path is validated first (I6). */
export function probeArgv(mode: ProbeMode, paths: readonly string[]): string[] {
  return ['sh', '-c', PROBE_SCRIPT, 'sanshift-probe', mode, ...[...new Set(paths)].map(assertDevicePath)];
}

/** /sys/block/X/stat, the fields sanshift reads (Documentation/block/stat.rst). */
export interface BlockCounters {
  writeIos: number;
  /** 512-byte sectors written */
  writeSectors: number;
  /** 512-byte sectors discarded (a discard changes data too) */
  discardSectors: number;
}

export interface DeviceFacts {
  kname: string;
  majMin: string;
  sizeBytes: number;
  counters: BlockCounters | null;
  logicalBlockSize: number | null;
  /** this device is partition number N of another */
  partitionNumber: number | null;
  /** device-mapper uuid (mpath-<wwid> for a multipath map, part1-mpath-... for kpartx) */
  dmUuid: string | null;
  /** /sys/block/X/device/wwid of a SCSI disk (naa.600...) */
  wwid: string | null;
  /** udev's ID_SERIAL and ID_WWN */
  udevSerial: string | null;
  udevWwn: string | null;
  /** scan mode: udev's ID_FS_TYPE and ID_PART_TABLE_TYPE (what blkid found when udev last probed
   * the device: a file system, a RAID or LVM signature, a partition table); absent when none */
  fsType?: string;
  partTable?: string;
  holders: string[];
  partitions: string[];
  /** md sysfs values (array_state, sync_action, ...) and legs (kname -> dev-X/state), for md devices */
  md: { files: Map<string, string>; legs: Map<string, string> } | null;
}

export interface HostTools {
  /** `mdadm --version`, or null when mdadm is not on the PATH */
  mdadm: string | null;
  flock: boolean;
  blockdev: boolean;
}

export interface HostSnapshot {
  mode: ProbeMode;
  /** path as asked -> the path with every link followed */
  links: Map<string, string>;
  devices: Map<string, DeviceFacts>;
  /** /proc/mdstat, parsed; `mdLoaded` false when the md driver is not there */
  mdstat: Mdstat;
  mdLoaded: boolean;
  /** full and scan modes: block-backed mounts (major:minor -> mount points) and active swaps */
  mounts: { majMin: string; mountpoint: string }[];
  swaps: string[];
  tools: HostTools | null;
  /** scan mode: the VM leases on the host (/run/lock/sanshift/vm-VM.lease: owner word, expiry) */
  leases: HostLease[];
  /** scan mode: the host's clock (`date +%s`), what the leases' expiries are compared with */
  clock: number | null;
}

/** One VM lease as the host keeps it (LEASE_SCRIPT): `until` in the host's seconds; NaN when
 * the file holds something else. */
export interface HostLease {
  vm: string;
  owner: string;
  until: number;
}

const num = (s: string | undefined): number => (s !== undefined && /^\d+$/.test(s) ? Number(s) : NaN);

function counters(fields: string[]): BlockCounters | null {
  const n = fields.map(Number);
  if (n.length < 7 || n.some((x) => !Number.isFinite(x))) return null;
  return { writeIos: n[4]!, writeSectors: n[6]!, discardSectors: n[13] ?? 0 };
}

function emptyDevice(kname: string): DeviceFacts {
  return { kname, majMin: '', sizeBytes: 0, counters: null, logicalBlockSize: null, partitionNumber: null, dmUuid: null, wwid: null, udevSerial: null, udevWwn: null, holders: [], partitions: [], md: null };
}

/** Parses the probe's output (also the tail of the md action script's). Pure. */
export function parseProbe(stdout: string): HostSnapshot {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('#probe '));
  if (start < 0) throw new Error('no "#probe" header in the probe output');
  const word = lines[start]!.split(' ')[2];
  const mode: ProbeMode = word === 'full' || word === 'scan' ? word : 'state';
  const snap: HostSnapshot = { mode, links: new Map(), devices: new Map(), mdstat: parseMdstat(''), mdLoaded: false, mounts: [], swaps: [], tools: null, leases: [], clock: null };
  const device = (k: string): DeviceFacts => {
    let d = snap.devices.get(k);
    if (d === undefined) {
      d = emptyDevice(k);
      snap.devices.set(k, d);
    }
    return d;
  };
  const md = (k: string) => (device(k).md ??= { files: new Map(), legs: new Map() });
  let ended = false;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '#end') {
      ended = true;
      break;
    }
    if (line === '#mdstat') {
      const end = lines.indexOf('#end', i + 1);
      if (end < 0) break;
      snap.mdstat = parseMdstat(lines.slice(i + 1, end).join('\n'));
      snap.mdLoaded = true;
      i = end - 1;
      continue;
    }
    const [key, subject = '', ...rest] = line.split(' ');
    const value = rest.join(' ');
    switch (key) {
      case 'link':
        snap.links.set(subject, value);
        break;
      case 'absent':
        break;
      case 'dev':
        device(subject).majMin = value;
        break;
      case 'size':
        device(subject).sizeBytes = num(value) * 512;
        break;
      case 'stat':
        device(subject).counters = counters(rest);
        break;
      case 'lbs':
        device(subject).logicalBlockSize = num(value);
        break;
      case 'partition':
        device(subject).partitionNumber = num(value);
        break;
      case 'dmuuid':
        device(subject).dmUuid = value;
        break;
      case 'wwid':
        device(subject).wwid = value;
        break;
      case 'udev': {
        const [k, v = ''] = [value.slice(0, value.indexOf('=')), value.slice(value.indexOf('=') + 1)];
        if (k === 'ID_SERIAL') device(subject).udevSerial = v;
        if (k === 'ID_WWN') device(subject).udevWwn = v;
        if (k === 'ID_FS_TYPE' && v !== '') device(subject).fsType = v;
        if (k === 'ID_PART_TABLE_TYPE' && v !== '') device(subject).partTable = v;
        break;
      }
      case 'holder':
        device(subject).holders.push(value);
        break;
      case 'part':
        device(subject).partitions.push(value);
        break;
      case 'md':
        md(subject).files.set(rest[0] ?? '', rest.slice(1).join(' '));
        break;
      case 'leg':
        md(subject).legs.set(rest[0] ?? '', rest.slice(1).join(' '));
        break;
      case 'mount':
        snap.mounts.push({ majMin: subject, mountpoint: value });
        break;
      case 'swap':
        snap.swaps.push(subject);
        break;
      case 'lease':
        snap.leases.push({ vm: subject, owner: rest[0] ?? '', until: num(rest[1]) });
        break;
      case 'clock':
        snap.clock = num(subject);
        break;
      case 'mdadm':
        snap.tools ??= { mdadm: null, flock: false, blockdev: false };
        snap.tools.mdadm = subject === '-' ? null : [subject, ...rest].join(' ');
        break;
      case 'flock':
      case 'blockdev':
        snap.tools ??= { mdadm: null, flock: false, blockdev: false };
        snap.tools[key] = subject === 'present';
        break;
      default:
        break;
    }
  }
  if (!ended) throw new Error('the probe output ends before "#end" (cut short?)');
  return snap;
}

/** Runs the probe on a host: one session. */
export async function probeHost(runner: CommandRunner, mode: ProbeMode, paths: readonly string[], timeoutMs?: number): Promise<HostSnapshot> {
  const r = await runner.run(probeArgv(mode, paths), timeoutMs === undefined ? {} : { timeoutMs });
  if (r.exitCode !== 0) throw commandFailed(runner.host, r, 'probe the host');
  try {
    return parseProbe(r.stdout);
  } catch (err) {
    throw new ActionError(`the probe on host ${runner.host} answered something unexpected: ${(err as Error).message}`, { host: runner.host });
  }
}

/** A newer reading of some paths laid over an older one of more: links and devices the newer
 * one read replace the older ones; /proc/mdstat is the newer one's (it is always read whole). */
export function mergeSnapshots(older: HostSnapshot, newer: HostSnapshot): HostSnapshot {
  return {
    ...newer,
    links: new Map([...older.links, ...newer.links]),
    devices: new Map([...older.devices, ...newer.devices]),
    mounts: newer.mode !== 'state' ? newer.mounts : older.mounts,
    swaps: newer.mode !== 'state' ? newer.swaps : older.swaps,
    tools: newer.tools ?? older.tools,
    leases: newer.mode === 'scan' ? newer.leases : older.leases,
    clock: newer.clock ?? older.clock,
    mode: older.mode === 'scan' || newer.mode === 'scan' ? 'scan' : older.mode === 'full' || newer.mode === 'full' ? 'full' : 'state',
  };
}

// ---- pure readings of a snapshot ---------------------------------------------------------------

/** The path with every link followed, as the probe saw it (the path itself when not probed). */
export function resolvedPath(snap: HostSnapshot, path: string): string {
  return snap.links.get(path) ?? path;
}

/** The kernel name a path leads to, when it is a block device that exists. */
export function deviceOf(snap: HostSnapshot, path: string): DeviceFacts | null {
  const m = /^\/dev\/([^/]+)$/.exec(resolvedPath(snap, path));
  if (m === null) return null;
  const d = snap.devices.get(m[1]!);
  return d !== undefined && d.majMin !== '' ? d : null;
}

/** The state of one md array for the engine, from the snapshot (same rules as the poll). */
export function mirrorStateIn(snap: HostSnapshot, mdKernelName: string): MirrorState {
  assertMdKernelName(mdKernelName);
  const files = new Map<string, string[]>();
  const md = snap.devices.get(mdKernelName)?.md;
  const dir = `/sys/block/${mdKernelName}/md`;
  for (const [f, v] of md?.files ?? []) files.set(`${dir}/${f}`, [v]);
  for (const [leg, state] of md?.legs ?? []) files.set(`${dir}/dev-${leg}/state`, [state]);
  return mirrorStateFrom(mdKernelName, snap.mdstat, files, [...(md?.legs.keys() ?? [])]);
}

/** Whether an array is listed active in /proc/mdstat. */
export function arrayActive(snap: HostSnapshot, mdKernelName: string): boolean {
  return findArray(snap.mdstat, mdKernelName)?.active === true;
}

/**
 * What identifies a volume beyond this host: the LUN's serial as udev and device-mapper give it.
 * A multipath map (DM_UUID mpath-<wwid>) and each of its SCSI paths (ID_SERIAL <wwid>) give the
 * same value, so the same LUN seen as /dev/dm-N, /dev/sdX or through another host matches.
 * Null when the device carries none (a dm-linear volume, a loop device).
 */
export function lunIdOf(d: DeviceFacts): string | null {
  const mpath = d.dmUuid === null ? null : /^(?:part\d+-)?mpath-(.+)$/.exec(d.dmUuid)?.[1] ?? null;
  if (mpath !== null) return mpath;
  if (d.udevSerial !== null && d.udevSerial !== '') return d.udevSerial;
  if (d.wwid !== null && d.wwid !== '') return d.wwid;
  return null;
}

/** What uses a device on this host: its holders, mounts and swaps, and those of its partitions,
 * each said of `name` (the path the operator knows it by). `mounts`/`swaps` need a full-mode
 * snapshot. */
export function usersOf(snap: HostSnapshot, d: DeviceFacts, name: string = `/dev/${d.kname}`): string[] {
  const out: string[] = [];
  for (const k of [d.kname, ...d.partitions]) {
    const dev = snap.devices.get(k);
    if (dev === undefined) continue;
    const who = k === d.kname ? name : `${name}'s partition ${k}`;
    for (const h of dev.holders) out.push(`${who} is held by ${h}`);
    for (const m of snap.mounts) if (m.majMin === dev.majMin) out.push(`${who} is mounted on ${m.mountpoint}`);
    if (snap.swaps.includes(`/dev/${k}`)) out.push(`${who} is an active swap`);
  }
  return out;
}

/** Sectors written to OLD around its mirror since a baseline: OLD's writes (and discards) that
 * the array did not make. md writes every array write to OLD, so with nobody else writing the
 * two deltas are equal (checked in the lab, docs/safety.md). Null when it cannot be told (a
 * counter went backwards: the device or the array was recreated, or the host rebooted). */
export function sectorsWrittenAround(
  base: { old: BlockCounters; md: BlockCounters },
  now: { old: BlockCounters; md: BlockCounters },
): number | null {
  const d = (a: number, b: number) => b - a;
  const oldW = d(base.old.writeSectors, now.old.writeSectors) + d(base.old.discardSectors, now.old.discardSectors);
  const mdW = d(base.md.writeSectors, now.md.writeSectors) + d(base.md.discardSectors, now.md.discardSectors);
  if ([now.old.writeSectors - base.old.writeSectors, now.md.writeSectors - base.md.writeSectors, now.old.discardSectors - base.old.discardSectors, now.md.discardSectors - base.md.discardSectors].some((x) => x < 0)) return null;
  return Math.max(0, oldW - mdW);
}
