// POSIX shell quoting, used once: at the ssh boundary, and for showing argv to a person.
// Pure: no I/O.

/** Characters that never need quoting in a POSIX shell word. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one argument so a POSIX shell reads it back as exactly that one word. */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('an argument cannot contain a NUL byte');
  if (arg !== '' && PLAIN_WORD.test(arg)) return arg;
  // inside single quotes nothing is special except the quote itself: close, escape, reopen
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The argv as one shell command line; every word quoted as needed. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/**
 * The argv as a person should read it in a message: one of sanshift's host scripts
 * (`sh -c SCRIPT NAME ARGS...`, src/host/scripts.ts) by its name and arguments, not its text;
 * anything else as the shell command line.
 */
export function describeArgv(argv: readonly string[]): string {
  if (argv[0] === 'sh' && argv[1] === '-c' && argv[3]?.startsWith('sanshift-') === true) return shellJoin(argv.slice(3));
  return shellJoin(argv);
}
