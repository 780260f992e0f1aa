// One poll per host, whatever the number of mirrors on it: every VM waiting for its resync asks
// the host's poller, and the requests that arrive together are answered by a single command.
import { pollMirrors, type MirrorToPoll } from '../host/md.js';
import type { MirrorState } from '../host/mirrorstate.js';
import type { CommandRunner } from '../host/runner.js';

interface Pending {
  mirrors: MirrorToPoll[];
  resolve: (states: MirrorState[]) => void;
  reject: (err: unknown) => void;
}

export class HostPoller {
  private pending: Pending[] = [];
  private scheduled = false;
  /** polls issued, for tests and benchmarks */
  polls = 0;

  constructor(private readonly runner: CommandRunner) {}

  poll(mirrors: MirrorToPoll[]): Promise<MirrorState[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ mirrors, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // Let every VM whose timer fired in this turn join the same poll.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    const unique = new Map<string, MirrorToPoll>();
    for (const p of batch) for (const m of p.mirrors) unique.set(m.kernelName, m);
    try {
      this.polls++;
      const states = await pollMirrors(this.runner, [...unique.values()]);
      const byName = new Map(states.map((s) => [s.kernelName, s]));
      for (const p of batch) p.resolve(p.mirrors.map((m) => byName.get(m.kernelName)!));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}
