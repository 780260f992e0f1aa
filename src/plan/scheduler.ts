// The fleet scheduler: holds what is in use (down windows, mirrors per host, VMs in flight,
// anti-affinity groups, resync bandwidth) and answers "which bundles may enter T1 / T2 now".
// No clock and no I/O: the real engine and the virtual-clock simulation drive it with the same
// calls (docs/scheduling.md).

import type { Limits } from '../inventory/types.js';
import type { BundlePlan, FleetVm } from './bundles.js';

export const BundleState = {
  pending: 'pending',
  /** in its T1 down window: stopping, building mirrors, starting on them */
  t1: 't1',
  /** running on its mirrors, resyncs in progress */
  syncing: 'syncing',
  /** every resync ended, waiting for a down window */
  readyForT2: 'ready-for-t2',
  /** in its T2 down window: stopping, stopping mirrors, starting on the new volumes */
  t2: 't2',
  done: 'done',
  failed: 'failed',
} as const;
export type BundleState = (typeof BundleState)[keyof typeof BundleState];

export interface SchedulerOptions {
  /** policy.resyncSpeedMaxKiB: md's sync_speed_max cap per mirror, KiB/s */
  resyncSpeedMaxKiB?: number;
  /** how fast one resync runs when nothing else limits it, KiB/s; sizes how many mirrors keep an array busy (default 200 MiB/s) */
  mirrorSpeedKiB?: number;
  /** spare resync capacity kept per array, in single mirrors, so one finishing mirror never idles the array (default 2) */
  headroomMirrors?: number;
  /** breaks ties between equal bundles; same seed, same decisions */
  seed?: number;
  /**
   * The caller's own say on top of the limits: may this bundle enter this window now? Maintenance
   * windows (src/control/windows.ts), canaries first and the failure budget (budget.ts), a pause.
   * A refusal never holds the queue: the next bundle that may go, goes. Default: always.
   */
  mayOpenWindow?: (bundle: number, phase: 'T1' | 'T2') => boolean;
}

/** What may start now: bundle ids, in the order to start them. */
export interface Grant {
  enterT2: number[];
  enterT1: number[];
}

/** The calls both the engine and the simulation make; RollingScheduler and WaveScheduler answer them. */
export interface FleetScheduler {
  /** Bundles that may enter a down window now; the scheduler counts them as entered. */
  grant(): Grant;
  /** The mirror of vm/target exists and resyncs (after `mdadm --add`). */
  resyncStarted(vm: string, target: string): void;
  /** The mirror of vm/target is in sync. */
  resyncEnded(vm: string, target: string): void;
  /** Every VM of the bundle is up again: its current window (T1 or T2) is over. */
  windowEnded(bundle: number): void;
  /** The bundle left the run (failed, rolled back): release everything it holds. */
  abandon(bundle: number, reason: string): void;
  /** A bundle found mid-way when the run starts: registered as it stands (see FleetResources). */
  resume(bundle: number, stage: 'after-t1' | 'in-t1' | 'in-t2'): void;
  /** sync_speed_max per resyncing mirror, KiB/s, keyed `vm/target`; Infinity: no sanshift limit (write `system`). */
  allocateBandwidth(): Map<string, number>;
  stateOf(bundle: number): BundleState;
  /** true when no bundle is pending or in flight */
  readonly finished: boolean;
}

export const DEFAULT_MIRROR_SPEED_KIB = 200 * 1024;

/** A resync stream as bandwidth sharing sees it. */
export interface MirrorLoad {
  key: string;
  host: string;
  array: string;
}

export interface BandwidthLimits {
  hostBandwidthKiB?: number;
  arrayBandwidthKiB: Record<string, number>;
  /** cap of one mirror (policy.resyncSpeedMaxKiB) */
  perMirrorKiB?: number;
}

/**
 * Max-min fair shares (progressive filling): every mirror gets the same rate until a host, an
 * array or the per-mirror cap is full; mirrors on that resource keep that rate, the others keep
 * rising. Rates are floored to whole KiB/s so no host and no array is ever exceeded.
 */
export function allocateFairShare(mirrors: readonly MirrorLoad[], limits: BandwidthLimits): Map<string, number> {
  const resourceIndex = new Map<string, number>();
  const capacity: number[] = [];
  const onResource: number[][] = [];
  const resourceOf = (id: string, cap: number): number => {
    let r = resourceIndex.get(id);
    if (r === undefined) {
      r = capacity.length;
      resourceIndex.set(id, r);
      capacity.push(cap);
      onResource.push([]);
    }
    return r;
  };
  const touches: [number, number][] = mirrors.map((m, i) => {
    const h = resourceOf(`host\0${m.host}`, limits.hostBandwidthKiB ?? Infinity);
    const a = resourceOf(`array\0${m.array}`, limits.arrayBandwidthKiB[m.array] ?? Infinity);
    onResource[h]!.push(i);
    onResource[a]!.push(i);
    return [h, a];
  });
  const used = new Float64Array(capacity.length);
  const unfrozenOn = Int32Array.from(onResource, (list) => list.length);
  const rate = new Float64Array(mirrors.length);
  const frozen = new Uint8Array(mirrors.length);
  let unfrozen = mirrors.length;
  const perMirror = limits.perMirrorKiB ?? Infinity;
  while (unfrozen > 0) {
    let level = perMirror;
    let bottleneck = -1;
    for (let r = 0; r < capacity.length; r++) {
      if (unfrozenOn[r] === 0) continue;
      const share = Math.max(0, capacity[r]! - used[r]!) / unfrozenOn[r]!;
      if (share < level) {
        level = share;
        bottleneck = r;
      }
    }
    const toFreeze = bottleneck === -1 ? mirrors.map((_, i) => i) : onResource[bottleneck]!;
    for (const i of toFreeze) {
      if (frozen[i] === 1) continue;
      frozen[i] = 1;
      unfrozen--;
      rate[i] = level;
      for (const r of touches[i]!) {
        used[r]! += level;
        unfrozenOn[r]!--;
      }
    }
  }
  const out = new Map<string, number>();
  mirrors.forEach((m, i) => out.set(m.key, Number.isFinite(rate[i]!) ? Math.floor(rate[i]!) : Infinity));
  return out;
}

const mirrorKey = (vm: string, target: string): string => `${vm}/${target}`;

// 32-bit integer mix (murmur3 finaliser): a seeded tie-break that is cheap and stable
function mix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** `recopying`: in sync once (its bundle counted it), copying again: it only takes bandwidth. */
const MirrorState = { idle: 0, reserved: 1, resyncing: 2, synced: 3, recopying: 4 } as const;

type Refusal = 'windows' | 'global' | 'host' | 'affinity' | 'dependency' | 'caller';

/**
 * The bookkeeping both schedulers share: what each bundle holds, and the limit checks.
 * Subclasses only choose WHICH bundle goes next.
 */
abstract class FleetResources implements FleetScheduler {
  protected readonly bundleCount: number;
  protected readonly state: BundleState[];
  /** bundle -> [host index, mirrors on that host] */
  protected readonly hostNeeds: [number, number][][];
  protected readonly groupsOfBundle: number[][];
  protected readonly vmCount: Int32Array;
  /** bundle -> bundles holding the members' dependencies outside it */
  protected readonly dependencyBundles: number[][];
  protected readonly mirrorsOfBundle: number[][];
  /** bundle -> [array index, bytes] */
  protected readonly arrayBytes: [number, number][][];
  protected readonly totalBytes: Float64Array;

  protected readonly hostNames: string[] = [];
  protected readonly arrayNames: string[] = [];
  protected readonly hostBandwidth: number[];
  protected readonly arrayBandwidth: number[];

  protected readonly mirrorHost: number[] = [];
  protected readonly mirrorArray: number[] = [];
  protected readonly mirrorBundle: number[] = [];
  protected readonly mirrorKeys: string[] = [];
  protected readonly mirrorIndex = new Map<string, number>();
  protected readonly mirrorState: Uint8Array;

  protected readonly hostMirrors: Int32Array;
  protected readonly groupDown: Int32Array;
  protected windows = 0;
  protected inFlightVms = 0;
  protected inFlightBundles = 0;
  protected readonly unsynced: Int32Array;
  protected readonly windowOver: Uint8Array;
  protected readonly resyncing = new Set<number>();
  /** mirrors reserved or resyncing: they will draw bandwidth */
  protected readonly unfinished = new Set<number>();
  protected readonly unfinishedOnHost: Int32Array;
  protected unsettled: number;
  readonly failures = new Map<number, string>();

  protected constructor(
    readonly plan: BundlePlan,
    vms: readonly FleetVm[],
    readonly limits: Limits,
    readonly options: SchedulerOptions,
  ) {
    const vmByName = new Map(vms.map((vm) => [vm.name, vm]));
    const hostIndex = new Map<string, number>();
    const arrayIndex = new Map<string, number>();
    const groupIndex = new Map<string, number>();
    const indexIn = (map: Map<string, number>, names: string[] | undefined, key: string): number => {
      let i = map.get(key);
      if (i === undefined) {
        i = map.size;
        map.set(key, i);
        names?.push(key);
      }
      return i;
    };
    const n = plan.bundles.length;
    this.bundleCount = n;
    this.unsettled = n;
    this.state = new Array<BundleState>(n).fill(BundleState.pending);
    this.vmCount = new Int32Array(n);
    this.totalBytes = new Float64Array(n);
    this.unsynced = new Int32Array(n);
    this.windowOver = new Uint8Array(n);
    this.hostNeeds = [];
    this.groupsOfBundle = [];
    this.dependencyBundles = [];
    this.mirrorsOfBundle = [];
    this.arrayBytes = [];
    for (const bundle of plan.bundles) {
      const hosts = new Map<number, number>();
      const arrays = new Map<number, number>();
      const groups = new Set<number>();
      const mirrors: number[] = [];
      const dependencies = new Set<number>();
      for (const name of bundle.vms) {
        const vm = vmByName.get(name);
        if (vm === undefined) throw new Error(`bundle ${bundle.id} names ${name}, which is not among the VMs`);
        const h = indexIn(hostIndex, this.hostNames, vm.host);
        for (const g of vm.antiAffinity) groups.add(indexIn(groupIndex, undefined, g));
        for (const disk of vm.disks) {
          const a = indexIn(arrayIndex, this.arrayNames, disk.array);
          const m = this.mirrorKeys.length;
          this.mirrorKeys.push(mirrorKey(vm.name, disk.target));
          this.mirrorIndex.set(this.mirrorKeys[m]!, m);
          this.mirrorHost.push(h);
          this.mirrorArray.push(a);
          this.mirrorBundle.push(bundle.id);
          mirrors.push(m);
          hosts.set(h, (hosts.get(h) ?? 0) + 1);
          arrays.set(a, (arrays.get(a) ?? 0) + disk.sizeBytes);
          this.totalBytes[bundle.id]! += disk.sizeBytes;
        }
      }
      for (const name of bundle.externalDependencies) dependencies.add(plan.bundleOf.get(name)!);
      this.vmCount[bundle.id] = bundle.vms.length;
      this.hostNeeds.push([...hosts].sort((a, b) => a[0] - b[0]));
      this.arrayBytes.push([...arrays].sort((a, b) => a[0] - b[0]));
      this.groupsOfBundle.push([...groups].sort((a, b) => a - b));
      this.dependencyBundles.push([...dependencies].sort((a, b) => a - b));
      this.mirrorsOfBundle.push(mirrors);
    }
    this.mirrorState = new Uint8Array(this.mirrorKeys.length);
    this.hostMirrors = new Int32Array(this.hostNames.length);
    this.unfinishedOnHost = new Int32Array(this.hostNames.length);
    this.groupDown = new Int32Array(groupIndex.size);
    this.hostBandwidth = this.hostNames.map(() => limits.hostBandwidthKiB ?? Infinity);
    this.arrayBandwidth = this.arrayNames.map((a) => limits.arrayBandwidthKiB[a] ?? Infinity);
  }

  get finished(): boolean {
    return this.unsettled === 0;
  }

  stateOf(bundle: number): BundleState {
    return this.state[bundle]!;
  }

  abstract grant(): Grant;

  /** Why a bundle may not enter T1 now, or undefined when it may. A bundle bigger than a limit goes when that resource is otherwise idle. */
  protected refusalForT1(b: number): Refusal | undefined {
    if (this.windows >= Math.max(1, this.limits.downWindows)) return 'windows';
    const vms = this.vmCount[b]!;
    if (this.inFlightVms > 0 && this.inFlightVms + vms > this.limits.global) return 'global';
    for (const [h, count] of this.hostNeeds[b]!) {
      const used = this.hostMirrors[h]!;
      if (used > 0 && used + count > this.limits.mirrorsPerHost) return 'host';
    }
    for (const g of this.groupsOfBundle[b]!) if (this.groupDown[g]! > 0) return 'affinity';
    // not while a dependency is itself down: its window would stretch ours (the start gate waits)
    for (const d of this.dependencyBundles[b]!) {
      const s = this.state[d]!;
      if (s === BundleState.t1 || s === BundleState.t2) return 'dependency';
    }
    if (this.options.mayOpenWindow?.(b, 'T1') === false) return 'caller';
    return undefined;
  }

  protected mayEnterT2(b: number, phase: 'T1' | 'T2' = 'T2'): boolean {
    if (this.windows >= Math.max(1, this.limits.downWindows)) return false;
    for (const g of this.groupsOfBundle[b]!) if (this.groupDown[g]! > 0) return false;
    return this.options.mayOpenWindow?.(b, phase) !== false;
  }

  protected enterT1(b: number): void {
    this.state[b] = BundleState.t1;
    this.openWindow(b);
    this.inFlightVms += this.vmCount[b]!;
    this.inFlightBundles++;
    for (const [h, count] of this.hostNeeds[b]!) this.hostMirrors[h]! += count;
    for (const m of this.mirrorsOfBundle[b]!) {
      this.mirrorState[m] = MirrorState.reserved;
      this.unfinished.add(m);
      this.unfinishedOnHost[this.mirrorHost[m]!]!++;
    }
    this.unsynced[b] = this.mirrorsOfBundle[b]!.length;
    this.windowOver[b] = 0;
  }

  protected enterT2(b: number): void {
    this.state[b] = BundleState.t2;
    this.openWindow(b);
  }

  /**
   * A bundle found mid-way when a run starts (a resumed run), registered as it stands: past its
   * T1 window (in flight, its mirrors held and copying, no window open), or inside a window the
   * interrupted run had opened (it counts against the down windows until it ends). From there it
   * goes through the same grants as any other bundle: down windows, anti-affinity, limits.
   */
  resume(b: number, stage: 'after-t1' | 'in-t1' | 'in-t2'): void {
    if (this.state[b] !== BundleState.pending) return;
    this.enterT1(b);
    if (stage === 'in-t1') {
      this.onResumed(b);
      return;
    }
    this.closeWindow(b);
    this.windowOver[b] = 1;
    for (const m of this.mirrorsOfBundle[b]!) {
      this.mirrorState[m] = MirrorState.resyncing;
      this.resyncing.add(m);
    }
    if (stage === 'in-t2') {
      // its copies are complete: the window that was open is the cutover's
      for (const m of this.mirrorsOfBundle[b]!) {
        this.mirrorState[m] = MirrorState.synced;
        this.resyncing.delete(m);
        this.dropUnfinished(m);
      }
      this.unsynced[b] = 0;
      this.enterT2(b);
    } else this.state[b] = BundleState.syncing;
    this.onResumed(b);
  }

  private openWindow(b: number): void {
    this.windows++;
    for (const g of this.groupsOfBundle[b]!) this.groupDown[g]!++;
  }

  private closeWindow(b: number): void {
    this.windows--;
    for (const g of this.groupsOfBundle[b]!) this.groupDown[g]!--;
  }

  private mirror(vm: string, target: string): number {
    const m = this.mirrorIndex.get(mirrorKey(vm, target));
    if (m === undefined) throw new Error(`no disk ${target} of VM ${vm} in the plan`);
    return m;
  }

  resyncStarted(vm: string, target: string): void {
    const m = this.mirror(vm, target);
    const s = this.mirrorState[m];
    if (s !== MirrorState.reserved && s !== MirrorState.synced) return;
    // in sync before (its bundle counted it), copying again: rebuilt because NEW was found
    // stale at the cutover (I3); it takes a share until it ends again, its bundle stays ready
    this.mirrorState[m] = s === MirrorState.synced ? MirrorState.recopying : MirrorState.resyncing;
    this.resyncing.add(m);
  }

  resyncEnded(vm: string, target: string): void {
    const m = this.mirror(vm, target);
    const s = this.mirrorState[m];
    if (s === MirrorState.recopying) {
      this.mirrorState[m] = MirrorState.synced;
      this.resyncing.delete(m);
      return;
    }
    if (s !== MirrorState.reserved && s !== MirrorState.resyncing) return;
    this.mirrorState[m] = MirrorState.synced;
    this.resyncing.delete(m);
    this.dropUnfinished(m);
    const b = this.mirrorBundle[m]!;
    this.unsynced[b]!--;
    if (this.unsynced[b] === 0 && this.state[b] === BundleState.syncing) this.becomeReady(b);
  }

  private dropUnfinished(m: number): void {
    if (this.unfinished.delete(m)) this.unfinishedOnHost[this.mirrorHost[m]!]!--;
  }

  windowEnded(b: number): void {
    const s = this.state[b];
    if (s === BundleState.t1) {
      this.closeWindow(b);
      this.state[b] = BundleState.syncing;
      this.windowOver[b] = 1;
      if (this.unsynced[b] === 0) this.becomeReady(b);
    } else if (s === BundleState.t2) {
      this.closeWindow(b);
      this.state[b] = BundleState.done;
      this.release(b);
    }
  }

  abandon(b: number, reason: string): void {
    const s = this.state[b]!;
    if (s === BundleState.done || s === BundleState.failed) return;
    if (s === BundleState.t1 || s === BundleState.t2) this.closeWindow(b);
    this.failures.set(b, reason);
    this.state[b] = BundleState.failed;
    if (s === BundleState.pending) {
      this.unsettled--;
      this.onLeftQueue(b);
    } else this.release(b);
  }

  private release(b: number): void {
    this.inFlightVms -= this.vmCount[b]!;
    this.inFlightBundles--;
    this.unsettled--;
    for (const [h, count] of this.hostNeeds[b]!) this.hostMirrors[h]! -= count;
    for (const m of this.mirrorsOfBundle[b]!) {
      this.mirrorState[m] = MirrorState.idle;
      this.resyncing.delete(m);
      this.dropUnfinished(m);
    }
    this.onReleased(b);
  }

  protected abstract becomeReady(b: number): void;
  /** a pending bundle was abandoned before it started */
  protected onLeftQueue(_b: number): void {}
  /** a pending bundle was registered mid-way (resume) */
  protected onResumed(_b: number): void {}
  protected onReleased(_b: number): void {}

  allocateBandwidth(): Map<string, number> {
    const mirrors: MirrorLoad[] = [];
    for (const m of this.resyncing) {
      mirrors.push({
        key: this.mirrorKeys[m]!,
        host: this.hostNames[this.mirrorHost[m]!]!,
        array: this.arrayNames[this.mirrorArray[m]!]!,
      });
    }
    const bandwidth: BandwidthLimits = { arrayBandwidthKiB: this.limits.arrayBandwidthKiB };
    if (this.limits.hostBandwidthKiB !== undefined) bandwidth.hostBandwidthKiB = this.limits.hostBandwidthKiB;
    if (this.options.resyncSpeedMaxKiB !== undefined) bandwidth.perMirrorKiB = this.options.resyncSpeedMaxKiB;
    return allocateFairShare(mirrors, bandwidth);
  }

  /** Mirrors counted against each host's mirrorsPerHost right now (engine status, tests). */
  mirrorsInUse(host: string): number {
    const h = this.hostNames.indexOf(host);
    return h === -1 ? 0 : this.hostMirrors[h]!;
  }

  get downWindowsInUse(): number {
    return this.windows;
  }

  get vmsInFlight(): number {
    return this.inFlightVms;
  }
}

/**
 * The rolling scheduler: a bundle enters T1 as soon as the limits allow and an array it copies
 * to can use more resync streams; it enters T2 as soon as its own resyncs end.
 * Priority: the array with the most pending work per unit of bandwidth first, and inside it
 * the largest bundle first (LPT), so the tail of the run holds only small copies.
 */
export class RollingScheduler extends FleetResources {
  /** array -> pending bundles whose largest share of bytes goes there, by priority */
  private readonly queues: number[][];
  private readonly queueHead: Int32Array;
  private readonly pendingBytes: Float64Array;
  private readonly ready: number[] = [];
  private readonly streamSpeed: number;
  private readonly headroom: number;

  constructor(plan: BundlePlan, vms: readonly FleetVm[], limits: Limits, options: SchedulerOptions = {}) {
    super(plan, vms, limits, options);
    const physical = options.mirrorSpeedKiB ?? DEFAULT_MIRROR_SPEED_KIB;
    this.streamSpeed = Math.min(physical, options.resyncSpeedMaxKiB ?? Infinity);
    this.headroom = options.headroomMirrors ?? 2;
    const seed = options.seed ?? 0;
    const tie = (b: number): number => mix32(b ^ mix32(seed));
    // a bundle without disks still needs its windows: with no array at all it queues on a lone queue
    this.queues = this.arrayNames.length > 0 ? this.arrayNames.map(() => []) : [[]];
    this.pendingBytes = new Float64Array(this.queues.length);
    for (let b = 0; b < this.bundleCount; b++) {
      let primary = -1;
      let most = -1;
      for (const [a, bytes] of this.arrayBytes[b]!) {
        this.pendingBytes[a]! += bytes;
        if (bytes > most) {
          most = bytes;
          primary = a;
        }
      }
      this.queues[primary === -1 ? 0 : primary]!.push(b);
    }
    for (const queue of this.queues) {
      queue.sort((x, y) => this.totalBytes[y]! - this.totalBytes[x]! || tie(x) - tie(y) || x - y);
    }
    this.queueHead = new Int32Array(this.queues.length);
  }

  protected becomeReady(b: number): void {
    this.state[b] = BundleState.readyForT2;
    this.ready.push(b);
  }

  protected override onResumed(b: number): void {
    for (const [a, bytes] of this.arrayBytes[b]!) this.pendingBytes[a]! -= bytes;
  }

  grant(): Grant {
    const enterT2: number[] = [];
    // T2 first: finishing bundles free mirrors and in-flight room
    let kept = 0;
    for (const b of this.ready) {
      if (this.state[b] !== BundleState.readyForT2) continue; // abandoned meanwhile
      if (this.mayEnterT2(b)) {
        this.enterT2(b);
        enterT2.push(b);
      } else this.ready[kept++] = b;
    }
    this.ready.length = kept;

    const enterT1: number[] = [];
    const potential = new Float64Array(this.queues.length);
    for (;;) {
      this.resyncPotential(potential);
      const hungry: number[] = [];
      for (let a = 0; a < this.queues.length; a++) {
        if (!this.hasPending(a)) continue;
        const bandwidth = this.arrayBandwidth[a] ?? Infinity;
        if (potential[a]! < bandwidth + this.headroom * this.streamSpeed) hungry.push(a);
      }
      if (hungry.length === 0) break;
      hungry.sort((x, y) => this.urgency(y) - this.urgency(x) || x - y);
      let admitted = -1;
      let hold = false;
      for (const a of hungry) {
        const pick = this.firstFitting(a);
        if (pick === 'hold') {
          hold = true;
          break;
        }
        if (pick !== undefined) {
          admitted = pick;
          break;
        }
      }
      if (hold || admitted === -1) break;
      this.enterT1(admitted);
      for (const [a, bytes] of this.arrayBytes[admitted]!) this.pendingBytes[a]! -= bytes;
      enterT1.push(admitted);
    }
    return { enterT2, enterT1 };
  }

  /** Remaining pending work of an array in seconds of its bandwidth: the critical array first. */
  private urgency(a: number): number {
    const bandwidth = this.arrayBandwidth[a] ?? Infinity;
    const perSecond = Number.isFinite(bandwidth) ? bandwidth : this.streamSpeed * Math.max(1, this.limits.global);
    return this.pendingBytes[a]! / 1024 / perSecond;
  }

  private hasPending(a: number): boolean {
    const queue = this.queues[a]!;
    let head = this.queueHead[a]!;
    while (head < queue.length && this.state[queue[head]!] !== BundleState.pending) head++;
    this.queueHead[a] = head;
    return head < queue.length;
  }

  /**
   * The first bundle of the array's queue that fits now. 'hold' when the best one waits only
   * for free down windows or in-flight room: admitting smaller ones past it would starve it.
   */
  private firstFitting(a: number): number | 'hold' | undefined {
    const queue = this.queues[a]!;
    for (let i = this.queueHead[a]!; i < queue.length; i++) {
      const b = queue[i]!;
      if (this.state[b] !== BundleState.pending) continue;
      const refusal = this.refusalForT1(b);
      if (refusal === undefined) return b;
      if (refusal === 'windows' || refusal === 'global') return 'hold';
    }
    return undefined;
  }

  /** Resync speed each array can expect from its reserved and running mirrors, hosts shared evenly. */
  private resyncPotential(out: Float64Array): void {
    out.fill(0);
    for (const m of this.unfinished) {
      const h = this.mirrorHost[m]!;
      const share = this.hostBandwidth[h]! / this.unfinishedOnHost[h]!;
      out[this.mirrorArray[m]!]! += Math.min(this.streamSpeed, share);
    }
  }
}

export interface WaveOptions {
  /** bundles per wave at most (the wave is also cut at the global limit and mirrorsPerHost) */
  waveBundles: number;
}

/**
 * The naive baseline: fixed waves. A wave takes the next bundles in plan order while the global
 * and per-host limits allow; every T2 of a wave waits for the slowest resync of the wave, and
 * the next wave waits for the whole wave to finish.
 */
export class WaveScheduler extends FleetResources {
  private readonly waiting: number[];
  private wave: number[] = [];

  constructor(
    plan: BundlePlan,
    vms: readonly FleetVm[],
    limits: Limits,
    private readonly wave_: WaveOptions,
    options: SchedulerOptions = {},
  ) {
    super(plan, vms, limits, options);
    this.waiting = plan.bundles.map((b) => b.id);
  }

  protected becomeReady(b: number): void {
    this.state[b] = BundleState.readyForT2;
  }

  protected override onLeftQueue(b: number): void {
    const i = this.waiting.indexOf(b);
    if (i !== -1) this.waiting.splice(i, 1);
  }

  private settled(b: number): boolean {
    const s = this.state[b];
    return s === BundleState.done || s === BundleState.failed;
  }

  private formWave(): void {
    const hostUse = new Map<number, number>();
    let vms = 0;
    const wave: number[] = [];
    const rest: number[] = [];
    for (const b of this.waiting) {
      if (this.state[b] !== BundleState.pending) continue;
      let fits = wave.length < this.wave_.waveBundles && (vms === 0 || vms + this.vmCount[b]! <= this.limits.global);
      for (const [h, count] of this.hostNeeds[b]!) {
        const used = hostUse.get(h) ?? 0;
        if (used > 0 && used + count > this.limits.mirrorsPerHost) fits = false;
      }
      if (!fits) {
        rest.push(b);
        continue;
      }
      wave.push(b);
      vms += this.vmCount[b]!;
      for (const [h, count] of this.hostNeeds[b]!) hostUse.set(h, (hostUse.get(h) ?? 0) + count);
    }
    this.wave = wave;
    this.waiting.length = 0;
    this.waiting.push(...rest);
  }

  grant(): Grant {
    if (this.wave.every((b) => this.settled(b))) this.formWave();
    const enterT1: number[] = [];
    const enterT2: number[] = [];
    const allSynced = this.wave.every((b) => {
      const s = this.state[b];
      return s !== BundleState.pending && s !== BundleState.t1 && s !== BundleState.syncing;
    });
    for (const b of this.wave) {
      const s = this.state[b];
      if (s === BundleState.pending && this.mayEnterT2(b, 'T1')) {
        // mayEnterT2 checks exactly windows, anti-affinity and the caller; the wave already fits the rest
        this.enterT1(b);
        enterT1.push(b);
      } else if (s === BundleState.readyForT2 && allSynced && this.mayEnterT2(b)) {
        this.enterT2(b);
        enterT2.push(b);
      }
    }
    return { enterT2, enterT1 };
  }
}
