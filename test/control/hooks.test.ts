import { describe, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeHookResult, runHook, runLocal, sanshiftEnv, type HookContext } from '../../src/control/hooks.js';

const dir = mkdtempSync(join(tmpdir(), 'sanshift-hooks-'));
/** A tiny program for the test: a shell script, run as an argv (sanshift itself runs no shell). */
function program(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

const ctx: HookContext = { vm: 'db1', host: 'hv1', window: 'T1', runId: '20261124T021500Z-3fa9c1' };

describe('runHook', () => {
  it('runs the argv with the VM, host, phase, window and run id in a small environment', async () => {
    const env = program('env.sh', 'env | sort');
    const r = await runHook('beforeWindow', [env], ctx, { timeoutMs: 10_000, parentEnv: { PATH: process.env.PATH, HOME: '/home/op', AWS_SECRET_ACCESS_KEY: 'hunter2' } });
    expect(r).toMatchObject({ hook: 'beforeWindow', ok: true, exitCode: 0, timedOut: false, truncated: false });
    const lines = r.output.trim().split('\n').filter((l) => !l.startsWith('PWD=') && !l.startsWith('SHLVL=') && !l.startsWith('_='));
    expect(lines).toEqual([
      'HOME=/home/op',
      `PATH=${process.env.PATH}`,
      'SANSHIFT_HOST=hv1',
      'SANSHIFT_PHASE=beforeWindow',
      'SANSHIFT_RUN_ID=20261124T021500Z-3fa9c1',
      'SANSHIFT_VM=db1',
      'SANSHIFT_WINDOW=T1',
    ]);
  });

  it('passes arguments as they are: no shell splits or expands them', async () => {
    const args = program('args.sh', 'for a in "$@"; do echo "[$a]"; done');
    const r = await runHook('afterWindow', [args, 'two words', '$HOME', '*;rm -rf /'], ctx, { timeoutMs: 10_000 });
    expect(r.output).toBe('[two words]\n[$HOME]\n[*;rm -rf /]\n');
  });

  it('returns a failed result, never throws, on a non-zero exit, with stdout and stderr kept', async () => {
    const fail = program('fail.sh', 'echo draining; echo "lb refused" >&2; exit 3');
    const r = await runHook('beforeWindow', [fail, 'db1'], ctx, { timeoutMs: 10_000 });
    expect(r).toMatchObject({ ok: false, exitCode: 3, signal: null, timedOut: false });
    expect(r.output).toContain('draining');
    expect(r.output).toContain('lb refused');
    expect(describeHookResult(r)).toMatch(new RegExp(`^beforeWindow hook ${fail} db1 exited with 3 after \\d\\.\\ds: lb refused$`));
  });

  it('tells a program that cannot start', async () => {
    const r = await runHook('onFailure', [join(dir, 'no-such-program')], { ...ctx, reason: 'shutdown timed out' }, { timeoutMs: 10_000 });
    expect(r.ok).toBe(false);
    expect(r.exitCode).toBeNull();
    expect(r.startError).toMatch(/ENOENT/);
    expect(describeHookResult(r)).toContain('could not start');
  });

  it('kills a hook at its timeout, and what it started with it', async () => {
    const marker = join(dir, 'child-survived');
    const slow = program('slow.sh', `(sleep 3; touch ${marker}) & sleep 30`);
    const t0 = Date.now();
    const r = await runHook('beforeWindow', [slow], ctx, { timeoutMs: 300, killGraceMs: 200 });
    expect(r).toMatchObject({ ok: false, timedOut: true, exitCode: null });
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(describeHookResult(r)).toContain('did not finish within its timeout and was killed');
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const { existsSync } = await import('node:fs');
    expect(existsSync(marker)).toBe(false);
  });

  it('keeps the first and last part of a large output, and says how much was left out', async () => {
    const chatty = program('chatty.sh', 'echo BEGIN; i=0; while [ $i -lt 5000 ]; do echo "line $i of noise"; i=$((i+1)); done; echo END');
    const r = await runLocal([chatty], sanshiftEnv(ctx, 'afterWindow'), { timeoutMs: 10_000, maxOutputBytes: 1024 });
    expect(r.ok).toBe(true);
    expect(r.truncated).toBe(true);
    expect(r.outputBytes).toBeGreaterThan(50_000);
    expect(r.output.startsWith('BEGIN\n')).toBe(true);
    expect(r.output.endsWith('END\n')).toBe(true);
    expect(r.output).toMatch(/\[\.\.\. \d+ bytes left out \.\.\.\]/);
    expect(Buffer.byteLength(r.output)).toBeLessThan(1024 + 100);
  });

  it('runs in the folder it is given', async () => {
    const pwd = program('pwd.sh', 'pwd');
    const r = await runLocal([pwd], sanshiftEnv(ctx, 'beforeWindow'), { timeoutMs: 10_000, cwd: tmpdir() });
    expect(r.output.trim()).toBe(tmpdir());
  });

  it('puts the failure reason of onFailure on one line', () => {
    expect(sanshiftEnv({ ...ctx, reason: 'health gate failed:\n  tcp db1:22 refused' }, 'onFailure', {}).SANSHIFT_REASON).toBe('health gate failed: tcp db1:22 refused');
  });
});
