// The sanshift command line: parse arguments with yargs, call the command, map errors to
// exit codes (0 ok, 1 failed while acting, 2 invalid input, 3 declined). Nothing is printed
// twice: commands render their results, main renders the errors.
import yargs, { type Argv } from 'yargs';
import { describeError, exitCodeOf, ExitCode } from './exit.js';
import { processIo, type Io } from './io.js';
import { planCommand, planCommandBuilder, type PlanArgs } from './plan.js';

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
    .demandCommand(1, 'name a command: plan')
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
