// Facts about one VM's migration, derived from the journal of every run (never stored twice).
import type { BlockCounters } from '../host/probe.js';
import type { JournalRecord } from './journal.js';

/** The I3 baseline of one disk: OLD's and the array's write counters right before NEW joined. */
export interface JoinBaseline {
  oldKname: string;
  mdKname: string;
  old: BlockCounters;
  md: BlockCounters;
}

export interface MigrationFacts {
  /** the persistent definition before sanshift first changed it (recorded before any change) */
  originalXml: string | null;
  /** the VM is meant to run after each window: it ran when its migration began, or an operator
   * started it since; an operator who stops it is obeyed too (item 7 of the data review) */
  wantRunning: boolean;
  /** domain id when sanshift started it on its mirrors in the current attempt; null if not */
  startedOnMirrorId: number | null;
  /** sanshift flushed the mirrors' page cache after the VM's last T1 shutdown */
  flushed: boolean;
  /** NEW joined each disk's mirror in the current attempt, with the I3 baseline */
  joined: Map<string, JoinBaseline | null>;
  /** sanshift itself shut the VM down for the cutover, after a passed I3 check */
  shutDownForCutover: boolean;
  /** a window sanshift opened (its shutdown done) and has not closed with a start yet */
  openWindow: 'T1' | 'T2' | 'rollback' | null;
  /** define-on-new was journaled as done (the VM's definition moved to NEW) */
  definedOnNew: boolean;
  /** NEW's counters at the cutover (the final check, the VM off, the array holding NEW): if they
   * move before sanshift starts the VM, something ran on NEW, and OLD is stale even though
   * start-on-new was never sent */
  newAfterStop: Map<string, { kname: string; counters: BlockCounters }>;
  /** the intent to start on NEW was written: the VM may have run on NEW, so OLD may be stale */
  startOnNewIntended: boolean;
  /** sanshift started the VM on NEW: T2 is complete, OLD is stale from then on */
  startedOnNew: boolean;
  healthPassed: boolean;
  /** the last failure recorded for this VM and not followed by success */
  lastFailure: string | null;
  /** its host stopped answering and has not answered since (why), as the journal last says */
  held: string | null;
  /** the last outcome of the VM's migration, when one was recorded */
  outcome: 'done' | 'failed' | 'rolled-back' | null;
}

const empty = (): MigrationFacts => ({
  originalXml: null,
  wantRunning: true,
  startedOnMirrorId: null,
  flushed: false,
  joined: new Map(),
  shutDownForCutover: false,
  openWindow: null,
  definedOnNew: false,
  newAfterStop: new Map(),
  startOnNewIntended: false,
  startedOnNew: false,
  healthPassed: false,
  lastFailure: null,
  held: null,
  outcome: null,
});

/** The disks a journal record covers: detail.targets, or its single target. */
export function targetsOf(r: { target?: string; detail?: Record<string, unknown> }): string[] {
  const list = r.detail?.['targets'];
  if (Array.isArray(list)) return list.filter((t): t is string => typeof t === 'string');
  return r.target === undefined ? [] : [r.target];
}

function restartAttempt(f: MigrationFacts): void {
  f.startedOnMirrorId = null;
  f.flushed = false;
  f.shutDownForCutover = false;
}

/** Folds the journal records of one VM (of every run, oldest first) into its facts. A new
 * migration starts with an `original` record; a mirror build starts a new attempt. */
export function factsOf(records: readonly JournalRecord[], vm: string): MigrationFacts {
  let f = empty();
  for (const r of records) {
    if (!('vm' in r) || r.vm !== vm) continue;
    switch (r.kind) {
      case 'original':
        f = { ...empty(), originalXml: r.xml, wantRunning: r.running };
        break;
      case 'power':
        f.wantRunning = r.running;
        f.openWindow = null;
        break;
      case 'hold':
        f.held = r.reason;
        break;
      case 'release':
        f.held = null;
        break;
      case 'intent':
        if (r.step === 'start-on-new') f.startOnNewIntended = true;
        break;
      case 'result': {
        const d = r.detail ?? {};
        switch (r.step) {
          case 'build-mirror':
            restartAttempt(f);
            for (const t of targetsOf(r)) f.joined.delete(t);
            break;
          case 'shutdown-vm':
            if (d['phase'] === 'T2') f.shutDownForCutover = true;
            else if (d['phase'] === 'T1') f.flushed = false;
            f.openWindow = d['phase'] === 'T1' || d['phase'] === 'T2' || d['phase'] === 'rollback' ? d['phase'] : null;
            break;
          case 'flush-mirrors':
            f.flushed = true;
            break;
          case 'start-on-mirror':
          case 'adopt-start':
            f.startedOnMirrorId = typeof d['id'] === 'number' ? d['id'] : null;
            f.shutDownForCutover = false;
            f.openWindow = null;
            break;
          case 'start-on-old':
            f.openWindow = null;
            break;
          case 'add-new-leg': {
            const baselines = (d['baselines'] ?? {}) as Record<string, JoinBaseline | null>;
            for (const t of targetsOf(r)) f.joined.set(t, baselines[t] ?? null);
            break;
          }
          case 'define-on-new': {
            f.definedOnNew = true;
            const at = (d['newAtCutover'] ?? {}) as Record<string, { kname: string; counters: BlockCounters }>;
            for (const [t, v] of Object.entries(at)) f.newAfterStop.set(t, v);
            break;
          }
          case 'stop-mirror':
            if (d['why'] !== 'cutover') {
              restartAttempt(f);
              for (const t of targetsOf(r)) f.joined.delete(t);
            }
            break;
          case 'start-on-new':
            f.startedOnNew = true;
            f.openWindow = null;
            break;
          case 'health-gate':
            // the gate after T2 (a T1 gate, when asked for, is passed before NEW joins)
            if (d['phase'] !== 'T1') f.healthPassed = true;
            break;
          case 'define-original':
            f.startedOnNew = false;
            f.startOnNewIntended = false;
            f.definedOnNew = false;
            f.healthPassed = false;
            f.newAfterStop = new Map();
            break;
          default:
            break;
        }
        break;
      }
      case 'failed':
        f.lastFailure = r.reason;
        break;
      case 'vm-finished':
        f.held = null;
        f.outcome = r.outcome;
        if (r.outcome === 'done') f.lastFailure = null;
        if (r.outcome === 'failed' && r.reason !== undefined) f.lastFailure = r.reason;
        break;
      default:
        break;
    }
  }
  return f;
}

/** Where a VM stands for the fleet scheduler when a run starts, from the journal alone. */
export type ResumeStage = 'fresh' | 'in-t1' | 'after-t1' | 'in-t2';

export function resumeStageOf(f: MigrationFacts): ResumeStage {
  // a migration that completed or rolled back begins anew; one that failed may be left mid-way
  if (f.originalXml === null || f.outcome === 'done' || f.outcome === 'rolled-back') return 'fresh';
  if (f.openWindow === 'T2' || f.definedOnNew) return 'in-t2';
  if (f.openWindow === 'T1') return 'in-t1';
  if (f.startedOnMirrorId !== null || f.joined.size > 0) return 'after-t1';
  return 'fresh';
}

/** The journal records of each VM, in order: one pass over a fleet's journals, which hold tens
 * of records per VM (folding all of them once per VM is quadratic: minutes at 10,000 VMs). */
export function recordsByVm(records: readonly JournalRecord[]): Map<string, JournalRecord[]> {
  const byVm = new Map<string, JournalRecord[]>();
  for (const r of records) {
    if (!('vm' in r)) continue;
    let list = byVm.get(r.vm);
    if (list === undefined) byVm.set(r.vm, (list = []));
    list.push(r);
  }
  return byVm;
}

/** Each VM's journal facts, the records folded once per VM. */
export function factsByVm(records: readonly JournalRecord[]): (vm: string) => MigrationFacts {
  const byVm = recordsByVm(records);
  const cache = new Map<string, MigrationFacts>();
  return (vm) => {
    let f = cache.get(vm);
    if (f === undefined) cache.set(vm, (f = factsOf(byVm.get(vm) ?? [], vm)));
    return f;
  };
}
