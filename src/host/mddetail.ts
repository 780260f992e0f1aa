// Parses `mdadm --detail` (mdadm 4.x, Detail.c). Pure. Splits on whitespace, so the seed
// article's collapsed copies parse too.

export interface MdDetailDevice {
  /** md's device number; null for a "removed" (empty) slot */
  number: number | null;
  major: number;
  minor: number;
  /** the slot; null when not in a slot ("-": faulty or spare) */
  raidDevice: number | null;
  /** e.g. ["active", "sync"], ["spare", "rebuilding"], ["faulty"], ["removed"] */
  state: string[];
  /** /dev/dm-0; null for an empty slot */
  path: string | null;
}

export interface MdDetailStatus {
  /** Rebuild, Check, Resync, Reshape */
  kind: string;
  percent: number;
}

export interface MdDetail {
  /** the device as named on the first line (/dev/md/ss-vm1-vda) */
  device: string;
  /** all "Key : value" fields as printed, values trimmed */
  fields: Record<string, string>;
  raidLevel: string | null;
  /** KiB */
  arraySize: number | null;
  raidDevices: number | null;
  totalDevices: number | null;
  /** the State line split on commas: ["clean", "degraded", "recovering"] */
  state: string[];
  activeDevices: number | null;
  workingDevices: number | null;
  failedDevices: number | null;
  spareDevices: number | null;
  status: MdDetailStatus | null;
  devices: MdDetailDevice[];
}

function num(v: string | undefined): number | null {
  if (v === undefined) return null;
  const m = /^(\d+)/.exec(v);
  return m === null ? null : Number(m[1]);
}

function parseDeviceRow(words: string[]): MdDetailDevice | null {
  if (words.length < 5) return null;
  const [n, major, minor, raid, ...rest] = words;
  if (!/^(\d+|-)$/.test(n!) || !/^\d+$/.test(major!) || !/^\d+$/.test(minor!) || !/^(\d+|-)$/.test(raid!)) return null;
  const last = rest[rest.length - 1];
  const path = last !== undefined && last.startsWith('/') ? last : null;
  return {
    number: n === '-' ? null : Number(n),
    major: Number(major),
    minor: Number(minor),
    raidDevice: raid === '-' ? null : Number(raid),
    state: path === null ? rest : rest.slice(0, -1),
    path,
  };
}

export function parseMdDetail(text: string): MdDetail {
  const lines = text.split('\n');
  let device = '';
  const fields: Record<string, string> = {};
  const devices: MdDetailDevice[] = [];
  let inTable = false;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    if (device === '' && /^\/\S+:$/.test(line)) {
      device = line.slice(0, -1);
      continue;
    }
    const words = line.split(/\s+/);
    if (words[0] === 'Number' && words[1] === 'Major') {
      inTable = true;
      continue;
    }
    if (inTable) {
      const row = parseDeviceRow(words);
      if (row !== null) devices.push(row);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z ]*?)\s*:\s*(.*)$/.exec(line);
    if (kv !== null) fields[kv[1]!] = kv[2]!.trim();
  }
  let status: MdDetailStatus | null = null;
  for (const [key, value] of Object.entries(fields)) {
    const s = /^(\w+) Status$/.exec(key);
    const pct = /^(\d+)%/.exec(value);
    if (s !== null && pct !== null) status = { kind: s[1]!, percent: Number(pct[1]) };
  }
  const state = (fields['State'] ?? '')
    .split(',')
    .map((w) => w.trim())
    .filter((w) => w !== '');
  return {
    device,
    fields,
    raidLevel: fields['Raid Level'] ?? null,
    arraySize: num(fields['Array Size']),
    raidDevices: num(fields['Raid Devices']),
    totalDevices: num(fields['Total Devices']),
    state,
    activeDevices: num(fields['Active Devices']),
    workingDevices: num(fields['Working Devices']),
    failedDevices: num(fields['Failed Devices']),
    spareDevices: num(fields['Spare Devices']),
    status,
    devices,
  };
}
