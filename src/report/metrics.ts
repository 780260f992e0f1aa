// The run as Prometheus metrics, in the text exposition format, for node_exporter's textfile
// collector (docs/observability.md). Pure: the fleet state comes from the live view's reducer
// over the engine's events (progress-view.ts, one reading of the events for both), the text
// from renderExposition; cli/metrics-file.ts writes the file during a run.
import { fleetEtaOf, remainingBytes, VmStage, type FleetLiveState } from './progress-view.js';

export const MetricType = { gauge: 'gauge', counter: 'counter' } as const;
export type MetricType = (typeof MetricType)[keyof typeof MetricType];

export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text: backslash and line feed escaped (the format's rule for docstrings). */
const escapeHelp = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
/** Label values: backslash, double quote and line feed escaped. */
export const escapeLabelValue = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** A sample value as Go's ParseFloat reads it: NaN, +Inf and -Inf spelled the format's way. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * The text format: per family one HELP and one TYPE line, then its samples, one group per
 * family; no timestamps (the textfile collector refuses them); the last line ends with \n.
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`not a Prometheus metric name: ${f.name}`);
    if (seen.has(f.name)) throw new Error(`metric family ${f.name} twice`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      for (const [k] of labels) if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`not a Prometheus label name: ${k}`);
      const text = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
      out.push(`${f.name}${text} ${formatValue(s.value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Where a VM's resync is counted: its host, and the array of each of its disks. */
export interface MetricsPlacement {
  host: string;
  arrays: string[];
}

/** The phases as label values: the live view's stages, in Prometheus' lower_snake_case. */
const PHASES: readonly [VmStage, string][] = [
  [VmStage.waiting, 'waiting'],
  [VmStage.t1, 't1'],
  [VmStage.resync, 'resync'],
  [VmStage.t2, 't2'],
  [VmStage.health, 'health'],
  [VmStage.rollback, 'rollback'],
  [VmStage.done, 'done'],
  [VmStage.failed, 'failed'],
  [VmStage.rolledBack, 'rolled_back'],
];

/**
 * The metric families of a run's state. Every phase, window, host and array of the run has
 * its sample from the start (0 when idle), so a series never vanishes mid-run; a figure not
 * known yet (the ETA before any copy, the bytes left when a size is unknown) has no sample.
 */
export function runMetrics(state: FleetLiveState, placement: ReadonlyMap<string, MetricsPlacement>): MetricFamily[] {
  const seconds = (ms: number) => ms / 1000;
  const hosts = new Map<string, number>();
  const arrays = new Map<string, number>();
  for (const p of placement.values()) {
    hosts.set(p.host, 0);
    for (const a of p.arrays) arrays.set(a, 0);
  }
  const windows = { T1: 0, T2: 0, rollback: 0 };
  let copied = 0;
  for (const v of state.vms) {
    copied += v.doneBytes;
    if (v.downSince !== null) {
      if (v.stage === VmStage.rollback) windows.rollback++;
      else if (v.stage === VmStage.t2 || v.stage === VmStage.health) windows.T2++;
      else windows.T1++;
    }
    if (v.stage !== VmStage.resync || v.speedKiBs === null) continue;
    const p = placement.get(v.vm);
    if (p === undefined) continue;
    const bytesPerSecond = v.speedKiBs * 1024;
    hosts.set(p.host, (hosts.get(p.host) ?? 0) + bytesPerSecond);
    // the events give one speed per VM: it is split evenly over its disks' arrays
    for (const a of p.arrays) arrays.set(a, (arrays.get(a) ?? 0) + bytesPerSecond / p.arrays.length);
  }
  const left = remainingBytes(state);
  const eta = fleetEtaOf(state);
  const count = (stage: VmStage) => state.vms.filter((v) => v.stage === stage).length;
  const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    { name: 'sanshift_run_info', help: 'The run this file describes: always 1, its id and whether it is a rehearsal in the labels.', type: MetricType.gauge, samples: state.run === null ? [] : [{ labels: { run: state.run, rehearsal: String(state.rehearsal) }, value: 1 }] },
    { name: 'sanshift_run_start_time_seconds', help: 'When the run started, seconds since the epoch (on the run\'s clock: virtual in a rehearsal).', type: MetricType.gauge, samples: state.startedAt === null ? [] : [{ value: seconds(state.startedAt) }] },
    { name: 'sanshift_run_finished', help: '1 once the run has finished, else 0.', type: MetricType.gauge, samples: [{ value: state.finished ? 1 : 0 }] },
    { name: 'sanshift_last_event_timestamp_seconds', help: 'Time of the latest engine event, seconds since the epoch (on the run\'s clock).', type: MetricType.gauge, samples: [{ value: seconds(state.now) }] },
    { name: 'sanshift_vms', help: 'VMs of the run by phase: waiting, t1, resync, t2, health, rollback, done, failed, rolled_back.', type: MetricType.gauge, samples: PHASES.map(([stage, phase]) => ({ labels: { phase }, value: count(stage) })) },
    { name: 'sanshift_windows_in_progress', help: 'VMs down now, by window: T1 (onto the mirrors), T2 (onto the new volumes), rollback.', type: MetricType.gauge, samples: (['T1', 'T2', 'rollback'] as const).map((w) => ({ labels: { window: w }, value: windows[w] })) },
    { name: 'sanshift_vm_failures_total', help: 'VMs of this run that failed (a new run starts again from 0).', type: MetricType.counter, samples: [{ value: count(VmStage.failed) }] },
    { name: 'sanshift_resync_copied_bytes', help: 'Bytes the run\'s resyncs have copied so far.', type: MetricType.gauge, samples: [{ value: copied }] },
    { name: 'sanshift_resync_remaining_bytes', help: 'Bytes left to copy for the VMs not finished (absent while a VM\'s size is unknown).', type: MetricType.gauge, samples: left === null ? [] : [{ value: left }] },
    { name: 'sanshift_host_resync_rate_bytes_per_second', help: 'Resync speed per host, as md reported it at the last poll of each VM.', type: MetricType.gauge, samples: sorted(hosts).map(([host, v]) => ({ labels: { host }, value: Math.round(v) })) },
    { name: 'sanshift_array_resync_rate_bytes_per_second', help: 'Resync speed per storage array of the new volumes (a VM\'s speed split evenly over its disks\' arrays).', type: MetricType.gauge, samples: sorted(arrays).map(([array, v]) => ({ labels: { array }, value: Math.round(v) })) },
    { name: 'sanshift_fleet_eta_seconds', help: 'Seconds until every VM of the run is finished: bytes left over the mean copy rate since the first copy, plus one T2 window (absent until measurable).', type: MetricType.gauge, samples: eta.seconds === null ? [] : [{ value: eta.seconds }] },
  ];
}

export function renderRunMetrics(state: FleetLiveState, placement: ReadonlyMap<string, MetricsPlacement>): string {
  return renderExposition(runMetrics(state, placement));
}
