import { describe, expect, test } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { installInterrupts } from '../../src/cli/interrupt.js';
import { runsInProgress, runsStartedSince } from '../../src/cli/runs.js';
import type { JournalRecord } from '../../src/engine/journal.js';

describe('Ctrl-C during a run', () => {
  test('the first asks for a pause, the second for a stop, a third changes nothing; uninstalled, none', () => {
    const proc = new EventEmitter();
    const seen: string[] = [];
    const uninstall = installInterrupts(proc, { pause: () => seen.push('pause'), stop: () => seen.push('stop'), hangup: () => seen.push('hangup') });
    proc.emit('SIGINT');
    expect(seen).toEqual(['pause']);
    proc.emit('SIGINT');
    proc.emit('SIGINT');
    expect(seen).toEqual(['pause', 'stop']);
    uninstall();
    expect(proc.listenerCount('SIGINT')).toBe(0);
  });

  test('a hangup (the terminal went away) is heard once: by default it would end the run mid-window', () => {
    const proc = new EventEmitter();
    const seen: string[] = [];
    const uninstall = installInterrupts(proc, { pause: () => seen.push('pause'), stop: () => seen.push('stop'), hangup: () => seen.push('hangup') });
    proc.emit('SIGHUP');
    proc.emit('SIGHUP');
    expect(seen).toEqual(['hangup']);
    uninstall();
    expect(proc.listenerCount('SIGHUP')).toBe(0);
  });
});

describe('runs in progress, from the journals', () => {
  const started = (run: string, at: string, pid: number, host: string): JournalRecord => ({ run, at, kind: 'run-started', inventory: 'i', vms: [], pid, hostname: host, rehearsal: false });
  const records: JournalRecord[] = [
    started('R1', '2026-01-01T22:00:00Z', 101, 'admin1'),
    { run: 'R1', at: '2026-01-02T05:00:00Z', kind: 'run-finished', ok: true },
    started('R2', '2026-01-02T22:00:00Z', 102, 'admin1'),
    started('R3', '2026-01-02T22:05:00Z', 103, 'admin1'),
    started('R4', '2026-01-02T22:10:00Z', 104, 'admin2'),
  ];
  test('started and not finished; a dead process here is a crash, not a run; another machine cannot be told', () => {
    const alive = (pid: number) => pid === 102;
    expect(runsInProgress(records, alive, 'admin1').map((r) => [r.run, r.alive])).toEqual([
      ['R2', true],
      ['R4', 'unknown'],
    ]);
  });
  test('runs started after an instant', () => {
    expect(runsStartedSince(records, '2026-01-02T22:04:00Z')).toEqual(['R3', 'R4']);
  });
});
