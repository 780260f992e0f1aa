// `sanshift report [RUN]`: the report of a run (default: the latest), computed from its journal;
// printed as a table and written as JSON and Markdown beside the journal.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { parseJournal, readAllJournals, runsDir } from '../engine/journal.js';
import { buildRunReport, latestRun, renderRunReportJson, renderRunReportMarkdown, renderRunReportText, type RunReport, type RunReportOptions } from '../report/run-report.js';
import { InputError, InputErrorCode } from '../util/errors.js';
import { stateDirFor } from './common.js';
import { arg, type CliCommand } from './command.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';

export interface ReportArgs {
  inventory: string;
  run?: string;
  json: boolean;
  stateDir?: string;
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

export async function reportCommand(args: ReportArgs, io: Io): Promise<number> {
  const stateDir = stateDirFor(args.inventory, args.stateDir);
  const report = reportFromJournal(stateDir, args.run);
  const files = writeRunReport(stateDir, report);
  if (args.json) io.out(renderRunReportJson(report));
  else io.out(`${renderRunReportText(report)}report: ${files.markdown}\n        ${files.json}\n`);
  return report.totals.failed > 0 ? ExitCode.failed : ExitCode.ok;
}

export const reportCli: CliCommand = {
  command: 'report [run]',
  describe: 'the report of a run (default: the latest): per VM its downtimes, resync and result; written as JSON and Markdown beside the journal',
  builder: (y: Argv) =>
    y
      .positional('run', { type: 'string', describe: 'run id (the name of its journal file without .jsonl); default: the latest run' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON (docs/journal.md, run report)' })
      .example('$0 report -i fleet.yaml', 'the report of the latest run')
      .example('$0 report -i fleet.yaml 20261124T021500Z-3fa9c1 --json', 'one run, as JSON'),
  run: (a, io) => reportCommand({ inventory: arg.string(a, 'inventory'), run: arg.optString(a, 'run'), json: arg.flag(a, 'json'), stateDir: arg.optString(a, 'state-dir') }, io),
};
