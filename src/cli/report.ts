// `sanshift report [RUN]`: the report of a run (default: the latest), computed from its journal;
// printed as a table and written as JSON and Markdown beside the journal.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import type { EngineEvent } from '../engine/events.js';
import { parseJournal, readAllJournals, runsDir, type JournalRecord } from '../engine/journal.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { resolveDisks } from '../plan/disks.js';
import { unnamedArrayOf } from '../plan/fleet-input.js';
import { renderTimelineHtml } from '../report/timeline.js';
import { timelineFromJournal, type JournalPictureOptions, type Placement } from '../report/timeline-sources.js';
import { checkWritableFolder, writeFileAtomically } from './files.js';
import { buildRunReport, latestRun, renderRunReportJson, renderRunReportMarkdown, renderRunReportText, type RunReport, type RunReportOptions } from '../report/run-report.js';
import { InputError, InputErrorCode, errorMessage } from '../util/errors.js';
import { stateDirFor } from './common.js';
import { arg, type CliCommand } from './command.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';

export interface ReportArgs {
  inventory: string;
  run?: string;
  json: boolean;
  stateDir?: string;
  /** also write the run's timeline page (HTML) to this file */
  html?: string;
  /** the run's --events file, for the speeds md reported at each poll */
  events?: string;
}

export interface ReportFiles {
  json: string;
  markdown: string;
}

/** Writes RUN.report.json and RUN.report.md beside the run's journal. */
export function writeRunReport(stateDir: string, report: RunReport): ReportFiles {
  const base = join(runsDir(stateDir), `${report.run}.report`);
  const files = { json: `${base}.json`, markdown: `${base}.md` };
  writeFileSync(files.json, renderRunReportJson(report));
  writeFileSync(files.markdown, renderRunReportMarkdown(report));
  return files;
}

/** The report of `run` from its journal file; throws InputError when there is no such run. */
export function reportFromJournal(stateDir: string, run: string | undefined, opts: RunReportOptions = {}): RunReport {
  const chosen = run ?? latestRun(readAllJournals(stateDir));
  const file = chosen === null ? null : join(runsDir(stateDir), `${chosen}.jsonl`);
  if (chosen === null || file === null || !existsSync(file)) {
    throw InputError.one({
      code: InputErrorCode.notFound,
      message: chosen === null ? `no run has been recorded in ${stateDir}` : `no journal of run ${chosen} in ${runsDir(stateDir)}`,
      hint: 'the run ids are the names of the .jsonl files in the runs folder of the state folder (--state-dir)',
    });
  }
  return buildRunReport(parseJournal(readFileSync(file, 'utf8')), chosen, { ...measuredEarlier(stateDir, chosen), ...opts });
}

/** What the report written at the end of the run measured from its events (bytes, time in
 * sync), which the journal does not hold: kept when the report is computed again. */
function measuredEarlier(stateDir: string, run: string): RunReportOptions {
  const file = join(runsDir(stateDir), `${run}.report.json`);
  if (!existsSync(file)) return {};
  try {
    const earlier = JSON.parse(readFileSync(file, 'utf8')) as RunReport;
    const resyncBytes = new Map<string, number>();
    const inSyncAt = new Map<string, number>();
    for (const v of earlier.vms) {
      if (typeof v.resync?.bytes === 'number') resyncBytes.set(v.vm, v.resync.bytes);
      if (v.resync?.inSyncFrom === 'events' && v.resync.inSyncAt !== null) inSyncAt.set(v.vm, Date.parse(v.resync.inSyncAt));
    }
    return { resyncBytes, inSyncAt };
  } catch {
    return {}; // an unreadable earlier report is simply computed again
  }
}

/** The events of one run from an --events file (which appends run after run); a bad line is refused, naming it. */
export function readRunEvents(file: string, run: string): EngineEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw InputError.one({ code: InputErrorCode.notFound, message: `cannot read the events file ${file}: ${(err as Error).message}`, hint: 'pass the file the run wrote with --events' });
  }
  const all: EngineEvent[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      // a torn last line: the run was killed in mid-write
      if (i >= lines.length - 2) return;
      throw InputError.one({ code: InputErrorCode.invalidInput, message: `${file} line ${i + 1} is not JSON`, hint: 'pass the file sanshift run --events wrote (docs/events.md)', at: { file, line: i + 1 } });
    }
    if (typeof e !== 'object' || e === null || typeof (e as { kind?: unknown }).kind !== 'string' || typeof (e as { at?: unknown }).at !== 'number') {
      throw InputError.one({ code: InputErrorCode.invalidInput, message: `${file} line ${i + 1} is not a sanshift event (no kind, or no at)`, hint: 'pass the file sanshift run --events wrote (docs/events.md)', at: { file, line: i + 1 } });
    }
    all.push(e as EngineEvent);
  });
  return eventsOfRun(all, run);
}

/** The events from `run`'s run-started up to its run-finished (an events file may hold many runs). */
export function eventsOfRun(events: readonly EngineEvent[], run: string): EngineEvent[] {
  const out: EngineEvent[] = [];
  let inRun = false;
  for (const e of events) {
    if (e.kind === 'run-started') inRun = e.run === run;
    if (inRun) out.push(e);
    if (e.kind === 'run-finished' && e.run === run) inRun = false;
  }
  return out;
}

/** Each VM's host and disk arrays, from the inventory and the definition the journal recorded. */
async function placementFromInventory(inventoryFile: string, records: readonly JournalRecord[]): Promise<{ placementOf: (vm: string) => Placement | undefined; inv: Inventory } | { note: string }> {
  let inv: Inventory;
  try {
    inv = await loadInventory(inventoryFile);
  } catch (err) {
    return { note: `storage arrays unknown: the inventory does not load (${errorMessage(err).split('\n')[0]})` };
  }
  const specs = new Map(inv.vms.map((v) => [v.name, v]));
  const placements = new Map<string, Placement>();
  for (const r of records) {
    if (r.kind !== 'original') continue;
    const spec = specs.get(r.vm);
    const arrays = spec === undefined ? [] : resolveDisks(spec, r.xml, inv.mapping).disks.map((d) => d.array ?? unnamedArrayOf(r.host));
    placements.set(r.vm, { host: r.host, arrays });
  }
  return { placementOf: (vm) => placements.get(vm), inv };
}

async function writeTimeline(args: ReportArgs, stateDir: string, run: string): Promise<void> {
  const records = parseJournal(readFileSync(join(runsDir(stateDir), `${run}.jsonl`), 'utf8'));
  const events = args.events === undefined ? undefined : readRunEvents(args.events, run);
  const placement = await placementFromInventory(args.inventory, records);
  const opts: JournalPictureOptions = {
    ...(events === undefined ? {} : { events, eventsFile: args.events }),
    ...('inv' in placement
      ? { placementOf: placement.placementOf, arrayLimits: new Map(Object.entries(placement.inv.limits.arrayBandwidthKiB).map(([a, k]) => [a, k * 1024])), hostLimit: placement.inv.limits.hostBandwidthKiB === undefined ? null : placement.inv.limits.hostBandwidthKiB * 1024 }
      : {}),
  };
  const page = timelineFromJournal(records, run, opts);
  if ('note' in placement) page.notes.push(placement.note);
  if (events !== undefined && events.length === 0) page.notes.push(`${args.events} holds no event of run ${run}: the rates are averages from the journal`);
  writeFileAtomically(args.html!, renderTimelineHtml(page));
}

export async function reportCommand(args: ReportArgs, io: Io): Promise<number> {
  if (args.html !== undefined) checkWritableFolder(args.html, '--html');
  if (args.events !== undefined && args.html === undefined) {
    throw InputError.one({ code: InputErrorCode.invalidInput, message: '--events is read only for the timeline page', hint: 'add --html FILE, or leave out --events' });
  }
  const stateDir = stateDirFor(args.inventory, args.stateDir);
  const report = reportFromJournal(stateDir, args.run);
  if (args.html !== undefined) await writeTimeline(args, stateDir, report.run);
  const files = writeRunReport(stateDir, report);
  const page = args.html === undefined ? '' : `timeline: ${args.html}\n`;
  if (args.json) {
    io.out(renderRunReportJson(report));
    io.err(page);
  } else io.out(`${renderRunReportText(report)}report: ${files.markdown}\n        ${files.json}\n${page}`);
  return report.totals.failed > 0 ? ExitCode.failed : ExitCode.ok;
}

export const reportCli: CliCommand = {
  command: 'report [run]',
  describe: 'the report of a run (default: the latest): per VM its downtimes, resync and result; written as JSON and Markdown beside the journal',
  builder: (y: Argv) =>
    y
      .positional('run', { type: 'string', describe: 'run id (the name of its journal file without .jsonl); default: the latest run' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON (docs/journal.md, run report)' })
      .option('html', { type: 'string', nargs: 1, describe: 'also write the run\'s timeline page to FILE: one self-contained HTML file, opens with no network (docs/observability.md)' })
      .option('events', { type: 'string', nargs: 1, describe: 'with --html: the run\'s --events file, for the resync speeds md reported at each poll (else averages from the journal)' })
      .example('$0 report -i fleet.yaml', 'the report of the latest run')
      .example('$0 report -i fleet.yaml --html run.html --events run-events.jsonl', 'and its timeline page, with the measured speeds')
      .example('$0 report -i fleet.yaml 20261124T021500Z-3fa9c1 --json', 'one run, as JSON'),
  run: (a, io) => reportCommand({ inventory: arg.string(a, 'inventory'), run: arg.optString(a, 'run'), json: arg.flag(a, 'json'), stateDir: arg.optString(a, 'state-dir'), html: arg.optString(a, 'html'), events: arg.optString(a, 'events') }, io),
};
