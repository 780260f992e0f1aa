// Runs commands on a remote host through OpenSSH. The argv is quoted exactly once, here,
// and that escaped form is what messages show (the remote side runs it through a shell).
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActionError, UnreachableError } from '../util/errors.js';
import { runProcess } from './local.js';
import { describeArgv, shellJoin } from './quote.js';
import type { CommandResult, CommandRunner, RunOptions } from './runner.js';

export interface SshTarget {
  /** user@host or host */
  destination: string;
  port?: number;
  identityFile?: string;
  /** extra `-o Key=Value` options */
  options?: Record<string, string>;
  /** folder for the connection-reuse sockets (ControlPath=<dir>/%C) */
  controlDir: string;
  /** prefix the remote command with `sudo -n` */
  sudo?: boolean;
}

const SAFE_DESTINATION = /^[A-Za-z0-9_][A-Za-z0-9_.@:[\]-]*$/;
const SAFE_OPTION_KEY = /^[A-Za-z][A-Za-z0-9]*$/;

/** The ssh options shared by commands and the control-socket shutdown. Pure. */
export function sshOptionArgs(t: SshTarget): string[] {
  if (!SAFE_DESTINATION.test(t.destination)) {
    throw new ActionError(`unsafe ssh destination ${JSON.stringify(t.destination)}`);
  }
  // A host that stops answering must be noticed in seconds, not after TCP's minutes: a connect
  // timeout, and keep-alives that drop a dead connection (and its master) after 15 s. The
  // inventory's sshOptions come after these, and ssh takes the first value it reads of an
  // option, so ours are written only where the inventory does not set one.
  const own: [string, string][] = [
    ['BatchMode', 'yes'],
    ['ControlMaster', 'auto'],
    ['ControlPath', `${t.controlDir}/%C`],
    ['ControlPersist', '60'],
    ['ConnectTimeout', '10'],
    ['ServerAliveInterval', '5'],
    ['ServerAliveCountMax', '3'],
  ];
  const set = new Set(Object.keys(t.options ?? {}).map((k) => k.toLowerCase()));
  const args = own.filter(([k]) => !set.has(k.toLowerCase())).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
  if (t.port !== undefined) args.push('-p', String(t.port));
  if (t.identityFile !== undefined) args.push('-i', t.identityFile);
  for (const [k, v] of Object.entries(t.options ?? {})) {
    if (!SAFE_OPTION_KEY.test(k) || /[\r\n]/.test(v)) throw new ActionError(`unsafe ssh option ${k}=${v}`);
    args.push('-o', `${k}=${v}`);
  }
  return args;
}

/** The remote command line: argv (with `sudo -n` when asked) quoted for the remote shell. Pure. */
export function remoteCommandLine(argv: readonly string[], sudo = false): string {
  return shellJoin(sudo ? ['sudo', '-n', ...argv] : argv);
}

/** The full local argv that runs `argv` on the target. Pure. */
export function buildSshArgv(t: SshTarget, argv: readonly string[]): string[] {
  if (argv.length === 0) throw new ActionError('empty remote command');
  return ['ssh', ...sshOptionArgs(t), t.destination, '--', remoteCommandLine(argv, t.sudo)];
}

/** ssh's own exit code when the connection (not the remote command) failed */
export const SSH_TRANSPORT_FAILURE = 255;

export class SshRunner implements CommandRunner {
  readonly kind = 'ssh' as const;
  readonly target: SshTarget;

  constructor(
    readonly host: string,
    target: Omit<SshTarget, 'controlDir'> & { controlDir?: string },
  ) {
    const controlDir = target.controlDir ?? join(tmpdir(), `sanshift-ssh-${process.getuid?.() ?? 'user'}`);
    this.target = { ...target, controlDir };
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    mkdirSync(this.target.controlDir, { recursive: true, mode: 0o700 });
    const full = buildSshArgv(this.target, argv);
    const r = await runProcess(this.host, full, options);
    if (r.exitCode === SSH_TRANSPORT_FAILURE) {
      const reason = r.stderr.trim() === '' ? 'ssh exited 255' : r.stderr.trim();
      throw new UnreachableError(this.host, this.target.destination, `${reason} (running ${describeArgv(argv)})`);
    }
    return { argv: [...argv], stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, durationMs: r.durationMs };
  }

  /** Ends the shared connection, if one is up; never fails. */
  async close(): Promise<void> {
    try {
      await runProcess(this.host, ['ssh', ...sshOptionArgs(this.target), '-O', 'exit', this.target.destination], {
        timeoutMs: 5000,
      });
    } catch {
      // no master running, or ssh missing: nothing to close
    }
  }
}
