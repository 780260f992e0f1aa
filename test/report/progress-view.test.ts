import { describe, expect, test } from '@jest/globals';
import type { EngineEvent } from '../../src/engine/events.js';
import { initialFleetState, ProgressThrottle, reduceFleet, renderLiveFrame, summarize, VmStage } from '../../src/report/progress-view.js';

const GiB = 1024 ** 3;
const t0 = Date.parse('2026-11-24T02:00:00Z');
const events: EngineEvent[] = [
  { kind: 'run-started', at: t0, run: 'r1', vms: ['db1', 'web1', 'dns1'], rehearsal: false },
  { kind: 'step-started', at: t0, vm: 'db1', step: 'shutdown-vm', summary: 'graceful shutdown of db1 (T1)' },
  { kind: 'down', at: t0 + 20_000, vm: 'db1', window: 'T1' },
  { kind: 'step-started', at: t0 + 20_000, vm: 'db1', step: 'build-mirror', summary: 'build /dev/md/ss-db1-vda over /dev/mapper/old-db1' },
  { kind: 'step-started', at: t0 + 20_000, vm: 'web1', step: 'shutdown-vm', summary: 'graceful shutdown of web1 (T1)' },
  { kind: 'up', at: t0 + 50_000, vm: 'db1', window: 'T1', downMs: 30_000 },
  { kind: 'progress', at: t0 + 60_000, vm: 'db1', percent: 25, speedKiBs: 200 * 1024, etaSeconds: 300, doneBytes: 50 * GiB, totalBytes: 200 * GiB },
];
const fold = (es: EngineEvent[]) => es.reduce(reduceFleet, initialFleetState());

describe('reduceFleet', () => {
  test('follows each VM through its stages', () => {
    const s = fold(events);
    const by = (vm: string) => s.vms.find((v) => v.vm === vm)!;
    expect(by('db1').stage).toBe(VmStage.resync);
    expect(by('db1').percent).toBe(25);
    expect(by('web1').stage).toBe(VmStage.t1);
    expect(by('dns1').stage).toBe(VmStage.waiting);
    expect(s.now).toBe(t0 + 60_000);
  });

  test('a shutdown after the resync is T2, and the down time shows in the frame', () => {
    const s = fold([...events, { kind: 'step-started', at: t0 + 400_000, vm: 'db1', step: 'check-cutover', summary: 'I3 holds' }, { kind: 'step-started', at: t0 + 400_000, vm: 'db1', step: 'shutdown-vm', summary: 'graceful shutdown of db1 (T2)' }, { kind: 'down', at: t0 + 420_000, vm: 'db1', window: 'T2' }, { kind: 'note', at: t0 + 432_000, vm: 'db1', text: 'define db1 on its new volumes' }]);
    const db1 = s.vms.find((v) => v.vm === 'db1')!;
    expect(db1.stage).toBe(VmStage.t2);
    expect(renderLiveFrame(s)).toContain('db1   T2       DOWN 12s · define db1 on its new volumes');
  });

  test('finished VMs count as done or failed, and a done VM counts its bytes as copied', () => {
    const s = fold([...events, { kind: 'vm-finished', at: t0 + 900_000, vm: 'db1', outcome: 'done' }, { kind: 'vm-finished', at: t0 + 900_000, vm: 'web1', outcome: 'failed', reason: 'x' }]);
    const f = summarize(s);
    expect(f).toMatchObject({ done: 1, failed: 1, waiting: 1, running: 0, copiedBytes: 200 * GiB });
  });
});

describe('renderLiveFrame', () => {
  test('a fleet line, then one line per active VM only', () => {
    const frame = renderLiveFrame(fold(events), 200);
    const lines = frame.split('\n');
    expect(lines[0]).toBe('3 VMs: 0 done, 2 running, 1 waiting, 0 failed · 50.0 GiB copied at 200 MiB/s · resync ETA 5m00s · 60s elapsed');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^ {2}db1 +resync +\[#####-+\] +25\.0% +200 MiB\/s +ETA 5m00s +of 200 GiB$/);
    expect(lines[2]).toContain('web1  T1       graceful shutdown of web1 (T1)');
  });

  test('lines never exceed the terminal width', () => {
    for (const line of renderLiveFrame(fold(events), 40).split('\n')) expect(line.length).toBeLessThanOrEqual(40);
  });

  test('past maxVmLines, the rest is counted', () => {
    expect(renderLiveFrame(fold(events), 200, 1)).toContain('… and 1 more running');
  });
});

test('ProgressThrottle lets a VM through every 10 points or every minute', () => {
  const th = new ProgressThrottle(10, 60_000);
  const p = (percent: number, at: number): EngineEvent => ({ kind: 'progress', at, vm: 'db1', percent, speedKiBs: 1, etaSeconds: 1, doneBytes: 0, totalBytes: 1 });
  expect([p(1, 0), p(5, 5_000), p(10.5, 10_000), p(12, 20_000), p(13, 80_000), p(14, 85_000)].map((e) => th.shouldPrint(e))).toEqual([true, false, true, false, true, false]);
  expect(th.shouldPrint({ kind: 'note', at: 0, vm: 'db1', text: 'x' })).toBe(true);
});
