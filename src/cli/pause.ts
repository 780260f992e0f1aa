// `sanshift pause`: asks the runs in progress to drain: the windows in progress finish, no new
// window starts, then each run exits; `sanshift run` again resumes. `--cancel` takes it back.
import type { Argv } from 'yargs';
import { clearPause, describePause, readPause, requestPause } from '../control/pause.js';
import { readAllJournals } from '../engine/journal.js';
import { loadInventory } from '../inventory/load.js';
import { stateDirFor } from './common.js';
import { arg, type CliCommand } from './command.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';
import { runsInProgress, type RunInProgress } from './runs.js';

export interface PauseArgs {
  inventory: string;
  stateDir?: string;
  reason?: string;
  cancel: boolean;
  /** for tests: the instant of the request */
  now?: Date;
}

const describeRun = (r: RunInProgress): string => `${r.run} (started ${r.startedAt}, pid ${r.pid} on ${r.hostname}${r.alive === 'unknown' ? ', another machine' : ''})`;

/** What the operator reads after `sanshift pause`: what happens, and how to resume. */
export function pauseExplanation(inventory: string): string {
  return [
    'What happens now, in each of these runs:',
    '  - the down windows in progress finish: a VM already stopped is started again and health-checked;',
    '  - no new window starts (no T1, no T2); VMs running on their mirrors stay there, safely (their',
    '    definitions still point at the old volumes), and md goes on resyncing them;',
    '  - once nothing is down, the run exits and writes its report.',
    `To resume: sanshift run -i ${inventory} (a run started after this request is not paused by it).`,
    `To take the request back before that: sanshift pause -i ${inventory} --cancel. sanshift status shows the pause.`,
  ].join('\n');
}

export async function pauseCommand(args: PauseArgs, io: Io): Promise<number> {
  // the inventory is read so that a wrong -i fails here, not silently in the wrong state folder
  await loadInventory(args.inventory);
  const stateDir = stateDirFor(args.inventory, args.stateDir);
  if (args.cancel) {
    const had = readPause(stateDir);
    if (clearPause(stateDir) && had !== null) io.out(`${describePause(had)}: taken back; the runs in progress go on starting windows.\n`);
    else io.out(`no pause request in ${stateDir}: nothing to take back.\n`);
    return ExitCode.ok;
  }
  const running = runsInProgress(readAllJournals(stateDir));
  if (running.length === 0) {
    io.out(`no run is in progress in ${stateDir}: nothing to pause (a run started from now on would not be paused by a request made before it).\n`);
    return ExitCode.ok;
  }
  const req = requestPause(stateDir, { now: args.now ?? new Date(), ...(args.reason === undefined ? {} : { reason: args.reason }), runs: running.map((r) => r.run) });
  io.out(`${describePause(req)}.\nRuns in progress: ${running.map(describeRun).join('; ')}.\n${pauseExplanation(args.inventory)}\n`);
  return ExitCode.ok;
}

export const pauseCli: CliCommand = {
  command: 'pause',
  describe: 'let the runs in progress finish their windows in progress and start no new one, then exit; `run` again resumes',
  builder: (y: Argv) =>
    y
      .option('reason', { type: 'string', describe: 'why, for the journal and for whoever reads `status`' })
      .option('cancel', { type: 'boolean', default: false, describe: 'take a pause request back: the runs go on starting windows' })
      .example('$0 pause -i fleet.yaml --reason "change freeze at 06:00"', 'drain the run in progress')
      .example('$0 pause -i fleet.yaml --cancel', 'take the request back')
      .epilog('A first Ctrl-C in a run asks the same; a second one stops it at the next safe point.'),
  run: (a, io) => {
    const reason = arg.optString(a, 'reason');
    return pauseCommand({ inventory: arg.string(a, 'inventory'), stateDir: arg.optString(a, 'state-dir'), cancel: arg.flag(a, 'cancel'), ...(reason === undefined ? {} : { reason }) }, io);
  },
};
