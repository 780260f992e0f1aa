// The report of one run, computed from its journal records (the journal is the source of
// truth): per VM its two downtimes, its resync and its result; fleet totals. Pure: rendered as
// a table for the screen, JSON and Markdown (cli/report.ts writes the files).
import type { JournalRecord } from '../engine/journal.js';
import { formatBytes, formatDuration } from './event-lines.js';

export type Window = 'T1' | 'T2' | 'rollback';

export interface DowntimeReport {
  /** ISO time the VM was seen powered off */
  downAt: string;
  /** ISO time it was started again; null when it was not (yet) started in this run */
  upAt: string | null;
  ms: number | null;
  /** the graceful shutdown timed out and the VM was forced off */
  forced: boolean;
}

export interface ResyncReport {
  /** ISO time the new leg was added (copy starts) */
  startedAt: string;
  /** ISO time the mirrors were in sync; null when not (yet) */
  inSyncAt: string | null;
  /** where inSyncAt comes from: a wait-for-resync result in the journal, the run's progress
   * events (last progress line plus its ETA), or, lacking both, the cutover check (an upper bound:
   * a VM may wait in sync for its turn at T2) */
  inSyncFrom: 'journal' | 'events' | 'cutover-check' | null;
  ms: number | null;
  /** bytes copied; null when neither the journal nor the run's events said */
  bytes: number | null;
  bytesPerSecond: number | null;
}

export type VmResult = 'done' | 'failed' | 'rolled-back' | 'unfinished';

export interface VmReport {
  vm: string;
  host: string | null;
  result: VmResult;
  reason: string | null;
  t1: DowntimeReport | null;
  t2: DowntimeReport | null;
  rollback: DowntimeReport | null;
  resync: ResyncReport | null;
}

export interface RunReport {
  run: string;
  inventory: string | null;
  rehearsal: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  ms: number | null;
  /** why the run stopped before every VM was done (a pause, a stop, the rollout), or null */
  stopped: string | null;
  vms: VmReport[];
  totals: {
    vms: number;
    done: number;
    failed: number;
    rolledBack: number;
    unfinished: number;
    /** sum of every VM's time down (T1 + T2 + rollback) */
    downMs: number;
    longestT1Ms: number | null;
    longestT2Ms: number | null;
    resyncBytes: number | null;
  };
}

export interface RunReportOptions {
  /** bytes resynced per VM, from the run's progress events, when the journal does not hold them */
  resyncBytes?: ReadonlyMap<string, number>;
  /** when each VM's mirrors reached sync (ms since the epoch), from the run's progress events */
  inSyncAt?: ReadonlyMap<string, number>;
}

const upStep: Record<Window, string> = { T1: 'start-on-mirror', T2: 'start-on-new', rollback: 'start-on-old' };

const ms = (from: string, to: string | null): number | null => (to === null ? null : Date.parse(to) - Date.parse(from));

function detailOf(r: JournalRecord): Record<string, unknown> {
  return 'detail' in r && r.detail !== undefined ? r.detail : {};
}

function numberIn(d: Record<string, unknown>, key: string): number | null {
  const v = d[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function downtimes(records: readonly JournalRecord[]): Record<Window, DowntimeReport | null> {
  const out: Record<Window, DowntimeReport | null> = { T1: null, T2: null, rollback: null };
  let open: Window | null = null;
  for (const r of records) {
    if (r.kind !== 'result') continue;
    const d = detailOf(r);
    if (r.step === 'shutdown-vm') {
      const w = d['phase'];
      if (w === 'T1' || w === 'T2' || w === 'rollback') {
        // a second T1 (I3: restarted outside sanshift, mirrors rebuilt) replaces the first: the last one counts
        out[w] = { downAt: r.at, upAt: null, ms: null, forced: d['forced'] === true };
        open = w;
      }
      continue;
    }
    for (const w of ['T1', 'T2', 'rollback'] as const) {
      if (r.step === upStep[w]) {
        const win = out[w];
        // a VM that was off before its migration is started by nobody: its window stays open
        if (win !== null && win.upAt === null) out[w] = { ...win, upAt: r.at, ms: ms(win.downAt, r.at) };
        if (open === w) open = null;
      }
    }
  }
  return out;
}

function resyncOf(vm: string, records: readonly JournalRecord[], opts: RunReportOptions): ResyncReport | null {
  const added = records.filter((r) => r.kind === 'intent' && r.step === 'add-new-leg');
  const first = added[0];
  if (first === undefined) return null;
  const last = added[added.length - 1]!;
  // in sync: the cutover check (VM running) or the new definition (a VM that was off)
  const after = (r: JournalRecord) => Date.parse(r.at) >= Date.parse(last.at);
  const synced = records.find((r) => r.kind === 'result' && r.step === 'wait-for-resync' && after(r));
  const cutover = records.find((r) => r.kind === 'intent' && (r.step === 'check-cutover' || r.step === 'define-on-new') && after(r));
  const fromEvents = opts.inSyncAt?.get(vm);
  let inSyncAt: string | null = null;
  let inSyncFrom: ResyncReport['inSyncFrom'] = null;
  if (synced !== undefined) [inSyncAt, inSyncFrom] = [synced.at, 'journal'];
  else if (fromEvents !== undefined && (cutover === undefined || fromEvents <= Date.parse(cutover.at))) [inSyncAt, inSyncFrom] = [new Date(fromEvents).toISOString(), 'events'];
  else if (cutover !== undefined) [inSyncAt, inSyncFrom] = [cutover.at, 'cutover-check'];
  const fromJournal = records
    .filter((r) => r.kind === 'result')
    .map((r) => numberIn(detailOf(r), 'resyncBytes'))
    .find((b) => b !== null);
  const bytes = fromJournal ?? opts.resyncBytes?.get(vm) ?? null;
  const duration = ms(first.at, inSyncAt);
  return { startedAt: first.at, inSyncAt, inSyncFrom, ms: duration, bytes, bytesPerSecond: bytes !== null && duration !== null && duration > 0 ? Math.round(bytes / (duration / 1000)) : null };
}

/** Pure: the report of run `run` from its journal records (records of other runs are ignored). */
export function buildRunReport(allRecords: readonly JournalRecord[], run: string, opts: RunReportOptions = {}): RunReport {
  const records = allRecords.filter((r) => r.run === run);
  const started = records.find((r) => r.kind === 'run-started');
  const finished = records.find((r) => r.kind === 'run-finished');
  const names: string[] = started?.kind === 'run-started' ? [...started.vms] : [];
  for (const r of records) if ('vm' in r && !names.includes(r.vm)) names.push(r.vm);

  const vms = names.map((vm): VmReport => {
    const mine = records.filter((r) => 'vm' in r && r.vm === vm);
    const original = mine.find((r) => r.kind === 'original');
    const fin = [...mine].reverse().find((r) => r.kind === 'vm-finished');
    const lastFailure = [...mine].reverse().find((r) => r.kind === 'failed');
    const w = downtimes(mine);
    const result: VmResult = fin?.kind === 'vm-finished' ? fin.outcome : 'unfinished';
    const reason = fin?.kind === 'vm-finished' && fin.reason !== undefined ? fin.reason : result === 'unfinished' && lastFailure?.kind === 'failed' ? lastFailure.reason : null;
    return { vm, host: original?.kind === 'original' ? original.host : null, result, reason, t1: w.T1, t2: w.T2, rollback: w.rollback, resync: resyncOf(vm, mine, opts) };
  });

  const downs = vms.flatMap((v) => [v.t1, v.t2, v.rollback]).map((d) => d?.ms ?? 0);
  const longest = (pick: (v: VmReport) => DowntimeReport | null) => {
    const values = vms.map((v) => pick(v)?.ms).filter((x): x is number => typeof x === 'number');
    return values.length === 0 ? null : Math.max(...values);
  };
  const bytes = vms.map((v) => v.resync?.bytes).filter((b): b is number => typeof b === 'number');
  const count = (r: VmResult) => vms.filter((v) => v.result === r).length;
  return {
    run,
    inventory: started?.kind === 'run-started' ? started.inventory : null,
    rehearsal: started?.kind === 'run-started' ? started.rehearsal : false,
    startedAt: started?.at ?? null,
    finishedAt: finished?.at ?? null,
    ms: started !== undefined && finished !== undefined ? ms(started.at, finished.at) : null,
    stopped: finished?.kind === 'run-finished' ? (finished.stopped ?? null) : null,
    vms,
    totals: {
      vms: vms.length,
      done: count('done'),
      failed: count('failed'),
      rolledBack: count('rolled-back'),
      unfinished: count('unfinished'),
      downMs: downs.reduce((a, b) => a + b, 0),
      longestT1Ms: longest((v) => v.t1),
      longestT2Ms: longest((v) => v.t2),
      resyncBytes: bytes.length === 0 ? null : bytes.reduce((a, b) => a + b, 0),
    },
  };
}

/** The latest run id among records (run ids sort by time). */
export function latestRun(records: readonly JournalRecord[]): string | null {
  const runs = [...new Set(records.map((r) => r.run))].sort();
  return runs[runs.length - 1] ?? null;
}

// ---- rendering --------------------------------------------------------------------------------

const dash = '-';
const dur = (v: number | null | undefined): string => (v === null || v === undefined ? dash : formatDuration(v));

function downCell(d: DowntimeReport | null): string {
  if (d === null) return dash;
  if (d.ms === null) return 'still down';
  return `${formatDuration(d.ms)}${d.forced ? ' (forced)' : ''}`;
}

function rows(report: RunReport): string[][] {
  return report.vms.map((v) => [
    v.vm,
    v.result,
    downCell(v.t1),
    downCell(v.t2),
    v.rollback === null ? dash : downCell(v.rollback),
    v.resync === null ? dash : v.resync.ms === null ? 'unfinished' : `${v.resync.inSyncFrom === 'cutover-check' ? '<=' : ''}${formatDuration(v.resync.ms)}`,
    v.resync?.bytes == null ? dash : formatBytes(v.resync.bytes),
    v.resync?.bytesPerSecond == null ? dash : `${formatBytes(v.resync.bytesPerSecond)}/s`,
    v.reason ?? '',
  ]);
}

const head = ['VM', 'RESULT', 'T1 DOWN', 'T2 DOWN', 'ROLLBACK', 'RESYNC', 'COPIED', 'THROUGHPUT', 'REASON'];

function totalsLine(report: RunReport): string {
  const t = report.totals;
  const parts = [`${t.vms} VMs: ${t.done} done, ${t.failed} failed, ${t.rolledBack} rolled back, ${t.unfinished} unfinished`];
  parts.push(`downtime ${formatDuration(t.downMs)} in all (longest T1 ${dur(t.longestT1Ms)}, longest T2 ${dur(t.longestT2Ms)})`);
  if (t.resyncBytes !== null) parts.push(`${formatBytes(t.resyncBytes)} resynced`);
  if (report.ms !== null) parts.push(`run took ${formatDuration(report.ms)}`);
  const bounded = report.vms.some((v) => v.resync?.inSyncFrom === 'cutover-check');
  const stopped = report.stopped === null ? '' : `\nstopped early: ${report.stopped}; the unfinished VMs are left where they stand, none off: \`sanshift run\` again continues them`;
  return parts.join('; ') + stopped + (bounded ? '\n(<= : resync time measured up to the cutover check; the journal does not record when the mirrors reached sync)' : '');
}

/** The table an operator reads at the end of a run. */
export function renderRunReportText(report: RunReport): string {
  const body = rows(report);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const title = `run ${report.run}${report.rehearsal ? ' (REHEARSAL: times are those of the simulated fleet)' : ''}`;
  return `${title}\n${[line(head), ...body.map(line)].join('\n')}\n${totalsLine(report)}\n`;
}

export function renderRunReportMarkdown(report: RunReport): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const out = [`# sanshift run ${report.run}`, ''];
  if (report.rehearsal) out.push('REHEARSAL: simulated hosts; the times are those of the simulated fleet.', '');
  out.push(`- inventory: \`${report.inventory ?? 'unknown'}\``);
  out.push(`- started: ${report.startedAt ?? 'unknown'}; finished: ${report.finishedAt ?? 'not finished'}`);
  out.push(`- ${totalsLine(report)}`, '');
  out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const r of rows(report)) out.push(`| ${r.map(esc).join(' | ')} |`);
  return `${out.join('\n')}\n`;
}

export function renderRunReportJson(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
