// Runs commands as real processes on this machine: argv straight to execve, no shell.
import { execa } from 'execa';
import { ActionError, TimeoutError } from '../util/errors.js';
import type { CommandResult, CommandRunner, RunOptions } from './runner.js';
import { describeArgv } from './quote.js';

/** Runs one process; the shared core of the local and ssh runners. `shown` is what messages
 * show of the command (the escaped form for ssh). Rejects only if it could not run. */
export async function runProcess(
  host: string,
  argv: readonly string[],
  options: RunOptions = {},
  env: Record<string, string> = {},
): Promise<CommandResult & { signal?: string; timedOut: boolean; spawnError?: string }> {
  const [file, ...args] = argv;
  if (file === undefined || file === '') throw new ActionError(`empty command for host ${host}`, { host });
  const started = Date.now();
  const result = await execa(file, args, {
    reject: false,
    // byte-identical output: keep trailing newlines as the program wrote them
    stripFinalNewline: false,
    env,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
  const durationMs = Date.now() - started;
  if (result.timedOut) {
    // the command was killed here; what it did on the far side is unknown
    throw new TimeoutError(host, `\`${describeArgv(argv)}\``, options.timeoutMs ?? 0);
  }
  if (result.exitCode === undefined) {
    // never started (binary missing, permission) or killed by a signal
    const why = result.signal !== undefined ? `killed by ${result.signal}` : (result.originalMessage ?? result.shortMessage);
    throw new ActionError(`\`${describeArgv(argv)}\` could not run on host ${host}: ${why}`, { host, cause: result });
  }
  return {
    argv: [...argv],
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    exitCode: result.exitCode,
    durationMs,
    timedOut: false,
  };
}

export interface LocalRunnerOptions {
  /** the inventory's host name, for messages (default "localhost") */
  host?: string;
  /** prefix every command with `sudo -n` */
  sudo?: boolean;
}

/** The local shell of this machine. LC_ALL=C keeps outputs in the format the parsers know. */
export class LocalRunner implements CommandRunner {
  readonly kind = 'local' as const;
  readonly host: string;
  private readonly sudo: boolean;

  constructor(options: LocalRunnerOptions = {}) {
    this.host = options.host ?? 'localhost';
    this.sudo = options.sudo ?? false;
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const full = this.sudo ? ['sudo', '-n', ...argv] : argv;
    const r = await runProcess(this.host, full, options, { LC_ALL: 'C' });
    return { argv: [...argv], stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, durationMs: r.durationMs };
  }

  async close(): Promise<void> {}
}
