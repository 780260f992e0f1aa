// `sanshift plan`: the dry run. Reads everything, changes nothing, prints the plan.
import type { Argv } from 'yargs';
import { newRunId } from '../engine/journal.js';
import { historyReader } from '../engine/run.js';
import { planFleet } from '../plan/fleet-plan.js';
import { planFileOf, renderPlanFile } from '../plan/plan-file.js';
import { checkWritableFolder, writeFileAtomically } from './files.js';
import { inventoryDigest, sanshiftVersion } from './plan-files.js';
import { planJsonChunks, planTextChunks } from '../report/plan-view.js';
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
  /** save the plan to this file, for `run --plan` */
  out?: string;
  /** exit 0 when there is nothing to do, 4 when there are VMs to migrate (like Terraform's -detailed-exitcode) */
  detailedExitcode?: boolean;
}

export const planCli: CliCommand = {
  command: 'plan [vm..]',
  describe: 'the dry run: per VM, its disks, preflight checks and every step with exact commands and XML',
  builder: (y: Argv) =>
    withSelection(y)
      .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to plan (default: every VM of the inventory)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the plan as JSON (docs/plan-json.md)' })
      .option('out', { alias: 'o', type: 'string', nargs: 1, describe: 'save the plan to FILE; `sanshift run --plan FILE` executes exactly it, or refuses if the fleet changed (docs/plan-json.md)' })
      .option('detailed-exitcode', { type: 'boolean', default: false, describe: 'exit 0 when there is nothing to do, 4 when there are VMs to migrate (1 and 2 as always)' })
      .example('$0 plan -i fleet.yaml', 'plan every VM of fleet.yaml')
      .example('$0 plan -i fleet.yaml db1 web1 --json', 'the plan of two VMs, as JSON')
      .example("$0 plan -i fleet.yaml --limit 'group:canary,web*' --exclude web9", 'the plan of a selection')
      .example('$0 plan -i fleet.yaml -o fleet.plan.json', 'save the plan, to review it and run exactly it later')
      .epilog('Exit codes: 0 ok, 1 a host could not be reached, 2 invalid input or a refused preflight (no plan is saved).\nWith --detailed-exitcode: 0 nothing to do, 4 VMs to migrate (docs/exit-codes.md).'),
  run: (a, io) =>
    planCommand(
      { inventory: arg.string(a, 'inventory'), vm: arg.strings(a, 'vm'), json: arg.flag(a, 'json'), stateDir: arg.optString(a, 'state-dir'), selection: selectionArgs(a), quiet: arg.flag(a, 'quiet'), out: arg.optString(a, 'out'), detailedExitcode: arg.flag(a, 'detailed-exitcode') },
      io,
    ),
};

export async function planCommand(args: PlanArgs, io: Io): Promise<number> {
  if (args.out !== undefined) checkWritableFolder(args.out, '--out');
  const session = await openSession(args.inventory, args.stateDir);
  try {
    const now = new Date(session.clock.now());
    // The journals say which VMs are mid-way (planned from their original definition) or done.
    const vms = selectedNames(session.inventory, args.vm, args.selection ?? { limit: [], exclude: [], failed: false }, session.stateDir);
    const outcome = await planFleet(session.inventory, session.connections, { vms, runId: newRunId(now.getTime()), now, history: historyReader(session.stateDir) });
    if (args.json) await io.outAll(planJsonChunks(outcome.plan, outcome.problems, session.inventory, { startAt: now }));
    else {
      if (session.connections.rehearsal && args.quiet !== true) io.out(REHEARSAL_BANNER);
      await io.outAll(planTextChunks(outcome.plan, outcome.problems, session.inventory, { startAt: now }));
    }
    if (outcome.problems.length > 0) {
      // Already printed with the plan; the InputError only carries the exit code.
      if (args.json) io.err(new InputError(outcome.problems).message + '\n');
      return ExitCode.invalidInput;
    }
    for (const u of outcome.unreachable) io.err(`error: ${u.message}\n`);
    if (outcome.unreachable.length > 0) {
      if (args.out !== undefined) io.err(`no plan saved to ${args.out}: a plan with unread hosts cannot be run\n`);
      return ExitCode.failed;
    }
    const todo = outcome.plan.vms.filter((v) => v.done !== true).length;
    if (args.out !== undefined) {
      // the digest is taken after planning: an inventory edited in between shows as a change at run time
      // the VMs as selected (names, --limit, --exclude, --failed): run --plan plans exactly them again
      const saved = planFileOf(outcome.plan, inventoryDigest(args.inventory), vms, sanshiftVersion());
      writeFileAtomically(args.out, renderPlanFile(saved));
      const line = `plan saved to ${args.out}: ${todo} VM${todo === 1 ? '' : 's'} to migrate, ${outcome.plan.vms.length - todo} already done. Run exactly this plan with: sanshift run -i ${args.inventory} --plan ${args.out}\n`;
      if (args.json) io.err(line);
      else io.out(line);
    }
    if (args.detailedExitcode === true) return todo > 0 ? ExitCode.changesPlanned : ExitCode.ok;
    return ExitCode.ok;
  } finally {
    await session.connections.close();
  }
}
