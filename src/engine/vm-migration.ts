// Drives one VM to its goal (new volumes, or back to old ones): observe, decide, act, repeat.
// Each action writes its intent to the journal before touching anything and its result after
// (I4), so a new process picks up from the journal and what it observes.
import { listDisks, removeMigrationMetadata } from '../domain/index.js';
import { gatherBlockDeviceFacts, newVolumeProblems } from '../host/blockdev.js';
import { addLeg, buildMirror, judgeMirrorIdentity, readMdstat, resolvePaths, setResyncSpeedMax, stopMirror } from '../host/md.js';
import type { MirrorState } from '../host/mirrorstate.js';
import type { CommandRunner } from '../host/runner.js';
import type { Hypervisor } from '../hypervisor/port.js';
import type { Policy } from '../inventory/types.js';
import { definitionsFor, type DefinitionSet } from '../plan/vm-steps.js';
import type { DiskPlan } from '../plan/types.js';
import type { Clock } from '../util/clock.js';
import { ActionError, errorMessage } from '../util/errors.js';
import { ActionKind, decideMigration, decideRollback, type Action } from './decide.js';
import type { VmCoordination, VmSignal, GateKind } from './coordinator.js';
import type { EventSink } from './events.js';
import { factsOf, type MigrationFacts } from './facts.js';
import type { Journal, JournalRecord } from './journal.js';
import { observeVm, type Observation } from './observation.js';

export interface VmContext {
  vm: string;
  host: string;
  disks: DiskPlan[];
  hv: Hypervisor;
  runner: CommandRunner;
  journal: Journal;
  /** every journal record of earlier runs (this run's own are kept in memory as they are written) */
  history: JournalRecord[];
  clock: Clock;
  policy: Policy;
  runId: string;
  emit: EventSink;
  /** bundle windows and the fleet scheduler's gates; absent: the VM goes on its own */
  coordination?: VmCoordination;
  /** the coordinator sets md's resync speed (bandwidth limits): no per-policy cap here */
  speedManagedElsewhere?: boolean;
  /** the poller shared by every VM of this host (one poll per host per interval) */
  poll: (mirrors: { kernelName: string; memberKnames: string[] }[]) => Promise<MirrorState[]>;
}

export type VmOutcome = { outcome: 'done' | 'rolled-back'; note?: string } | { outcome: 'failed'; reason: string };

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

export class VmMigration {
  private readonly records: JournalRecord[];
  private defs: DefinitionSet | undefined;
  private downSince: number | null = null;
  private downWindow: 'T1' | 'T2' | 'rollback' = 'T1';

  constructor(private readonly ctx: VmContext) {
    this.records = ctx.history.filter((r) => 'vm' in r && r.vm === ctx.vm);
  }

  private facts(): MigrationFacts {
    return factsOf(this.records, this.ctx.vm);
  }

  private log(entry: Parameters<Journal['append']>[0]): void {
    this.records.push(this.ctx.journal.append(entry));
  }

  // ---- observation ------------------------------------------------------------------------

  async observe(): Promise<Observation> {
    const obs = await observeVm(this.ctx);
    if (obs === null) throw new StepFailure(`domain ${this.ctx.vm} no longer exists on host ${this.ctx.host}`, false);
    return obs;
  }

  // ---- the loop ---------------------------------------------------------------------------

  /** Migrates the VM to NEW; on a failure that calls for it, brings it back to OLD. */
  async migrate(): Promise<VmOutcome> {
    try {
      await this.ensureOriginalRecorded();
      const cap = this.ctx.speedManagedElsewhere === true ? undefined : this.ctx.policy.resyncSpeedMaxKiB;
      const result = await this.converge((obs, facts) => decideMigration(obs, facts, cap === undefined ? {} : { resyncSpeedMaxKiB: cap }));
      this.signal({ kind: 'finished', ok: true });
      return result;
    } catch (err) {
      const reason = errorMessage(err);
      const rollback = err instanceof StepFailure ? err.rollback : true;
      this.log({ kind: 'failed', vm: this.ctx.vm, reason });
      this.ctx.emit({ kind: 'note', at: this.ctx.clock.now(), vm: this.ctx.vm, text: `failed: ${reason}` });
      if (rollback && this.facts().originalXml !== null && !this.facts().startedOnNew) {
        try {
          await this.converge(decideRollback);
          this.ctx.emit({ kind: 'note', at: this.ctx.clock.now(), vm: this.ctx.vm, text: 'back on its old volumes' });
        } catch (rollbackErr) {
          const both = `${reason}; going back to the old volumes failed too: ${errorMessage(rollbackErr)}`;
          this.finish({ outcome: 'failed', reason: both });
          this.signal({ kind: 'finished', ok: false, reason: both });
          return { outcome: 'failed', reason: both };
        }
      }
      const failed = { outcome: 'failed' as const, reason: rollback ? `${reason} (the VM is back on its old volumes)` : reason };
      this.finish(failed);
      this.signal({ kind: 'finished', ok: false, reason });
      return failed;
    }
  }

  /** Returns the VM to OLD from any phase before T2 completes. */
  async rollback(): Promise<VmOutcome> {
    const result = await this.converge(decideRollback);
    if (result.outcome === 'done') {
      this.finish({ outcome: 'rolled-back' });
      return { outcome: 'rolled-back' };
    }
    return result;
  }

  private finish(o: VmOutcome): void {
    this.log({ kind: 'vm-finished', vm: this.ctx.vm, outcome: o.outcome, ...(o.outcome === 'failed' ? { reason: o.reason } : {}) });
    this.ctx.emit({ kind: 'vm-finished', at: this.ctx.clock.now(), vm: this.ctx.vm, outcome: o.outcome, ...(o.outcome === 'failed' ? { reason: o.reason } : {}) });
  }

  private async converge(decide: (obs: Observation, facts: MigrationFacts) => Action): Promise<VmOutcome> {
    for (let acted = 0; acted < MAX_ACTIONS; ) {
      const obs = await this.observe();
      const action = decide(obs, this.facts());
      if (action.kind === ActionKind.done) {
        if (decide === decideRollback) return { outcome: 'done' };
        this.finish({ outcome: 'done' });
        return { outcome: 'done', ...(action.note === undefined ? {} : { note: action.note }) };
      }
      if (action.kind === ActionKind.fail) throw new StepFailure(action.reason, action.rollback);
      await this.act(action, obs);
      // Waiting is not progress to count: a resync may take days of polls.
      if (action.kind !== ActionKind.waitForResync) acted++;
    }
    throw new StepFailure(`no progress after ${MAX_ACTIONS} steps`, true);
  }

  /** The persistent definition before the first change, recorded once per migration (I4).
   * A migration under way, or one that failed back onto OLD, keeps the original it has. */
  private async ensureOriginalRecorded(): Promise<void> {
    const f = this.facts();
    if (f.originalXml !== null && (f.outcome === null || f.outcome === 'failed')) return;
    // Without a journal (another machine, a lost state folder) the definition itself still
    // says what it was: OLD plus our metadata, which removeMigrationMetadata takes away.
    const xml = removeMigrationMetadata(await this.ctx.hv.inactiveXml(this.ctx.vm));
    const st = await this.ctx.hv.lookup(this.ctx.vm);
    this.log({ kind: 'original', vm: this.ctx.vm, host: this.ctx.host, xml, running: st !== null && st.id !== null });
  }

  private definitions(): DefinitionSet {
    const original = this.facts().originalXml;
    if (original === null) throw new StepFailure('no original definition recorded', false);
    this.defs ??= definitionsFor(original, this.ctx.disks, this.ctx.runId);
    return this.defs;
  }

  /** Journals (and announces) once per attempt that every mirror reached sync. */
  private resyncRecorded = false;
  private recordResyncEnded(): void {
    if (this.resyncRecorded) return;
    this.resyncRecorded = true;
    const sizes = this.ctx.disks.map((d) => d.sizeBytes);
    const bytes = sizes.every((b): b is number => b !== undefined) ? sizes.reduce((a, b) => a + b, 0) : null;
    const targets = this.ctx.disks.map((d) => d.target);
    this.log({ kind: 'result', vm: this.ctx.vm, step: 'wait-for-resync', detail: { resyncBytes: bytes, targets } });
    this.ctx.emit({ kind: 'resync-ended', at: this.ctx.clock.now(), vm: this.ctx.vm, targets, bytes });
    this.signal({ kind: 'synced', targets });
  }

  private signal(s: VmSignal): void {
    this.ctx.coordination?.signal(s);
  }

  private async gate(kind: GateKind): Promise<void> {
    await this.ctx.coordination?.gate(kind);
  }

  private disk(target: string): DiskPlan {
    return this.ctx.disks.find((d) => d.target === target)!;
  }

  private async step<T extends Record<string, unknown> | void>(step: string, summary: string, fn: () => Promise<T>, detail: Record<string, unknown> = {}, target?: string): Promise<T> {
    const { vm, clock } = this.ctx;
    const t0 = clock.now();
    this.log({ kind: 'intent', vm, step, ...(target === undefined ? {} : { target }), detail });
    this.ctx.emit({ kind: 'step-started', at: t0, vm, step, summary, ...(target === undefined ? {} : { target }) });
    const out = await fn();
    this.log({ kind: 'result', vm, step, ...(target === undefined ? {} : { target }), detail: { ...detail, ...(out ?? {}) } });
    this.ctx.emit({ kind: 'step-finished', at: clock.now(), vm, step, ms: clock.now() - t0, ...(target === undefined ? {} : { target }) });
    return out;
  }

  private markDown(window: 'T1' | 'T2' | 'rollback'): void {
    this.downSince = this.ctx.clock.now();
    this.downWindow = window;
    this.ctx.emit({ kind: 'down', at: this.downSince, vm: this.ctx.vm, window });
  }

  private markUp(): void {
    const now = this.ctx.clock.now();
    this.ctx.emit({ kind: 'up', at: now, vm: this.ctx.vm, window: this.downWindow, downMs: this.downSince === null ? 0 : now - this.downSince });
    this.downSince = null;
  }

  // ---- actions ------------------------------------------------------------------------------

  private async act(action: Action, obs: Observation): Promise<void> {
    const { hv, vm, runner } = this.ctx;
    switch (action.kind) {
      case ActionKind.shutdownForMirror:
        await this.gate('t1-shutdown');
        await this.step('shutdown-vm', `graceful shutdown of ${vm} (T1)`, () => this.shutdown('T1'), { phase: 'T1' });
        this.signal({ kind: 'down-t1' });
        return;
      case ActionKind.shutdownForCutover:
        this.recordResyncEnded();
        await this.gate('t2-shutdown');
        // Re-observe after the wait: I3 must hold at the moment of the cutover, not before it.
        if (!(await this.stillReadyForCutover(action.id))) return;
        await this.step('check-cutover', `I3 holds for ${vm}: same domain id ${action.id}, live on its mirrors, every mirror in sync`, async () => ({ id: action.id }));
        await this.step('shutdown-vm', `graceful shutdown of ${vm} (T2)`, () => this.shutdown('T2'), { phase: 'T2' });
        this.signal({ kind: 'down-t2' });
        return;
      case ActionKind.shutdownForRollback:
        await this.step('shutdown-vm', `graceful shutdown of ${vm} (rollback)`, () => this.shutdown('rollback'), { phase: 'rollback' });
        return;
      case ActionKind.buildMirror: {
        const d = this.disk(action.target);
        this.resyncRecorded = false;
        await this.step('build-mirror', `build ${d.mirror} over ${d.old}`, async () => {
          await buildMirror(runner, d.mirror, d.old);
          const [md, old, nu] = await resolvePaths(runner, [d.mirror, d.old, d.new]);
          const id = judgeMirrorIdentity(d.mirror, { md: md!, old: old!, new: nu! }, await readMdstat(runner));
          if (!id.ours) throw new StepFailure(`after the build, ${id.reason}`, true);
          return { kernelName: id.name.state === 'active' ? id.name.kernelName : null };
        }, {}, d.target);
        return;
      }
      case ActionKind.addNewLeg: {
        const d = this.disk(action.target);
        await this.step('add-new-leg', `add ${d.new} to ${d.mirror}`, async () => {
          await this.recheckNewVolume(d);
          await addLeg(runner, d.mirror, d.new);
        }, {}, d.target);
        this.signal({ kind: 'resync-started', target: d.target });
        return;
      }
      case ActionKind.capResyncSpeed: {
        const m = obs.mirrors.find((x) => x.target === action.target)!;
        await this.step('cap-resync-speed', `cap ${m.kernelName} at ${action.kiBs} KiB/s`, () => setResyncSpeedMax(runner, m.kernelName!, action.kiBs), { kiBs: action.kiBs }, action.target);
        return;
      }
      case ActionKind.recordMigration:
        await this.step('record-migration', `record the migration in ${vm}'s persistent definition (on OLD)`, () => hv.define(this.definitions().recorded));
        return;
      case ActionKind.startOnMirror:
        this.signal({ kind: 'mirror-ready' });
        await this.gate('t1-start');
        await this.step('start-on-mirror', `start ${vm} on its mirrors (one-off live definition)`, async () => {
          await hv.startWithLiveXml(this.definitions().onMirror);
          const st = await hv.lookup(vm);
          if (st?.id === null || st === null) throw new StepFailure(`${vm} did not start on its mirrors`, true);
          return { id: st.id };
        });
        this.markUp();
        this.signal({ kind: 'up-t1' });
        return;
      case ActionKind.adoptStart:
        await this.step('adopt-start', `${vm} runs on its mirrors (started before an interruption); watching it`, async () => ({ id: action.id }));
        return;
      case ActionKind.waitForResync:
        // a VM that was off before its migration never starts on its mirrors: its window ends here
        this.signal({ kind: 'up-t1' });
        await this.waitForResync(obs);
        return;
      case ActionKind.defineOnNew:
        this.recordResyncEnded();
        await this.step('define-on-new', `define ${vm} on its new volumes`, () => hv.define(this.definitions().onNew));
        return;
      case ActionKind.stopMirror: {
        const d = this.disk(action.target);
        if (action.note !== undefined) this.ctx.emit({ kind: 'note', at: this.ctx.clock.now(), vm, text: action.note });
        await this.step('stop-mirror', `stop ${d.mirror}`, async () => {
          await stopMirror(runner, d.mirror);
        }, { why: action.why }, d.target);
        return;
      }
      case ActionKind.startOnNew:
        this.signal({ kind: 'ready-t2' });
        await this.gate('t2-start');
        await this.step('start-on-new', `start ${vm} on its new volumes`, () => hv.start(vm));
        this.markUp();
        return;
      case ActionKind.healthGate:
        await this.step('health-gate', `health gate of ${vm}`, () => this.healthGate());
        this.signal({ kind: 'up-t2' });
        return;
      case ActionKind.defineOriginal:
        await this.step('define-original', `define ${vm} as it was before the migration`, () => hv.define(this.facts().originalXml!));
        return;
      case ActionKind.startOnOld:
        await this.step('start-on-old', `start ${vm} on its old volumes`, () => hv.start(vm));
        this.markUp();
        return;
      default:
        throw new StepFailure(`unexpected action ${action.kind}`, false);
    }
  }

  /** After waiting for a T2 window: the VM still runs on its mirrors with the same id, in sync. */
  private async stillReadyForCutover(id: number): Promise<boolean> {
    const obs = await this.observe();
    return obs.running && obs.id === id && obs.live === 'mirror' && obs.mirrors.every((m) => m.ours && m.state?.inSync === true);
  }

  /** Graceful shutdown, then the policy on timeout: fail (leave it running) or force off. */
  private async shutdown(window: 'T1' | 'T2' | 'rollback'): Promise<{ forced: boolean }> {
    const { hv, vm, clock, policy } = this.ctx;
    const deadline = clock.now() + policy.shutdownTimeoutMs;
    // A guest still in its firmware, or busy booting, drops the ACPI power button: ask again
    // every few seconds until the deadline (seen in the lab right after a fast T1 start).
    const askEveryMs = 5000;
    let askedAt = clock.now();
    await hv.shutdown(vm);
    for (;;) {
      const st = await hv.lookup(vm);
      if (st === null || st.id === null) {
        this.markDown(window);
        return { forced: false };
      }
      if (clock.now() >= deadline) break;
      if (clock.now() - askedAt >= askEveryMs) {
        askedAt = clock.now();
        await hv.shutdown(vm);
      }
      await clock.sleep(Math.min(1000, Math.max(1, deadline - clock.now())));
    }
    if (policy.onShutdownTimeout === 'force' || window === 'rollback') {
      this.ctx.emit({ kind: 'note', at: clock.now(), vm, text: `did not power off within ${policy.shutdownTimeoutMs / 1000}s: forcing it off` });
      await hv.destroy(vm);
      this.markDown(window);
      return { forced: true };
    }
    const where = window === 'T1' ? 'it keeps running on its old volumes, untouched' : 'it keeps running on its mirrors, which stay in sync; run again or roll back';
    throw new StepFailure(`${vm} did not power off within ${policy.shutdownTimeoutMs / 1000}s (onShutdownTimeout: fail); ${where}`, false);
  }

  /** I5, right before `mdadm --add`: NEW is still unmounted, unheld, in no array, used by no domain. */
  private async recheckNewVolume(d: DiskPlan): Promise<void> {
    const { runner, hv } = this.ctx;
    const facts = await gatherBlockDeviceFacts(runner, [d.old, d.new]);
    const problems = newVolumeProblems(facts.devices.get(d.new)!, facts.devices.get(d.old)!);
    for (const name of await hv.listDomains()) {
      if (name === this.ctx.vm) continue;
      const xmls = [await hv.inactiveXml(name)];
      const st = await hv.lookup(name);
      if (st?.id !== null && st !== null) xmls.push(await hv.liveXml(name));
      if (xmls.some((x) => listDisks(x).some((disk) => disk.source === d.new))) problems.push({ code: 'held', message: `${d.new} is used by domain ${name}` });
    }
    if (problems.length > 0) throw new StepFailure(`I5: ${d.new} is in use: ${problems.map((p) => p.message).join('; ')}`, true);
  }

  /** Watches the mirrors with the host's shared poller until they are in sync or something
   * changes that calls for a new decision. */
  private async waitForResync(obs: Observation): Promise<void> {
    const { hv, vm, clock, policy } = this.ctx;
    const mirrors = obs.mirrors.filter((m) => m.kernelName !== null).map((m) => ({ kernelName: m.kernelName!, memberKnames: (m.state?.members ?? []).map((l) => l.kname) }));
    // An array in sync shows no progress line: remember each one's size to count it as copied.
    const sizes = new Map<string, number>();
    for (const m of obs.mirrors) if (m.kernelName !== null && m.state?.progress != null) sizes.set(m.kernelName, m.state.progress.totalSectors * 512);
    for (;;) {
      await clock.sleep(policy.pollIntervalMs);
      const st = await hv.lookup(vm);
      if (st === null || st.id !== obs.id) return;
      const states = await this.ctx.poll(mirrors);
      if (states.every((s) => s.inSync) || states.some((s) => !s.present || s.failedLeg !== null)) return;
      for (const s of states) if (s.progress !== null) sizes.set(s.kernelName, s.progress.totalSectors * 512);
      const total = [...sizes.values()].reduce((a, b) => a + b, 0);
      const done = states.reduce((sum, s) => sum + (s.inSync ? (sizes.get(s.kernelName) ?? 0) : (s.progress?.doneSectors ?? 0) * 512), 0);
      const speed = states.reduce((sum, s) => sum + (s.inSync ? 0 : (s.progress?.speedKiBs ?? 0)), 0);
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
      // Nothing copying and not in sync: a new decision (trap 4: idle is not finished).
      if (states.every((s) => s.progress === null || s.inSync)) return;
    }
  }

  private async healthGate(): Promise<{ id: number }> {
    const { hv, vm, clock, policy, runner } = this.ctx;
    const first = await hv.lookup(vm);
    if (first?.id === null || first === null) throw new StepFailure(`${vm} is not running after its start on NEW`, false);
    await clock.sleep(policy.health.settleMs);
    const later = await hv.lookup(vm);
    if (later?.id !== first.id) throw new StepFailure(`${vm} did not stay running on its new volumes (health gate); its old volumes are stale now: investigate, or migrate back with rollback --reverse`, false);
    if (policy.health.command !== undefined) {
      const deadline = clock.now() + policy.health.timeoutMs;
      for (;;) {
        const r = await runner.run(policy.health.command, { timeoutMs: policy.health.timeoutMs });
        if (r.exitCode === 0) break;
        if (clock.now() >= deadline) throw new ActionError(`health command for ${vm} kept failing (exit ${r.exitCode}): ${r.stderr.trim()}`, { vm, host: this.ctx.host, step: 'health-gate' });
        await clock.sleep(Math.min(5000, policy.health.timeoutMs));
      }
    }
    return { id: first.id };
  }
}
