// `sanshift simulate`: a rehearsal of the whole run on a virtual clock. On test-driver hosts
// with `shell: simulated` it runs the real engine (plan, scheduler, VM state machines) against
// libvirt's test driver and simulated md hosts; on real hosts it contacts nothing and plays the
// scheduler's model instead (docs/scheduling.md, "sanshift simulate"). Nothing real is touched.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { Connections, DEFAULT_GUEST_TIMES, DEFAULT_SIMULATED_SIZE } from '../engine/connections.js';
import type { EngineEvent } from '../engine/events.js';
import { newRunId } from '../engine/journal.js';
import { runFleet, RunMode } from '../engine/run.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { planBundles, type FleetVm } from '../plan/bundles.js';
import { fleetVmsFromInventory, fleetVmsFromPlan, unnamedArrayOf } from '../plan/fleet-input.js';
import { planFleet } from '../plan/fleet-plan.js';
import { makespanLowerBound, simulateFleet, type LowerBound, type TimelineEvent, type VmTimings } from '../plan/fleet-sim.js';
import { formatBytes, formatDuration } from '../report/event-lines.js';
import { renderTimelineHtml, seriesFromSegments, type RateSeries, type TimelinePage, type TimelineRow } from '../report/timeline.js';
import { rateSegments, rowsFromEvents, rowsFromModel, seriesFromSamples } from '../report/timeline-sources.js';
import { checkWritableFolder, writeFileAtomically } from './files.js';
import { VirtualClock } from '../util/clock.js';
import { ActionError, InputError, InputErrorCode } from '../util/errors.js';
import { formatInZone } from '../control/windows.js';
import { canaryBundlesOf, gatesOfBundles, zoneOf } from '../report/plan-view.js';
import { arg, type CliCommand } from './command.js';
import { stateDirFor } from './common.js';
import { selectedNames, selectionArgs, withSelection, type SelectionArgs } from './selection.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';
import { DEFAULT_DISK_SPEED_KIBS } from '../host/simulated.js';

/** The simulated host's disk speed: the rehearsal and the model copy alike. */
export const SIMULATED_DISK_SPEED_KIB = DEFAULT_DISK_SPEED_KIBS;

/** The model's timings: the simulated guests' power-off and boot, and a few seconds of md commands. */
export const MODEL_TIMINGS: VmTimings = { shutdownMs: DEFAULT_GUEST_TIMES.shutdownMs, bootMs: DEFAULT_GUEST_TIMES.bootMs, mirrorSetupMs: 3_000, mirrorStopMs: 3_000 };

/** A time span in milliseconds since the run started. */
export interface Span {
  startMs: number;
  endMs: number;
}

export interface SimulatedVm {
  vm: string;
  host: string;
  /** bundle id (planBundles over the run's VMs) */
  bundle: number;
  /** T1 down window: powered off until up on its mirrors */
  t1: Span | null;
  /** from the first `mdadm --add` until every mirror of the VM is in sync */
  resync: Span | null;
  /** T2 down window: powered off until up on its new volumes */
  t2: Span | null;
  /** sum of the T1 and T2 windows */
  downtimeMs: number;
  /** when its T1 and T2 windows start, as instants (ISO), from the rehearsal's startAt */
  t1At: string | null;
  t2At: string | null;
  /** the time zone of its maintenance window, when it has one: its times are shown there */
  zone?: string;
  bytes: number;
  outcome: 'done' | 'failed' | 'rolled-back' | 'unfinished';
  reason?: string;
}

export interface Rehearsal {
  inventory: string;
  /** the instant virtual time 0 stands for (ISO): when the run is assumed to start */
  startAt: string;
  /** 'engine': the real engine on test-driver hosts; 'model': the scheduler's model, no host contacted */
  source: 'engine' | 'model';
  vms: SimulatedVm[];
  bundles: number;
  makespanMs: number;
  lowerBound: LowerBound;
  /** makespan / lower bound */
  ratio: number;
  totals: { vms: number; done: number; failed: number; disks: number; bytes: number; downtimeMs: number; maxDowntimeMs: number };
  /** assumptions the operator should read */
  notes: string[];
}

/** Every host is a libvirt test-driver URI with a simulated shell: the real engine can run. */
export function canRunEngine(inv: Inventory): boolean {
  const hosts = Object.values(inv.hosts);
  return hosts.length > 0 && hosts.every((h) => h.shell === 'simulated' && h.uri.startsWith('test://'));
}

function windowOf(down: number | undefined, up: number | undefined): Span | null {
  return down === undefined || up === undefined ? null : { startMs: down, endMs: up };
}

const spanMs = (s: Span | null): number => (s === null ? 0 : s.endMs - s.startMs);

interface Marks {
  t1Down?: number;
  t1Up?: number;
  resyncStart?: number;
  resyncEnd?: number;
  t2Down?: number;
  t2Up?: number;
  outcome?: SimulatedVm['outcome'];
  reason?: string;
}

/** `bootAfterMs`: how long a guest still boots after its window ends (the engine's windows end
 * at the start's answer): the VM's downtime counts it, its windows do not. */
function rowsFrom(fleet: readonly FleetVm[], bundleOf: ReadonlyMap<string, number>, marks: ReadonlyMap<string, Marks>, bootAfterMs = 0): SimulatedVm[] {
  const down = (w: Span | null): number => (w === null ? 0 : spanMs(w) + bootAfterMs);
  return [...fleet]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((vm) => {
      const m = marks.get(vm.name) ?? {};
      const t1 = windowOf(m.t1Down, m.t1Up);
      const t2 = windowOf(m.t2Down, m.t2Up);
      return {
        vm: vm.name,
        host: vm.host,
        bundle: bundleOf.get(vm.name) ?? -1,
        t1,
        resync: windowOf(m.resyncStart, m.resyncEnd),
        t2,
        downtimeMs: down(t1) + down(t2),
        t1At: null,
        t2At: null,
        bytes: vm.disks.reduce((s, d) => s + d.sizeBytes, 0),
        outcome: m.outcome ?? 'unfinished',
        ...(m.reason === undefined ? {} : { reason: m.reason }),
      };
    });
}

function summarise(inventory: string, startAtMs: number, source: Rehearsal['source'], fleet: readonly FleetVm[], vms: SimulatedVm[], bundles: number, makespanMs: number, lowerBound: LowerBound, notes: string[]): Rehearsal {
  let downtimeMs = 0;
  let maxDowntimeMs = 0;
  for (const r of vms) {
    downtimeMs += r.downtimeMs;
    maxDowntimeMs = Math.max(maxDowntimeMs, r.downtimeMs);
  }
  for (const r of vms) {
    r.t1At = r.t1 === null ? null : new Date(startAtMs + r.t1.startMs).toISOString();
    r.t2At = r.t2 === null ? null : new Date(startAtMs + r.t2.startMs).toISOString();
  }
  const disks = fleet.reduce((s, vm) => s + vm.disks.length, 0);
  const bytes = fleet.reduce((s, vm) => s + vm.disks.reduce((t, d) => t + d.sizeBytes, 0), 0);
  return {
    inventory,
    startAt: new Date(startAtMs).toISOString(),
    source,
    vms,
    bundles,
    makespanMs,
    lowerBound,
    ratio: lowerBound.ms > 0 ? makespanMs / lowerBound.ms : 1,
    totals: { vms: vms.length, done: vms.filter((v) => v.outcome === 'done').length, failed: vms.filter((v) => v.outcome === 'failed').length, disks, bytes, downtimeMs, maxDowntimeMs },
    notes,
  };
}

/**
 * Per-VM windows from the engine's events, relative to `run-started`. The resync ends at the
 * poll that finds every mirror in sync: one poll interval after the last progress line (or
 * after the VM came up on its mirrors, when it synced before the first poll), and never after
 * the cutover check. That is when the engine tells the scheduler; md finished within that poll.
 */
export function marksFromEngineEvents(events: readonly EngineEvent[], pollIntervalMs: number): { marks: Map<string, Marks>; startMs: number; endMs: number } {
  const start = events.find((e) => e.kind === 'run-started')?.at ?? events[0]?.at ?? 0;
  const end = [...events].reverse().find((e) => e.kind === 'run-finished')?.at ?? events[events.length - 1]?.at ?? start;
  const marks = new Map<string, Marks>();
  const of = (vm: string): Marks => {
    let m = marks.get(vm);
    if (m === undefined) marks.set(vm, (m = {}));
    return m;
  };
  const lastProgress = new Map<string, number>();
  const cutover = new Map<string, number>();
  const synced = new Map<string, number>();
  for (const e of events) {
    const t = e.at - start;
    switch (e.kind) {
      case 'progress':
        lastProgress.set(e.vm, t);
        break;
      case 'resync-ended':
        synced.set(e.vm, t);
        break;
      case 'down':
        if (e.window === 'T1') of(e.vm).t1Down ??= t;
        else if (e.window === 'T2') of(e.vm).t2Down ??= t;
        break;
      case 'up':
        if (e.window === 'T1') of(e.vm).t1Up = t;
        else if (e.window === 'T2') of(e.vm).t2Up = t;
        break;
      case 'step-finished':
        if (e.step === 'add-new-leg') of(e.vm).resyncStart ??= t;
        break;
      case 'step-started':
        if (e.step === 'check-cutover' && !cutover.has(e.vm)) cutover.set(e.vm, t);
        break;
      case 'vm-finished': {
        const m = of(e.vm);
        m.outcome = e.outcome;
        if (e.reason !== undefined) m.reason = e.reason;
        break;
      }
      default:
        break;
    }
  }
  for (const [vm, checked] of cutover) {
    const m = of(vm);
    const lastSeen = lastProgress.get(vm) ?? m.t1Up;
    // the engine says when it saw every mirror in sync; older journals only let us infer it
    m.resyncEnd = synced.get(vm) ?? (lastSeen === undefined ? checked : Math.min(checked, lastSeen + pollIntervalMs));
  }
  return { marks, startMs: 0, endMs: end - start };
}

/** Per-VM windows from the model's timeline: a window runs from the start of the shutdown to healthy. */
export function marksFromModel(timeline: readonly TimelineEvent[], done: ReadonlySet<string>): Map<string, Marks> {
  const marks = new Map<string, Marks>();
  const of = (vm: string): Marks => {
    let m = marks.get(vm);
    if (m === undefined) marks.set(vm, (m = {}));
    return m;
  };
  for (const e of timeline) {
    if (e.kind === 'vm-stop') {
      if (e.phase === 'T1') of(e.vm).t1Down ??= e.t;
      else of(e.vm).t2Down ??= e.t;
    } else if (e.kind === 'vm-up') {
      if (e.phase === 'T1') of(e.vm).t1Up = e.t;
      else of(e.vm).t2Up = e.t;
    } else if (e.kind === 'resync-start') of(e.vm).resyncStart ??= e.t;
    else if (e.kind === 'resync-end') of(e.vm).resyncEnd = Math.max(of(e.vm).resyncEnd ?? 0, e.t);
  }
  for (const vm of done) of(vm).outcome = 'done';
  return marks;
}

/** The timings the engine's simulated guests have, as the lower bound sees them (md commands take no virtual time). */
export const ENGINE_TIMINGS: VmTimings = { ...DEFAULT_GUEST_TIMES, mirrorSetupMs: 0, mirrorStopMs: 0 };

const perMirrorKiB = (inv: Inventory): number => Math.min(SIMULATED_DISK_SPEED_KIB, inv.policy.resyncSpeedMaxKiB ?? Infinity);

/**
 * `work`, or an ActionError when Node runs out of things to do before it settles: on a virtual
 * clock that means every VM waits for something nothing will ever do (an engine deadlock), and
 * Node would otherwise exit silently with code 13.
 */
export async function untilStalled<T>(work: Promise<T>, describe: () => string): Promise<T> {
  let onIdle: (() => void) | undefined;
  const stalled = new Promise<never>((_, reject) => {
    onIdle = () => reject(new ActionError(`the rehearsal stalled: the engine waits for something that will never happen; ${describe()}`));
    process.once('beforeExit', onIdle);
  });
  try {
    return await Promise.race([work, stalled]);
  } finally {
    if (onIdle !== undefined) process.off('beforeExit', onIdle);
  }
}

/** The last thing each unfinished VM did, for a stalled rehearsal. */
export function stallReport(events: readonly EngineEvent[], vms: readonly string[]): string {
  const last = new Map<string, string>();
  const finished = new Set<string>();
  for (const e of events) {
    if (!('vm' in e)) continue;
    if (e.kind === 'vm-finished') finished.add(e.vm);
    last.set(e.vm, e.kind === 'step-started' || e.kind === 'step-finished' ? `${e.kind} ${e.step}` : e.kind);
  }
  const waiting = vms.filter((v) => !finished.has(v)).map((v) => `${v} (last: ${last.get(v) ?? 'nothing'})`);
  return `unfinished: ${waiting.join(', ')}`;
}

export interface RehearsalOptions {
  /** the VMs to rehearse (selected names); empty or left out: all */
  vms?: readonly string[];
  /** when the run is assumed to start: maintenance windows are read from there */
  startAt?: Date;
}

/** What the timeline page needs beyond the Rehearsal: rows from the run itself, and its rates. */
export interface PictureParts {
  rows: Map<string, TimelineRow>;
  arrays: RateSeries[];
  hosts: RateSeries[];
  ratesFrom: string;
  /** time zero of the rows (the run's start on its clock) */
  origin: number;
  /** limits.hostBandwidth in bytes/s */
  hostLimit: number | null;
}

export interface RehearsalWithPicture {
  rehearsal: Rehearsal;
  picture: PictureParts;
}

/** The configured array limits in bytes/s, for the picture's limit lines. */
const hostLimitOf = (inv: Inventory): number | null => (inv.limits.hostBandwidthKiB === undefined ? null : inv.limits.hostBandwidthKiB * 1024);
const arrayLimitsOf = (inv: Inventory): Map<string, number> => new Map(Object.entries(inv.limits.arrayBandwidthKiB).map(([a, kiB]) => [a, kiB * 1024]));

/** The real engine on the inventory's test-driver hosts, a virtual clock and a temp state folder. */
export async function rehearseOnEngine(inventory: Inventory, options: RehearsalOptions = {}): Promise<Rehearsal> {
  return (await rehearseOnEngineWith(inventory, options)).rehearsal;
}

async function rehearseOnEngineWith(inventory: Inventory, options: RehearsalOptions = {}): Promise<RehearsalWithPicture> {
  const stateDir = mkdtempSync(join(tmpdir(), 'sanshift-simulate-'));
  const clock = new VirtualClock((options.startAt ?? new Date(Date.UTC(2026, 0, 1))).getTime());
  const startAtMs = clock.now();
  const connections = new Connections(inventory, { clock, stateDir, guestTimes: DEFAULT_GUEST_TIMES });
  try {
    const runId = newRunId(clock.now());
    const outcome = await planFleet(inventory, connections, { runId, now: new Date(clock.now()), ...(options.vms === undefined ? {} : { vms: options.vms }) });
    if (outcome.problems.length > 0) throw new InputError(outcome.problems);
    for (const u of outcome.unreachable) throw u;
    const fleet = fleetVmsFromPlan(inventory, outcome.plan, { defaultSizeBytes: DEFAULT_SIMULATED_SIZE });
    const bundles = planBundles(fleet, inventory.limits);
    const events: EngineEvent[] = [];
    await untilStalled(runFleet({ plan: outcome.plan, inventory, connections, clock, stateDir, runId, mode: RunMode.migrate, emit: (e) => events.push(e) }), () => stallReport(events, outcome.plan.vms.map((v) => v.name)));
    const { marks, endMs } = marksFromEngineEvents(events, inventory.policy.pollIntervalMs);
    const lowerBound = makespanLowerBound(fleet, inventory.limits, () => ENGINE_TIMINGS, perMirrorKiB(inventory));
    // a window ends at the start's answer; the guest boots this much longer, down all the same
    const bootAfterMs = DEFAULT_GUEST_TIMES.bootMs - DEFAULT_GUEST_TIMES.startMs;
    const notes = [
      'the real engine (plan, scheduler, VM state machines) against libvirt\'s test driver and simulated md hosts, on a virtual clock',
      `guests take ${DEFAULT_GUEST_TIMES.shutdownMs / 1000}s to power off and ${DEFAULT_GUEST_TIMES.bootMs / 1000}s to boot, of which libvirt's start takes ${DEFAULT_GUEST_TIMES.startMs / 1000}s; a simulated disk copies at most ${formatBytes(SIMULATED_DISK_SPEED_KIB * 1024)}/s`,
      `a window runs from powered off to the start's answer (as on a real host); DOWNTIME adds the ${bootAfterMs / 1000}s each guest boots after it; a resync ends at the poll that sees every mirror of the VM in sync (every ${inventory.policy.pollIntervalMs / 1000}s)`,
    ];
    if (lowerBound.ms > endMs) notes.push('the makespan is below the lower bound: this engine does not enforce every bandwidth limit of the inventory yet');
    const rehearsal = summarise(inventory.file, startAtMs, 'engine', fleet, rowsFrom(fleet, bundles.bundleOf, marks, bootAfterMs), bundles.bundles.length, endMs, lowerBound, notes);
    const rows = rowsFromEvents(events);
    const placement = new Map(outcome.plan.vms.map((v) => [v.name, { host: v.host, arrays: v.disks.map((d) => d.array ?? unnamedArrayOf(v.host)) }]));
    const rates = rateSegments(events, rows, (vm) => placement.get(vm));
    const origin = events.find((e) => e.kind === 'run-started')?.at ?? 0;
    return {
      rehearsal,
      picture: { rows, origin, hostLimit: hostLimitOf(inventory), arrays: seriesFromSegments(rates.arrays, arrayLimitsOf(inventory)), hosts: seriesFromSegments(rates.hosts), ratesFrom: 'Rates: the speed the simulated md reported at each poll of the real engine (a VM in sync before its first poll: its bytes over its resync time); a VM\'s speed is split evenly over its disks\' arrays.' },
    };
  } finally {
    await connections.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** The inventory narrowed to `vms`, links to VMs left out dropped (they take no window here). */
function narrowed(inventory: Inventory, vms: readonly string[] | undefined): Inventory {
  if (vms === undefined || vms.length === 0) return inventory;
  const chosen = new Set(vms);
  return { ...inventory, vms: inventory.vms.filter((v) => chosen.has(v.name)).map((v) => ({ ...v, dependsOn: v.dependsOn.filter((d) => chosen.has(d)) })) };
}

/** The scheduler's model over the inventory alone: no host is contacted. Honours the VMs'
 * maintenance windows from `startAt` (default: now). */
export function rehearseOnModel(whole: Inventory, options: RehearsalOptions = {}): Rehearsal {
  return rehearseOnModelWith(whole, options, false).rehearsal;
}

function rehearseOnModelWith(whole: Inventory, options: RehearsalOptions, picture: true): RehearsalWithPicture;
function rehearseOnModelWith(whole: Inventory, options: RehearsalOptions, picture: false): { rehearsal: Rehearsal };
function rehearseOnModelWith(whole: Inventory, options: RehearsalOptions, picture: boolean): { rehearsal: Rehearsal; picture?: PictureParts } {
  const inventory = narrowed(whole, options.vms);
  const startAtMs = (options.startAt ?? new Date()).getTime();
  const model = fleetVmsFromInventory(inventory, { defaultSizeBytes: DEFAULT_SIMULATED_SIZE });
  const plan = planBundles(model.vms, inventory.limits);
  const gates = gatesOfBundles(inventory, plan);
  let result;
  try {
    result = simulateFleet(model.vms, inventory.limits, {
      plan,
      timings: () => MODEL_TIMINGS,
      scheduler: { seed: 0, mirrorSpeedKiB: SIMULATED_DISK_SPEED_KIB, ...(inventory.policy.resyncSpeedMaxKiB === undefined ? {} : { resyncSpeedMaxKiB: inventory.policy.resyncSpeedMaxKiB }) },
      gateOf: (b) => gates.get(b),
      startAtMs,
      canaryBundles: canaryBundlesOf(inventory, plan),
      // every bandwidth allocation, for the picture only: a 10,000-VM fleet keeps millions of them
      recordRates: picture,
    });
  } catch (err) {
    // windows that never open (or never together for a bundle) are the inventory's fault
    if (err instanceof Error && err.message.includes('maintenance windows')) throw InputError.one({ code: InputErrorCode.invalidInput, message: err.message.replace(/^simulation stalled at \d+ ms: /, ''), hint: 'widen the windows, remove except: dates, or give the VMs of one bundle windows that overlap', at: { file: inventory.file } });
    throw err;
  }
  const done = new Set(result.timeline.filter((e) => e.kind === 'vm-up' && e.phase === 'T2').map((e) => (e as { vm: string }).vm));
  const notes = [
    canRunEngine(whole)
      ? 'the MODEL of the scheduler (--model), not the engine: sanshift contacted no host and read no domain'
      : 'the MODEL of the scheduler, not the engine: these hosts are real, so sanshift contacted none of them and read no domain',
    `guests take ${MODEL_TIMINGS.shutdownMs / 1000}s to power off and ${MODEL_TIMINGS.bootMs / 1000}s to boot, md commands ${MODEL_TIMINGS.mirrorSetupMs / 1000}s per window; a disk copies at most ${formatBytes(SIMULATED_DISK_SPEED_KIB * 1024)}/s`,
    'a window runs from the start of the shutdown to up again',
  ];
  if (model.assumedDisks.length > 0) notes.push(`disks not named in the inventory, one ${formatBytes(DEFAULT_SIMULATED_SIZE)} disk assumed for: ${model.assumedDisks.join(', ')}`);
  if (model.unknownArrays.length > 0) {
    const arrays = [...new Set(inventory.mapping.map((r) => r.array ?? 'none'))].sort();
    const which = model.unknownArrays.length === model.vms.length ? 'no VM names its own' : `${model.unknownArrays.length} VMs name none (${model.unknownArrays.slice(0, 10).join(', ')}${model.unknownArrays.length > 10 ? ', ...' : ''})`;
    notes.push(`the mapping rules name different arrays (${arrays.join(', ')}) and ${which} with \`array:\`: which array a disk goes to depends on its old volume, which only its host knows, so the model counts those disks on their host's own array, outside limits.arrayBandwidth; the makespan and its lower bound may both be too low`);
  }
  const sized = model.defaultSizes.filter((d) => !model.assumedDisks.includes(d.split('/')[0]!));
  if (sized.length > 0) notes.push(`no simulate.sizes, ${formatBytes(DEFAULT_SIMULATED_SIZE)} assumed for: ${sized.join(', ')}`);
  const canaries = canaryBundlesOf(inventory, plan);
  if (canaries.length > 0) notes.push(`canaries first (rollout.canaries): no other VM enters T1 before ${plan.bundles.filter((b) => canaries.includes(b.id)).flatMap((b) => b.vms).join(', ')} ${canaries.length === 1 && plan.bundles[canaries[0]!]!.vms.length === 1 ? 'is' : 'are'} done`);
  if (gates.size > 0) notes.push(`maintenance windows applied from a start at ${new Date(startAtMs).toISOString()}: no T1 or T2 starts while a VM's window is closed (a bundle waits for all its members'); resyncs run on; the lower bound ignores the windows`);
  const rehearsal = summarise(inventory.file, startAtMs, 'model', model.vms, rowsFrom(model.vms, plan.bundleOf, marksFromModel(result.timeline, done)), plan.bundles.length, result.makespanMs, result.lowerBound, notes);
  if (!picture) return { rehearsal };
  return {
    rehearsal,
    picture: {
      rows: rowsFromModel(result.timeline),
      origin: 0,
      hostLimit: hostLimitOf(inventory),
      arrays: seriesFromSamples(result.rates, (m) => m.array, arrayLimitsOf(inventory)),
      hosts: seriesFromSamples(result.rates, (m) => m.host),
      ratesFrom: 'Rates: the bandwidth the scheduler\'s model gave each resync, summed per array and per host.',
    },
  };
}

export async function rehearse(inventory: Inventory, options: RehearsalOptions & { model?: boolean } = {}): Promise<Rehearsal> {
  return (await rehearseWith(inventory, options, false)).rehearsal;
}

/** The rehearsal, and what its timeline page needs. */
export async function rehearseWithPicture(inventory: Inventory, options: RehearsalOptions & { model?: boolean } = {}): Promise<RehearsalWithPicture> {
  return (await rehearseWith(inventory, options, true)) as RehearsalWithPicture;
}

async function rehearseWith(inventory: Inventory, options: RehearsalOptions & { model?: boolean }, picture: boolean): Promise<{ rehearsal: Rehearsal; picture?: PictureParts }> {
  const both = canRunEngine(inventory) && options.model !== true ? await rehearseOnEngineWith(inventory, options) : picture ? rehearseOnModelWith(inventory, options, true) : rehearseOnModelWith(inventory, options, false);
  const specs = new Map(inventory.vms.map((v) => [v.name, v]));
  for (const row of both.rehearsal.vms) {
    const spec = specs.get(row.vm);
    if (spec?.policy.windows !== undefined) row.zone = zoneOf(spec);
  }
  return both;
}

/** The timeline page of a rehearsal: its rows and rates, with the facts the text output prints. */
export function timelineOfRehearsal(r: Rehearsal, parts: PictureParts): TimelinePage {
  const byVm = new Map(r.vms.map((v) => [v.vm, v]));
  const rows = [...parts.rows.values()].map((row) => {
    const v = byVm.get(row.vm);
    return v === undefined ? row : { ...row, host: v.host, group: `bundle ${v.bundle}`, outcome: v.outcome, reason: v.reason ?? row.reason, bytes: row.bytes ?? v.bytes };
  });
  const lb = r.lowerBound;
  const t = r.totals;
  return {
    title: `sanshift simulate: ${r.inventory}`,
    subtitle: [r.source === 'engine' ? 'REHEARSAL on the real engine, virtual clock: nothing real is touched.' : 'MODEL: a rehearsal of the scheduler on a virtual clock, not of the engine: no host was contacted.'],
    origin: parts.origin,
    end: parts.origin + r.makespanMs,
    wallClockStart: null,
    lowerBound: { ms: lb.ms, label: lb.ms === lb.longestVmMs ? 'the longest single VM' : `bottleneck ${lb.bottleneck}` },
    facts: [
      ['VMs', `${t.vms} in ${r.bundles} bundles: ${t.done} done, ${t.failed} failed`],
      ['makespan', `${formatDuration(r.makespanMs)} (${clockTime(r.makespanMs)})`],
      ['lower bound', `${formatDuration(lb.ms)} (${lb.ms === lb.longestVmMs ? 'the longest single VM' : `bottleneck ${lb.bottleneck}`}); ratio ${r.ratio.toFixed(3)}`],
      ['copied', `${formatBytes(t.bytes)} on ${t.disks} disks`],
      ['downtime', `${formatDuration(t.downtimeMs)} in all, ${formatDuration(t.vms === 0 ? 0 : t.downtimeMs / t.vms)} per VM on average, ${formatDuration(t.maxDowntimeMs)} at most`],
    ],
    rows,
    arrays: parts.arrays,
    hosts: parts.hosts,
    hostLimit: parts.hostLimit,
    ratesFrom: parts.ratesFrom,
    notes: r.notes,
  };
}

/** h:mm:ss since the run started */
export function clockTime(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

const spanText = (s: Span | null): string => (s === null ? '-' : `${clockTime(s.startMs)}-${clockTime(s.endMs)}`);

export function renderRehearsalText(r: Rehearsal): string {
  const out: string[] = [];
  out.push(`sanshift simulate: ${r.inventory}`);
  out.push(r.source === 'engine' ? 'REHEARSAL on the real engine, virtual clock: nothing real is touched (state in a temporary folder, deleted after).' : 'MODEL: a rehearsal of the scheduler on a virtual clock, not of the engine: no host was contacted, nothing real is touched.');
  for (const n of r.notes) out.push(`  - ${n}`);
  out.push('');
  // with maintenance windows, the hours since the start say less than the local time each VM goes down
  const local = r.vms.some((v) => v.zone !== undefined);
  const when = (at: string | null, zone: string | undefined): string => (at === null ? '-' : formatInZone(Date.parse(at), zone ?? 'UTC'));
  if (local) out.push(`The run is assumed to start at ${r.startAt}; T1 AT and T2 AT are local times in each VM's window zone (UTC without one).`, '');
  const head = ['VM', 'HOST', 'BUNDLE', 'SIZE', ...(local ? ['T1 AT'] : []), 'T1 DOWN', 'RESYNC', ...(local ? ['T2 AT'] : []), 'T2 DOWN', 'DOWNTIME', 'OUTCOME'];
  const body = [...r.vms]
    .sort((a, b) => (a.t1?.startMs ?? Infinity) - (b.t1?.startMs ?? Infinity) || (a.vm < b.vm ? -1 : 1))
    .map((v) => [v.vm, v.host, String(v.bundle), formatBytes(v.bytes), ...(local ? [when(v.t1At, v.zone)] : []), spanText(v.t1), spanText(v.resync), ...(local ? [when(v.t2At, v.zone)] : []), spanText(v.t2), formatDuration(v.downtimeMs), v.reason === undefined ? v.outcome : `${v.outcome}: ${v.reason}`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  for (const row of [head, ...body]) out.push(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  out.push('');
  const lb = r.lowerBound;
  out.push(`makespan ${formatDuration(r.makespanMs)} (${clockTime(r.makespanMs)}); lower bound ${formatDuration(lb.ms)} (${lb.ms === lb.longestVmMs ? 'the longest single VM' : `bottleneck ${lb.bottleneck}`}); ratio ${r.ratio.toFixed(3)}`);
  const t = r.totals;
  out.push(`${t.vms} VMs in ${r.bundles} bundles: ${t.done} done, ${t.failed} failed; ${t.disks} disks, ${formatBytes(t.bytes)} copied`);
  out.push(`downtime: ${formatDuration(t.downtimeMs)} in all, ${formatDuration(t.vms === 0 ? 0 : t.downtimeMs / t.vms)} per VM on average, ${formatDuration(t.maxDowntimeMs)} at most`);
  return `${out.join('\n')}\n`;
}

export function renderRehearsalJson(r: Rehearsal): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export interface SimulateArgs {
  inventory: string;
  json: boolean;
  vm?: string[];
  selection?: SelectionArgs;
  stateDir?: string;
  /** --start: when the run is assumed to start (ISO 8601); default now */
  start?: string;
  /** --model: the scheduler's model even on test-driver hosts (it applies maintenance windows) */
  model?: boolean;
  /** also write the timeline page (HTML) to this file */
  html?: string;
}

/** --start: an ISO 8601 instant; a time without an offset is refused (whose 22:00?). */
export function parseStart(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text));
  if (!ok) {
    throw InputError.one({ code: InputErrorCode.invalidInput, message: `--start ${JSON.stringify(text)} is not an instant`, hint: 'write an ISO 8601 time with its offset, e.g. 2026-11-24T20:00:00+01:00 or 2026-11-24T19:00:00Z' });
  }
  return new Date(text);
}

export async function simulateCommand(args: SimulateArgs, io: Io): Promise<number> {
  // an unwritable page is refused before hours of virtual time are played, not after
  if (args.html !== undefined) checkWritableFolder(args.html, '--html');
  const inventory = await loadInventory(args.inventory);
  const startAt = parseStart(args.start);
  const vms = selectedNames(inventory, args.vm ?? [], args.selection ?? { limit: [], exclude: [], failed: false }, stateDirFor(args.inventory, args.stateDir));
  const options = { vms, ...(startAt === undefined ? {} : { startAt }), model: args.model === true };
  let r: Rehearsal;
  if (args.html === undefined) r = await rehearse(inventory, options);
  else {
    const both = await rehearseWithPicture(inventory, options);
    r = both.rehearsal;
    // the page names the inventory as the operator typed it
    writeFileAtomically(args.html, renderTimelineHtml(timelineOfRehearsal({ ...r, inventory: args.inventory }, both.picture)));
  }
  io.out(args.json ? renderRehearsalJson(r) : renderRehearsalText(r));
  if (args.html !== undefined) (args.json ? io.err : io.out).call(io, `timeline: ${args.html}\n`);
  return r.totals.failed > 0 || r.totals.done < r.totals.vms ? ExitCode.failed : ExitCode.ok;
}

export const simulateCli: CliCommand = {
  command: 'simulate [vm..]',
  describe: 'rehearse the whole run on a virtual clock: timeline, downtime per VM (and when, with maintenance windows), makespan against its lower bound; nothing real is touched',
  builder: (y: Argv) =>
    withSelection(y)
      .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to rehearse (default: every VM of the inventory)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the rehearsal as JSON' })
      .option('start', { type: 'string', describe: 'assume the run starts at this instant (ISO 8601 with offset; default: now): maintenance windows are read from there' })
      .option('model', { type: 'boolean', default: false, describe: "play the scheduler's model even on test-driver hosts (it applies maintenance windows)" })
      .option('html', { type: 'string', nargs: 1, describe: 'also write the timeline page to FILE: one self-contained HTML file, opens with no network (docs/observability.md)' })
      .example('$0 simulate -i examples/fleet/inventory.yaml', 'the real engine on a test-driver fleet of 30 VMs')
      .example('$0 simulate -i examples/fleet/inventory.yaml --html fleet.html', 'the same, and its timeline page')
      .example('$0 simulate -i fleet.yaml --json', 'real hosts: the scheduler\'s model, no host contacted')
      .example('$0 simulate -i fleet.yaml --limit group:canary --start 2026-11-24T20:00:00+01:00', 'when tonight\'s canaries go down'),
  run: (a, io) =>
    simulateCommand({ inventory: arg.string(a, 'inventory'), json: arg.flag(a, 'json'), vm: arg.strings(a, 'vm'), selection: selectionArgs(a), stateDir: arg.optString(a, 'state-dir'), start: arg.optString(a, 'start'), model: arg.flag(a, 'model'), html: arg.optString(a, 'html') }, io),
};
