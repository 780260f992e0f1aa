// The state machine of one VM, as a pure function: from what is observed now and the facts of
// the journal, the one next action. The engine observes, decides, acts, and loops, so a run
// interrupted anywhere converges when started again (DESIGN.md, life of a VM).
import type { MigrationFacts } from './facts.js';
import { Placement, type MirrorView, type Observation } from './observation.js';

export const ActionKind = {
  shutdownForMirror: 'shutdown-for-mirror',
  buildMirror: 'build-mirror',
  addNewLeg: 'add-new-leg',
  capResyncSpeed: 'cap-resync-speed',
  recordMigration: 'record-migration',
  startOnMirror: 'start-on-mirror',
  adoptStart: 'adopt-start',
  waitForResync: 'wait-for-resync',
  shutdownForCutover: 'shutdown-for-cutover',
  defineOnNew: 'define-on-new',
  stopMirror: 'stop-mirror',
  startOnNew: 'start-on-new',
  healthGate: 'health-gate',
  shutdownForRollback: 'shutdown-for-rollback',
  defineOriginal: 'define-original',
  startOnOld: 'start-on-old',
  done: 'done',
  fail: 'fail',
} as const;
export type ActionKind = (typeof ActionKind)[keyof typeof ActionKind];

/** Why a mirror is stopped: decides what the journal makes of it (facts.ts). */
export type StopReason = 'cutover' | 'stale' | 'rollback';

export type Action =
  | { kind: typeof ActionKind.shutdownForMirror }
  | { kind: typeof ActionKind.buildMirror; target: string }
  | { kind: typeof ActionKind.addNewLeg; target: string }
  | { kind: typeof ActionKind.capResyncSpeed; target: string; kiBs: number }
  | { kind: typeof ActionKind.recordMigration }
  | { kind: typeof ActionKind.startOnMirror }
  | { kind: typeof ActionKind.adoptStart; id: number }
  | { kind: typeof ActionKind.waitForResync }
  | { kind: typeof ActionKind.shutdownForCutover; id: number }
  | { kind: typeof ActionKind.defineOnNew }
  | { kind: typeof ActionKind.stopMirror; target: string; why: StopReason; note?: string }
  | { kind: typeof ActionKind.startOnNew }
  | { kind: typeof ActionKind.healthGate }
  | { kind: typeof ActionKind.shutdownForRollback }
  | { kind: typeof ActionKind.defineOriginal }
  | { kind: typeof ActionKind.startOnOld }
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

function brokenLeg(m: MirrorView): string | null {
  const s = m.state;
  if (s === null) return null;
  if (s.failedLeg !== null) return `leg ${s.failedLeg} of ${m.target}'s mirror failed`;
  // Trap 4: idle and degraded with NEW present but nothing copying is not a finished mirror.
  if (m.hasNew && s.syncAction === 'idle' && (s.degraded ?? 0) > 0 && s.progress === null) return `${m.target}'s mirror is degraded and not recovering`;
  return null;
}

function capped(m: MirrorView, kiBs: number): boolean {
  const limit = m.state?.speedLimit;
  return limit !== null && limit !== undefined && limit.source === 'local' && limit.kiBs === kiBs;
}

/** Forward: take the VM to its new volumes. */
export function decideMigration(obs: Observation, facts: MigrationFacts, opts: DecideOptions = {}): Action {
  if (obs.managedSave) return fail(MANAGED_SAVE, false);
  const ours = obs.mirrors.filter((m) => m.exists && m.ours);
  const strangers = obs.mirrors.filter((m) => m.exists && !m.ours);
  const bootAfter = facts.originalRunning;

  if (obs.persistent === Placement.new) {
    if (obs.running && obs.live === Placement.mirror) return fail('the persistent definition is on NEW while the VM still runs on its mirrors; an operator must look', false);
    const leftover = ours[0];
    if (leftover !== undefined) return { kind: ActionKind.stopMirror, target: leftover.target, why: 'cutover' };
    if (!obs.running) return bootAfter ? { kind: ActionKind.startOnNew } : { kind: ActionKind.done, note: 'the VM was off before its migration and stays off' };
    if (obs.live !== Placement.new) return fail(`the VM runs on ${obs.live} volumes while its definition is on NEW`, false);
    return facts.healthPassed ? { kind: ActionKind.done } : { kind: ActionKind.healthGate };
  }
  if (obs.persistent === Placement.mixed || obs.persistent === Placement.mirror) {
    return fail(`the persistent definition points at ${obs.persistent === Placement.mirror ? 'a mirror (I2 broken by hand?)' : 'a mix of old, new and unknown volumes'}; an operator must look`, false);
  }

  // The persistent definition is on OLD.
  if (obs.running) {
    if (obs.live === Placement.mirror) {
      const gone = obs.mirrors.find((m) => !m.exists || !m.ours);
      if (gone !== undefined) return fail(`the VM runs on ${gone.target}'s mirror, but it is ${gone.exists ? `not ours (${gone.reason})` : 'gone'}`, true);
      if (obs.id === null) return fail('the domain runs but has no id', false);
      if (facts.startedOnMirrorId === null) return { kind: ActionKind.adoptStart, id: obs.id };
      if (facts.startedOnMirrorId !== obs.id) {
        // I3: it was restarted since the mirror was built; whatever happened between, trust nothing.
        return { kind: ActionKind.shutdownForMirror };
      }
      for (const m of ours) {
        const broken = brokenLeg(m);
        if (broken !== null) return fail(broken, true);
      }
      if (ours.every((m) => m.state?.inSync === true)) return { kind: ActionKind.shutdownForCutover, id: obs.id };
      return { kind: ActionKind.waitForResync };
    }
    if (obs.live === Placement.old) {
      // I3: writes reach OLD around any mirror that exists now, so such a mirror is stale.
      const stale = ours[0];
      if (stale !== undefined) return { kind: ActionKind.stopMirror, target: stale.target, why: 'stale', note: 'I3: the VM runs on its old volumes beside its mirror (restarted outside sanshift?): NEW is stale and is copied again' };
      if (strangers.length > 0) return fail(`mirror name taken: ${strangers[0]!.reason}`, false);
      return { kind: ActionKind.shutdownForMirror };
    }
    return fail(`the VM runs on ${obs.live} volumes; expected its old volumes or its mirrors`, false);
  }

  // Off, persistent on OLD.
  if (facts.shutDownForCutover && ours.length === obs.mirrors.length && ours.every((m) => m.hasNew && m.state?.inSync === true)) {
    return { kind: ActionKind.defineOnNew };
  }
  if (facts.startedOnMirrorId !== null && !facts.shutDownForCutover && ours.length > 0) {
    // It stopped on its own or was stopped outside sanshift while on the mirror: I3 says redo.
    return { kind: ActionKind.stopMirror, target: ours[0]!.target, why: 'stale', note: 'I3: the VM stopped outside sanshift during its resync: NEW may be stale, so its mirrors are rebuilt' };
  }
  for (const m of obs.mirrors) {
    if (m.exists && !m.ours) return fail(`mirror name taken: ${m.reason}`, ours.length > 0);
    if (!m.exists) return { kind: ActionKind.buildMirror, target: m.target };
  }
  for (const m of ours) {
    const broken = brokenLeg(m);
    if (broken !== null) return fail(broken, true);
    // Cap before NEW joins: the copy starts the moment it does, and a small volume would be
    // through before a later cap applied (seen in the lab).
    if (opts.resyncSpeedMaxKiB !== undefined && !m.hasNew && !capped(m, opts.resyncSpeedMaxKiB)) {
      return { kind: ActionKind.capResyncSpeed, target: m.target, kiBs: opts.resyncSpeedMaxKiB };
    }
    if (!m.hasNew) return { kind: ActionKind.addNewLeg, target: m.target };
  }
  if (opts.resyncSpeedMaxKiB !== undefined) {
    for (const m of ours) {
      if (!capped(m, opts.resyncSpeedMaxKiB) && m.state?.inSync !== true) return { kind: ActionKind.capResyncSpeed, target: m.target, kiBs: opts.resyncSpeedMaxKiB };
    }
  }
  if (!obs.recorded) return { kind: ActionKind.recordMigration };
  if (bootAfter) return { kind: ActionKind.startOnMirror };
  // A VM that was off stays off: md copies with nobody on the mirror.
  if (ours.every((m) => m.state?.inSync === true)) return { kind: ActionKind.defineOnNew };
  return { kind: ActionKind.waitForResync };
}

/** Backward: return the VM to its old volumes (rollback), from any phase before T2 completes. */
export function decideRollback(obs: Observation, facts: MigrationFacts): Action {
  if (obs.managedSave) return fail(MANAGED_SAVE, false);
  const afterT2 = 'the VM has started on its new volumes, so its old volumes are stale: only a reverse migration (--reverse) brings it back';
  if (facts.startedOnNew && obs.persistent === Placement.new) return fail(afterT2, false);
  if (obs.running && obs.live === Placement.new) return fail(afterT2, false);
  if (obs.running && obs.live === Placement.mirror) return { kind: ActionKind.shutdownForRollback };
  const mirror = obs.mirrors.find((m) => m.exists && m.ours);
  if (mirror !== undefined) return { kind: ActionKind.stopMirror, target: mirror.target, why: 'rollback' };
  if (obs.persistent !== Placement.old || obs.recorded) {
    if (facts.originalXml === null) return fail('no original definition of this VM in the journal', false);
    return { kind: ActionKind.defineOriginal };
  }
  if (!obs.running && facts.originalRunning) return { kind: ActionKind.startOnOld };
  return { kind: ActionKind.done };
}
