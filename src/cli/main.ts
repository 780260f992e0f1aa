// The sanshift command line: parse arguments with yargs, call the command, map errors to
// exit codes (0 ok, 1 failed while acting, 2 invalid input, 3 declined). Nothing is printed
// twice: commands render their results, main renders the errors.
import yargs, { type Argv } from 'yargs';
import { describeError, exitCodeOf, ExitCode } from './exit.js';
import { processIo, type Io } from './io.js';
import { planCommand, planCommandBuilder, type PlanArgs } from './plan.js';
import { rollbackCommand, runCommand } from './run.js';
import { statusCommand } from './status.js';

const inventoryOption = {
  alias: 'i',
  type: 'string',
  demandOption: true,
  describe: 'inventory file (YAML or JSON, docs/inventory.md)',
} as const;

const stateDirOption = {
  type: 'string',
  describe: 'where journals and locks live (default: .sanshift beside the inventory)',
} as const;

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let code: number = ExitCode.ok;
  const run = (fn: () => Promise<number>) => async () => {
    code = await fn();
  };
  let handler: (() => Promise<void>) | undefined;
  const parser = yargs([...argv])
    .scriptName('sanshift')
    .usage('$0 <command> [options]\n\nMoves the disks of libvirt VMs from an old SAN to a new one through md RAID1 mirrors.')
    .option('inventory', inventoryOption)
    .option('state-dir', stateDirOption)
    .command('plan [vm..]', 'the dry run: per VM, its disks, preflight checks and every step with exact commands and XML', (y: Argv) => planCommandBuilder(y), (a) => {
      handler = run(() => planCommand({ inventory: a.inventory as string, vm: (a.vm as string[]) ?? [], json: a.json as boolean, stateDir: a['state-dir'] as string | undefined } satisfies PlanArgs, io));
    })
    .command(
      'run [vm..]',
      'migrate the VMs (all, or those named): two short restarts each; running it again continues where things stand',
      (y: Argv) =>
        y
          .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to migrate (default: every VM of the inventory)' })
          .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask for confirmation (needed when stdin is not a terminal)' })
          .example('$0 run -i fleet.yaml', 'migrate every VM of fleet.yaml, after a confirmation')
          .example('$0 run -i fleet.yaml db1 --yes', 'migrate db1 without asking'),
      (a) => {
        handler = run(() => runCommand({ inventory: a.inventory as string, vm: (a.vm as string[]) ?? [], yes: a.yes as boolean, stateDir: a['state-dir'] as string | undefined }, io));
      },
    )
    .command(
      'rollback <vm>',
      'return one VM to its old volumes, from any phase before its cutover; after it, only with --reverse',
      (y: Argv) =>
        y
          .positional('vm', { type: 'string', describe: 'the VM to roll back' })
          .option('reverse', { type: 'boolean', default: false, describe: 'after a completed migration: migrate the VM back to its old volumes (two restarts)' })
          .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask for confirmation' })
          .example('$0 rollback -i fleet.yaml db1', 'db1 back on its old volumes, mirror gone, definition as before')
          .example('$0 rollback -i fleet.yaml db1 --reverse --yes', 'move a migrated db1 back to its old volumes'),
      (a) => {
        handler = run(() => rollbackCommand({ inventory: a.inventory as string, vm: a.vm as string, reverse: a.reverse as boolean, yes: a.yes as boolean, stateDir: a['state-dir'] as string | undefined }, io));
      },
    )
    .command(
      'status [vm..]',
      'the phase of every VM: resync progress, speed, ETA, last error',
      (y: Argv) =>
        y
          .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to show (default: all)' })
          .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
          .example('$0 status -i fleet.yaml', 'one line per VM'),
      (a) => {
        handler = run(() => statusCommand({ inventory: a.inventory as string, vm: (a.vm as string[]) ?? [], json: a.json as boolean, stateDir: a['state-dir'] as string | undefined }, io));
      },
    )
    .demandCommand(1, 'name a command: plan, run, status or rollback')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, io.columns))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  try {
    let helpText = '';
    await parser.parseAsync([...argv], {}, (_err, _parsed, output) => {
      helpText = output;
    });
    if (handler === undefined) {
      if (helpText !== '') io.out(`${helpText}\n`);
      return ExitCode.ok;
    }
    await handler();
    return code;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${await parser.getHelp()}\n\nerror: ${err.message}\n`);
      return ExitCode.invalidInput;
    }
    io.err(describeError(err));
    return exitCodeOf(err);
  }
}

class UsageError extends Error {}
