// Operator control carried out by the engine (issue 13): each VM's own policy, shutdown through
// the guest agent, hooks around the windows, health gates after T1 and T2, maintenance windows,
// canaries and the failure budget, a pause and a stop. The test driver and the simulated host on
// a virtual clock; hooks and command checks are real processes.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { requestPause } from '../../src/control/pause.js';
import { listDisks } from '../../src/domain/index.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { readAllJournals } from '../../src/engine/journal.js';
import type { Hypervisor } from '../../src/hypervisor/port.js';
import { BASE_INVENTORY, Fleet } from './harness.js';

const sources = (xml: string) => Object.fromEntries(listDisks(xml).filter((d) => d.type === 'block').map((d) => [d.target, d.source]));
const notes = (events: readonly EngineEvent[], vm: string) => events.filter((e): e is Extract<EngineEvent, { kind: 'note' }> => e.kind === 'note' && e.vm === vm).map((e) => e.text);
const outcomes = (s: { results: { vm: string; outcome: { outcome: string } }[] }) => Object.fromEntries(s.results.map((r) => [r.vm, r.outcome.outcome]));
const downs = (events: readonly EngineEvent[], vm: string) => events.filter((e): e is Extract<EngineEvent, { kind: 'down' }> => e.kind === 'down' && e.vm === vm);

/** web1 gets a guest-agent channel in the test driver's node file. */
const withAgent = (node: string): string =>
  node.replace(/(<name>web1<\/name>[\s\S]*?<devices>)/, "$1\n      <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>");

/** A hook script that logs its environment and exits with the code in `FILE.rc` (0 if none). */
function hookScript(dir: string): { argv: (tag: string) => string; log: () => string[] } {
  const file = join(dir, 'hook.sh');
  writeFileSync(file, `#!/bin/sh\necho "$1 $SANSHIFT_PHASE $SANSHIFT_WINDOW $SANSHIFT_VM $SANSHIFT_HOST \${SANSHIFT_REASON:-}" >> hook.log\necho "hook output for $SANSHIFT_VM"\nrc=0\n[ -f "$1.rc" ] && rc=$(cat "$1.rc")\nexit $rc\n`);
  chmodSync(file, 0o755);
  return {
    argv: (tag) => `[sh, ./hook.sh, ${tag}]`,
    log: () => {
      try {
        return readFileSync(join(dir, 'hook.log'), 'utf8').trim().split('\n').map((l) => l.trimEnd());
      } catch {
        return [];
      }
    },
  };
}

describe("each VM's own policy", () => {
  it('a VM-level shutdown.onTimeout wins over the fleet', async () => {
    const inv = BASE_INVENTORY.replace('  onShutdownTimeout: force', '  onShutdownTimeout: fail').replace('  - name: web1\n    host: hv1', '  - name: web1\n    host: hv1\n    policy: { shutdown: { onTimeout: force } }');
    const fleet = new Fleet(inv);
    fleet.hvWrapper = (hv: Hypervisor) => {
      const w = Object.create(hv) as Hypervisor;
      w.shutdown = async () => {}; // no guest answers the power button
      return w;
    };
    const summary = await fleet.run(['web1', 'dns1']);
    expect(outcomes(summary)).toEqual({ web1: 'done', dns1: 'failed' });
    expect(notes(fleet.events, 'web1').some((n) => /forcing it off/.test(n))).toBe(true);
  });
});

describe('shutdown through the guest agent', () => {
  it('shutdown.mode agent: a VM with a guest-agent channel goes; one without is left running untouched, with libvirt\'s reason', async () => {
    const inv = BASE_INVENTORY.replace('policy:\n', 'policy:\n  shutdown: { mode: agent }\n');
    const fleet = new Fleet(inv, withAgent);
    const before = await fleet.hv().inactiveXml('dns1');
    const summary = await fleet.run(['web1', 'dns1']);
    expect(outcomes(summary)).toEqual({ web1: 'done', dns1: 'failed' });
    const dns1 = summary.results.find((r) => r.vm === 'dns1')!.outcome;
    expect(dns1.outcome === 'failed' && dns1.reason).toMatch(/graceful shutdown \(guest agent\) of domain dns1 .*QEMU guest agent is not configured.*\(the VM is back on its old volumes\)/);
    expect(await fleet.hv().inactiveXml('dns1')).toBe(before);
    expect((await fleet.hv().lookup('dns1'))?.state).toBe('running');
  });
});

describe('hooks', () => {
  it('run around each window with the VM in their environment; their output goes to the journal', async () => {
    const fleet = new Fleet(BASE_INVENTORY);
    const hook = hookScript(fleet.dir);
    fleet.inventory = (await import('../../src/inventory/parse.js')).parseInventory(BASE_INVENTORY.replace('policy:\n', `policy:\n  hooks: { beforeWindow: ${hook.argv('before')}, afterWindow: ${hook.argv('after')}, onFailure: ${hook.argv('failure')} }\n`), join(fleet.dir, 'inventory.yaml'));
    fleet.restart();
    const summary = await fleet.run(['web1']);
    expect(outcomes(summary)).toEqual({ web1: 'done' });
    expect(hook.log()).toEqual(['before beforeWindow T1 web1 hv1', 'after afterWindow T1 web1 hv1', 'before beforeWindow T2 web1 hv1', 'after afterWindow T2 web1 hv1']);
    const records = readAllJournals(fleet.stateDir).filter((r) => r.kind === 'hook');
    expect(records).toHaveLength(4);
    expect(records[0]).toMatchObject({ kind: 'hook', vm: 'web1', hook: 'beforeWindow', window: 'T1', ok: true, exitCode: 0, output: 'hook output for web1\n' });
  });

  it('a failing beforeWindow keeps the VM up and untouched; onFailure gets the reason', async () => {
    const fleet = new Fleet(BASE_INVENTORY);
    const hook = hookScript(fleet.dir);
    writeFileSync(join(fleet.dir, 'before.rc'), '3');
    fleet.inventory = (await import('../../src/inventory/parse.js')).parseInventory(BASE_INVENTORY.replace('policy:\n', `policy:\n  hooks: { beforeWindow: ${hook.argv('before')}, onFailure: ${hook.argv('failure')} }\n`), join(fleet.dir, 'inventory.yaml'));
    fleet.restart();
    const before = await fleet.hv().inactiveXml('web1');
    const id = (await fleet.hv().lookup('web1'))?.id;
    const summary = await fleet.run(['web1']);
    const web1 = summary.results[0]!.outcome;
    expect(web1.outcome === 'failed' && web1.reason).toMatch(/^beforeWindow hook sh \.\/hook\.sh before exited with 3 after .*: hook output for web1; web1 was not stopped for T1/);
    expect((await fleet.hv().lookup('web1'))?.id).toBe(id);
    expect(await fleet.hv().inactiveXml('web1')).toBe(before);
    expect(downs(fleet.events, 'web1')).toEqual([]);
    expect(hook.log()[1]).toMatch(/^failure onFailure {2}web1 hv1 beforeWindow hook sh \.\/hook\.sh before exited with 3/);
  });

  it('a failing beforeWindow at T2 leaves the VM on its mirrors, in sync, not rolled back', async () => {
    const fleet = new Fleet(BASE_INVENTORY);
    const hook = hookScript(fleet.dir);
    fleet.inventory = (await import('../../src/inventory/parse.js')).parseInventory(BASE_INVENTORY.replace('policy:\n', `policy:\n  hooks: { beforeWindow: ${hook.argv('before')} }\n`), join(fleet.dir, 'inventory.yaml'));
    fleet.restart();
    fleet.onEvent = (e) => {
      if (e.kind === 'up' && e.window === 'T1') writeFileSync(join(fleet.dir, 'before.rc'), '1');
    };
    const summary = await fleet.run(['web1']);
    const web1 = summary.results[0]!.outcome;
    expect(web1.outcome === 'failed' && web1.reason).toMatch(/web1 was not stopped for T2: it keeps running on its mirrors, in sync/);
    expect(sources(await fleet.hv().liveXml('web1'))).toEqual({ vda: '/dev/md/ss-web1-vda' });
    expect(downs(fleet.events, 'web1').map((d) => d.window)).toEqual(['T1']);
  });
});

describe('health gates', () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer((sock) => sock.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('after T1 and after T2: a TCP port and the guest agent; every check is in the journal', async () => {
    const inv = BASE_INVENTORY.replace('  health: { settle: 10s }', `  health: { settle: 10s, checks: [{ kind: tcp, host: 127.0.0.1, port: ${port} }, { kind: guest-agent, gates: [T2] }] }`);
    const fleet = new Fleet(inv, withAgent);
    const summary = await fleet.run(['web1']);
    expect(outcomes(summary)).toEqual({ web1: 'done' });
    const gates = readAllJournals(fleet.stateDir).filter((r) => r.kind === 'result' && r.step === 'health-gate');
    expect(gates.map((g) => g.kind === 'result' && [g.detail?.['phase'], (g.detail?.['checks'] as { kind: string }[]).map((c) => c.kind)])).toEqual([
      ['T1', ['tcp']],
      ['T2', ['tcp', 'guest-agent']],
    ]);
    // the T1 gate passed before NEW joined
    const steps = fleet.events.filter((e): e is Extract<EngineEvent, { kind: 'step-started' }> => e.kind === 'step-started').map((e) => e.step);
    expect(steps.indexOf('health-gate')).toBeLessThan(steps.indexOf('add-new-leg'));
  });

  it('a gate that fails after T1 takes the VM back to OLD, which is still current', async () => {
    const inv = BASE_INVENTORY.replace('  health: { settle: 10s }', "  health: { settle: 10s, timeout: 30s, checks: [{ kind: command, argv: [sh, -c, 'echo no web server on $SANSHIFT_VM; exit 1'], gates: [T1] }] }");
    const fleet = new Fleet(inv);
    const summary = await fleet.run(['web1']);
    const web1 = summary.results[0]!.outcome;
    expect(web1.outcome === 'failed' && web1.reason).toMatch(/^health gate after T1 failed: command sh -c .*: exit 1: no web server on web1 \(still failing after \d+s, \d+ attempts\); it goes back to its old volumes, still current \(the VM is back on its old volumes\)$/);
    expect(sources(await fleet.hv().liveXml('web1'))).toEqual({ vda: '/dev/mapper/old-web1' });
    expect(fleet.events.some((e) => e.kind === 'step-started' && e.step === 'add-new-leg')).toBe(false);
  });
});

describe('maintenance windows', () => {
  it('no window starts outside them; the VMs wait with a note, then go', async () => {
    // the clock starts at 02:00 UTC; windows open at 04:00 UTC
    const inv = BASE_INVENTORY.replace('policy:\n', "policy:\n  windows: { timezone: UTC, allow: ['04:00-06:00'] }\n");
    const fleet = new Fleet(inv);
    const opens = Date.UTC(2026, 10, 24, 4, 0, 0);
    const summary = await fleet.run(['web1', 'dns1']);
    expect(outcomes(summary)).toEqual({ web1: 'done', dns1: 'done' });
    for (const vm of ['web1', 'dns1']) {
      const d = downs(fleet.events, vm);
      expect(d.map((x) => x.window)).toEqual(['T1', 'T2']);
      expect(d.every((x) => x.at >= opens)).toBe(true);
      expect(notes(fleet.events, vm)).toContain('waiting for its maintenance window (04:00-06:00 UTC): the next start may be at 2026-11-24 04:00 UTC');
    }
  });
});

describe('canaries and the failure budget', () => {
  it('the canary goes first; when it fails, no other VM is admitted and the run says why', async () => {
    const inv = BASE_INVENTORY.replace('policy:\n', 'rollout: { canaries: [dns1] }\npolicy:\n');
    const fleet = new Fleet(inv);
    // dns1 fails its T1: its guest ignores the power button, and the policy forbids forcing it
    fleet.inventory.vms.find((v) => v.name === 'dns1')!.policy.onShutdownTimeout = 'fail';
    fleet.hvWrapper = (hv: Hypervisor) => {
      const w = Object.create(hv) as Hypervisor;
      w.shutdown = async (name, mode) => (name === 'dns1' ? undefined : hv.shutdown(name, mode));
      return w;
    };
    const summary = await fleet.run(['web1', 'db1', 'dns1']);
    expect(outcomes(summary)).toEqual({ web1: 'stopped', db1: 'stopped', dns1: 'failed' });
    expect(summary.stopped).toMatch(/^canary dns1 failed: dns1 did not power off within 60s .*; no other VM is admitted in this run \(rollout.canaries\)$/);
    // nothing was prepared for the VMs never admitted
    expect(fleet.events.some((e) => e.kind === 'step-started' && e.vm !== 'dns1')).toBe(false);
    expect(readAllJournals(fleet.stateDir).find((r) => r.kind === 'run-finished')).toMatchObject({ ok: false, stopped: summary.stopped });
  });

  it('the canary done, the others follow', async () => {
    const inv = BASE_INVENTORY.replace('policy:\n', 'rollout: { canaries: 1 }\npolicy:\n');
    const fleet = new Fleet(inv);
    const summary = await fleet.run(['web1', 'dns1']);
    expect(outcomes(summary)).toEqual({ web1: 'done', dns1: 'done' });
    const web1Done = fleet.events.find((e) => e.kind === 'vm-finished' && e.vm === 'web1')!.at;
    expect(downs(fleet.events, 'dns1')[0]!.at).toBeGreaterThanOrEqual(web1Done);
  });
});

describe('pause and stop', () => {
  it('a pause lets the windows in progress finish, starts no new one, and the run ends with nothing down; a new run resumes', async () => {
    const inv = BASE_INVENTORY.replace('policy:\n', 'limits: { downWindows: 1 }\npolicy:\n');
    const fleet = new Fleet(inv);
    let first: string | null = null;
    fleet.onEvent = (e) => {
      // the first VM is down in its T1 (one window at a time): pause now
      if (first === null && e.kind === 'down') {
        first = e.vm;
        requestPause(fleet.stateDir, { now: new Date(fleet.clock.now()), reason: 'freeze at 05:00', by: 'ops@test' });
      }
    };
    const summary = await fleet.run(['web1', 'dns1']);
    expect(outcomes(summary)).toEqual({ web1: 'stopped', dns1: 'stopped' });
    expect(summary.ok).toBe(true);
    expect(summary.stopped).toMatch(/^pause requested at .* by ops@test \(freeze at 05:00\)$/);
    // the first one's T1 finished: it runs on its mirrors, and md copies on; the other was never stopped
    const other = first === 'web1' ? 'dns1' : 'web1';
    expect(sources(await fleet.hv().liveXml(first!))).toEqual({ vda: `/dev/md/ss-${first!}-vda` });
    expect(downs(fleet.events, other)).toEqual([]);
    expect(fleet.events.some((e) => e.kind === 'step-started' && e.vm === other)).toBe(false);
    for (const vm of ['web1', 'dns1']) expect((await fleet.hv().lookup(vm))?.state).toBe('running');
    // the next run starts after the request: not paused by it
    fleet.onEvent = undefined;
    fleet.clock.advance(1000);
    const again = await fleet.run(['web1', 'dns1']);
    expect(outcomes(again)).toEqual({ web1: 'done', dns1: 'done' });
  });

  it('a stop (second Ctrl-C) leaves every VM at its next safe point, none off', async () => {
    const fleet = new Fleet();
    const stop = new AbortController();
    fleet.stop = stop.signal;
    fleet.onEvent = (e) => {
      if (e.kind === 'progress' && e.vm === 'web1') stop.abort();
    };
    const summary = await fleet.run(['web1', 'db1', 'dns1']);
    expect(Object.values(outcomes(summary)).every((o) => o === 'stopped' || o === 'done')).toBe(true);
    expect(Object.values(outcomes(summary))).toContain('stopped');
    expect(summary.stopped).toBe('stop requested (second Ctrl-C): stopped at the next safe point');
    for (const vm of ['web1', 'db1', 'dns1']) expect((await fleet.hv().lookup(vm))?.state).toBe('running');
  });
});
