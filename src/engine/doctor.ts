// `sanshift doctor`: what a crash or a manual step can leave behind on the hosts, each finding
// with the safe commands that resolve it. Pure: from what each host showed (one scan probe, the
// domains' definitions: doctor-scan.ts reads them) and the journals' facts to findings. Nothing
// here runs a command; the commands are data, for the operator to read and run.
import { listDisks, MIGRATION_NAMESPACE, readMigrationMetadata, type DomainDisk, type MigrationMetadata } from '../domain/index.js';
import { deadHere, describeOwner } from '../host/leases.js';
import { deviceOf, lunIdOf, mirrorStateIn, resolvedPath, type DeviceFacts, type HostLease, type HostSnapshot } from '../host/probe.js';
import type { Inventory, VmSpec } from '../inventory/types.js';
import { mirrorPathFor, resolveDisks } from '../plan/disks.js';
import { isSafeDevicePath, isSafeDomainName } from '../util/validate.js';
import { factsByVm, type MigrationFacts } from './facts.js';
import type { JournalRecord } from './journal.js';
import type { ClaimFile } from './lock.js';

/** The closed list of what doctor reports, in the order it lists them on a host. */
export const FindingKind = {
  /** an md array over inventory volumes that no live run drives (sanshift's, or another's) */
  leftMirror: 'left-mirror',
  strangerArray: 'stranger-array',
  /** a persistent definition on /dev/md: I2 broken, the next boot needs a mirror */
  persistentOnMirror: 'persistent-on-mirror',
  /** a domain runs on /dev/md and no array finding or live run accounts for it */
  liveOnMirror: 'live-on-mirror',
  /** a managed save image of a VM whose migration is under way (it may resume on a mirror) */
  managedSave: 'managed-save',
  /** sanshift's record in a definition, from a run this state folder has no journal of */
  metadataWithoutJournal: 'metadata-without-journal',
  /** a new volume of a VM not yet migrated that is in use, or already holds data */
  newInUse: 'new-in-use',
  newHoldsData: 'new-holds-data',
  /** a VM lease on a host, or a claim file here, of a run that is not alive */
  staleLease: 'stale-lease',
  staleClaim: 'stale-claim',
  /** a run of this machine that died and left VMs mid-way (its journal says so) */
  interruptedRun: 'interrupted-run',
  /** a host (its libvirt or its shell) that could not be read: nothing can be said of it */
  hostNotRead: 'host-not-read',
} as const;
export type FindingKind = (typeof FindingKind)[keyof typeof FindingKind];

const KIND_ORDER: readonly FindingKind[] = Object.values(FindingKind);

/** One command to resolve a finding: run on a host (`on`), or on this machine (`on` null). */
export interface Fix {
  on: string | null;
  argv: string[];
  /** the command's standard output goes to this file (`> FILE`) */
  stdoutTo?: string;
  /** what it does, and when to run it */
  why: string;
}

export interface Finding {
  kind: FindingKind;
  /** the host it was seen on; null for what lives in the state folder */
  host: string | null;
  /** the inventory VM it concerns, when it concerns one */
  vm: string | null;
  /** what it is, in a few words: "md127 (/dev/md/ss-web1-vda)" */
  subject: string;
  /** what was seen, and why it matters */
  detail: string;
  /** the safe commands, in order; alternatives say so in their `why` */
  fixes: Fix[];
}

/** Something doctor saw that is not left behind: a run in progress and what it holds. */
export interface DoctorNote {
  host: string | null;
  vm: string | null;
  text: string;
}

/** One domain as libvirt showed it. */
export interface DomainReading {
  name: string;
  /** libvirt's id while it runs, else null */
  id: number | null;
  persistentXml: string;
  /** null when it does not run */
  liveXml: string | null;
  managedSave: boolean;
}

/** What one host showed: its domains (one listing, their definitions) and one scan probe. */
export interface HostScan {
  host: string;
  uri: string;
  /** null when libvirt could not be read */
  domains: DomainReading[] | null;
  libvirtError: string | null;
  /** null when the probe could not run */
  snapshot: HostSnapshot | null;
  probeError: string | null;
}

export interface DoctorInput {
  inventory: Inventory;
  /** the VMs selected, or null when nothing narrowed the selection */
  selected: ReadonlySet<string> | null;
  scans: readonly HostScan[];
  records: readonly JournalRecord[];
  claims: readonly ClaimFile[];
  /** this machine's name (os.hostname()), as claim files and lease owners give it */
  machine: string;
  /** whether a process of this machine is alive */
  alive: (pid: number) => boolean;
  /** how the operator named the inventory and the state folder, for the commands shown */
  command: { inventory: string; stateDir?: string };
  /** the state folder, for messages */
  stateDir: string;
  /** the definitions as the scan already parsed them (parsing is most of the cost) */
  parsed?: ParsedDefinitions;
}

export interface DoctorReport {
  findings: Finding[];
  notes: DoctorNote[];
}

// ---- what sanshift knows of each VM's volumes --------------------------------------------------

/** One disk sanshift moves or moved: from the inventory, or from a domain's sanshift record. */
export interface KnownDisk {
  vm: string;
  host: string;
  target: string;
  old: string;
  new: string;
  mirror: string;
  /** the VM is in the inventory (else known from its definition's record only) */
  inventory: boolean;
}


/** Each definition parsed once: a fleet's scan holds tens of thousands, and parsing is most of
 * what judging them costs. */
export class ParsedDefinitions {
  private readonly known = new Map<string, { disks: DomainDisk[]; record: MigrationMetadata | null }>();

  of(xml: string): { disks: DomainDisk[]; record: MigrationMetadata | null } {
    let p = this.known.get(xml);
    if (p === undefined) {
      let disks: DomainDisk[] = [];
      let record: MigrationMetadata | null = null;
      try {
        disks = listDisks(xml);
      } catch {
        // not a definition sanshift can read: nothing in it to judge
      }
      try {
        record = readMigrationMetadata(xml);
      } catch {
        // a malformed record is no record: what it says cannot be trusted
      }
      this.known.set(xml, (p = { disks, record }));
    }
    return p;
  }

  private readonly resolved = new Map<string, KnownDisk[]>();
  private readonly byHost = new WeakMap<Inventory, Map<string, VmSpec[]>>();

  /** The disks of an inventory VM as the planner resolves them from a definition (once). */
  disksOf(inv: Inventory, vm: VmSpec, xml: string): KnownDisk[] {
    const key = `${vm.name}\0${xml}`;
    let d = this.resolved.get(key);
    if (d === undefined) {
      // a definition already on a mirror says nothing of OLD: only the record or the journal does
      d = resolveDisks(vm, xml, inv.mapping)
        .disks.filter((x) => !/^\/dev\/md(\/|\d)/.test(x.old))
        .map((x) => ({ vm: vm.name, host: vm.host, target: x.target, old: x.old, new: x.new, mirror: x.mirror, inventory: true }));
      this.resolved.set(key, d);
    }
    return d;
  }

  /** The inventory's VMs of one host. */
  vmsOn(inv: Inventory, host: string): VmSpec[] {
    let m = this.byHost.get(inv);
    if (m === undefined) {
      m = new Map();
      for (const v of inv.vms) m.set(v.host, [...(m.get(v.host) ?? []), v]);
      this.byHost.set(inv, m);
    }
    return m.get(host) ?? [];
  }

  /** sanshift's record in the persistent definition, else in the live one. */
  recordOf(d: DomainReading | undefined): MigrationMetadata | null {
    if (d === undefined) return null;
    return this.of(d.persistentXml).record ?? (d.liveXml === null ? null : this.of(d.liveXml).record);
  }

  /** The block disks (safe paths) of a domain's definitions, persistent then live. */
  sourcesOf(domains: readonly DomainReading[]): DiskSource[] {
    const out: DiskSource[] = [];
    for (const d of domains) {
      for (const [xml, live] of [[d.persistentXml, false], [d.liveXml, true]] as const) {
        if (xml === null) continue;
        for (const x of this.of(xml).disks) if (x.type === 'block' && x.source !== null && isSafeDevicePath(x.source)) out.push({ domain: d.name, target: x.target, source: x.source, live });
      }
    }
    return out;
  }
}

interface DiskSource {
  domain: string;
  target: string;
  source: string;
  /** in the live definition (else the persistent one) */
  live: boolean;
}

/**
 * The disks of a host's VMs: each inventory VM's, resolved as the planner does (from the
 * definition its migration started from, which the journal keeps, else the current one), plus
 * what sanshift's record in any domain's definition says (a VM under way with no journal here).
 */
export function knownDisksOn(inv: Inventory, host: string, domains: readonly DomainReading[], facts: (vm: string) => MigrationFacts, parsed: ParsedDefinitions = new ParsedDefinitions()): KnownDisk[] {
  const out: KnownDisk[] = [];
  const byName = new Map(domains.map((d) => [d.name, d]));
  const vms = parsed.vmsOn(inv, host);
  const inInventory = new Set(vms.map((v) => v.name));
  for (const vm of vms) {
    const reading = byName.get(vm.name);
    const from = facts(vm.name).originalXml ?? reading?.persistentXml;
    const targets = new Set<string>();
    if (from !== undefined) {
      for (const d of parsed.disksOf(inv, vm, from)) {
        out.push(d);
        targets.add(d.target);
      }
    }
    for (const d of parsed.recordOf(reading)?.disks ?? []) {
      if (!targets.has(d.target)) out.push({ vm: vm.name, host, target: d.target, old: d.old, new: d.new, mirror: d.mirror, inventory: true });
    }
  }
  for (const d of domains) {
    if (inInventory.has(d.name)) continue;
    for (const r of parsed.recordOf(d)?.disks ?? []) out.push({ vm: d.name, host, target: r.target, old: r.old, new: r.new, mirror: r.mirror, inventory: false });
  }
  return out.filter((d) => isSafeDevicePath(d.old) && isSafeDevicePath(d.new) && isSafeDevicePath(d.mirror));
}

/** The paths one host's scan probe is given: every known volume there and every block source
 * of its domains (the probe adds every md array and /dev/md name by itself). */
export function scanPaths(known: readonly KnownDisk[], domains: readonly DomainReading[], parsed: ParsedDefinitions = new ParsedDefinitions()): string[] {
  const paths = new Set<string>();
  for (const d of known) {
    paths.add(d.old);
    paths.add(d.new);
  }
  for (const u of parsed.sourcesOf(domains)) paths.add(u.source);
  return [...paths];
}

// ---- runs alive or not -------------------------------------------------------------------------

interface LeaseView {
  lease: HostLease;
  run: string | null;
  /** why it is left behind; null when a run still holds it */
  stale: string | null;
  secondsLeft: number | null;
}

interface Runs {
  /** every run id with a journal here */
  known: Set<string>;
  finished: Set<string>;
  /** started on this machine, not finished, its process gone */
  crashedHere: Map<string, number>;
}

function runsOf(input: DoctorInput): Runs {
  const known = new Set<string>();
  const finished = new Set<string>();
  const started = new Map<string, { pid: number; hostname: string }>();
  for (const r of input.records) {
    known.add(r.run);
    if (r.kind === 'run-started') started.set(r.run, { pid: r.pid, hostname: r.hostname });
    if (r.kind === 'run-finished') finished.add(r.run);
  }
  const crashedHere = new Map<string, number>();
  for (const [run, s] of started) if (!finished.has(run) && s.hostname === input.machine && !input.alive(s.pid)) crashedHere.set(run, s.pid);
  return { known, finished, crashedHere };
}

function judgeLease(l: HostLease, clock: number | null, input: DoctorInput, runs: Runs): LeaseView {
  const m = /^(.+)@(.+):(\d+)$/.exec(l.owner);
  const secondsLeft = clock === null || !Number.isFinite(l.until) ? null : l.until - clock;
  if (m === null || !Number.isFinite(l.until)) return { lease: l, run: null, stale: `it holds ${JSON.stringify(`${l.owner} ${Number.isFinite(l.until) ? l.until : ''}`.trim())}, which is not a lease sanshift writes (no run can take it over)`, secondsLeft };
  const run = m[1]!;
  if (runs.finished.has(run)) return { lease: l, run, stale: 'its run finished (its journal is here) without releasing it: the host did not answer then', secondsLeft };
  if (deadHere(l.owner, input.machine, input.alive)) return { lease: l, run, stale: 'its process is gone from this machine', secondsLeft };
  if (secondsLeft !== null && secondsLeft < 0) return { lease: l, run, stale: `it expired ${-secondsLeft} s ago: its run stopped renewing it (it died, or lost this host)`, secondsLeft };
  return { lease: l, run, stale: null, secondsLeft };
}

// ---- the diagnosis -----------------------------------------------------------------------------

const LEASE_DIR = '/run/lock/sanshift';

interface Ctx {
  input: DoctorInput;
  facts: (vm: string) => MigrationFacts;
  runs: Runs;
  findings: Finding[];
  notes: DoctorNote[];
  /** per host: its scan, known disks, domains by name, lease views by VM */
  hosts: Map<string, { scan: HostScan; known: KnownDisk[]; domains: Map<string, DomainReading>; leases: Map<string, LeaseView>; sources: Map<string, Use[]> }>;
  /** md arrays reported or noted (host/kname), the VMs they hold volumes of (host/vm), and the
   * domains those findings already speak of (host/domain) */
  reportedArrays: Set<string>;
  vmsWithArrays: Set<string>;
  coveredDomains: Set<string>;
  parsed: ParsedDefinitions;
  /** what every domain of every host uses, by device (host/kname, and under each partition of
   * it) and by LUN id: the in-use index's rules (plan/in-use.ts usesOf), looked up, not scanned */
  uses: { byDevice: Map<string, Use[]>; byLun: Map<string, Use[]> };
  specs: Map<string, VmSpec>;
  volumes: { byDevice: Map<string, VolumeRef>; byLun: Map<string, VolumeRef> };
  /** per VM, the disks whose NEW ever joined a mirror (an earlier attempt's copy is on it) */
  joined: Map<string, Set<string>>;
}

/** Whether a finding about these inventory VMs is shown under the selection (a finding about no
 * inventory VM always is). */
function shown(ctx: Ctx, vms: readonly string[]): boolean {
  const sel = ctx.input.selected;
  if (sel === null) return true;
  const inInventory = vms.filter((v) => ctx.specs.has(v));
  return inInventory.length === 0 || inInventory.some((v) => sel.has(v));
}

function sanshiftArgv(ctx: Ctx, ...words: string[]): string[] {
  const { inventory, stateDir } = ctx.input.command;
  return ['sanshift', words[0]!, '-i', inventory, ...(stateDir === undefined ? [] : ['--state-dir', stateDir]), ...words.slice(1)];
}

function specOf(ctx: Ctx, vm: string): VmSpec | undefined {
  return ctx.specs.get(vm);
}

/** A run drives the VM now: its lease on the host is held, or this machine's live claim. */
function liveRunOf(ctx: Ctx, host: string, vm: string): string | null {
  const l = ctx.hosts.get(host)?.leases.get(vm);
  if (l !== undefined && l.stale === null) return `${describeOwner(l.lease.owner)}, its lease on ${host} good for ${l.secondsLeft ?? '?'} s more`;
  const c = ctx.input.claims.find((x) => x.host === host && x.vm === vm && x.owner !== undefined && claimStale(ctx, x) === null);
  if (c?.owner !== undefined) return `run ${c.owner.run} (pid ${c.owner.pid} on ${c.owner.hostname}), by its claim in ${ctx.input.stateDir}`;
  return null;
}

function claimStale(ctx: Ctx, c: ClaimFile): string | null {
  if (c.owner === undefined) return 'it cannot be read as a claim';
  if (ctx.runs.finished.has(c.owner.run)) return `its run ${c.owner.run} finished without removing it`;
  if (c.owner.hostname === ctx.input.machine && !ctx.input.alive(c.owner.pid)) return `its process (pid ${c.owner.pid}, run ${c.owner.run}) is gone`;
  return null;
}

/** Where a VM's migration stands, from the journal here and its definition's record. */
function underWay(ctx: Ctx, host: string, vm: string): { journal: boolean; record: MigrationMetadata | null; pastCutover: boolean } {
  const f = ctx.facts(vm);
  const journal = f.originalXml !== null && (f.outcome === null || f.outcome === 'failed');
  const record = ctx.parsed.recordOf(ctx.hosts.get(host)?.domains.get(vm));
  return { journal, record, pastCutover: journal && (f.definedOnNew || f.startOnNewIntended || f.startedOnNew) };
}

/** The fixes that continue or undo a migration under way, for an inventory VM. */
function continueOrRollBack(ctx: Ctx, host: string, vm: string): Fix[] {
  const w = underWay(ctx, host, vm);
  const fixes: Fix[] = [{ on: null, argv: sanshiftArgv(ctx, 'run', vm), why: 'continue its migration from where it stands (it re-reads the host and the journal first)' }];
  if (w.journal && !w.pastCutover) fixes.push({ on: null, argv: sanshiftArgv(ctx, 'rollback', vm), why: 'or take it back to its old volumes instead' });
  return fixes;
}

function sayList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

interface Member {
  kname: string;
  disk: KnownDisk | null;
  role: 'old' | 'new' | null;
}

interface VolumeRef {
  disk: KnownDisk;
  role: 'old' | 'new';
}

/** Every known volume by its device on its own host (host/kname) and by its LUN id. */
function indexVolumes(hosts: Ctx['hosts']): Ctx['volumes'] {
  const byDevice = new Map<string, VolumeRef>();
  const byLun = new Map<string, VolumeRef>();
  for (const h of hosts.values()) {
    const snap = h.scan.snapshot;
    if (snap === null) continue;
    for (const disk of h.known) {
      for (const role of ['old', 'new'] as const) {
        const v = deviceOf(snap, disk[role]);
        if (v === null) continue;
        if (!byDevice.has(`${disk.host}/${v.kname}`)) byDevice.set(`${disk.host}/${v.kname}`, { disk, role });
        const lun = lunIdOf(v);
        if (lun !== null && !byLun.has(lun)) byLun.set(lun, { disk, role });
      }
    }
  }
  return { byDevice, byLun };
}

/** Finding 1: md arrays whose members are known volumes. */
function diagnoseArrays(ctx: Ctx, host: string): void {
  const h = ctx.hosts.get(host)!;
  const snap = h.scan.snapshot;
  if (snap === null) return;
  // a member is a known volume by device on this host, or by LUN id on any (a LUN presented to
  // several hosts)
  const matchOf = (kname: string): VolumeRef | null => {
    const dev = snap.devices.get(kname);
    const lun = dev === undefined ? null : lunIdOf(dev);
    return ctx.volumes.byDevice.get(`${host}/${kname}`) ?? (lun === null ? undefined : ctx.volumes.byLun.get(lun)) ?? null;
  };
  for (const arr of snap.mdstat.arrays) {
    if (!arr.active || !/^md\d+$/.test(arr.kernelName)) continue;
    const k = arr.kernelName;
    const members: Member[] = arr.members.map((m) => ({ kname: m.kname, ...(matchOf(m.kname) ?? { disk: null, role: null }) }));
    const matched = members.filter((m) => m.disk !== null);
    if (matched.length === 0) continue;
    const names = [...snap.links].filter(([p, r]) => p.startsWith('/dev/md/') && isSafeDevicePath(p) && r === `/dev/${k}`).map(([p]) => p).sort();
    const first = matched[0]!.disk!;
    const oneDisk = matched.every((m) => m.disk!.vm === first.vm && m.disk!.target === first.target) && matched.length === members.length;
    const named = names.includes(mirrorPathFor(first.vm, first.target)) || names.includes(first.mirror);
    const ours = oneDisk && named;
    const vms = [...new Set(matched.map((m) => m.disk!.vm))];
    if (!shown(ctx, vms)) continue;
    for (const vm of vms) ctx.vmsWithArrays.add(`${host}/${vm}`);
    // the path commands name: the array's one name, else its kernel name (a name is not an
    // identity: capture trap 1)
    const path = names.length === 1 ? names[0]! : `/dev/${k}`;
    const subject = `${k}${names.length === 0 ? ' (no /dev/md name)' : ` (${names.join(', ')})`}`;
    const legs = members.map((m) => {
      if (m.disk === null) return `${m.kname} (not an inventory volume)`;
      const what = `${m.disk.vm} ${m.disk.target} ${m.role === 'old' ? 'OLD' : 'NEW'}`;
      const volume = m.role === 'old' ? m.disk.old : m.disk.new;
      // the same LUN under another host's name
      return m.disk.host === host ? `${volume} (${what})` : `${m.kname} (${what}: the LUN of ${volume} on ${m.disk.host})`;
    });
    const state = describeArray(snap, k);
    // who uses it: kernel holders, mounts and swaps, and domains whose definitions name it
    const mdDev = snap.devices.get(k);
    const users: string[] = [];
    for (const hd of mdDev?.holders ?? []) users.push(`held by ${hd}`);
    for (const mt of snap.mounts) if (mdDev !== undefined && mt.majMin === mdDev.majMin) users.push(`mounted on ${mt.mountpoint}`);
    if (snap.swaps.includes(`/dev/${k}`)) users.push('an active swap');
    const liveOn = new Set<string>();
    const definedOn = new Set<string>();
    for (const s of h.sources.get(k) ?? []) {
      if (s.live) liveOn.add(s.domain);
      else definedOn.add(s.domain);
    }
    for (const d of liveOn) users.push(`domain ${d} runs on it`);
    for (const d of definedOn) users.push(`domain ${d}'s persistent definition names it`);
    for (const d of [...liveOn, ...definedOn]) ctx.coveredDomains.add(`${host}/${d}`);
    const free = users.length === 0;
    const usedBy = free ? 'nothing holds it and no domain uses it' : sayList(users);
    const stopFix: Fix = { on: host, argv: ['mdadm', '--stop', path], why: 'stop it: nothing holds it and no domain uses it (mdadm refuses while anything has it open)' };

    if (ours) {
      const vm = first.vm;
      const driver = liveRunOf(ctx, host, vm);
      if (driver !== null) {
        ctx.notes.push({ host, vm, text: `${subject}: ${vm}'s mirror of ${first.target}, ${state}; ${driver} drives it: nothing to do` });
        ctx.reportedArrays.add(`${host}/${k}`);
        continue;
      }
      ctx.reportedArrays.add(`${host}/${k}`);
      const w = underWay(ctx, host, vm);
      const brokenI2 = [...definedOn];
      const head = `sanshift's mirror of ${vm} ${first.target}: holds ${sayList(legs)}, ${state}; ${usedBy}${brokenI2.length === 0 ? '' : ` (fix ${sayList(brokenI2)}'s persistent definition first: below)`}`;
      if ((w.journal || w.record !== null) && first.inventory) {
        const run = w.record?.runId ?? lastRunOf(ctx, vm);
        const dead = run === null ? '' : ` Its run ${run} is not alive${ctx.runs.crashedHere.has(run) ? ` (its process, pid ${ctx.runs.crashedHere.get(run)}, is gone)` : ''}.`;
        ctx.findings.push({ kind: FindingKind.leftMirror, host, vm, subject, detail: `${head}. No run drives it: the migration was left in mid-way.${dead}`, fixes: continueOrRollBack(ctx, host, vm) });
      } else if (first.inventory) {
        const f = ctx.facts(vm);
        const why = f.outcome === 'done' ? 'its migration completed' : f.outcome === 'rolled-back' ? 'its migration was rolled back' : 'no migration of it is recorded here (no journal, no record in its definition)';
        ctx.findings.push({ kind: FindingKind.leftMirror, host, vm, subject, detail: `${head}. ${why}: nothing will stop it but you.`, fixes: free ? [stopFix] : [] });
      } else {
        ctx.findings.push({ kind: FindingKind.leftMirror, host, vm: null, subject, detail: `${head}. ${vm} is not in this inventory${w.record === null ? '' : `; its definition records run ${w.record.runId}`}: continue or roll it back with the inventory that run used.`, fixes: [] });
      }
      continue;
    }
    ctx.reportedArrays.add(`${host}/${k}`);
    const whyNot = !oneDisk
      ? matched.length < members.length
        ? 'it also holds a device that is not an inventory volume'
        : 'it holds volumes of more than one disk'
      : `its name is not ${mirrorPathFor(first.vm, first.target)}`;
    const fixes: Fix[] = [{ on: host, argv: ['mdadm', '--detail', path], why: 'find out what it is and who built it first: sanshift never stops an array it did not build' }];
    if (free) fixes.push({ ...stopFix, why: 'then, once you know nothing needs it, stop it (nothing holds it and no domain uses it now)' });
    const blocks = vms.filter((v) => specOf(ctx, v) !== undefined);
    ctx.findings.push({
      kind: FindingKind.strangerArray,
      host,
      vm: blocks.length === 1 ? blocks[0]! : null,
      subject,
      detail: `not an array sanshift builds (${whyNot}): holds ${sayList(legs)}, ${state}; ${usedBy}.${blocks.length === 0 ? '' : ` sanshift refuses to migrate ${sayList(blocks)} while it holds ${blocks.length === 1 ? 'its volume' : 'their volumes'}.`}`,
      fixes,
    });
  }
}

function lastRunOf(ctx: Ctx, vm: string): string | null {
  for (let i = ctx.input.records.length - 1; i >= 0; i--) {
    const r = ctx.input.records[i]!;
    if ('vm' in r && r.vm === vm) return r.run;
  }
  return null;
}

function describeArray(snap: HostSnapshot, k: string): string {
  const s = mirrorStateIn(snap, k);
  const slots = s.slotsUp === null ? '' : `[${s.slotsUp.map((u) => (u ? 'U' : '_')).join('')}] `;
  if (s.failedLeg !== null) return `${slots}leg ${s.failedLeg} failed`;
  if (s.progress !== null) return `${slots}resync ${s.progress.percent.toFixed(1)}%`;
  if (s.inSync) return `${slots}in sync`;
  return `${slots}${s.syncAction ?? 'state unknown'}${s.degraded !== null && s.degraded > 0 ? `, degraded ${s.degraded}` : ''}`;
}

/** An md device a definition names: by its path, or by where it resolves on the host. */
function mdOf(snap: HostSnapshot | null, source: string): { kname: string | null } | null {
  const resolved = snap === null ? source : resolvedPath(snap, source);
  const k = /^\/dev\/(md\d+)$/.exec(resolved)?.[1] ?? null;
  if (k !== null) return { kname: k };
  return /^\/dev\/md(\/|\d)/.test(source) ? { kname: null } : null;
}

/** An array with a superblock, not built over inventory volumes and not named like sanshift's:
 * an ordinary software RAID a domain may well live on. */
function ordinaryRaid(ctx: Ctx, host: string, snap: HostSnapshot | null, source: string, kname: string | null): boolean {
  if (snap === null || kname === null || ctx.reportedArrays.has(`${host}/${kname}`)) return false;
  if (/^\/dev\/md\/ss-/.test(source)) return false;
  const a = snap.mdstat.arrays.find((x) => x.kernelName === kname);
  return a !== undefined && a.active && a.superblock !== 'non-persistent';
}

/** Findings 2 and the managed save: domains whose definitions point at /dev/md. */
function diagnoseDomains(ctx: Ctx, host: string): void {
  const h = ctx.hosts.get(host)!;
  const snap = h.scan.snapshot;
  const uri = h.scan.uri;
  for (const d of h.domains.values()) {
    if (!shown(ctx, [d.name])) continue;
    const inInventory = specOf(ctx, d.name) !== undefined;
    const sources = ctx.parsed.sourcesOf([d]);
    const onMd = (live: boolean) =>
      sources
        .filter((s) => s.live === live)
        .map((s) => ({ ...s, md: mdOf(snap, s.source) }))
        .filter((s): s is typeof s & { md: { kname: string | null } } => s.md !== null && !ordinaryRaid(ctx, host, snap, s.source, s.md.kname));
    const persistent = onMd(false);
    const live = d.id === null ? [] : onMd(true);
    const record = ctx.parsed.recordOf(d);
    const f = ctx.facts(d.name);
    const q = (s: string) => (isSafeDomainName(s) ? s : null);
    const name = q(d.name);
    if (persistent.length > 0) {
      const what = persistent.map((s) => `${s.target} on ${s.source}${s.md.kname === null ? ' (no such array now)' : s.md.kname === s.source.slice(5) ? '' : ` (${s.md.kname})`}`);
      // where each disk belongs: OLD until the VM may have run on NEW, NEW from then on (OLD is
      // stale after the cutover: defining the journal's original then would lose data)
      const past = f.outcome === 'done' || f.startOnNewIntended || f.startedOnNew;
      const known = h.known.filter((k) => k.vm === d.name);
      const back = persistent.map((s) => {
        const rec = record?.disks.find((r) => r.mirror === s.source) ?? record?.disks.find((r) => r.target === s.target);
        const kd = known.find((k) => k.target === s.target);
        const old = rec?.old ?? kd?.old ?? (f.originalXml === null ? undefined : ctx.parsed.of(f.originalXml).disks.find((x) => x.target === s.target)?.source) ?? null;
        const nu = rec?.new ?? kd?.new ?? null;
        return { ...s, to: past ? nu : old };
      });
      const where = (fallback: string) => sayList(back.map((b) => `${b.target} back at ${b.to ?? fallback}`));
      const fixes: Fix[] = [];
      if (name !== null && f.originalXml !== null && !past) {
        const file = `${d.name}.original.xml`;
        fixes.push({ on: null, argv: sanshiftArgv(ctx, 'doctor', '--original', d.name), stdoutTo: file, why: `write the definition the journal recorded before sanshift first changed ${d.name} (its disks on their old volumes)` });
        fixes.push({ on: null, argv: ['virsh', '-c', uri, 'define', file], why: `make it ${d.name}'s persistent definition again. That copy was read without secrets (no console password) and has none of the edits made since; to keep them, use \`virsh -c ${uri} edit ${d.name}\` instead and point ${where('its old volume')}` });
      } else if (name !== null) {
        fixes.push({ on: null, argv: ['virsh', '-c', uri, 'edit', d.name], why: past ? `point ${where('its new volume')}: its migration ${f.outcome === 'done' ? 'completed' : 'passed its cutover'}, so its old volumes are stale` : `point ${where('the volume it used before (no journal here records it)')}` });
      }
      if (inInventory && !past && (live.length > 0 || underWay(ctx, host, d.name).journal)) fixes.push({ on: null, argv: sanshiftArgv(ctx, 'run', d.name), why: 'then continue its migration' });
      ctx.findings.push({
        kind: FindingKind.persistentOnMirror,
        host,
        vm: inInventory ? d.name : null,
        subject: `domain ${d.name}`,
        detail: `its persistent definition puts ${sayList(what)}: invariant I2 is broken. A mirror lives only in kernel memory, so the next boot (a host reboot, \`virsh start\`) needs an array that will not be there${live.length > 0 ? `; it runs on ${sayList(live.map((s) => s.source))} now` : ''}. sanshift will not touch ${d.name} until its definition is off the mirror.`,
        fixes,
      });
      ctx.coveredDomains.add(`${host}/${d.name}`);
    } else if (live.length > 0) {
      const covered = live.every((s) => s.md.kname !== null && ctx.reportedArrays.has(`${host}/${s.md.kname}`));
      const driver = liveRunOf(ctx, host, d.name);
      if (driver !== null) ctx.notes.push({ host, vm: inInventory ? d.name : null, text: `domain ${d.name} runs on ${sayList(live.map((s) => s.source))}; ${driver} drives it` });
      else if (!covered) {
        ctx.findings.push({
          kind: FindingKind.liveOnMirror,
          host,
          vm: inInventory ? d.name : null,
          subject: `domain ${d.name}`,
          detail: `it runs on ${sayList(live.map((s) => `${s.source}${s.md.kname === null ? '' : ` (${s.md.kname})`}`))} and no run drives it; its persistent definition is not on a mirror, so a restart boots it there (on OLD, if sanshift's record is right).${inInventory ? '' : ` ${d.name} is not in this inventory${record === null ? '' : `; its definition records run ${record.runId}`}.`}`,
          fixes: inInventory ? continueOrRollBack(ctx, host, d.name) : [],
        });
      }
    }
    if (d.managedSave && (record !== null || underWay(ctx, host, d.name).journal || persistent.length > 0 || live.length > 0) && name !== null) {
      ctx.findings.push({
        kind: FindingKind.managedSave,
        host,
        vm: inInventory ? d.name : null,
        subject: `domain ${d.name}`,
        detail: `it has a managed save image (libvirt-guests at a host shutdown?) taken during its migration: starting it would resume the saved live definition, possibly on a mirror that no longer exists. sanshift refuses to act on it meanwhile.`,
        fixes: [{ on: null, argv: ['virsh', '-c', uri, 'managedsave-remove', d.name], why: 'discard the image once you have checked it (`virsh save-image-dumpxml` shows its disks): the guest then boots from its persistent definition, as after a power cut' }],
      });
    }
  }
}

/** Finding 3: sanshift's record from a run this state folder has no journal of. */
function diagnoseRecords(ctx: Ctx, host: string): void {
  const h = ctx.hosts.get(host)!;
  for (const d of h.domains.values()) {
    const record = ctx.parsed.recordOf(d);
    if (record === null || ctx.runs.known.has(record.runId) || !shown(ctx, [d.name])) continue;
    const inInventory = specOf(ctx, d.name) !== undefined;
    const driver = liveRunOf(ctx, host, d.name);
    if (driver !== null) {
      ctx.notes.push({ host, vm: inInventory ? d.name : null, text: `domain ${d.name} carries the record of run ${record.runId}, which has no journal in ${ctx.input.stateDir}: ${driver} is migrating it (its journal is in that run's state folder)` });
      continue;
    }
    const lease = h.leases.get(d.name);
    const where = lease !== undefined && lease.run === record.runId ? ` Its lease here names ${describeOwner(lease.lease.owner)}.` : '';
    const leftElsewhere = ctx.vmsWithArrays.has(`${host}/${d.name}`) || ctx.coveredDomains.has(`${host}/${d.name}`);
    const fixes: Fix[] = [];
    if (inInventory) fixes.push({ on: null, argv: sanshiftArgv(ctx, 'run', d.name), why: 'continue its migration from here: the run takes it up where the host shows it (a rollback needs the original definition, which only that run\'s journal has: with its state folder, `--state-dir` it)' });
    if (!leftElsewhere && isSafeDomainName(d.name)) {
      fixes.push({ on: null, argv: ['virsh', '-c', h.scan.uri, 'metadata', d.name, '--uri', MIGRATION_NAMESPACE, '--config', '--remove'], why: `${inInventory ? 'or, ' : ''}if that migration is abandoned (nothing else of it is left on ${host}: no mirror, no definition on one), take the record out; nothing else in the definition changes` });
    }
    ctx.findings.push({
      kind: FindingKind.metadataWithoutJournal,
      host,
      vm: inInventory ? d.name : null,
      subject: `domain ${d.name}`,
      detail: `its definition carries sanshift's record of run ${record.runId} (phase ${record.phase}${record.updatedAt === undefined ? '' : `, ${record.updatedAt}`}; ${sayList(record.disks.map((x) => `${x.target}: ${x.old} -> ${x.new}`))}), and ${ctx.input.stateDir} has no journal of that run: it ran from another machine or another state folder, or its state folder was lost.${where}${inInventory ? '' : ` ${d.name} is not in this inventory.`}`,
      fixes,
    });
  }
}

/** Finding 4: the new volumes of VMs not yet migrated that are in use or already hold data. */
function diagnoseNewVolumes(ctx: Ctx, host: string): void {
  const h = ctx.hosts.get(host)!;
  const snap = h.scan.snapshot;
  if (snap === null) return;
  const byVm = new Map<string, KnownDisk[]>();
  for (const d of h.known) if (d.inventory) byVm.set(d.vm, [...(byVm.get(d.vm) ?? []), d]);
  for (const [vm, disks] of byVm) {
    if (!shown(ctx, [vm])) continue;
    const f = ctx.facts(vm);
    const reading = h.domains.get(vm);
    if (f.outcome === 'done' || reading === undefined) continue;
    const persistent = new Map(ctx.parsed.of(reading.persistentXml).disks.map((x) => [x.target, x.source]));
    if (disks.every((d) => persistent.get(d.target) === d.new)) continue;
    const driven = liveRunOf(ctx, host, vm) !== null;
    const joinedBefore = ctx.joined.get(vm) ?? new Set<string>();
    for (const d of disks) {
      const dev = deviceOf(snap, d.new);
      if (dev === null) continue;
      const users: string[] = [];
      for (const k of [dev.kname, ...dev.partitions]) {
        const x = snap.devices.get(k);
        if (x === undefined) continue;
        const who = k === dev.kname ? d.new : `its partition ${k}`;
        for (const hd of x.holders) {
          // an md array holding it is reported above (its own mirror, or another array)
          if (/^md\d+$/.test(hd) && (ctx.reportedArrays.has(`${host}/${hd}`) || driven)) continue;
          users.push(`${who} is held by ${hd}`);
        }
        for (const mt of snap.mounts) if (mt.majMin === x.majMin) users.push(`${who} is mounted on ${mt.mountpoint}`);
        if (snap.swaps.includes(`/dev/${k}`)) users.push(`${who} is an active swap`);
      }
      for (const u of usesOfDevice(ctx, host, dev)) {
        // the VM's own disk (on NEW already, after its cutover's define) is not another user
        if (u.domain === vm && u.host === host && u.target === d.target) continue;
        users.push(`domain ${u.domain} on ${u.host} uses it as ${u.target}${u.source === d.new ? '' : ` (as ${u.source})`}${u.live ? '' : ' in its persistent definition'}`);
      }
      const unique = [...new Set(users)];
      const subject = `${d.new} (${vm} ${d.target} NEW, ${dev.kname})`;
      const look: Fix = { on: host, argv: ['lsblk', '-o', 'NAME,TYPE,SIZE,FSTYPE,MOUNTPOINT', d.new], why: 'see what is on it and above it' };
      if (unique.length > 0) {
        ctx.findings.push({
          kind: FindingKind.newInUse,
          host,
          vm,
          subject,
          detail: `${vm} is not migrated yet, and its new volume is in use: ${sayList(unique)}. Preflight refuses ${vm} while it is (I5): either the inventory names the wrong volume (fix its disks: or the mapping), or whatever uses it must let it go.`,
          fixes: [look],
        });
        continue;
      }
      const data = [...(dev.fsType === undefined ? [] : [`a signature of ${dev.fsType}`]), ...(dev.partTable === undefined ? [] : [`a partition table (${dev.partTable})`]), ...(dev.partitions.length === 0 ? [] : [`partitions ${dev.partitions.join(', ')}`])];
      if (data.length > 0 && !joinedBefore.has(d.target)) {
        ctx.findings.push({
          kind: FindingKind.newHoldsData,
          host,
          vm,
          subject,
          detail: `${vm} is not migrated yet, and its new volume already holds data: ${sayList(data)} (as udev last saw it). Its migration overwrites the whole volume: make sure it is the right one, and that nothing on it is needed.`,
          fixes: [look, { on: host, argv: ['wipefs', d.new], why: 'list its signatures without changing anything; if it is the right volume and its content is expendable, `wipefs -a` clears them, else correct the inventory' }],
        });
      }
    }
  }
}

interface Use extends DiskSource {
  host: string;
}

/** Every domain disk that is this device (on its host), one of its partitions, the whole disk
 * it is a partition of, or the same LUN on any host (usesOf's rules, plan/in-use.ts). */
function usesOfDevice(ctx: Ctx, host: string, dev: DeviceFacts): Use[] {
  const found = new Set<Use>();
  for (const k of [dev.kname, ...dev.partitions]) for (const u of ctx.uses.byDevice.get(`${host}/${k}`) ?? []) found.add(u);
  const lun = lunIdOf(dev);
  if (lun !== null) for (const u of ctx.uses.byLun.get(lun) ?? []) found.add(u);
  return [...found];
}

function indexUses(ctx: Ctx): void {
  const add = (m: Map<string, Use[]>, key: string, u: Use) => {
    let list = m.get(key);
    if (list === undefined) m.set(key, (list = []));
    list.push(u);
  };
  for (const [host, h] of ctx.hosts) {
    const snap = h.scan.snapshot;
    if (snap === null) continue;
    for (const s of ctx.parsed.sourcesOf([...h.domains.values()])) {
      const dev = deviceOf(snap, s.source);
      if (dev === null) continue;
      const u: Use = { ...s, host };
      for (const k of [dev.kname, ...dev.partitions]) add(ctx.uses.byDevice, `${host}/${k}`, u);
      const lun = lunIdOf(dev);
      if (lun !== null) add(ctx.uses.byLun, lun, u);
      if (/^md\d+$/.test(dev.kname)) add(h.sources, dev.kname, u);
    }
  }
}

function targetsIn(r: { target?: string; detail?: Record<string, unknown> }): string[] {
  const list = r.detail?.['targets'];
  if (Array.isArray(list)) return list.filter((t): t is string => typeof t === 'string');
  return r.target === undefined ? [] : [r.target];
}

/** Items grouped by a key, in the order their keys first appear. */
function groupBy<T>(items: readonly T[], key: (t: T) => string): T[][] {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    let list = m.get(k);
    if (list === undefined) m.set(k, (list = []));
    list.push(t);
  }
  return [...m.values()];
}

/** Finding 5: leases on the host of runs that are not alive, one finding per dead run (a run of
 * a thousand VMs that died leaves a thousand leases: one command removes them). */
function diagnoseLeases(ctx: Ctx, host: string): void {
  const h = ctx.hosts.get(host)!;
  const views = [...h.leases.values()].filter((v) => shown(ctx, [v.lease.vm]));
  const inv = (vms: string[]) => (vms.length === 1 && specOf(ctx, vms[0]!) !== undefined ? vms[0]! : null);
  for (const group of groupBy(views.filter((v) => v.stale === null), (v) => v.lease.owner)) {
    const vms = group.map((v) => v.lease.vm);
    const left = Math.min(...group.map((v) => v.secondsLeft ?? Infinity));
    ctx.notes.push({ host, vm: inv(vms), text: `${sayList(vms)} ${vms.length === 1 ? 'is' : 'are'} leased to ${describeOwner(group[0]!.lease.owner)} for ${Number.isFinite(left) ? left : '?'} s more: a run in progress` });
  }
  const category = (v: LeaseView) => (v.secondsLeft !== null && v.secondsLeft < 0 && v.stale!.startsWith('it expired') ? 'expired' : v.stale!);
  for (const group of groupBy(views.filter((v) => v.stale !== null), (v) => `${v.lease.owner}\0${category(v)}`)) {
    const vms = group.map((v) => v.lease.vm);
    const files = vms.map((vm) => `${LEASE_DIR}/vm-${vm}.lease`);
    const expired = category(group[0]!) === 'expired';
    // the most recent expiry: the run stopped renewing at the latest then
    const why = expired ? `${vms.length === 1 ? 'it' : 'they'} expired ${Math.min(...group.map((v) => -(v.secondsLeft ?? 0)))} s ago: its run stopped renewing ${vms.length === 1 ? 'it' : 'them'} (it died, or lost this host)` : group[0]!.stale!;
    const safe = vms.every((vm) => isSafeDomainName(vm));
    const left = Math.max(...group.map((v) => v.secondsLeft ?? 0));
    const fixes: Fix[] = safe
      ? [{ on: host, argv: ['flock', `${LEASE_DIR}/leases.lock`, 'rm', '-f', ...files], why: expired ? "optional: any run takes an expired lease over by itself; this removes it under the leases' own lock" : `a run from this machine takes ${vms.length === 1 ? 'it' : 'them'} over by itself; from another machine, runs wait until ${vms.length === 1 ? 'it expires' : 'they expire'} (${left} s), or you remove ${vms.length === 1 ? 'it' : 'them'} (under the leases' own lock) once you are sure the run is dead` }]
      : [];
    ctx.findings.push({ kind: FindingKind.staleLease, host, vm: inv(vms), subject: vms.length === 1 ? `lease of ${vms[0]} (${files[0]})` : `leases of ${sayList(vms)} (${LEASE_DIR}/vm-*.lease)`, detail: `held by ${describeOwner(group[0]!.lease.owner)}; ${why}.`, fixes });
  }
}

/** Finding 5, here: claim files of this state folder whose run is not alive, one finding per run. */
function diagnoseClaims(ctx: Ctx): void {
  const claims = ctx.input.claims.filter((c) => shown(ctx, [c.vm]));
  const inv = (vms: string[]) => (vms.length === 1 && specOf(ctx, vms[0]!) !== undefined ? vms[0]! : null);
  const ownerOf = (c: ClaimFile) => (c.owner === undefined ? '?' : `${c.owner.run}\0${c.owner.pid}\0${c.owner.hostname}`);
  for (const group of groupBy(claims.filter((c) => claimStale(ctx, c) === null), ownerOf)) {
    const o = group[0]!.owner!;
    const vms = group.map((c) => c.vm);
    ctx.notes.push({ host: null, vm: inv(vms), text: `${sayList(vms)} ${vms.length === 1 ? 'is' : 'are'} claimed by run ${o.run} (pid ${o.pid} on ${o.hostname}${o.hostname === ctx.input.machine ? '' : ', another machine: sanshift cannot tell if it lives'}): a run in progress` });
  }
  for (const group of groupBy(claims.filter((c) => claimStale(ctx, c) !== null), (c) => `${ownerOf(c)}\0${claimStale(ctx, c)}`)) {
    const oneHost = group.every((c) => c.host === group[0]!.host);
    const vms = group.map((c) => (oneHost ? c.vm : `${c.vm} on ${c.host}`));
    ctx.findings.push({
      kind: FindingKind.staleClaim,
      host: null,
      vm: inv(group.map((c) => c.vm)),
      subject: group.length === 1 ? `claim of ${vms[0]} on ${group[0]!.host} (${group[0]!.path})` : `claims of ${sayList(vms)}${oneHost ? ` on ${group[0]!.host}` : ''} (in ${ctx.input.stateDir}/locks)`,
      detail: `${claimStale(ctx, group[0]!)}.`,
      fixes: [{ on: null, argv: ['rm', '-f', ...group.map((c) => c.path)], why: `optional: the next run takes a dead process's claim${group.length === 1 ? '' : 's'} over by itself` }],
    });
  }
}

/** A run of this machine that died mid-way: the VMs whose journal it wrote last and left under
 * way (their hosts may show nothing: a reboot, a rehearsal). One command continues them. */
function diagnoseInterruptedRuns(ctx: Ctx): void {
  if (ctx.runs.crashedHere.size === 0) return;
  const lastRun = new Map<string, string>();
  const started = new Map<string, string>();
  for (const r of ctx.input.records) {
    if ('vm' in r) lastRun.set(r.vm, r.run);
    if (r.kind === 'run-started') started.set(r.run, r.at);
  }
  for (const [run, pid] of ctx.runs.crashedHere) {
    const vms = [...lastRun].filter(([vm, last]) => {
      if (last !== run || !ctx.specs.has(vm) || !shown(ctx, [vm])) return false;
      const f = ctx.facts(vm);
      return f.originalXml !== null && f.outcome === null;
    }).map(([vm]) => vm);
    if (vms.length === 0) continue;
    const order = new Map(ctx.input.inventory.vms.map((v, i) => [v.name, i]));
    vms.sort((a, b) => order.get(a)! - order.get(b)!);
    ctx.findings.push({
      kind: FindingKind.interruptedRun,
      host: null,
      vm: vms.length === 1 ? vms[0]! : null,
      subject: `run ${run}`,
      detail: `it started ${started.get(run) ?? '?'} on this machine and never finished: its process (pid ${pid}) is gone. It left ${sayList(vms)} mid-way, as ${vms.length === 1 ? 'its' : 'their'} journal says (what ${vms.length === 1 ? 'its host still shows' : 'their hosts still show'} of it, if anything, is listed with ${vms.length === 1 ? 'that host' : 'those hosts'}).`,
      fixes: [
        { on: null, argv: sanshiftArgv(ctx, 'status', ...vms), why: vms.length === 1 ? 'where it stands now' : 'where each stands now' },
        { on: null, argv: sanshiftArgv(ctx, 'run', ...vms), why: vms.length === 1 ? 'continue it: it is taken up where its host and its journal show it' : 'continue them: each is taken up where its host and its journal show it' },
      ],
    });
  }
}

/** Every finding of the fleet, hosts in the inventory's order; pure. */
export function diagnose(input: DoctorInput): DoctorReport {
  const facts = factsByVm(input.records);
  const runs = runsOf(input);
  const ctx: Ctx = { input, facts, runs, findings: [], notes: [], hosts: new Map(), reportedArrays: new Set(), vmsWithArrays: new Set(), coveredDomains: new Set(), parsed: input.parsed ?? new ParsedDefinitions(), uses: { byDevice: new Map(), byLun: new Map() }, specs: new Map(input.inventory.vms.map((v) => [v.name, v])), joined: new Map(), volumes: { byDevice: new Map(), byLun: new Map() } };
  for (const r of input.records) {
    if (r.kind !== 'result' || r.step !== 'add-new-leg') continue;
    let set = ctx.joined.get(r.vm);
    if (set === undefined) ctx.joined.set(r.vm, (set = new Set()));
    for (const t of targetsIn(r)) set.add(t);
  }
  for (const scan of input.scans) {
    const domains = scan.domains ?? [];
    const clock = scan.snapshot?.clock ?? null;
    const leases = new Map((scan.snapshot?.leases ?? []).map((l) => [l.vm, judgeLease(l, clock, input, runs)] as const));
    ctx.hosts.set(scan.host, { scan, known: knownDisksOn(input.inventory, scan.host, domains, facts, ctx.parsed), domains: new Map(domains.map((d) => [d.name, d])), leases, sources: new Map() });
  }
  indexUses(ctx);
  ctx.volumes = indexVolumes(ctx.hosts);
  const perHost = new Map<string, Finding[]>();
  for (const scan of input.scans) {
    const before = ctx.findings.length;
    if (scan.libvirtError !== null) ctx.findings.push({ kind: FindingKind.hostNotRead, host: scan.host, vm: null, subject: `libvirt of ${scan.host} (${scan.uri})`, detail: `it could not be read: ${scan.libvirtError}. Its domains were not checked.`, fixes: [] });
    if (scan.probeError !== null) ctx.findings.push({ kind: FindingKind.hostNotRead, host: scan.host, vm: null, subject: `the shell of ${scan.host}`, detail: `the probe could not run: ${scan.probeError}. Its md arrays, volumes and leases were not checked.`, fixes: [] });
    diagnoseArrays(ctx, scan.host);
    diagnoseDomains(ctx, scan.host);
    diagnoseRecords(ctx, scan.host);
    diagnoseNewVolumes(ctx, scan.host);
    diagnoseLeases(ctx, scan.host);
    const mine = ctx.findings.splice(before);
    mine.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
    perHost.set(scan.host, mine);
  }
  diagnoseInterruptedRuns(ctx);
  diagnoseClaims(ctx);
  const findings = [...[...perHost.values()].flat(), ...ctx.findings];
  return { findings, notes: ctx.notes };
}

