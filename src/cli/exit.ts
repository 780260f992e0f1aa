// Exit codes, the same for every command (docs/exit-codes.md).
import { ActionError, InputError, UnreachableError, errorMessage } from '../util/errors.js';

export const ExitCode = {
  ok: 0,
  /** a failure while acting (or a host that cannot be reached) */
  failed: 1,
  /** invalid input: nothing was touched */
  invalidInput: 2,
  /** the operator declined the confirmation */
  declined: 3,
  /** `plan --detailed-exitcode` only: the plan succeeded and has VMs to migrate (Terraform's 2,
   * which sanshift already gives to invalid input) */
  changesPlanned: 4,
  /** `run`: nothing failed, but the run stopped before every VM was done, as asked (a pause, a
   * stop) or by the rollout (canaries, budget): `sanshift run` again continues */
  stoppedEarly: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof InputError) return ExitCode.invalidInput;
  if (err instanceof ActionError || err instanceof UnreachableError) return ExitCode.failed;
  return ExitCode.failed;
}

export function describeError(err: unknown): string {
  if (err instanceof InputError) {
    const n = err.problems.length;
    return `error: ${n === 1 ? 'invalid input' : `${n} problems in the input`}; nothing was changed.\n${err.message}\n`;
  }
  if (err instanceof UnreachableError) return `error: ${err.message}\n`;
  if (err instanceof ActionError) {
    const changed = err.details.changed ?? [];
    const tail = changed.length === 0 ? '' : `\n  may have changed: ${changed.join('; ')}`;
    return `error: ${err.message}${tail}\n`;
  }
  return `error: ${errorMessage(err)}\n`;
}
