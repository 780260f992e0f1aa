// `sanshift status`: the phase of every VM of the inventory, computed from the journals and
// from what the hosts show now.
import { historyReader } from '../engine/run.js';
import { readAllJournals } from '../engine/journal.js';
import { fleetStatus, type VmStatus } from '../engine/status.js';
import { formatDuration, formatSpeed } from '../report/event-lines.js';
import { runPace, type RunPace } from '../report/fleet-eta.js';
import { openSession } from './common.js';
import type { Argv } from 'yargs';
import { describePause, pauseApplies, readPause, type PauseRequest } from '../control/pause.js';
import type { JournalRecord } from '../engine/journal.js';
import { arg, type CliCommand } from './command.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';
import { runsInProgress, runsStartedSince } from './runs.js';
import { selectedNames, selectionArgs, withSelection, type SelectionArgs } from './selection.js';

export interface StatusArgs {
  inventory: string;
  vm: string[];
  json: boolean;
  stateDir?: string;
  selection?: SelectionArgs;
}

/** The pause as status shows it: which runs it holds, or that none is left to hold. */
export interface PauseStatus {
  request: PauseRequest;
  /** runs in progress it applies to: they finish their windows in progress and start no new one */
  draining: string[];
}

/** The pause request, while no run started after it (such a run resumed the work). */
export function pauseStatus(request: PauseRequest | null, records: readonly JournalRecord[]): PauseStatus | null {
  if (request === null) return null;
  // an unreadable request (requestedAt 1970) pauses every run: always shown, until it is looked at
  const unreadable = Date.parse(request.requestedAt) === 0;
  if (!unreadable && runsStartedSince(records, request.requestedAt).length > 0) return null;
  const draining = runsInProgress(records).filter((r) => pauseApplies(request, { id: r.run, startedAtMs: Date.parse(r.startedAt) })).map((r) => r.run);
  return { request, draining };
}

export function renderPauseLine(p: PauseStatus, inventory: string): string {
  const what =
    p.draining.length > 0
      ? `run${p.draining.length === 1 ? '' : 's'} ${p.draining.join(', ')} finish${p.draining.length === 1 ? 'es' : ''} the windows in progress and start${p.draining.length === 1 ? 's' : ''} no new one`
      : 'no run is in progress';
  return `PAUSED: ${describePause(p.request)}; ${what}. To resume: sanshift run -i ${inventory}\n`;
}

export function renderStatusTable(rows: readonly VmStatus[]): string {
  const head = ['VM', 'HOST', 'PHASE', 'RESYNC', 'SPEED', 'ETA', 'LAST ERROR'];
  const body = rows.map((r) => [
    r.vm,
    r.host,
    r.phase,
    r.percent === null ? '-' : `${r.percent.toFixed(1)}%`,
    formatSpeed(r.speedKiBs),
    r.etaSeconds === null ? '-' : formatDuration(r.etaSeconds * 1000),
    r.lastError ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[line(head), ...body.map(line)].join('\n')}\n`;
}

/** The fleet line under the table: the run under way and when it should end at its pace. */
export function renderPace(pace: RunPace | null, now: number): string {
  if (pace === null) return '';
  const elapsed = formatDuration(now - Date.parse(pace.startedAt));
  const eta = pace.eta.seconds === null ? 'fleet ETA unknown until a VM finishes' : `fleet ETA ${formatDuration(pace.eta.seconds * 1000)} at that pace`;
  return `run ${pace.run} under way: ${pace.finishedVms} of ${pace.vms} VMs finished since ${pace.startedAt} (${elapsed}); ${eta}\n`;
}

export async function statusCommand(args: StatusArgs, io: Io): Promise<number> {
  const session = await openSession(args.inventory, args.stateDir);
  try {
    const now = session.clock.now();
    const vms = selectedNames(session.inventory, args.vm, args.selection ?? { limit: [], exclude: [], failed: false }, session.stateDir);
    const records = readAllJournals(session.stateDir);
    const rows = await fleetStatus(session.inventory, session.connections, { vms, now: new Date(now), history: historyReader(session.stateDir), records });
    const pause = pauseStatus(readPause(session.stateDir), records);
    const pace = runPace(records, now);
    if (args.json) io.out(`${JSON.stringify({ ...(pause === null ? {} : { pause }), vms: rows, run: pace }, null, 2)}\n`);
    else io.out(`${pause === null ? '' : renderPauseLine(pause, args.inventory)}${renderStatusTable(rows)}${renderPace(pace, now)}`);
    return rows.some((r) => r.phase === 'failed' || r.phase === 'unknown') ? ExitCode.failed : ExitCode.ok;
  } finally {
    await session.connections.close();
  }
}

export const statusCli: CliCommand = {
  command: 'status [vm..]',
  describe: 'the phase of every VM: resync progress, speed, ETA, last error',
  builder: (y: Argv) =>
    withSelection(y)
      .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to show (default: all)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 status -i fleet.yaml', 'one line per VM')
      .example('$0 status -i fleet.yaml --failed', 'the VMs whose last outcome is failed'),
  run: (a, io) => statusCommand({ inventory: arg.string(a, 'inventory'), vm: arg.strings(a, 'vm'), json: arg.flag(a, 'json'), stateDir: arg.optString(a, 'state-dir'), selection: selectionArgs(a) }, io),
};
