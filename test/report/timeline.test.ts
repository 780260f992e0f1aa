import { describe, expect, test } from '@jest/globals';
import { bucketMeans, niceMax, orderRows, renderTimelineHtml, ROWS_PER_BLOCK, seriesBytes, seriesFromSegments, tickStep, type TimelinePage, type TimelineRow } from '../../src/report/timeline.js';

const MiB = 1024 ** 2;

export function row(vm: string, t1: number, extra: Partial<TimelineRow> = {}): TimelineRow {
  return {
    vm,
    host: 'hv1',
    group: null,
    windows: [
      { kind: 'T1', stopAt: t1, downAt: t1 + 20_000, upAt: t1 + 50_000, forced: false },
      { kind: 'T2', stopAt: t1 + 600_000, downAt: t1 + 620_000, upAt: t1 + 650_000, forced: true },
    ],
    resyncs: [{ startAt: t1 + 25_000, endAt: t1 + 590_000, complete: true }],
    outcome: 'done',
    reason: null,
    failures: [],
    bytes: 20 * 1024 ** 3,
    ...extra,
  };
}

export function page(rows: TimelineRow[], extra: Partial<TimelinePage> = {}): TimelinePage {
  return {
    title: 'sanshift simulate: fleet.yaml',
    subtitle: ['a rehearsal'],
    origin: 0,
    end: 2_000_000,
    wallClockStart: null,
    lowerBound: { ms: 1_500_000, label: 'bottleneck array:gold' },
    facts: [['VMs', `${rows.length}`]],
    rows,
    arrays: seriesFromSegments([{ key: 'gold', from: 0, to: 1_000_000, bytesPerSecond: 300 * MiB }], new Map([['gold', 400 * MiB]])),
    hosts: seriesFromSegments([{ key: 'hv1', from: 0, to: 1_000_000, bytesPerSecond: 300 * MiB }]),
    hostLimit: null,
    ratesFrom: 'Rates: test.',
    notes: [],
    ...extra,
  };
}

describe('rates', () => {
  test('bucketMeans is the mean of the step function over each slice, however often it changes inside one', () => {
    // 100 B/s for the first half of slice 0, 300 B/s after: slice 0 averages 200
    const pts = [
      { t: 0, bytesPerSecond: 100 },
      { t: 500, bytesPerSecond: 300 },
      { t: 1500, bytesPerSecond: 0 },
    ];
    expect(bucketMeans(pts, 0, 2000, 2)).toEqual([200, 150]);
    // the integral is kept: mean x slice width = bytes
    const means = bucketMeans(pts, 0, 2000, 7);
    const bytes = means.reduce((a, m) => a + (m * 2000) / 7 / 1000, 0);
    expect(bytes).toBeCloseTo(seriesBytes({ name: 'x', limit: null, points: pts }, 2000), 6);
  });

  test('seriesFromSegments sums overlapping segments per key into one step function', () => {
    const [a, b] = seriesFromSegments([
      { key: 'a', from: 0, to: 10, bytesPerSecond: 5 },
      { key: 'a', from: 5, to: 15, bytesPerSecond: 7 },
      { key: 'b', from: 0, to: 10, bytesPerSecond: 1 },
    ]);
    expect(a!.points).toEqual([
      { t: 0, bytesPerSecond: 5 },
      { t: 5, bytesPerSecond: 12 },
      { t: 10, bytesPerSecond: 7 },
      { t: 15, bytesPerSecond: 0 },
    ]);
    expect(b!.name).toBe('b');
  });

  test('ticks: 6 to 12 per axis; rate axes end on a round binary unit', () => {
    for (const span of [60_000, 3_600_000, 8 * 3_600_000, 7 * 86_400_000]) {
      const n = span / tickStep(span);
      expect(n).toBeLessThanOrEqual(12);
      expect(n).toBeGreaterThanOrEqual(2);
    }
    expect(niceMax(380 * MiB)).toBe(400 * MiB);
    expect(niceMax(3.1 * 1024 * MiB)).toBe(4 * 1024 * MiB);
  });
});

describe('renderTimelineHtml', () => {
  test('one row element per VM with its name, in the order the first windows began', () => {
    const html = renderTimelineHtml(page([row('late', 900_000), row('early', 0), row('mid', 300_000)]));
    const names = [...html.matchAll(/<g class="row[^"]*" data-vm="([^"]+)"/g)].map((m) => m[1]);
    expect(names).toEqual(['early', 'mid', 'late']);
    expect(orderRows([row('b', 5), row('a', 5)]).map((r) => r.vm)).toEqual(['a', 'b']);
  });

  test('self-contained: no script, no external resource, no link out', () => {
    const html = renderTimelineHtml(page([row('web1', 0)]));
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\bsrc=/i);
    expect(html).not.toMatch(/\bhref=/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import/i);
  });

  test('names, reasons and titles are escaped', () => {
    const html = renderTimelineHtml(page([row('a<b>&"c\'', 0, { outcome: 'failed', reason: '<script>alert(1)</script>', failures: [{ at: 100_000, reason: 'x < y' }] })], { title: 'run <1>' }));
    expect(html).not.toContain('<script>');
    expect(html).toContain('data-vm="a&lt;b&gt;&amp;&quot;c&#39;"');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<title>run &lt;1&gt;</title>');
  });

  test('marks: windows, resync, a forced window, a failure cross, a rollback, an open window', () => {
    const failed = row('db1', 0, {
      outcome: 'rolled-back',
      windows: [
        { kind: 'T1', stopAt: 0, downAt: 20_000, upAt: 50_000, forced: false },
        { kind: 'rollback', stopAt: 400_000, downAt: 420_000, upAt: 450_000, forced: false },
      ],
      resyncs: [{ startAt: 25_000, endAt: 400_000, complete: false }],
      failures: [{ at: 400_000, reason: 'new leg failed' }],
    });
    const open = row('app1', 0, { outcome: 'unfinished', windows: [{ kind: 'T2', stopAt: 1_900_000, downAt: 1_950_000, upAt: null, forced: false }] });
    const html = renderTimelineHtml(page([row('web1', 0), failed, open]));
    expect(html).toMatch(/<rect class="t1"/);
    expect(html).toMatch(/<rect class="t2 forced"/);
    expect(html).toMatch(/<rect class="t1 sd"/);
    expect(html).toMatch(/<rect class="rs"/);
    expect(html).toMatch(/<rect class="rs cut"/);
    expect(html).toMatch(/<rect class="rb"/);
    expect(html).toMatch(/<path class="x"/);
    expect(html).toMatch(/<rect class="t2 open"/);
    expect(html).toContain('<g class="row rolled-back" data-vm="db1">');
    expect(html).toContain('lower bound 0:25:00');
    expect(html).toContain('makespan 0:33:20');
  });

  test('a 30-second window in a week-long run is still drawn 2 px wide', () => {
    const week = 7 * 86_400_000;
    const html = renderTimelineHtml(page([row('tiny', 0)], { end: week, lowerBound: null }));
    const widths = [...html.matchAll(/<rect class="t1" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toEqual([2]);
  });

  test(`rows come in blocks of ${ROWS_PER_BLOCK}, each drawn only when on screen (content-visibility)`, () => {
    const rows = Array.from({ length: 450 }, (_, i) => row(`vm${i}`, i * 1000));
    const html = renderTimelineHtml(page(rows));
    expect(html.match(/<div class="block"/g)).toHaveLength(3);
    expect(html).toContain('content-visibility:auto');
    expect(html.match(/<g class="row/g)).toHaveLength(450);
  });

  test('up to 10 hosts are stacked; more hosts show the busiest, the 90th percentile and the median', () => {
    const few = renderTimelineHtml(page([row('a', 0)]));
    expect(few).toContain('stacked');
    const hosts = seriesFromSegments(Array.from({ length: 40 }, (_, i) => ({ key: `hv${i}`, from: 0, to: 1_000_000, bytesPerSecond: (i + 1) * MiB })));
    const many = renderTimelineHtml(page([row('a', 0)], { hosts, hostLimit: 400 * MiB }));
    expect(many).toContain('Resync bandwidth per host: 40 hosts');
    expect(many).toContain('busiest host');
    expect(many).toContain('90th percentile');
    expect(many).toContain('at most 40 at once');
    expect(many).toContain('limit 400 MiB/s per host');
  });

  test('the array chart draws each array\'s configured limit', () => {
    const html = renderTimelineHtml(page([row('a', 0)]));
    expect(html).toMatch(/<line class="limit" stroke="[^"]+"[^>]*><title>gold: limit 400 MiB\/s<\/title>/);
  });
});
