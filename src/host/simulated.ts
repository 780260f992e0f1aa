// A simulated hypervisor shell: answers exactly the commands of the md and block-device layers
// with outputs in the byte format of the lab captures (fixtures/md), on a virtual clock.
// Unknown commands exit 127, so nothing silently succeeds.
import { UnreachableError } from '../util/errors.js';
import type { MdVerb } from './md-act.js';
import type { CommandResult, CommandRunner, RunOptions } from './runner.js';
import { LEASE_SCRIPT, MD_ACT_SCRIPT, PROBE_SCRIPT } from './scripts.js';

/** How fast a simulated disk copies when nothing caps it, KiB/s (about 195 MiB/s). */
export const DEFAULT_DISK_SPEED_KIBS = 200_000;

export interface SimVolumeSpec {
  /** the path operators use: /dev/mapper/old-vm1 */
  path: string;
  /** its kernel name: dm-0 */
  kname: string;
  sizeBytes: number;
  /** "252:0"; default 252:N for dm-N, else 8:N */
  majMin?: string;
  /** lsblk TYPE (default "dm") */
  type?: string;
  /** queue/logical_block_size (default 512) */
  logicalBlockSize?: number;
  /** udev's ID_SERIAL: the LUN's identity, the same on every host that sees it */
  serial?: string;
}

export interface SimulatedHostOptions {
  host?: string;
  /** virtual clock, milliseconds */
  now: () => number;
  volumes?: SimVolumeSpec[];
  /** how fast the disks can copy, KiB/s (default 200000) */
  diskSpeedKiBs?: number;
  /** /proc/sys/dev/raid/speed_limit_max (default 200000) */
  systemSpeedMaxKiBs?: number;
  /** /proc/sys/dev/raid/speed_limit_min (default 1000) */
  systemSpeedMinKiBs?: number;
  /** total resync bandwidth shared by all arrays of the host, KiB/s (default: unlimited) */
  hostBandwidthKiBs?: number;
  /** false: mdadm is not installed */
  mdadmInstalled?: boolean;
  /** udev runs (a production host; the default): it removes /dev/md/NAME when its array stops.
   * false reproduces the captures taken without udev (fixtures/md), where names dangle. */
  udev?: boolean;
  /** when udev's removal of /dev/md/NAME lands after a stop: 'next-session' (the default, the
   * harder case: a probe in the stopping session still sees the name dangle) or 'at-once' (what
   * the stock lab host showed in its captures of fixtures/lab-captures). Both happen: udev races
   * the script. */
  udevRemoval?: 'next-session' | 'at-once';
  /** what each command (one session) costs on the engine's clock, ms: a far or loaded host */
  commandCostMs?: number;
  /** sshd's MaxSessions: a session more at once is refused, as ssh reports it (exit 255); only
   * sessions that cost time can overlap (default 10, sshd's own default) */
  maxSessions?: number;
  /** sleeps on the engine's clock (required with commandCostMs) */
  sleep?: (ms: number) => Promise<void>;
}

/** /sys/block/X/stat counters the simulated kernel keeps (what the I3 check reads). */
interface Counters {
  writeIos: number;
  writeSectors: number;
  discardSectors: number;
}

const zeroCounters = (): Counters => ({ writeIos: 0, writeSectors: 0, discardSectors: 0 });

interface Volume {
  spec: Required<SimVolumeSpec>;
  mountpoint: string | null;
  /** an active swap (listed in /proc/swaps as /dev/KNAME) */
  swap: boolean;
  /** what udev's blkid found on it (ID_FS_TYPE, ID_PART_TABLE_TYPE), shown by the scan probe */
  fsType: string | null;
  partTable: string | null;
  /** opened exclusively by something else (O_EXCL fails with EBUSY) */
  inUse: boolean;
  /** holders besides md arrays (dm devices, LVM) */
  extraHolders: Set<string>;
  counters: Counters;
}

type LegState = 'in_sync' | 'spare' | 'faulty';

interface Leg {
  kname: string;
  number: number;
  /** slot in the array, null for a faulty leg or a true spare */
  slot: number | null;
  state: LegState;
  writeError: boolean;
  /** the last in-sync leg hit a write error: md keeps it (in_sync,write_error,want_replacement) */
  failing?: boolean;
}

interface SimArray {
  kname: string;
  raidDisks: number;
  sizeKiB: number;
  createdAtMs: number;
  /** newest first, as the kernel lists them */
  legs: Leg[];
  /** KiB copied onto the rebuilding leg, null when no recovery runs */
  recoveredKiB: number | null;
  /** last speed, KiB/s */
  speedKiBs: number;
  localSpeedMax: number | null;
  openCount: number;
  /** array_state read-auto: built and never written; mdadm --add or a write makes it clean */
  autoReadOnly: boolean;
  /** its only source failed: md starts no recovery onto a spare any more */
  recoveryBlocked?: boolean;
  /** its recovery makes no progress (a hung SAN) */
  frozen?: boolean;
  counters: Counters;
}

const MDADM_VERSION = 'mdadm - v4.2 - 2021-12-30 - Debian 4.2-5\n';
const ENOENT = 'No such file or directory';

function out(stdout = '', stderr = '', exitCode = 0): Omit<CommandResult, 'argv' | 'durationMs'> {
  return { stdout, stderr, exitCode };
}

/** mdadm's human_size (util.c): " (256.00 MiB 268.44 MB)" */
export function mdadmHumanSize(bytes: number): string {
  const b = BigInt(bytes);
  const two = (n: bigint): string => `${n / 100n}.${String(n % 100n).padStart(2, '0')}`;
  if (bytes < 5000 * 1024) return '';
  if (b < 2n * 1024n ** 3n) {
    return ` (${two((b * 200n / (1n << 20n) + 1n) / 2n)} MiB ${two((b / (1000000n / 200n) + 1n) / 2n)} MB)`;
  }
  if (b < 2n * 1024n ** 4n) {
    return ` (${two((b * 200n / (1n << 30n) + 1n) / 2n)} GiB ${two((b / (1000000000n / 200n) + 1n) / 2n)} GB)`;
  }
  return ` (${two((b * 200n / (1n << 40n) + 1n) / 2n)} TiB ${two((b / (1000000000000n / 200n) + 1n) / 2n)} TB)`;
}

/** The kernel's per-mille of a resync (md.c status_resync, 64-bit build). */
export function resyncPerMille(doneSectors: number, totalSectors: number): number {
  const scale = 10;
  return Math.floor((Math.floor(doneSectors / 2 ** scale) * 1000) / (Math.floor(totalSectors / 2 ** scale) + 1));
}

/** The progress line of /proc/mdstat, byte for byte as md.c prints it (dt of one second). */
export function mdstatProgressLine(action: string, doneKiB: number, totalKiB: number, speedKiBs: number): string {
  const resync = doneKiB * 2;
  const max = totalKiB * 2;
  const perMille = resyncPerMille(resync, max);
  const x = Math.floor(perMille / 50);
  const bar = `[${'='.repeat(x)}>${'.'.repeat(20 - x)}] `;
  const db = Math.max(0, Math.floor(speedKiBs * 2));
  let rt = Math.floor((max - resync) / (Math.floor(db / 32) + 1));
  rt = Math.floor(rt / 32);
  const pct = `${String(Math.floor(perMille / 10)).padStart(3)}.${perMille % 10}%`;
  return `      ${bar} ${action} =${pct} (${doneKiB}/${totalKiB}) finish=${Math.floor(rt / 60)}.${Math.floor((rt % 60) / 6)}min speed=${Math.floor(db / 2)}K/sec`;
}

/** Byte order, as the shell sorts a glob with LC_ALL=C. */
function byteOrder(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return Buffer.compare(x, y);
}

function ctime(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** lsblk's JSON printer (util-linux 2.38): 3-space indents, "},{" between siblings. */
function lsblkJson(devs: Record<string, unknown>[][], depth = 1): string {
  const pad = (n: number): string => '   '.repeat(n);
  const render = (list: Record<string, unknown>[][], d: number): string =>
    list
      .map((fields) => {
        const lines = fields.map((f) => {
          const [k, v] = Object.entries(f)[0]!;
          if (k === 'children') {
            return `${pad(d + 2)}"children": [\n${pad(d + 3)}{\n${render(v as Record<string, unknown>[][], d + 3)}\n${pad(d + 3)}}\n${pad(d + 2)}]`;
          }
          return `${pad(d + 2)}"${k}": ${JSON.stringify(v)}`;
        });
        return lines.join(',\n');
      })
      .join(`\n${pad(d + 1)}},{\n`);
  return `{\n${pad(depth)}"blockdevices": [\n${pad(depth + 1)}{\n${render(devs, depth)}\n${pad(depth + 1)}}\n${pad(depth)}]\n}\n`;
}

export class SimulatedHost implements CommandRunner {
  readonly kind = 'simulated' as const;
  readonly host: string;
  /** every command answered, in order */
  readonly history: CommandResult[] = [];
  private readonly now: () => number;
  private readonly volumes = new Map<string, Volume>();
  private readonly arrays = new Map<string, SimArray>();
  /** /dev/md/NAME -> /dev/mdN; mdadm leaves them behind on stop and failed builds */
  private readonly links = new Map<string, string>();
  /** /run/lock/sanshift/vm-*.lease: owner word and expiry on the host's clock (seconds) */
  private readonly leases = new Map<string, { owner: string; until: number }>();
  /** md devices whose /dev/md/NAME udev removes before the next session */
  private udevRemovals: string[] = [];
  /** md devices in the kernel's all_mddevs order (newest first); kept after stop until reboot */
  private mddevOrder: string[] = [];
  private lastSettleMs: number;
  private readonly diskSpeedKiBs: number;
  private systemSpeedMaxKiBs: number;
  private readonly systemSpeedMinKiBs: number;
  private readonly hostBandwidthKiBs: number | null;
  private readonly mdadmInstalled: boolean;
  private readonly udev: boolean;
  private readonly udevAtOnce: boolean;
  private readonly commandCostMs: number;
  private readonly maxSessions: number;
  private sessions = 0;
  /** the most sessions open at once so far */
  peakSessions = 0;
  private readonly sleep: ((ms: number) => Promise<void>) | undefined;
  /** commands answered, by kind (what a benchmark counts) */
  readonly counts = { commands: 0, probes: 0, mdActions: 0 };

  constructor(options: SimulatedHostOptions) {
    this.host = options.host ?? 'sim';
    this.now = options.now;
    this.lastSettleMs = options.now();
    this.diskSpeedKiBs = options.diskSpeedKiBs ?? DEFAULT_DISK_SPEED_KIBS;
    this.systemSpeedMaxKiBs = options.systemSpeedMaxKiBs ?? 200000;
    this.systemSpeedMinKiBs = options.systemSpeedMinKiBs ?? 1000;
    this.hostBandwidthKiBs = options.hostBandwidthKiBs ?? null;
    this.mdadmInstalled = options.mdadmInstalled ?? true;
    this.udev = options.udev ?? true;
    this.udevAtOnce = options.udevRemoval === 'at-once';
    this.commandCostMs = options.commandCostMs ?? 0;
    this.maxSessions = options.maxSessions ?? 10;
    this.sleep = options.sleep;
    if (this.commandCostMs > 0 && this.sleep === undefined) throw new Error('simulated host: commandCostMs needs a sleep on the engine clock');
    for (const v of options.volumes ?? []) this.addVolume(v);
  }

  // ---- setup and fault injection -------------------------------------------------------

  addVolume(spec: SimVolumeSpec): void {
    const n = /^dm-(\d+)$/.exec(spec.kname)?.[1];
    const majMin = spec.majMin ?? (n !== undefined ? `252:${n}` : `8:${this.volumes.size * 16}`);
    this.volumes.set(spec.path, {
      spec: { ...spec, majMin, type: spec.type ?? 'dm', logicalBlockSize: spec.logicalBlockSize ?? 512, serial: spec.serial ?? '' },
      mountpoint: null,
      swap: false,
      fsType: null,
      partTable: null,
      inUse: false,
      extraHolders: new Set(),
      counters: zeroCounters(),
    });
  }

  /** The volumes this host has, as they were added (for saving a rehearsal's state). */
  volumeSpecs(): SimVolumeSpec[] {
    return [...this.volumes.values()].map(({ spec: { serial, logicalBlockSize, ...rest } }) => ({ ...rest, ...(serial === '' ? {} : { serial }), ...(logicalBlockSize === 512 ? {} : { logicalBlockSize }) }));
  }

  /**
   * Something writes `sectors` to a path: a guest through its mirror (md writes every leg that
   * is in the array and not faulty, and counts them on the array), or anyone straight to a
   * volume (around any mirror over it: the I3 hazard). Discards count apart, as the kernel does.
   */
  write(path: string, sectors: number, kind: 'write' | 'discard' = 'write'): void {
    this.settle();
    const add = (c: Counters) => {
      if (kind === 'discard') c.discardSectors += sectors;
      else {
        c.writeSectors += sectors;
        c.writeIos += 1;
      }
    };
    const a = this.activeArray(path);
    if (a !== undefined) {
      a.autoReadOnly = false;
      add(a.counters);
      for (const leg of a.legs) if (leg.state !== 'faulty') add(this.volumeByKname(leg.kname)!.counters);
      return;
    }
    add(this.volume(path).counters);
  }

  /** A leg leaves the array without failing first (`mdadm --remove` of a spare, or udev
   * dropping a LUN that vanished): no (F), the array just has one leg fewer. */
  removeLeg(mirror: string, which: 'old' | 'new'): void {
    this.settle();
    const a = this.arrays.get(this.mdKname(mirror) ?? '');
    if (a === undefined) throw new Error(`simulated host ${this.host}: no active array ${mirror}`);
    const leg = which === 'old' ? a.legs.find((l) => l.number === 0) : a.legs.find((l) => l.number !== 0);
    if (leg === undefined) throw new Error(`simulated host ${this.host}: ${mirror} has no ${which} leg`);
    if (leg.state === 'spare' && leg.slot !== null) a.recoveredKiB = null;
    a.legs = a.legs.filter((l) => l !== leg);
  }

  /** Something opened the volume exclusively (a mount, LVM, another md): mdadm gets EBUSY. */
  markInUse(path: string, inUse = true): void {
    this.volume(path).inUse = inUse;
  }

  markMounted(path: string, mountpoint: string | null): void {
    this.volume(path).mountpoint = mountpoint;
  }

  /** `swapon` of the volume (or `swapoff` with false). */
  markSwap(path: string, on = true): void {
    this.volume(path).swap = on;
  }

  /** A holder other than md (dm-5, an LVM LV) appears in /sys/block/KNAME/holders. */
  setHolder(path: string, holder: string, present = true): void {
    const v = this.volume(path);
    if (present) v.extraHolders.add(holder);
    else v.extraHolders.delete(holder);
  }

  /** How many openers the md device has (a running domain): > 0 makes --stop fail with EBUSY. */
  setOpenCount(mirror: string, n: number): void {
    const a = this.arrays.get(this.mdKname(mirror) ?? '');
    if (a === undefined) throw new Error(`simulated host ${this.host}: no active array ${mirror}`);
    a.openCount = n;
  }

  /** Cap this host's speed_limit_max (all arrays without a local cap follow it). */
  setSystemSpeedMax(kiBs: number): void {
    this.settle();
    this.systemSpeedMaxKiBs = kiBs;
  }

  /** A leg starts failing writes (a dm `error` table loaded under it): md marks it faulty. */
  failLeg(mirror: string, which: 'old' | 'new' | string): void {
    this.settle();
    const a = this.arrays.get(this.mdKname(mirror) ?? '');
    if (a === undefined) throw new Error(`simulated host ${this.host}: no active array ${mirror}`);
    const leg =
      which === 'old'
        ? a.legs.find((l) => l.number === 0) ?? a.legs[a.legs.length - 1]
        : which === 'new'
          ? a.legs.find((l) => l.number !== 0) ?? a.legs[0]
          : a.legs.find((l) => l.kname === which || l.kname === this.volumes.get(which)?.spec.kname);
    if (leg === undefined) throw new Error(`simulated host ${this.host}: ${mirror} has no leg ${which}`);
    if (leg.state === 'in_sync' && a.legs.filter((l) => l.state === 'in_sync').length === 1) {
      // md never fails the last in-sync leg (lab, LAB-NOTES "When OLD fails"): the write fails,
      // the leg stays in_sync,write_error,want_replacement, the recovery stops, and the leg it
      // was copying onto drops back to a spare, [U_], idle, degraded 1
      leg.failing = true;
      a.recoveredKiB = null;
      a.recoveryBlocked = true;
      for (const l of a.legs) if (l.state === 'spare') l.slot = null;
      return;
    }
    this.markFaulty(a, leg, true);
  }

  /** The copy stops making progress, as on a SAN that hangs (the recovery neither ends nor fails). */
  freezeRecovery(mirror: string): void {
    this.settle();
    const a = this.arrays.get(this.mdKname(mirror) ?? '');
    if (a === undefined) throw new Error(`simulated host ${this.host}: no active array ${mirror}`);
    a.frozen = true;
  }

  /** Changes what udev and sysfs say of a volume: its LUN serial, its logical sector size, the
   * file system or partition table udev's blkid found on it (null: none). */
  setVolumeFacts(path: string, facts: { serial?: string; logicalBlockSize?: number; fsType?: string | null; partTable?: string | null }): void {
    const v = this.volume(path);
    if (facts.serial !== undefined) v.spec.serial = facts.serial;
    if (facts.logicalBlockSize !== undefined) v.spec.logicalBlockSize = facts.logicalBlockSize;
    if (facts.fsType !== undefined) v.fsType = facts.fsType;
    if (facts.partTable !== undefined) v.partTable = facts.partTable;
  }

  /** The host restarts: every md array, link and opener is gone. */
  reboot(): void {
    this.arrays.clear();
    this.links.clear();
    this.mddevOrder = [];
    for (const v of this.volumes.values()) v.inUse = false;
    this.lastSettleMs = this.now();
  }

  /** Every leg of the array in sync and nothing copying (what `mdadm --wait` waits for). */
  inSync(mirror: string): boolean {
    this.settle();
    const a = this.arrays.get(this.mdKname(mirror) ?? '');
    return a !== undefined && a.recoveredKiB === null && this.upSlots(a) === a.raidDisks;
  }

  /** The kernel name behind a mirror path or name, for tests; null if none is active. */
  activeArrayOf(mirror: string): string | null {
    const k = this.mdKname(mirror);
    return k !== null && this.arrays.has(k) ? k : null;
  }

  // ---- the CommandRunner port ----------------------------------------------------------

  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    // the session's cost is paid before the command runs on the host, as over ssh
    if (this.commandCostMs > 0) {
      if (this.sessions >= this.maxSessions) {
        throw new UnreachableError(this.host, this.host, 'mux_client_request_session: session request failed: Session open refused by peer (sshd MaxSessions)');
      }
      this.sessions++;
      this.peakSessions = Math.max(this.peakSessions, this.sessions);
      try {
        await this.sleep!(this.commandCostMs);
      } finally {
        this.sessions--;
      }
    }
    for (const target of this.udevRemovals.splice(0)) this.removeLinksTo(target);
    this.settle();
    this.counts.commands++;
    const r = this.answer([...argv], options.input);
    const result: CommandResult = { argv: [...argv], ...r, durationMs: 0 };
    this.history.push(result);
    return result;
  }

  async close(): Promise<void> {}

  private answer(argv: string[], input: string | undefined): Omit<CommandResult, 'argv' | 'durationMs'> {
    const [cmd, ...args] = argv;
    switch (cmd) {
      case 'mdadm':
        if (!this.mdadmInstalled) return out('', 'bash: line 1: mdadm: command not found\n', 127);
        return this.mdadm(args) ?? this.unknown(argv);
      case 'cat':
        return this.cat(args) ?? this.unknown(argv);
      case 'grep':
        return this.grep(args) ?? this.unknown(argv);
      case 'readlink':
        return this.readlink(args) ?? this.unknown(argv);
      case 'tee':
        return this.tee(args, input) ?? this.unknown(argv);
      case 'ls':
        return this.ls(args) ?? this.unknown(argv);
      case 'lsblk':
        return this.lsblk(args) ?? this.unknown(argv);
      case 'blockdev':
        return this.blockdev(args) ?? this.unknown(argv);
      case 'sh':
        return this.script(args) ?? this.unknown(argv);
      default:
        return this.unknown(argv);
    }
  }

  private unknown(argv: string[]): Omit<CommandResult, 'argv' | 'durationMs'> {
    return out('', `simulated host ${this.host}: command not simulated: ${JSON.stringify(argv)}\n`, 127);
  }

  // ---- virtual time ----------------------------------------------------------------------

  private speedLimit(a: SimArray): number {
    return a.localSpeedMax ?? this.systemSpeedMaxKiBs;
  }

  /** Advances every recovery to the clock's now, piece by piece as arrays finish. */
  private settle(): void {
    const nowMs = this.now();
    let left = Math.max(0, (nowMs - this.lastSettleMs) / 1000);
    this.lastSettleMs = nowMs;
    for (;;) {
      const running = [...this.arrays.values()].filter((a) => a.recoveredKiB !== null);
      if (running.length === 0) return;
      const share = this.hostBandwidthKiBs === null ? Infinity : this.hostBandwidthKiBs / running.length;
      for (const a of running) a.speedKiBs = a.frozen === true ? 0 : Math.max(1, Math.min(this.speedLimit(a), this.diskSpeedKiBs, share));
      if (left <= 0) return;
      const moving = running.filter((a) => a.speedKiBs > 0);
      if (moving.length === 0) return;
      const step = Math.min(left, ...moving.map((a) => (a.sizeKiB - a.recoveredKiB!) / a.speedKiBs));
      for (const a of running) {
        a.recoveredKiB = Math.min(a.sizeKiB, a.recoveredKiB! + a.speedKiBs * step);
        if (a.sizeKiB - a.recoveredKiB < 1e-6) this.finishRecovery(a);
      }
      left -= step;
    }
  }

  private finishRecovery(a: SimArray): void {
    a.recoveredKiB = null;
    for (const leg of a.legs) if (leg.state === 'spare' && leg.slot !== null) leg.state = 'in_sync';
    this.startRecoveryIfNeeded(a);
  }

  private startRecoveryIfNeeded(a: SimArray): void {
    if (a.recoveredKiB !== null || a.recoveryBlocked === true) return;
    const hasSource = a.legs.some((l) => l.state === 'in_sync');
    if (!hasSource) return;
    // a spare takes an empty slot and md starts copying onto it
    for (let slot = 0; slot < a.raidDisks; slot++) {
      if (a.legs.some((l) => l.slot === slot && l.state !== 'faulty')) continue;
      const spare = [...a.legs].reverse().find((l) => l.state === 'spare' && l.slot === null);
      if (spare === undefined) return;
      spare.slot = slot;
    }
    if (a.legs.some((l) => l.state === 'spare' && l.slot !== null)) {
      a.recoveredKiB = 0;
      a.speedKiBs = Math.max(1, Math.min(this.speedLimit(a), this.diskSpeedKiBs));
    }
  }

  private markFaulty(a: SimArray, leg: Leg, writeError: boolean): void {
    const wasTarget = leg.state === 'spare' && leg.slot !== null;
    const wasSource = leg.state === 'in_sync';
    leg.state = 'faulty';
    leg.slot = null;
    leg.writeError = writeError;
    if (a.recoveredKiB !== null && (wasTarget || (wasSource && !a.legs.some((l) => l.state === 'in_sync')))) {
      a.recoveredKiB = null;
      for (const l of a.legs) if (l.state === 'spare') l.slot = null;
    }
    // a waiting spare takes the freed slot, as md does
    this.startRecoveryIfNeeded(a);
  }

  // ---- lookups ---------------------------------------------------------------------------

  private volume(path: string): Volume {
    const v = this.volumes.get(path) ?? [...this.volumes.values()].find((x) => `/dev/${x.spec.kname}` === path);
    if (v === undefined) throw new Error(`simulated host ${this.host}: no volume ${path}`);
    return v;
  }

  private findVolume(path: string): Volume | undefined {
    return this.volumes.get(path) ?? [...this.volumes.values()].find((x) => `/dev/${x.spec.kname}` === path);
  }

  private volumeByKname(kname: string): Volume | undefined {
    return [...this.volumes.values()].find((x) => x.spec.kname === kname);
  }

  /** md127, /dev/md127, /dev/md/NAME (through its link) -> md127, else null */
  private mdKname(ref: string): string | null {
    if (/^md\d+$/.test(ref)) return ref;
    const direct = /^\/dev\/(md\d+)$/.exec(ref);
    if (direct !== null) return direct[1]!;
    const target = this.links.get(ref) ?? this.links.get(`/dev/md/${ref}`);
    return target === undefined ? null : (/^\/dev\/(md\d+)$/.exec(target)?.[1] ?? null);
  }

  private activeArray(ref: string): SimArray | undefined {
    const k = this.mdKname(ref);
    return k === null ? undefined : this.arrays.get(k);
  }

  /** md arrays holding this kernel name as a leg (any state: a faulty leg stays bound) */
  private arraysHolding(kname: string): SimArray[] {
    return [...this.arrays.values()].filter((a) => a.legs.some((l) => l.kname === kname));
  }

  /** O_EXCL open fails: in an array, held, mounted, or opened by someone else */
  private busy(v: Volume): boolean {
    return v.inUse || v.mountpoint !== null || v.swap || v.extraHolders.size > 0 || this.arraysHolding(v.spec.kname).length > 0;
  }

  /** mdadm's find_free_devnm as observed: from md127 down, skipping arrays in use and numbers
   * a leftover /dev/md/NAME link still points at (reproduces s4-name-collision). */
  private allocateMd(): string {
    const pointed = new Set([...this.links.values()]);
    for (let n = 127; n >= 0; n--) {
      const k = `md${n}`;
      if (!this.arrays.has(k) && !pointed.has(`/dev/${k}`)) return k;
    }
    throw new Error(`simulated host ${this.host}: no free md number`);
  }

  private touchMddev(kname: string): void {
    if (!this.mddevOrder.includes(kname)) this.mddevOrder.unshift(kname);
  }

  // ---- mdadm ---------------------------------------------------------------------------

  private mdadm(args: string[]): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    const [first, ...rest] = args;
    if (first === '--version' && rest.length === 0) return out('', MDADM_VERSION, 0);
    if (first === '--build') return this.mdadmBuild(rest);
    if (first === '--add' && rest.length === 2) return this.mdadmAdd(rest[0]!, rest[1]!);
    if (first === '--stop' && rest.length === 1) return this.mdadmStop(rest[0]!);
    if ((first === '--detail' || first === '-D') && rest.length === 1) return this.mdadmDetail(rest[0]!);
    if (first === '--wait' && rest.length === 1) return this.mdadmWait(rest[0]!);
    if (first !== undefined && first.startsWith('/dev/') && rest.length === 2) {
      if (rest[0] === '--fail') return this.mdadmFail(first, rest[1]!);
      if (rest[0] === '--remove' && rest[1] === 'failed') return this.mdadmRemoveFailed(first);
    }
    return null;
  }

  private mdadmBuild(args: string[]): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    const [mdPath, ...rest] = args;
    if (mdPath === undefined) return null;
    const words = rest.join(' ');
    const m = /^(?:--level 1|--level=1|-l 1|-l1) (?:--raid-disks=2|--raid-disks 2|-n 2|-n2) (\S+) missing$/.exec(words);
    if (m === null) return null;
    const oldPath = m[1]!;
    const old = this.findVolume(oldPath);
    if (old === undefined) return out('', `mdadm: stat failed for ${oldPath}: ${ENOENT}\n`, 1);
    let kname: string;
    const direct = /^\/dev\/(md\d+)$/.exec(mdPath);
    if (direct !== null) {
      kname = direct[1]!;
      if (this.arrays.has(kname)) return out('', `mdadm: ${mdPath} is already in use.\n`, 1);
    } else if (/^\/dev\/md\/[A-Za-z0-9._-]+$/.test(mdPath)) {
      // trap 1: an existing name is not refused; a new array is made and the link moves
      kname = this.allocateMd();
      this.links.set(mdPath, `/dev/${kname}`);
    } else return null;
    this.touchMddev(kname);
    // trap 2: the link is already made when opening the leg fails
    if (this.busy(old)) return out('', `mdadm: Cannot open ${oldPath}: Device or resource busy\n`, 1);
    this.arrays.set(kname, {
      kname,
      raidDisks: 2,
      sizeKiB: Math.floor(old.spec.sizeBytes / 1024 / 64) * 64,
      createdAtMs: this.now(),
      legs: [{ kname: old.spec.kname, number: 0, slot: 0, state: 'in_sync', writeError: false }],
      recoveredKiB: null,
      speedKiBs: 0,
      localSpeedMax: null,
      openCount: 0,
      // seen in the lab: with udev a built array sits in read-auto until its first write or
      // `mdadm --add`; the captures without udev (fixtures/md) show it active at once
      autoReadOnly: this.udev,
      counters: zeroCounters(),
    });
    return out('', `mdadm: array ${mdPath} built and started.\n`, 0);
  }

  private mdadmAdd(mdPath: string, newPath: string): Omit<CommandResult, 'argv' | 'durationMs'> {
    const a = this.activeArray(mdPath);
    if (a === undefined) return out('', `mdadm: error opening ${mdPath}: ${ENOENT}\n`, 1);
    const nv = this.findVolume(newPath);
    if (nv === undefined) return out('', `mdadm: stat failed for ${newPath}: ${ENOENT}\n`, 1);
    if (this.busy(nv)) return out('', `mdadm: Cannot open ${newPath}: Device or resource busy\n`, 1);
    if (Math.floor(nv.spec.sizeBytes / 1024) < a.sizeKiB) return out('', `mdadm: ${newPath} not large enough to join array\n`, 1);
    let number = a.raidDisks;
    while (a.legs.some((l) => l.number === number)) number++;
    a.legs.unshift({ kname: nv.spec.kname, number, slot: null, state: 'spare', writeError: false });
    a.autoReadOnly = false;
    this.startRecoveryIfNeeded(a);
    return out('', `mdadm: added ${newPath}\n`, 0);
  }

  private mdadmStop(mdPath: string): Omit<CommandResult, 'argv' | 'durationMs'> {
    const a = this.activeArray(mdPath);
    if (a === undefined) return out('', `mdadm: error opening ${mdPath}: ${ENOENT}\n`, 1);
    if (a.openCount > 0) {
      return out(
        '',
        `mdadm: failed to stop array ${mdPath}: Device or resource busy\n       Perhaps a running process, mounted filesystem or active volume group?\n`,
        1,
      );
    }
    this.arrays.delete(a.kname);
    // udev's md rules remove the array's /dev/md/NAME once the array is gone, a moment later:
    // a probe in the same session may still see the name dangle (both seen in the lab)
    if (this.udev && this.udevAtOnce) this.removeLinksTo(`/dev/${a.kname}`);
    else if (this.udev) this.udevRemovals.push(`/dev/${a.kname}`);
    return out('', `mdadm: stopped ${mdPath}\n`, 0);
  }

  private removeLinksTo(target: string): void {
    for (const [name, t] of this.links) if (t === target) this.links.delete(name);
  }

  private mdadmWait(mdPath: string): Omit<CommandResult, 'argv' | 'durationMs'> {
    const a = this.activeArray(mdPath);
    if (a === undefined) return out('', `mdadm: error opening ${mdPath}: ${ENOENT}\n`, 1);
    // trap 3: nothing to wait for is exit 1, silently
    if (a.recoveredKiB === null) return out('', '', 1);
    return out('', `simulated host ${this.host}: mdadm --wait would block on a virtual clock; poll instead\n`, 127);
  }

  private mdadmFail(mdPath: string, legPath: string): Omit<CommandResult, 'argv' | 'durationMs'> {
    const a = this.activeArray(mdPath);
    if (a === undefined) return out('', `mdadm: error opening ${mdPath}: ${ENOENT}\n`, 1);
    const v = this.findVolume(legPath);
    const leg = v === undefined ? undefined : a.legs.find((l) => l.kname === v.spec.kname);
    if (leg === undefined) return out('', `mdadm: set device faulty failed for ${legPath}:  No such device\n`, 1);
    this.markFaulty(a, leg, false);
    return out('', `mdadm: set ${legPath} faulty in ${mdPath}\n`, 0);
  }

  private mdadmRemoveFailed(mdPath: string): Omit<CommandResult, 'argv' | 'durationMs'> {
    const a = this.activeArray(mdPath);
    if (a === undefined) return out('', `mdadm: error opening ${mdPath}: ${ENOENT}\n`, 1);
    const failed = a.legs.filter((l) => l.state === 'faulty');
    a.legs = a.legs.filter((l) => l.state !== 'faulty');
    const lines = failed.map((l) => `mdadm: hot removed ${this.volumeByKname(l.kname)?.spec.majMin ?? l.kname} from ${mdPath}\n`);
    return out('', lines.join(''), 0);
  }

  private mdadmDetail(mdPath: string): Omit<CommandResult, 'argv' | 'durationMs'> {
    const a = this.activeArray(mdPath);
    if (a === undefined) return out('', `mdadm: cannot open ${mdPath}: ${ENOENT}\n`, 1);
    return out(this.renderDetail(mdPath, a), '', 0);
  }

  // ---- renderers ---------------------------------------------------------------------------

  private upSlots(a: SimArray): number {
    return a.legs.filter((l) => l.state === 'in_sync' && l.slot !== null).length;
  }

  renderMdstat(): string {
    let text = 'Personalities : [raid1] \n';
    for (const k of this.mddevOrder) {
      const a = this.arrays.get(k);
      if (a === undefined) continue;
      const legs = a.legs
        .map((l) => `${l.kname}[${l.number}]${l.state === 'faulty' ? '(F)' : l.state === 'spare' && l.slot === null ? '(S)' : ''}`)
        .join(' ');
      const slots = Array.from({ length: a.raidDisks }, (_, i) =>
        a.legs.some((l) => l.slot === i && l.state === 'in_sync') ? 'U' : '_',
      ).join('');
      text += `${k} : active ${a.autoReadOnly ? '(auto-read-only) ' : ''}raid1 ${legs}\n`;
      text += `      ${a.sizeKiB} blocks super non-persistent [${a.raidDisks}/${this.upSlots(a)}] [${slots}]\n`;
      if (a.recoveredKiB !== null) {
        text += `${mdstatProgressLine('recovery', Math.floor(a.recoveredKiB), a.sizeKiB, a.speedKiBs)}\n`;
      }
      text += '      \n';
    }
    return `${text}unused devices: <none>\n`;
  }

  private renderDetail(mdPath: string, a: SimArray): string {
    const f = (key: string, value: string | number): string => `${key.padStart(18)} : ${value}\n`;
    const size = `${a.sizeKiB}${mdadmHumanSize(a.sizeKiB * 1024)}`;
    const faulty = a.legs.filter((l) => l.state === 'faulty').length;
    const working = a.legs.length - faulty;
    const active = this.upSlots(a);
    const degraded = active < a.raidDisks;
    const state = `clean${degraded ? ', degraded' : ''}${a.recoveredKiB !== null ? ', recovering' : ''} `;
    let t = `${mdPath}:\n`;
    t += f('Version', '');
    t += f('Creation Time', ctime(a.createdAtMs));
    t += f('Raid Level', 'raid1');
    t += f('Array Size', size);
    t += f('Used Dev Size', size);
    t += f('Raid Devices', a.raidDisks);
    t += f('Total Devices', a.legs.length);
    t += '\n';
    t += f('State', state);
    t += f('Active Devices', active);
    t += f('Working Devices', working);
    t += f('Failed Devices', faulty);
    t += f('Spare Devices', working - active);
    t += '\n';
    t += f('Consistency Policy', 'resync');
    t += '\n';
    if (a.recoveredKiB !== null) {
      const pct = Math.floor(resyncPerMille(Math.floor(a.recoveredKiB) * 2, a.sizeKiB * 2) / 10);
      t += f('Rebuild Status', `${pct}% complete`);
      t += '\n';
    }
    t += '    Number   Major   Minor   RaidDevice State\n';
    const row = (n: string, maj: string, min: string, raid: string, words: string, dev: string): string =>
      `   ${n.padStart(5)}   ${maj.padStart(5)}    ${min.padStart(5)}    ${raid.padStart(5)}     ${words}${dev === '' ? '' : `   ${dev}`}\n`;
    const legRow = (l: Leg): string => {
      const [maj, min] = (this.volumeByKname(l.kname)?.spec.majMin ?? '0:0').split(':') as [string, string];
      const words =
        l.state === 'faulty' ? ' faulty' : l.state === 'in_sync' ? ' active sync' : l.slot !== null ? ' spare rebuilding' : ' spare';
      return row(String(l.number), maj, min, l.slot === null ? '-' : String(l.slot), words, `/dev/${l.kname}`);
    };
    for (let slot = 0; slot < a.raidDisks; slot++) {
      const l = a.legs.find((x) => x.slot === slot);
      t += l === undefined ? row('-', '0', '0', String(slot), ' removed', '') : legRow(l);
    }
    const slotless = a.legs.filter((l) => l.slot === null).sort((x, y) => x.number - y.number);
    if (slotless.length > 0) t += `\n${slotless.map(legRow).join('')}`;
    return t;
  }

  // ---- files -------------------------------------------------------------------------------

  /** The text of a readable file, or null when it does not exist. */
  private readFile(path: string): string | null {
    if (path === '/proc/mdstat') return this.renderMdstat();
    const m = /^\/sys\/block\/(md\d+)\/md\/(.+)$/.exec(path);
    if (m === null) {
      const size = /^\/sys\/(?:block|class\/block)\/([^/]+)\/size$/.exec(path);
      const v = size === null ? undefined : this.volumeByKname(size[1]!);
      return v === undefined ? null : `${Math.floor(v.spec.sizeBytes / 512)}\n`;
    }
    const a = this.arrays.get(m[1]!);
    if (a === undefined) return null;
    const file = m[2]!;
    const recovering = a.recoveredKiB !== null;
    const dev = /^dev-([^/]+)\/state$/.exec(file);
    if (dev !== null) {
      const leg = a.legs.find((l) => l.kname === dev[1]);
      if (leg === undefined) return null;
      if (leg.failing === true) return 'in_sync,write_error,want_replacement\n';
      return `${leg.state === 'faulty' ? (leg.writeError ? 'faulty,write_error' : 'faulty') : leg.state}\n`;
    }
    const values: Record<string, string> = {
      sync_action: recovering ? 'recover' : 'idle',
      sync_completed: recovering ? `${Math.floor(a.recoveredKiB!) * 2} / ${a.sizeKiB * 2}` : 'none',
      degraded: String(a.raidDisks - this.upSlots(a)),
      sync_speed: recovering ? String(Math.floor(a.speedKiBs)) : 'none',
      sync_speed_min: `${this.systemSpeedMinKiBs} (system)`,
      sync_speed_max: a.localSpeedMax === null ? `${this.systemSpeedMaxKiBs} (system)` : `${a.localSpeedMax} (local)`,
      array_state: a.autoReadOnly ? 'read-auto' : 'clean',
      level: 'raid1',
      raid_disks: String(a.raidDisks),
      component_size: String(a.sizeKiB),
      mismatch_cnt: '0',
      metadata_version: 'none',
    };
    const v = values[file];
    return v === undefined ? null : `${v}\n`;
  }

  private cat(args: string[]): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    if (args.length === 0 || args.some((a) => a.startsWith('-'))) return null;
    let stdout = '';
    let stderr = '';
    for (const f of args) {
      const text = this.readFile(f);
      if (text === null) stderr += `cat: ${f}: ${ENOENT}\n`;
      else stdout += text;
    }
    return out(stdout, stderr, stderr === '' ? 0 : 1);
  }

  private grep(args: string[]): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    const m = args.length >= 4 && args[0] === '-H' && args[1] === '-e' && args[2] === '' && args[3] === '--';
    const plain = args.length >= 2 && args[0] === '-H' && args[1] === '';
    if (!m && !plain) return null;
    const files = args.slice(m ? 4 : 2);
    let stdout = '';
    let stderr = '';
    for (const f of files) {
      const text = this.readFile(f);
      if (text === null) {
        stderr += `grep: ${f}: ${ENOENT}\n`;
        continue;
      }
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      for (const line of lines) stdout += `${f}:${line}\n`;
    }
    return out(stdout, stderr, stderr !== '' ? 2 : stdout === '' ? 1 : 0);
  }

  private tee(args: string[], input: string | undefined): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    if (args.length !== 1) return null;
    const path = args[0]!;
    const m = /^\/sys\/block\/(md\d+)\/md\/sync_speed_max$/.exec(path);
    if (m === null) return null;
    const text = input ?? '';
    const a = this.arrays.get(m[1]!);
    if (a === undefined) return out(text, `tee: ${path}: ${ENOENT}\n`, 1);
    const value = text.trim();
    if (value === 'system') a.localSpeedMax = null;
    else if (/^\d+$/.test(value) && Number(value) > 0) a.localSpeedMax = Number(value);
    else return out(text, `tee: ${path}: Invalid argument\n`, 1);
    this.startRecoveryIfNeeded(a);
    return out(text, '', 0);
  }

  private resolve(path: string): string {
    const link = this.links.get(path);
    if (link !== undefined) return link;
    const v = this.volumes.get(path);
    return v === undefined ? path : `/dev/${v.spec.kname}`;
  }

  private readlink(args: string[]): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    const [mode, ...rest] = args;
    if (mode !== '-m' && mode !== '-f') return null;
    const paths = rest[0] === '--' ? rest.slice(1) : rest;
    if (paths.length === 0) return null;
    let stdout = '';
    let failed = false;
    for (const p of paths) {
      // -f needs every folder on the way; /dev/md exists once mdadm made a name
      const dir = p.slice(0, p.lastIndexOf('/'));
      if (mode === '-f' && dir === '/dev/md' && ![...this.links.keys()].some((k) => k.startsWith('/dev/md/'))) failed = true;
      else stdout += `${this.resolve(p)}\n`;
    }
    return out(stdout, '', failed ? 1 : 0);
  }

  private holdersOf(kname: string): string[] | null {
    const v = this.volumeByKname(kname);
    if (v === undefined) return this.arrays.has(kname) ? [] : null;
    return [...this.arraysHolding(kname).map((a) => a.kname), ...v.extraHolders].sort();
  }

  private ls(args: string[]): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    const dirs = args.filter((a) => a !== '--' && a !== '-1');
    if (dirs.length === 0 || dirs.some((d) => d.startsWith('-'))) return null;
    let stderr = '';
    const listed: [string, string[]][] = [];
    for (const d of dirs) {
      const m = /^\/sys\/(?:block|class\/block)\/([^/]+)\/holders\/?$/.exec(d);
      if (m === null) return null;
      const h = this.holdersOf(m[1]!);
      if (h === null) stderr += `ls: cannot access '${d}': ${ENOENT}\n`;
      else listed.push([d, h]);
    }
    listed.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const stdout =
      dirs.length === 1
        ? (listed[0]?.[1] ?? []).map((e) => `${e}\n`).join('')
        : listed.map(([d, es]) => `${d}:\n${es.map((e) => `${e}\n`).join('')}`).join('\n');
    return out(stdout, stderr, stderr === '' ? 0 : 2);
  }

  private lsblk(args: string[]): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    const [j, b, o, cols, ...paths] = args;
    if (j !== '-J' || b !== '-b' || o !== '-o' || cols !== 'NAME,KNAME,PATH,SIZE,TYPE,MOUNTPOINT,FSTYPE,MAJ:MIN') return null;
    if (paths.length === 0) return null;
    const found: Record<string, unknown>[][] = [];
    let stderr = '';
    for (const p of paths) {
      const v = this.findVolume(p);
      if (v === undefined) {
        stderr += `lsblk: ${p}: not a block device\n`;
        continue;
      }
      const fields: Record<string, unknown>[] = [
        { name: v.spec.path.startsWith('/dev/mapper/') ? v.spec.path.slice('/dev/mapper/'.length) : v.spec.kname },
        { kname: v.spec.kname },
        { path: v.spec.path },
        { size: v.spec.sizeBytes },
        { type: v.spec.type },
        { mountpoint: v.mountpoint },
        { fstype: null },
        { 'maj:min': v.spec.majMin },
      ];
      const holders = this.arraysHolding(v.spec.kname);
      if (holders.length > 0) {
        fields.push({
          children: holders.map((a) => [
            { name: a.kname },
            { kname: a.kname },
            { path: `/dev/${a.kname}` },
            { size: a.sizeKiB * 1024 },
            { type: 'raid1' },
            { mountpoint: null },
            { fstype: null },
            { 'maj:min': `9:${a.kname.slice(2)}` },
          ]),
        });
      }
      found.push(fields);
    }
    const exit = found.length === 0 ? 32 : stderr === '' ? 0 : 64;
    return out(found.length === 0 ? '' : lsblkJson(found), stderr, exit);
  }

  private blockdev(args: string[]): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    if (args.length === 2 && args[0] === '--flushbufs') {
      const ok = this.findVolume(args[1]!) !== undefined || this.arrays.has(this.mdKname(args[1]!) ?? '');
      return ok ? out() : out('', `blockdev: cannot open ${args[1]}: ${ENOENT}\n`, 1);
    }
    if (args.length !== 2 || args[0] !== '--getsize64') return null;
    const v = this.findVolume(args[1]!);
    if (v === undefined) return out('', `blockdev: cannot open ${args[1]}: ${ENOENT}\n`, 1);
    return out(`${v.spec.sizeBytes}\n`, '', 0);
  }

  // ---- the host scripts (scripts.ts), answered as the real ones answer ---------------------

  /** `sh -c SCRIPT NAME ARGS...` for sanshift's two scripts only; anything else is unknown. */
  private script(args: string[]): Omit<CommandResult, 'argv' | 'durationMs'> | null {
    const [c, text, , ...rest] = args;
    if (c !== '-c') return null;
    if (text === PROBE_SCRIPT) {
      this.counts.probes++;
      const [mode = 'state', ...paths] = rest;
      return out(this.probeText(mode, paths));
    }
    if (text === MD_ACT_SCRIPT) {
      this.counts.mdActions++;
      const [owner = '-', vm = '-', ttl = '0', ...groups] = rest;
      if (owner !== '-') {
        // the VM's lease must be the run's; it is extended, as the script does
        const lease = this.leases.get(vm);
        if (lease?.owner !== owner) return out(`#act 1\nfail owner - not-owner the lease of ${vm} is not held by this run: ${lease === undefined ? 'none' : `${lease.owner} ${lease.until}`}\n`);
        lease.until = this.hostSeconds() + Number(ttl);
      }
      return out(this.mdActText(groups));
    }
    if (text === LEASE_SCRIPT) return out(this.leaseText(rest));
    return null;
  }

  /** The host's own clock, in seconds (what `date +%s` prints there). */
  private hostSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The lease script: acquire (or renew) and release, under the host's lease lock. */
  private leaseText(args: string[]): string {
    const [word, owner = '', ttl = '0', ...more] = args;
    const dead = word === 'takeover' ? more[0] : undefined;
    const vms = word === 'takeover' ? more.slice(1) : more;
    const op = word === 'takeover' ? 'acquire' : word;
    const now = this.hostSeconds();
    const lines: string[] = [];
    for (const vm of vms) {
      const cur = this.leases.get(vm);
      if (op === 'acquire') {
        if (cur === undefined || cur.owner === owner || cur.owner === dead || cur.until < now) {
          this.leases.set(vm, { owner, until: now + Number(ttl) });
          lines.push(cur !== undefined && cur.owner !== owner ? `took ${vm} ${cur.owner} ${cur.until}` : `held ${vm}`);
        } else lines.push(`busy ${vm} ${cur.owner} ${cur.until - now}`);
      } else if (op === 'release') {
        if (cur?.owner === owner) this.leases.delete(vm);
        lines.push(`released ${vm}`);
      }
    }
    return lines.map((l) => `${l}\n`).join('');
  }

  /** Every lease expires at once: what a run that died leaves once its leases ran out (tests). */
  expireLeases(): void {
    for (const l of this.leases.values()) l.until = 0;
  }

  /** A lease as another run left it (tests). */
  setLease(vm: string, owner: string, until: number): void {
    this.leases.set(vm, { owner, until });
  }

  /** The VM leases on this host (tests). */
  leaseOf(vm: string): { owner: string; until: number } | undefined {
    return this.leases.get(vm);
  }

  /** `readlink -m` of one path. */
  private readlinkM(p: string): string {
    return this.resolve(p);
  }

  private statLine(c: Counters): string {
    // the 17 fields of /sys/block/X/stat; only writes and discards are modelled
    return `0 0 0 0 ${c.writeIos} 0 ${c.writeSectors} 0 0 0 0 0 0 ${c.discardSectors} 0 0 0`;
  }

  /** The probe's output, fact for fact in the order the script prints them. */
  private probeText(mode: string, paths: string[]): string {
    const lines: string[] = [`#probe 1 ${mode}`];
    const seen = new Set<string>();
    let todo: string[] = [];
    const want = (k: string) => {
      if (seen.has(k)) return;
      seen.add(k);
      todo.push(k);
    };
    const scan = mode === 'scan';
    const asked = [...paths];
    if (scan) {
      // the script's globs, in the C locale's byte order: /dev/md/* joins the paths asked,
      // and every md device of /sys/block is examined
      asked.push(...[...this.links.keys()].filter((k) => k.startsWith('/dev/md/')).sort(byteOrder));
      for (const k of [...this.arrays.keys()].sort(byteOrder)) want(k);
    }
    for (const p of asked) {
      const r = this.readlinkM(p);
      lines.push(`link ${p} ${r}`);
      const m = /^\/dev\/([^/]+)$/.exec(r);
      if (m !== null) want(m[1]!);
    }
    while (todo.length > 0) {
      const batch = todo;
      todo = [];
      for (const k of batch) this.examine(k, lines, want, scan);
    }
    if (mode === 'full' || scan) {
      for (const v of this.volumes.values()) if (v.mountpoint !== null) lines.push(`mount ${v.spec.majMin} ${v.mountpoint}`);
      for (const v of this.volumes.values()) if (v.swap) lines.push(`swap /dev/${v.spec.kname}`);
      lines.push(`mdadm ${this.mdadmInstalled ? MDADM_VERSION.trim() : '-'}`, 'flock present', 'blockdev present');
    }
    if (scan) {
      const files = [...this.leases].map(([vm, l]) => [`vm-${vm}.lease`, vm, l] as const).sort((x, y) => byteOrder(x[0], y[0]));
      for (const [, vm, l] of files) lines.push(`lease ${vm} ${l.owner} ${l.until}`);
      lines.push(`clock ${this.hostSeconds()}`);
    }
    lines.push('#mdstat', ...this.renderMdstat().replace(/\n$/, '').split('\n'), '#end');
    return `${lines.join('\n')}\n`;
  }

  private examine(k: string, lines: string[], want: (k: string) => void, scan = false): void {
    const v = this.volumeByKname(k);
    const a = this.arrays.get(k);
    if (v !== undefined) {
      lines.push(`dev ${k} ${v.spec.majMin}`, `size ${k} ${Math.floor(v.spec.sizeBytes / 512)}`, `stat ${k} ${this.statLine(v.counters)}`, `lbs ${k} ${v.spec.logicalBlockSize}`);
      if (v.spec.serial !== '') lines.push(`udev ${k} ID_SERIAL=${v.spec.serial}`);
      if (scan && v.fsType !== null) lines.push(`udev ${k} ID_FS_TYPE=${v.fsType}`);
      if (scan && v.partTable !== null) lines.push(`udev ${k} ID_PART_TABLE_TYPE=${v.partTable}`);
      for (const h of this.holdersOf(k) ?? []) {
        lines.push(`holder ${k} ${h}`);
        if (h.startsWith('md')) want(h);
      }
      return;
    }
    if (a !== undefined) {
      lines.push(`dev ${k} 9:${k.slice(2)}`, `size ${k} ${a.sizeKiB * 2}`, `stat ${k} ${this.statLine(a.counters)}`, 'lbs ' + k + ' 512');
      for (const f of ['array_state', 'sync_action', 'sync_completed', 'degraded', 'sync_speed', 'sync_speed_max', 'mismatch_cnt']) {
        lines.push(`md ${k} ${f} ${(this.readFile(`/sys/block/${k}/md/${f}`) ?? '').trim()}`);
      }
      // dev-* in the order the shell's glob sorts them
      for (const leg of [...a.legs].sort((x, y) => (x.kname < y.kname ? -1 : x.kname > y.kname ? 1 : 0))) {
        lines.push(`leg ${k} ${leg.kname} ${(this.readFile(`/sys/block/${k}/md/dev-${leg.kname}/state`) ?? '').trim()}`);
        if (scan) want(leg.kname);
      }
      return;
    }
    lines.push(`absent ${k}`);
  }

  /** The md action script: groups of VERB MIRROR OLD NEW SPEED, then a probe of every path. */
  private mdActText(args: string[]): string {
    const lines: string[] = ['#act 1'];
    const paths: string[] = [];
    let failed = false;
    for (let i = 0; i + 5 <= args.length; i += 5) {
      const [verb, md, old, nu, speed] = args.slice(i, i + 5) as [MdVerb, string, string, string, string];
      paths.push(md, old, nu);
      if (failed) {
        lines.push(`skip ${verb} ${md}`);
        continue;
      }
      if (!this.mdAct(verb, md, old, nu, speed, lines)) failed = true;
    }
    return `${lines.join('\n')}\n${this.probeText('state', paths)}`;
  }

  /** One group, as the script's act(); false when it failed. */
  private mdAct(verb: MdVerb, md: string, old: string, nu: string, speed: string, lines: string[]): boolean {
    const kn = (p: string) => /^\/dev\/([^/]+)$/.exec(this.readlinkM(p))?.[1] ?? '';
    const view = () => {
      const mdr = this.readlinkM(md);
      const mk = /^\/dev\/(md\d+)$/.exec(mdr)?.[1] ?? '';
      const a = this.arrays.get(mk);
      const ok = kn(old);
      const nk = kn(nu);
      const legs = a === undefined ? [] : [...a.legs].map((l) => l.kname).sort();
      const ours = a !== undefined && legs.includes(ok) && legs.every((l) => l === ok || (nk !== '' && l === nk));
      return { mdr, mk, a, ok, nk, legs, ours, hasNew: a !== undefined && nk !== '' && legs.includes(nk) };
    };
    const fail = (code: string, message: string) => {
      lines.push(`fail ${verb} ${md} ${code} ${message}`);
      return false;
    };
    const run = (r: Omit<CommandResult, 'argv' | 'durationMs'>) => {
      for (const l of `${r.stdout}${r.stderr}`.split('\n')) if (l !== '') lines.push(`> ${l}`);
      return r.exitCode;
    };
    const setSpeed = (mk: string) => speed === '-' || this.tee([`/sys/block/${mk}/md/sync_speed_max`], `${speed}\n`)?.exitCode === 0;
    let w = view();
    switch (verb) {
      case 'build': {
        if (w.ours) {
          lines.push(`ok build ${md} ${w.mk} ${w.hasNew ? 'already-with-new' : 'already'}`);
          return true;
        }
        if (w.a !== undefined) return fail('name-taken', `${w.mdr} holds ${w.legs.join(' ')}`);
        const ov = w.ok === '' ? undefined : this.volumeByKname(w.ok);
        if (ov === undefined) return fail('old-missing', `${old} is not a block device`);
        const holders = this.holdersOf(w.ok) ?? [];
        if (holders.length > 0) return fail('old-held', `${old} is held by ${holders[0]}`);
        const rc = run(this.mdadmBuild([md, '--level', '1', '--raid-disks=2', old, 'missing'])!);
        if (rc !== 0) return fail('mdadm', `mdadm --build exited ${rc}`);
        w = view();
        if (!w.ours || w.hasNew) return fail('not-ours', `after the build, ${w.mdr} does not hold ${old} alone`);
        if (!setSpeed(w.mk)) return fail('speed', `cannot write /sys/block/${w.mk}/md/sync_speed_max`);
        lines.push(`ok build ${md} ${w.mk}`);
        return true;
      }
      case 'flush':
        if (!w.ours) return fail('not-ours', `${md} is not the mirror of ${old}`);
        lines.push(`ok flush ${md} ${w.mk}`);
        return true;
      case 'add': {
        if (!w.ours) return fail('not-ours', `${md} is not the mirror of ${old}`);
        if (w.hasNew) {
          lines.push(`ok add ${md} ${w.mk} already`);
          return true;
        }
        const nv = w.nk === '' ? undefined : this.volumeByKname(w.nk);
        if (nv === undefined) return fail('new-missing', `${nu} is not a block device`);
        const users = [...(this.holdersOf(w.nk) ?? []).map((h) => `${w.nk} is held by ${h}`), ...(nv.mountpoint === null ? [] : [`${w.nk} is mounted on ${nv.mountpoint}`]), ...(nv.swap ? [`${w.nk} is an active swap`] : [])];
        if (users.length > 0) return fail('new-in-use', `${nu} is in use: ${users.join('; ')}`);
        const olbs = this.volumeByKname(w.ok)!.spec.logicalBlockSize;
        if (olbs !== nv.spec.logicalBlockSize) return fail('sector-size', `${old} has ${olbs}-byte sectors, ${nu} has ${nv.spec.logicalBlockSize}`);
        if (!setSpeed(w.mk)) return fail('speed', `cannot write /sys/block/${w.mk}/md/sync_speed_max`);
        lines.push(`base ${md} old ${w.ok} ${this.statLine(this.volumeByKname(w.ok)!.counters)}`);
        lines.push(`base ${md} md ${w.mk} ${this.statLine(w.a!.counters)}`);
        const rc = run(this.mdadmAdd(`/dev/${w.mk}`, nu));
        if (rc !== 0) return fail('mdadm', `mdadm --add exited ${rc}`);
        lines.push(`ok add ${md} ${w.mk}`);
        return true;
      }
      case 'stop': {
        if (!w.ours) {
          if (w.a !== undefined) return fail('not-ours', `${w.mdr} holds ${w.legs.join(' ')}, not ${old}`);
          lines.push(`ok stop ${md} - already`);
          return true;
        }
        const rc = run(this.mdadmStop(`/dev/${w.mk}`));
        if (rc !== 0) return fail('mdadm', `mdadm --stop exited ${rc}`);
        lines.push(`ok stop ${md} ${w.mk}`);
        return true;
      }
      case 'speed':
        if (!w.ours) return fail('not-ours', `${md} is not the mirror of ${old}`);
        if (!setSpeed(w.mk)) return fail('speed', `cannot write /sys/block/${w.mk}/md/sync_speed_max`);
        lines.push(`ok speed ${md} ${w.mk}`);
        return true;
      default:
        return fail('verb', 'unknown verb');
    }
  }
}
