import { describe, expect, test } from '@jest/globals';
import type { EngineEvent } from '../../src/engine/events.js';
import type { JournalRecord } from '../../src/engine/journal.js';
import { fleetEta, runPace } from '../../src/report/fleet-eta.js';
import { initialFleetState, reduceFleet, renderSummaryLine } from '../../src/report/progress-view.js';

const GiB = 1024 ** 3;
const base = { now: 10_000_000, startedAt: 0, copyStartedAt: 1_000_000, copiedBytes: 0, remainingBytes: null, vms: 10, finishedVms: 0, meanT2Ms: null };

describe('fleetEta', () => {
  test('bytes: what is left over the mean rate since the first copy began, plus one T2 window', () => {
    // 900 GiB in 9,000 s: 0.1 GiB/s; 100 GiB left: 1,000 s, plus a 60 s T2
    expect(fleetEta({ ...base, copiedBytes: 900 * GiB, remainingBytes: 100 * GiB, meanT2Ms: 60_000 })).toEqual({ seconds: 1060, basis: 'bytes' });
  });

  test('never before the slowest resync running now: one large copy left outlasts the mean rate of many', () => {
    // the mean rate says 1,000 s; md says the copy running now needs 1,500 s more
    expect(fleetEta({ ...base, copiedBytes: 900 * GiB, remainingBytes: 100 * GiB, meanT2Ms: 60_000, runningEtaSeconds: 1500 })).toEqual({ seconds: 1560, basis: 'bytes' });
  });

  test('a size unknown: the pace of finished VMs instead', () => {
    // 4 VMs in 10,000 s: 2,500 s each, 6 left
    expect(fleetEta({ ...base, copiedBytes: 5 * GiB, finishedVms: 4 })).toEqual({ seconds: 15_000, basis: 'vms' });
  });

  test('nothing measurable yet: unknown, not zero; every VM finished: zero', () => {
    expect(fleetEta(base)).toEqual({ seconds: null, basis: null });
    expect(fleetEta({ ...base, finishedVms: 10 })).toEqual({ seconds: 0, basis: 'done' });
  });
});

describe('the live view\'s fleet ETA', () => {
  test('the summary line shows it once a copy has been measured', () => {
    const t0 = 1_700_000_000_000;
    const events: EngineEvent[] = [
      { kind: 'run-started', at: t0, run: 'r', vms: ['a', 'b'], rehearsal: false },
      { kind: 'step-finished', at: t0 + 10_000, vm: 'a', step: 'add-new-leg', ms: 1 },
      { kind: 'progress', at: t0 + 110_000, vm: 'a', percent: 50, speedKiBs: 100 * 1024, etaSeconds: 100, doneBytes: 10 * GiB, totalBytes: 20 * GiB },
    ];
    const before = renderSummaryLine(events.slice(0, 2).reduce(reduceFleet, initialFleetState(['a', 'b'], new Map([['a', 20 * GiB], ['b', 30 * GiB]]))));
    expect(before).not.toContain('fleet ETA');
    const s = events.reduce(reduceFleet, initialFleetState(['a', 'b'], new Map([['a', 20 * GiB], ['b', 30 * GiB]])));
    // 10 GiB in 100 s; 40 GiB left: 400 s
    expect(renderSummaryLine(s)).toContain('fleet ETA 6m40s');
  });
});

describe('runPace (sanshift status)', () => {
  const rec = (run: string, s: number, e: Record<string, unknown>): JournalRecord => ({ run, at: new Date(s * 1000).toISOString(), ...e }) as unknown as JournalRecord;
  test('the latest run under way: its finished VMs and the pace they set', () => {
    const records = [
      rec('r1', 0, { kind: 'run-started', vms: ['x'] }),
      rec('r1', 10, { kind: 'run-finished', ok: true }),
      rec('r2', 1000, { kind: 'run-started', vms: ['a', 'b', 'c', 'd'] }),
      rec('r2', 1500, { kind: 'vm-finished', vm: 'a', outcome: 'done' }),
    ];
    expect(runPace(records, 2000 * 1000)).toEqual({ run: 'r2', startedAt: new Date(1_000_000).toISOString(), vms: 4, finishedVms: 1, eta: { seconds: 3000, basis: 'vms' } });
  });

  test('no run under way: nothing to say', () => {
    expect(runPace([rec('r1', 0, { kind: 'run-started', vms: ['x'] }), rec('r1', 10, { kind: 'run-finished', ok: true })], 20_000)).toBeNull();
    expect(runPace([], 0)).toBeNull();
  });
});
