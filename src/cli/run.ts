// `sanshift run` and `sanshift rollback`: plan, confirm, execute, report.
import { historyReader, runFleet, RunMode, type RunSummary } from '../engine/run.js';
import { newRunId } from '../engine/journal.js';
import type { EngineEvent } from '../engine/events.js';
import { planFleet } from '../plan/fleet-plan.js';
import { timestampedLine } from '../report/event-lines.js';
import { InputError, InputErrorCode } from '../util/errors.js';
import { openSession, REHEARSAL_BANNER, type Session } from './common.js';
import type { Argv } from 'yargs';
import { arg, type CliCommand } from './command.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';

export interface RunArgs {
  inventory: string;
  vm: string[];
  yes: boolean;
  stateDir?: string;
}

export interface RollbackArgs {
  inventory: string;
  vm: string;
  reverse: boolean;
  yes: boolean;
  stateDir?: string;
}

/** A run asks before it acts, unless --yes; without a terminal to ask on, it refuses. */
async function confirm(io: Io, question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!io.stdinIsTTY) {
    throw InputError.one({ code: InputErrorCode.invalidInput, message: 'standard input is not a terminal, so sanshift cannot ask for confirmation', hint: 'add --yes to run without asking' });
  }
  const answer = await io.ask(`${question} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

function summaryLines(summary: RunSummary): string {
  const lines = summary.results.map((r) => `  ${r.vm.padEnd(20)} ${r.outcome.outcome}${r.outcome.outcome === 'failed' ? `: ${r.outcome.reason}` : ''}`);
  return `${lines.join('\n')}\njournal: ${summary.journal}\n`;
}

async function execute(session: Session, io: Io, vms: string[], mode: RunMode, reverse: boolean, yes: boolean, verb: string): Promise<number> {
  const { inventory, connections, clock, stateDir } = session;
  const now = clock.now();
  const runId = newRunId(now);
  const outcome = await planFleet(inventory, connections, { vms, runId, now: new Date(now), history: historyReader(stateDir), reverse });
  if (connections.rehearsal) io.out(REHEARSAL_BANNER);
  if (outcome.problems.length > 0) throw new InputError(outcome.problems);
  for (const u of outcome.unreachable) throw u;
  const todo = outcome.plan.vms.filter((v) => v.done !== true);
  if (todo.length === 0) {
    io.out(`nothing to do: ${outcome.plan.vms.map((v) => v.name).join(', ')} already on ${mode === RunMode.rollback ? 'their old' : 'their new'} volumes\n`);
    return ExitCode.ok;
  }
  const names = todo.map((v) => v.name).join(', ');
  if (!(await confirm(io, `${verb} ${todo.length} VM${todo.length === 1 ? '' : 's'} (${names}); each restarts twice.`, yes))) {
    io.err('declined; nothing was changed\n');
    return ExitCode.declined;
  }
  const emit = (e: EngineEvent) => {
    const line = timestampedLine(e);
    if (line !== null) io.out(`${line}\n`);
  };
  const summary = await runFleet({ plan: outcome.plan, inventory, connections, clock, stateDir, runId, mode, emit });
  io.out(summaryLines(summary));
  return summary.ok ? ExitCode.ok : ExitCode.failed;
}

export async function runCommand(args: RunArgs, io: Io): Promise<number> {
  const session = await openSession(args.inventory, args.stateDir);
  try {
    return await execute(session, io, args.vm, RunMode.migrate, false, args.yes, 'migrate');
  } finally {
    await session.connections.close();
  }
}

export async function rollbackCommand(args: RollbackArgs, io: Io): Promise<number> {
  const session = await openSession(args.inventory, args.stateDir);
  try {
    if (args.reverse) return await execute(session, io, [args.vm], RunMode.migrate, true, args.yes, 'migrate back (reverse)');
    return await execute(session, io, [args.vm], RunMode.rollback, false, args.yes, 'roll back');
  } finally {
    await session.connections.close();
  }
}


export const runCli: CliCommand = {
  command: 'run [vm..]',
  describe: 'migrate the VMs (all, or those named): two short restarts each; running it again continues where things stand',
  builder: (y: Argv) =>
    y
      .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to migrate (default: every VM of the inventory)' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask for confirmation (needed when stdin is not a terminal)' })
      .example('$0 run -i fleet.yaml', 'migrate every VM of fleet.yaml, after a confirmation')
      .example('$0 run -i fleet.yaml db1 --yes', 'migrate db1 without asking'),
  run: (a, io) => runCommand({ inventory: arg.string(a, 'inventory'), vm: arg.strings(a, 'vm'), yes: arg.flag(a, 'yes'), stateDir: arg.optString(a, 'state-dir') }, io),
};

export const rollbackCli: CliCommand = {
  command: 'rollback <vm>',
  describe: 'return one VM to its old volumes, from any phase before its cutover; after it, only with --reverse',
  builder: (y: Argv) =>
    y
      .positional('vm', { type: 'string', describe: 'the VM to roll back' })
      .option('reverse', { type: 'boolean', default: false, describe: 'after a completed migration: migrate the VM back to its old volumes (two restarts)' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask for confirmation' })
      .example('$0 rollback -i fleet.yaml db1', 'db1 back on its old volumes, mirror gone, definition as before')
      .example('$0 rollback -i fleet.yaml db1 --reverse --yes', 'move a migrated db1 back to its old volumes'),
  run: (a, io) => rollbackCommand({ inventory: arg.string(a, 'inventory'), vm: arg.string(a, 'vm'), reverse: arg.flag(a, 'reverse'), yes: arg.flag(a, 'yes'), stateDir: arg.optString(a, 'state-dir') }, io),
};
