// The state machine of one VM, as a pure function: from what is observed now and the facts of
// the journal, the one next action. The engine observes, decides, acts, and loops, so a run
// interrupted anywhere converges when started again (DESIGN.md, life of a VM).
//
// The life it drives (docs/engine.md): prepare while the VM still runs on OLD (build each mirror
// over OLD alone, record the migration in the persistent definition); T1 (shut down, drop the
// mirrors' page cache, start on the mirrors); copy (NEW joins, md copies); T2 (shut down, check
// the copy once more, define on NEW, stop the mirrors, start). A window holds only what needs
// the VM off.
import type { MigrationFacts } from './facts.js';
import { Placement, type MirrorView, type Observation } from './observation.js';

export const ActionKind = {
  buildMirrors: 'build-mirrors',
  recordMigration: 'record-migration',
  shutdownForMirror: 'shutdown-for-mirror',
  flushMirrors: 'flush-mirrors',
  startOnMirror: 'start-on-mirror',
  adoptStart: 'adopt-start',
  addNewLegs: 'add-new-legs',
  capResyncSpeed: 'cap-resync-speed',
  waitForResync: 'wait-for-resync',
  shutdownForCutover: 'shutdown-for-cutover',
  readHost: 'read-host',
  defineOnNew: 'define-on-new',
  stopMirrors: 'stop-mirrors',
  startOnNew: 'start-on-new',
  healthGate: 'health-gate',
  shutdownForRollback: 'shutdown-for-rollback',
  defineOriginal: 'define-original',
  startOnOld: 'start-on-old',
  hold: 'hold',
  done: 'done',
  fail: 'fail',
} as const;
export type ActionKind = (typeof ActionKind)[keyof typeof ActionKind];

/** Why a mirror is stopped: decides what the journal makes of it (facts.ts). */
export type StopReason = 'cutover' | 'stale' | 'rollback';

export type Action =
  | { kind: typeof ActionKind.buildMirrors; targets: string[] }
  | { kind: typeof ActionKind.recordMigration }
  | { kind: typeof ActionKind.shutdownForMirror }
  | { kind: typeof ActionKind.flushMirrors }
  | { kind: typeof ActionKind.startOnMirror }
  | { kind: typeof ActionKind.adoptStart; id: number }
  | { kind: typeof ActionKind.addNewLegs; targets: string[] }
  | { kind: typeof ActionKind.capResyncSpeed; targets: string[]; kiBs: number }
  | { kind: typeof ActionKind.waitForResync }
  | { kind: typeof ActionKind.shutdownForCutover; id: number; forward: boolean }
  | { kind: typeof ActionKind.readHost }
  | { kind: typeof ActionKind.defineOnNew }
  | { kind: typeof ActionKind.stopMirrors; targets: string[]; why: StopReason; note?: string }
  | { kind: typeof ActionKind.startOnNew }
  | { kind: typeof ActionKind.healthGate }
  | { kind: typeof ActionKind.shutdownForRollback }
  | { kind: typeof ActionKind.defineOriginal }
  | { kind: typeof ActionKind.startOnOld }
  | { kind: typeof ActionKind.hold; reason: string }
  | { kind: typeof ActionKind.done; note?: string }
  | { kind: typeof ActionKind.fail; reason: string; rollback: boolean };

export interface DecideOptions {
  /** md sync_speed_max to set per mirror, KiB/s; undefined leaves the host's default */
  resyncSpeedMaxKiB?: number;
}

const fail = (reason: string, rollback: boolean): Action => ({ kind: ActionKind.fail, reason, rollback });

/** The hazard of DESIGN.md: a managed save (libvirt-guests at host shutdown) taken while the VM
 * ran on a mirror resumes that live definition, mirror and all. sanshift never starts over one. */
const MANAGED_SAVE =
  'the VM has a managed save image: starting it would resume the saved live definition (possibly on a mirror that no longer exists). Check it, remove it with `virsh managedsave-remove`, then run again';

function capped(m: MirrorView, kiBs: number): boolean {
  const limit = m.state?.speedLimit;
  return limit !== null && limit !== undefined && limit.source === 'local' && limit.kiBs === kiBs;
}

/** NEW holds every write and OLD does not: OLD failed while NEW was in sync (md never fails the
 * last in-sync leg). Going back to OLD then would lose writes; the only way is forward. */
function oldFailedNewGood(m: MirrorView): boolean {
  return m.ours && (m.oldFailed || !m.hasOld) && m.hasNew && !m.newFailed && m.newInSync && m.state?.progress == null;
}

/** The copy of one disk is complete and nothing wrote around it (as far as this observation
 * can tell): in sync, or NEW alone good after OLD failed. */
function copyComplete(m: MirrorView): boolean {
  return m.ours && m.hasNew && (m.state?.inSync === true || oldFailedNewGood(m));
}

/** What is wrong with a mirror the VM runs on, and where that leaves the VM. */
function trouble(m: MirrorView, joined: boolean): { reason: string; rollback: boolean; forward?: true } | null {
  const s = m.state;
  if (s === null) return null;
  if (oldFailedNewGood(m)) return { reason: `the old leg of ${m.target}'s mirror failed; NEW is in sync and holds every write`, rollback: false, forward: true };
  if (m.oldFailed) {
    // seen in the lab: OLD failing mid-copy fails the guest's write and leaves NEW a spare
    return { reason: `the old leg of ${m.target}'s mirror failed before NEW was in sync: neither volume is a complete copy. The VM keeps running on the mirror; an operator must look (docs/troubleshooting.md)`, rollback: false };
  }
  if (m.newFailed) return { reason: `the new leg of ${m.target}'s mirror failed (${s.failedLeg ?? 'faulty'})`, rollback: true };
  if (joined && !m.hasNew) return { reason: `the new volume left ${m.target}'s mirror (removed, or its LUN vanished)`, rollback: true };
  // Trap 4: idle and degraded with NEW present but nothing copying is not a finished mirror.
  if (m.hasNew && s.syncAction === 'idle' && (s.degraded ?? 0) > 0 && s.progress === null) return { reason: `${m.target}'s mirror is degraded and not recovering`, rollback: true };
  return null;
}

/** Forward: take the VM to its new volumes. */
export function decideMigration(obs: Observation, facts: MigrationFacts, opts: DecideOptions = {}): Action {
  if (obs.managedSave) return fail(MANAGED_SAVE, false);
  const ours = obs.mirrors.filter((m) => m.exists && m.ours);
  const strangers = obs.mirrors.filter((m) => m.exists && !m.ours);
  const targets = (list: readonly MirrorView[]) => list.map((m) => m.target);

  if (obs.persistent === Placement.new) {
    if (obs.running && obs.live === Placement.mirror) return fail('the persistent definition is on NEW while the VM still runs on its mirrors; an operator must look', false);
    if (ours.length > 0) return { kind: ActionKind.stopMirrors, targets: targets(ours), why: 'cutover' };
    if (!obs.running) return facts.wantRunning ? { kind: ActionKind.startOnNew } : { kind: ActionKind.done, note: 'the VM is meant to be off, and stays off on its new volumes' };
    if (obs.live !== Placement.new) return fail(`the VM runs on ${obs.live} volumes while its definition is on NEW`, false);
    return facts.healthPassed ? { kind: ActionKind.done } : { kind: ActionKind.healthGate };
  }
  if (obs.persistent === Placement.mixed || obs.persistent === Placement.mirror) {
    return fail(`the persistent definition points at ${obs.persistent === Placement.mirror ? 'a mirror (I2 broken by hand?)' : 'a mix of old, new and unknown volumes'}; an operator must look`, false);
  }
  if (strangers.length > 0) return fail(`mirror name taken: ${strangers[0]!.reason}`, ours.length > 0);

  // The persistent definition is on OLD.
  if (obs.running) {
    if (obs.live === Placement.mirror) {
      const gone = obs.mirrors.find((m) => !m.exists || !m.ours);
      if (gone !== undefined) return fail(`the VM runs on ${gone.target}'s mirror, but it is ${gone.exists ? `not ours (${gone.reason})` : 'gone'}`, true);
      if (obs.id === null) return fail('the domain runs but has no id', false);
      if (facts.startedOnMirrorId === null) return { kind: ActionKind.adoptStart, id: obs.id };
      // I3: it was restarted since sanshift started it on the mirror; trust nothing in between
      if (facts.startedOnMirrorId !== obs.id) return { kind: ActionKind.shutdownForMirror };
      let forward = false;
      for (const m of ours) {
        const t = trouble(m, facts.joined.has(m.target));
        if (t?.forward === true) forward = true;
        else if (t !== null) return fail(t.reason, t.rollback);
      }
      const toJoin = ours.filter((m) => !m.hasNew && !facts.joined.has(m.target));
      if (toJoin.length > 0) return { kind: ActionKind.addNewLegs, targets: targets(toJoin) };
      if (ours.every(copyComplete)) return { kind: ActionKind.shutdownForCutover, id: obs.id, forward };
      if (opts.resyncSpeedMaxKiB !== undefined) {
        const loose = ours.filter((m) => m.state?.inSync !== true && !capped(m, opts.resyncSpeedMaxKiB!));
        if (loose.length > 0) return { kind: ActionKind.capResyncSpeed, targets: targets(loose), kiBs: opts.resyncSpeedMaxKiB };
      }
      return { kind: ActionKind.waitForResync };
    }
    if (obs.live === Placement.old) {
      // I3: once NEW has joined, writes to OLD around the mirror make NEW stale
      const copying = ours.filter((m) => m.hasNew);
      if (copying.length > 0) return { kind: ActionKind.stopMirrors, targets: targets(copying), why: 'stale', note: 'I3: the VM runs on its old volumes beside a mirror that NEW had joined (restarted outside sanshift?): NEW is stale and is copied again' };
      // Prepare, while the VM still runs on OLD: each mirror over OLD alone (md copies nothing
      // until NEW joins), then the record in the persistent definition, then the T1 window.
      const missing = obs.mirrors.filter((m) => !m.exists);
      if (missing.length > 0) return { kind: ActionKind.buildMirrors, targets: targets(missing) };
      if (!obs.recorded) return { kind: ActionKind.recordMigration };
      if (obs.suspended) return { kind: ActionKind.hold, reason: `${obs.state}: an operator suspended it, and a suspended guest is never shut down; waiting for it to resume` };
      return { kind: ActionKind.shutdownForMirror };
    }
    return fail(`the VM runs on ${obs.live} volumes; expected its old volumes or its mirrors`, false);
  }

  // Off, persistent on OLD.
  if (facts.shutDownForCutover && ours.length === obs.mirrors.length && ours.every(copyComplete)) {
    // The final check of the T2 window: a host reading taken after the shutdown.
    if (!obs.hostReadWhileOff) return { kind: ActionKind.readHost };
    const around = ours.find((m) => m.hasOld && m.writtenAround !== 0);
    if (around !== undefined) {
      const what = around.writtenAround === null ? 'its write counters cannot be compared (the device or array was recreated, or the host rebooted)' : `${around.writtenAround} sectors were written to OLD around it`;
      // copying again would read the failed OLD: neither volume is known to hold every write
      if (around.oldFailed) return fail(`I3: ${around.target}'s old leg failed, and ${what}: neither volume is known to hold every write. The VM stays off on OLD's definition; an operator must look (docs/troubleshooting.md)`, false);
      return { kind: ActionKind.stopMirrors, targets: targets(ours), why: 'stale', note: `I3: ${around.target}'s mirror is in sync, but ${what}: NEW may be stale, so it is copied again` };
    }
    return { kind: ActionKind.defineOnNew };
  }
  if (facts.shutDownForCutover && ours.some((m) => m.hasNew)) {
    // Off for its cutover, but the copy is no longer complete (a leg changed while it was off):
    // NEW cannot be trusted, so it is copied again from OLD.
    const broken = ours.find((m) => !copyComplete(m)) ?? obs.mirrors.find((m) => !m.exists || !m.ours);
    return { kind: ActionKind.stopMirrors, targets: targets(ours), why: 'stale', note: `I3: after the T2 shutdown, ${broken?.target ?? 'a disk'}'s mirror is no longer a complete copy: NEW is copied again` };
  }
  if (facts.startedOnMirrorId !== null && !facts.shutDownForCutover && ours.some((m) => m.hasNew)) {
    // It stopped on its own or was stopped outside sanshift while on the mirror: I3 says redo.
    return { kind: ActionKind.stopMirrors, targets: targets(ours), why: 'stale', note: 'I3: the VM stopped outside sanshift during its resync: NEW may be stale, so its mirrors are rebuilt' };
  }
  const missing = obs.mirrors.filter((m) => !m.exists);
  if (missing.length > 0) return { kind: ActionKind.buildMirrors, targets: targets(missing) };
  for (const m of ours) {
    const t = trouble(m, facts.joined.has(m.target));
    if (t !== null && t.forward !== true) return fail(t.reason, t.rollback);
  }
  if (!obs.recorded) return { kind: ActionKind.recordMigration };
  if (facts.wantRunning) {
    // T1 continues: the VM is off with its mirrors built over OLD alone
    const joinedOff = ours.filter((m) => m.hasNew);
    if (joinedOff.length > 0) {
      // NEW joined while the VM was meant to run but never started on the mirror: whatever
      // happened, start over from OLD rather than trust that copy
      return { kind: ActionKind.stopMirrors, targets: targets(joinedOff), why: 'stale', note: 'NEW joined a mirror the VM never ran on in this attempt: the mirror is rebuilt' };
    }
    if (!facts.flushed) return { kind: ActionKind.flushMirrors };
    return { kind: ActionKind.startOnMirror };
  }
  // A VM meant to be off stays off: NEW joins and md copies with nobody on the mirror.
  const toJoin = ours.filter((m) => !m.hasNew && !facts.joined.has(m.target));
  if (toJoin.length > 0) return { kind: ActionKind.addNewLegs, targets: targets(toJoin) };
  if (ours.every(copyComplete)) {
    if (!obs.hostReadWhileOff) return { kind: ActionKind.readHost };
    const around = ours.find((m) => m.hasOld && m.writtenAround !== 0);
    if (around !== undefined) return { kind: ActionKind.stopMirrors, targets: targets(ours), why: 'stale', note: `I3: something wrote to OLD around ${around.target}'s mirror while the VM was off: NEW is copied again` };
    return { kind: ActionKind.defineOnNew };
  }
  return { kind: ActionKind.waitForResync };
}

/** Backward: return the VM to its old volumes (rollback), from any phase before T2 completes. */
export function decideRollback(obs: Observation, facts: MigrationFacts): Action {
  if (obs.managedSave) return fail(MANAGED_SAVE, false);
  const stale = 'the VM may have run on its new volumes, so its old volumes may be stale: only a reverse migration (rollback --reverse) brings it back';
  if (facts.startOnNewIntended || facts.startedOnNew) return fail(stale, false);
  if (obs.running && obs.live === Placement.new) return fail(stale, false);
  const ours = obs.mirrors.filter((m) => m.exists && m.ours);
  if (obs.persistent === Placement.new && ours.length === 0 && !obs.running) {
    // Defined on NEW and its mirrors stopped, never started by sanshift: safe to go back only
    // if nothing wrote to NEW since the stop (someone may have started it by hand meanwhile).
    const moved = obs.mirrors.find((m) => m.newWrittenSinceStop !== 0);
    if (moved !== undefined) return fail(`${stale} (${moved.newWrittenSinceStop === null ? `${moved.target}'s new volume cannot be compared with its state at the cutover` : `${moved.newWrittenSinceStop} sectors were written to ${moved.target}'s new volume since the cutover`})`, false);
  }
  // A copy whose OLD leg failed cannot go back: NEW may be the only good copy. Found before any
  // shutdown, so the VM is not stopped for a rollback that cannot happen.
  const onlyNew = ours.find((m) => m.oldFailed || !m.hasOld);
  if (onlyNew !== undefined) return fail(`the old leg of ${onlyNew.target}'s mirror failed: going back would lose writes; finish the migration instead (sanshift run)`, false);
  if (obs.running && obs.live === Placement.mirror) return { kind: ActionKind.shutdownForRollback };
  if (ours.length > 0) {
    if (obs.persistent === Placement.new) return { kind: ActionKind.defineOriginal };
    return { kind: ActionKind.stopMirrors, targets: ours.map((m) => m.target), why: 'rollback' };
  }
  if (obs.persistent !== Placement.old || obs.recorded) {
    // The definition to go back to is the current one on OLD without sanshift's record: no
    // journal is needed (another machine's run, a lost state folder).
    return { kind: ActionKind.defineOriginal };
  }
  if (!obs.running && facts.wantRunning) return { kind: ActionKind.startOnOld };
  return { kind: ActionKind.done };
}
