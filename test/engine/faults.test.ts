// Production faults (issue 11) on the test driver and the simulated host: a host that stops
// answering for a while, one whose commands hang, sshd's session limit, two orchestrators, and
// a resumed fleet that must keep its anti-affine VMs apart.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { listDisks } from '../../src/domain/index.js';
import { Connections, DEFAULT_GUEST_TIMES } from '../../src/engine/connections.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { newRunId } from '../../src/engine/journal.js';
import { runFleet, RunMode } from '../../src/engine/run.js';
import type { CommandResult, RunOptions } from '../../src/host/runner.js';
import type { SimulatedHost } from '../../src/host/simulated.js';
import { HypervisorError } from '../../src/hypervisor/libvirt.js';
import { parseInventory } from '../../src/inventory/parse.js';
import { planFleet } from '../../src/plan/fleet-plan.js';
import { InputError, UnreachableError } from '../../src/util/errors.js';
import { VirtualClock } from '../../src/util/clock.js';
import { writeEngineFleet } from '../../bench/windows.js';
import { BASE_INVENTORY, Fleet, injectCrash, recoverFromCrash } from './harness.js';

const sources = (xml: string) => Object.fromEntries(listDisks(xml).filter((d) => d.type === 'block').map((d) => [d.target, d.source]));
const notes = (events: readonly EngineEvent[], vm: string) => events.filter((e): e is Extract<EngineEvent, { kind: 'note' }> => e.kind === 'note' && e.vm === vm).map((e) => e.text);

/** A host's ssh and libvirt that stop answering while `cut()` is true. */
function cuttable(fleet: Fleet, sim: SimulatedHost, cut: () => boolean): void {
  const run = sim.run.bind(sim);
  sim.run = (argv: readonly string[], options?: RunOptions): Promise<CommandResult> => {
    if (cut()) return Promise.reject(new UnreachableError(sim.host, 'root@hv1', 'ssh: connect to host hv1 port 22: Connection refused'));
    return run(argv, options);
  };
  fleet.hvWrapper = (hv) =>
    new Proxy(hv, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver) as unknown;
        if (typeof v !== 'function' || key === 'close') return v;
        return (...args: unknown[]) => (cut() ? Promise.reject(new HypervisorError('hv1', String(key), undefined, 'internal error: client socket is closed')) : (v as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
}

describe('a host that stops answering for 60 s', () => {
  for (const when of ['mid-resync', 'mid-window'] as const) {
    it(`${when}: no VM rolls back, the run completes`, async () => {
      const fleet = new Fleet();
      const sim = await fleet.sim();
      let from = Infinity;
      const cut = () => fleet.clock.now() >= from && fleet.clock.now() < from + 60_000;
      cuttable(fleet, sim, cut);
      fleet.restart();
      fleet.onEvent = (e) => {
        const trigger = when === 'mid-resync' ? e.kind === 'progress' && e.vm === 'db1' : e.kind === 'down' && e.vm === 'db1' && e.window === 'T1';
        if (trigger && from === Infinity) from = fleet.clock.now();
      };
      const summary = await fleet.run(['web1', 'db1']);
      expect(from).toBeLessThan(Infinity);
      expect(summary.results.map((r) => (r.outcome.outcome === 'failed' ? r.outcome.reason : r.outcome.outcome))).toEqual(['done', 'done']);
      expect(fleet.events.some((e) => e.kind === 'step-started' && e.step === 'shutdown-vm' && /rollback/.test(e.summary))).toBe(false);
      expect(notes(fleet.events, 'db1').some((n) => /^on hold: host hv1 does not answer/.test(n))).toBe(true);
      expect(notes(fleet.events, 'db1').some((n) => /^host hv1 answers again after \d+s/.test(n))).toBe(true);
      fleet.hvWrapper = undefined;
      fleet.restart();
      expect(sources(await fleet.hv().inactiveXml('db1'))).toEqual({ vda: '/dev/mapper/new-db1', vdb: '/dev/mapper/new-db1-logs' });
      expect((await fleet.hv().lookup('db1'))?.state).toBe('running');
    });
  }

  it('a window is not held open for a shell that does not come back: the VM starts again on OLD, and its window is redone', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    let from = Infinity;
    // ssh stays down for 5 min; libvirt (another connection) answers all along
    const run = sim.run.bind(sim);
    sim.run = (argv, options) => (fleet.clock.now() >= from && fleet.clock.now() < from + 300_000 ? Promise.reject(new UnreachableError('hv1', 'root@hv1', 'Connection timed out')) : run(argv, options));
    fleet.onEvent = (e) => {
      if (e.kind === 'down' && e.vm === 'web1' && e.window === 'T1' && from === Infinity) from = fleet.clock.now();
    };
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    const ups = fleet.events.filter((e): e is Extract<EngineEvent, { kind: 'up' }> => e.kind === 'up' && e.vm === 'web1');
    // the first T1 window ended by the start on OLD after windowHold (2 min), not after 5 min
    expect(ups[0]!.window).toBe('T1');
    expect(ups[0]!.downMs).toBeGreaterThanOrEqual(120_000);
    expect(ups[0]!.downMs).toBeLessThan(200_000);
    expect(notes(fleet.events, 'web1').some((n) => /up again on its old volumes; its T1 window is tried again/.test(n))).toBe(true);
    expect(sources(await fleet.hv().inactiveXml('web1'))).toEqual({ vda: '/dev/mapper/new-web1' });
  });
  it('in T2, a VM held off for a shell that does not come back starts again on its mirrors: the copy is kept', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    let from = Infinity;
    const run = sim.run.bind(sim);
    sim.run = (argv, options) => (fleet.clock.now() >= from && fleet.clock.now() < from + 300_000 ? Promise.reject(new UnreachableError('hv1', 'root@hv1', 'Connection timed out')) : run(argv, options));
    fleet.onEvent = (e) => {
      if (e.kind === 'down' && e.vm === 'web1' && e.window === 'T2' && from === Infinity) from = fleet.clock.now();
    };
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    const ups = fleet.events.filter((e): e is Extract<EngineEvent, { kind: 'up' }> => e.kind === 'up' && e.vm === 'web1');
    expect(ups.map((u) => u.window)).toEqual(['T1', 'T2', 'T2']);
    expect(ups[1]!.downMs).toBeGreaterThanOrEqual(120_000);
    expect(ups[1]!.downMs).toBeLessThan(200_000);
    expect(notes(fleet.events, 'web1').some((n) => /^up again on its mirrors after 2 min on hold with the VM off; its T2 window is tried again/.test(n))).toBe(true);
    // one copy: NEW joined once, and was not thrown away
    expect(fleet.events.filter((e) => e.kind === 'step-started' && e.vm === 'web1' && e.step === 'add-new-leg')).toHaveLength(1);
    expect(sources(await fleet.hv().inactiveXml('web1'))).toEqual({ vda: '/dev/mapper/new-web1' });
  });
});

describe('a define whose answer is lost, then a silent shell', () => {
  it('in T2 the held VM is not started on its mirrors under a definition already on NEW: it stays off, then finishes', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    let from = Infinity;
    const run = sim.run.bind(sim);
    sim.run = (argv, options) => (fleet.clock.now() >= from && fleet.clock.now() < from + 300_000 ? Promise.reject(new UnreachableError('hv1', 'root@hv1', 'Connection timed out')) : run(argv, options));
    fleet.hvWrapper = (hv) => {
      const w = Object.create(hv) as typeof hv;
      w.define = async (xml) => {
        await hv.define(xml);
        // the define-on-new went through; its answer, and the host's shell, are lost
        if (sources(xml)['vda'] === '/dev/mapper/new-web1' && from === Infinity) {
          from = fleet.clock.now();
          throw new HypervisorError('hv1', 'define', undefined, 'internal error: client socket is closed');
        }
      };
      return w;
    };
    fleet.restart();
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    expect(notes(fleet.events, 'web1')).toContain('stays off: its definition is on NEW, and host hv1 must stop its mirrors before it starts there');
    expect(fleet.events.some((e) => e.kind === 'step-started' && e.step === 'start-on-mirror' && e.at > from)).toBe(false);
    expect(sources(await fleet.hv().liveXml('web1'))).toEqual({ vda: '/dev/mapper/new-web1' });
  });
});

describe('a host whose commands hang', () => {
  it('holds its VMs and reports them after the deadline; the other host finishes', async () => {
    const inv = BASE_INVENTORY.replace('hosts:\n  hv1:\n    testDriverNode: node.xml\n    shell: simulated', 'hosts:\n  hv1:\n    testDriverNode: node.xml\n    shell: simulated\n  hv2:\n    testDriverNode: node2.xml\n    shell: simulated')
      .replace('  - name: dns1\n    host: hv1', '  - name: dns1\n    host: hv2')
      .replace('  pollInterval: 5s', '  pollInterval: 5s\n  timeouts: { hostCommand: 30s, hostLost: 10m }');
    const fleet = new Fleet(inv);
    const node = readFileSync(join(fleet.dir, 'node.xml'), 'utf8');
    const dns1 = /<domain [^>]*>\s*<name>dns1<\/name>[\s\S]*?<\/domain>/.exec(node)![0];
    (await import('node:fs')).writeFileSync(join(fleet.dir, 'node2.xml'), `<node>\n${dns1}\n</node>\n`);
    await fleet.sim();
    await fleet.connections.runnerOrThrow(fleet.inventory.hosts.hv2!);
    const hv2 = fleet.simulated.get('hv2')!;
    let hang = false;
    const run = hv2.run.bind(hv2);
    hv2.run = (argv, options) => (hang ? new Promise<CommandResult>(() => {}) : run(argv, options));
    fleet.restart();
    fleet.onEvent = (e) => {
      if (e.kind === 'progress' && e.vm === 'dns1') hang = true;
    };
    const summary = await fleet.run(['web1', 'dns1']);
    const byVm = Object.fromEntries(summary.results.map((r) => [r.vm, r.outcome]));
    expect(byVm.web1?.outcome).toBe('done');
    expect(byVm.dns1?.outcome).toBe('failed');
    expect(byVm.dns1?.outcome === 'failed' && byVm.dns1.reason).toMatch(/host hv2 did not answer for 10 min .*got no answer within 30s \(timed out\).*needs an operator, nothing was rolled back. It was last seen running on its mirror volumes, its definition on OLD/);
    expect(notes(fleet.events, 'dns1').some((n) => /^on hold: host hv2 does not answer/.test(n))).toBe(true);
  });
});

describe("sshd's session limit", () => {
  it('40 VMs on one host never open more sessions than the limit allows: no exit 255', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sanshift-sessions-'));
    const file = writeEngineFleet(dir, { hosts: 1, vmsPerHost: 40, disks: [1], sizesGiB: [1], mirrorsPerHost: 40, downWindows: 40, pollInterval: '5s' });
    const inventory = parseInventory(readFileSync(file, 'utf8'), file);
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const stateDir = join(dir, '.sanshift');
    const connections = new Connections(inventory, { clock, stateDir, guestTimes: DEFAULT_GUEST_TIMES, costs: { commandMs: 100, libvirtCallMs: 20 } });
    const runId = newRunId(clock.now());
    const outcome = await planFleet(inventory, connections, { runId, now: new Date(clock.now()) });
    expect(outcome.problems).toEqual([]);
    const events: EngineEvent[] = [];
    const summary = await runFleet({ plan: outcome.plan, inventory, connections, clock, stateDir, runId, mode: RunMode.migrate, emit: (e) => events.push(e) });
    const sim = connections.simulated.get('hv1')!;
    expect(summary.results.filter((r) => r.outcome.outcome !== 'done')).toEqual([]);
    expect(events.some((e) => e.kind === 'note' && /refused|255/.test(e.text))).toBe(false);
    // the limit was reached (so it was what held them back) and never passed
    expect(sim.peakSessions).toBe(8);
    await connections.close();
  });
});

describe('two orchestrators', () => {
  it('one is refused, naming the other, before anything acts; a dead one is taken over', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    // a colleague's run from another machine and another state folder holds web1's lease
    sim.setLease('web1', '20261124T010000.000Z-abcdef@ops-laptop:4242', Math.floor(fleet.clock.now() / 1000) + 300);
    const before = await fleet.hv().inactiveXml('web1');
    const err = await fleet.run(['web1']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/VM web1 is being migrated by run 20261124T010000.000Z-abcdef \(pid 4242 on ops-laptop\) \(its lease on hv1 runs 300 s more\)/);
    expect(await fleet.hv().inactiveXml('web1')).toBe(before);
    expect(sim.history.some((h) => h.argv[0] === 'sh' && /sanshift md actions/.test(h.argv[2] ?? ''))).toBe(false);
    // a run of this very machine whose process is gone: taken over at once
    const { hostname } = await import('node:os');
    sim.setLease('web1', `20261124T010000.000Z-abcdef@${hostname().replace(/[^A-Za-z0-9._-]/g, '_')}:${2 ** 22 + 17}`, Math.floor(fleet.clock.now() / 1000) + 300);
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    expect(fleet.events.some((e) => e.kind === 'note' && /took over the lease of a run that no longer renews it/.test(e.text))).toBe(true);
    // released at the end
    expect(sim.leaseOf('web1')).toBeUndefined();
  });

  it('a run that lost its lease (its host did not answer it for 11 min, another run took the VM over) does nothing more to it', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    let from = Infinity;
    const cut = () => fleet.clock.now() >= from && fleet.clock.now() < from + 660_000;
    const run = sim.run.bind(sim);
    sim.run = (argv, options) => (cut() ? Promise.reject(new UnreachableError('hv1', 'root@hv1', 'Connection timed out')) : run(argv, options));
    fleet.onEvent = (e) => {
      if (e.kind === 'progress' && e.vm === 'web1' && from === Infinity) {
        from = fleet.clock.now();
        // our lease expires unrenewed (10 min); a colleague's run takes web1 over then
        void fleet.clock.sleep(601_000).then(() => sim.setLease('web1', 'other-run@elsewhere:7', Math.floor(fleet.clock.now() / 1000) + 600));
      }
    };
    const summary = await fleet.run(['web1']);
    const outcome = summary.results[0]!.outcome;
    expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/this run no longer holds web1's lease on hv1 \(run other-run \(pid 7 on elsewhere\) has it\): another run took it over/);
    // not rolled back, not cut over: it runs on its mirrors, for the other run to drive
    expect(sources(await fleet.hv().liveXml('web1'))).toEqual({ vda: '/dev/md/ss-web1-vda' });
    expect(sources(await fleet.hv().inactiveXml('web1'))).toEqual({ vda: '/dev/mapper/old-web1' });
    expect(fleet.events.some((e) => e.kind === 'step-started' && e.vm === 'web1' && e.step === 'shutdown-vm' && e.at >= from)).toBe(false);
    expect(sim.leaseOf('web1')?.owner).toBe('other-run@elsewhere:7');
  });
});

describe('a resumed fleet', () => {
  it('kill the run in mid-resync of an anti-affine pair and resume: their T2 windows never overlap', async () => {
    const inv = BASE_INVENTORY.replace('  - name: web1\n    host: hv1', '  - name: web1\n    host: hv1\n    antiAffinity: [pair]')
      .replace('  - name: dns1\n    host: hv1', '  - name: dns1\n    host: hv1\n    antiAffinity: [pair]')
      .replace('policy:', 'limits:\n  downWindows: 4\n  mirrorsPerHost: 4\npolicy:');
    const clean = new Fleet(inv);
    const { effects } = await injectCrash(clean, undefined);
    await clean.run(['web1', 'dns1']);
    // the crash: right after the second VM's NEW joined, both copying
    const adds = effects.map((e, i) => [e.what, i] as const).filter(([w]) => w.startsWith('md add'));
    expect(adds.length).toBe(2);
    const fleet = new Fleet(inv);
    const { crashed } = await injectCrash(fleet, { n: adds[1]![1] + 1, when: 'after' });
    void fleet.run(['web1', 'dns1']);
    await crashed;
    await recoverFromCrash(fleet);
    const summary = await fleet.run(['web1', 'dns1']);
    expect(summary.results.map((r) => r.outcome.outcome)).toEqual(['done', 'done']);
    const t2 = (vm: string) => {
      const down = fleet.events.find((e) => e.kind === 'down' && e.vm === vm && e.window === 'T2')!.at;
      const up = fleet.events.find((e) => e.kind === 'up' && e.vm === vm && e.window === 'T2')!.at;
      return [down, up] as const;
    };
    const [a, b] = [t2('web1'), t2('dns1')];
    expect(a[1] <= b[0] || b[1] <= a[0]).toBe(true);
  });
});
