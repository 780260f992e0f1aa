// `sanshift status`: the phase of every VM of the inventory, computed from the journals and
// from what the hosts show now.
import { historyReader } from '../engine/run.js';
import { readAllJournals } from '../engine/journal.js';
import { observeFleet, type VmStatus } from '../engine/status.js';
import { planFleet } from '../plan/fleet-plan.js';
import { formatDuration, formatSpeed } from '../report/event-lines.js';
import { runPace, type RunPace } from '../report/fleet-eta.js';
import { openSession } from './common.js';
import type { Argv } from 'yargs';
import { arg, type CliCommand } from './command.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';

export interface StatusArgs {
  inventory: string;
  vm: string[];
  json: boolean;
  stateDir?: string;
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
    const outcome = await planFleet(session.inventory, session.connections, { vms: args.vm, runId: 'status', now: new Date(now), history: historyReader(session.stateDir), withoutPreflight: true });
    const records = readAllJournals(session.stateDir);
    const rows = await observeFleet(session.inventory, session.connections, outcome.plan.vms.filter((v) => v.steps.length > 0 || v.done === true), records);
    const pace = runPace(records, now);
    io.out(args.json ? `${JSON.stringify({ vms: rows, run: pace }, null, 2)}\n` : `${renderStatusTable(rows)}${renderPace(pace, now)}`);
    return rows.some((r) => r.phase === 'failed' || r.phase === 'unknown') ? ExitCode.failed : ExitCode.ok;
  } finally {
    await session.connections.close();
  }
}

export const statusCli: CliCommand = {
  command: 'status [vm..]',
  describe: 'the phase of every VM: resync progress, speed, ETA, last error',
  builder: (y: Argv) =>
    y
      .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to show (default: all)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 status -i fleet.yaml', 'one line per VM'),
  run: (a, io) => statusCommand({ inventory: arg.string(a, 'inventory'), vm: arg.strings(a, 'vm'), json: arg.flag(a, 'json'), stateDir: arg.optString(a, 'state-dir') }, io),
};
