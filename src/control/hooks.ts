// Hooks: the operator's commands run on the orchestrator's machine around each down window of a
// VM (drain a load balancer, silence monitoring) and when its migration fails. An argument
// vector, never a shell string (I6); a small environment naming the VM, its host, the hook, the
// window and the run; a timeout that kills the hook and everything it started; the output kept
// (bounded) for the journal. A hook's failure is a value, never a throw: the caller decides
// (a failed beforeWindow keeps the VM up and untouched).
import { execa } from 'execa';
import type { HookName } from '../inventory/types.js';

/** Who a hook or a command health check runs for. */
export interface HookContext {
  vm: string;
  /** the VM's host, by its name in the inventory */
  host: string;
  /** the down window: T1 (onto the mirrors) or T2 (onto the new volumes); '' outside a window */
  window: 'T1' | 'T2' | '';
  runId: string;
  /** why the migration failed (onFailure) */
  reason?: string;
}

export interface RunOptions {
  timeoutMs: number;
  /** at most this many bytes of output are kept: the first half and the last half */
  maxOutputBytes?: number;
  /** after the timeout's SIGTERM, SIGKILL this much later */
  killGraceMs?: number;
  /** working folder (the inventory's, so a hook may name files beside it) */
  cwd?: string;
  /** the environment to inherit PATH and HOME from (default: this process's) */
  parentEnv?: NodeJS.ProcessEnv;
}

/** What running an argv did: every field a journal record or a message needs. */
export interface RunResult {
  argv: string[];
  ok: boolean;
  /** null when it did not exit by itself (killed, or could not start) */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** stdout and stderr interleaved, at most maxOutputBytes of it */
  output: string;
  /** how many bytes it wrote in all */
  outputBytes: number;
  truncated: boolean;
  /** why it could not start (no such program, not executable) */
  startError?: string;
}

export interface HookResult extends RunResult {
  hook: HookName;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * The environment of a hook or a command check: PATH and HOME inherited (so ordinary tools
 * work), nothing else of sanshift's own environment (which may hold credentials), and the
 * SANSHIFT_* variables.
 */
export function sanshiftEnv(ctx: HookContext, phase: HookName | 'health', parentEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME']) {
    const value = parentEnv[key];
    if (value !== undefined) env[key] = value;
  }
  env.SANSHIFT_VM = ctx.vm;
  env.SANSHIFT_HOST = ctx.host;
  env.SANSHIFT_PHASE = phase;
  env.SANSHIFT_WINDOW = ctx.window;
  env.SANSHIFT_RUN_ID = ctx.runId;
  if (ctx.reason !== undefined) env.SANSHIFT_REASON = ctx.reason.replace(/\s+/g, ' ').slice(0, 1000);
  return env;
}

/** Keeps the first and the last `max / 2` bytes of a stream, counting the rest. */
class BoundedOutput {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  total = 0;

  constructor(private readonly max: number) {}

  add(chunk: Buffer): void {
    this.total += chunk.length;
    const half = Math.floor(this.max / 2);
    let rest = chunk;
    if (this.headBytes < half) {
      const take = rest.subarray(0, half - this.headBytes);
      this.head.push(take);
      this.headBytes += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    const keep = this.max - half;
    while (this.tailBytes - (this.tail[0]?.length ?? 0) >= keep) this.tailBytes -= this.tail.shift()!.length;
  }

  text(): { output: string; truncated: boolean } {
    const head = Buffer.concat(this.head);
    let tail = Buffer.concat(this.tail);
    const keep = this.max - Math.floor(this.max / 2);
    if (tail.length > keep) tail = tail.subarray(tail.length - keep);
    const left = this.total - head.length - tail.length;
    if (left <= 0) return { output: Buffer.concat([head, tail]).toString('utf8'), truncated: false };
    return { output: `${head.toString('utf8')}\n[... ${left} bytes left out ...]\n${tail.toString('utf8')}`, truncated: true };
  }
}

/**
 * Runs `argv` on this machine, without a shell, with `env` only. Its own process group, so the
 * timeout (SIGTERM, then SIGKILL after the grace) reaches everything it started, and a Ctrl-C at
 * the terminal (a pause for sanshift) does not kill a hook half-way. Never throws.
 */
export async function runLocal(argv: readonly string[], env: Record<string, string>, options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const out = new BoundedOutput(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
  const [file, ...args] = argv;
  if (file === undefined) {
    return { argv: [], ok: false, exitCode: null, signal: null, timedOut: false, durationMs: 0, output: '', outputBytes: 0, truncated: false, startError: 'empty command' };
  }
  const child = execa(file, args, {
    env,
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
    detached: true,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  child.all?.on('data', (chunk: Buffer) => out.add(chunk));
  let timedOut = false;
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // the group is already gone
    }
  };
  let grace: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup('SIGTERM');
    grace = setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? 5_000);
  }, options.timeoutMs);
  try {
    const result = await child;
    const { output, truncated } = out.text();
    const startError = result.exitCode === undefined && result.signal === undefined ? result.originalMessage || result.shortMessage : undefined;
    const exitCode = result.exitCode ?? null;
    return {
      argv: [...argv],
      ok: !timedOut && exitCode === 0,
      exitCode,
      signal: result.signal ?? null,
      timedOut,
      durationMs: Date.now() - started,
      output,
      outputBytes: out.total,
      truncated,
      ...(startError === undefined ? {} : { startError }),
    };
  } finally {
    clearTimeout(timer);
    if (grace !== undefined) clearTimeout(grace);
    // whatever the hook left running in its group does not outlive it
    if (timedOut) killGroup('SIGKILL');
  }
}

/** Runs one hook of a VM. `argv` is the VM's `policy.hooks[hook]` ({vm}/{host} already filled). */
export async function runHook(hook: HookName, argv: readonly string[], ctx: HookContext, options: RunOptions): Promise<HookResult> {
  const result = await runLocal(argv, sanshiftEnv(ctx, hook, options.parentEnv), options);
  return { hook, ...result };
}

const seconds = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`);

/** One line for the operator: what ran and how it ended (the output stays in the journal). */
export function describeRun(r: RunResult, what: string): string {
  const cmd = r.argv.join(' ');
  if (r.startError !== undefined) return `${what} ${cmd} could not start: ${r.startError}`;
  if (r.timedOut) return `${what} ${cmd} did not finish within its timeout and was killed (after ${seconds(r.durationMs)})`;
  if (r.ok) return `${what} ${cmd} succeeded in ${seconds(r.durationMs)}`;
  const lastLine = r.output.trimEnd().split('\n').pop()?.slice(0, 200) ?? '';
  const how = r.exitCode !== null ? `exited with ${r.exitCode}` : `was killed by ${r.signal ?? 'a signal'}`;
  return `${what} ${cmd} ${how} after ${seconds(r.durationMs)}${lastLine === '' ? '' : `: ${lastLine}`}`;
}

export function describeHookResult(r: HookResult): string {
  return describeRun(r, `${r.hook} hook`);
}
