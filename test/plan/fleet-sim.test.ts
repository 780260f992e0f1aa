import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { Limits } from '../../src/inventory/types.js';
import { planBundles, type FleetVm } from '../../src/plan/bundles.js';
import { generateFleet } from '../../src/plan/fleet-gen.js';
import { makespanLowerBound, simulateFleet, type SimOptions, type SimResult, type VmTimings } from '../../src/plan/fleet-sim.js';

const MiB = 1024 * 1024;
const timings: VmTimings = { shutdownMs: 1000, bootMs: 2000, mirrorSetupMs: 500, mirrorStopMs: 500 };

describe('makespan lower bound', () => {
  // a and b share array A (1 MiB/s), c is alone on B (4 MiB/s); one mirror does at most 1 MiB/s
  const vms: FleetVm[] = [
    { name: 'a', host: 'h1', dependsOn: [], antiAffinity: [], disks: [{ target: 'vda', sizeBytes: 10 * MiB, array: 'A' }] },
    { name: 'b', host: 'h1', dependsOn: [], antiAffinity: [], disks: [{ target: 'vda', sizeBytes: 20 * MiB, array: 'A' }] },
    { name: 'c', host: 'h2', dependsOn: [], antiAffinity: [], disks: [{ target: 'vda', sizeBytes: 4 * MiB, array: 'B' }] },
  ];
  const limits: Limits = { mirrorsPerHost: 4, downWindows: 4, global: 10, bundleMaxSize: 4, arrayBandwidthKiB: { A: 1024, B: 4096 } };

  test('hand-computed: head 1.5 s + array A 30 s + tail 3.5 s', () => {
    const bound = makespanLowerBound(vms, limits, () => timings, 1024);
    // total 34 MiB over 5 MiB/s is 6.8 s; A holds 30 MiB at 1 MiB/s: 30 s
    expect(bound.bandwidthMs).toBeCloseTo(30_000, 6);
    expect(bound.bottleneck).toBe('array:A');
    expect(bound.headMs).toBe(1500); // shutdown 1 s + mirror setup 0.5 s
    expect(bound.tailMs).toBe(3500); // shutdown 1 s + mirror stop 0.5 s + boot 2 s
    // b alone: 1 + 0.5 + max(boot 2, 20 MiB at 1 MiB/s) + 1 + 0.5 + 2
    expect(bound.longestVmMs).toBe(25_000);
    expect(bound.ms).toBeCloseTo(35_000, 6);
  });

  test("a window that ends at the start's answer (the real engine): the last term is the start, the T1 boot still overlaps the copy", () => {
    const bound = makespanLowerBound(vms, limits, () => ({ ...timings, startMs: 200 }), 1024);
    expect(bound.tailMs).toBe(1700); // shutdown 1 s + mirror stop 0.5 s + start 0.2 s
    // b alone: 1 + 0.5 + max(boot 2, 20 MiB at 1 MiB/s) + 1 + 0.5 + start 0.2
    expect(bound.longestVmMs).toBe(23_200);
    expect(bound.ms).toBeCloseTo(33_200, 6);
  });

  test('the rolling scheduler reaches it on this fleet', () => {
    // a and b resync at 512 KiB/s each; a ends at 21.5 s, b then runs alone at 1 MiB/s to 31.5 s, T2 to 35 s
    const result = simulateFleet(vms, limits, { timings: () => timings, scheduler: { mirrorSpeedKiB: 1024 } });
    expect(result.makespanMs).toBeCloseTo(35_000, 6);
    expect(result.ratio).toBeCloseTo(1, 9);
    // T1: shutdown 1 s + mirror setup 0.5 s + boot 2 s; T2: shutdown 1 s + mirror stop 0.5 s + boot 2 s
    expect(result.downtime.find((d) => d.vm === 'b')).toEqual({ vm: 'b', t1Ms: 3500, t2Ms: 3500 });
  });
});

// ---- property tests over random fleets -------------------------------------------------------

interface RandomFleet {
  vms: FleetVm[];
  limits: Limits;
  timings: Map<string, VmTimings>;
  resyncSpeedMaxKiB: number | undefined;
  seed: number;
}

const randomFleet: fc.Arbitrary<RandomFleet> = fc
  .record({
    count: fc.integer({ min: 1, max: 18 }),
    hosts: fc.integer({ min: 1, max: 4 }),
    arrays: fc.integer({ min: 1, max: 3 }),
    seed: fc.integer({ min: 0, max: 1_000_000 }),
    mirrorsPerHost: fc.integer({ min: 1, max: 5 }),
    downWindows: fc.integer({ min: 1, max: 4 }),
    global: fc.integer({ min: 1, max: 10 }),
    bundleMaxSize: fc.integer({ min: 1, max: 5 }),
    hostBandwidthKiB: fc.option(fc.integer({ min: 500, max: 5000 }), { nil: undefined }),
    arrayBandwidthKiB: fc.array(fc.integer({ min: 300, max: 8000 }), { minLength: 3, maxLength: 3 }),
    resyncSpeedMaxKiB: fc.option(fc.integer({ min: 200, max: 3000 }), { nil: undefined }),
    vmRolls: fc.array(
      fc.record({
        host: fc.nat(),
        deps: fc.array(fc.nat(), { maxLength: 3 }),
        group: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
        disks: fc.array(fc.record({ mib: fc.integer({ min: 0, max: 40 }), array: fc.nat() }), { maxLength: 3 }),
        shutdownMs: fc.integer({ min: 0, max: 5000 }),
        bootMs: fc.integer({ min: 0, max: 8000 }),
      }),
      { minLength: 18, maxLength: 18 },
    ),
  })
  .map((r) => {
    const names = Array.from({ length: r.count }, (_, i) => `vm${String(i).padStart(2, '0')}`);
    const arrays = ['A', 'B', 'C'].slice(0, r.arrays);
    const timingMap = new Map<string, VmTimings>();
    const vms = names.map((name, i): FleetVm => {
      const roll = r.vmRolls[i]!;
      timingMap.set(name, { shutdownMs: roll.shutdownMs, bootMs: roll.bootMs, mirrorSetupMs: 300, mirrorStopMs: 300 });
      return {
        name,
        host: `hv${roll.host % r.hosts}`,
        // only on earlier VMs: acyclic by construction
        dependsOn: i === 0 ? [] : [...new Set(roll.deps.map((d) => names[d % i]!))],
        antiAffinity: roll.group === undefined ? [] : [`g${roll.group}`],
        disks: roll.disks.map((d, k) => ({ target: `vd${'abc'[k]}`, sizeBytes: d.mib * MiB, array: arrays[d.array % arrays.length]! })),
      };
    });
    const arrayBandwidthKiB: Record<string, number> = {};
    arrays.forEach((a, i) => (arrayBandwidthKiB[a] = r.arrayBandwidthKiB[i]!));
    const limits: Limits = {
      mirrorsPerHost: r.mirrorsPerHost, downWindows: r.downWindows, global: r.global,
      bundleMaxSize: r.bundleMaxSize, arrayBandwidthKiB,
      ...(r.hostBandwidthKiB === undefined ? {} : { hostBandwidthKiB: r.hostBandwidthKiB }),
    };
    return { vms, limits, timings: timingMap, resyncSpeedMaxKiB: r.resyncSpeedMaxKiB, seed: r.seed };
  });

function simulate(fleet: RandomFleet, strategy: SimOptions['strategy']): SimResult {
  return simulateFleet(fleet.vms, fleet.limits, {
    strategy,
    timings: (vm) => fleet.timings.get(vm.name)!,
    scheduler: { seed: fleet.seed, ...(fleet.resyncSpeedMaxKiB === undefined ? {} : { resyncSpeedMaxKiB: fleet.resyncSpeedMaxKiB }) },
    recordRates: true,
  });
}

/** Replays the timeline and the rate samples; throws on the first broken rule. */
function checkRun(fleet: RandomFleet, result: SimResult): void {
  const plan = planBundles(fleet.vms, fleet.limits);
  const vmByName = new Map(fleet.vms.map((v) => [v.name, v]));
  const { limits } = fleet;
  const up = new Map(fleet.vms.map((v) => [v.name, true]));
  const stopped = new Set<string>();
  const inFlight = new Set<number>();
  let windows = 0;
  const resyncsLeft = new Map<number, number>();
  const upCount = new Map<string, number>();
  const fail = (what: string, t: number) => {
    throw new Error(`${what} at t=${t}`);
  };
  for (const e of result.timeline) {
    switch (e.kind) {
      case 'window-start': {
        windows++;
        if (windows > limits.downWindows) fail(`${windows} down windows`, e.t);
        const bundle = plan.bundles[e.bundle]!;
        if (e.phase === 'T1') {
          inFlight.add(e.bundle);
          resyncsLeft.set(e.bundle, bundle.vms.reduce((n, v) => n + vmByName.get(v)!.disks.length, 0));
          const vmsInFlight = [...inFlight].reduce((n, b) => n + plan.bundles[b]!.vms.length, 0);
          if (vmsInFlight > limits.global && inFlight.size > 1) fail(`${vmsInFlight} VMs in flight`, e.t);
          const perHost = new Map<string, Set<number>>();
          const mirrors = new Map<string, number>();
          for (const b of inFlight) {
            for (const v of plan.bundles[b]!.vms) {
              const vm = vmByName.get(v)!;
              if (vm.disks.length === 0) continue;
              mirrors.set(vm.host, (mirrors.get(vm.host) ?? 0) + vm.disks.length);
              perHost.set(vm.host, (perHost.get(vm.host) ?? new Set()).add(b));
            }
          }
          for (const [host, count] of mirrors) {
            if (count > limits.mirrorsPerHost && perHost.get(host)!.size > 1) fail(`${count} mirrors on ${host}`, e.t);
          }
        } else if (resyncsLeft.get(e.bundle) !== 0) fail(`bundle ${e.bundle} entered T2 before its resyncs ended`, e.t);
        break;
      }
      case 'window-end':
        windows--;
        if (e.phase === 'T2') inFlight.delete(e.bundle);
        break;
      case 'vm-stop': {
        // dependents in the same bundle stop first
        const b = plan.bundleOf.get(e.vm)!;
        for (const other of fleet.vms) {
          if (other.dependsOn.includes(e.vm) && plan.bundleOf.get(other.name) === b && !stopped.has(other.name)) {
            fail(`${e.vm} stopped before its dependent ${other.name}`, e.t);
          }
        }
        up.set(e.vm, false);
        // anti-affinity: no other VM of the group is down
        for (const g of vmByName.get(e.vm)!.antiAffinity) {
          for (const other of fleet.vms) {
            if (other.name !== e.vm && other.antiAffinity.includes(g) && up.get(other.name) === false) {
              fail(`${e.vm} and ${other.name} (group ${g}) down together`, e.t);
            }
          }
        }
        break;
      }
      case 'vm-stopped':
        stopped.add(e.vm);
        break;
      case 'vm-start':
        for (const dep of vmByName.get(e.vm)!.dependsOn) if (up.get(dep) !== true) fail(`${e.vm} started while ${dep} is down`, e.t);
        stopped.delete(e.vm);
        break;
      case 'vm-up':
        up.set(e.vm, true);
        upCount.set(e.vm, (upCount.get(e.vm) ?? 0) + 1);
        break;
      case 'resync-end': {
        const b = plan.bundleOf.get(e.vm)!;
        resyncsLeft.set(b, resyncsLeft.get(b)! - 1);
        break;
      }
      case 'resync-start':
        break;
    }
  }
  // every VM went through both windows and is up; every bundle is done
  for (const vm of fleet.vms) expect(upCount.get(vm.name)).toBe(2);
  expect(result.bundlesDone).toBe(plan.bundles.length);
  expect(windows).toBe(0);
  // bandwidth: no host, no array, no mirror above its limit at any sample
  for (const sample of result.rates) {
    const hosts = new Map<string, number>();
    const arrays = new Map<string, number>();
    for (const m of sample.mirrors) {
      if (fleet.resyncSpeedMaxKiB !== undefined && m.kiB > fleet.resyncSpeedMaxKiB) fail(`${m.key} at ${m.kiB} KiB/s`, sample.t);
      hosts.set(m.host, (hosts.get(m.host) ?? 0) + m.kiB);
      arrays.set(m.array, (arrays.get(m.array) ?? 0) + m.kiB);
    }
    for (const [h, sum] of hosts) if (limits.hostBandwidthKiB !== undefined && sum > limits.hostBandwidthKiB) fail(`host ${h} at ${sum} KiB/s`, sample.t);
    for (const [a, sum] of arrays) if (sum > limits.arrayBandwidthKiB[a]!) fail(`array ${a} at ${sum} KiB/s`, sample.t);
  }
  expect(result.makespanMs).toBeGreaterThanOrEqual(result.lowerBound.ms * (1 - 1e-9));
}

describe('fleet simulation properties', () => {
  test('rolling scheduler: no limit exceeded, anti-affinity and start gate hold, every VM done', () => {
    fc.assert(fc.property(randomFleet, (fleet) => checkRun(fleet, simulate(fleet, 'rolling'))), { numRuns: 100, seed: 20261124 });
  });

  test('naive waves obey the same rules', () => {
    fc.assert(fc.property(randomFleet, fc.integer({ min: 1, max: 6 }), (fleet, waveBundles) => checkRun(fleet, simulate(fleet, { waveBundles }))), {
      numRuns: 60, seed: 11,
    });
  });

  test('same fleet and seed, same decisions', () => {
    fc.assert(fc.property(randomFleet, (fleet) => expect(simulate(fleet, 'rolling')).toEqual(simulate(fleet, 'rolling'))), { numRuns: 20, seed: 5 });
  });

  test('checkRun catches a broken rule (the checker can fail)', () => {
    const fleet: RandomFleet = {
      vms: [
        { name: 'x', host: 'h', dependsOn: [], antiAffinity: ['g'], disks: [] },
        { name: 'y', host: 'h', dependsOn: [], antiAffinity: ['g'], disks: [] },
      ],
      limits: { mirrorsPerHost: 1, downWindows: 2, global: 2, bundleMaxSize: 2, arrayBandwidthKiB: {} },
      timings: new Map([['x', timings], ['y', timings]]),
      resyncSpeedMaxKiB: undefined,
      seed: 1,
    };
    const honest = simulate(fleet, 'rolling');
    checkRun(fleet, honest);
    // forge a run where y goes down while x is down
    const forged = { ...honest, timeline: [...honest.timeline] };
    const xStop = forged.timeline.findIndex((e) => e.kind === 'vm-stop' && e.vm === 'x');
    forged.timeline.splice(xStop + 1, 0, { t: 0, kind: 'vm-stop', vm: 'y', phase: 'T1' });
    expect(() => checkRun(fleet, forged)).toThrow(/down together/);
  });
});

describe('generated fleets', () => {
  test('deterministic, acyclic, the promised shape', () => {
    const one = generateFleet({ vms: 400, seed: 9 });
    expect(generateFleet({ vms: 400, seed: 9 })).toEqual(one);
    expect(generateFleet({ vms: 400, seed: 10 }).vms).not.toEqual(one.vms);
    expect(() => planBundles(one.vms, one.limits)).not.toThrow();
    expect(one.dependsOnPerVm).toBeGreaterThan(1.2);
    expect(one.dependsOnPerVm).toBeLessThan(1.8);
    const paired = one.vms.filter((v) => v.antiAffinity.length > 0).length;
    expect(paired).toBe(40);
    for (const vm of one.vms) {
      for (const d of vm.disks) {
        expect(d.sizeBytes).toBeGreaterThanOrEqual(20 * 1024 ** 3);
        expect(d.sizeBytes).toBeLessThanOrEqual(2048 * 1024 ** 3);
      }
    }
  });

  test('rolling beats naive waves on a generated fleet and stays near the bound', () => {
    const fleet = generateFleet({ vms: 1000, seed: 42 });
    const options = { timings: (vm: FleetVm) => fleet.timings.get(vm.name)!, scheduler: { seed: 42, resyncSpeedMaxKiB: fleet.resyncSpeedMaxKiB }, recordTimeline: false };
    const rolling = simulateFleet(fleet.vms, fleet.limits, options);
    const naive = simulateFleet(fleet.vms, fleet.limits, { ...options, strategy: { waveBundles: 1000 } });
    expect(rolling.ratio).toBeLessThan(1.05);
    expect(naive.makespanMs).toBeGreaterThan(rolling.makespanMs * 1.2);
  });
});
