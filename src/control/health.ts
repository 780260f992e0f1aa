// Health checks that know their VM, run from the orchestrator's machine: the QEMU guest agent
// answers (through a function the hypervisor layer gives), a TCP port opens, an HTTP URL answers
// 2xx, a command exits 0 with the VM's details in its environment. One attempt returns
// { ok, detail }; untilHealthy retries until a deadline on the Clock port, so the same code runs
// on the wall clock and on the virtual clock of a rehearsal.
import { connect } from 'node:net';
import type { HealthCheckSpec, HealthGate } from '../inventory/types.js';
import type { Clock } from '../util/clock.js';
import { redactUrl } from '../util/url.js';
import { runLocal, sanshiftEnv, type HookContext } from './hooks.js';

export interface CheckResult {
  ok: boolean;
  /** what was checked and what came back, for the journal and the operator; never a secret */
  detail: string;
}

export type Check = () => Promise<CheckResult>;

const seconds = (ms: number): string => `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)}s`;

/** A TCP connection to host:port opens within the timeout. */
export function tcpCheck(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  const target = `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve) => {
    const socket = connect({ host: host.replace(/^\[(.*)\]$/, '$1'), port });
    const done = (result: CheckResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, detail: `tcp ${target}: no connection within ${seconds(timeoutMs)}` }), timeoutMs);
    socket.once('connect', () => done({ ok: true, detail: `tcp ${target}: connected` }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: `tcp ${target}: ${err.code ?? err.message}` }));
  });
}

/** GET url answers 2xx within the timeout (redirects followed). */
export async function httpCheck(url: string, timeoutMs: number): Promise<CheckResult> {
  const shown = redactUrl(url);
  const headers: Record<string, string> = { 'user-agent': 'sanshift-health-check' };
  let target = url;
  try {
    // fetch refuses a URL with credentials: send them as HTTP basic auth, as curl would
    const u = new URL(url);
    if (u.username !== '' || u.password !== '') {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
      u.username = '';
      u.password = '';
      target = u.toString();
    }
  } catch {
    return { ok: false, detail: `http ${shown}: not a URL` };
  }
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow', headers });
    // the body is not read: only the status matters, and a large body must not hold the check
    await res.body?.cancel().catch(() => undefined);
    const ok = res.status >= 200 && res.status < 300;
    return { ok, detail: `http ${shown}: ${res.status}${res.statusText === '' ? '' : ` ${res.statusText}`}${ok ? '' : ' (expected 2xx)'}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${seconds(timeoutMs)}` : (e.cause?.code ?? e.message);
    return { ok: false, detail: `http ${shown}: ${why}` };
  }
}

/** argv, on this machine, with the VM's details in SANSHIFT_*; exit 0 within the timeout. */
export async function commandCheck(argv: readonly string[], ctx: HookContext, timeoutMs: number, cwd?: string): Promise<CheckResult> {
  const r = await runLocal(argv, sanshiftEnv(ctx, 'health'), { timeoutMs, maxOutputBytes: 4096, killGraceMs: 2_000, ...(cwd === undefined ? {} : { cwd }) });
  const cmd = argv.join(' ');
  if (r.ok) return { ok: true, detail: `command ${cmd}: exit 0` };
  if (r.startError !== undefined) return { ok: false, detail: `command ${cmd}: could not start: ${r.startError}` };
  if (r.timedOut) return { ok: false, detail: `command ${cmd}: no result within ${seconds(timeoutMs)}` };
  const last = r.output.trimEnd().split('\n').pop()?.slice(0, 200) ?? '';
  return { ok: false, detail: `command ${cmd}: ${r.exitCode === null ? `killed by ${r.signal ?? 'a signal'}` : `exit ${r.exitCode}`}${last === '' ? '' : `: ${last}`}` };
}

/** The guest agent answers guest-ping; `agentPing` is the hypervisor layer's. */
export async function guestAgentCheck(agentPing: () => Promise<boolean>, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `guest agent: no answer to guest-ping within ${seconds(timeoutMs)}` }), timeoutMs);
  });
  const ping = agentPing().then(
    (answered): CheckResult => (answered ? { ok: true, detail: 'guest agent: answered guest-ping' } : { ok: false, detail: 'guest agent: did not answer guest-ping' }),
    (err: unknown): CheckResult => ({ ok: false, detail: `guest agent: ${err instanceof Error ? err.message : String(err)}` }),
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface CheckContext extends HookContext {
  /** the hypervisor layer's guest-ping of this VM; a guest-agent check without it fails */
  agentPing?: () => Promise<boolean>;
  /** working folder of command checks (the inventory's) */
  cwd?: string;
}

/** One attempt of a check as the inventory wrote it (placeholders already filled). */
export function checkOf(spec: HealthCheckSpec, ctx: CheckContext): Check {
  const t = spec.attemptTimeoutMs;
  switch (spec.kind) {
    case 'tcp':
      return () => tcpCheck(spec.host, spec.port, t);
    case 'http':
      return () => httpCheck(spec.url, t);
    case 'command':
      return () => commandCheck(spec.argv, ctx, t, ctx.cwd);
    case 'guest-agent': {
      const ping = ctx.agentPing;
      return ping === undefined ? async () => ({ ok: false, detail: 'guest agent: sanshift cannot reach it here (no guest-ping given)' }) : () => guestAgentCheck(ping, t);
    }
  }
}

/** The checks that gate the start after `window`. */
export function checksFor(window: HealthGate, checks: readonly HealthCheckSpec[]): HealthCheckSpec[] {
  return checks.filter((c) => c.gates.includes(window));
}

export interface UntilOptions {
  /** give up this long after the first attempt began */
  timeoutMs: number;
  /** wait this long between two attempts */
  intervalMs: number;
  clock: Clock;
}

export interface UntilResult extends CheckResult {
  attempts: number;
  elapsedMs: number;
}

/** Attempts `check` until it passes or the deadline passes; the last detail says why not. */
export async function untilHealthy(check: Check, { timeoutMs, intervalMs, clock }: UntilOptions): Promise<UntilResult> {
  const start = clock.now();
  const deadline = start + timeoutMs;
  for (let attempts = 1; ; attempts++) {
    // real I/O on a virtual clock: time stands still while the attempt is in flight
    const r = await clock.track(check());
    const elapsedMs = clock.now() - start;
    if (r.ok) return { ...r, attempts, elapsedMs };
    if (clock.now() + intervalMs > deadline) {
      return { ok: false, detail: `${r.detail} (still failing after ${seconds(elapsedMs)}, ${attempts} attempt${attempts === 1 ? '' : 's'})`, attempts, elapsedMs };
    }
    await clock.sleep(intervalMs);
  }
}

export interface GateResult {
  ok: boolean;
  window: HealthGate;
  results: (UntilResult & { kind: HealthCheckSpec['kind'] })[];
}

/**
 * The health gate of a VM after `window`: every check whose gates name it, side by side, each
 * retried until the policy's health timeout. Passes when there is none.
 */
export async function runHealthGate(window: HealthGate, checks: readonly HealthCheckSpec[], ctx: CheckContext, options: UntilOptions): Promise<GateResult> {
  const chosen = checksFor(window, checks);
  const results = await Promise.all(chosen.map(async (spec) => ({ kind: spec.kind, ...(await untilHealthy(checkOf(spec, { ...ctx, window }), options)) })));
  return { ok: results.every((r) => r.ok), window, results };
}
