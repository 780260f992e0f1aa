import { describe, expect, test } from '@jest/globals';
import type { EngineEvent } from '../../src/engine/events.js';
import { escapeLabelValue, formatValue, renderExposition, renderRunMetrics, type MetricsPlacement } from '../../src/report/metrics.js';
import { initialFleetState, reduceFleet } from '../../src/report/progress-view.js';

const GiB = 1024 ** 3;
const t0 = Date.parse('2026-11-24T02:00:00Z');

/**
 * A reader of the text format as its spec states it (prometheus.io, "Exposition formats",
 * text format details): HELP and TYPE at most once per name, TYPE before the name's first
 * sample, one uninterrupted group per name, escaped label values, a final line feed, no
 * timestamps (node_exporter's textfile collector refuses them). Returns the samples.
 */
function parseExposition(text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true);
  const help = new Set<string>();
  const type = new Map<string, string>();
  const finished = new Set<string>();
  let current: string | null = null;
  const samples = new Map<string, number>();
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment !== null) {
      const [, kind, name, rest] = comment;
      if (kind === 'HELP') {
        expect(help.has(name!)).toBe(false);
        expect(rest).not.toMatch(/\n/);
        help.add(name!);
      } else {
        expect(type.has(name!)).toBe(false);
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(rest);
        type.set(name!, rest!);
      }
      if (current !== name) {
        if (current !== null) finished.add(current);
        expect(finished.has(name!)).toBe(false);
        current = name!;
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*",?)*\})? (\S+)$/.exec(line);
    expect(m).not.toBeNull();
    const [, name, labels, value] = m!;
    expect(type.has(name!)).toBe(true);
    expect(current).toBe(name);
    const v = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : value === 'NaN' ? NaN : Number(value);
    expect(Number.isNaN(v) && value !== 'NaN').toBe(false);
    samples.set(`${name}${labels ?? ''}`, v);
  }
  return samples;
}

describe('the text exposition format', () => {
  test('HELP and TYPE once per family, escapes, special values', () => {
    const text = renderExposition([
      { name: 'x_bytes', help: 'a \\ back\nslash', type: 'gauge', samples: [{ labels: { host: 'a"b\\c\nd' }, value: 1 }, { labels: { host: 'e' }, value: NaN }] },
      { name: 'y_total', help: 'y', type: 'counter', samples: [{ value: Infinity }] },
    ]);
    expect(text).toBe(['# HELP x_bytes a \\\\ back\\nslash', '# TYPE x_bytes gauge', 'x_bytes{host="a\\"b\\\\c\\nd"} 1', 'x_bytes{host="e"} NaN', '# HELP y_total y', '# TYPE y_total counter', 'y_total +Inf', ''].join('\n'));
    expect(parseExposition(text).get('y_total')).toBe(Infinity);
    expect(escapeLabelValue('\\"\n')).toBe('\\\\\\"\\n');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(1.5e21)).toBe('1.5e+21');
  });

  test('bad names are refused, not written', () => {
    expect(() => renderExposition([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }])).toThrow(/metric name/);
    expect(() => renderExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }])).toThrow(/label name/);
    expect(() => renderExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { __reserved: 'x' }, value: 1 }] }])).toThrow(/label name/);
    expect(() => renderExposition([{ name: 'a', help: '', type: 'gauge', samples: [] }, { name: 'a', help: '', type: 'gauge', samples: [] }])).toThrow(/twice/);
  });
});

describe('the run\'s metrics', () => {
  const placement = new Map<string, MetricsPlacement>([
    ['db1', { host: 'hv1', arrays: ['gold', 'silver'] }],
    ['web1', { host: 'hv2', arrays: ['gold'] }],
    ['dns1', { host: 'hv2', arrays: ['gold'] }],
  ]);
  const planned = new Map([
    ['db1', 200 * GiB],
    ['web1', 20 * GiB],
    ['dns1', 20 * GiB],
  ]);
  const events: EngineEvent[] = [
    { kind: 'run-started', at: t0, run: 'r"1', vms: ['db1', 'web1', 'dns1'], rehearsal: false },
    { kind: 'step-started', at: t0, vm: 'db1', step: 'shutdown-vm', summary: 'graceful shutdown of db1 (T1)' },
    { kind: 'down', at: t0 + 20_000, vm: 'db1', window: 'T1' },
    { kind: 'step-finished', at: t0 + 21_000, vm: 'db1', step: 'add-new-leg', ms: 100 },
    { kind: 'up', at: t0 + 50_000, vm: 'db1', window: 'T1', downMs: 30_000 },
    { kind: 'step-started', at: t0 + 50_000, vm: 'web1', step: 'shutdown-vm', summary: 'graceful shutdown of web1 (T1)' },
    { kind: 'down', at: t0 + 60_000, vm: 'web1', window: 'T1' },
    { kind: 'progress', at: t0 + 121_000, vm: 'db1', percent: 25, speedKiBs: 400 * 1024, etaSeconds: 384, doneBytes: 50 * GiB, totalBytes: 200 * GiB },
  ];
  const state = events.reduce(reduceFleet, initialFleetState([...placement.keys()], planned));
  const text = renderRunMetrics(state, placement);
  const samples = parseExposition(text);

  test('VMs by phase, every phase present', () => {
    expect(samples.get('sanshift_vms{phase="resync"}')).toBe(1);
    expect(samples.get('sanshift_vms{phase="t1"}')).toBe(1);
    expect(samples.get('sanshift_vms{phase="waiting"}')).toBe(1);
    expect(samples.get('sanshift_vms{phase="rolled_back"}')).toBe(0);
  });

  test('windows in progress, failures', () => {
    expect(samples.get('sanshift_windows_in_progress{window="T1"}')).toBe(1);
    expect(samples.get('sanshift_windows_in_progress{window="T2"}')).toBe(0);
    expect(samples.get('sanshift_vm_failures_total')).toBe(0);
  });

  test('bytes copied and left: the plan\'s sizes less what is copied', () => {
    expect(samples.get('sanshift_resync_copied_bytes')).toBe(50 * GiB);
    expect(samples.get('sanshift_resync_remaining_bytes')).toBe(190 * GiB);
  });

  test('rates per host and per array: a VM\'s speed split over its disks\' arrays; idle ones at 0', () => {
    expect(samples.get('sanshift_host_resync_rate_bytes_per_second{host="hv1"}')).toBe(400 * 1024 ** 2);
    expect(samples.get('sanshift_host_resync_rate_bytes_per_second{host="hv2"}')).toBe(0);
    expect(samples.get('sanshift_array_resync_rate_bytes_per_second{array="gold"}')).toBe(200 * 1024 ** 2);
    expect(samples.get('sanshift_array_resync_rate_bytes_per_second{array="silver"}')).toBe(200 * 1024 ** 2);
  });

  test('fleet ETA: bytes left over the mean copy rate since the first copy began, not before the running copy ends', () => {
    // 50 GiB in 100 s since the first add-new-leg; 190 GiB left: 380 s; but db1's own copy says 384 s
    expect(samples.get('sanshift_fleet_eta_seconds')).toBe(384);
  });

  test('the run id is a label value, escaped; timestamps on the run\'s clock', () => {
    expect(text).toContain('sanshift_run_info{run="r\\"1",rehearsal="false"} 1');
    expect(samples.get('sanshift_run_start_time_seconds')).toBe(t0 / 1000);
    expect(samples.get('sanshift_run_finished')).toBe(0);
  });

  test('before any copy, and with a size unknown: no ETA sample and no remaining bytes, rather than a wrong one', () => {
    const early = events.slice(0, 3).reduce(reduceFleet, initialFleetState(['db1', 'web1']));
    const s = parseExposition(renderRunMetrics(early, placement));
    expect(s.has('sanshift_fleet_eta_seconds')).toBe(false);
    expect(s.has('sanshift_resync_remaining_bytes')).toBe(false);
    expect(text).toContain('# TYPE sanshift_fleet_eta_seconds gauge');
  });
});
