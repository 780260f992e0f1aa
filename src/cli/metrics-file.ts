// `sanshift run --metrics FILE`: the run's Prometheus metrics, rewritten during the run for
// node_exporter's textfile collector: atomically (temp file and rename in the same folder), at
// most every few seconds of wall time (a rehearsal emits hundreds of events a second), and
// once more at the end.
import type { EngineEvent } from '../engine/events.js';
import { renderRunMetrics, type MetricsPlacement } from '../report/metrics.js';
import { initialFleetState, reduceFleet, type FleetLiveState } from '../report/progress-view.js';
import { writeFileAtomically } from './files.js';

export const METRICS_EVERY_MS = 5_000;

export class MetricsFile {
  private state: FleetLiveState;
  private lastWrite = -Infinity;
  /** the last write's error, reported once: metrics must never stop a migration */
  failure: string | null = null;

  constructor(
    readonly file: string,
    private readonly placement: ReadonlyMap<string, MetricsPlacement>,
    plannedBytes: ReadonlyMap<string, number>,
    private readonly everyMs = METRICS_EVERY_MS,
    private readonly wallNow: () => number = Date.now,
  ) {
    this.state = initialFleetState([...placement.keys()], plannedBytes);
  }

  on(e: EngineEvent): void {
    this.state = reduceFleet(this.state, e);
    const now = this.wallNow();
    if (e.kind === 'run-started' || e.kind === 'run-finished' || now - this.lastWrite >= this.everyMs) this.write(now);
  }

  /** The last write, whatever the time since the previous one. */
  close(): void {
    this.write(this.wallNow());
  }

  private write(now: number): void {
    this.lastWrite = now;
    try {
      writeFileAtomically(this.file, renderRunMetrics(this.state, this.placement));
    } catch (err) {
      this.failure ??= (err as Error).message;
    }
  }
}
