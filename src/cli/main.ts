// The sanshift command line: parse arguments with yargs, run the command, map errors to exit
// codes (0 ok, 1 failed while acting, 2 invalid input, 3 declined). Nothing is printed twice:
// commands render their results, main renders the errors.
import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { closest } from '../inventory/suggest.js';
import { commands } from './commands.js';
import { describeError, exitCodeOf, ExitCode } from './exit.js';
import { processIo, type Io } from './io.js';

class UsageError extends Error {}

/** The version in package.json: from src/cli (tsx, jest) and from dist/cli (the binary) alike. */
export function sanshiftVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Options of main itself that take a value: their value is not a command name. */
const GLOBAL_VALUE_OPTIONS = new Set(['-i', '--inventory', '--state-dir']);
const BUILT_IN = ['completion'];

/** The first word that is not an option or an option's value: the command the operator typed. */
function typedCommand(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return undefined;
    if (GLOBAL_VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * Runs one command line. `env` supplies SANSHIFT_INVENTORY and SANSHIFT_STATE_DIR when -i and
 * --state-dir are not given (a flag always wins).
 */
export async function main(argv: readonly string[], io: Io = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const names = commands.map((c) => c.command.split(' ')[0]!);
  const typed = typedCommand(argv);
  if (typed !== undefined && !names.includes(typed) && !BUILT_IN.includes(typed)) {
    // one line and the fix, not the whole help: the operator only mistyped a word
    const best = closest(typed, names);
    io.err(`unknown command ${JSON.stringify(typed)}${best === undefined ? '' : `; did you mean ${JSON.stringify(best)}?`} (sanshift --help lists them)\n`);
    return ExitCode.invalidInput;
  }
  const envInventory = env.SANSHIFT_INVENTORY === '' ? undefined : env.SANSHIFT_INVENTORY;
  const envStateDir = env.SANSHIFT_STATE_DIR === '' ? undefined : env.SANSHIFT_STATE_DIR;
  let chosen: (() => Promise<number>) | undefined;
  let chosenName = '';
  let parser: Argv = yargs([...argv])
    .scriptName('sanshift')
    .usage('$0 <command> [options]\n\nMoves the disks of libvirt VMs from an old SAN to a new one through md RAID1 mirrors,\ntwo short restarts per VM. Exit codes: 0 ok, 1 failed while acting, 2 invalid input (nothing touched), 3 declined.')
    .option('inventory', { alias: 'i', type: 'string', describe: 'inventory file (YAML or JSON, docs/inventory.md); default: $SANSHIFT_INVENTORY', ...(envInventory === undefined ? {} : { default: envInventory, defaultDescription: `$SANSHIFT_INVENTORY (${envInventory})` }) })
    .option('state-dir', { type: 'string', describe: 'where journals, locks and the pause request live (default: $SANSHIFT_STATE_DIR, else .sanshift beside the inventory)', ...(envStateDir === undefined ? {} : { default: envStateDir, defaultDescription: `$SANSHIFT_STATE_DIR (${envStateDir})` }) })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print only results and errors: no banners, no progress lines' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'print more: every event of a run, unthrottled' })
    .conflicts('quiet', 'verbose');
  for (const c of commands) {
    parser = parser.command(
      c.command,
      c.describe,
      (y: Argv) => (c.needsInventory === false ? c.builder(y) : c.builder(y).demandOption('inventory', 'name the inventory with -i FILE, or set SANSHIFT_INVENTORY')),
      (a) => {
        chosenName = c.command.split(' ')[0]!;
        chosen = () => c.run(a as Record<string, unknown>, io);
      },
    );
  }
  parser = parser
    .demandCommand(1, `name a command: ${names.join(', ')}`)
    .strict()
    .recommendCommands()
    .completion('completion', 'print a bash/zsh completion script (source it from your shell profile)')
    .help()
    .alias('h', 'help')
    .version('version', 'print the version of sanshift', sanshiftVersion())
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
      // the error and where to look, not the whole help again
      const help = typed === undefined ? 'sanshift --help' : `sanshift ${chosenName || typed} --help`;
      io.err(`error: ${err.message}\n(${help} lists the options)\n`);
      return ExitCode.invalidInput;
    }
    io.err(describeError(err));
    return exitCodeOf(err);
  }
}
