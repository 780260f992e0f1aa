// Maintenance windows: may a T1 or T2 down window start at this instant? Local time in an IANA
// zone through Intl (no time-zone library): daylight saving time, overnight ranges, days of the
// week and excluded local dates. Pure, apart from reading the Clock a caller passes in.
//
// Rules (docs/inventory.md, "windows"):
// - an instant is open when its local time falls in an `allow` range that starts on an allowed
//   day, its local date is not an `except` date, and the range still has `margin` left;
// - an overnight range (22:00-06:00) belongs to the day it starts on; its hours after midnight
//   are still closed when that next local date is an `except` date ("not on that date");
// - a local time that does not exist (the hour skipped in spring) is taken as the first
//   instant after it; a local time that happens twice (autumn) is open both times.
import type { MaintenanceWindow } from '../inventory/types.js';
import type { Clock } from '../util/clock.js';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** How far ahead nextOpen looks before it says "never": a year and a bit covers every weekly
 * pattern and a year of excluded dates. */
export const HORIZON_DAYS = 400;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local wall-clock time of instant t in the zone, as if it were a UTC timestamp. */
function wallOf(t: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const ms = ((t % 1000) + 1000) % 1000;
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour! % 24, parts.minute!, parts.second!) + ms;
}

const offsetAt = (t: number, timeZone: string): number => wallOf(t, timeZone) - t;

/** The first instant whose local time is `wall` or later: the earlier of two (autumn), the end
 * of the skipped hour (spring). */
export function instantOfWall(wall: number, timeZone: string): number {
  return Math.min(...instantsOfWall(wall, timeZone));
}

/** Every instant whose local time is `wall` (two in the hour that happens twice), or the end of
 * the skipped hour when it is in it. */
function instantsOfWall(wall: number, timeZone: string): number[] {
  const before = wall - offsetAt(wall - 2 * DAY_MS, timeZone);
  const after = wall - offsetAt(wall + 2 * DAY_MS, timeZone);
  const valid = [...new Set([before, after])].filter((c) => wallOf(c, timeZone) === wall);
  if (valid.length > 0) return valid;
  // in the hour the clocks skip: search the transition between the two candidates
  let lo = Math.min(before, after);
  let hi = Math.max(before, after);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallOf(mid, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return [hi];
}

/** The instants in [a, b) where the zone's offset changes (at most one a day in real zones). */
function transitionsBetween(a: number, b: number, timeZone: string): number[] {
  const oa = offsetAt(a, timeZone);
  if (oa === offsetAt(b, timeZone)) return [];
  let lo = a;
  let hi = b;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid, timeZone) === oa) lo = mid;
    else hi = mid;
  }
  return [hi];
}

const dateText = (wallDay: number): string => new Date(wallDay).toISOString().slice(0, 10);
const startsOn = (days: readonly number[] | undefined, weekday: number): boolean => days === undefined || days.includes(((weekday % 7) + 7) % 7);

/** Open, ignoring the margin: in an allowed range, on a date that is not excluded. */
function rawOpen(t: number, w: MaintenanceWindow): boolean {
  const wall = wallOf(t, w.timezone);
  const day = Math.floor(wall / DAY_MS) * DAY_MS;
  if (w.except.includes(dateText(day))) return false;
  const sinceMidnight = wall - day;
  const weekday = new Date(day).getUTCDay();
  for (const r of w.allow) {
    const start = r.startMin * MINUTE_MS;
    const end = r.endMin * MINUTE_MS;
    if (r.endMin > r.startMin) {
      if (startsOn(r.days, weekday) && sinceMidnight >= start && sinceMidnight < end) return true;
    } else if ((startsOn(r.days, weekday) && sinceMidnight >= start) || (startsOn(r.days, weekday - 1) && sinceMidnight < end)) {
      return true;
    }
  }
  return false;
}

/** Every instant of local day `wallDay` where openness may change, sorted. */
function boundariesOf(wallDay: number, w: MaintenanceWindow): number[] {
  const walls = new Set<number>([wallDay]);
  for (const r of w.allow) {
    walls.add(wallDay + r.startMin * MINUTE_MS);
    if (r.endMin < 1440) walls.add(wallDay + r.endMin * MINUTE_MS);
  }
  // both instants of a local time that happens twice: a range may end, then end again
  const out = [...walls].flatMap((wall) => instantsOfWall(wall, w.timezone));
  out.push(...transitionsBetween(instantOfWall(wallDay, w.timezone), instantOfWall(wallDay + DAY_MS, w.timezone), w.timezone));
  return [...new Set(out)].sort((a, b) => a - b);
}

/** The boundaries after `t`, day by day, until the horizon. */
function* boundariesAfter(t: number, w: MaintenanceWindow): Generator<number> {
  const firstDay = Math.floor(wallOf(t, w.timezone) / DAY_MS) * DAY_MS - DAY_MS;
  for (let d = 0; d <= HORIZON_DAYS + 1; d++) {
    for (const b of boundariesOf(firstDay + d * DAY_MS, w)) if (b > t) yield b;
  }
}

/** When the stretch open at `t` closes (margin ignored); `t` itself when closed; Infinity when
 * it stays open past the horizon. */
export function openUntil(t: number, w: MaintenanceWindow): number {
  if (!rawOpen(t, w)) return t;
  for (const b of boundariesAfter(t, w)) if (!rawOpen(b, w)) return b;
  return Infinity;
}

/** May a down window start at `at`? With a margin, only while more than the margin is left. */
export function isOpen(at: Date | number, w: MaintenanceWindow): boolean {
  const t = +at;
  if (!rawOpen(t, w)) return false;
  return w.marginMs === 0 || openUntil(t, w) - t > w.marginMs;
}

/** The first instant at or after `at` when a down window may start; null when none within the
 * horizon (every allowed day excluded, say). */
export function nextOpen(at: Date | number, w: MaintenanceWindow): Date | null {
  const t = +at;
  if (isOpen(t, w)) return new Date(t);
  // openness only begins at a boundary (a margin only shortens a stretch's end)
  for (const b of boundariesAfter(t, w)) if (isOpen(b, w)) return new Date(b);
  return null;
}

/** The first instant at which a window open at `at` no longer allows a start (margin
 * included); Infinity when it stays open past the horizon. */
export function closesAt(at: Date | number, w: MaintenanceWindow): number {
  const t = +at;
  return openUntil(t, w) - w.marginMs;
}

// ---- several windows at once (a bundle's members) --------------------------------------

/** A bundle whose members have different windows may start only when all of them are open. */
export function isOpenAll(at: Date | number, windows: readonly MaintenanceWindow[]): boolean {
  return windows.every((w) => isOpen(at, w));
}

/** The first instant at or after `at` when every window is open; null when they never meet
 * within the horizon. */
export function nextOpenAll(at: Date | number, windows: readonly MaintenanceWindow[]): Date | null {
  let t = +at;
  const limit = t + HORIZON_DAYS * DAY_MS;
  while (t <= limit) {
    if (isOpenAll(t, windows)) return new Date(t);
    let latest = t;
    for (const w of windows) {
      const n = nextOpen(t, w);
      if (n === null) return null;
      latest = Math.max(latest, +n);
    }
    // every window open on its own at some instant, not all at `latest`: one closed again meanwhile
    t = latest === t ? t + MINUTE_MS : latest;
  }
  return null;
}

// ---- a gate for the engine and the simulation ------------------------------------------

export interface WindowGate {
  /** no window applies: always open */
  readonly always: boolean;
  /** may a T1 or T2 window start now? */
  isOpen(now?: number): boolean;
  /** 0 when open; the milliseconds until one may start; Infinity when never within the horizon */
  msUntilOpen(now?: number): number;
  /** when an open gate stops allowing starts (Infinity: not within the horizon); `now` when closed */
  closesAt(now?: number): number;
}

/**
 * The gate of one VM (its `policy.windows`) or of a bundle (its members' windows: their
 * intersection). Answers are cached per open or closed stretch, so asking at every event of a
 * fleet simulation costs a comparison. `clock` supplies `now` when a call leaves it out.
 */
export function windowGate(windows: MaintenanceWindow | readonly (MaintenanceWindow | undefined)[] | undefined, clock?: Pick<Clock, 'now'>): WindowGate {
  const list = (Array.isArray(windows) ? windows : [windows]).filter((w): w is MaintenanceWindow => w !== undefined);
  // one window per distinct definition: members of a bundle usually share theirs
  const distinct = [...new Map(list.map((w) => [JSON.stringify(w), w])).values()];
  const nowOf = (now: number | undefined): number => {
    if (now !== undefined) return now;
    if (clock === undefined) throw new Error('windowGate: pass `now`, or a clock when the gate is made');
    return clock.now();
  };
  if (distinct.length === 0) {
    return { always: true, isOpen: () => true, msUntilOpen: () => 0, closesAt: () => Infinity };
  }
  let cached: { from: number; until: number; open: boolean } | undefined;
  const stretch = (t: number): { from: number; until: number; open: boolean } => {
    if (cached !== undefined && t >= cached.from && t < cached.until) return cached;
    if (isOpenAll(t, distinct)) {
      const until = Math.min(...distinct.map((w) => closesAt(t, w)));
      cached = { from: t, until: Math.max(until, t + 1), open: true };
    } else {
      const next = nextOpenAll(t, distinct);
      cached = { from: t, until: next === null ? Infinity : +next, open: false };
    }
    return cached;
  };
  return {
    always: false,
    isOpen: (now) => stretch(nowOf(now)).open,
    msUntilOpen: (now) => {
      const t = nowOf(now);
      const s = stretch(t);
      return s.open ? 0 : s.until - t;
    },
    closesAt: (now) => {
      const t = nowOf(now);
      const s = stretch(t);
      return s.open ? s.until : t;
    },
  };
}

/**
 * Sleeps on `clock` until the gate opens. Wakes at least every `maxSleepMs` to ask `stop`
 * (a pause request, a second Ctrl-C): returns 'stopped' then, 'open' once a start is allowed,
 * 'never' when the gate will not open within the horizon.
 */
export async function waitForWindow(gate: WindowGate, clock: Clock, options: { stop?: () => boolean; maxSleepMs?: number } = {}): Promise<'open' | 'stopped' | 'never'> {
  const maxSleep = options.maxSleepMs ?? 60_000;
  for (;;) {
    if (options.stop?.() === true) return 'stopped';
    const wait = gate.msUntilOpen(clock.now());
    if (wait === 0) return 'open';
    if (!Number.isFinite(wait)) return 'never';
    await clock.sleep(Math.min(wait, maxSleep));
  }
}

/** A short description for messages: "22:00-06:00 Europe/Paris, except 2026-12-24". */
export function describeWindow(w: MaintenanceWindow): string {
  const except = w.except.length === 0 ? '' : `, except ${w.except.length <= 3 ? w.except.join(', ') : `${w.except.slice(0, 3).join(', ')} and ${w.except.length - 3} more dates`}`;
  const margin = w.marginMs === 0 ? '' : `, no start in the last ${Math.round(w.marginMs / MINUTE_MS)} min`;
  return `${w.allow.map((r) => r.text).join(', ')} ${w.timezone}${except}${margin}`;
}

/** "2026-11-24 22:00 Europe/Paris": an instant as an operator in that zone reads it. */
export function formatInZone(t: number, timeZone = 'UTC'): string {
  const iso = new Date(wallOf(t, timeZone)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} ${timeZone}`;
}
