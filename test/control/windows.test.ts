import { describe, expect, it } from '@jest/globals';
import { closesAt, describeWindow, instantOfWall, isOpen, isOpenAll, nextOpen, nextOpenAll, openUntil, waitForWindow, windowGate } from '../../src/control/windows.js';
import type { MaintenanceWindow } from '../../src/inventory/types.js';
import { parseWindowRange } from '../../src/inventory/window-text.js';
import { VirtualClock } from '../../src/util/clock.js';

function win(timezone: string, allow: string[], except: string[] = [], marginMs = 0): MaintenanceWindow {
  return {
    timezone,
    allow: allow.map((text) => {
      const r = parseWindowRange(text);
      if (!r.ok) throw new Error(r.message);
      return r.value;
    }),
    except,
    marginMs,
  };
}

const at = (iso: string): number => Date.parse(iso);
const iso = (d: Date | number | null): string | null => (d === null ? null : new Date(d).toISOString());

describe('an overnight window in Europe/Paris', () => {
  const night = win('Europe/Paris', ['22:00-06:00']);

  it('opens at 22:00 and closes at 06:00 local time, in winter (UTC+1)', () => {
    expect(isOpen(at('2026-01-14T20:59:59Z'), night)).toBe(false);
    expect(isOpen(at('2026-01-14T21:00:00Z'), night)).toBe(true);
    expect(isOpen(at('2026-01-15T04:59:59Z'), night)).toBe(true);
    expect(isOpen(at('2026-01-15T05:00:00Z'), night)).toBe(false);
    expect(iso(nextOpen(at('2026-01-15T12:00:00Z'), night))).toBe('2026-01-15T21:00:00.000Z');
  });
  it('and in summer (UTC+2)', () => {
    expect(iso(nextOpen(at('2026-07-15T12:00:00Z'), night))).toBe('2026-07-15T20:00:00.000Z');
    expect(openUntil(at('2026-07-15T23:00:00Z'), night)).toBe(at('2026-07-16T04:00:00Z'));
  });
  it('is open from the instant asked when it is open', () => {
    expect(iso(nextOpen(at('2026-01-14T23:30:00Z'), night))).toBe('2026-01-14T23:30:00.000Z');
  });
  it('lasts an hour less the night clocks go forward, an hour more the night they go back', () => {
    // 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET
    const spring = at('2026-03-28T21:00:00Z');
    expect(isOpen(spring, night)).toBe(true);
    expect(openUntil(spring, night) - spring).toBe(7 * 3_600_000);
    const autumn = at('2026-10-24T20:00:00Z');
    expect(isOpen(autumn, night)).toBe(true);
    expect(openUntil(autumn, night) - autumn).toBe(9 * 3_600_000);
  });
});

describe('daylight saving time edges', () => {
  it('a range starting in the hour the clocks skip opens when the clocks jump', () => {
    const w = win('Europe/Paris', ['02:30-04:00']);
    // 01:00 UTC is 02:00 CET, which becomes 03:00 CEST
    expect(iso(nextOpen(at('2026-03-29T00:00:00Z'), w))).toBe('2026-03-29T01:00:00.000Z');
    expect(instantOfWall(Date.UTC(2026, 2, 29, 2, 30), 'Europe/Paris')).toBe(at('2026-03-29T01:00:00Z'));
  });
  it('a local time that happens twice is the first one, and a range ending in the repeated hour opens again for it', () => {
    expect(instantOfWall(Date.UTC(2026, 9, 25, 2, 30), 'Europe/Paris')).toBe(at('2026-10-25T00:30:00Z'));
    const w = win('Europe/Paris', ['22:00-02:30']);
    expect(isOpen(at('2026-10-25T00:29:00Z'), w)).toBe(true); // 02:29 CEST
    expect(isOpen(at('2026-10-25T00:45:00Z'), w)).toBe(false); // 02:45 CEST
    expect(isOpen(at('2026-10-25T01:10:00Z'), w)).toBe(true); // 02:10 CET, the second time
    expect(openUntil(at('2026-10-25T01:10:00Z'), w)).toBe(at('2026-10-25T01:30:00Z'));
    expect(iso(nextOpen(at('2026-10-25T00:45:00Z'), w))).toBe('2026-10-25T01:00:00.000Z');
  });
  it('follows a zone with a half-hour offset and none of its own DST', () => {
    const w = win('Asia/Kolkata', ['01:00-03:00']);
    expect(iso(nextOpen(at('2026-06-01T00:00:00Z'), w))).toBe('2026-06-01T19:30:00.000Z');
  });
});

describe('days and excluded dates', () => {
  it('a range runs on the days it starts on', () => {
    const weekend = win('UTC', ['Sat,Sun 00:00-24:00']);
    // 2026-01-14 is a Wednesday
    expect(iso(nextOpen(at('2026-01-14T10:00:00Z'), weekend))).toBe('2026-01-17T00:00:00.000Z');
    expect(openUntil(at('2026-01-17T00:00:00Z'), weekend)).toBe(at('2026-01-19T00:00:00Z'));
    const friNight = win('UTC', ['Fri 22:00-06:00']);
    expect(isOpen(at('2026-01-17T05:00:00Z'), friNight)).toBe(true); // Saturday 05:00, Friday's night
    expect(isOpen(at('2026-01-17T23:00:00Z'), friNight)).toBe(false); // Saturday 23:00
  });
  it('nothing starts at any local time of an excluded date, even in the night that began the day before', () => {
    const w = win('Europe/Paris', ['22:00-06:00'], ['2026-12-24']);
    expect(isOpen(at('2026-12-23T22:30:00Z'), w)).toBe(true); // 23:30 on the 23rd
    expect(isOpen(at('2026-12-24T00:30:00Z'), w)).toBe(false); // 01:30 on the 24th
    expect(isOpen(at('2026-12-24T21:30:00Z'), w)).toBe(false); // 22:30 on the 24th
    // the night of the 24th goes on into the 25th, which is not excluded: open from midnight
    expect(iso(nextOpen(at('2026-12-23T23:00:00Z'), w))).toBe('2026-12-24T23:00:00.000Z');
    expect(openUntil(at('2026-12-23T22:30:00Z'), w)).toBe(at('2026-12-23T23:00:00Z'));
  });
  it('skips excluded allowed days, and says never when they cover more than the horizon', () => {
    const mondays = (n: number) => Array.from({ length: n }, (_, i) => new Date(Date.UTC(2026, 0, 5) + i * 7 * 86_400_000).toISOString().slice(0, 10));
    // the ten Mondays from 2026-01-05: the first open Monday is the eleventh
    expect(iso(nextOpen(at('2026-01-01T00:00:00Z'), win('UTC', ['Mon 01:00-02:00'], mondays(10))))).toBe('2026-03-16T01:00:00.000Z');
    // sixty weeks of Mondays: beyond the 400-day horizon
    expect(nextOpen(at('2026-01-01T00:00:00Z'), win('UTC', ['Mon 01:00-02:00'], mondays(60)))).toBeNull();
    const never = win('UTC', ['01:00-02:00'], []);
    const other = win('UTC', ['03:00-04:00'], []);
    expect(nextOpenAll(at('2026-01-01T00:00:00Z'), [never, other])).toBeNull();
  });
});

describe('margin', () => {
  const w = win('UTC', ['22:00-06:00'], [], 3_600_000);
  it('refuses a start when less than the margin is left', () => {
    expect(isOpen(at('2026-01-15T04:59:00Z'), w)).toBe(true);
    expect(isOpen(at('2026-01-15T05:00:00Z'), w)).toBe(false);
    expect(closesAt(at('2026-01-15T01:00:00Z'), w)).toBe(at('2026-01-15T05:00:00Z'));
    expect(iso(nextOpen(at('2026-01-15T05:30:00Z'), w))).toBe('2026-01-15T22:00:00.000Z');
  });
});

describe('a bundle of VMs with different windows: the intersection', () => {
  const paris = win('Europe/Paris', ['22:00-06:00']);
  const newYork = win('America/New_York', ['18:00-23:00']);
  it('opens when both are open', () => {
    // winter: Paris 21:00-05:00 UTC, New York 23:00-04:00 UTC
    expect(iso(nextOpenAll(at('2026-01-15T12:00:00Z'), [paris, newYork]))).toBe('2026-01-15T23:00:00.000Z');
    expect(isOpenAll(at('2026-01-15T22:00:00Z'), [paris, newYork])).toBe(false);
    const gate = windowGate([paris, newYork, undefined]);
    expect(gate.closesAt(at('2026-01-16T00:00:00Z'))).toBe(at('2026-01-16T04:00:00Z'));
  });
});

describe('windowGate and waitForWindow', () => {
  const night = win('UTC', ['22:00-06:00']);
  it('without a window, is always open', () => {
    const gate = windowGate(undefined);
    expect(gate.always).toBe(true);
    expect(gate.isOpen(0)).toBe(true);
    expect(gate.msUntilOpen(0)).toBe(0);
  });
  it('answers from its clock, and the same as the functions at every minute of two days', () => {
    const clock = new VirtualClock(at('2026-01-15T12:00:00Z'));
    const gate = windowGate(night, clock);
    expect(gate.isOpen()).toBe(false);
    expect(gate.msUntilOpen()).toBe(10 * 3_600_000);
    for (let t = at('2026-01-15T00:00:00Z'); t < at('2026-01-17T00:00:00Z'); t += 60_000) {
      expect(gate.isOpen(t)).toBe(isOpen(t, night));
    }
  });
  it('waits on the virtual clock until the window opens', async () => {
    const clock = new VirtualClock(at('2026-01-15T12:00:00Z'));
    expect(await waitForWindow(windowGate(night), clock, { maxSleepMs: 3_600_000 })).toBe('open');
    expect(iso(clock.now())).toBe('2026-01-15T22:00:00.000Z');
  });
  it('stops waiting when asked, at its next wake-up', async () => {
    const clock = new VirtualClock(at('2026-01-15T12:00:00Z'));
    let asked = 0;
    expect(await waitForWindow(windowGate(night), clock, { stop: () => ++asked > 2, maxSleepMs: 60_000 })).toBe('stopped');
    expect(clock.now()).toBe(at('2026-01-15T12:02:00Z'));
  });
  it('describes itself for messages', () => {
    expect(describeWindow(win('Europe/Paris', ['22:00-06:00'], ['2026-12-24'], 1_800_000))).toBe('22:00-06:00 Europe/Paris, except 2026-12-24, no start in the last 30 min');
  });
});
