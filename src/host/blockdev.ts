// Facts about block devices for preflight: exists, size, mounted, held, in an md array, and
// whether mdadm is there. A handful of commands per host, whatever the number of devices.
import { commandFailed } from './failure.js';
import { assertDevicePath, assertKernelName, mdadmVersionArgv, readMdstatArgv, resolvePathsArgv } from './mdadm.js';
import { kernelNameOf } from './md.js';
import { arrayHolding, parseMdstat, type Mdstat } from './mdstat.js';
import type { CommandRunner } from './runner.js';

export const LSBLK_COLUMNS = 'NAME,KNAME,PATH,SIZE,TYPE,MOUNTPOINT,FSTYPE,MAJ:MIN';

/** lsblk in the captured form (s0-lsblk): JSON, sizes in bytes */
export function lsblkArgv(paths: readonly string[]): string[] {
  return ['lsblk', '-J', '-b', '-o', LSBLK_COLUMNS, ...paths.map(assertDevicePath)];
}

export function holdersDir(kname: string): string {
  return `/sys/block/${assertKernelName(kname)}/holders`;
}

/** ls of the holders/ folders (s0-holders-free, s1-holders-old) */
export function listHoldersArgv(knames: readonly string[]): string[] {
  return ['ls', ...knames.map(holdersDir)];
}

export interface LsblkDevice {
  name: string;
  kname: string;
  path: string | null;
  sizeBytes: number | null;
  type: string | null;
  mountpoint: string | null;
  fstype: string | null;
  majMin: string | null;
  children: LsblkDevice[];
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function toDevice(raw: unknown): LsblkDevice | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const o = raw as Record<string, unknown>;
  const name = str(o['name']);
  const kname = str(o['kname']) ?? name;
  if (name === null || kname === null) return null;
  const size = o['size'];
  const sizeBytes = typeof size === 'number' ? size : typeof size === 'string' && /^\d+$/.test(size) ? Number(size) : null;
  const children = Array.isArray(o['children']) ? o['children'].map(toDevice).filter((d): d is LsblkDevice => d !== null) : [];
  return {
    name,
    kname,
    path: str(o['path']),
    sizeBytes,
    type: str(o['type']),
    mountpoint: str(o['mountpoint']),
    fstype: str(o['fstype']),
    majMin: str(o['maj:min']),
    children,
  };
}

/** Parses `lsblk -J` output (util-linux 2.3x). Pure. Empty output gives no devices. */
export function parseLsblkJson(stdout: string): LsblkDevice[] {
  if (stdout.trim() === '') return [];
  const parsed: unknown = JSON.parse(stdout);
  const list = (parsed as { blockdevices?: unknown }).blockdevices;
  return Array.isArray(list) ? list.map(toDevice).filter((d): d is LsblkDevice => d !== null) : [];
}

/** Parses `ls DIR...`: with one folder, one entry per line; with several, "DIR:" headings.
 * Folders that could not be listed are absent from the result. Pure. */
export function parseLsListing(stdout: string, dirs: readonly string[], stderr = ''): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const failed = new Set(dirs.filter((d) => stderr.includes(`'${d}'`) || stderr.includes(`${d}:`)));
  const listed = dirs.filter((d) => !failed.has(d));
  if (listed.length === 1 && dirs.length === 1) {
    out.set(listed[0]!, stdout.split('\n').filter((l) => l !== ''));
    return out;
  }
  let current: string | null = null;
  for (const line of stdout.split('\n')) {
    if (line.endsWith(':') && dirs.includes(line.slice(0, -1))) {
      current = line.slice(0, -1);
      out.set(current, []);
    } else if (line !== '' && current !== null) out.get(current)!.push(line);
  }
  return out;
}

/** `mdadm --version` prints on stderr: "mdadm - v4.2 - 2021-12-30 - Debian 4.2-5" */
export function parseMdadmVersion(text: string): string | null {
  const m = /mdadm - v(\S+)/.exec(text);
  return m === null ? null : m[1]!;
}

export interface BlockDeviceFacts {
  /** the path as asked */
  path: string;
  /** the path with every link followed (/dev/dm-1) */
  resolved: string;
  /** a block device lsblk knows */
  exists: boolean;
  kname: string | null;
  sizeBytes: number | null;
  /** lsblk TYPE: disk, part, dm, lvm, raid1, loop ... */
  type: string | null;
  mountpoint: string | null;
  fstype: string | null;
  majMin: string | null;
  /** entries of /sys/block/KNAME/holders (md127, dm-5); null when unreadable */
  holders: string[] | null;
  /** the md array listing it as a member in /proc/mdstat, or null */
  mdArray: string | null;
}

export interface HostBlockFacts {
  devices: Map<string, BlockDeviceFacts>;
  mdadm: { present: boolean; version: string | null; detail: string };
  mdstat: Mdstat;
}

/** Reads everything preflight needs about these paths on one host. */
export async function gatherBlockDeviceFacts(runner: CommandRunner, paths: readonly string[]): Promise<HostBlockFacts> {
  const unique = [...new Set(paths)];
  const resolvedRun = await runner.run(resolvePathsArgv(unique));
  if (resolvedRun.exitCode !== 0) throw commandFailed(runner.host, resolvedRun, 'resolve device paths');
  const resolved = resolvedRun.stdout.split('\n');

  // lsblk exits 32 (none found) or 64 (some not found) and still prints the ones it found
  const lsblk = await runner.run(lsblkArgv(unique));
  if (![0, 32, 64].includes(lsblk.exitCode)) throw commandFailed(runner.host, lsblk, 'list block devices');
  const listed = parseLsblkJson(lsblk.stdout);

  const mdstatRun = await runner.run(readMdstatArgv());
  // no /proc/mdstat: the md driver is not loaded, so no device is in an array
  const mdstat = parseMdstat(mdstatRun.exitCode === 0 ? mdstatRun.stdout : '');

  const knames = unique.map((p, i) => {
    const k = kernelNameOf(resolved[i] ?? '');
    return listed.find((d) => d.kname === k || (d.path !== null && d.path === p)) ?? null;
  });
  const found = [...new Set(knames.filter((d): d is LsblkDevice => d !== null).map((d) => d.kname))];
  let holders = new Map<string, string[]>();
  if (found.length > 0) {
    const dirs = found.map(holdersDir);
    const ls = await runner.run(listHoldersArgv(found));
    if (ls.exitCode !== 0 && ls.exitCode !== 2) throw commandFailed(runner.host, ls, 'list holders');
    holders = parseLsListing(ls.stdout, dirs, ls.stderr);
  }

  let mdadm: HostBlockFacts['mdadm'];
  try {
    const v = await runner.run(mdadmVersionArgv());
    const text = `${v.stderr}${v.stdout}`.trim();
    mdadm = { present: v.exitCode === 0, version: v.exitCode === 0 ? parseMdadmVersion(text) : null, detail: text };
  } catch (err) {
    mdadm = { present: false, version: null, detail: err instanceof Error ? err.message : String(err) };
  }

  const devices = new Map<string, BlockDeviceFacts>();
  unique.forEach((path, i) => {
    const d = knames[i] ?? null;
    devices.set(path, {
      path,
      resolved: resolved[i] ?? path,
      exists: d !== null,
      kname: d?.kname ?? null,
      sizeBytes: d?.sizeBytes ?? null,
      type: d?.type ?? null,
      mountpoint: d?.mountpoint ?? null,
      fstype: d?.fstype ?? null,
      majMin: d?.majMin ?? null,
      holders: d === null ? null : (holders.get(holdersDir(d.kname)) ?? null),
      mdArray: d === null ? null : (arrayHolding(mdstat, d.kname)?.kernelName ?? null),
    });
  });
  return { devices, mdadm, mdstat };
}

export const VolumeProblemCode = {
  missing: 'missing',
  tooSmall: 'too-small',
  mounted: 'mounted',
  held: 'held',
  inArray: 'in-array',
  sameAsOld: 'same-as-old',
  unknownHolders: 'unknown-holders',
} as const;
export type VolumeProblemCode = (typeof VolumeProblemCode)[keyof typeof VolumeProblemCode];

export interface VolumeProblem {
  code: VolumeProblemCode;
  message: string;
}

/** Pure: why NEW cannot receive OLD's copy (I5), or [] when it can. */
export function newVolumeProblems(newVol: BlockDeviceFacts, oldVol: BlockDeviceFacts): VolumeProblem[] {
  const out: VolumeProblem[] = [];
  if (!newVol.exists) {
    return [{ code: 'missing', message: `${newVol.path} is not a block device on this host` }];
  }
  if (oldVol.exists && oldVol.kname !== null && oldVol.kname === newVol.kname) {
    out.push({ code: 'same-as-old', message: `${newVol.path} is the old volume itself (${newVol.kname})` });
  }
  if (oldVol.sizeBytes !== null && newVol.sizeBytes !== null && newVol.sizeBytes < oldVol.sizeBytes) {
    out.push({
      code: 'too-small',
      message: `${newVol.path} has ${newVol.sizeBytes} bytes, fewer than the ${oldVol.sizeBytes} of ${oldVol.path}`,
    });
  }
  if (newVol.mountpoint !== null) out.push({ code: 'mounted', message: `${newVol.path} is mounted on ${newVol.mountpoint}` });
  if (newVol.holders === null) {
    out.push({ code: 'unknown-holders', message: `the holders of ${newVol.path} could not be read` });
  } else if (newVol.holders.length > 0) {
    out.push({ code: 'held', message: `${newVol.path} is held by ${newVol.holders.join(', ')}` });
  }
  if (newVol.mdArray !== null) out.push({ code: 'in-array', message: `${newVol.path} is a member of ${newVol.mdArray}` });
  return out;
}
