// The windows benchmark (issue 9): the real engine (plan, scheduler, VM state machines) over a
// generated fleet of libvirt test-driver hosts and simulated md hosts, on a virtual clock where
// every host command (one ssh session) costs 100 ms and every libvirt call 20 ms, as on a far or
// loaded hypervisor. It counts the host commands and libvirt calls made while each VM was off,
// the commands per VM, the polls per host per interval, the time each window spent beyond its
// guest's own shutdown and boot, and compares the makespan with a sequential script of the
// seed's steps on the same simulated hosts and costs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connections, type SimulatedCosts, type SimulatedGuestTimes } from '../src/engine/connections.js';
import type { EngineEvent } from '../src/engine/events.js';
import { newRunId } from '../src/engine/journal.js';
import { runFleet, RunMode, type RunSummary } from '../src/engine/run.js';
import type { SimulatedHost } from '../src/host/simulated.js';
import { parseInventory } from '../src/inventory/parse.js';
import type { Inventory } from '../src/inventory/types.js';
import { planFleet } from '../src/plan/fleet-plan.js';
import { rewriteDiskSources } from '../src/domain/index.js';
import { VirtualClock } from '../src/util/clock.js';
import { testDriverNode, type NodeDomain } from './test-driver-node.js';

export interface EngineFleetSpec {
  hosts: number;
  vmsPerHost: number;
  /** disks per VM, cycled: [1, 2] gives one-disk and two-disk VMs in turn */
  disks: number[];
  /** GiB per disk, cycled */
  sizesGiB: number[];
  mirrorsPerHost: number;
  downWindows: number;
  pollInterval: string;
  /** each host's `simulate:` latencies, written into the inventory (the CLI paths read them there) */
  latency?: { sessionMs: number; libvirtCallMs: number };
}

const TARGETS = ['vda', 'vdb', 'vdc'];

/** Writes one test-driver node file per host and the inventory that names them. */
export function writeEngineFleet(dir: string, spec: EngineFleetSpec): string {
  const hostsYaml: string[] = [];
  const vmsYaml: string[] = [];
  let n = 0;
  for (let h = 1; h <= spec.hosts; h++) {
    const domains: NodeDomain[] = [];
    const first = n + 1;
    for (let v = 0; v < spec.vmsPerHost; v++, n++) {
      const name = `vm${String(n).padStart(4, '0')}`;
      const targets = TARGETS.slice(0, spec.disks[n % spec.disks.length]!);
      const sizes = targets.map((t, i) => `${t}: ${spec.sizesGiB[(n + i) % spec.sizesGiB.length]}GiB`);
      domains.push({ name, disks: targets.map((t) => ({ source: `/dev/mapper/old-${name}-${t}`, target: t })) });
      vmsYaml.push(`  - name: ${name}\n    host: hv${h}\n    simulate: { sizes: { ${sizes.join(', ')} } }`);
    }
    writeFileSync(join(dir, `hv${h}.xml`), testDriverNode(domains, first));
    const latency = spec.latency === undefined ? '' : `\n    simulate: { sessionLatency: ${spec.latency.sessionMs}ms, libvirtLatency: ${spec.latency.libvirtCallMs}ms }`;
    hostsYaml.push(`  hv${h}:\n    testDriverNode: hv${h}.xml\n    shell: simulated${latency}`);
  }
  const yaml = `hosts:\n${hostsYaml.join('\n')}\nvms:\n${vmsYaml.join('\n')}
mapping:
  - from: '^/dev/mapper/old-(.+)$'
    to: '/dev/mapper/new-$1'
policy:
  shutdownTimeout: 120s
  onShutdownTimeout: force
  pollInterval: ${spec.pollInterval}
  health: { settle: 5s }
limits:
  mirrorsPerHost: ${spec.mirrorsPerHost}
  downWindows: ${spec.downWindows}
  global: ${spec.hosts * spec.vmsPerHost}
`;
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, yaml);
  return file;
}

export interface WindowFigures {
  vms: number;
  makespanMs: number;
  t1HostCommands: number;
  t1LibvirtCalls: number;
  t2HostCommands: number;
  t2LibvirtCalls: number;
  /** host commands per VM, every command but the periodic polls */
  hostCommandsPerVm: number;
  /** the worst host: polls over the number of intervals while any of its VMs waited */
  pollsPerHostPerInterval: number;
  /** the longest window minus the guest's own time in it (windowOverhead) */
  windowOverheadMs: number;
  longestT1Ms: number;
  longestT2Ms: number;
  failed: number;
}

interface Setup {
  inventory: Inventory;
  connections: Connections;
  clock: VirtualClock;
  stateDir: string;
}

async function setup(spec: EngineFleetSpec, costs: SimulatedCosts, guest: SimulatedGuestTimes): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'sanshift-bench-'));
  const file = writeEngineFleet(dir, spec);
  const inventory = parseInventory((await import('node:fs')).readFileSync(file, 'utf8'), file);
  const clock = new VirtualClock(Date.UTC(2026, 0, 1));
  const stateDir = join(dir, '.sanshift');
  const connections = new Connections(inventory, { clock, stateDir, guestTimes: guest, costs });
  return { inventory, connections, clock, stateDir };
}

/** The real engine over the fleet; its figures from its own events and counters. */
export async function benchEngine(spec: EngineFleetSpec, costs: SimulatedCosts, guest: SimulatedGuestTimes): Promise<WindowFigures> {
  const s = await setup(spec, costs, guest);
  try {
    const runId = newRunId(s.clock.now());
    const outcome = await planFleet(s.inventory, s.connections, { runId, now: new Date(s.clock.now()) });
    if (outcome.problems.length > 0) throw new Error(outcome.problems.map((p) => p.message).join('\n'));
    const sims = await simulatedHosts(s);
    const before = new Map([...sims].map(([h, sim]) => [h, sim.counts.commands]));
    const events: EngineEvent[] = [];
    const start = s.clock.now();
    const summary: RunSummary = await runFleet({ plan: outcome.plan, inventory: s.inventory, connections: s.connections, clock: s.clock, stateDir: s.stateDir, runId, mode: RunMode.migrate, emit: (e) => events.push(e) });
    const makespanMs = s.clock.now() - start;
    if (process.env.SANSHIFT_BENCH_TRACE !== undefined) for (const e of events) if (e.kind !== 'progress') console.error(`${((e.at - start) / 1000).toFixed(2)} ${JSON.stringify(e).slice(0, 160)}`);
    const ups = events.filter((e): e is Extract<EngineEvent, { kind: 'up' }> => e.kind === 'up');
    const of = (w: string, k: 'hostCommands' | 'libvirtCalls') => Math.max(0, ...ups.filter((u) => u.window === w).map((u) => u[k] ?? 0));
    let commands = 0;
    for (const [h, sim] of sims) commands += sim.counts.commands - before.get(h)!;
    const polls = Object.values(summary.hosts).reduce((a, h) => a + h.polls, 0);
    return {
      vms: outcome.plan.vms.length,
      makespanMs,
      t1HostCommands: of('T1', 'hostCommands'),
      t1LibvirtCalls: of('T1', 'libvirtCalls'),
      t2HostCommands: of('T2', 'hostCommands'),
      t2LibvirtCalls: of('T2', 'libvirtCalls'),
      hostCommandsPerVm: Number(((commands - polls) / outcome.plan.vms.length).toFixed(2)),
      pollsPerHostPerInterval: pollsPerInterval(events, summary, s.inventory, outcome.plan.vms.map((v) => [v.name, v.host] as const)),
      windowOverheadMs: windowOverhead(ups, guest),
      longestT1Ms: Math.max(0, ...ups.filter((u) => u.window === 'T1').map((u) => u.windowMs ?? 0)),
      longestT2Ms: Math.max(0, ...ups.filter((u) => u.window === 'T2').map((u) => u.windowMs ?? 0)),
      failed: summary.results.filter((r) => r.outcome.outcome === 'failed').length,
    };
  } finally {
    await s.connections.close();
  }
}

/**
 * The longest window less the guest's own time in it: its shutdown, libvirt's start, and the
 * rest of its boot when T2 asked it to shut down before it was up (a copy shorter than the boot:
 * the guest hears the power button only once booted, on a real host as here).
 */
function windowOverhead(ups: readonly Extract<EngineEvent, { kind: 'up' }>[], guest: SimulatedGuestTimes): number {
  const t1Up = new Map(ups.filter((u) => u.window === 'T1').map((u) => [u.vm, u.at]));
  let worst = 0;
  for (const u of ups) {
    const window = u.windowMs ?? 0;
    const askedAt = u.at - window;
    const bootStart = u.window === 'T2' ? t1Up.get(u.vm) : undefined;
    const stillBooting = bootStart === undefined ? 0 : Math.max(0, bootStart - guest.startMs + guest.bootMs - askedAt);
    worst = Math.max(worst, window - stillBooting - guest.shutdownMs - guest.startMs);
  }
  return worst;
}

async function simulatedHosts(s: Setup): Promise<Map<string, SimulatedHost>> {
  for (const h of Object.values(s.inventory.hosts)) await s.connections.runnerOrThrow(h);
  return s.connections.simulated;
}

/** For each host, its polls over the intervals during which at least one of its VMs waited for
 * its resync (from NEW joining to its resync-ended); the worst host. */
function pollsPerInterval(events: readonly EngineEvent[], summary: RunSummary, inv: Inventory, vmHost: readonly (readonly [string, string])[]): number {
  const hostOf = new Map(vmHost);
  const spans = new Map<string, [number, number][]>();
  const first = new Map<string, number>();
  for (const e of events) {
    if (e.kind === 'step-finished' && e.step === 'add-new-leg' && !first.has(e.vm)) first.set(e.vm, e.at);
    if (e.kind === 'resync-ended' && first.has(e.vm)) {
      const h = hostOf.get(e.vm)!;
      spans.set(h, [...(spans.get(h) ?? []), [first.get(e.vm)!, e.at]]);
    }
  }
  let worst = 0;
  for (const [h, list] of spans) {
    // the union of the waiting spans, in intervals
    list.sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let [cs, ce] = list[0]!;
    for (const [s, e] of list.slice(1)) {
      if (s > ce) {
        covered += ce - cs;
        [cs, ce] = [s, e];
      } else ce = Math.max(ce, e);
    }
    covered += ce - cs;
    const intervals = covered / inv.policy.pollIntervalMs;
    if (intervals >= 1) worst = Math.max(worst, (summary.hosts[h]?.polls ?? 0) / (intervals + 1));
  }
  return Number(worst.toFixed(3));
}

/**
 * The seed article's steps as a plain script would run them over ssh, one VM after the other:
 * `virsh shutdown` and a `virsh domstate` loop each second, `mdadm --build` and `--add` per disk,
 * `virsh dumpxml` and `virsh create` of the edited XML, `mdadm --wait` per disk, shutdown again,
 * `mdadm --stop` per disk, `virsh define`, `virsh start`. Every one is a host command (one ssh
 * session). Returns its makespan, its windows and its commands per VM.
 */
export async function benchScript(spec: EngineFleetSpec, costs: SimulatedCosts, guest: SimulatedGuestTimes): Promise<{ makespanMs: number; longestT1Ms: number; longestT2Ms: number; commandsPerVm: number }> {
  const s = await setup(spec, { ...costs, libvirtCallMs: 0 }, guest);
  try {
    const outcome = await planFleet(s.inventory, s.connections, { runId: newRunId(s.clock.now()), now: new Date(s.clock.now()), withoutPreflight: true });
    const sims = await simulatedHosts(s);
    const start = s.clock.now();
    let longestT1 = 0;
    let longestT2 = 0;
    let commands = 0;
    const cmd = async () => {
      commands++;
      await s.clock.sleep(costs.commandMs);
    };
    for (const vm of outcome.plan.vms) {
      const host = s.inventory.hosts[vm.host]!;
      const hv = s.connections.hypervisor(host);
      const sim = sims.get(vm.host)!;
      const run = async (argv: string[]) => {
        commands++;
        const r = await sim.run(argv);
        if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
      };
      const shutdown = async () => {
        await cmd();
        await hv.shutdown(vm.name);
        // while virsh domstate says running: sleep 1
        for (;;) {
          await cmd();
          if ((await hv.lookup(vm.name))?.id === null) return;
          await s.clock.sleep(1000);
        }
      };
      const t1 = s.clock.now();
      await shutdown();
      for (const d of vm.disks) {
        await run(['mdadm', '--build', d.mirror, '--level', '1', '--raid-disks=2', d.old, 'missing']);
        await run(['mdadm', '--add', d.mirror, d.new]);
      }
      await cmd(); // virsh dumpxml, then sed
      const xml = rewriteDiskSources(await hv.inactiveXml(vm.name), new Map(vm.disks.map((d) => [d.target, d.mirror])));
      await cmd();
      await hv.startWithLiveXml(xml);
      longestT1 = Math.max(longestT1, s.clock.now() - t1);
      for (const d of vm.disks) {
        // mdadm --wait: one command that returns when the array is in sync
        await cmd();
        while (!sim.inSync(d.mirror)) await s.clock.sleep(1000);
      }
      const t2 = s.clock.now();
      await shutdown();
      for (const d of vm.disks) await run(['mdadm', '--stop', d.mirror]);
      await cmd(); // virsh define of the XML edited to NEW
      await hv.define(rewriteDiskSources(await hv.inactiveXml(vm.name), new Map(vm.disks.map((d) => [d.target, d.new]))));
      await cmd();
      await hv.start(vm.name);
      longestT2 = Math.max(longestT2, s.clock.now() - t2);
    }
    return { makespanMs: s.clock.now() - start, longestT1Ms: longestT1, longestT2Ms: longestT2, commandsPerVm: Number((commands / outcome.plan.vms.length).toFixed(1)) };
  } finally {
    await s.connections.close();
    rmSync(s.stateDir, { recursive: true, force: true });
  }
}
