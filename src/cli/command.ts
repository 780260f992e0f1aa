// The shape of one sanshift command: its yargs definition and what it runs. main.ts registers
// every command of commands.ts the same way, so a new command is one file and one line.
import type { Argv } from 'yargs';
import type { Io } from './io.js';

export interface CliCommand {
  /** yargs command string, e.g. 'plan [vm..]' */
  command: string;
  describe: string;
  /** false for commands that take no -i (default: -i is required) */
  needsInventory?: boolean;
  builder(y: Argv): Argv;
  /** runs with the parsed arguments; resolves with the exit code */
  run(args: Record<string, unknown>, io: Io): Promise<number>;
}

/** Common argument readers, so each command reads yargs' loose record the same way. */
export const arg = {
  string: (a: Record<string, unknown>, k: string): string => a[k] as string,
  optString: (a: Record<string, unknown>, k: string): string | undefined => a[k] as string | undefined,
  strings: (a: Record<string, unknown>, k: string): string[] => (a[k] as string[] | undefined) ?? [],
  flag: (a: Record<string, unknown>, k: string): boolean => a[k] === true,
};
