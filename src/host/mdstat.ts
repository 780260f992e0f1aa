// Parses /proc/mdstat as the kernel's md driver prints it (drivers/md/md.c, md_seq_show and
// status_resync). Pure. Tolerates collapsed whitespace (the seed article's copies).

export interface MdstatMember {
  /** kernel name of the component device (dm-0, sdb1) */
  kname: string;
  /** md's device number in brackets: the "Number" column of mdadm --detail, NOT the slot
   * (an added leg shows [2] while it sits in slot 1) */
  number: number;
  /** (F): the leg failed */
  faulty: boolean;
  /** (S): a spare (not in a slot) */
  spare: boolean;
  /** (W): write-mostly */
  writeMostly: boolean;
  /** (R): a replacement */
  replacement: boolean;
}

export const ResyncAction = {
  recovery: 'recovery',
  resync: 'resync',
  check: 'check',
  reshape: 'reshape',
} as const;
export type ResyncAction = (typeof ResyncAction)[keyof typeof ResyncAction];

export interface MdstatProgress {
  action: ResyncAction;
  /** the kernel's rounded per-mille, as a percent with one decimal */
  percent: number;
  /** KiB done and in all (the "(done/total)" pair) */
  doneKiB: number;
  totalKiB: number;
  /** estimated minutes left, as printed */
  finishMinutes: number;
  /** KiB/s as printed ("speed=5482K/sec") */
  speedKiBs: number;
}

export interface MdstatArray {
  /** md127 */
  kernelName: string;
  active: boolean;
  /** "read-only" or "auto-read-only" when the header says so */
  readOnly: string | null;
  /** raid1, or null for an inactive array */
  level: string | null;
  /** in the order the kernel lists them (newest first) */
  members: MdstatMember[];
  /** array size in KiB (the "N blocks" field) */
  blocks: number | null;
  /** "non-persistent" for --build arrays, "1.2" ... for others, null when not shown */
  superblock: string | null;
  /** [raidDisks/workingDisks] */
  raidDisks: number | null;
  workingDisks: number | null;
  /** one flag per slot: [U_] gives [true, false] */
  slotsUp: boolean[] | null;
  progress: MdstatProgress | null;
  /** resync=DELAYED / PENDING: queued behind another array on the same disks */
  pending: string | null;
}

export interface Mdstat {
  personalities: string[];
  arrays: MdstatArray[];
}

const HEADER = /^(md[A-Za-z0-9_]*)\s*:\s*(active|inactive)\b\s*(.*)$/;
const MEMBER = /^([^\s[\]()]+)\[(\d+)\]((?:\([A-Z]\))*)$/;
const BLOCKS = /^(\d+)\s+blocks\b(.*)$/;
const PROGRESS =
  /\b(recovery|resync|check|reshape)\s*=\s*(\d+(?:\.\d+)?)%\s*\((\d+)\/(\d+)\)\s*finish\s*=\s*(\d+(?:\.\d+)?)min\s*speed\s*=\s*(\d+)K\/sec/;
const PENDING = /\b(?:resync|recovery|check|reshape)\s*=\s*(DELAYED|PENDING|REMOTE)\b/;

function parseMember(word: string): MdstatMember | null {
  const m = MEMBER.exec(word);
  if (m === null) return null;
  const flags = m[3] ?? '';
  return {
    kname: m[1]!,
    number: Number(m[2]),
    faulty: flags.includes('(F)'),
    spare: flags.includes('(S)'),
    writeMostly: flags.includes('(W)'),
    replacement: flags.includes('(R)'),
  };
}

function parseHeader(kernelName: string, state: string, rest: string): MdstatArray {
  const words = rest.split(/\s+/).filter((w) => w !== '');
  let readOnly: string | null = null;
  let level: string | null = null;
  const members: MdstatMember[] = [];
  for (const w of words) {
    const ro = /^\((read-only|auto-read-only)\)$/.exec(w);
    if (ro !== null) readOnly = ro[1]!;
    else {
      const member = parseMember(w);
      if (member !== null) members.push(member);
      else if (level === null && state === 'active') level = w;
    }
  }
  return {
    kernelName,
    active: state === 'active',
    readOnly,
    level,
    members,
    blocks: null,
    superblock: null,
    raidDisks: null,
    workingDisks: null,
    slotsUp: null,
    progress: null,
    pending: null,
  };
}

function applyBlocksLine(a: MdstatArray, blocks: string, rest: string): void {
  a.blocks = Number(blocks);
  const sb = /\bsuper\s+(\S+)/.exec(rest);
  if (sb !== null) a.superblock = sb[1]!;
  const counts = /\[(\d+)\/(\d+)\]/.exec(rest);
  if (counts !== null) {
    a.raidDisks = Number(counts[1]);
    a.workingDisks = Number(counts[2]);
  }
  const slots = /\[([U_]+)\]/.exec(rest);
  if (slots !== null) a.slotsUp = [...slots[1]!].map((c) => c === 'U');
}

export function parseMdstat(text: string): Mdstat {
  const personalities: string[] = [];
  const arrays: MdstatArray[] = [];
  let current: MdstatArray | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('Personalities')) {
      for (const m of line.matchAll(/\[([^\]]+)\]/g)) personalities.push(m[1]!);
      continue;
    }
    if (line.startsWith('unused devices')) {
      current = null;
      continue;
    }
    const header = HEADER.exec(line);
    if (header !== null) {
      current = parseHeader(header[1]!, header[2]!, header[3] ?? '');
      arrays.push(current);
      continue;
    }
    if (current === null) continue;
    const blocks = BLOCKS.exec(line);
    if (blocks !== null) {
      applyBlocksLine(current, blocks[1]!, blocks[2] ?? '');
      continue;
    }
    const p = PROGRESS.exec(line);
    if (p !== null) {
      current.progress = {
        action: p[1] as ResyncAction,
        percent: Number(p[2]),
        doneKiB: Number(p[3]),
        totalKiB: Number(p[4]),
        finishMinutes: Number(p[5]),
        speedKiBs: Number(p[6]),
      };
      continue;
    }
    const pending = PENDING.exec(line);
    if (pending !== null) current.pending = pending[1]!;
    // bitmap lines and anything newer are not needed here
  }
  return { personalities, arrays };
}

export function findArray(mdstat: Mdstat, kernelName: string): MdstatArray | undefined {
  return mdstat.arrays.find((a) => a.kernelName === kernelName);
}

/** The array (if any) that holds this component device (by kernel name). */
export function arrayHolding(mdstat: Mdstat, componentKname: string): MdstatArray | undefined {
  return mdstat.arrays.find((a) => a.members.some((m) => m.kname === componentKname));
}
