// Two kinds of failure, kept apart on purpose (see docs/errors.md):
// - InputError: a prerequisite failed; nothing on any host was touched. Exit code 2.
// - ActionError: something failed while acting; the error lists what may have changed. Exit code 1.
// Messages are built by pure functions from these values; the CLI prints them once.

export const InputErrorCode = {
  invalidInput: 'invalid-input',
  notFound: 'not-found',
  wrongState: 'wrong-state',
  inUse: 'in-use',
  alreadyExists: 'already-exists',
  unsupported: 'unsupported',
} as const;
export type InputErrorCode = (typeof InputErrorCode)[keyof typeof InputErrorCode];

/** Where a piece of bad input lives: a file, a key path inside it, a line, a VM or host. */
export interface Culprit {
  file?: string;
  /** key path inside the file, e.g. ["vms", 3, "disks", "vda"] */
  path?: readonly (string | number)[];
  line?: number;
  column?: number;
  vm?: string;
  host?: string;
}

export interface Problem {
  code: InputErrorCode;
  message: string;
  /** how to fix it, in the operator's words */
  hint?: string;
  at?: Culprit;
}

/** One or more input problems, all collected before anything acts. */
export class InputError extends Error {
  readonly exitCode = 2 as const;
  constructor(readonly problems: readonly Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'InputError';
  }
  static one(problem: Problem): InputError {
    return new InputError([problem]);
  }
}

/** A failure while acting. `changed` lists what may have been changed before it failed. */
export class ActionError extends Error {
  readonly exitCode = 1 as const;
  constructor(
    message: string,
    readonly details: {
      host?: string;
      vm?: string;
      step?: string;
      changed?: readonly string[];
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ActionError';
  }
}

/** A host could not be reached (libvirt connection or command transport). Exit code 1. */
export class UnreachableError extends Error {
  readonly exitCode = 1 as const;
  constructor(
    readonly host: string,
    readonly target: string,
    readonly reason: string,
  ) {
    super(`host ${host} (${target}) cannot be reached: ${reason}`);
    this.name = 'UnreachableError';
  }
}

/** A call that got no answer in time: its outcome is unknown (it may have acted). Exit code 1. */
export class TimeoutError extends Error {
  readonly exitCode = 1 as const;
  constructor(
    readonly host: string,
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} on host ${host} got no answer within ${ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)}s`} (timed out)`);
    this.name = 'TimeoutError';
  }
}

/** libvirt's words for a connection that broke under a call (remote driver, ssh transport). */
const CONNECTION_LOST = /client socket is closed|end of file while reading data|cannot (recv|write) data|broken pipe|connection reset|keepalive|not connected|connection (closed|refused|timed out)|unable to connect|cannot connect|no route to host|failed to connect|ssh: connect to host/i;

/**
 * Transport trouble, not a decision: the host did not answer (ssh exit 255, a libvirt connection
 * that broke, a timeout). The engine holds such a VM where it is and asks again; it never rolls
 * back over it, and a side effect whose answer was lost is resolved by looking, not by redoing.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof UnreachableError || err instanceof TimeoutError) return true;
  if (err instanceof Error && err.name === 'HypervisorError') return CONNECTION_LOST.test(err.message);
  return false;
}

export function formatKeyPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

export function formatCulprit(at: Culprit): string {
  const parts: string[] = [];
  if (at.file !== undefined) {
    let loc = at.file;
    if (at.line !== undefined) loc += `:${at.line}`;
    if (at.line !== undefined && at.column !== undefined) loc += `:${at.column}`;
    parts.push(loc);
  }
  if (at.path !== undefined && at.path.length > 0) parts.push(formatKeyPath(at.path));
  if (at.host !== undefined) parts.push(`host ${at.host}`);
  if (at.vm !== undefined) parts.push(`VM ${at.vm}`);
  return parts.join(' ');
}

export function formatProblem(p: Problem): string {
  const where = p.at === undefined ? '' : formatCulprit(p.at);
  let line = where === '' ? p.message : `${where}: ${p.message}`;
  if (p.hint !== undefined) line += `\n  fix: ${p.hint}`;
  return line;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
