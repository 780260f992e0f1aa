// A whole fleet run on a virtual clock: the scheduler decides, this file plays the VMs
// (shutdown, mirror setup, boot gated on dependencies) and the resyncs as fluids whose rates
// are recomputed at every event. Also the makespan lower bound (docs/scheduling.md).

import type { Limits } from '../inventory/types.js';
import { planBundles, type BundlePlan, type FleetVm } from './bundles.js';
import { MinHeap } from './heap.js';
import {
  DEFAULT_MIRROR_SPEED_KIB,
  RollingScheduler,
  WaveScheduler,
  type FleetScheduler,
  type SchedulerOptions,
} from './scheduler.js';

/** How long the pieces of a down window take for one VM, in milliseconds. */
export interface VmTimings {
  /** graceful shutdown until the domain is off */
  shutdownMs: number;
  /** start until the health gate passes */
  bootMs: number;
  /** start until the start call answers, when the VM's window ends there and its guest boots
   * after (the real engine: libvirt answers once qemu runs); absent, a window lasts bootMs */
  startMs?: number;
  /** T1: `mdadm --build` + `mdadm --add` + speed cap, for all its disks */
  mirrorSetupMs: number;
  /** T2: `mdadm --stop` + define on the new volumes */
  mirrorStopMs: number;
}

export const DEFAULT_TIMINGS: VmTimings = { shutdownMs: 30_000, bootMs: 60_000, mirrorSetupMs: 3_000, mirrorStopMs: 3_000 };

export type WindowPhase = 'T1' | 'T2';

/** One thing that happened, at virtual time t (ms since the run started). */
export type TimelineEvent =
  | { t: number; kind: 'window-start'; bundle: number; phase: WindowPhase }
  | { t: number; kind: 'window-end'; bundle: number; phase: WindowPhase }
  /** shutdown begins: the VM is down from here */
  | { t: number; kind: 'vm-stop'; vm: string; phase: WindowPhase }
  | { t: number; kind: 'vm-stopped'; vm: string; phase: WindowPhase }
  /** start begins: the start gate passed (bundle stopped, dependencies up) */
  | { t: number; kind: 'vm-start'; vm: string; phase: WindowPhase }
  /** started and healthy: the VM is up from here */
  | { t: number; kind: 'vm-up'; vm: string; phase: WindowPhase }
  | { t: number; kind: 'resync-start'; vm: string; target: string }
  | { t: number; kind: 'resync-end'; vm: string; target: string };

/** The resync rates in force from t until the next sample. */
export interface RateSample {
  t: number;
  mirrors: { key: string; host: string; array: string; kiB: number }[];
}

export interface LowerBound {
  ms: number;
  /** before any byte moves: the shortest shutdown + mirror setup */
  headMs: number;
  /** after the last byte: the shortest T2 window (shutdown + mirror stop + boot) */
  tailMs: number;
  /** the busiest resource's bytes over its bandwidth */
  bandwidthMs: number;
  /** which resource: 'total', 'array:NAME', 'host:NAME' */
  bottleneck: string;
  /** the longest single VM alone: T1, its largest resync at the per-mirror cap, T2 */
  longestVmMs: number;
}

/** When a bundle may start a down window: its members' maintenance windows (a WindowGate of
 * src/control/windows.ts fits). Times are epoch milliseconds. */
export interface SimGate {
  isOpen(now: number): boolean;
  /** 0 when open; Infinity when it never opens */
  msUntilOpen(now: number): number;
}

export interface SimOptions {
  /** per-VM timings (default DEFAULT_TIMINGS) */
  timings?: (vm: FleetVm) => VmTimings;
  /** 'rolling' (sanshift) or fixed waves of at most waveBundles bundles (the naive baseline) */
  strategy?: 'rolling' | { waveBundles: number };
  /** seed, policy resyncSpeedMaxKiB, and mirrorSpeedKiB: the physical top speed of one resync */
  scheduler?: SchedulerOptions;
  /** keep every bandwidth allocation (tests; large) */
  recordRates?: boolean;
  /** keep the timeline (default true) */
  recordTimeline?: boolean;
  /** reuse a plan already made */
  plan?: BundlePlan;
  /** the gate of each bundle (bundles with the same windows may share one); undefined: always open */
  gateOf?: (bundle: number) => SimGate | undefined;
  /** the epoch milliseconds of virtual time 0, where the gates are asked (default 0) */
  startAtMs?: number;
  /** bundles holding a canary (rollout.canaries): no other bundle enters T1 before they are all done */
  canaryBundles?: readonly number[];
}

export interface VmDowntime {
  vm: string;
  t1Ms: number;
  t2Ms: number;
}

export interface SimResult {
  makespanMs: number;
  lowerBound: LowerBound;
  /** makespan / lower bound */
  ratio: number;
  /** sorted by VM name */
  downtime: VmDowntime[];
  timeline: TimelineEvent[];
  rates: RateSample[];
  bundlesDone: number;
  bundlesFailed: number;
  /** events the clock went through, to size the run */
  steps: number;
}

/**
 * The makespan no scheduler can beat with these resources (docs/scheduling.md):
 * max(head + max(bytes/bandwidth over total, arrays, hosts) + tail, longest single VM).
 */
export function makespanLowerBound(
  vms: readonly FleetVm[],
  limits: Pick<Limits, 'hostBandwidthKiB' | 'arrayBandwidthKiB'>,
  timingsOf: (vm: FleetVm) => VmTimings,
  perMirrorKiB: number,
): LowerBound {
  const hostBytes = new Map<string, number>();
  const arrayBytes = new Map<string, number>();
  let total = 0;
  let head = Infinity;
  let tail = Infinity;
  let longestVm = 0;
  for (const vm of vms) {
    const t = timingsOf(vm);
    let largest = 0;
    for (const disk of vm.disks) {
      total += disk.sizeBytes;
      hostBytes.set(vm.host, (hostBytes.get(vm.host) ?? 0) + disk.sizeBytes);
      arrayBytes.set(disk.array, (arrayBytes.get(disk.array) ?? 0) + disk.sizeBytes);
      largest = Math.max(largest, disk.sizeBytes);
    }
    const resyncMs = (largest / 1024 / perMirrorKiB) * 1000;
    // resync runs from mirror setup, overlapping the T1 boot; T2 cannot start before both
    const lastStartMs = t.startMs ?? t.bootMs;
    longestVm = Math.max(
      longestVm,
      t.shutdownMs + t.mirrorSetupMs + Math.max(t.bootMs, resyncMs) + t.shutdownMs + t.mirrorStopMs + lastStartMs,
    );
    if (vm.disks.length > 0) {
      head = Math.min(head, t.shutdownMs + t.mirrorSetupMs);
      tail = Math.min(tail, t.shutdownMs + t.mirrorStopMs + lastStartMs);
    }
  }
  if (total === 0) {
    return { ms: longestVm, headMs: 0, tailMs: 0, bandwidthMs: 0, bottleneck: 'none', longestVmMs: longestVm };
  }
  const msFor = (bytes: number, kiBps: number): number => (bytes / 1024 / kiBps) * 1000;
  let sumArrays = 0;
  for (const a of arrayBytes.keys()) sumArrays += limits.arrayBandwidthKiB[a] ?? Infinity;
  const sumHosts = hostBytes.size * (limits.hostBandwidthKiB ?? Infinity);
  let bandwidthMs = msFor(total, Math.min(sumArrays, sumHosts));
  let bottleneck = 'total';
  for (const [a, bytes] of arrayBytes) {
    const ms = msFor(bytes, limits.arrayBandwidthKiB[a] ?? Infinity);
    if (ms > bandwidthMs) [bandwidthMs, bottleneck] = [ms, `array:${a}`];
  }
  for (const [h, bytes] of hostBytes) {
    const ms = msFor(bytes, limits.hostBandwidthKiB ?? Infinity);
    if (ms > bandwidthMs) [bandwidthMs, bottleneck] = [ms, `host:${h}`];
  }
  const viaResources = head + bandwidthMs + tail;
  return {
    ms: Math.max(viaResources, longestVm),
    headMs: head,
    tailMs: tail,
    bandwidthMs,
    bottleneck,
    longestVmMs: longestVm,
  };
}

interface Mirror {
  vm: number;
  target: string;
  key: string;
  host: string;
  array: string;
  /** KiB left at lastT */
  remaining: number;
  lastT: number;
  rate: number;
  endT: number;
}

const EventKind = { stopped: 0, setupDone: 1, up: 2 } as const;
type EventKind = (typeof EventKind)[keyof typeof EventKind];
interface ClockEvent {
  t: number;
  seq: number;
  kind: EventKind;
  vm: number;
}

/** Plays a fleet run on a virtual clock. Deterministic: same input and seed, same result. */
export function simulateFleet(vms: readonly FleetVm[], limits: Limits, options: SimOptions = {}): SimResult {
  const plan = options.plan ?? planBundles(vms, limits);
  const timingsOf = options.timings ?? (() => DEFAULT_TIMINGS);
  const physical = options.scheduler?.mirrorSpeedKiB ?? DEFAULT_MIRROR_SPEED_KIB;
  const perMirror = Math.min(physical, options.scheduler?.resyncSpeedMaxKiB ?? Infinity);
  // the simulated engine knows the physical speed: no allocation above what a mirror can do
  const schedulerOptions: SchedulerOptions = { ...options.scheduler, resyncSpeedMaxKiB: perMirror };
  const strategy = options.strategy ?? 'rolling';
  const startAt = options.startAtMs ?? 0;
  const gates = plan.bundles.map((b) => options.gateOf?.(b.id));
  const distinctGates = [...new Set(gates.filter((g): g is SimGate => g !== undefined))];
  const canaries = new Set(options.canaryBundles ?? []);
  let canariesRunning = canaries.size;
  // no T1 or T2 grant while the bundle's window is closed; resyncs run on meanwhile. Canaries
  // first: the others' T1 waits until every canary bundle is done (as budget.ts decides)
  if (distinctGates.length > 0 || canaries.size > 0) {
    schedulerOptions.mayOpenWindow = (b, phase) => {
      if (phase === 'T1' && canariesRunning > 0 && !canaries.has(b)) return false;
      return gates[b]?.isOpen(startAt + now) !== false;
    };
  }
  const scheduler: FleetScheduler =
    strategy === 'rolling'
      ? new RollingScheduler(plan, vms, limits, schedulerOptions)
      : new WaveScheduler(plan, vms, limits, strategy, schedulerOptions);
  const recordTimeline = options.recordTimeline ?? true;

  const graph = plan.graph;
  const n = graph.names.length;
  const vmOf: FleetVm[] = new Array(n);
  for (const vm of vms) vmOf[graph.indexOf.get(vm.name)!] = vm;
  const timings = vmOf.map((vm) => timingsOf(vm));
  const bundleOfVm = Int32Array.from(graph.names, (name) => plan.bundleOf.get(name)!);
  const membersOf = plan.bundles.map((b) => b.startOrder.map((name) => graph.indexOf.get(name)!));
  // stop gate: dependents first, inside the bundle
  const dependentsInBundle = new Int32Array(n);
  for (let v = 0; v < n; v++) {
    for (const u of graph.dependents[v]!) if (bundleOfVm[u] === bundleOfVm[v]) dependentsInBundle[v]!++;
  }

  const up = new Uint8Array(n).fill(1);
  const ready = new Uint8Array(n);
  const booting = new Uint8Array(n);
  const leftToStop = new Int32Array(n);
  const downSince = new Float64Array(n);
  const downT1 = new Float64Array(n);
  const downT2 = new Float64Array(n);
  const bundlePhase: (WindowPhase | undefined)[] = new Array(plan.bundles.length).fill(undefined);
  const stoppedIn = new Int32Array(plan.bundles.length);
  const upIn = new Int32Array(plan.bundles.length);
  let bundlesDone = 0;

  const timeline: TimelineEvent[] = [];
  const rates: RateSample[] = [];
  const emit = (e: TimelineEvent): void => {
    if (recordTimeline) timeline.push(e);
  };
  const queue = new MinHeap<ClockEvent>((a, b) => a.t < b.t || (a.t === b.t && a.seq < b.seq));
  let seq = 0;
  let now = 0;
  let steps = 0;
  const at = (t: number, kind: EventKind, vm: number): void => queue.push({ t, seq: seq++, kind, vm });
  /** the next instant a closed gate opens: the scheduler may then grant what waited for it */
  const nextGateOpening = (): number => {
    let next = Infinity;
    for (const g of distinctGates) {
      const wait = g.msUntilOpen(startAt + now);
      if (wait > 0) next = Math.min(next, now + wait);
    }
    return next;
  };

  const active: Mirror[] = [];
  let mirrorsChanged = false;

  const beginStop = (v: number): void => {
    const phase = bundlePhase[bundleOfVm[v]!]!;
    up[v] = 0;
    downSince[v] = now;
    emit({ t: now, kind: 'vm-stop', vm: graph.names[v]!, phase });
    at(now + timings[v]!.shutdownMs, EventKind.stopped, v);
  };

  const tryStart = (b: number): void => {
    const phase = bundlePhase[b];
    if (phase === undefined || stoppedIn[b]! < membersOf[b]!.length) return;
    for (const v of membersOf[b]!) {
      if (ready[v] !== 1 || booting[v] === 1) continue;
      if (graph.dependsOn[v]!.some((d) => up[d] !== 1)) continue;
      booting[v] = 1;
      emit({ t: now, kind: 'vm-start', vm: graph.names[v]!, phase });
      at(now + timings[v]!.bootMs, EventKind.up, v);
    }
  };

  const enterWindow = (b: number, phase: WindowPhase): void => {
    bundlePhase[b] = phase;
    stoppedIn[b] = 0;
    upIn[b] = 0;
    emit({ t: now, kind: 'window-start', bundle: b, phase });
    for (const v of membersOf[b]!) {
      ready[v] = 0;
      booting[v] = 0;
      leftToStop[v] = dependentsInBundle[v]!;
    }
    for (const v of plan.bundles[b]!.stopOrder.map((name) => graph.indexOf.get(name)!)) {
      if (leftToStop[v] === 0) beginStop(v);
    }
  };

  const handle = (e: ClockEvent): void => {
    const v = e.vm;
    const b = bundleOfVm[v]!;
    const phase = bundlePhase[b]!;
    const name = graph.names[v]!;
    if (e.kind === EventKind.stopped) {
      emit({ t: now, kind: 'vm-stopped', vm: name, phase });
      stoppedIn[b]!++;
      for (const d of graph.dependsOn[v]!) {
        if (bundleOfVm[d] === b && --leftToStop[d]! === 0) beginStop(d);
      }
      const t = timings[v]!;
      at(now + (phase === 'T1' ? t.mirrorSetupMs : t.mirrorStopMs), EventKind.setupDone, v);
      tryStart(b);
    } else if (e.kind === EventKind.setupDone) {
      if (phase === 'T1') {
        const vm = vmOf[v]!;
        for (const disk of vm.disks) {
          const key = `${vm.name}/${disk.target}`;
          emit({ t: now, kind: 'resync-start', vm: vm.name, target: disk.target });
          active.push({
            vm: v, target: disk.target, key, host: vm.host, array: disk.array,
            remaining: disk.sizeBytes / 1024, lastT: now, rate: 0, endT: Infinity,
          });
          scheduler.resyncStarted(vm.name, disk.target);
          mirrorsChanged = true;
        }
      }
      ready[v] = 1;
      tryStart(b);
    } else {
      up[v] = 1;
      const down = now - downSince[v]!;
      if (phase === 'T1') downT1[v]! += down;
      else downT2[v]! += down;
      emit({ t: now, kind: 'vm-up', vm: name, phase });
      upIn[b]!++;
      tryStart(b);
      // dependents in other bundles may have been waiting for this VM
      let last = -1;
      for (const u of graph.dependents[v]!) {
        const ub = bundleOfVm[u]!;
        if (ub !== b && ub !== last && bundlePhase[ub] !== undefined) tryStart(ub);
        last = ub;
      }
      if (upIn[b] === membersOf[b]!.length) {
        bundlePhase[b] = undefined;
        emit({ t: now, kind: 'window-end', bundle: b, phase });
        scheduler.windowEnded(b);
        if (phase === 'T2') bundlesDone++;
        if (phase === 'T2' && canaries.has(b)) canariesRunning--;
      }
    }
  };

  const reallocate = (): void => {
    const allocation = scheduler.allocateBandwidth();
    for (const m of active) {
      m.remaining = Math.max(0, m.remaining - (m.rate * (now - m.lastT)) / 1000);
      m.lastT = now;
      m.rate = Math.min(allocation.get(m.key) ?? 0, physical);
      m.endT = m.remaining === 0 ? now : m.rate > 0 ? now + (m.remaining / m.rate) * 1000 : Infinity;
    }
    if (options.recordRates) {
      rates.push({ t: now, mirrors: active.map((m) => ({ key: m.key, host: m.host, array: m.array, kiB: m.rate })) });
    }
  };

  const grant = (): void => {
    const { enterT2, enterT1 } = scheduler.grant();
    for (const b of enterT2) enterWindow(b, 'T2');
    for (const b of enterT1) enterWindow(b, 'T1');
  };

  grant();
  while (!scheduler.finished) {
    if (mirrorsChanged) {
      reallocate();
      mirrorsChanged = false;
    }
    let nextResync = Infinity;
    for (const m of active) if (m.endT < nextResync) nextResync = m.endT;
    const nextEvent = queue.peek()?.t ?? Infinity;
    const t = Math.min(nextResync, nextEvent, distinctGates.length > 0 ? nextGateOpening() : Infinity);
    if (!Number.isFinite(t)) {
      const waiting = plan.bundles.filter((b) => gates[b.id] !== undefined && scheduler.stateOf(b.id) !== 'done' && scheduler.stateOf(b.id) !== 'failed');
      if (waiting.length > 0) throw new Error(`simulation stalled at ${now} ms: the maintenance windows of ${waiting.map((b) => b.vms.join('+')).slice(0, 5).join(', ')} never open (or never together, for a bundle)`);
      throw new Error(`simulation stalled at ${now} ms: nothing can move (limits too tight?)`);
    }
    now = t;
    steps++;
    // resyncs ending now first, then the VM events of this instant in the order they were scheduled
    for (let i = 0; i < active.length; ) {
      const m = active[i]!;
      if (m.endT <= now) {
        active[i] = active[active.length - 1]!;
        active.pop();
        emit({ t: now, kind: 'resync-end', vm: graph.names[m.vm]!, target: m.target });
        scheduler.resyncEnded(graph.names[m.vm]!, m.target);
        mirrorsChanged = true;
      } else i++;
    }
    while (queue.size > 0 && queue.peek()!.t <= now) handle(queue.pop()!);
    grant();
  }

  const lowerBound = makespanLowerBound(vms, limits, timingsOf, perMirror);
  const downtime: VmDowntime[] = graph.names.map((vm, v) => ({ vm, t1Ms: downT1[v]!, t2Ms: downT2[v]! }));
  return {
    makespanMs: now,
    lowerBound,
    ratio: lowerBound.ms > 0 ? now / lowerBound.ms : 1,
    downtime,
    timeline,
    rates,
    bundlesDone,
    bundlesFailed: plan.bundles.length - bundlesDone,
    steps,
  };
}
