// What a command may do to the outside world besides the hosts: write to the terminal and
// ask a question. Tests pass a recording Io; the binary passes the process's own.
import { createInterface } from 'node:readline/promises';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** true when stdout is a terminal (progress redraws in place) */
  readonly isTTY: boolean;
  /** true when stdin is a terminal (a run may ask for confirmation) */
  readonly stdinIsTTY: boolean;
  ask(question: string): Promise<string>;
  readonly columns: number;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
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
  err(t: string): void {
    this.stderr += t;
  }
  async ask(question: string): Promise<string> {
    this.stderr += question;
    return this.answers.shift() ?? '';
  }
}
