import { expect, test } from '@jest/globals';
import type { JournalRecord } from '../../src/engine/journal.js';
import { buildRunReport, latestRun, renderRunReportMarkdown, renderRunReportText } from '../../src/report/run-report.js';

const T = (s: number) => new Date(Date.parse('2026-11-24T02:00:00Z') + s * 1000).toISOString();
const rec = (s: number, r: Record<string, unknown>) => ({ run: 'r2', at: T(s), ...r }) as JournalRecord;
const records: JournalRecord[] = [
  { run: 'r1', at: T(-100), kind: 'run-started', inventory: '/f.yaml', vms: ['old'], pid: 1, hostname: 'h', rehearsal: false },
  rec(0, { kind: 'run-started', inventory: '/f.yaml', vms: ['db1', 'web1'], pid: 1, hostname: 'h', rehearsal: false }),
  rec(0, { kind: 'original', vm: 'db1', host: 'hv1', xml: '<domain/>', running: true }),
  rec(0, { kind: 'intent', vm: 'db1', step: 'shutdown-vm', detail: { phase: 'T1' } }),
  rec(25, { kind: 'result', vm: 'db1', step: 'shutdown-vm', detail: { phase: 'T1', forced: false } }),
  rec(25, { kind: 'intent', vm: 'db1', step: 'add-new-leg', target: 'vda' }),
  rec(40, { kind: 'result', vm: 'db1', step: 'start-on-mirror', detail: { id: 3 } }),
  rec(1025, { kind: 'intent', vm: 'db1', step: 'check-cutover' }),
  rec(1045, { kind: 'result', vm: 'db1', step: 'shutdown-vm', detail: { phase: 'T2', forced: true } }),
  rec(1090, { kind: 'result', vm: 'db1', step: 'start-on-new' }),
  rec(1120, { kind: 'vm-finished', vm: 'db1', outcome: 'done' }),
  rec(0, { kind: 'original', vm: 'web1', host: 'hv1', xml: '<domain/>', running: true }),
  rec(30, { kind: 'result', vm: 'web1', step: 'shutdown-vm', detail: { phase: 'T1' } }),
  rec(31, { kind: 'failed', vm: 'web1', reason: 'I5: /dev/mapper/new-web1 is in use' }),
  rec(50, { kind: 'result', vm: 'web1', step: 'start-on-old' }),
  rec(51, { kind: 'vm-finished', vm: 'web1', outcome: 'failed', reason: 'I5: /dev/mapper/new-web1 is in use (the VM is back on its old volumes)' }),
  rec(1121, { kind: 'run-finished', ok: false }),
];

test('downtimes come from shutdown results and the start that ends each window', () => {
  const r = buildRunReport(records, 'r2');
  const db1 = r.vms.find((v) => v.vm === 'db1')!;
  expect(db1).toMatchObject({ host: 'hv1', result: 'done', reason: null, t1: { ms: 15_000, forced: false }, t2: { ms: 45_000, forced: true }, rollback: null });
  const web1 = r.vms.find((v) => v.vm === 'web1')!;
  // a failure before the mirror started: down at T1, up again on OLD
  expect(web1.result).toBe('failed');
  expect(web1.t1).toMatchObject({ ms: null, upAt: null });
  expect(web1.resync).toBeNull();
  expect(r.totals).toMatchObject({ vms: 2, done: 1, failed: 1, downMs: 60_000, longestT1Ms: 15_000, longestT2Ms: 45_000, resyncBytes: null });
  expect(r.ms).toBe(1121_000);
});

test('resync: up to the cutover check, unless events or the journal say when it was in sync', () => {
  const bounded = buildRunReport(records, 'r2').vms[0]!.resync!;
  expect(bounded).toMatchObject({ ms: 1000_000, inSyncFrom: 'cutover-check', bytes: null, bytesPerSecond: null });
  const measured = buildRunReport(records, 'r2', { resyncBytes: new Map([['db1', 100 * 1024 ** 2]]), inSyncAt: new Map([['db1', Date.parse(T(125))]]) }).vms[0]!.resync!;
  expect(measured).toMatchObject({ ms: 100_000, inSyncFrom: 'events', bytes: 100 * 1024 ** 2, bytesPerSecond: 1024 ** 2 });
  const journalled = buildRunReport([...records, rec(225, { kind: 'result', vm: 'db1', step: 'wait-for-resync', detail: { resyncBytes: 400 } })], 'r2').vms[0]!.resync!;
  expect(journalled).toMatchObject({ ms: 200_000, inSyncFrom: 'journal', bytes: 400, bytesPerSecond: 2 });
});

test('renderers show every VM, its reason and the totals', () => {
  const r = buildRunReport(records, 'r2');
  const text = renderRunReportText(r);
  expect(text).toMatch(/db1 +done +15s +45s \(forced\) +- +<=1000s|db1 +done +15s +45s \(forced\) +- +<=16m40s/);
  expect(text).toContain('I5: /dev/mapper/new-web1 is in use');
  expect(text).toContain('2 VMs: 1 done, 1 failed');
  const md = renderRunReportMarkdown(r);
  expect(md.split('\n').filter((l) => l.startsWith('| '))).toHaveLength(3);
});

test('latestRun picks the newest run id', () => {
  expect(latestRun(records)).toBe('r2');
  expect(latestRun([])).toBeNull();
});
