// What a command may do to the outside world besides the hosts: write to the terminal and
// ask a question. Tests pass a recording Io; the binary passes the process's own.
import { once } from 'node:events';
import { createInterface } from 'node:readline/promises';

export interface Io {
  out(text: string): void;
  /** a long output (a fleet's plan or report), written piece by piece as the reader takes it */
  outAll(chunks: Iterable<string>): Promise<void>;
  err(text: string): void;
  /** true when stdout is a terminal (progress redraws in place) */
  readonly isTTY: boolean;
  /** true when stdin is a terminal (a run may ask for confirmation) */
  readonly stdinIsTTY: boolean;
  ask(question: string): Promise<string>;
  readonly columns: number;
}

/**
 * stdout or stderr as a command writes them: best effort, since the journal is the record.
 * When the reader goes away (`| head`, a pager quit early, a `tee` killed, a terminal gone),
 * Node emits an error that, with no one listening, ends the process: `sanshift run | head -2`
 * died of it mid-window, its VMs left off. Heard here, it only stops the writing to that
 * stream, and the run goes on.
 */
export class GuardedOutput {
  private closed = false;
  constructor(private readonly stream: NodeJS.WritableStream) {
    stream.on('error', () => {
      this.closed = true;
    });
  }

  /** the reader went away: nothing more is written */
  get gone(): boolean {
    return this.closed;
  }

  write(text: string): void {
    if (!this.closed) this.stream.write(text);
  }

  /** Writes `chunks` one after another, each once the stream has taken the one before. A pipe
   * read slowly (`sanshift plan --json | gzip`, a slow ssh session) would otherwise queue the
   * whole output in this process: a 10,000-VM plan's 106 MB of JSON took it from 670 MB to
   * 1.3 GB (bench/fleet-path.ts). */
  async writeAll(chunks: Iterable<string>): Promise<void> {
    for (const chunk of chunks) {
      if (this.closed) return;
      if (this.stream.write(chunk)) continue;
      try {
        await once(this.stream, 'drain');
      } catch {
        return; // it failed while we waited: gone
      }
    }
  }
}

const stdout = new GuardedOutput(process.stdout);
const stderr = new GuardedOutput(process.stderr);

export const processIo: Io = {
  out: (t) => stdout.write(t),
  outAll: (chunks) => stdout.writeAll(chunks),
  err: (t) => stderr.write(t),
  isTTY: process.stdout.isTTY === true,
  stdinIsTTY: process.stdin.isTTY === true,
  columns: process.stdout.columns ?? 100,
  async ask(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  },
};

export class RecordingIo implements Io {
  stdout = '';
  stderr = '';
  isTTY = false;
  stdinIsTTY = false;
  columns = 100;
  answers: string[] = [];
  out(t: string): void {
    this.stdout += t;
  }
  async outAll(chunks: Iterable<string>): Promise<void> {
    for (const chunk of chunks) this.out(chunk);
  }
  err(t: string): void {
    this.stderr += t;
  }
  async ask(question: string): Promise<string> {
    this.stderr += question;
    return this.answers.shift() ?? '';
  }
}
