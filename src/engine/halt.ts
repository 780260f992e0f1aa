// Why a run stops taking new windows: a pause request (`sanshift pause`, a first Ctrl-C: the
// windows in progress finish, then the run exits) or a stop (a second Ctrl-C: every VM stops at
// its next safe point, never with its VM off). VMs left this way are "stopped" in this run, not
// failed: `sanshift run` again continues them from where they stand.
import { statSync } from 'node:fs';
import { describePause, pausePath, pauseApplies, readPause } from '../control/pause.js';

export interface Halt {
  kind: 'pause' | 'stop';
  reason: string;
}

/** A VM's migration was left for a later run (a pause, a stop, the failure budget). */
export class RunHalted extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RunHalted';
  }
}

export class RunHalt {
  /** the pause file as last read (every gate and every poll asks: it is read again only when
   * it changed, so a request is seen at once and costs a stat otherwise) */
  private cached: { stamp: string; value: Halt | null } | null = null;

  constructor(
    private readonly o: {
      stateDir: string;
      runId: string;
      /** when the run started: a pause request made after it applies to it */
      startedAtMs: number;
      /** aborted: stop at the next safe point */
      stop?: AbortSignal;
    },
  ) {}

  current(): Halt | null {
    if (this.o.stop?.aborted === true) return { kind: 'stop', reason: 'stop requested (second Ctrl-C): stopped at the next safe point' };
    let stamp = 'none';
    try {
      const st = statSync(pausePath(this.o.stateDir));
      stamp = `${st.mtimeMs}/${st.size}/${st.ino}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') stamp = `error ${(err as Error).message}`;
    }
    if (this.cached?.stamp === stamp) return this.cached.value;
    const req = readPause(this.o.stateDir);
    const value: Halt | null = pauseApplies(req, { id: this.o.runId, startedAtMs: this.o.startedAtMs }) ? { kind: 'pause', reason: describePause(req!) } : null;
    this.cached = { stamp, value };
    return value;
  }
}
