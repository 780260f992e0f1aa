// `plan --json` is written one VM at a time; the text must be exactly what one
// JSON.stringify(…, null, 2) of the whole plan gives, so parsing and printing it again changes
// nothing.
import { describe, expect, test } from '@jest/globals';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { GuardedOutput, RecordingIo } from '../../src/cli/io.js';
import { renderPlanJson } from '../../src/report/plan-view.js';
import { rehearsalCopy } from '../cli/helpers.js';

const canonical = (text: string) => `${JSON.stringify(JSON.parse(text), null, 2)}\n`;

describe('plan --json in pieces', () => {
  test('a fleet: the same text as one stringify, written in several pieces', async () => {
    const { inventory } = rehearsalCopy();
    const io = new RecordingIo();
    const pieces: string[] = [];
    const out = io.out.bind(io);
    io.out = (t: string) => {
      pieces.push(t);
      out(t);
    };
    expect(await main(['plan', '-i', inventory, '--json'], io)).toBe(0);
    const plan = JSON.parse(io.stdout);
    expect(plan.vms.length).toBeGreaterThan(1);
    expect(pieces.length).toBeGreaterThan(plan.vms.length);
    expect(io.stdout).toBe(canonical(io.stdout));
  });

  test('no VM, and problems: still the canonical text', () => {
    const text = renderPlanJson({ inventory: '/x/inv.yaml', createdAt: '2026-12-01T00:00:00.000Z', vms: [] }, [{ code: 'invalid-input', message: 'a "quoted"\nline', at: { file: '/x/inv.yaml' } }] as never);
    expect(text).toBe(canonical(text));
    expect(JSON.parse(text).problems[0].message).toBe('a "quoted"\nline');
  });
});

/** A pipe whose reader is slow: it takes one piece per turn of the event loop and says, as
 * process.stdout does, when more than 512 bytes wait. `queuedMax` is the most that ever waited. */
class SlowPipe extends Writable {
  text = '';
  queuedMax = 0;
  longestWrite = 0;
  constructor() {
    super({ highWaterMark: 512, decodeStrings: false });
  }
  override write(chunk: string, ...rest: never[]): boolean {
    this.longestWrite = Math.max(this.longestWrite, chunk.length);
    const more = super.write(chunk, ...rest);
    this.queuedMax = Math.max(this.queuedMax, this.writableLength);
    return more;
  }
  override _write(chunk: string, _enc: BufferEncoding, done: () => void): void {
    setImmediate(() => {
      this.text += chunk;
      done();
    });
  }
}

class SlowPipeIo extends RecordingIo {
  private readonly output: GuardedOutput;
  constructor(readonly pipe: SlowPipe) {
    super();
    this.output = new GuardedOutput(pipe);
  }
  override out(t: string): void {
    this.output.write(t);
  }
  override outAll(chunks: Iterable<string>): Promise<void> {
    return this.output.writeAll(chunks);
  }
}

describe('a long output into a slow pipe (`plan --json | gzip`)', () => {
  test('writeAll hands the stream a piece only once it took the one before', async () => {
    const pipe = new SlowPipe();
    await new GuardedOutput(pipe).writeAll(Array.from({ length: 200 }, (_, i) => `${String(i).padStart(99, '.')}\n`));
    await new Promise<void>((resolve) => pipe.end(resolve));
    expect(pipe.text.length).toBe(200 * 100);
    // without waiting for 'drain', all 20,000 bytes would wait in the process at once
    expect(pipe.queuedMax).toBeLessThanOrEqual(512 + 100);
  });

  test.each([['--json'], ['--quiet']])('plan %s: the plan waits for the pipe instead of queueing itself whole', async (flag) => {
    const { inventory } = rehearsalCopy();
    const pipe = new SlowPipe();
    expect(await main(['plan', '-i', inventory, flag], new SlowPipeIo(pipe))).toBe(0);
    await new Promise<void>((resolve) => pipe.end(resolve));
    // all of the plan, in pieces, never more than one piece beyond the pipe's mark waiting
    for (const vm of ['app1', 'db1', 'dns1', 'web1']) expect(pipe.text).toContain(flag === '--json' ? `"name": "${vm}"` : `VM ${vm} on host`);
    if (flag === '--json') expect(pipe.text).toBe(canonical(pipe.text));
    else expect(pipe.text).toMatch(/^sanshift plan: [^]*\nBundles: 1 bundle[^]*\n +start: [^\n]+\n$/);
    expect(pipe.text.length).toBeGreaterThan(3 * (512 + pipe.longestWrite));
    expect(pipe.queuedMax).toBeLessThanOrEqual(512 + pipe.longestWrite);
  });
});
