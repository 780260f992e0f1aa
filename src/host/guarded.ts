// What every host command goes through in a run: at most N sessions at once per host (sshd's
// MaxSessions is 10 by default; more commands over one master connection fail with exit 255),
// and a deadline per command. A real process is killed at its deadline (execa); the clock's own
// deadline also covers a runner that cannot be killed. Either way the answer is a TimeoutError:
// the command's outcome is unknown, and the engine finds out by looking, never by redoing.
import PQueue from 'p-queue';
import type { Clock } from '../util/clock.js';
import { TimeoutError } from '../util/errors.js';
import { describeArgv } from './quote.js';
import type { CommandResult, CommandRunner, RunOptions } from './runner.js';

/** Below sshd's default MaxSessions (10): a colleague's `ssh` to the same host still gets in. */
export const DEFAULT_SESSIONS_PER_HOST = 8;
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

export interface GuardOptions {
  clock: Clock;
  sessions?: number;
  /** deadline of a command that does not name its own */
  timeoutMs?: number;
}

export class GuardedRunner implements CommandRunner {
  private readonly queue: PQueue;
  private readonly timeoutMs: number;

  constructor(
    private readonly inner: CommandRunner,
    private readonly options: GuardOptions,
  ) {
    this.queue = new PQueue({ concurrency: options.sessions ?? DEFAULT_SESSIONS_PER_HOST });
    this.timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  }

  get host(): string {
    return this.inner.host;
  }

  get kind(): CommandRunner['kind'] {
    return this.inner.kind;
  }

  /** commands waiting for a session now (tests, status) */
  get waiting(): number {
    return this.queue.size;
  }

  run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return this.queue.add(async () => {
      const stop = new AbortController();
      // a second later than the process's own deadline: the kill is the usual way out
      const late = this.options.clock.sleep(timeoutMs + 1000, stop.signal).then(() => {
        throw new TimeoutError(this.inner.host, `\`${describeArgv(argv)}\``, timeoutMs);
      });
      try {
        return await Promise.race([this.inner.run(argv, { ...options, timeoutMs }), late]);
      } finally {
        stop.abort();
      }
    }) as Promise<CommandResult>;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
