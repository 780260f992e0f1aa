// Fleet coordination: bundles share their down windows, and the rolling scheduler decides when
// a bundle enters T1 and T2 under the inventory's limits. Each VM's state machine asks the
// coordinator at its gates (before a shutdown or a start) and tells it what happened.
//
// Inside a window: stops go dependents first, starts go dependencies first, each start only
// once its dependencies are up (T1) or have passed their health gate (T2). VMs found mid-way
// when a run starts (a resumed run) go through the scheduler too, registered where they stand
// (resumeBundles). Beyond the limits, an Admission says whether a window may start now:
// maintenance windows, canaries and the failure budget, a pause or a stop.
import PQueue from 'p-queue';
import type { FailureBudget } from '../control/budget.js';
import { describeWindow, formatInZone, windowGate, type WindowGate } from '../control/windows.js';
import { runMdActions } from '../host/md-act.js';
import type { CommandRunner } from '../host/runner.js';
import type { Limits, MaintenanceWindow } from '../inventory/types.js';
import { planBundles, type BundlePlan, type FleetVm } from '../plan/bundles.js';
import { RollingScheduler } from '../plan/scheduler.js';
import { errorMessage } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { EventSink } from './events.js';
import type { ResumeStage } from './facts.js';
import { RunHalted, type Halt, type RunHalt } from './halt.js';

/** Where a VM's loop asks the coordinator: before it prepares (the scheduler let its bundle into
 * T1: mirrors are built only for VMs about to go down), before each shutdown and each start. */
export type GateKind = 't1-prepare' | 't1-shutdown' | 't1-start' | 't2-shutdown' | 't2-start';
export type VmSignal =
  | { kind: 'down-t1' }
  | { kind: 'mirror-ready' }
  | { kind: 'up-t1' }
  | { kind: 'resync-started'; target: string }
  /** these disks' copies are complete while others of the VM still copy: they draw no more
   * bandwidth (the VM itself is not synced yet) */
  | { kind: 'copied'; targets: string[] }
  | { kind: 'synced'; targets: string[] }
  | { kind: 'down-t2' }
  | { kind: 'ready-t2' }
  | { kind: 'up-t2' }
  /** started again on its mirrors inside its T2 window (its host did not answer): it is not
   * down, and its window is redone under the same grant */
  | { kind: 'restarted'; window: 'T2' }
  /** left for a later run (a pause, a stop, the failure budget): it holds nothing back */
  | { kind: 'halted' }
  | { kind: 'finished'; ok: boolean; reason?: string };

/** What a VM's state machine sees of the coordinator. */
export interface VmCoordination {
  /** resolves when the VM may go on; true when it had to wait (what it observed may be old) */
  gate(kind: GateKind): Promise<boolean>;
  signal(s: VmSignal): void;
  /** true when the coordinator sets md's resync speed (bandwidth limits in the inventory) */
  readonly ownsResyncSpeed: boolean;
  /** The mirrors of these disks are about to copy: their share of the bandwidth, to set before
   * NEW joins (a cap set after would come too late for a small volume; seen in the lab). Empty
   * when the coordinator does not manage bandwidth. */
  resyncShares(targets: readonly string[]): Promise<Map<string, number | 'system'>>;
  /** The copies of these disks ended without completing (the add failed, a stale mirror was
   * stopped): their bandwidth goes to the others. */
  resyncsAbandoned(targets: readonly string[]): void;
  /** a pause or a stop this run obeys: a VM outside a window leaves at its next safe point */
  halted(): Halt | null;
}

/** What decides, beyond the limits, whether a bundle's window may start now (issue 13). */
export interface Admission {
  /** the VM's maintenance windows (policy.windows); undefined: any time */
  windowsOf: (vm: string) => MaintenanceWindow | undefined;
  /** canaries first, and the failure budget (T1 only: a VM started always finishes) */
  budget?: FailureBudget;
  /** a pause request or a stop */
  halt?: RunHalt;
  clock: Clock;
}

/** How often gates waiting on a closed maintenance window or a pause are asked again, at most */
const RECHECK_MS = 5000;

interface VmStage {
  downT1: boolean;
  mirrorReady: boolean;
  upT1: boolean;
  synced: boolean;
  downT2: boolean;
  readyT2: boolean;
  upT2: boolean;
  finished: boolean;
  failed: boolean;
}

const freshStage = (): VmStage => ({ downT1: false, mirrorReady: false, upT1: false, synced: false, downT2: false, readyT2: false, upT2: false, finished: false, failed: false });

/** md's sync_speed_max for a share: whole KiB/s, or the host's default when unlimited. */
function speedWord(kiBs: number | undefined): number | 'system' {
  return kiBs === undefined || !Number.isFinite(kiBs) ? 'system' : Math.max(1, Math.floor(kiBs));
}

export class Coordinator {
  readonly bundles: BundlePlan;
  private readonly scheduler: RollingScheduler;
  private readonly stage = new Map<string, VmStage>();
  private readonly grantedT1 = new Set<number>();
  private readonly grantedT2 = new Set<number>();
  private readonly windowClosed = new Set<string>();
  private waiters: { vm: string; kind: GateKind; ready: () => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly windowGates: (WindowGate | undefined)[];
  /** each bundle's last refusal by the admission, for the operator's notes */
  private readonly refused = new Map<number, string>();
  private recheck: AbortController | null = null;
  private readonly manageBandwidth: boolean;
  private readonly hosts: Map<string, string>;
  private readonly targets: Map<string, string[]>;

  constructor(
    vms: readonly FleetVm[],
    limits: Limits,
    private readonly options: {
      /** where each VM stands when the run starts (a resumed run); absent: fresh */
      resume?: ReadonlyMap<string, ResumeStage>;
      resyncSpeedMaxKiB?: number;
      runnerOf: (host: string) => Promise<CommandRunner>;
      /** a disk's mirror and its two legs: speed changes check the array's identity first */
      diskOf: (vm: string, target: string) => { mirror: string; old: string; new: string };
      emit: EventSink;
      now: () => number;
      admission?: Admission;
    },
  ) {
    this.bundles = planBundles(vms, limits);
    const adm = options.admission;
    this.windowGates = this.bundles.bundles.map((b) => {
      if (adm === undefined) return undefined;
      const g = windowGate(b.vms.map((v) => adm.windowsOf(v)), adm.clock);
      return g.always ? undefined : g;
    });
    this.scheduler = new RollingScheduler(this.bundles, vms, limits, {
      ...(options.resyncSpeedMaxKiB === undefined ? {} : { resyncSpeedMaxKiB: options.resyncSpeedMaxKiB }),
      ...(adm === undefined ? {} : { mayOpenWindow: (b: number, phase: 'T1' | 'T2') => this.refusal(b, phase) === null }),
    });
    for (const vm of vms) this.stage.set(vm.name, freshStage());
    this.resumeBundles(options.resume ?? new Map());
    this.hosts = new Map(vms.map((v) => [v.name, v.host]));
    this.targets = new Map(vms.map((v) => [v.name, v.disks.map((d) => d.target)]));
    this.manageBandwidth = limits.hostBandwidthKiB !== undefined || Object.keys(limits.arrayBandwidthKiB).length > 0;
    this.pump();
  }

  /**
   * A resumed run: a bundle is registered where its most advanced member stands, so its windows
   * obey the same limits, anti-affinity and order as a fresh one's (two halves of an HA pair never
   * go down together after a resume). Its members are marked past what they did; a member behind
   * the others (rare: killed mid-window) finishes its T1 without waiting for a grant.
   */
  private resumeBundles(resume: ReadonlyMap<string, ResumeStage>): void {
    const rank: Record<ResumeStage, number> = { fresh: 0, 'in-t1': 1, 'after-t1': 2, 'in-t2': 3 };
    for (const bundle of this.bundles.bundles) {
      const stages = bundle.vms.map((v) => resume.get(v) ?? 'fresh');
      const top = stages.reduce((a, b) => (rank[b] > rank[a] ? b : a), 'fresh' as ResumeStage);
      if (top === 'fresh') continue;
      this.scheduler.resume(bundle.id, top);
      if (top === 'in-t1') this.grantedT1.add(bundle.id);
      if (top === 'in-t2') this.grantedT2.add(bundle.id);
      for (const [i, vm] of bundle.vms.entries()) {
        const st = this.st(vm);
        const mine = stages[i]!;
        if (top === 'in-t1') {
          st.downT1 = mine === 'in-t1';
          continue;
        }
        // past T1 for the bundle: the T1 gates let its members through (they redo or finish T1)
        st.downT1 = st.mirrorReady = st.upT1 = true;
        if (top === 'in-t2') {
          st.synced = true;
          st.downT2 = mine === 'in-t2';
        }
      }
      if (top !== 'in-t1') this.windowClosed.add(`${bundle.id}/T1`);
    }
  }

  /** true when the coordinator sets md's sync_speed_max (bandwidth limits in the inventory) */
  get ownsResyncSpeed(): boolean {
    return this.manageBandwidth;
  }

  has(vm: string): boolean {
    return this.stage.has(vm);
  }

  for(vm: string): VmCoordination {
    return {
      gate: (kind) => this.gate(vm, kind),
      signal: (s) => this.signal(vm, s),
      ownsResyncSpeed: this.manageBandwidth,
      resyncShares: (targets) => this.resyncShares(vm, targets),
      resyncsAbandoned: (targets) => this.resyncsAbandoned(vm, targets),
      halted: () => this.options.admission?.halt?.current() ?? null,
    };
  }

  /**
   * Why bundle `b` may not enter its window now beyond the limits, or null: a pause or stop,
   * the canaries still running or the failure budget spent (T1 only), its maintenance window
   * closed. `permanent`: it will not be admitted in this run.
   */
  private refusal(b: number, phase: 'T1' | 'T2'): { reason: string; permanent: boolean } | null {
    const adm = this.options.admission;
    if (adm === undefined) return null;
    const h = adm.halt?.current();
    if (h != null) return { reason: h.reason, permanent: true };
    if (phase === 'T1' && adm.budget !== undefined) {
      const a = adm.budget.decide(this.bundles.bundles[b]!.vms);
      if (!a.admit) return { reason: a.reason, permanent: !a.wait };
    }
    const gate = this.windowGates[b];
    if (gate !== undefined && !gate.isOpen()) {
      const wait = gate.msUntilOpen();
      const w = this.bundles.bundles[b]!.vms.map((v) => adm.windowsOf(v)).find((x) => x !== undefined)!;
      if (!Number.isFinite(wait)) return { reason: `its maintenance window (${describeWindow(w)}) does not open within the next 400 days`, permanent: true };
      return { reason: `waiting for its maintenance window (${describeWindow(w)}): the next start may be at ${formatInZone(adm.clock.now() + wait, w.timezone)}`, permanent: false };
    }
    return null;
  }

  private async resyncShares(vm: string, targets: readonly string[]): Promise<Map<string, number | 'system'>> {
    if (!this.manageBandwidth) return new Map();
    for (const t of targets) this.scheduler.resyncStarted(vm, t);
    const shares = this.scheduler.allocateBandwidth();
    // the others of the same resources give up their part: rebalanced, one host at a time
    void this.rebalance(new Set(targets.map((t) => `${vm}/${t}`)));
    return new Map(targets.map((t) => [t, speedWord(shares.get(`${vm}/${t}`))]));
  }

  private resyncsAbandoned(vm: string, targets: readonly string[]): void {
    for (const t of targets) this.scheduler.resyncEnded(vm, t);
    void this.rebalance();
    this.pump();
  }

  private bundleOf(vm: string): number {
    return this.bundles.bundleOf.get(vm)!;
  }

  private members(vm: string): string[] {
    return this.bundles.bundles[this.bundleOf(vm)]!.vms;
  }

  private st(vm: string): VmStage {
    return this.stage.get(vm)!;
  }

  private done(vm: string, flag: keyof VmStage): boolean {
    const s = this.st(vm);
    return s[flag] || s.finished;
  }

  /** The VMs of the same bundle that must stop before `vm` (its dependents), or start before it. */
  private before(vm: string, order: 'stopOrder' | 'startOrder'): string[] {
    const list = this.bundles.bundles[this.bundleOf(vm)]![order];
    return list.slice(0, list.indexOf(vm));
  }

  private deps(vm: string): string[] {
    const g = this.bundles.graph;
    const i = g.indexOf.get(vm);
    if (i === undefined) return [];
    return g.dependsOn[i]!.map((d) => g.names[d]!);
  }

  private readyFor(vm: string, kind: GateKind): boolean {
    const b = this.bundleOf(vm);
    const members = this.members(vm);
    switch (kind) {
      case 't1-prepare':
        return this.grantedT1.has(b);
      case 't1-shutdown':
        return this.grantedT1.has(b) && this.before(vm, 'stopOrder').every((v) => this.done(v, 'downT1'));
      case 't1-start':
        return members.every((v) => this.done(v, 'mirrorReady')) && this.deps(vm).every((d) => this.dependencyUp(vm, d, 'upT1'));
      case 't2-shutdown':
        return this.grantedT2.has(b) && this.before(vm, 'stopOrder').every((v) => this.done(v, 'downT2'));
      case 't2-start':
        return members.every((v) => this.done(v, 'readyT2')) && this.deps(vm).every((d) => this.dependencyUp(vm, d, 'upT2'));
    }
  }

  /** In the same bundle, a dependency must have started in this window (and, in T2, passed its
   * health gate); in another bundle, it must simply not be down now. */
  private dependencyUp(vm: string, dep: string, flag: 'upT1' | 'upT2'): boolean {
    if (this.bundleOf(dep) === this.bundleOf(vm)) return this.done(dep, flag);
    return !this.isDown(dep);
  }

  private isDown(vm: string): boolean {
    const s = this.st(vm);
    if (s.finished) return false;
    return (s.downT1 && !s.upT1) || (s.downT2 && !s.upT2);
  }

  private gate(vm: string, kind: GateKind): Promise<boolean> {
    const ready = (): boolean => {
      // A redo of T1 (I3, or after a window held for a silent host) does not wait for a new
      // grant, but it is a new window all the same: not outside the maintenance window, not
      // in a paused run.
      if ((kind === 't1-shutdown' || kind === 't1-prepare') && this.st(vm).upT1) return this.refusal(this.bundleOf(vm), 'T2') === null;
      return this.readyFor(vm, kind);
    };
    if (ready()) return Promise.resolve(false);
    const waiting = new Promise<boolean>((resolve, reject) => this.waiters.push({ vm, kind, ready, resolve: () => resolve(true), reject }));
    this.pump();
    return waiting;
  }

  private signal(vm: string, s: VmSignal): void {
    const st = this.st(vm);
    const b = this.bundleOf(vm);
    switch (s.kind) {
      case 'down-t1':
        st.downT1 = true;
        break;
      case 'mirror-ready':
        st.mirrorReady = true;
        break;
      case 'up-t1':
        st.upT1 = true;
        this.maybeCloseWindow(b, 'T1', 'upT1');
        break;
      case 'resync-started':
        // registered by resyncShares when the coordinator manages bandwidth
        this.scheduler.resyncStarted(vm, s.target);
        break;
      case 'copied':
        // a finished disk's share goes to the copies still running, and an array it leaves
        // hungry may admit the next bundle now, not when the VM's last disk is done
        for (const t of s.targets) this.scheduler.resyncEnded(vm, t);
        void this.rebalance();
        break;
      case 'synced':
        st.synced = true;
        for (const t of s.targets) this.scheduler.resyncEnded(vm, t);
        void this.rebalance();
        break;
      case 'down-t2':
        st.downT2 = true;
        break;
      case 'ready-t2':
        st.readyT2 = true;
        break;
      case 'up-t2':
        st.upT2 = true;
        this.maybeCloseWindow(b, 'T2', 'upT2');
        break;
      case 'restarted':
        st.downT2 = false;
        st.readyT2 = false;
        break;
      case 'halted':
        // it leaves the run where it stands: its bundle-mates are not held back by it
        st.finished = true;
        if (!st.synced) for (const t of this.targets.get(vm) ?? []) this.scheduler.resyncEnded(vm, t);
        if (this.members(vm).every((v) => this.st(v).finished) && this.scheduler.stateOf(b) !== 'done' && this.scheduler.stateOf(b) !== 'failed') this.scheduler.abandon(b, 'left for a later run');
        break;
      case 'finished':
        st.finished = true;
        st.failed = !s.ok;
        this.options.admission?.budget?.finished(vm, s.ok ? 'done' : 'failed', s.reason);
        // A VM that leaves its bundle early (failed, back on OLD) copies nothing more: its
        // mirrors no longer hold the bundle's T2 back.
        if (!st.synced) for (const t of this.targets.get(vm) ?? []) this.scheduler.resyncEnded(vm, t);
        if (this.members(vm).every((v) => this.st(v).finished)) {
          // Whatever state the scheduler thinks the bundle is in, its VMs are through: release
          // what it holds (a failure, or VMs that were off and needed no T2 window).
          const failed = this.members(vm).filter((v) => this.st(v).failed);
          if (this.scheduler.stateOf(b) !== 'done' && this.scheduler.stateOf(b) !== 'failed') {
            this.scheduler.abandon(b, failed.length > 0 ? `${failed.join(', ')} failed` : 'finished without a T2 window');
          }
          void this.rebalance();
        } else {
          this.maybeCloseWindow(b, 'T1', 'upT1');
          this.maybeCloseWindow(b, 'T2', 'upT2');
        }
        break;
    }
    this.pump();
  }

  private maybeCloseWindow(b: number, window: 'T1' | 'T2', flag: 'upT1' | 'upT2'): void {
    const key = `${b}/${window}`;
    if (this.windowClosed.has(key)) return;
    const state = this.scheduler.stateOf(b);
    if ((window === 'T1' && state !== 't1') || (window === 'T2' && state !== 't2')) return;
    if (!this.bundles.bundles[b]!.vms.every((v) => this.done(v, flag))) return;
    this.windowClosed.add(key);
    this.scheduler.windowEnded(b);
  }

  /** Asks the scheduler what may start now and wakes the VMs whose gate opened. A VM waiting
   * for a window this run will not open (a pause, a stop, the budget spent) leaves the run. */
  private pump(): void {
    const g = this.scheduler.grant();
    for (const b of g.enterT1) this.grantedT1.add(b);
    for (const b of g.enterT2) this.grantedT2.add(b);
    const still: typeof this.waiters = [];
    let recheck = false;
    for (const w of this.waiters) {
      if (w.ready()) {
        w.resolve();
        continue;
      }
      const why = this.waitingFor(w.vm, w.kind);
      if (why?.permanent === true) {
        w.reject(new RunHalted(why.reason));
        continue;
      }
      if (why !== null) {
        recheck = true;
        const b = this.bundleOf(w.vm);
        if (this.refused.get(b) !== why.reason) {
          this.refused.set(b, why.reason);
          for (const vm of this.members(w.vm)) this.options.emit({ kind: 'note', at: this.options.now(), vm, text: why.reason });
        }
      }
      still.push(w);
    }
    this.waiters = still;
    if (recheck || (this.waiters.length > 0 && this.options.admission?.halt !== undefined)) this.recheckSoon();
  }

  /** What the admission says to a VM waiting at `kind`, when it is what holds it (a gate inside
   * a window already granted is held by its bundle-mates, not by the admission). A stop also
   * turns back the VMs of a granted T1 that are not down yet. */
  private waitingFor(vm: string, kind: GateKind): { reason: string; permanent: boolean } | null {
    const b = this.bundleOf(vm);
    if (kind === 't1-prepare' && !this.grantedT1.has(b)) return this.refusal(b, 'T1');
    if (kind === 't2-shutdown' && !this.grantedT2.has(b)) return this.refusal(b, 'T2');
    if ((kind === 't1-prepare' || kind === 't1-shutdown') && this.st(vm).upT1) return this.refusal(b, 'T2');
    const h = this.options.admission?.halt?.current();
    if (h?.kind === 'stop' && kind === 't1-shutdown' && !this.members(vm).some((v) => this.st(v).downT1 && !this.st(v).upT1)) return { reason: h.reason, permanent: true };
    return null;
  }

  /** Gates that wait on a maintenance window or may be paused are asked again a while later
   * (one timer for the whole run). */
  private recheckSoon(): void {
    const adm = this.options.admission;
    if (adm === undefined || this.recheck !== null) return;
    const now = adm.clock.now();
    let wait = adm.halt === undefined ? Infinity : RECHECK_MS;
    for (const g of this.windowGates) {
      if (g === undefined) continue;
      const ms = g.msUntilOpen(now);
      if (ms > 0 && Number.isFinite(ms)) wait = Math.min(wait, ms);
    }
    if (!Number.isFinite(wait)) return;
    const timer = new AbortController();
    this.recheck = timer;
    void adm.clock.sleep(Math.max(1, Math.min(wait, 60_000)), timer.signal).then(() => {
      this.recheck = null;
      if (!timer.signal.aborted && this.waiters.length > 0) this.pump();
    });
  }

  /** The run is over: no timer outlives it. */
  close(): void {
    this.recheck?.abort();
    this.recheck = null;
  }

  /** Host and array bandwidth goes to the mirrors that copy now, through md's sync_speed_max:
   * one md action per host, identity checked, one host at a time and in order, so a later
   * allocation is never overwritten by an earlier one. `skip`: mirrors their own add caps. */
  private readonly speedQueue = new PQueue({ concurrency: 1 });
  private async rebalance(skip: ReadonlySet<string> = new Set()): Promise<void> {
    if (!this.manageBandwidth) return;
    const shares = this.scheduler.allocateBandwidth();
    await this.speedQueue.add(async () => {
      const byHost = new Map<string, { vm: string; target: string; kiBs: number }[]>();
      for (const [key, kiBs] of shares) {
        if (skip.has(key)) continue;
        const [vm, target] = key.split('/') as [string, string];
        const host = this.hosts.get(vm);
        if (host === undefined) continue;
        byHost.set(host, [...(byHost.get(host) ?? []), { vm, target, kiBs }]);
      }
      for (const [host, list] of byHost) {
        try {
          const runner = await this.options.runnerOf(host);
          const r = await runMdActions(runner, list.map((m) => ({ verb: 'speed' as const, ...this.options.diskOf(m.vm, m.target), speedKiBs: speedWord(m.kiBs) })));
          // a mirror that finished or went away since is not an error: the next rebalance skips it
          const bad = r.outcomes.find((o) => !o.ok && o.code !== 'skipped' && o.code !== 'not-ours');
          if (bad !== undefined && !bad.ok) this.options.emit({ kind: 'note', at: this.options.now(), vm: list[0]!.vm, text: `could not set the resync speed on ${host}: ${bad.message}` });
        } catch (err) {
          this.options.emit({ kind: 'note', at: this.options.now(), vm: list[0]!.vm, text: `could not set the resync speeds on ${host}: ${errorMessage(err)}` });
        }
      }
    });
  }


}
