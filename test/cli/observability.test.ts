// run --metrics, report --html/--events, simulate --html: what they write and what they refuse.
import { describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { MetricsFile } from '../../src/cli/metrics-file.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { rehearsalCopy } from './helpers.js';

async function cli(args: string[]): Promise<{ code: number; io: RecordingIo }> {
  const io = new RecordingIo();
  const code = await main(args, io);
  return { code, io };
}

describe('run --metrics FILE', () => {
  test('the last write describes the finished run; no temporary file is left beside it', async () => {
    const { dir, inventory } = rehearsalCopy();
    const folder = join(dir, 'textfile');
    mkdirSync(folder);
    const file = join(folder, 'sanshift.prom');
    const { code } = await cli(['run', '-i', inventory, '--yes', '--metrics', file]);
    expect(code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('sanshift_run_finished 1\n');
    expect(text).toContain('sanshift_vms{phase="done"} 4\n');
    expect(text).toContain('sanshift_resync_remaining_bytes 0\n');
    expect(text).toContain(`sanshift_resync_copied_bytes ${310 * 1024 ** 3}\n`);
    expect(text).toContain('sanshift_host_resync_rate_bytes_per_second{host="hv1"} 0\n');
    expect(readdirSync(folder)).toEqual(['sanshift.prom']);
  }, 60_000);

  test('a folder that does not exist: exit 2, nothing planned or touched', async () => {
    const { dir, inventory } = rehearsalCopy();
    const { code, io } = await cli(['run', '-i', inventory, '--yes', '--metrics', join(dir, 'no', 'x.prom')]);
    expect(code).toBe(2);
    expect(io.stderr).toContain(`--metrics ${join(dir, 'no', 'x.prom')}: the folder ${join(dir, 'no')} does not exist`);
    expect(existsSync(join(dir, '.sanshift'))).toBe(false);
  });

  test('writes at the start, at most every interval of wall time, and at the end', () => {
    const { dir } = rehearsalCopy();
    const file = join(dir, 'm.prom');
    let wall = 0;
    const m = new MetricsFile(file, new Map([['a', { host: 'hv1', arrays: ['x'] }]]), new Map([['a', 1024]]), 5_000, () => wall);
    const progress = (at: number, done: number): EngineEvent => ({ kind: 'progress', at, vm: 'a', percent: 0, speedKiBs: 1, etaSeconds: 1, doneBytes: done, totalBytes: 1024 });
    m.on({ kind: 'run-started', at: 0, run: 'r', vms: ['a'], rehearsal: false });
    expect(readFileSync(file, 'utf8')).toContain('sanshift_resync_copied_bytes 0\n');
    wall = 1_000;
    m.on(progress(1, 100));
    expect(readFileSync(file, 'utf8')).toContain('sanshift_resync_copied_bytes 0\n');
    wall = 5_000;
    m.on(progress(2, 200));
    expect(readFileSync(file, 'utf8')).toContain('sanshift_resync_copied_bytes 200\n');
    wall = 6_000;
    m.on(progress(3, 300));
    m.close();
    expect(readFileSync(file, 'utf8')).toContain('sanshift_resync_copied_bytes 300\n');
    expect(m.failure).toBeNull();
  });
});

describe('report --html and --events', () => {
  test('--events without --html, an events file with a bad line: exit 2 naming the file and line', async () => {
    const { dir, inventory } = rehearsalCopy();
    expect((await cli(['run', '-i', inventory, 'dns1', '--yes'])).code).toBe(0);
    const alone = await cli(['report', '-i', inventory, '--events', 'e.jsonl']);
    expect(alone.code).toBe(2);
    expect(alone.io.stderr).toContain('--events is read only for the timeline page');
    const events = join(dir, 'e.jsonl');
    writeFileSync(events, '{"kind":"run-started","at":1}\nnot json\n{"kind":"note","at":2}\n');
    const bad = await cli(['report', '-i', inventory, '--html', join(dir, 'r.html'), '--events', events]);
    expect(bad.code).toBe(2);
    expect(bad.io.stderr).toContain(`${events}:2: ${events} line 2 is not JSON`);
    expect(existsSync(join(dir, 'r.html'))).toBe(false);
  }, 60_000);

  test('without events: the page says its rates are averages from the journal', async () => {
    const { dir, inventory } = rehearsalCopy();
    expect((await cli(['run', '-i', inventory, 'dns1', '--yes'])).code).toBe(0);
    const html = join(dir, 'r.html');
    expect((await cli(['report', '-i', inventory, '--html', html])).code).toBe(0);
    const text = readFileSync(html, 'utf8');
    expect(text).toContain('data-vm="dns1"');
    expect(text).toContain('each VM&#39;s bytes over its resync time, from the journal');
  }, 60_000);
});

describe('simulate --html', () => {
  test('a folder that does not exist: exit 2 before the rehearsal is played', async () => {
    const { dir, inventory } = rehearsalCopy();
    const { code, io } = await cli(['simulate', '-i', inventory, '--html', join(dir, 'no', 'x.html')]);
    expect(code).toBe(2);
    expect(io.stderr).toContain('--html');
    expect(io.stdout).toBe('');
  });

  test('the page holds every VM, and the makespan and its bound as the text says them', async () => {
    const { dir, inventory } = rehearsalCopy();
    const html = join(dir, 's.html');
    const { code, io } = await cli(['simulate', '-i', inventory, '--html', html]);
    expect(code).toBe(0);
    expect(io.stdout).toContain(`timeline: ${html}`);
    const text = readFileSync(html, 'utf8');
    for (const vm of ['dns1', 'db1', 'web1', 'app1']) expect(text).toContain(`data-vm="${vm}"`);
    const makespan = /makespan \S+ \((\d+:\d\d:\d\d)\)/.exec(io.stdout)![1];
    expect(text).toContain(`makespan ${makespan}`);
    expect(text).toMatch(/lower bound \d+:\d\d:\d\d/);
  }, 60_000);
});
