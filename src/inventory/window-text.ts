// Maintenance windows as operators write them ('22:00-06:00', 'Mon-Fri 22:00-06:00',
// '2026-12-24', '2026-12-24..2026-12-26', 'Europe/Paris'), read into MaintenanceWindow.
// Pure; src/control/windows.ts answers "is it open now" over the result.
import { closest } from './suggest.js';
import type { WindowRange } from './types.js';
import type { Parsed } from './units.js';

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

function dayIndex(word: string): number | undefined {
  const i = DAY_NAMES.indexOf(word.slice(0, 3).toLowerCase() as (typeof DAY_NAMES)[number]);
  // 'Mon' or 'Monday', nothing looser: 'Mo' or 'Mondy' would be a guess
  if (i === -1) return undefined;
  const full = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'][i]!;
  return word.length === 3 || word.toLowerCase() === full ? i : undefined;
}

/** 'Mon-Fri', 'Sat,Sun', 'Fri-Mon' (wraps over the week end), 'Tue'. */
function parseDays(text: string): number[] | undefined {
  const days = new Set<number>();
  for (const part of text.split(',')) {
    const [from, to, extra] = part.trim().split('-');
    if (extra !== undefined || from === undefined) return undefined;
    const a = dayIndex(from.trim());
    const b = to === undefined ? a : dayIndex(to.trim());
    if (a === undefined || b === undefined) return undefined;
    for (let d = a; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === b) break;
    }
  }
  return [...days].sort((x, y) => x - y);
}

function minutes(text: string, allow24: boolean): number | undefined {
  const m = /^([01]?\d|2[0-4]):([0-5]\d)$/.exec(text);
  if (m === null) return undefined;
  const value = Number(m[1]) * 60 + Number(m[2]);
  if (value > 1440 || (value === 1440 && !allow24)) return undefined;
  return value;
}

/** One `allow` item: '[DAYS ]HH:MM-HH:MM'. The days are those the range starts on. */
export function parseWindowRange(text: string): Parsed<WindowRange> {
  const hint = "write HH:MM-HH:MM in 24-hour local time, optionally after days: '22:00-06:00', 'Mon-Fri 20:00-23:00', 'Sat,Sun 00:00-24:00'";
  const m = /^\s*(?:([A-Za-z][A-Za-z,\s-]*?)\s+)?(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$/.exec(text);
  if (m === null) return { ok: false, message: `${JSON.stringify(text)} is not a time range`, hint };
  const start = minutes(m[2]!, false);
  const end = minutes(m[3]!, true);
  if (start === undefined || end === undefined) return { ok: false, message: `${JSON.stringify(text)} holds a time that does not exist`, hint };
  if (start === end) {
    return { ok: false, message: `${JSON.stringify(text)} starts and ends at the same time: empty, or a whole day?`, hint: "write 00:00-24:00 for a whole day" };
  }
  const range: WindowRange = { startMin: start, endMin: end, text: text.trim() };
  if (m[1] !== undefined) {
    const days = parseDays(m[1]);
    if (days === undefined) return { ok: false, message: `${JSON.stringify(m[1])} is not a list of days`, hint: "write days as Mon, Tue, ... Sun, ranges such as Mon-Fri, or lists such as Sat,Sun" };
    range.days = days;
  }
  return { ok: true, value: range };
}

function isDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m === null) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** At most this many days in one `except` range: a longer one is surely a typo in a year. */
const MAX_EXCEPT_DAYS = 366;

/** One `except` item: 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD' (both days included), as dates. */
export function parseExceptDates(text: string): Parsed<string[]> {
  const hint = "write a local date as YYYY-MM-DD, or a range of dates as YYYY-MM-DD..YYYY-MM-DD";
  const [from, to, extra] = text.trim().split('..');
  if (from === undefined || extra !== undefined || !isDate(from) || (to !== undefined && !isDate(to))) {
    return { ok: false, message: `${JSON.stringify(text)} is not a date`, hint };
  }
  if (to === undefined) return { ok: true, value: [from] };
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  const days = Math.round((end - start) / 86_400_000) + 1;
  if (days < 1) return { ok: false, message: `${JSON.stringify(text)} ends before it starts`, hint };
  if (days > MAX_EXCEPT_DAYS) return { ok: false, message: `${JSON.stringify(text)} spans ${days} days, more than a year`, hint };
  return { ok: true, value: Array.from({ length: days }, (_, i) => new Date(start + i * 86_400_000).toISOString().slice(0, 10)) };
}

let zones: string[] | undefined;

/** An IANA time zone that this Node knows (Intl), with the closest known one when it is not. */
export function checkTimeZone(name: string): Parsed<string> {
  try {
    // throws RangeError on an unknown zone
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return { ok: true, value: name };
  } catch {
    zones ??= Intl.supportedValuesOf('timeZone');
    const best = closest(name, zones);
    return {
      ok: false,
      message: `${JSON.stringify(name)} is not a time zone${best === undefined ? '' : ` (did you mean ${JSON.stringify(best)}?)`}`,
      hint: 'write an IANA time zone such as Europe/Paris, America/New_York or UTC (the zone decides when the window opens, daylight saving time included)',
    };
  }
}
