// A failed host command as a value, and its human message built by a pure function.
import { ActionError } from '../util/errors.js';
import type { CommandResult } from './runner.js';
import { describeArgv } from './quote.js';

export interface CommandFailure {
  host: string;
  argv: readonly string[];
  exitCode: number;
  stderr: string;
  stdout?: string;
  durationMs?: number;
  /** what was being done, in the operator's words ("build mirror /dev/md/ss-vm1-vda") */
  doing?: string;
}

/** One message naming the host, the exact command, its exit code and what it said. */
export function describeCommandFailure(f: CommandFailure): string {
  const said = (f.stderr.trim() !== '' ? f.stderr : (f.stdout ?? '')).trim();
  const head = f.doing === undefined ? 'command failed' : `${f.doing} failed`;
  let msg = `${head} on host ${f.host}: \`${describeArgv(f.argv)}\` exited ${f.exitCode}`;
  if (said !== '') msg += `: ${said.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' / ')}`;
  return msg;
}

/** The ActionError for a command that ran and failed; keeps the failure as its cause. */
export function commandFailed(host: string, result: CommandResult, doing?: string): ActionError {
  const failure: CommandFailure = {
    host,
    argv: result.argv,
    exitCode: result.exitCode,
    stderr: result.stderr,
    stdout: result.stdout,
    durationMs: result.durationMs,
    ...(doing === undefined ? {} : { doing }),
  };
  return new ActionError(describeCommandFailure(failure), { host, cause: failure });
}
