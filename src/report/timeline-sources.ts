// Where the picture's rows and rates come from: a run's journal (plus its events when the run
// wrote them), the engine's events of a rehearsal, or the scheduler model's timeline. Pure:
// each source becomes rows and rate segments; timeline.ts draws them.
//
// The engine's step names may change: JOURNAL_MARKS and EVENT_MARKS are the only places that
// name them, so an engine change is one edit here (and a failing test in
// test/report/timeline-sources.test.ts says which).
import type { EngineEvent } from '../engine/events.js';
import type { JournalRecord } from '../engine/journal.js';
import type { RateSample, TimelineEvent } from '../plan/fleet-sim.js';
import { buildRunReport } from './run-report.js';
import { formatBytes, formatDuration } from './event-lines.js';
import { seriesFromSegments, type RateSegment, type RateSeries, type RowOutcome, type TimelinePage, type TimelineResync, type TimelineRow, type TimelineWindow, type WindowKind } from './timeline.js';

/** The journal records the picture reads (docs/journal.md). */
export const JOURNAL_MARKS = {
  /** intent: the graceful shutdown is asked; result: the VM is off. detail.phase says the window; result detail.forced */
  shutdown: 'shutdown-vm',
  /** results that end each window: the VM is up again */
  upAfter: { T1: ['start-on-mirror', 'adopt-start'], T2: ['start-on-new'], rollback: ['start-on-old'] } as Record<WindowKind, readonly string[]>,
  /** the first result opens the resync (md starts copying when NEW joins) */
  resyncStart: 'add-new-leg',
  /** its result closes it (every mirror in sync); detail.resyncBytes: bytes copied */
  resyncEnd: 'wait-for-resync',
  /** journals written before wait-for-resync existed: the first of these intents bounds the resync from above */
  resyncEndBound: ['check-cutover', 'define-on-new'] as readonly string[],
  /** its intent ends an unfinished copy: the mirror goes away before sync (rollback, stale copy) */
  copyStopped: 'stop-mirror',
} as const;

/** The engine events the picture reads (docs/events.md). */
export const EVENT_MARKS = {
  /** step-started of this step: the graceful shutdown is asked (the next `down` says which window) */
  shutdownStep: 'shutdown-vm',
  /** step-finished of this step opens the resync */
  resyncStartStep: 'add-new-leg',
  /** step-started of this step ends an unfinished copy */
  copyStoppedStep: 'stop-mirror',
  /** a note with this prefix is the moment a VM failed (vm-finished comes after its rollback) */
  failureNotePrefix: 'failed: ',
  /** a note that says the graceful shutdown timed out: the window about to open was forced */
  forcedNote: /forcing it off/,
} as const;

const isWindow = (v: unknown): v is WindowKind => v === 'T1' || v === 'T2' || v === 'rollback';

/** Builds one VM's row as its facts arrive in time order; every source feeds one of these. */
class RowBuilder {
  readonly windows: TimelineWindow[] = [];
  readonly resyncs: TimelineResync[] = [];
  readonly failures: { at: number; reason: string }[] = [];
  outcome: RowOutcome = 'unfinished';
  reason: string | null = null;
  bytes: number | null = null;
  host: string | null = null;
  group: string | null = null;
  /** events only: the engine said it forces the VM off; the next window is forced */
  forcedPending = false;
  private stopAsked: number | null = null;

  constructor(readonly vm: string) {}

  shutdownAsked(at: number): void {
    this.stopAsked = at;
  }

  down(kind: WindowKind, at: number, forced: boolean): void {
    this.windows.push({ kind, stopAt: this.stopAsked, downAt: at, upAt: null, forced });
    this.stopAsked = null;
  }

  up(kind: WindowKind, at: number): void {
    const w = [...this.windows].reverse().find((x) => x.kind === kind);
    if (w !== undefined && w.upAt === null) w.upAt = at;
  }

  private open(): TimelineResync | undefined {
    const last = this.resyncs[this.resyncs.length - 1];
    return last !== undefined && last.endAt === null ? last : undefined;
  }

  copyStarted(at: number): void {
    if (this.open() === undefined) this.resyncs.push({ startAt: at, endAt: null, complete: false });
  }

  inSync(at: number): void {
    const s = this.open();
    if (s !== undefined) [s.endAt, s.complete] = [at, true];
  }

  copyStopped(at: number): void {
    const s = this.open();
    if (s !== undefined) [s.endAt, s.complete] = [at, false];
  }

  failed(at: number, reason: string): void {
    this.failures.push({ at, reason });
  }

  row(): TimelineRow {
    return { vm: this.vm, host: this.host, group: this.group, windows: this.windows, resyncs: this.resyncs, outcome: this.outcome, reason: this.reason, failures: this.failures, bytes: this.bytes };
  }
}

/** Where a VM's resync bandwidth is counted: its host, and the array of each of its disks. */
export interface Placement {
  host: string;
  /** one entry per disk: a VM's rate is split evenly over its disks (the events give one rate per VM) */
  arrays: string[];
}

function segmentsFor(from: number, to: number, bytesPerSecond: number, placement: Placement | undefined, out: { hosts: RateSegment[]; arrays: RateSegment[] }): void {
  if (placement === undefined || to <= from || !(bytesPerSecond > 0)) return;
  out.hosts.push({ key: placement.host, from, to, bytesPerSecond });
  const share = bytesPerSecond / Math.max(1, placement.arrays.length);
  for (const a of placement.arrays) out.arrays.push({ key: a, from, to, bytesPerSecond: share });
}

/**
 * Rates from the engine's progress events: each poll's speed holds since the previous poll (or
 * since the copy started), and the last one until the ETA it gave or the sync, whichever is first.
 */
export function segmentsFromProgress(events: readonly EngineEvent[], rows: ReadonlyMap<string, TimelineRow>, placementOf: (vm: string) => Placement | undefined): { hosts: RateSegment[]; arrays: RateSegment[] } {
  const out = { hosts: [] as RateSegment[], arrays: [] as RateSegment[] };
  const last = new Map<string, { at: number; bytesPerSecond: number; etaMs: number | null }>();
  const closeTail = (vm: string) => {
    const l = last.get(vm);
    if (l === undefined) return;
    const row = rows.get(vm);
    const end = row?.resyncs.find((s) => s.startAt <= l.at && (s.endAt ?? Infinity) >= l.at)?.endAt ?? null;
    const until = Math.min(end ?? Infinity, l.etaMs === null ? Infinity : l.at + l.etaMs);
    if (Number.isFinite(until)) segmentsFor(l.at, until, l.bytesPerSecond, placementOf(vm), out);
    last.delete(vm);
  };
  for (const e of events) {
    if (e.kind === 'step-finished' && e.step === EVENT_MARKS.resyncStartStep && !last.has(e.vm)) {
      last.set(e.vm, { at: e.at, bytesPerSecond: 0, etaMs: null });
    } else if (e.kind === 'progress') {
      const prev = last.get(e.vm);
      const bytesPerSecond = (e.speedKiBs ?? 0) * 1024;
      if (prev !== undefined) segmentsFor(prev.at, e.at, bytesPerSecond, placementOf(e.vm), out);
      last.set(e.vm, { at: e.at, bytesPerSecond, etaMs: e.etaSeconds === null ? null : e.etaSeconds * 1000 });
    } else if (e.kind === 'resync-ended' || e.kind === 'vm-finished' || (e.kind === 'down' && e.window === 'rollback')) {
      closeTail(e.vm);
    }
  }
  for (const vm of [...last.keys()]) closeTail(vm);
  return out;
}

/**
 * Every VM's rates: measured from its progress events when it has any, else its bytes over its
 * resync time as one constant rate (a VM whose copy ended before the first poll, or a run
 * without events).
 */
export function rateSegments(events: readonly EngineEvent[], rows: ReadonlyMap<string, TimelineRow>, placementOf: (vm: string) => Placement | undefined): { hosts: RateSegment[]; arrays: RateSegment[]; measured: number } {
  const polled = new Set<string>();
  for (const e of events) if (e.kind === 'progress') polled.add(e.vm);
  const measured = segmentsFromProgress(events, rows, (vm) => (polled.has(vm) ? placementOf(vm) : undefined));
  const averaged = segmentsFromAverages([...rows.values()].filter((r) => !polled.has(r.vm)), placementOf);
  return { hosts: [...measured.hosts, ...averaged.hosts], arrays: [...measured.arrays, ...averaged.arrays], measured: [...rows.keys()].filter((vm) => polled.has(vm)).length };
}

/** Rates from the journal alone: each VM's bytes over its resync time, as one constant rate. */
function segmentsFromAverages(rows: readonly TimelineRow[], placementOf: (vm: string) => Placement | undefined): { hosts: RateSegment[]; arrays: RateSegment[] } {
  const out = { hosts: [] as RateSegment[], arrays: [] as RateSegment[] };
  for (const r of rows) {
    const s = r.resyncs.find((x) => x.complete && x.endAt !== null);
    if (s === undefined || r.bytes === null || s.endAt === null || s.endAt <= s.startAt) continue;
    segmentsFor(s.startAt, s.endAt, r.bytes / ((s.endAt - s.startAt) / 1000), placementOf(r.vm), out);
  }
  return out;
}

const t = (iso: string): number => Date.parse(iso);

function detailOf(r: JournalRecord): Record<string, unknown> {
  return 'detail' in r && r.detail !== undefined ? r.detail : {};
}

/** Rows of one run from its journal records (records of other runs are ignored). */
export function rowsFromJournal(allRecords: readonly JournalRecord[], run: string): Map<string, TimelineRow> {
  const records = allRecords.filter((r) => r.run === run);
  const builders = new Map<string, RowBuilder>();
  const started = records.find((r) => r.kind === 'run-started');
  const of = (vm: string): RowBuilder => {
    let b = builders.get(vm);
    if (b === undefined) builders.set(vm, (b = new RowBuilder(vm)));
    return b;
  };
  if (started?.kind === 'run-started') for (const vm of started.vms) of(vm);
  const bound = new Map<string, number>();
  for (const r of records) {
    if (!('vm' in r)) continue;
    const b = of(r.vm);
    const at = t(r.at);
    switch (r.kind) {
      case 'original':
        b.host = r.host;
        break;
      case 'intent': {
        if (r.step === JOURNAL_MARKS.shutdown) b.shutdownAsked(at);
        else if (r.step === JOURNAL_MARKS.copyStopped) b.copyStopped(at);
        else if (JOURNAL_MARKS.resyncEndBound.includes(r.step) && !bound.has(r.vm) && b.resyncs.some((s) => s.endAt === null)) bound.set(r.vm, at);
        break;
      }
      case 'result': {
        const d = detailOf(r);
        if (r.step === JOURNAL_MARKS.shutdown && isWindow(d['phase'])) b.down(d['phase'], at, d['forced'] === true);
        else if (r.step === JOURNAL_MARKS.resyncStart) b.copyStarted(at);
        else if (r.step === JOURNAL_MARKS.resyncEnd) {
          b.inSync(at);
          bound.delete(r.vm);
          if (typeof d['resyncBytes'] === 'number') b.bytes = d['resyncBytes'];
        }
        for (const w of ['T1', 'T2', 'rollback'] as const) if (JOURNAL_MARKS.upAfter[w].includes(r.step)) b.up(w, at);
        break;
      }
      case 'failed':
        b.failed(at, r.reason);
        break;
      case 'vm-finished':
        b.outcome = r.outcome;
        b.reason = r.reason ?? null;
        break;
    }
  }
  // an older journal without wait-for-resync: the cutover check bounds the copy from above
  for (const [vm, at] of bound) of(vm).inSync(at);
  return new Map([...builders].map(([vm, b]) => [vm, b.row()]));
}

export interface JournalPictureOptions {
  /** the run's events (its --events file), for the speeds md reported at each poll */
  events?: readonly EngineEvent[];
  /** where the events came from, for the page's sentence on rates */
  eventsFile?: string;
  /** each VM's host and the array of each of its disks (from the inventory); the host defaults to the journal's */
  placementOf?: (vm: string) => Placement | undefined;
  /** configured bandwidth limits per array, bytes/s */
  arrayLimits?: ReadonlyMap<string, number>;
  /** configured bandwidth limit of one host, bytes/s */
  hostLimit?: number | null;
}

/** The picture of one run, from its journal (the source of truth) and, when given, its events. */
export function timelineFromJournal(records: readonly JournalRecord[], run: string, opts: JournalPictureOptions = {}): TimelinePage {
  const mine = records.filter((r) => r.run === run);
  const report = buildRunReport(records, run);
  const rowMap = rowsFromJournal(records, run);
  const events = (opts.events ?? []).filter((e) => e.kind !== 'run-started' || e.run === run);
  // bytes the journal does not hold: the last progress line's total
  const totals = new Map<string, number>();
  for (const e of events) if (e.kind === 'progress') totals.set(e.vm, e.totalBytes);
  for (const [vm, total] of totals) {
    const row = rowMap.get(vm);
    if (row !== undefined && row.bytes === null) row.bytes = total;
  }
  const rows = [...rowMap.values()];
  const origin = mine.length === 0 ? 0 : t(mine.find((r) => r.kind === 'run-started')?.at ?? mine[0]!.at);
  const end = mine.length === 0 ? origin : Math.max(...mine.map((r) => t(r.at)), ...events.map((e) => e.at));
  const placementOf = (vm: string): Placement | undefined => {
    const given = opts.placementOf?.(vm);
    const host = given?.host ?? rowMap.get(vm)?.host ?? null;
    return host === null ? undefined : { host, arrays: given?.arrays ?? [] };
  };
  const segments = rateSegments(events, rowMap, placementOf);
  const measured = segments.measured > 0;
  const known = rows.filter((r) => r.bytes !== null).length;
  const ratesFrom = measured
    ? `Rates: the speed md reported at each poll, from the run's events${opts.eventsFile === undefined ? '' : ` (${opts.eventsFile})`}, for the ${segments.measured} VMs polled while copying; the others' bytes over their resync time. A VM's speed is split evenly over its disks' arrays.`
    : known > 0
      ? 'Rates: each VM\'s bytes over its resync time, from the journal (an average per VM; pass the run\'s --events file to report --events for the speeds md reported at each poll).'
      : 'Rates: unknown: the journal holds no resync bytes and no events were given (report --events FILE).';
  const tt = report.totals;
  const facts: [string, string][] = [
    ['VMs', `${tt.vms}: ${tt.done} done, ${tt.failed} failed, ${tt.rolledBack} rolled back, ${tt.unfinished} unfinished`],
    ['run took', report.ms === null ? `${formatDuration(end - origin)} so far (not finished)` : formatDuration(report.ms)],
    ['downtime', `${formatDuration(tt.downMs)} in all; longest T1 ${tt.longestT1Ms === null ? '-' : formatDuration(tt.longestT1Ms)}, T2 ${tt.longestT2Ms === null ? '-' : formatDuration(tt.longestT2Ms)}`],
    ['copied', rows.some((r) => r.bytes !== null) ? formatBytes(rows.reduce((a, r) => a + (r.bytes ?? 0), 0)) : 'unknown'],
  ];
  return {
    title: `sanshift run ${run}`,
    subtitle: [
      `inventory ${report.inventory ?? 'unknown'}`,
      report.rehearsal ? 'REHEARSAL: simulated hosts; the times are those of the simulated fleet.' : `started ${report.startedAt ?? 'unknown'}, ${report.finishedAt === null ? 'not finished' : `finished ${report.finishedAt}`}`,
    ],
    origin,
    end,
    wallClockStart: origin,
    lowerBound: null,
    facts,
    rows,
    arrays: seriesFromSegments(segments.arrays, opts.arrayLimits),
    hosts: seriesFromSegments(segments.hosts),
    hostLimit: opts.hostLimit ?? null,
    ratesFrom,
    notes: [],
  };
}

/** Rows from the engine's events (a rehearsal on the real engine). */
export function rowsFromEvents(events: readonly EngineEvent[]): Map<string, TimelineRow> {
  const builders = new Map<string, RowBuilder>();
  const of = (vm: string): RowBuilder => {
    let b = builders.get(vm);
    if (b === undefined) builders.set(vm, (b = new RowBuilder(vm)));
    return b;
  };
  for (const e of events) {
    switch (e.kind) {
      case 'run-started':
        for (const vm of e.vms) of(vm);
        break;
      case 'step-started':
        if (e.step === EVENT_MARKS.shutdownStep) of(e.vm).shutdownAsked(e.at);
        else if (e.step === EVENT_MARKS.copyStoppedStep) of(e.vm).copyStopped(e.at);
        break;
      case 'step-finished':
        if (e.step === EVENT_MARKS.resyncStartStep) of(e.vm).copyStarted(e.at);
        break;
      case 'resync-ended': {
        const b = of(e.vm);
        b.inSync(e.at);
        if (e.bytes !== null) b.bytes = e.bytes;
        break;
      }
      case 'progress':
        if (of(e.vm).bytes === null) of(e.vm).bytes = e.totalBytes;
        break;
      case 'down': {
        const b = of(e.vm);
        if (e.window === 'rollback') b.copyStopped(e.at);
        b.down(e.window, e.at, b.forcedPending);
        b.forcedPending = false;
        break;
      }
      case 'up':
        of(e.vm).up(e.window, e.at);
        break;
      case 'note':
        if (e.text.startsWith(EVENT_MARKS.failureNotePrefix)) of(e.vm).failed(e.at, e.text.slice(EVENT_MARKS.failureNotePrefix.length));
        else if (EVENT_MARKS.forcedNote.test(e.text)) of(e.vm).forcedPending = true;
        break;
      case 'vm-finished': {
        const b = of(e.vm);
        b.outcome = e.outcome;
        b.reason = e.reason ?? null;
        if (e.outcome === 'failed' && b.failures.length === 0) b.failed(e.at, e.reason ?? 'failed');
        break;
      }
      default:
        break;
    }
  }
  return new Map([...builders].map(([vm, b]) => [vm, b.row()]));
}

/** Rows from the scheduler model's timeline (a rehearsal of the model). */
export function rowsFromModel(timeline: readonly TimelineEvent[]): Map<string, TimelineRow> {
  const builders = new Map<string, RowBuilder>();
  const of = (vm: string): RowBuilder => {
    let b = builders.get(vm);
    if (b === undefined) builders.set(vm, (b = new RowBuilder(vm)));
    return b;
  };
  const copying = new Map<string, number>();
  for (const e of timeline) {
    switch (e.kind) {
      case 'vm-stop':
        of(e.vm).shutdownAsked(e.t);
        break;
      case 'vm-stopped':
        of(e.vm).down(e.phase, e.t, false);
        break;
      case 'vm-up': {
        const b = of(e.vm);
        b.up(e.phase, e.t);
        if (e.phase === 'T2') b.outcome = 'done';
        break;
      }
      case 'resync-start':
        of(e.vm).copyStarted(e.t);
        copying.set(e.vm, (copying.get(e.vm) ?? 0) + 1);
        break;
      case 'resync-end': {
        const left = (copying.get(e.vm) ?? 1) - 1;
        copying.set(e.vm, left);
        // a VM is in sync when its last disk is
        if (left === 0) of(e.vm).inSync(e.t);
        break;
      }
      default:
        break;
    }
  }
  return new Map([...builders].map(([vm, b]) => [vm, b.row()]));
}

/**
 * Per-key step functions from the model's rate samples (each holds until the next), summed
 * per sample as it goes: a 10,000-VM fleet has millions of (sample, mirror) pairs, so no
 * segment list is built.
 */
export function seriesFromSamples(samples: readonly RateSample[], keyOf: (m: RateSample['mirrors'][number]) => string, limits: ReadonlyMap<string, number> = new Map()): RateSeries[] {
  const series = new Map<string, RateSeries>();
  const level = new Map<string, number>();
  const now = new Map<string, number>();
  for (const s of samples) {
    now.clear();
    for (const m of s.mirrors) {
      const k = keyOf(m);
      now.set(k, (now.get(k) ?? 0) + m.kiB * 1024);
    }
    for (const k of new Set([...now.keys(), ...level.keys()])) {
      const v = now.get(k) ?? 0;
      if ((level.get(k) ?? 0) === v && series.has(k)) continue;
      let out = series.get(k);
      if (out === undefined) series.set(k, (out = { name: k, limit: limits.get(k) ?? null, points: [] }));
      out.points.push({ t: s.t, bytesPerSecond: v });
      if (v === 0) level.delete(k);
      else level.set(k, v);
    }
  }
  return [...series.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

