import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { parseJournal } from '../../src/engine/journal.js';
import type { EngineEvent } from '../../src/engine/events.js';
import type { RunReport } from '../../src/report/run-report.js';
import { rehearsalCopy } from './helpers.js';

const runsIn = (dir: string) => (existsSync(join(dir, '.sanshift', 'runs')) ? readdirSync(join(dir, '.sanshift', 'runs')) : []);

describe('the confirmation rule', () => {
  test('stdin not a terminal and no --yes: exit 2, nothing touched', async () => {
    const { dir, inventory } = rehearsalCopy();
    const io = new RecordingIo();
    expect(await main(['run', '-i', inventory], io)).toBe(2);
    expect(io.stderr).toContain('add --yes');
    expect(runsIn(dir)).toEqual([]);
  });

  test('answering "n" declines: exit 3, nothing touched', async () => {
    const { dir, inventory } = rehearsalCopy();
    const io = new RecordingIo();
    io.stdinIsTTY = true;
    io.answers = ['n'];
    expect(await main(['run', '-i', inventory, 'dns1'], io)).toBe(3);
    expect(io.stderr).toContain('migrate 1 VM (dns1)');
    expect(io.stderr).toContain('declined');
    expect(runsIn(dir)).toEqual([]);
  });

  test('answering "y" runs', async () => {
    const { inventory } = rehearsalCopy();
    const io = new RecordingIo();
    io.stdinIsTTY = true;
    io.answers = ['y'];
    expect(await main(['run', '-i', inventory, 'dns1'], io)).toBe(0);
    expect(io.stdout).toMatch(/dns1\s+done/);
  });
});

describe('sanshift run --yes --events FILE', () => {
  const { dir, inventory } = rehearsalCopy();
  const eventsFile = join(dir, 'events.jsonl');
  const io = new RecordingIo();
  let code = -1;
  const ready = main(['run', '-i', inventory, '--yes', '--events', eventsFile], io).then((c) => (code = c));

  test('exits 0 and prints the report table', async () => {
    await ready;
    expect(code).toBe(0);
    expect(io.stdout).toMatch(/VM\s+RESULT\s+T1 DOWN\s+T2 DOWN/);
    for (const vm of ['dns1', 'db1', 'web1', 'app1']) expect(io.stdout).toMatch(new RegExp(`\\n${vm}\\s+done\\s`));
  });

  test('plain output throttles progress: at most one line per VM per 10 points or minute', async () => {
    await ready;
    const events = readFileSync(eventsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EngineEvent);
    const progressEvents = events.filter((e) => e.kind === 'progress').length;
    const progressLines = io.stdout.split('\n').filter((l) => l.includes(': resync ')).length;
    expect(progressLines).toBeGreaterThan(0);
    expect(progressLines).toBeLessThan(progressEvents);
  });

  test('the events file is JSON lines, from run-started to run-finished', async () => {
    await ready;
    const lines = readFileSync(eventsFile, 'utf8').trim().split('\n');
    const events = lines.map((l) => JSON.parse(l) as EngineEvent);
    expect(events[0]!.kind).toBe('run-started');
    expect(events[events.length - 1]!.kind).toBe('run-finished');
    expect(events.filter((e) => e.kind === 'vm-finished')).toHaveLength(4);
  });

  test('the report files sit beside the journal, and their downtimes match the journal and the up events', async () => {
    await ready;
    const runs = runsIn(dir);
    const journal = runs.find((f) => f.endsWith('.jsonl'))!;
    const run = journal.replace(/\.jsonl$/, '');
    expect(runs).toEqual(expect.arrayContaining([`${run}.report.json`, `${run}.report.md`]));
    const report = JSON.parse(readFileSync(join(dir, '.sanshift', 'runs', `${run}.report.json`), 'utf8')) as RunReport;
    const records = parseJournal(readFileSync(join(dir, '.sanshift', 'runs', journal), 'utf8'));
    const events = readFileSync(eventsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EngineEvent);
    for (const v of report.vms) {
      const at = (step: string, phase?: string) =>
        Date.parse(records.find((r) => r.kind === 'result' && r.vm === v.vm && r.step === step && (phase === undefined || r.detail?.['phase'] === phase))!.at);
      expect(v.t1!.ms).toBe(at('start-on-mirror') - at('shutdown-vm', 'T1'));
      expect(v.t2!.ms).toBe(at('start-on-new') - at('shutdown-vm', 'T2'));
      const ups = events.filter((e): e is Extract<EngineEvent, { kind: 'up' }> => e.kind === 'up' && e.vm === v.vm);
      expect(ups.find((e) => e.window === 'T1')!.downMs).toBe(v.t1!.ms);
      expect(ups.find((e) => e.window === 'T2')!.downMs).toBe(v.t2!.ms);
    }
    expect(report.totals.downMs).toBe(report.vms.reduce((a, v) => a + v.t1!.ms! + v.t2!.ms!, 0));
    const md = readFileSync(join(dir, '.sanshift', 'runs', `${run}.report.md`), 'utf8');
    expect(md).toContain(`# sanshift run ${run}`);
  });

  test('sanshift report shows the same run again, and keeps what the events measured', async () => {
    await ready;
    const again = new RecordingIo();
    expect(await main(['report', '-i', inventory, '--json'], again)).toBe(0);
    const fromCommand = JSON.parse(again.stdout) as RunReport;
    const run = runsIn(dir).find((f) => f.endsWith('.jsonl'))!.replace(/\.jsonl$/, '');
    expect(fromCommand.run).toBe(run);
    expect(fromCommand.totals.done).toBe(4);
    const dns1 = fromCommand.vms.find((v) => v.vm === 'dns1')!;
    expect(dns1.resync?.bytes).toBe(20 * 1024 ** 3);
  });

  test('report of an unknown run: exit 2', async () => {
    await ready;
    const io2 = new RecordingIo();
    expect(await main(['report', '-i', inventory, '20000101T000000Z-000000'], io2)).toBe(2);
    expect(io2.stderr).toContain('no journal of run 20000101T000000Z-000000');
  });
});

test('--events - puts only JSON lines on stdout; the operator text goes to stderr', async () => {
  const { inventory } = rehearsalCopy();
  const io = new RecordingIo();
  expect(await main(['run', '-i', inventory, 'dns1', '--yes', '--events', '-'], io)).toBe(0);
  const lines = io.stdout.trim().split('\n');
  expect(lines.length).toBeGreaterThan(5);
  for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  expect(io.stderr).toContain('REHEARSAL');
  expect(io.stderr).toMatch(/dns1\s+done/);
});

test('on a terminal, the live frame replaces the per-event lines', async () => {
  const { inventory } = rehearsalCopy();
  const io = new RecordingIo();
  io.isTTY = true;
  expect(await main(['run', '-i', inventory, 'dns1', '--yes'], io)).toBe(0);
  expect(io.stdout).not.toContain('dns1: resync');
  expect(io.stdout).toContain('1 VMs: 1 done, 0 running, 0 waiting, 0 failed');
  expect(io.stdout).toContain('dns1: up again after');
});

test('rollback of a migrated VM is refused (exit 2): only --reverse moves it back', async () => {
  const { inventory } = rehearsalCopy();
  expect(await main(['run', '-i', inventory, 'dns1', '--yes'], new RecordingIo())).toBe(0);
  const io = new RecordingIo();
  expect(await main(['rollback', '-i', inventory, 'dns1', '--yes'], io)).toBe(2);
  expect(io.stderr).toContain('dns1 finished its migration: the old volumes are stale');
  expect(io.stderr).toContain('rollback --reverse');
});

describe('--help', () => {
  for (const cmd of ['plan', 'run', 'status', 'rollback', 'report', 'discover']) {
    test(`${cmd} --help shows examples and exits 0`, async () => {
      const io = new RecordingIo();
      expect(await main([cmd, '--help'], io)).toBe(0);
      expect(io.stdout).toContain('Examples:');
      expect(io.stdout).toContain(`sanshift ${cmd}`);
    });
  }
});
