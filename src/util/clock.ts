// Time behind a port, so the engine can run on the wall clock in production and on a
// virtual clock in tests and rehearsals without changing a line of its logic.

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const wallClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A clock whose sleeps return at once after moving time forward; for tests. */
export class VirtualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += Math.max(0, ms);
    // Yield so that other tasks interleave as they would on a real clock.
    await new Promise((resolve) => setImmediate(resolve));
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Wall time sped up by `factor`: a rehearsal on simulated hosts runs hours of resync in
 * seconds while the engine, its timeouts and its polls keep their real logic. */
export class AcceleratedClock implements Clock {
  private readonly t0 = Date.now();
  constructor(readonly factor: number) {}
  now(): number {
    return this.t0 + (Date.now() - this.t0) * this.factor;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms / this.factor)));
  }
}
