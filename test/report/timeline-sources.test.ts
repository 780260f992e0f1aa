// The picture's reading of journals, events and the model's timeline. When the engine renames a
// step, a test here fails and JOURNAL_MARKS / EVENT_MARKS (src/report/timeline-sources.ts) is
// the one place to adjust.
import { describe, expect, test } from '@jest/globals';
import type { EngineEvent } from '../../src/engine/events.js';
import type { JournalRecord } from '../../src/engine/journal.js';
import type { RateSample, TimelineEvent } from '../../src/plan/fleet-sim.js';
import { JOURNAL_MARKS, rowsFromEvents, rowsFromJournal, rowsFromModel, segmentsFromProgress, seriesFromSamples, timelineFromJournal } from '../../src/report/timeline-sources.js';
import { StepKind } from '../../src/plan/types.js';

const run = 'r1';
const t0 = Date.parse('2026-11-24T02:00:00Z');
const at = (s: number) => new Date(t0 + s * 1000).toISOString();
const GiB = 1024 ** 3;

type Entry = Omit<JournalRecord, 'run' | 'at'> & Record<string, unknown>;
const rec = (s: number, e: Entry): JournalRecord => ({ run, at: at(s), ...e }) as JournalRecord;

/** web1: a whole migration, T1 forced. db1: fails mid-resync and goes back to OLD. */
const journal: JournalRecord[] = [
  rec(0, { kind: 'run-started', inventory: '/inv.yaml', vms: ['web1', 'db1'], pid: 1, hostname: 'h', rehearsal: false }),
  rec(0, { kind: 'original', vm: 'web1', host: 'hv1', xml: '<domain/>', running: true }),
  rec(0, { kind: 'original', vm: 'db1', host: 'hv2', xml: '<domain/>', running: true }),
  rec(1, { kind: 'intent', vm: 'web1', step: 'shutdown-vm', detail: { phase: 'T1' } }),
  rec(21, { kind: 'result', vm: 'web1', step: 'shutdown-vm', detail: { phase: 'T1', forced: true } }),
  rec(22, { kind: 'intent', vm: 'web1', step: 'add-new-leg', target: 'vda' }),
  rec(23, { kind: 'result', vm: 'web1', step: 'add-new-leg', target: 'vda' }),
  rec(24, { kind: 'result', vm: 'web1', step: 'add-new-leg', target: 'vdb' }),
  rec(60, { kind: 'result', vm: 'web1', step: 'start-on-mirror', detail: { id: 7 } }),
  rec(300, { kind: 'result', vm: 'web1', step: 'wait-for-resync', detail: { resyncBytes: 40 * GiB, targets: ['vda', 'vdb'] } }),
  rec(301, { kind: 'intent', vm: 'web1', step: 'shutdown-vm', detail: { phase: 'T2' } }),
  rec(320, { kind: 'result', vm: 'web1', step: 'shutdown-vm', detail: { phase: 'T2', forced: false } }),
  rec(350, { kind: 'result', vm: 'web1', step: 'start-on-new', detail: {} }),
  rec(380, { kind: 'vm-finished', vm: 'web1', outcome: 'done' }),
  rec(5, { kind: 'intent', vm: 'db1', step: 'shutdown-vm', detail: { phase: 'T1' } }),
  rec(25, { kind: 'result', vm: 'db1', step: 'shutdown-vm', detail: { phase: 'T1', forced: false } }),
  rec(26, { kind: 'result', vm: 'db1', step: 'add-new-leg', target: 'vda' }),
  rec(55, { kind: 'result', vm: 'db1', step: 'start-on-mirror', detail: { id: 3 } }),
  rec(200, { kind: 'failed', vm: 'db1', reason: 'the new leg failed' }),
  rec(201, { kind: 'intent', vm: 'db1', step: 'shutdown-vm', detail: { phase: 'rollback' } }),
  rec(221, { kind: 'result', vm: 'db1', step: 'shutdown-vm', detail: { phase: 'rollback', forced: false } }),
  rec(222, { kind: 'intent', vm: 'db1', step: 'stop-mirror', target: 'vda', detail: { why: 'rollback' } }),
  rec(250, { kind: 'result', vm: 'db1', step: 'start-on-old', detail: {} }),
  rec(251, { kind: 'vm-finished', vm: 'db1', outcome: 'failed', reason: 'the new leg failed (the VM is back on its old volumes)' }),
  rec(400, { kind: 'run-finished', ok: false }),
];

describe('JOURNAL_MARKS', () => {
  test('names steps the plan knows (or the engine\'s own rollback and adopt steps)', () => {
    const known = new Set<string>([...Object.values(StepKind), 'adopt-start', 'start-on-old']);
    const named = [JOURNAL_MARKS.shutdown, JOURNAL_MARKS.resyncStart, JOURNAL_MARKS.resyncEnd, JOURNAL_MARKS.copyStopped, ...JOURNAL_MARKS.resyncEndBound, ...Object.values(JOURNAL_MARKS.upAfter).flat()];
    for (const step of named) expect(known).toContain(step);
  });
});

describe('rowsFromJournal', () => {
  const rows = rowsFromJournal(journal, run);
  const s = (n: number) => t0 + n * 1000;

  test('windows: from the shutdown intent, down at its result, up at start-on-mirror / start-on-new; forced from the result', () => {
    expect(rows.get('web1')!.windows).toEqual([
      { kind: 'T1', stopAt: s(1), downAt: s(21), upAt: s(60), forced: true },
      { kind: 'T2', stopAt: s(301), downAt: s(320), upAt: s(350), forced: false },
    ]);
    expect(rows.get('web1')!.host).toBe('hv1');
  });

  test('resync: from the first add-new-leg result to the wait-for-resync result, with its bytes', () => {
    expect(rows.get('web1')!.resyncs).toEqual([{ startAt: s(23), endAt: s(300), complete: true }]);
    expect(rows.get('web1')!.bytes).toBe(40 * GiB);
  });

  test('a failure: the failed record marks it, the copy stops at stop-mirror, the rollback window is drawn', () => {
    const db1 = rows.get('db1')!;
    expect(db1.failures).toEqual([{ at: s(200), reason: 'the new leg failed' }]);
    expect(db1.resyncs).toEqual([{ startAt: s(26), endAt: s(222), complete: false }]);
    expect(db1.windows[1]).toEqual({ kind: 'rollback', stopAt: s(201), downAt: s(221), upAt: s(250), forced: false });
    expect(db1.outcome).toBe('failed');
  });

  test('a journal written before wait-for-resync existed: the cutover check bounds the copy', () => {
    const old = journal.filter((r) => !(r.kind === 'result' && r.step === 'wait-for-resync')).concat([rec(310, { kind: 'intent', vm: 'web1', step: 'check-cutover' })]);
    expect(rowsFromJournal(old, run).get('web1')!.resyncs[0]!.endAt).toBe(s(310));
  });

  test('the page: wall-clock start, the run\'s end, averaged rates per host and array from the journal alone', () => {
    const p = timelineFromJournal(journal, run, { placementOf: (vm) => (vm === 'web1' ? { host: 'hv1', arrays: ['gold', 'silver'] } : undefined) });
    expect(p.origin).toBe(t0);
    expect(p.end).toBe(s(400));
    expect(p.wallClockStart).toBe(t0);
    const rate = (40 * GiB) / 277;
    expect(p.hosts).toEqual([{ name: 'hv1', limit: null, points: [{ t: s(23), bytesPerSecond: rate }, { t: s(300), bytesPerSecond: 0 }] }]);
    expect(p.arrays.map((a) => [a.name, a.points[0]!.bytesPerSecond])).toEqual([
      ['gold', rate / 2],
      ['silver', rate / 2],
    ]);
    expect(p.ratesFrom).toMatch(/from the journal/);
    expect(p.facts.find(([k]) => k === 'VMs')![1]).toBe('2: 1 done, 1 failed, 0 rolled back, 0 unfinished');
  });
});

describe('rates from the events', () => {
  const progress = (s: number, speedMiB: number, eta: number): EngineEvent => ({ kind: 'progress', at: t0 + s * 1000, vm: 'web1', percent: 50, speedKiBs: speedMiB * 1024, etaSeconds: eta, doneBytes: 0, totalBytes: 40 * GiB });
  test('each poll\'s speed holds since the previous poll; the last until its ETA or the sync', () => {
    const events: EngineEvent[] = [
      { kind: 'step-finished', at: t0 + 23_000, vm: 'web1', step: 'add-new-leg', ms: 100 },
      progress(33, 100, 200),
      progress(43, 200, 100),
      { kind: 'resync-ended', at: t0 + 300_000, vm: 'web1', targets: ['vda'], bytes: 40 * GiB },
    ];
    const rows = rowsFromJournal(journal, run);
    const seg = segmentsFromProgress(events, rows, () => ({ host: 'hv1', arrays: ['gold'] }));
    expect(seg.hosts.map((x) => [x.from - t0, x.to - t0, x.bytesPerSecond / 1024 ** 2])).toEqual([
      [23_000, 33_000, 100],
      [33_000, 43_000, 200],
      // the last: from 43 s, 100 s of ETA
      [43_000, 143_000, 200],
    ]);
  });
});

describe('rowsFromEvents (a rehearsal on the real engine)', () => {
  test('the shutdown step opens a window, down/up close it, a forced note marks it, a failed note marks the failure', () => {
    type Untimed = EngineEvent extends infer E ? (E extends unknown ? Omit<E, 'at'> : never) : never;
    const e = (s: number, x: Untimed): EngineEvent => ({ ...x, at: s * 1000 }) as EngineEvent;
    const rows = rowsFromEvents([
      e(0, { kind: 'run-started', run, vms: ['a'], rehearsal: true }),
      e(1, { kind: 'step-started', vm: 'a', step: 'shutdown-vm', summary: 'graceful shutdown of a (T1)' }),
      e(5, { kind: 'note', vm: 'a', text: 'did not power off within 4s: forcing it off' }),
      e(6, { kind: 'down', vm: 'a', window: 'T1' }),
      e(7, { kind: 'step-finished', vm: 'a', step: 'add-new-leg', ms: 1 }),
      e(30, { kind: 'up', vm: 'a', window: 'T1', downMs: 24_000 }),
      e(90, { kind: 'note', vm: 'a', text: 'failed: leg gone' }),
      e(95, { kind: 'down', vm: 'a', window: 'rollback' }),
      e(120, { kind: 'vm-finished', vm: 'a', outcome: 'failed', reason: 'leg gone (back on OLD)' }),
    ]);
    const a = rows.get('a')!;
    expect(a.windows[0]).toEqual({ kind: 'T1', stopAt: 1000, downAt: 6000, upAt: 30_000, forced: true });
    expect(a.windows[1]).toMatchObject({ kind: 'rollback', downAt: 95_000, upAt: null });
    expect(a.resyncs).toEqual([{ startAt: 7000, endAt: 95_000, complete: false }]);
    expect(a.failures).toEqual([{ at: 90_000, reason: 'leg gone' }]);
    expect(a.outcome).toBe('failed');
  });
});

describe('the model\'s timeline', () => {
  test('rows: stop, stopped, up per window; a resync ends when the VM\'s last disk does', () => {
    const tl: TimelineEvent[] = [
      { t: 0, kind: 'vm-stop', vm: 'a', phase: 'T1' },
      { t: 30, kind: 'vm-stopped', vm: 'a', phase: 'T1' },
      { t: 33, kind: 'resync-start', vm: 'a', target: 'vda' },
      { t: 33, kind: 'resync-start', vm: 'a', target: 'vdb' },
      { t: 90, kind: 'vm-up', vm: 'a', phase: 'T1' },
      { t: 100, kind: 'resync-end', vm: 'a', target: 'vda' },
      { t: 200, kind: 'resync-end', vm: 'a', target: 'vdb' },
      { t: 210, kind: 'vm-stop', vm: 'a', phase: 'T2' },
      { t: 240, kind: 'vm-stopped', vm: 'a', phase: 'T2' },
      { t: 300, kind: 'vm-up', vm: 'a', phase: 'T2' },
    ];
    const a = rowsFromModel(tl).get('a')!;
    expect(a.windows).toEqual([
      { kind: 'T1', stopAt: 0, downAt: 30, upAt: 90, forced: false },
      { kind: 'T2', stopAt: 210, downAt: 240, upAt: 300, forced: false },
    ]);
    expect(a.resyncs).toEqual([{ startAt: 33, endAt: 200, complete: true }]);
    expect(a.outcome).toBe('done');
  });

  test('rate samples are summed per key as they come; a key that stops copying drops to 0', () => {
    const m = (key: string, host: string, array: string, kiB: number) => ({ key, host, array, kiB });
    const samples: RateSample[] = [
      { t: 0, mirrors: [m('a/vda', 'hv1', 'gold', 100), m('b/vda', 'hv1', 'silver', 50)] },
      { t: 10, mirrors: [m('b/vda', 'hv1', 'silver', 150)] },
      { t: 20, mirrors: [] },
    ];
    const hosts = seriesFromSamples(samples, (x) => x.host);
    expect(hosts).toEqual([{ name: 'hv1', limit: null, points: [{ t: 0, bytesPerSecond: 150 * 1024 }, { t: 20, bytesPerSecond: 0 }] }]);
    const arrays = seriesFromSamples(samples, (x) => x.array, new Map([['gold', 1]]));
    expect(arrays.find((s) => s.name === 'gold')).toEqual({ name: 'gold', limit: 1, points: [{ t: 0, bytesPerSecond: 100 * 1024 }, { t: 10, bytesPerSecond: 0 }] });
  });
});
