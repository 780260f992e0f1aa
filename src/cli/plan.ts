// `sanshift plan`: the dry run. Reads everything, changes nothing, prints the plan.
import type { Argv } from 'yargs';
import { newRunId } from '../engine/journal.js';
import { historyReader } from '../engine/run.js';
import { planFleet } from '../plan/fleet-plan.js';
import { renderPlanJson, renderPlanText } from '../report/plan-view.js';
import { InputError } from '../util/errors.js';
import { openSession, REHEARSAL_BANNER } from './common.js';
import { arg, type CliCommand } from './command.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';
import { selectedNames, selectionArgs, withSelection, type SelectionArgs } from './selection.js';

export interface PlanArgs {
  inventory: string;
  vm: string[];
  json: boolean;
  stateDir?: string;
  selection?: SelectionArgs;
  quiet?: boolean;
}

export const planCli: CliCommand = {
  command: 'plan [vm..]',
  describe: 'the dry run: per VM, its disks, preflight checks and every step with exact commands and XML',
  builder: (y: Argv) =>
    withSelection(y)
      .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to plan (default: every VM of the inventory)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the plan as JSON (docs/plan-json.md)' })
      .example('$0 plan -i fleet.yaml', 'plan every VM of fleet.yaml')
      .example('$0 plan -i fleet.yaml db1 web1 --json', 'the plan of two VMs, as JSON')
      .example("$0 plan -i fleet.yaml --limit 'group:canary,web*' --exclude web9", 'the plan of a selection'),
  run: (a, io) => planCommand({ inventory: arg.string(a, 'inventory'), vm: arg.strings(a, 'vm'), json: arg.flag(a, 'json'), stateDir: arg.optString(a, 'state-dir'), selection: selectionArgs(a), quiet: arg.flag(a, 'quiet') }, io),
};

export async function planCommand(args: PlanArgs, io: Io): Promise<number> {
  const session = await openSession(args.inventory, args.stateDir);
  try {
    const now = new Date(session.clock.now());
    // The journals say which VMs are mid-way (planned from their original definition) or done.
    const vms = selectedNames(session.inventory, args.vm, args.selection ?? { limit: [], exclude: [], failed: false }, session.stateDir);
    const outcome = await planFleet(session.inventory, session.connections, { vms, runId: newRunId(now.getTime()), now, history: historyReader(session.stateDir) });
    if (args.json) io.out(renderPlanJson(outcome.plan, outcome.problems, session.inventory, { startAt: now }));
    else {
      if (session.connections.rehearsal && args.quiet !== true) io.out(REHEARSAL_BANNER);
      io.out(renderPlanText(outcome.plan, outcome.problems, session.inventory, { startAt: now }));
    }
    if (outcome.problems.length > 0) {
      // Already printed with the plan; the InputError only carries the exit code.
      if (args.json) io.err(new InputError(outcome.problems).message + '\n');
      return ExitCode.invalidInput;
    }
    for (const u of outcome.unreachable) io.err(`error: ${u.message}\n`);
    return outcome.unreachable.length > 0 ? ExitCode.failed : ExitCode.ok;
  } finally {
    await session.connections.close();
  }
}
