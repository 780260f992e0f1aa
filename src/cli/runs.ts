// Runs in progress, as the journals and this machine's processes tell: a run that started and
// did not finish, and whose process is alive (or lives on another machine, where sanshift cannot
// tell). `pause` names them, `status` shows whether they are paused.
import { hostname } from 'node:os';
import type { JournalRecord } from '../engine/journal.js';

export interface RunInProgress {
  run: string;
  startedAt: string;
  pid: number;
  hostname: string;
  /** false: its process is gone (a crash): it holds nothing and needs no pause */
  alive: boolean | 'unknown';
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs started and not finished, oldest first; `aliveCheck` for tests. */
export function runsInProgress(records: readonly JournalRecord[], aliveCheck: (pid: number) => boolean = processAlive, here: string = hostname()): RunInProgress[] {
  const started = new Map<string, RunInProgress>();
  for (const r of records) {
    if (r.kind === 'run-started') started.set(r.run, { run: r.run, startedAt: r.at, pid: r.pid, hostname: r.hostname, alive: r.hostname === here ? aliveCheck(r.pid) : 'unknown' });
    else if (r.kind === 'run-finished') started.delete(r.run);
  }
  return [...started.values()].filter((r) => r.alive !== false);
}

/** The runs started at or after `at` (ISO), whatever their state. */
export function runsStartedSince(records: readonly JournalRecord[], at: string): string[] {
  const t = Date.parse(at);
  return records.filter((r) => r.kind === 'run-started' && Date.parse(r.at) > t).map((r) => r.run);
}
