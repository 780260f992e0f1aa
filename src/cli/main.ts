// The sanshift command line: parse arguments with yargs, run the command, map errors to exit
// codes (0 ok, 1 failed while acting, 2 invalid input, 3 declined). Nothing is printed twice:
// commands render their results, main renders the errors.
import yargs, { type Argv } from 'yargs';
import { commands } from './commands.js';
import { describeError, exitCodeOf, ExitCode } from './exit.js';
import { processIo, type Io } from './io.js';

class UsageError extends Error {}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let chosen: (() => Promise<number>) | undefined;
  let parser: Argv = yargs([...argv])
    .scriptName('sanshift')
    .usage('$0 <command> [options]\n\nMoves the disks of libvirt VMs from an old SAN to a new one through md RAID1 mirrors,\ntwo short restarts per VM. Exit codes: 0 ok, 1 failed while acting, 2 invalid input (nothing touched), 3 declined.')
    .option('inventory', { alias: 'i', type: 'string', describe: 'inventory file (YAML or JSON, docs/inventory.md)' })
    .option('state-dir', { type: 'string', describe: 'where journals and locks live (default: .sanshift beside the inventory)' });
  for (const c of commands) {
    parser = parser.command(c.command, c.describe, (y: Argv) => (c.needsInventory === false ? c.builder(y) : c.builder(y).demandOption('inventory')), (a) => {
      chosen = () => c.run(a as Record<string, unknown>, io);
    });
  }
  parser = parser
    .demandCommand(1, `name a command: ${commands.map((c) => c.command.split(' ')[0]).join(', ')}`)
    .strict()
    .recommendCommands()
    .completion('completion', 'print a bash/zsh completion script (source it from your shell profile)')
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, io.columns))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  try {
    let output = '';
    await parser.parseAsync([...argv], {}, (_err, _parsed, text) => {
      output = text;
    });
    if (chosen === undefined) {
      if (output !== '') io.out(`${output}\n`);
      return ExitCode.ok;
    }
    return await chosen();
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${await parser.getHelp()}\n\nerror: ${err.message}\n`);
      return ExitCode.invalidInput;
    }
    io.err(describeError(err));
    return exitCodeOf(err);
  }
}
