// The write-ahead journal (invariant I4): one append-only JSON-lines file per run. Before each
// side effect the intent is written and fsynced; after it, the result. Records are facts; a
// VM's status is computed from them and from what is observed, never stored twice.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';

interface Base {
  run: string;
  /** ISO time */
  at: string;
}

export type JournalRecord =
  | (Base & { kind: 'run-started'; inventory: string; vms: string[]; pid: number; hostname: string; rehearsal: boolean })
  | (Base & { kind: 'original'; vm: string; host: string; xml: string; running: boolean })
  /** an operator (or the guest itself) started or stopped the VM during its migration: it is
   * left the way they chose after each window (facts.ts, wantRunning) */
  | (Base & { kind: 'power'; vm: string; running: boolean; state: string })
  /** the VM's host stopped answering: nothing is done to the VM until it answers (release) */
  | (Base & { kind: 'hold'; vm: string; reason: string })
  | (Base & { kind: 'release'; vm: string })
  | (Base & { kind: 'intent'; vm: string; step: string; target?: string; detail?: Record<string, unknown> })
  | (Base & { kind: 'result'; vm: string; step: string; target?: string; detail?: Record<string, unknown> })
  | (Base & { kind: 'failed'; vm: string; step?: string; reason: string })
  | (Base & { kind: 'vm-finished'; vm: string; outcome: 'done' | 'failed' | 'rolled-back'; reason?: string })
  /** an operator's hook ran (policy.hooks): how it ended and its output, bounded */
  | (Base & { kind: 'hook'; vm: string; hook: string; window: string; ok: boolean; exitCode: number | null; signal: string | null; timedOut: boolean; durationMs: number; output: string; truncated: boolean })
  /** `stopped`: why the run stopped early (a pause, a stop, the failure budget) */
  | (Base & { kind: 'run-finished'; ok: boolean; stopped?: string });

export type JournalKind = JournalRecord['kind'];
type Without<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type JournalEntry = Without<JournalRecord, 'run' | 'at'>;

export function runsDir(stateDir: string): string {
  return join(stateDir, 'runs');
}

export class Journal {
  private fd: number | undefined;
  readonly path: string;

  constructor(
    readonly stateDir: string,
    readonly runId: string,
    private readonly now: () => number = Date.now,
  ) {
    // 0700/0600: a journal holds each VM's definition (read without secrets: no console password,
    // but still what an operator would not publish)
    mkdirSync(runsDir(stateDir), { recursive: true, mode: 0o700 });
    this.path = join(runsDir(stateDir), `${runId}.jsonl`);
  }

  /** Appends a record and makes it durable before returning. */
  append(entry: JournalEntry): JournalRecord {
    if (this.fd === undefined) {
      this.fd = openSync(this.path, 'a', 0o600);
      // the new file's name must survive a power cut too, not only its content
      fsyncDir(runsDir(this.stateDir));
    }
    const record = { run: this.runId, at: new Date(this.now()).toISOString(), ...entry } as JournalRecord;
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    fsyncSync(this.fd);
    return record;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Every record of every run in the state folder, runs in the order they started. A torn last
 * line (a crash in mid-write) is ignored: its side effect had not been started. */
export function readAllJournals(stateDir: string): JournalRecord[] {
  const dir = runsDir(stateDir);
  if (!existsSync(dir)) return [];
  // Ordered by when each run started (its first record), not by name: two runs started in the
  // same instant, or on two machines whose clocks differ in format, still fold in order.
  const runs = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => {
      const records = parseJournal(readFileSync(join(dir, f), 'utf8'));
      const first = records[0];
      return { f, records, started: first === undefined ? Number.POSITIVE_INFINITY : Date.parse(first.at) };
    })
    .sort((a, b) => a.started - b.started || (a.f < b.f ? -1 : a.f > b.f ? 1 : 0));
  return runs.flatMap((r) => r.records);
}

export function parseJournal(text: string): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as JournalRecord);
    } catch {
      // only a torn final line can be unparsable; skip it
    }
  }
  return out;
}

/** Run ids: a UTC timestamp to the millisecond plus a random suffix (readable, and unique
 * enough to name a file; the order of runs comes from their first record). */
export function newRunId(now: number, random: () => number = Math.random): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/Z$/, 'Z');
  const suffix = Math.floor(random() * 0xffffff)
    .toString(16)
    .padStart(6, '0');
  return `${stamp}-${suffix}`;
}
