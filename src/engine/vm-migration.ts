// Drives one VM to its goal (new volumes, or back to old ones): observe, decide, act, repeat.
// Each action writes its intent to the journal before touching anything and its result after
// (I4), so a new process picks up from the journal and what it observes.
//
// Round trips are the cost that matters on a far or loaded host (STYLE.md): an action that
// knows what it changed returns the observation it leaves behind (an md action ends with a
// probe of the host; a define knows the definition it wrote), so the loop reads the host again
// only when it cannot know. Inside a down window that leaves: T1, one host command (drop the
// mirrors' page cache) and the start; T2, the final check, the define, the stop, the start.
import { runHealthGate, type GateResult } from '../control/health.js';
import { describeHookResult, runHook } from '../control/hooks.js';
import { changedParts, removeMigrationMetadata } from '../domain/index.js';
import { describeOwner, LEASE_TRUST_MS, leases, type HeldLease } from '../host/leases.js';
import { runMdActions, type MdAction, type MdActResult } from '../host/md-act.js';
import { deviceOf, mergeSnapshots, type HostSnapshot } from '../host/probe.js';
import type { CommandRunner } from '../host/runner.js';
import type { Hypervisor } from '../hypervisor/port.js';
import type { HealthGate, HookName, Policy } from '../inventory/types.js';
import { definitionsFor, type DefinitionSet } from '../plan/vm-steps.js';
import type { DiskPlan } from '../plan/types.js';
import type { Clock } from '../util/clock.js';
import { ActionError, errorMessage, isTransient } from '../util/errors.js';
import { ActionKind, decideMigration, decideRollback, type Action, type StopReason } from './decide.js';
import type { GateKind, VmCoordination, VmSignal } from './coordinator.js';
import type { EventSink, WindowName } from './events.js';
import { factsOf, type JoinBaseline, type MigrationFacts } from './facts.js';
import type { HostObserver } from './host-observer.js';
import { RunHalted } from './halt.js';
import type { Journal, JournalRecord } from './journal.js';
import { domainView, mirrorViews, Placement, type Observation } from './observation.js';

export interface VmContext {
  vm: string;
  host: string;
  disks: DiskPlan[];
  hv: Hypervisor;
  /** the host's command runner (md actions, the health command) */
  runner: CommandRunner;
  /** the host's shared observer: one probe for every VM of the host, one poll per interval */
  observer: HostObserver;
  journal: Journal;
  /** every journal record of earlier runs (this run's own are kept in memory as they are written) */
  history: JournalRecord[];
  clock: Clock;
  policy: Policy;
  runId: string;
  emit: EventSink;
  /** bundle windows and the fleet scheduler's gates; absent: the VM goes on its own */
  coordination?: VmCoordination;
  /** I5 by identity: who else uses these new volumes (domains of every host that sees the LUN);
   * each entry says who and where. Absent: no domain check (tests of other things). */
  newVolumeUsers?: (disks: readonly DiskPlan[]) => Promise<string[]>;
  /** the folder hooks and command health checks run in (the inventory's) */
  cwd?: string;
  /** false in a rehearsal: the operator's hooks and the health checks that reach out of this
   * machine (TCP, HTTP, a command) are announced, not run; the guest agent is the simulated one */
  operatorCommands?: boolean;
  /** the run's lease on the VM (host side): every md action checks it is still the run's, and
   * every change through libvirt is made under a confirmation younger than LEASE_TRUST_MS */
  lease?: HeldLease;
}

/** How a VM's migration ended (journalled: vm-finished). */
export type FinalOutcome = { outcome: 'done' | 'rolled-back'; note?: string } | { outcome: 'failed'; reason: string };
/** `stopped`: left for a later run where it stands, never off (a pause, a stop, the budget) */
export type VmOutcome = FinalOutcome | { outcome: 'stopped'; reason: string };

/** A step failed; `rollback` says whether the VM goes back to OLD (whatever changed is undone by
 * observing and converging, not by replaying an undo list). */
class StepFailure extends Error {
  constructor(
    message: string,
    readonly rollback: boolean,
  ) {
    super(message);
  }
}

const MAX_ACTIONS = 200;
/** how often a shutting-down guest is looked at: the window's end is noticed within this */
const SHUTDOWN_POLL_MS = 250;
/** the longest pause between two looks at a host that does not answer */
const HOLD_PAUSE_MAX_MS = 60_000;

/** "10 min", "90s": how long, as an operator reads it in a reason. */
function spoken(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s}s`;
}

/** Where the VM was at the last look, for a reason an operator acts on. */
function lastSeen(obs: Observation | null): string {
  if (obs === null) return 'It was not seen in this run';
  const where = (p: Placement | null) => (p === Placement.mixed ? 'a mix of' : `its ${p === Placement.old ? 'old' : p === Placement.new ? 'new' : 'mirror'}`);
  const power = obs.running ? `running on ${where(obs.live)} volumes` : `off (${obs.state})`;
  const definition = obs.persistent === Placement.old ? 'OLD' : obs.persistent === Placement.new ? 'NEW' : obs.persistent === Placement.mirror ? 'its mirrors' : 'a mix of volumes';
  return `It was last seen ${power}, its definition on ${definition}`;
}

export class VmMigration {
  private readonly records: JournalRecord[];
  private readonly hv: Hypervisor;
  /** host commands and libvirt calls this VM waited on, for the window figures */
  private readonly calls = { host: 0, libvirt: 0 };
  private window: { name: WindowName; askedAt: number; downAt: number | null; host: number; libvirt: number } | null = null;
  private heldFor: string | null = null;
  /** the host as last read; an md action's closing probe covers only the disks it acted on */
  private snapshot: HostSnapshot | null = null;

  constructor(private readonly ctx: VmContext) {
    this.records = ctx.history.filter((r) => 'vm' in r && r.vm === ctx.vm);
    const calls = this.calls;
    // every libvirt call this VM makes is counted: the window figures of the benchmark
    this.hv = new Proxy(ctx.hv, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof value !== 'function' || key === 'close') return value;
        return (...args: unknown[]) => {
          calls.libvirt++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  private facts(): MigrationFacts {
    return factsOf(this.records, this.ctx.vm);
  }

  private log(entry: Parameters<Journal['append']>[0]): void {
    this.records.push(this.ctx.journal.append(entry));
  }

  private note(text: string): void {
    this.ctx.emit({ kind: 'note', at: this.ctx.clock.now(), vm: this.ctx.vm, text });
  }

  // ---- observation ------------------------------------------------------------------------

  private async hostRead(options: { after?: number } = {}): Promise<HostSnapshot> {
    this.calls.host++;
    return this.ctx.observer.read(options);
  }

  /** The observer's ticket when the VM was last seen off: the final check may share a probe
   * launched after it (VMs of a bundle that go down together share one reading). */
  private seenOff: number | undefined;

  private async md(actions: MdAction[]): Promise<MdActResult> {
    const lease = this.ctx.lease;
    if (lease?.lostTo != null) throw this.leaseLost(lease.lostTo);
    this.calls.host++;
    const sentAt = this.ctx.clock.now();
    const r = await runMdActions(this.ctx.runner, actions, lease === undefined ? {} : { lease });
    if (r.leaseLost !== null) {
      if (lease !== undefined) lease.lostTo = r.leaseLost;
      throw this.leaseLost(r.leaseLost);
    }
    if (lease !== undefined) lease.confirmedAt = sentAt;
    if (r.lockTimeout) throw new StepFailure(`another process held the host's md lock (/run/lock/sanshift-md.lock on ${this.ctx.host}) for 60 s; nothing was changed`, false);
    return r;
  }

  private leaseLost(holder: string): StepFailure {
    return new StepFailure(`this run no longer holds ${this.ctx.vm}'s lease on ${this.ctx.host} (${describeOwner(holder)} has it): another run took it over (this one could not renew it in time); nothing more is done to ${this.ctx.vm} here`, false);
  }

  /** Before a change through libvirt: the lease is still the run's. A renewal or an md action
   * confirms it as a matter of course; only a confirmation older than LEASE_TRUST_MS (the run
   * was held, or stalled) costs a host command here. */
  private async confirmLease(): Promise<void> {
    const lease = this.ctx.lease;
    if (lease === undefined) return;
    if (lease.lostTo !== null) throw this.leaseLost(lease.lostTo);
    if (this.ctx.clock.now() - lease.confirmedAt < LEASE_TRUST_MS) return;
    this.calls.host++;
    const sentAt = this.ctx.clock.now();
    const answer = await leases(this.ctx.runner, 'acquire', lease.owner, lease.ttlSeconds, [lease.vm]);
    const busy = answer.busy.find((b) => b.vm === lease.vm);
    if (busy !== undefined) {
      lease.lostTo = busy.owner;
      throw this.leaseLost(busy.owner);
    }
    if (answer.lockTimeout) throw new StepFailure(`another process held the host's lease lock on ${this.ctx.host} for 60 s; nothing was changed`, false);
    lease.confirmedAt = sentAt;
  }

  /** Whether the lease may still be trusted without asking the host (a held VM's host does not
   * answer: a restart inside a window is made only under a lease nobody else can have taken). */
  private leaseTrusted(): boolean {
    const lease = this.ctx.lease;
    return lease === undefined || (lease.lostTo === null && this.ctx.clock.now() - lease.confirmedAt < LEASE_TRUST_MS);
  }

  /** libvirt first: a host reading started after the VM was seen off is a reading of an off VM. */
  async observe(): Promise<Observation> {
    const { vm, disks } = this.ctx;
    const st = await this.hv.lookup(vm);
    if (st === null) throw new StepFailure(`domain ${vm} no longer exists on host ${this.ctx.host}`, false);
    const running = st.id !== null;
    const [persistentXml, liveXml, managedSave, snap] = await Promise.all([
      this.hv.inactiveXml(vm, { secure: true }),
      running ? this.hv.liveXml(vm) : Promise.resolve(null),
      running ? Promise.resolve(false) : this.hv.hasManagedSave(vm),
      this.hostRead(),
    ]);
    this.snapshot = snap;
    return { ...domainView(st, persistentXml, liveXml, disks), managedSave, mirrors: mirrorViews(snap, disks, this.facts()), hostReadWhileOff: !running };
  }

  /** The observation after an action that changed only the host: the same domain, new mirrors.
   * A partial reading (an md action's closing probe) updates what it covers. */
  private withHost(obs: Observation, snap: HostSnapshot, readWhileOff = obs.hostReadWhileOff && !obs.running): Observation {
    this.snapshot = this.snapshot === null ? snap : mergeSnapshots(this.snapshot, snap);
    return { ...obs, mirrors: mirrorViews(this.snapshot, this.ctx.disks, this.facts()), hostReadWhileOff: readWhileOff };
  }

  // ---- the loop ---------------------------------------------------------------------------

  /** Migrates the VM to NEW; on a failure that calls for it, brings it back to OLD. */
  async migrate(): Promise<VmOutcome> {
    try {
      await this.ensureOriginalRecorded();
      const result = await this.converge((obs, facts) => decideMigration(obs, facts, this.ctx.policy.resyncSpeedMaxKiB === undefined || this.ctx.coordination?.ownsResyncSpeed === true ? {} : { resyncSpeedMaxKiB: this.ctx.policy.resyncSpeedMaxKiB }));
      this.signal({ kind: 'finished', ok: true });
      return result;
    } catch (err) {
      if (err instanceof RunHalted) return this.halted(err.reason);
      const reason = errorMessage(err);
      const inWindow = this.window?.name === 'T1' || this.window?.name === 'T2' ? this.window.name : '';
      // a host that did not answer before anything changed (the original's reading) is no reason
      // to touch the VM
      const rollback = err instanceof StepFailure ? err.rollback : !isTransient(err);
      this.log({ kind: 'failed', vm: this.ctx.vm, reason });
      this.note(`failed: ${reason}`);
      if (rollback && this.facts().originalXml !== null && !this.facts().startOnNewIntended) {
        try {
          await this.converge(decideRollback);
          this.note('back on its old volumes');
        } catch (rollbackErr) {
          const both = `${reason}; going back to the old volumes failed too: ${errorMessage(rollbackErr)}`;
          await this.onFailure(both, inWindow);
          this.finish({ outcome: 'failed', reason: both });
          this.signal({ kind: 'finished', ok: false, reason: both });
          return { outcome: 'failed', reason: both };
        }
      }
      const failed = { outcome: 'failed' as const, reason: rollback ? `${reason} (the VM is back on its old volumes)` : reason };
      await this.onFailure(failed.reason, inWindow);
      this.finish(failed);
      this.signal({ kind: 'finished', ok: false, reason });
      return failed;
    }
  }

  /** Left for a later run where it stands (outside any window: never off). Not a failure: no
   * journal record ends its migration, so the next run continues it. */
  private halted(reason: string): VmOutcome {
    this.note(`stopped for this run: ${reason}; \`sanshift run\` again continues it from where it stands`);
    this.signal({ kind: 'halted' });
    return { outcome: 'stopped', reason };
  }

  /** A stop (second Ctrl-C) is obeyed between two actions, outside a window; a pause only by
   * the VMs that wait (for their resync, or at a gate the run will not open). */
  private checkHalt(waiting: boolean): void {
    const h = this.ctx.coordination?.halted();
    if (h == null || this.window !== null) return;
    if (h.kind === 'stop' || waiting) throw new RunHalted(h.reason);
  }

  /** onFailure: the operator's page; its own failure changes nothing more. */
  private async onFailure(reason: string, window: 'T1' | 'T2' | ''): Promise<void> {
    try {
      await this.hook('onFailure', window, reason.replace(/\s+/g, ' '));
    } catch (err) {
      this.note(`onFailure hook could not run: ${errorMessage(err)}`);
    }
  }

  /** Returns the VM to OLD from any phase before it may have run on NEW. */
  async rollback(): Promise<VmOutcome> {
    const result = await this.converge(decideRollback);
    if (result.outcome === 'done') {
      this.finish({ outcome: 'rolled-back' });
      return { outcome: 'rolled-back' };
    }
    return result;
  }

  private finish(o: FinalOutcome): void {
    this.log({ kind: 'vm-finished', vm: this.ctx.vm, outcome: o.outcome, ...(o.outcome === 'failed' ? { reason: o.reason } : {}) });
    this.ctx.emit({ kind: 'vm-finished', at: this.ctx.clock.now(), vm: this.ctx.vm, outcome: o.outcome, ...(o.outcome === 'failed' ? { reason: o.reason } : {}) });
  }

  private async converge(decide: (obs: Observation, facts: MigrationFacts) => Action): Promise<VmOutcome> {
    let obs = await this.answered(null, () => this.observe());
    for (let acted = 0; acted < MAX_ACTIONS; ) {
      this.reconcilePower(obs);
      // a rollback under way finishes: it is what makes the VM safe
      if (decide !== decideRollback) this.checkHalt(false);
      const action = decide(obs, this.facts());
      if (action.kind === ActionKind.done) {
        if (decide === decideRollback) return { outcome: 'done' };
        this.finish({ outcome: 'done' });
        return { outcome: 'done', ...(action.note === undefined ? {} : { note: action.note }) };
      }
      if (action.kind === ActionKind.fail) throw new StepFailure(action.reason, action.rollback);
      if (action.kind === ActionKind.hold) {
        if (this.heldFor !== action.reason) this.note(`on hold: ${action.reason}`);
        this.heldFor = action.reason;
        await this.ctx.clock.sleep(this.ctx.policy.pollIntervalMs);
        obs = await this.answered(obs, () => this.observe());
        continue;
      }
      this.heldFor = null;
      const before = obs;
      obs = await this.answered(before, async () => (await this.act(action, before, decide)) ?? (await this.observe()));
      // Waiting is not progress to count: a resync may take days of polls.
      if (action.kind !== ActionKind.waitForResync) acted++;
    }
    throw new StepFailure(`no progress after ${MAX_ACTIONS} steps`, true);
  }

  /**
   * Runs `fn`; when the host does not answer (ssh down, a deadline passed, libvirt's connection
   * lost), the VM is held as it is: nothing is changed, nothing rolled back, and the host is
   * looked at again with growing pauses until it answers. Whatever the lost action did is then
   * found by observing, never by redoing it. Past timeouts.hostLost the VM is left for an
   * operator. A VM held off inside a window is started again after timeouts.windowHold if
   * libvirt answers and that is safe (restartHeld), so an outage is not stretched by a shell.
   */
  private async answered(last: Observation | null, fn: () => Promise<Observation>): Promise<Observation> {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw err;
      return this.holdUntilAnswered(err, last);
    }
  }

  private async holdUntilAnswered(err: unknown, last: Observation | null): Promise<Observation> {
    const { vm, host, clock, policy } = this.ctx;
    const { hostLostMs, windowHoldMs } = policy.timeouts;
    const since = clock.now();
    const reason = `host ${host} does not answer (${errorMessage(err)})`;
    this.log({ kind: 'hold', vm, reason });
    this.note(`on hold: ${reason}; nothing is changed until it answers`);
    let lastError = err;
    let pause = policy.pollIntervalMs;
    let restartTried = false;
    for (;;) {
      this.checkHalt(true);
      const held = clock.now() - since;
      if (held >= hostLostMs) {
        this.window = null;
        throw new StepFailure(`host ${host} did not answer for ${spoken(hostLostMs)} (${errorMessage(lastError)}); ${vm} needs an operator, nothing was rolled back. ${lastSeen(last)}`, false);
      }
      const inWindow = this.window !== null && this.window.downAt !== null;
      if (inWindow && !restartTried && held >= windowHoldMs) {
        restartTried = (await this.restartHeld(last, held)) !== 'libvirt-down';
      }
      const untilRestart = inWindow && !restartTried ? windowHoldMs - held : Infinity;
      await clock.sleep(Math.max(1, Math.min(pause, hostLostMs - held, untilRestart)));
      pause = Math.min(pause * 2, HOLD_PAUSE_MAX_MS);
      try {
        const obs = await this.observe();
        this.log({ kind: 'release', vm });
        this.note(`host ${host} answers again after ${Math.round((clock.now() - since) / 1000)}s: going on from what is there`);
        this.afterHold(obs);
        return obs;
      } catch (e) {
        if (!isTransient(e)) throw e;
        lastError = e;
      }
    }
  }

  /** The window's bookkeeping after a hold: the shutdown or the start whose answer was lost is
   * read off the VM (the coordinator and the window figures hear of it as if answered). */
  private afterHold(obs: Observation): void {
    const w = this.window;
    if (w === null) return;
    if (w.downAt === null && !obs.running) this.markDown();
    else if (w.downAt !== null && obs.running) this.markUp();
  }

  /**
   * A VM held off inside its window, once timeouts.windowHold has passed: started again where
   * that is safe without the host's shell, and its window is redone once the host answers.
   * - T1 and rollback windows, definition on OLD: started by name on OLD, which is complete
   *   (in T1 the VM has not run on its mirrors since it stopped).
   * - T2 before the definition moved to NEW: started on its mirrors again, as it ran before
   *   the window; md keeps both legs in step and the copy is kept.
   * - Definition on NEW: it stays off; the host must stop its mirrors before it starts on NEW.
   * Returns 'libvirt-down' when libvirt did not answer either (to be tried again).
   */
  private async restartHeld(last: Observation | null, heldMs: number): Promise<'started' | 'not-safe' | 'libvirt-down'> {
    const { vm, host } = this.ctx;
    const w = this.window!;
    try {
      const st = await this.hv.lookup(vm);
      if (st === null || st.id !== null) return 'not-safe';
      if (!this.leaseTrusted()) {
        this.note(`stays off: this run's lease on it was last confirmed too long ago to act without asking host ${host}`);
        return 'not-safe';
      }
      if (last === null) return 'not-safe';
      // The definition as libvirt has it now, not as last seen: a define whose answer was lost
      // (define-on-new, then the shell went) may have moved it to NEW meanwhile.
      const persistentXml = await this.hv.inactiveXml(vm, { secure: true });
      const now: Observation = { ...last, ...domainView(st, persistentXml, null, this.ctx.disks) };
      if (now.persistent !== Placement.old) {
        this.note(`stays off: its definition is on ${now.persistent === Placement.new ? 'NEW' : now.persistent}, and host ${host} must stop its mirrors before it starts there`);
        return 'not-safe';
      }
      last = now;
      const wait = `after ${spoken(heldMs)} on hold with the VM off`;
      if (w.name === 'T2') {
        if (last.mirrors.some((m) => !m.exists || !m.ours)) return 'not-safe';
        const xml = this.definitions(last).onMirror;
        await this.step('start-on-mirror', `start ${vm} on its mirrors again, ${wait}`, async () => {
          const id = await this.hv.startWithLiveXml(xml);
          if (id === null) throw new StepFailure(`${vm} did not start on its mirrors`, false);
          return { id, why: 'window-hold', ...this.markUp() };
        }, { phase: 'T2' });
        this.signal({ kind: 'restarted', window: 'T2' });
        this.note(`up again on its mirrors ${wait}; its T2 window is tried again once host ${host} answers`);
        return 'started';
      }
      const name = w.name;
      await this.step('start-on-old', `start ${vm} on its old volumes, ${wait}`, async () => {
        const id = await this.hv.start(vm);
        return { id, why: 'window-hold', ...this.markUp() };
      }, { phase: name });
      if (name === 'T1') this.signal({ kind: 'up-t1' });
      this.note(`up again on its old volumes; its ${name} window is tried again once host ${host} answers (${wait})`);
      return 'started';
    } catch (err) {
      if (isTransient(err)) return 'libvirt-down';
      // a restart that libvirt refused changes nothing: the VM stays held, off, as it was
      this.note(`stays off: starting it again failed (${errorMessage(err)}); it waits for host ${host}`);
      return 'not-safe';
    }
  }

  /**
   * An operator (or the guest itself) who stops the VM outside a window, or starts one that was
   * meant to stay off, is obeyed: the journal records it, and each window then leaves the VM the
   * way they chose. sanshift never restarts a VM someone stopped.
   */
  private reconcilePower(obs: Observation): void {
    const f = this.facts();
    if (f.originalXml === null || this.window !== null) return;
    if (obs.running === f.wantRunning) return;
    if (!obs.running && this.offBySanshift()) return;
    this.log({ kind: 'power', vm: this.ctx.vm, running: obs.running, state: obs.state });
    this.note(obs.running ? 'was started outside sanshift: it will run after each window' : `stopped outside sanshift (${obs.state}): it stays off after each window`);
  }

  /** The VM's last power change in the journal was sanshift's own shutdown (asked for: a run
   * killed right after sending it finds the VM off with no result recorded). */
  private offBySanshift(): boolean {
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i]!;
      if (r.kind === 'power') return false;
      if (r.kind !== 'result' && r.kind !== 'intent') continue;
      if (r.step === 'shutdown-vm') return true;
      if (r.kind === 'intent') continue;
      if (r.step === 'start-on-mirror' || r.step === 'start-on-new' || r.step === 'start-on-old' || r.step === 'adopt-start') return false;
    }
    return false;
  }

  /** The persistent definition before the first change, recorded once per migration (I4).
   * A migration under way, or one that failed back onto OLD, keeps the original it has. It is
   * read without secrets: the journal never holds a console password. */
  private async ensureOriginalRecorded(): Promise<void> {
    const f = this.facts();
    if (f.originalXml !== null && (f.outcome === null || f.outcome === 'failed')) return;
    // Without a journal (another machine, a lost state folder) the definition itself still
    // says what it was: OLD plus our metadata, which removeMigrationMetadata takes away.
    const xml = removeMigrationMetadata(await this.hv.inactiveXml(this.ctx.vm));
    const st = await this.hv.lookup(this.ctx.vm);
    this.log({ kind: 'original', vm: this.ctx.vm, host: this.ctx.host, xml, running: st !== null && st.id !== null });
  }

  private definitions(obs: Observation): DefinitionSet {
    return definitionsFor(obs.persistentXml, this.ctx.disks, this.ctx.runId);
  }

  /** Journals (and announces) once per attempt that every mirror reached sync. */
  private resyncRecorded = false;
  /** Disks the coordinator counts as copied (their bandwidth given back): by `copied` as each
   * one reaches sync, all of them with `synced`. */
  private readonly copiedTargets = new Set<string>();
  private recordResyncEnded(): void {
    if (this.resyncRecorded) return;
    this.resyncRecorded = true;
    const sizes = this.ctx.disks.map((d) => d.sizeBytes);
    const bytes = sizes.every((b): b is number => b !== undefined) ? sizes.reduce((a, b) => a + b, 0) : null;
    const targets = this.ctx.disks.map((d) => d.target);
    for (const t of targets) this.copiedTargets.add(t);
    this.log({ kind: 'result', vm: this.ctx.vm, step: 'wait-for-resync', detail: { resyncBytes: bytes, targets } });
    this.ctx.emit({ kind: 'resync-ended', at: this.ctx.clock.now(), vm: this.ctx.vm, targets, bytes });
    this.signal({ kind: 'synced', targets });
  }

  private signal(s: VmSignal): void {
    this.ctx.coordination?.signal(s);
  }

  /** Waits at a coordinator gate; true when it had to wait (what was observed may be old). */
  private async gate(kind: GateKind): Promise<boolean> {
    return (await this.ctx.coordination?.gate(kind)) ?? false;
  }

  private disk(target: string): DiskPlan {
    return this.ctx.disks.find((d) => d.target === target)!;
  }

  private async step<T extends Record<string, unknown> | void>(step: string, summary: string, fn: () => Promise<T>, detail: Record<string, unknown> = {}): Promise<T> {
    const { vm, clock } = this.ctx;
    const t0 = clock.now();
    const targets = Array.isArray(detail['targets']) ? (detail['targets'] as string[]) : undefined;
    const target = targets?.length === 1 ? { target: targets[0]! } : {};
    this.log({ kind: 'intent', vm, step, ...target, detail });
    this.ctx.emit({ kind: 'step-started', at: t0, vm, step, summary, ...target });
    const out = await fn();
    this.log({ kind: 'result', vm, step, ...target, detail: { ...detail, ...(out ?? {}) } });
    this.ctx.emit({ kind: 'step-finished', at: clock.now(), vm, step, ms: clock.now() - t0, ...target });
    return out;
  }

  private openWindow(name: WindowName): void {
    this.window = { name, askedAt: this.ctx.clock.now(), downAt: null, host: this.calls.host, libvirt: this.calls.libvirt };
  }

  private markDown(): void {
    this.seenOff = this.ctx.observer.ticket();
    const w = this.window!;
    w.downAt = this.ctx.clock.now();
    // what counts as the window's own work starts now: the shutdown's polls are the guest's time
    w.host = this.calls.host;
    w.libvirt = this.calls.libvirt;
    this.ctx.emit({ kind: 'down', at: w.downAt, vm: this.ctx.vm, window: w.name });
    if (w.name === 'T1') this.signal({ kind: 'down-t1' });
    if (w.name === 'T2') this.signal({ kind: 'down-t2' });
  }

  private markUp(): Record<string, number> {
    this.seenOff = undefined;
    const now = this.ctx.clock.now();
    const w = this.window;
    this.window = null;
    if (w === null || w.downAt === null) return {};
    const figures = { downMs: now - w.downAt, windowMs: now - w.askedAt, hostCommands: this.calls.host - w.host, libvirtCalls: this.calls.libvirt - w.libvirt };
    this.ctx.emit({ kind: 'up', at: now, vm: this.ctx.vm, window: w.name, ...figures });
    return figures;
  }

  /** A failed md action as the operator reads it. */
  private mdFailure(r: MdActResult, doing: string): string | null {
    const bad = r.outcomes.find((o) => !o.ok && o.code !== 'skipped');
    if (bad === undefined || bad.ok) return null;
    const out = bad.output.length > 0 ? ` (${bad.output.join('; ')})` : '';
    return `${doing} ${bad.mirror} on ${this.ctx.host} failed: ${bad.message}${out}`;
  }

  // ---- actions ------------------------------------------------------------------------------

  /** Does the action; returns the observation it leaves behind when it can tell, else null. */
  private async act(action: Action, obs: Observation, decide: (obs: Observation, facts: MigrationFacts) => Action): Promise<Observation | null> {
    const { vm, disks } = this.ctx;
    switch (action.kind) {
      case ActionKind.buildMirrors: {
        // a VM's mirrors are built when the scheduler lets its bundle in, not all at the start
        if (await this.gate('t1-prepare')) {
          const fresh = await this.observe();
          if (decide(fresh, this.facts()).kind !== ActionKind.buildMirrors) return fresh;
        }
        const cap = this.ctx.policy.resyncSpeedMaxKiB;
        const r = await this.step('build-mirror', `build ${action.targets.map((t) => `${this.disk(t).mirror} over ${this.disk(t).old}`).join(', ')} (OLD alone: md copies nothing yet)`, async () => {
          const res = await this.md(action.targets.map((t) => ({ verb: 'build' as const, ...this.paths(t), ...(cap === undefined ? {} : { speedKiBs: cap }) })));
          const why = this.mdFailure(res, 'building');
          if (why !== null) throw new StepFailure(why, true);
          return { result: res, kernelNames: Object.fromEntries(res.outcomes.map((o) => [o.mirror, o.ok ? o.kernelName : null])) };
        }, { targets: action.targets });
        return this.withHost(obs, r.result.after);
      }
      case ActionKind.recordMigration: {
        const recorded = this.definitions(obs).recorded;
        await this.confirmLease();
        await this.step('record-migration', `record the migration in ${vm}'s persistent definition (still on OLD: I2)`, () => this.hv.define(recorded));
        return { ...obs, persistentXml: recorded, recorded: true };
      }
      case ActionKind.shutdownForMirror: {
        if (await this.gate('t1-shutdown')) {
          // the gate took a while: decide again on what is there now
          const fresh = await this.observe();
          if (decide(fresh, this.facts()).kind !== ActionKind.shutdownForMirror) return fresh;
        }
        await this.confirmLease();
        await this.recheckNewVolumes(disks, false);
        await this.beforeWindow('T1');
        this.openWindow('T1');
        await this.step('shutdown-vm', `graceful shutdown of ${vm} (T1)`, () => this.shutdown(), { phase: 'T1' });
        return { ...obs, running: false, id: null, live: null, state: 'shutoff', suspended: false, hostReadWhileOff: false };
      }
      case ActionKind.flushMirrors: {
        // A buffered read of the mirror made while the VM still wrote OLD directly (udev's probe
        // when the array appeared) can sit in the mirror's page cache; a guest started on the
        // mirror with a host page cache would read it. Drop it (the hazard and the fix are a lab
        // scenario: test/lab/scenarios/).
        const r = await this.step('flush-mirrors', `drop the page cache of ${disks.map((d) => d.mirror).join(', ')}`, async () => {
          const res = await this.md(disks.map((d) => ({ verb: 'flush' as const, ...this.paths(d.target) })));
          const why = this.mdFailure(res, 'flushing');
          if (why !== null) throw new StepFailure(why, true);
          return { result: res };
        });
        return this.withHost(obs, r.result.after, true);
      }
      case ActionKind.startOnMirror: {
        this.signal({ kind: 'mirror-ready' });
        await this.gate('t1-start');
        await this.confirmLease();
        const xml = this.definitions(obs).onMirror;
        const r = await this.step('start-on-mirror', `start ${vm} on its mirrors (one-off live definition)`, async () => {
          const id = await this.hv.startWithLiveXml(xml);
          if (id === null) throw new StepFailure(`${vm} did not start on its mirrors`, true);
          return { id, ...this.markUp() };
        });
        if (this.gatesT1()) await this.step('health-gate', `health gate of ${vm} after T1`, () => this.healthGate('T1'), { phase: 'T1' });
        this.signal({ kind: 'up-t1' });
        await this.afterWindow('T1');
        return { ...obs, running: true, id: r.id, live: Placement.mirror, state: 'running', hostReadWhileOff: false };
      }
      case ActionKind.adoptStart:
        await this.step('adopt-start', `${vm} runs on its mirrors (started before an interruption); watching it`, async () => ({ id: action.id }));
        this.signal({ kind: 'up-t1' });
        return obs;
      case ActionKind.addNewLegs: {
        const chosen = action.targets.map((t) => this.disk(t));
        await this.recheckNewVolumes(chosen, true);
        // a disk copied before and rebuilt (stale at cutover) copies again, inside its share
        for (const t of action.targets) this.copiedTargets.delete(t);
        const caps = (await this.ctx.coordination?.resyncShares(action.targets)) ?? new Map<string, number | 'system'>();
        const policyCap = this.ctx.policy.resyncSpeedMaxKiB;
        const r = await this.step('add-new-leg', `re-check that ${chosen.map((d) => d.new).join(', ')} ${chosen.length > 1 ? 'are' : 'is'} unused (I5), then add ${chosen.length > 1 ? 'them' : 'it'}: md starts copying`, async () => {
          const res = await this.md(chosen.map((d) => {
            const speed = caps.get(d.target) ?? policyCap;
            return { verb: 'add' as const, ...this.paths(d.target), ...(speed === undefined ? {} : { speedKiBs: speed }) };
          }));
          const why = this.mdFailure(res, 'adding the new volume to');
          if (why !== null) {
            this.ctx.coordination?.resyncsAbandoned(action.targets);
            const busy = res.outcomes.find((o) => !o.ok && o.code === 'new-in-use');
            // I5 on the host, checked in the same session as the add: nothing was added
            throw new StepFailure(busy !== undefined && !busy.ok ? `I5: ${busy.message} (found right before mdadm --add; nothing was added)` : why, true);
          }
          const baselines: Record<string, JoinBaseline | null> = {};
          for (const d of chosen) baselines[d.target] = res.baselines.get(d.mirror) ?? null;
          return { result: res, baselines };
        }, { targets: action.targets });
        for (const t of action.targets) this.signal({ kind: 'resync-started', target: t });
        return this.withHost(obs, r.result.after);
      }
      case ActionKind.capResyncSpeed: {
        const r = await this.step('cap-resync-speed', `cap the resync of ${action.targets.join(', ')} at ${action.kiBs} KiB/s`, async () => {
          const res = await this.md(action.targets.map((t) => ({ verb: 'speed' as const, ...this.paths(t), speedKiBs: action.kiBs })));
          const why = this.mdFailure(res, 'capping');
          if (why !== null) throw new StepFailure(why, true);
          return { result: res };
        }, { targets: action.targets, kiBs: action.kiBs });
        return this.withHost(obs, r.result.after);
      }
      case ActionKind.waitForResync:
        return this.waitForResync(obs);
      case ActionKind.shutdownForCutover: {
        this.recordResyncEnded();
        const waited = await this.gate('t2-shutdown');
        // Everything that can be checked while the VM runs is checked before it stops: still in
        // sync, the same domain (I3), and the definition an operator may have edited meanwhile.
        let now = obs;
        if (waited) {
          now = await this.observe();
          if (decide(now, this.facts()).kind !== ActionKind.shutdownForCutover) return now;
        } else {
          now = { ...obs, persistentXml: await this.hv.inactiveXml(vm, { secure: true }) };
        }
        await this.confirmLease();
        await this.step('check-cutover', `I3 holds for ${vm}: same domain id ${action.id}, live on its mirrors, every mirror in sync`, async () => ({ id: action.id, ...(action.forward ? { forward: 'the old leg failed; NEW holds every write' } : {}) }));
        await this.beforeWindow('T2');
        this.openWindow('T2');
        await this.step('shutdown-vm', `graceful shutdown of ${vm} (T2)`, () => this.shutdown(), { phase: 'T2' });
        return { ...now, running: false, id: null, live: null, state: 'shutoff', suspended: false, hostReadWhileOff: false };
      }
      case ActionKind.readHost: {
        // the T2 window's final check: the copy complete, and nothing wrote around it
        // a ticket is used once, and only while the VM has stayed off since (markUp clears it)
        const after = this.seenOff;
        this.seenOff = undefined;
        return this.withHost(obs, await this.hostRead(after === undefined ? {} : { after }), true);
      }
      case ActionKind.defineOnNew: {
        const defs = this.definitions(obs);
        await this.confirmLease();
        const original = this.facts().originalXml;
        const changed = original === null ? [] : changedParts(original, defs.original);
        if (changed.length > 0) this.note(`its definition changed since the migration began (kept): ${changed.join(', ')}`);
        // NEW's write counters as the final check read them: the array holds NEW and the VM is
        // off, so nothing writes it until the start; a rollback before that start compares them
        const newAtCutover: Record<string, { kname: string; counters: unknown }> = {};
        for (const d of disks) {
          const dev = this.snapshot === null ? null : deviceOf(this.snapshot, d.new);
          if (dev?.counters != null) newAtCutover[d.target] = { kname: dev.kname, counters: dev.counters };
        }
        await this.step('define-on-new', `define ${vm} on its new volumes`, () => this.hv.define(defs.onNew), { newAtCutover, ...(changed.length > 0 ? { keptChanges: changed } : {}) });
        return { ...obs, persistent: Placement.new, persistentXml: defs.onNew, recorded: false };
      }
      case ActionKind.stopMirrors:
        return this.stopMirrors(obs, action.targets, action.why, action.note);
      case ActionKind.startOnNew: {
        this.signal({ kind: 'ready-t2' });
        await this.gate('t2-start');
        await this.confirmLease();
        const r = await this.step('start-on-new', `start ${vm} on its new volumes`, async () => {
          const id = await this.hv.start(vm);
          return { id, ...this.markUp() };
        });
        return { ...obs, running: true, id: r.id, live: Placement.new, state: 'running', hostReadWhileOff: false };
      }
      case ActionKind.healthGate:
        await this.step('health-gate', `health gate of ${vm} after T2`, () => this.healthGate('T2'), { phase: 'T2' });
        this.signal({ kind: 'up-t2' });
        await this.afterWindow('T2');
        return null;
      case ActionKind.shutdownForRollback:
        await this.confirmLease();
        this.openWindow('rollback');
        await this.step('shutdown-vm', `graceful shutdown of ${vm} (rollback)`, () => this.shutdown(), { phase: 'rollback' });
        return { ...obs, running: false, id: null, live: null, state: 'shutoff', suspended: false, hostReadWhileOff: false };
      case ActionKind.defineOriginal: {
        const onOld = this.definitions(obs).onOld;
        await this.confirmLease();
        await this.step('define-original', `define ${vm} on its old volumes, without sanshift's record`, () => this.hv.define(onOld));
        return { ...obs, persistent: Placement.old, persistentXml: onOld, recorded: false };
      }
      case ActionKind.startOnOld: {
        await this.confirmLease();
        if (this.window === null) this.openWindow('rollback');
        const r = await this.step('start-on-old', `start ${vm} on its old volumes`, async () => {
          const id = await this.hv.start(vm);
          return { id, ...this.markUp() };
        });
        return { ...obs, running: true, id: r.id, live: Placement.old, state: 'running', hostReadWhileOff: false };
      }
      default:
        throw new StepFailure(`unexpected action ${action.kind}`, false);
    }
  }

  private paths(target: string): { mirror: string; old: string; new: string } {
    const d = this.disk(target);
    return { mirror: d.mirror, old: d.old, new: d.new };
  }

  private async stopMirrors(obs: Observation, targets: string[], why: StopReason, note?: string): Promise<Observation> {
    if (note !== undefined) this.note(note);
    const chosen = targets.map((t) => this.disk(t));
    const r = await this.step('stop-mirror', `stop ${chosen.map((d) => d.mirror).join(', ')}`, async () => {
      const res = await this.md(chosen.map((d) => ({ verb: 'stop' as const, ...this.paths(d.target) })));
      const failure = this.mdFailure(res, 'stopping');
      if (failure !== null) throw new StepFailure(failure, why !== 'rollback');
      return { result: res };
    }, { targets, why });
    if (why !== 'cutover') this.ctx.coordination?.resyncsAbandoned(targets);
    return this.withHost(obs, r.result.after);
  }

  /** Graceful shutdown, then the policy on timeout: fail (leave it running) or force off. A
   * suspended guest (paused, pmsuspended: its RAM is state) is never forced off. */
  private async shutdown(): Promise<{ forced: boolean }> {
    const { vm, clock, policy } = this.ctx;
    const window = this.window?.name ?? 'T1';
    const deadline = clock.now() + policy.shutdownTimeoutMs;
    // A guest still in its firmware, or busy booting, drops the ACPI power button: ask again
    // every few seconds until the deadline (seen in the lab right after a fast T1 start).
    const askEveryMs = 5000;
    let askedAt = clock.now();
    const ask = async (): Promise<boolean> => {
      try {
        await this.hv.shutdown(vm, policy.shutdownMode === 'auto' ? undefined : policy.shutdownMode);
        return true;
      } catch (err) {
        // it may have gone off by itself in between: the next look tells
        const st = await this.hv.lookup(vm);
        if (st === null || st.id === null) return false;
        throw err;
      }
    };
    await ask();
    for (;;) {
      const st = await this.hv.lookup(vm);
      if (st === null || st.id === null) {
        this.markDown();
        return { forced: false };
      }
      if (clock.now() >= deadline) {
        if (st.state === 'paused' || st.state === 'pmsuspended') {
          this.window = null;
          throw new StepFailure(`${vm} is ${st.state} (suspended by an operator or its guest) and did not power off within ${policy.shutdownTimeoutMs / 1000}s; a suspended guest is never forced off. Resume it, then run again`, false);
        }
        break;
      }
      if (clock.now() - askedAt >= askEveryMs) {
        askedAt = clock.now();
        await ask();
      }
      await clock.sleep(Math.min(SHUTDOWN_POLL_MS, Math.max(1, deadline - clock.now())));
    }
    if (policy.onShutdownTimeout === 'force' || window === 'rollback') {
      this.note(`did not power off within ${policy.shutdownTimeoutMs / 1000}s: forcing it off`);
      await this.hv.destroy(vm);
      this.markDown();
      return { forced: true };
    }
    this.window = null;
    // At T1 the VM still runs on OLD: undoing the prepare (stop the one-legged mirrors, take
    // the record out of its definition) restarts nothing. At T2 it runs on its mirrors.
    const where = window === 'T1' ? 'it keeps running on its old volumes, untouched' : 'it keeps running on its mirrors, which stay in sync; run again or roll back';
    throw new StepFailure(`${vm} did not power off within ${policy.shutdownTimeoutMs / 1000}s (onShutdownTimeout: fail); ${where}`, window === 'T1');
  }

  /** I5 by identity, outside any window: no domain of any host that sees the LUN uses a new
   * volume (the host side, holders, mounts and swaps, is checked by the add itself). */
  private async recheckNewVolumes(disks: readonly DiskPlan[], beforeAdd: boolean): Promise<void> {
    if (this.ctx.newVolumeUsers === undefined) return;
    const users = await this.ctx.newVolumeUsers(disks);
    if (users.length > 0) {
      throw new StepFailure(`I5: ${users.join('; ')}${beforeAdd ? '' : ' (found before the shutdown: the VM was not touched)'}`, true);
    }
  }

  /** Watches the mirrors with the host's shared poll until they are in sync, something changes
   * that calls for a new decision, or the copy stalls for the policy's stall timeout. */
  private async waitForResync(obs: Observation): Promise<Observation | null> {
    const { vm, clock, policy } = this.ctx;
    // An array in sync shows no progress line: remember each one's size to count it as copied.
    const sizes = new Map<string, number>();
    let last = { done: -1, at: clock.now() };
    for (;;) {
      this.checkHalt(true);
      const poll = await this.ctx.observer.nextPoll();
      if (poll.roster.get(vm) !== obs.id) return null;
      const next = this.withHost(obs, poll.snapshot);
      const decision = decideMigration(next, this.facts());
      const mine = next.mirrors.filter((m) => m.state !== null);
      for (const m of mine) if (m.state?.progress != null) sizes.set(m.kernelName!, m.state.progress.totalSectors * 512);
      const total = [...sizes.values()].reduce((a, b) => a + b, 0);
      const done = mine.reduce((sum, m) => sum + (m.state!.inSync ? (sizes.get(m.kernelName!) ?? 0) : (m.state!.progress?.doneSectors ?? 0) * 512), 0);
      const speed = mine.reduce((sum, m) => sum + (m.state!.inSync ? 0 : (m.state!.progress?.speedKiBs ?? 0)), 0);
      if (decision.kind !== ActionKind.waitForResync) return next;
      // a disk done before the others gives its bandwidth back now (recordResyncEnded tells
      // the coordinator about the last one, with the cutover)
      const copied = mine.filter((m) => m.ours && m.hasNew && m.state!.inSync && !this.copiedTargets.has(m.target)).map((m) => m.target);
      if (copied.length > 0) {
        for (const t of copied) this.copiedTargets.add(t);
        this.signal({ kind: 'copied', targets: copied });
      }
      this.ctx.emit({
        kind: 'progress',
        at: clock.now(),
        vm,
        percent: total === 0 ? 0 : Math.round((done / total) * 1000) / 10,
        speedKiBs: speed === 0 ? null : speed,
        etaSeconds: speed === 0 ? null : Math.round((total - done) / 1024 / speed),
        doneBytes: done,
        totalBytes: total,
      });
      if (done > last.done) last = { done, at: clock.now() };
      else if (clock.now() - last.at >= policy.resyncStallTimeoutMs) {
        throw new StepFailure(`the resync made no progress for ${Math.round(policy.resyncStallTimeoutMs / 1000)}s (stalled at ${total === 0 ? 0 : Math.round((done / total) * 1000) / 10}%)`, true);
      }
      // Nothing copying and not in sync: a new decision (trap 4: idle is not finished).
      if (mine.every((m) => m.state!.progress === null || m.state!.inSync)) return next;
    }
  }

  /**
   * The gate after a window's start. The domain must stay up for health.settle; after T2 the
   * host's health.command must exit 0; and every built-in check of the window (health.checks
   * whose gates name it: guest agent, TCP, HTTP, a command) must pass, side by side, each retried
   * until health.timeout. After T1 a failure takes the VM back to OLD (still current: NEW has not
   * joined); after T2 OLD is stale, and the VM is left on NEW for an operator.
   */
  private async healthGate(window: HealthGate): Promise<Record<string, unknown>> {
    const { vm, clock, policy, runner } = this.ctx;
    const where = window === 'T1' ? 'its mirrors' : 'its new volumes';
    const after = window === 'T1' ? 'it goes back to its old volumes, still current' : 'its old volumes are stale now: investigate, or migrate back with rollback --reverse';
    const first = await this.hv.lookup(vm);
    if (first?.id === null || first === null) throw new StepFailure(`${vm} is not running after its start on ${where}`, window === 'T1');
    await clock.sleep(policy.health.settleMs);
    const later = await this.hv.lookup(vm);
    if (later?.id !== first.id) throw new StepFailure(`${vm} did not stay running on ${where} (health gate after ${window}); ${after}`, window === 'T1');
    if (window === 'T2' && policy.health.command !== undefined) {
      const deadline = clock.now() + policy.health.timeoutMs;
      for (;;) {
        this.calls.host++;
        const r = await runner.run(policy.health.command, { timeoutMs: policy.health.timeoutMs });
        if (r.exitCode === 0) break;
        if (clock.now() >= deadline) throw new ActionError(`health command for ${vm} kept failing (exit ${r.exitCode}): ${r.stderr.trim()}`, { vm, host: this.ctx.host, step: 'health-gate' });
        await clock.sleep(Math.min(5000, policy.health.timeoutMs));
      }
    }
    const live = policy.health.checks.filter((c) => this.ctx.operatorCommands !== false || c.kind === 'guest-agent');
    for (const c of policy.health.checks) {
      if (!live.includes(c) && c.gates.includes(window)) this.note(`rehearsal: the ${c.kind} health check after ${window} would run here (not run: the host is simulated)`);
    }
    const gate: GateResult = await runHealthGate(window, live, {
      vm,
      host: this.ctx.host,
      window,
      runId: this.ctx.runId,
      agentPing: () => {
        this.calls.libvirt++;
        return this.hv.agentPing(vm);
      },
      ...(this.ctx.cwd === undefined ? {} : { cwd: this.ctx.cwd }),
    }, { timeoutMs: policy.health.timeoutMs, intervalMs: policy.health.intervalMs, clock });
    const checks = gate.results.map((r) => ({ kind: r.kind, ok: r.ok, detail: r.detail, attempts: r.attempts }));
    for (const r of gate.results) this.note(`health check after ${window}: ${r.detail}`);
    if (!gate.ok) {
      const failed = gate.results.filter((r) => !r.ok).map((r) => r.detail).join('; ');
      throw new StepFailure(`health gate after ${window} failed: ${failed}; ${after}`, window === 'T1');
    }
    return { id: first.id, phase: window, checks };
  }

  /** Whether a gate runs after T1: only when a check asks for it (it delays the copy). */
  private gatesT1(): boolean {
    return this.ctx.policy.health.checks.some((c) => c.gates.includes('T1'));
  }

  /** Runs the VM's hook, when the policy has one: journalled with its output, announced in one
   * line. A hook's failure is a value: the caller decides. */
  private async hook(hook: HookName, window: 'T1' | 'T2' | '', reason?: string): Promise<{ ok: boolean; line: string } | null> {
    const argv = this.ctx.policy.hooks[hook];
    if (argv === undefined) return null;
    const { vm, host, runId, clock, policy } = this.ctx;
    if (this.ctx.operatorCommands === false) {
      this.note(`rehearsal: the ${hook} hook ${argv.join(' ')} would run here (not run: the host is simulated)`);
      return null;
    }
    const r = await clock.track(runHook(hook, argv, { vm, host, window, runId, ...(reason === undefined ? {} : { reason }) }, { timeoutMs: policy.hooks.timeoutMs, ...(this.ctx.cwd === undefined ? {} : { cwd: this.ctx.cwd }) }));
    this.log({ kind: 'hook', vm, hook, window, ok: r.ok, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut, durationMs: r.durationMs, output: r.output, truncated: r.truncated });
    const line = describeHookResult(r);
    this.note(line);
    return { ok: r.ok, line };
  }

  /** beforeWindow: a failure keeps the VM up and untouched (at T1 the prepare is undone, at T2
   * it keeps running on its mirrors, in sync). */
  private async beforeWindow(window: 'T1' | 'T2'): Promise<void> {
    const h = await this.hook('beforeWindow', window);
    if (h !== null && !h.ok) {
      throw new StepFailure(`${h.line}; ${this.ctx.vm} was not stopped for ${window}${window === 'T1' ? '' : ': it keeps running on its mirrors, in sync; run again once the hook passes, or roll back'}`, window === 'T1');
    }
  }

  /** afterWindow: the VM is up and healthy; a failing hook is reported, the migration goes on. */
  private async afterWindow(window: 'T1' | 'T2'): Promise<void> {
    await this.hook('afterWindow', window);
  }
}
