// Output is best effort; the journal is the record. Found this stop: `sanshift run | head -2`
// killed the run as soon as head had its two lines (Node's unhandled EPIPE on stdout), with the
// rehearsal's VMs left in their T1 window.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { GuardedOutput, RecordingIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { rehearsalCopy, repo } from './helpers.js';

/** A pipe whose reader is gone: every write fails as a write to a closed pipe does. */
class ClosedPipe extends Writable {
  override _write(_chunk: unknown, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' }));
  }
}

describe('a reader that goes away', () => {
  it('stops the writing to that stream, and nothing else', async () => {
    const pipe = new ClosedPipe();
    const out = new GuardedOutput(pipe);
    out.write('first line\n');
    // the failure is reported on the next turn of the event loop
    await new Promise((r) => setImmediate(r));
    expect(out.gone).toBe(true);
    expect(() => out.write('second line\n')).not.toThrow();
    await expect(out.writeAll(['a', 'b'])).resolves.toBeUndefined();
  });

  it('`sanshift run | head -2`: the run goes on to the end, and exits 0', async () => {
    const { dir, inventory } = rehearsalCopy();
    try {
      const child = spawn(process.execPath, [join(repo, 'bin', 'sanshift.js'), 'run', '-i', inventory, '--yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      // head -2: read the first lines, then close the pipe
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect([code, stderr]).toEqual([0, '']);
      const status = new RecordingIo();
      expect(await main(['status', '-i', inventory, '--json'], status)).toBe(0);
      const rows = (JSON.parse(status.stdout) as { vms: { vm: string; phase: string }[] }).vms;
      expect(rows.map((r) => [r.vm, r.phase])).toEqual([
        ['dns1', 'done'],
        ['db1', 'done'],
        ['web1', 'done'],
        ['app1', 'done'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
