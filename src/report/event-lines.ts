// One plain line per engine event, for logs and for stdout when it is not a terminal.
// A formatter per kind: a new kind of event without one does not compile.
import type { EngineEvent, EngineEventKind } from '../engine/events.js';

type Formatter<K extends EngineEventKind> = (e: Extract<EngineEvent, { kind: K }>) => string | null;

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

export function formatSpeed(kiBs: number | null): string {
  return kiBs === null ? '-' : `${formatBytes(kiBs * 1024)}/s`;
}

export { duration as formatDuration };

const formatters: { [K in EngineEventKind]: Formatter<K> } = {
  'run-started': (e) => `run ${e.run} started for ${e.vms.length} VM${e.vms.length === 1 ? '' : 's'}${e.rehearsal ? ' (REHEARSAL: simulated hosts, nothing real is touched)' : ''}`,
  'step-started': (e) => `${e.vm}: ${e.summary}`,
  'step-finished': () => null,
  progress: (e) => `${e.vm}: resync ${e.percent.toFixed(1)}% of ${formatBytes(e.totalBytes)} at ${formatSpeed(e.speedKiBs)}, ETA ${e.etaSeconds === null ? '-' : duration(e.etaSeconds * 1000)}`,
  'resync-ended': (e) => `${e.vm}: every mirror in sync${e.bytes === null ? '' : ` (${formatBytes(e.bytes)} copied)`}`,
  note: (e) => `${e.vm}: ${e.text}`,
  down: (e) => `${e.vm}: down (${e.window})`,
  up: (e) => `${e.vm}: up again after ${duration(e.downMs)} down (${e.window})`,
  'vm-finished': (e) => `${e.vm}: ${e.outcome}${e.reason === undefined ? '' : `: ${e.reason}`}`,
  'run-finished': (e) => `run ${e.run} finished: ${e.done} done, ${e.failed} failed, ${e.rolledBack} rolled back`,
};

export function formatEvent(e: EngineEvent): string | null {
  return (formatters[e.kind] as Formatter<typeof e.kind>)(e as never);
}

/** `2026-11-24T02:41:17Z web1: ...` */
export function timestampedLine(e: EngineEvent): string | null {
  const text = formatEvent(e);
  if (text === null) return null;
  return `${new Date(e.at).toISOString().replace(/\.\d+Z$/, 'Z')} ${text}`;
}
