// The picture of a run: one self-contained HTML page (inline SVG and CSS, no script, no
// network) with one row per VM (its T1 and T2 windows, its resync, failures and rollbacks) on
// a time axis, and the resync bandwidth per storage array and per host over time. Pure: the
// sources (a run's journal and events, a rehearsal) are turned into a TimelinePage elsewhere
// (timeline-sources.ts); this file only draws.
//
// Built for fleets: rows are drawn in blocks of ROWS_PER_BLOCK, each its own <svg> with CSS
// `content-visibility: auto`, so a browser lays out and paints only the blocks on screen, and
// the time axis stays at the top of the window while the rows scroll under it.
import { formatBytes, formatDuration } from './event-lines.js';

export type WindowKind = 'T1' | 'T2' | 'rollback';

/** One down window; times in ms on the page's clock (epoch ms for a run, ms since start for a rehearsal). */
export interface TimelineWindow {
  kind: WindowKind;
  /** the graceful shutdown was asked; null when unknown (the window then starts at downAt) */
  stopAt: number | null;
  /** seen powered off */
  downAt: number;
  /** up again; null: still down when the page ends */
  upAt: number | null;
  /** the graceful shutdown timed out and the VM was forced off */
  forced: boolean;
}

export interface TimelineResync {
  startAt: number;
  /** every mirror in sync; null: not (yet) */
  endAt: number | null;
  /** false: the copy stopped before sync (rollback, a stale mirror rebuilt) */
  complete: boolean;
}

export type RowOutcome = 'done' | 'failed' | 'rolled-back' | 'unfinished';

export interface TimelineRow {
  vm: string;
  host: string | null;
  /** a short extra label for the tooltip: the bundle in a rehearsal */
  group: string | null;
  windows: TimelineWindow[];
  resyncs: TimelineResync[];
  outcome: RowOutcome;
  reason: string | null;
  failures: { at: number; reason: string }[];
  /** bytes the resync copied, when known */
  bytes: number | null;
}

/** A step function: each point's rate holds until the next point. */
export interface RateSeries {
  name: string;
  /** the configured bandwidth limit of this resource, bytes/s */
  limit: number | null;
  points: { t: number; bytesPerSecond: number }[];
}

export interface TimelinePage {
  title: string;
  /** lines under the title (inventory, run id, what the times mean) */
  subtitle: string[];
  /** time zero of the axis, on the page's clock */
  origin: number;
  /** the end of the run (its makespan is end - origin) */
  end: number;
  /** the absolute start time, when the clock is a wall clock (epoch ms) */
  wallClockStart: number | null;
  /** the makespan's lower bound (ms after origin), for a rehearsal */
  lowerBound: { ms: number; label: string } | null;
  facts: [string, string][];
  rows: TimelineRow[];
  arrays: RateSeries[];
  hosts: RateSeries[];
  /** the configured resync bandwidth of one host, bytes/s (limits.hostBandwidth) */
  hostLimit: number | null;
  /** one sentence: where the bandwidth figures come from */
  ratesFrom: string;
  notes: string[];
}

// ---- layout -------------------------------------------------------------------------------

const LABEL_W = 200;
const PLOT_W = 1000;
const RIGHT_W = 24;
const WIDTH = LABEL_W + PLOT_W + RIGHT_W;
const ROW_H = 16;
const BAR_H = 10;
const RESYNC_H = 4;
export const ROWS_PER_BLOCK = 200;
const CHART_H = 150;
/** a window shorter than this many pixels is widened to it, or a 30 s window in a week-long run would vanish */
const MIN_BAR_PX = 2;
/** up to this many hosts, each has its own band in a stacked chart; beyond, the chart shows how busy hosts are (busiest, 90th percentile, median) */
const STACKED_HOSTS_MAX = 10;

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const OTHER_COLOUR = '#c9ccd1';

// ---- small helpers ------------------------------------------------------------------------

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
/** one decimal: enough for pixels, and it keeps a 10,000-row page small */
const n1 = (v: number): string => (Math.round(v * 10) / 10).toString();

/** h:mm:ss after the start */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

const TICK_STEPS_MS = [1, 2, 5, 10, 15, 30].map((s) => s * 1000).concat([1, 2, 5, 10, 15, 30].map((m) => m * 60_000), [1, 2, 3, 6, 12].map((h) => h * 3_600_000), [1, 2, 7, 14, 28].map((d) => d * 86_400_000));

/** The tick interval that puts 6 to 12 ticks on the axis. */
export function tickStep(spanMs: number): number {
  return TICK_STEPS_MS.find((s) => spanMs / s <= 12) ?? TICK_STEPS_MS[TICK_STEPS_MS.length - 1]!;
}

function tickLabel(ms: number, step: number): string {
  if (step >= 86_400_000) return `${Math.round(ms / 86_400_000)}d`;
  if (step >= 3_600_000) return `${Math.round(ms / 3_600_000)}h`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  if (step >= 60_000) return h > 0 ? `${h}h${String(m).padStart(2, '0')}` : `${m}m`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function rate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** A round upper bound for a rate axis, in the binary unit the axis labels use (MiB/s, GiB/s). */
export function niceMax(bytesPerSecond: number): number {
  const unit = bytesPerSecond >= 1024 ** 3 ? 1024 ** 3 : bytesPerSecond >= 1024 ** 2 ? 1024 ** 2 : 1024;
  const v = Math.max(bytesPerSecond / unit, 1e-9);
  const p = 10 ** Math.floor(Math.log10(v));
  const m = [1, 2, 2.5, 4, 5, 8, 10].find((k) => k * p >= v) ?? 10;
  return m * p * unit;
}

// ---- rates --------------------------------------------------------------------------------

/**
 * The mean of a step function over each of `buckets` equal slices of [from, to): what the
 * resource really moved in that slice, however many times its rate changed inside it.
 */
export function bucketMeans(points: readonly { t: number; bytesPerSecond: number }[], from: number, to: number, buckets: number): number[] {
  const out = new Array<number>(buckets).fill(0);
  const width = (to - from) / buckets;
  if (width <= 0) return out;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (p.bytesPerSecond === 0) continue;
    const start = Math.max(from, p.t);
    const end = Math.min(to, points[i + 1]?.t ?? to);
    if (end <= start) continue;
    let b = Math.floor((start - from) / width);
    for (let t = start; t < end && b < buckets; b++) {
      const sliceEnd = Math.min(end, from + (b + 1) * width);
      out[b]! += (p.bytesPerSecond * (sliceEnd - t)) / width;
      t = sliceEnd;
    }
  }
  return out;
}

/** Bytes a series moved in all (the integral of its step function up to `end`). */
export function seriesBytes(s: RateSeries, end: number): number {
  let total = 0;
  for (let i = 0; i < s.points.length; i++) {
    const p = s.points[i]!;
    const until = Math.min(end, s.points[i + 1]?.t ?? end);
    if (until > p.t) total += (p.bytesPerSecond * (until - p.t)) / 1000;
  }
  return total;
}

/** One constant rate on one resource for a while: what every source of rates produces. */
export interface RateSegment {
  key: string;
  from: number;
  to: number;
  bytesPerSecond: number;
}

/** Sums segments per key into step functions (a sweep over their ends). */
export function seriesFromSegments(segments: readonly RateSegment[], limits: ReadonlyMap<string, number> = new Map()): RateSeries[] {
  const byKey = new Map<string, { t: number; d: number }[]>();
  for (const s of segments) {
    if (s.to <= s.from || s.bytesPerSecond <= 0) continue;
    let list = byKey.get(s.key);
    if (list === undefined) byKey.set(s.key, (list = []));
    list.push({ t: s.from, d: s.bytesPerSecond }, { t: s.to, d: -s.bytesPerSecond });
  }
  const out: RateSeries[] = [];
  for (const [key, deltas] of byKey) {
    deltas.sort((a, b) => a.t - b.t);
    const points: RateSeries['points'] = [];
    let level = 0;
    for (let i = 0; i < deltas.length; ) {
      const t = deltas[i]!.t;
      while (i < deltas.length && deltas[i]!.t === t) level += deltas[i++]!.d;
      // float sums drift: a level within a byte of zero is zero
      points.push({ t, bytesPerSecond: Math.abs(level) < 1 ? 0 : level });
    }
    out.push({ name: key, limit: limits.get(key) ?? null, points });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---- the page -----------------------------------------------------------------------------

interface Scale {
  x(t: number): number;
  origin: number;
  spanMs: number;
}

function scaleOf(page: TimelinePage): Scale {
  const spanMs = Math.max(1000, page.end - page.origin, page.lowerBound?.ms ?? 0);
  return { origin: page.origin, spanMs, x: (t) => LABEL_W + ((t - page.origin) / spanMs) * PLOT_W };
}

function firstStart(r: TimelineRow): number {
  const w = r.windows[0];
  return Math.min(w === undefined ? Infinity : (w.stopAt ?? w.downAt), r.resyncs[0]?.startAt ?? Infinity, r.failures[0]?.at ?? Infinity);
}

/** Rows in the order their first window began (a row with none goes last), then by name. */
export function orderRows(rows: readonly TimelineRow[]): TimelineRow[] {
  return [...rows].sort((a, b) => firstStart(a) - firstStart(b) || (a.vm < b.vm ? -1 : a.vm > b.vm ? 1 : 0));
}

function rowTooltip(r: TimelineRow, page: TimelinePage): string {
  const t = (ms: number) => elapsed(ms - page.origin);
  const lines = [`${r.vm}${r.host === null ? '' : ` on ${r.host}`}${r.group === null ? '' : ` · ${r.group}`} · ${r.outcome}${r.reason === null ? '' : `: ${r.reason}`}`];
  for (const w of r.windows) {
    const from = w.stopAt ?? w.downAt;
    const down = w.upAt === null ? 'still down' : `${formatDuration(w.upAt - from)} down`;
    lines.push(`${w.kind} ${t(from)}–${w.upAt === null ? '…' : t(w.upAt)} (${down}${w.forced ? ', forced off' : ''})`);
  }
  for (const s of r.resyncs) {
    const ms = s.endAt === null ? null : s.endAt - s.startAt;
    const bytes = r.bytes !== null && s.complete && ms !== null && ms > 0 ? `, ${formatBytes(r.bytes)} at ${rate(r.bytes / (ms / 1000))}` : '';
    lines.push(`resync ${t(s.startAt)}–${s.endAt === null ? '…' : t(s.endAt)}${ms === null ? ' (not in sync)' : ` (${formatDuration(ms)}${bytes})`}${s.complete ? '' : ', stopped before sync'}`);
  }
  for (const f of r.failures) lines.push(`failed at ${t(f.at)}: ${f.reason}`);
  return lines.join('\n');
}

function rowSvg(r: TimelineRow, top: number, page: TimelinePage, sc: Scale): string {
  const parts: string[] = [];
  const end = page.end;
  const barY = top + (ROW_H - BAR_H) / 2;
  const rect = (cls: string, from: number, to: number, y: number, h: number) => {
    const x = sc.x(from);
    const w = Math.max(MIN_BAR_PX, sc.x(to) - x);
    parts.push(`<rect class="${cls}" x="${n1(x)}" y="${n1(y)}" width="${n1(w)}" height="${h}"/>`);
  };
  for (const w of r.windows) {
    const k = w.kind === 'rollback' ? 'rb' : w.kind.toLowerCase();
    if (w.stopAt !== null && w.downAt > w.stopAt) rect(`${k} sd`, w.stopAt, w.downAt, barY, BAR_H);
    rect(`${k}${w.upAt === null ? ' open' : ''}${w.forced ? ' forced' : ''}`, w.downAt, w.upAt ?? end, barY, BAR_H);
  }
  // over the windows: a copy that runs while the VM is still down (its bundle waits) stays visible
  for (const s of r.resyncs) rect(`rs${s.complete ? '' : ' cut'}${s.endAt === null ? ' open' : ''}`, s.startAt, s.endAt ?? end, top + (ROW_H - RESYNC_H) / 2, RESYNC_H);
  for (const f of r.failures) {
    const x = sc.x(f.at);
    const cy = top + ROW_H / 2;
    parts.push(`<path class="x" d="M${n1(x - 4)} ${n1(cy - 4)}l8 8m0-8l-8 8"/>`);
  }
  const cls = r.outcome === 'done' ? 'row' : `row ${r.outcome}`;
  const mark = r.outcome === 'failed' ? ' ✕' : r.outcome === 'rolled-back' ? ' ↩' : '';
  return `<g class="${cls}" data-vm="${esc(r.vm)}"><title>${esc(rowTooltip(r, page))}</title><text x="${LABEL_W - 8}" y="${top + ROW_H - 4}">${esc(r.vm)}${mark}</text>${parts.join('')}</g>`;
}

/** Vertical lines shared by the axis, each block of rows and the charts: ticks, the makespan, its bound. */
function guides(sc: Scale, page: TimelinePage, height: number): string {
  const step = tickStep(sc.spanMs);
  const out: string[] = [];
  for (let t = 0; t <= sc.spanMs; t += step) out.push(`<line class="grid" x1="${n1(sc.x(sc.origin + t))}" x2="${n1(sc.x(sc.origin + t))}" y1="0" y2="${height}"/>`);
  out.push(`<line class="makespan" x1="${n1(sc.x(page.end))}" x2="${n1(sc.x(page.end))}" y1="0" y2="${height}"/>`);
  if (page.lowerBound !== null) {
    const x = n1(sc.x(sc.origin + page.lowerBound.ms));
    out.push(`<line class="bound" x1="${x}" x2="${x}" y1="0" y2="${height}"/>`);
  }
  return out.join('');
}

function axisSvg(sc: Scale, page: TimelinePage): string {
  const h = 40;
  const step = tickStep(sc.spanMs);
  const labels: string[] = [];
  // the first label starts at zero, or it would run into the axis title
  for (let t = 0; t <= sc.spanMs; t += step) labels.push(`<text class="tick${t === 0 ? ' first' : ''}" x="${n1(sc.x(sc.origin + t))}" y="${h - 6}">${tickLabel(t, step)}</text>`);
  const makespanX = sc.x(page.end);
  // both labels end at their line (the makespan is at or near the right edge), one above the other
  labels.push(`<text class="mk" x="${n1(makespanX - 4)}" y="11">makespan ${esc(elapsed(page.end - page.origin))}</text>`);
  if (page.lowerBound !== null) {
    const x = sc.x(sc.origin + page.lowerBound.ms);
    labels.push(`<text class="lb" x="${n1(x - 4)}" y="23">lower bound ${esc(elapsed(page.lowerBound.ms))} (${esc(page.lowerBound.label)})</text>`);
  }
  const title = page.wallClockStart === null ? 'time since the start (h:mm:ss)' : `time since ${new Date(page.wallClockStart).toISOString().replace(/\.\d+Z$/, 'Z')}`;
  return `<svg class="axis-svg" width="${WIDTH}" height="${h}" viewBox="0 0 ${WIDTH} ${h}"><text class="axis-title" x="${LABEL_W - 8}" y="${h - 6}">${esc(title)}</text>${guides(sc, page, h).replace(/class="grid"/g, 'class="grid short"')}${labels.join('')}<line class="base" x1="${LABEL_W}" x2="${LABEL_W + PLOT_W}" y1="${h - 0.5}" y2="${h - 0.5}"/></svg>`;
}

function rowsHtml(page: TimelinePage, sc: Scale): string {
  const rows = orderRows(page.rows);
  const blocks: string[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_BLOCK) {
    const slice = rows.slice(i, i + ROWS_PER_BLOCK);
    const h = slice.length * ROW_H;
    const body = slice.map((r, j) => rowSvg(r, j * ROW_H, page, sc)).join('');
    blocks.push(`<div class="block" style="contain-intrinsic-size:auto ${h}px"><svg width="${WIDTH}" height="${h}" viewBox="0 0 ${WIDTH} ${h}">${guides(sc, page, h)}${body}</svg></div>`);
  }
  return blocks.join('\n');
}

interface ChartSeries {
  name: string;
  colour: string;
  values: number[];
  /** what the legend says after the name */
  note: string;
  limit: number | null;
  /** a thinner, dashed line (a percentile, not a resource) */
  dashed?: boolean;
}

/** Every series drawn alone, the largest first (the arrays: a handful, each with its own limit). */
function ownSeries(series: readonly RateSeries[], sc: Scale, buckets: number, top: number, otherLabel: (n: number) => string): ChartSeries[] {
  const end = sc.origin + sc.spanMs;
  const ranked = series.map((s) => ({ s, bytes: seriesBytes(s, end) })).sort((a, b) => b.bytes - a.bytes || (a.s.name < b.s.name ? -1 : 1));
  const out: ChartSeries[] = ranked.slice(0, top).map(({ s, bytes }, i) => ({ name: s.name, colour: PALETTE[i % PALETTE.length]!, values: bucketMeans(s.points, sc.origin, end, buckets), note: `${formatBytes(bytes)}${s.limit === null ? '' : ` · limit ${rate(s.limit)}`}`, limit: s.limit }));
  const rest = ranked.slice(top);
  if (rest.length > 0) {
    const values = new Array<number>(buckets).fill(0);
    for (const { s } of rest) bucketMeans(s.points, sc.origin, end, buckets).forEach((v, i) => (values[i]! += v));
    out.push({ name: otherLabel(rest.length), colour: OTHER_COLOUR, values, note: formatBytes(rest.reduce((a, r) => a + r.bytes, 0)), limit: null });
  }
  return out;
}

/**
 * Many hosts: how busy they are, not who is who. Per time slice, among the hosts copying then:
 * the busiest, the 90th percentile and the median, against the per-host limit.
 */
function hostSpread(series: readonly RateSeries[], sc: Scale, buckets: number, hostLimit: number | null): { series: ChartSeries[]; mostAtOnce: number } {
  const end = sc.origin + sc.spanMs;
  const perHost = series.map((s) => bucketMeans(s.points, sc.origin, end, buckets));
  const max = new Array<number>(buckets).fill(0);
  const p90 = new Array<number>(buckets).fill(0);
  const median = new Array<number>(buckets).fill(0);
  let mostAtOnce = 0;
  for (let i = 0; i < buckets; i++) {
    const busy = perHost.map((h) => h[i]!).filter((v) => v > 0).sort((a, b) => a - b);
    mostAtOnce = Math.max(mostAtOnce, busy.length);
    if (busy.length === 0) continue;
    const at = (q: number) => busy[Math.min(busy.length - 1, Math.floor(q * busy.length))]!;
    [max[i], p90[i], median[i]] = [busy[busy.length - 1]!, at(0.9), at(0.5)];
  }
  return {
    mostAtOnce,
    series: [
      { name: 'busiest host', colour: PALETTE[3]!, values: max, note: hostLimit === null ? '' : `limit ${rate(hostLimit)} per host`, limit: hostLimit },
      { name: '90th percentile', colour: PALETTE[1]!, values: p90, note: 'of the hosts copying', limit: null },
      { name: 'median', colour: PALETTE[0]!, values: median, note: 'of the hosts copying', limit: null },
    ],
  };
}

/** Tick labels under a chart, so it reads without the rows' axis. */
function xLabels(sc: Scale, y: number): string {
  const step = tickStep(sc.spanMs);
  const out: string[] = [];
  for (let t = 0; t <= sc.spanMs; t += step) out.push(`<text class="tick" x="${n1(sc.x(sc.origin + t))}" y="${y}">${tickLabel(t, step)}</text>`);
  return out.join('');
}

/** A chart of rates: stacked areas (a few hosts: their sum is the fleet's throughput) or lines with their limits. */
function chartHtml(title: string, series: ChartSeries[], page: TimelinePage, sc: Scale, mode: 'stacked' | 'lines', caption = ''): string {
  if (series.length === 0) return `<section class="chart"><h2>${esc(title)}</h2><p class="empty">no resync bandwidth to show</p></section>`;
  const buckets = series[0]!.values.length;
  const bw = PLOT_W / buckets;
  let max = 0;
  if (mode === 'stacked') {
    const stackTop = new Array<number>(buckets).fill(0);
    for (const s of series) s.values.forEach((v, i) => (stackTop[i]! += v));
    max = Math.max(...stackTop);
  } else {
    for (const s of series) max = Math.max(max, ...s.values, s.limit ?? 0);
  }
  const yMax = niceMax(max * 1.04);
  const pad = 8;
  const y = (v: number) => pad + CHART_H - (v / yMax) * CHART_H;
  const h = CHART_H + pad + 20;
  const parts: string[] = [guides(sc, page, CHART_H + pad)];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(`<line class="hgrid" x1="${LABEL_W}" x2="${LABEL_W + PLOT_W}" y1="${n1(y(v))}" y2="${n1(y(v))}"/><text class="ylab" x="${LABEL_W - 8}" y="${n1(y(v) + 4)}">${esc(rate(v))}</text>`);
  }
  parts.push(xLabels(sc, h - 4));
  const xAt = (i: number) => n1(LABEL_W + i * bw);
  if (mode === 'stacked') {
    const base = new Array<number>(buckets).fill(0);
    for (const s of series) {
      // each slice is a flat step: two points per slice keep the area honest
      const upper: string[] = [];
      const lower: string[] = [];
      for (let i = 0; i < buckets; i++) {
        const lo = base[i]!;
        const hi = lo + s.values[i]!;
        upper.push(`${xAt(i)} ${n1(y(hi))}`, `${xAt(i + 1)} ${n1(y(hi))}`);
        lower.push(`${xAt(i + 1)} ${n1(y(lo))}`, `${xAt(i)} ${n1(y(lo))}`);
        base[i] = hi;
      }
      parts.push(`<path class="area" fill="${s.colour}" d="M${upper.join('L')}L${lower.reverse().join('L')}Z"><title>${esc(`${s.name}: ${s.note}`)}</title></path>`);
    }
  } else {
    for (const s of [...series].reverse()) {
      const pts: string[] = [];
      for (let i = 0; i < buckets; i++) pts.push(`${xAt(i)} ${n1(y(s.values[i]!))}`, `${xAt(i + 1)} ${n1(y(s.values[i]!))}`);
      parts.push(`<path class="line${s.dashed === true ? ' thin' : ''}" stroke="${s.colour}" d="M${pts.join('L')}"><title>${esc(`${s.name}: ${s.note}`)}</title></path>`);
      if (s.limit !== null) parts.push(`<line class="limit" stroke="${s.colour}" x1="${LABEL_W}" x2="${LABEL_W + PLOT_W}" y1="${n1(y(s.limit))}" y2="${n1(y(s.limit))}"><title>${esc(`${s.name}: limit ${rate(s.limit)}`)}</title></line>`);
    }
  }
  const legend = series.map((s) => `<span class="key"><i style="background:${s.colour}"></i>${esc(s.name)} <small>${esc(s.note)}</small></span>`).join('');
  const limits = series.some((s) => s.limit !== null) ? '<span class="key"><small>dashed: the configured limit</small></span>' : '';
  return `<section class="chart"><h2>${esc(title)}</h2><svg width="${WIDTH}" height="${h}" viewBox="0 0 ${WIDTH} ${h}">${parts.join('')}</svg><div class="legend">${legend}${limits}</div>${caption === '' ? '' : `<p class="sub cap">${esc(caption)}</p>`}</section>`;
}

const CSS = `
:root{--t1:#e8871e;--t2:#2a9d8f;--rb:#8e5cc2;--rs:#7fb3e6;--fail:#d62828;--ink:#1f2328;--muted:#656d76;--line:#d0d7de}
*{box-sizing:border-box}
body{margin:0;font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:#fff}
header{padding:16px 20px 8px;max-width:${WIDTH + 40}px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:14px;margin:14px 0 4px 20px}
.sub{color:var(--muted);margin:0}
dl.facts{display:grid;grid-template-columns:repeat(4,auto);gap:2px 18px;justify-content:start;margin:10px 0 4px}
dl.facts div{display:contents}
dt{color:var(--muted)}
dd{margin:0;font-weight:600}
ul.notes{color:var(--muted);margin:6px 0;padding-left:18px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:2px 0 4px ${LABEL_W}px;max-width:${PLOT_W}px}
.key{white-space:nowrap}
.key i{display:inline-block;width:12px;height:10px;margin-right:5px;vertical-align:-1px;border-radius:2px}
.key small{color:var(--muted)}
.key i.t1{background:var(--t1)}.key i.t2{background:var(--t2)}.key i.rb{background:var(--rb)}
.key i.sd{background:var(--t1);opacity:.45}
.key i.rs{background:var(--rs);height:4px;vertical-align:2px}
.key i.x{background:none;color:var(--fail);font-style:normal;font-weight:700;width:auto;height:auto}
.chart .empty{margin-left:${LABEL_W}px;color:var(--muted)}
svg{display:block}
svg text{font-size:11px;fill:var(--ink)}
.axis{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line)}
.axis-title{text-anchor:end;fill:var(--muted)}
.tick{text-anchor:middle;fill:var(--muted)}
.tick.first{text-anchor:start}
.mk,.lb{font-weight:600}
.mk{text-anchor:end;fill:#444}
.lb{text-anchor:end;fill:#b3261e}
.base{stroke:var(--line)}
.block{content-visibility:auto;background:repeating-linear-gradient(to bottom,#fff 0 ${ROW_H}px,#f4f6f8 ${ROW_H}px ${2 * ROW_H}px)}
line.grid{stroke:#e4e7eb}
line.grid.short{stroke:#c8ccd1}
line.makespan{stroke:#444;stroke-width:1.2}
line.bound{stroke:#b3261e;stroke-dasharray:5 4;stroke-width:1.2}
line.hgrid{stroke:#eef0f2}
.ylab{text-anchor:end;fill:var(--muted)}
.row text{text-anchor:end}
.row.failed text{fill:var(--fail);font-weight:600}
.row.rolled-back text{fill:var(--rb)}
.row.unfinished text{fill:var(--muted);font-style:italic}
.row:hover rect{filter:brightness(.85)}
rect.t1{fill:var(--t1)}rect.t2{fill:var(--t2)}rect.rb{fill:var(--rb)}
rect.sd{opacity:.45}
rect.forced{stroke:#000;stroke-width:.8}
rect.rs{fill:var(--rs)}
rect.rs.cut{fill:#e9a3a3}
rect.open{opacity:.55}
path.x{stroke:var(--fail);stroke-width:2.2;fill:none}
path.area{stroke:#fff;stroke-width:.4}
path.line{fill:none;stroke-width:1.6}
path.line.thin{stroke-width:1;stroke-dasharray:3 2}
.cap{margin:0 0 6px ${LABEL_W}px;max-width:${PLOT_W}px}
line.limit{stroke-dasharray:6 4;stroke-width:1.2}
footer{color:var(--muted);padding:8px 20px 20px}
`;

/** The whole page: one string of HTML, nothing it needs lives anywhere else. */
export function renderTimelineHtml(page: TimelinePage): string {
  const sc = scaleOf(page);
  const buckets = PLOT_W / 2;
  const arrays = ownSeries(page.arrays, sc, buckets, PALETTE.length, (n) => `${n} more arrays`);
  let hostsChart: string;
  if (page.hosts.length <= STACKED_HOSTS_MAX) {
    hostsChart = chartHtml('Resync bandwidth per host, stacked (the top is the fleet\'s throughput)', ownSeries(page.hosts, sc, buckets, STACKED_HOSTS_MAX, (n) => `${n} more hosts`), page, sc, 'stacked');
  } else {
    const spread = hostSpread(page.hosts, sc, buckets, page.hostLimit);
    hostsChart = chartHtml(`Resync bandwidth per host: ${page.hosts.length} hosts`, spread.series, page, sc, 'lines', `At each moment, among the hosts copying then (at most ${spread.mostAtOnce} at once): the busiest, the 90th percentile and the median.`);
  }
  const facts = page.facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('');
  const notes = page.notes.length === 0 ? '' : `<ul class="notes">${page.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`;
  const rowLegend = [
    '<span class="key"><i class="sd"></i>shutting down</span>',
    '<span class="key"><i class="t1"></i>T1 down (onto the mirrors)</span>',
    '<span class="key"><i class="rs"></i>resync</span>',
    '<span class="key"><i class="t2"></i>T2 down (onto the new volumes)</span>',
    '<span class="key"><i class="rb"></i>rollback</span>',
    '<span class="key"><i class="x">✕</i>failure</span>',
    '<span class="key"><i style="background:none;border:1px solid #000"></i>outlined: forced off</span>',
  ].join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(page.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(page.title)}</h1>
${page.subtitle.map((s) => `<p class="sub">${esc(s)}</p>`).join('\n')}
<dl class="facts">${facts}</dl>
${notes}
</header>
${chartHtml('Resync bandwidth per storage array', arrays, page, sc, 'lines')}
${hostsChart}
<p class="sub cap">${esc(page.ratesFrom)}</p>
<h2>${page.rows.length} VM${page.rows.length === 1 ? '' : 's'}, in the order their first window began</h2>
<div class="legend">${rowLegend}</div>
<div class="axis">${axisSvg(sc, page)}</div>
<div class="rows" data-rows="${page.rows.length}">
${rowsHtml(page, sc)}
</div>
<footer>Hover a row for its times. Written by sanshift; this file needs no network and no script.</footer>
</body>
</html>
`;
}
