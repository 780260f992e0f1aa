// Time behind a port, so the engine can run on the wall clock in production and on a
// virtual clock in tests and rehearsals without changing a line of its logic.

export interface Clock {
  now(): number;
  /** resolves after `ms`; an aborted sleep never resolves and holds no timer */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Marks I/O in flight: a virtual clock does not move while any is pending. */
  track<T>(work: Promise<T>): Promise<T>;
}

export const wallClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted === true) return;
      const abort = () => clearTimeout(t);
      // the listener goes with the sleep: a loop sleeping on one signal (lease renewals, for
      // days) would otherwise pile them up, and Node warns past ten
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', abort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', abort, { once: true });
    }),
  track: (work) => work,
};

/** A discrete-event clock for tests and simulations: a sleep resolves when virtual time reaches
 * its deadline, and time jumps to the next deadline once the process has nothing else to do
 * for a few turns. Concurrent sleepers therefore overlap as they would on a real clock. */
export class VirtualClock implements Clock {
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  private pumping = false;
  private inFlight = 0;

  constructor(private t = 0) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) return;
      const abort = () => (this.timers = this.timers.filter((x) => x !== timer));
      const timer = {
        at: this.t + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', abort);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', abort, { once: true });
      this.pump();
    });
  }

  advance(ms: number): void {
    this.t += ms;
  }

  /** For tests that kill an engine in mid-call: its frozen calls no longer hold time still. */
  forgetInFlight(): void {
    this.inFlight = 0;
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.inFlight++;
    return work.finally(() => {
      this.inFlight = Math.max(0, this.inFlight - 1);
    });
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void (async () => {
      while (this.timers.length > 0) {
        // Let every task that can still run do so, and register its own sleep, first; I/O in
        // flight (libvirt's worker threads) holds time still until it completes, or until it
        // has hung for a second of real time (a test that froze a call on purpose).
        const since = Date.now();
        for (let quiet = 0; quiet < 10 && Date.now() - since < 1000; ) {
          await new Promise((r) => setImmediate(r));
          quiet = this.inFlight > 0 ? 0 : quiet + 1;
        }
        // a sleep aborted meanwhile leaves the list (a deadline that was not needed)
        if (this.timers.length === 0) break;
        this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = this.timers[0]!;
        this.t = Math.max(this.t, next.at);
        const due = this.timers.filter((x) => x.at <= this.t);
        this.timers = this.timers.filter((x) => x.at > this.t);
        for (const x of due) x.resolve();
      }
      this.pumping = false;
    })();
  }
}
