// The Host port: how sanshift runs a command on a hypervisor. Commands are argument vectors,
// never shell strings (invariant I6); the ssh runner quotes once, at its own boundary.

export interface CommandResult {
  readonly argv: readonly string[];
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
  readonly durationMs: number;
}

export interface RunOptions {
  /** text fed to the command's standard input */
  input?: string;
  timeoutMs?: number;
}

export interface CommandRunner {
  /** the inventory's host name, for messages */
  readonly host: string;
  /** how commands reach the host: a real local process, ssh, or the simulated host */
  readonly kind: 'local' | 'ssh' | 'simulated';
  /** Runs argv and resolves with its result whatever the exit code; rejects only when the
   * command could not be run at all (transport down, binary missing, timeout). */
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  close(): Promise<void>;
}
