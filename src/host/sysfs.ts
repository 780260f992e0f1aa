// Parses md's sysfs files (/sys/block/mdN/md/*, Documentation/admin-guide/md.rst) and the
// `grep -H` dump that reads many of them in one command. Pure.

/** sync_action: idle, resync, recover, check, repair, reshape, frozen */
export type SyncAction = string;

export interface SectorProgress {
  /** 512-byte sectors */
  done: number;
  total: number;
}

/** sync_completed: "32896 / 524288" in sectors, or "none" when nothing runs */
export function parseSyncCompleted(text: string): SectorProgress | null {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (m === null) return null;
  return { done: Number(m[1]), total: Number(m[2]) };
}

/** sync_speed: KiB/s over the last few seconds, or "none" */
export function parseSyncSpeed(text: string): number | null {
  const m = /^\s*(\d+)\s*$/.exec(text);
  return m === null ? null : Number(m[1]);
}

export interface SpeedLimit {
  kiBs: number;
  /** "system": the host-wide /proc/sys/dev/raid default; "local": set for this array */
  source: 'system' | 'local';
}

/** sync_speed_min / sync_speed_max: "4000 (system)" or "3000 (local)" */
export function parseSpeedLimit(text: string): SpeedLimit | null {
  const m = /^\s*(\d+)\s*\((system|local)\)\s*$/.exec(text);
  if (m === null) return null;
  return { kiBs: Number(m[1]), source: m[2] as 'system' | 'local' };
}

/** a plain integer file (degraded, mismatch_cnt, raid_disks, component_size) */
export function parseCount(text: string): number | null {
  const m = /^\s*(\d+)\s*$/.exec(text);
  return m === null ? null : Number(m[1]);
}

/** dev-KNAME/state: comma-separated flags, e.g. "in_sync", "spare", "faulty,write_error" */
export function parseDevState(text: string): string[] {
  return text
    .trim()
    .split(',')
    .map((w) => w.trim())
    .filter((w) => w !== '');
}

/** A "name: value" listing, one file per line, as the lab's *.sysfs.txt captures hold. */
export function parseSysfsListing(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 2));
  }
  return out;
}

/**
 * Splits the stdout of `grep -H -e '' -- FILE...` back into each file's lines. Files are
 * matched by their known names (longest first) so a value holding ':' cannot confuse it. A file
 * with no entry in the result did not exist or could not be read.
 */
export function splitGrepDump(stdout: string, files: readonly string[]): Map<string, string[]> {
  const byLength = [...new Set(files)].sort((a, b) => b.length - a.length);
  const out = new Map<string, string[]>();
  const lines = stdout.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const file = byLength.find((f) => line.startsWith(`${f}:`));
    if (file === undefined) continue;
    const list = out.get(file) ?? [];
    list.push(line.slice(file.length + 1));
    out.set(file, list);
  }
  return out;
}
