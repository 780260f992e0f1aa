import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOf, checksFor, commandCheck, guestAgentCheck, httpCheck, runHealthGate, tcpCheck, untilHealthy, type Check } from '../../src/control/health.js';
import { redactUrl } from '../../src/util/url.js';
import type { HealthCheckSpec } from '../../src/inventory/types.js';
import { VirtualClock, wallClock } from '../../src/util/clock.js';

const ctx = { vm: 'db1', host: 'hv1', window: 'T2' as const, runId: 'r1' };
let tcp: TcpServer;
let tcpPort = 0;
let closedPort = 0;
let http: Server;
let base = '';
const seen: { url?: string; auth?: string }[] = [];

beforeAll(async () => {
  tcp = createTcpServer((s) => s.end());
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  tcpPort = (tcp.address() as AddressInfo).port;
  // a port that was listening and is not any more: connecting is refused
  const gone = createTcpServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  closedPort = (gone.address() as AddressInfo).port;
  await new Promise<void>((r) => gone.close(() => r()));
  http = createHttpServer((req, res) => {
    seen.push({ url: req.url, auth: req.headers.authorization });
    if (req.url === '/ok') res.writeHead(204).end();
    else if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end();
    else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end('late'), 2_000);
    else res.writeHead(503, 'Service Unavailable').end('down');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  http.closeAllConnections();
  await new Promise<void>((r) => http.close(() => r()));
  await new Promise<void>((r) => tcp.close(() => r()));
});

describe('tcp', () => {
  it('passes when the port opens, fails when it is refused', async () => {
    expect(await tcpCheck('127.0.0.1', tcpPort, 2_000)).toEqual({ ok: true, detail: `tcp 127.0.0.1:${tcpPort}: connected` });
    expect(await tcpCheck('127.0.0.1', closedPort, 2_000)).toEqual({ ok: false, detail: `tcp 127.0.0.1:${closedPort}: ECONNREFUSED` });
  });
  it('fails within its timeout when nothing answers', async () => {
    // 192.0.2.0/24 is TEST-NET-1: never routed, so the connection neither opens nor is refused
    const t0 = Date.now();
    const r = await tcpCheck('192.0.2.1', 9, 300);
    expect(r.ok).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe('http', () => {
  it('passes on 2xx, after redirects', async () => {
    expect(await httpCheck(`${base}/ok`, 2_000)).toEqual({ ok: true, detail: `http ${base}/ok: 204 No Content` });
    expect((await httpCheck(`${base}/moved`, 2_000)).ok).toBe(true);
  });
  it('fails on another status, saying what came back', async () => {
    expect(await httpCheck(`${base}/broken`, 2_000)).toEqual({ ok: false, detail: `http ${base}/broken: 503 Service Unavailable (expected 2xx)` });
  });
  it('fails when no answer comes within the timeout', async () => {
    expect(await httpCheck(`${base}/slow`, 200)).toEqual({ ok: false, detail: `http ${base}/slow: no answer within 0.2s` });
  });
  it('never prints the credentials of a URL, though it sends them', async () => {
    const r = await httpCheck(`http://monitor:s3cret@127.0.0.1:${base.split(':').pop()}/ok`, 2_000);
    expect(r.ok).toBe(true);
    expect(r.detail).not.toContain('s3cret');
    expect(seen.at(-1)?.auth).toBe(`Basic ${Buffer.from('monitor:s3cret').toString('base64')}`);
    expect(redactUrl('https://a:b@x.example/health')).toBe('https://x.example/health');
  });
});

describe('command and guest agent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sanshift-health-'));
  const check = join(dir, 'check.sh');
  writeFileSync(check, '#!/bin/sh\n[ "$SANSHIFT_VM" = db1 ] && [ "$SANSHIFT_WINDOW" = T2 ] && [ "$SANSHIFT_PHASE" = health ] || { echo "wrong VM: $SANSHIFT_VM"; exit 1; }\n[ "$1" = ok ] || { echo "not ready yet"; exit 2; }\n');
  chmodSync(check, 0o755);

  it('a command sees the VM in its environment; exit 0 passes, anything else fails with its last line', async () => {
    expect(await commandCheck([check, 'ok'], ctx, 5_000)).toEqual({ ok: true, detail: `command ${check} ok: exit 0` });
    expect(await commandCheck([check, 'no'], ctx, 5_000)).toEqual({ ok: false, detail: `command ${check} no: exit 2: not ready yet` });
    expect(await commandCheck([check, 'ok'], { ...ctx, vm: 'web1' }, 5_000)).toEqual({ ok: false, detail: `command ${check} ok: exit 1: wrong VM: web1` });
  });
  it('the guest agent: its answer, its silence, its timeout', async () => {
    expect(await guestAgentCheck(async () => true, 1_000)).toEqual({ ok: true, detail: 'guest agent: answered guest-ping' });
    expect(await guestAgentCheck(async () => false, 1_000)).toEqual({ ok: false, detail: 'guest agent: did not answer guest-ping' });
    expect(await guestAgentCheck(() => new Promise(() => {}), 100)).toEqual({ ok: false, detail: 'guest agent: no answer to guest-ping within 0.1s' });
    expect(await guestAgentCheck(async () => Promise.reject(new Error('no guest agent channel')), 100)).toEqual({ ok: false, detail: 'guest agent: no guest agent channel' });
  });
});

describe('untilHealthy on the virtual clock', () => {
  it('retries at the interval until the check passes', async () => {
    const clock = new VirtualClock(0);
    let calls = 0;
    const check: Check = async () => (++calls >= 4 ? { ok: true, detail: 'up' } : { ok: false, detail: `down ${calls}` });
    expect(await untilHealthy(check, { timeoutMs: 60_000, intervalMs: 5_000, clock })).toEqual({ ok: true, detail: 'up', attempts: 4, elapsedMs: 15_000 });
  });
  it('gives up at the deadline with the last reason', async () => {
    const clock = new VirtualClock(0);
    const r = await untilHealthy(async () => ({ ok: false, detail: 'tcp db1:22: ECONNREFUSED' }), { timeoutMs: 20_000, intervalMs: 5_000, clock });
    expect(r).toEqual({ ok: false, detail: 'tcp db1:22: ECONNREFUSED (still failing after 20s, 5 attempts)', attempts: 5, elapsedMs: 20_000 });
    expect(clock.now()).toBe(20_000);
  });
  it('holds virtual time still while a real attempt is in flight', async () => {
    const clock = new VirtualClock(0);
    const r = await untilHealthy(() => tcpCheck('127.0.0.1', tcpPort, 2_000), { timeoutMs: 10_000, intervalMs: 1_000, clock });
    expect(r).toMatchObject({ ok: true, attempts: 1, elapsedMs: 0 });
  });
});

describe('the gate after a window', () => {
  const checks: HealthCheckSpec[] = [
    { kind: 'guest-agent', gates: ['T1'], attemptTimeoutMs: 1_000 },
    { kind: 'tcp', host: '127.0.0.1', port: 0, gates: ['T1', 'T2'], attemptTimeoutMs: 1_000 },
    { kind: 'http', url: '', gates: ['T2'], attemptTimeoutMs: 1_000 },
  ];
  it('runs only the checks whose gates name the window', () => {
    expect(checksFor('T1', checks).map((c) => c.kind)).toEqual(['guest-agent', 'tcp']);
    expect(checksFor('T2', checks).map((c) => c.kind)).toEqual(['tcp', 'http']);
  });
  it('passes when every check passes, and fails naming the one that does not', async () => {
    const live: HealthCheckSpec[] = [
      { kind: 'tcp', host: '127.0.0.1', port: tcpPort, gates: ['T2'], attemptTimeoutMs: 1_000 },
      { kind: 'http', url: `${base}/ok`, gates: ['T2'], attemptTimeoutMs: 1_000 },
      { kind: 'guest-agent', gates: ['T1'], attemptTimeoutMs: 1_000 },
    ];
    const ok = await runHealthGate('T2', live, ctx, { timeoutMs: 5_000, intervalMs: 1_000, clock: wallClock });
    expect(ok.ok).toBe(true);
    expect(ok.results.map((r) => r.kind)).toEqual(['tcp', 'http']);
    const broken = [...live, { kind: 'http', url: `${base}/broken`, gates: ['T2'], attemptTimeoutMs: 1_000 } as HealthCheckSpec];
    const bad = await runHealthGate('T2', broken, ctx, { timeoutMs: 3_000, intervalMs: 1_000, clock: new VirtualClock(0) });
    expect(bad.ok).toBe(false);
    expect(bad.results.filter((r) => !r.ok).map((r) => r.detail)).toEqual([`http ${base}/broken: 503 Service Unavailable (expected 2xx) (still failing after 3s, 4 attempts)`]);
  });
  it('a guest-agent check without the hypervisor\'s ping fails rather than passes', async () => {
    expect(await checkOf({ kind: 'guest-agent', gates: ['T1'], attemptTimeoutMs: 100 }, ctx)()).toMatchObject({ ok: false });
    expect(await checkOf({ kind: 'guest-agent', gates: ['T1'], attemptTimeoutMs: 100 }, { ...ctx, agentPing: async () => true })()).toMatchObject({ ok: true });
  });
});
