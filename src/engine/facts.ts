// Facts about one VM's migration, derived from the journal of every run (never stored twice).
import type { JournalRecord } from './journal.js';

export interface MigrationFacts {
  /** the persistent definition before sanshift first changed it (recorded before any change) */
  originalXml: string | null;
  /** the VM ran when its migration began, so it must run again after each window */
  originalRunning: boolean;
  /** domain id when sanshift started it on its mirrors in the current attempt; null if not */
  startedOnMirrorId: number | null;
  /** sanshift itself shut the VM down for the cutover, after a passed I3 check */
  shutDownForCutover: boolean;
  /** sanshift started the VM on NEW: T2 is complete, OLD is stale from then on */
  startedOnNew: boolean;
  healthPassed: boolean;
  /** the last failure recorded for this VM and not followed by success */
  lastFailure: string | null;
  /** the last outcome of the VM's migration, when one was recorded */
  outcome: 'done' | 'failed' | 'rolled-back' | null;
}

const empty = (): MigrationFacts => ({
  originalXml: null,
  originalRunning: true,
  startedOnMirrorId: null,
  shutDownForCutover: false,
  startedOnNew: false,
  healthPassed: false,
  lastFailure: null,
  outcome: null,
});

/** Folds the journal records of one VM (of every run, oldest first) into its facts. A new
 * migration starts with an `original` record; a mirror build starts a new attempt. */
export function factsOf(records: readonly JournalRecord[], vm: string): MigrationFacts {
  let f = empty();
  for (const r of records) {
    if (!('vm' in r) || r.vm !== vm) continue;
    switch (r.kind) {
      case 'original':
        f = { ...empty(), originalXml: r.xml, originalRunning: r.running };
        break;
      case 'result':
        if (r.step === 'build-mirror') {
          f.startedOnMirrorId = null;
          f.shutDownForCutover = false;
        } else if (r.step === 'start-on-mirror' || r.step === 'adopt-start') {
          f.startedOnMirrorId = typeof r.detail?.id === 'number' ? r.detail.id : null;
          f.shutDownForCutover = false;
        } else if (r.step === 'shutdown-vm' && r.detail?.phase === 'T2') f.shutDownForCutover = true;
        else if (r.step === 'stop-mirror' && r.detail?.why !== 'cutover') {
          f.startedOnMirrorId = null;
          f.shutDownForCutover = false;
        } else if (r.step === 'start-on-new') f.startedOnNew = true;
        else if (r.step === 'health-gate') f.healthPassed = true;
        else if (r.step === 'define-original') {
          f.startedOnNew = false;
          f.healthPassed = false;
        }
        break;
      case 'failed':
        f.lastFailure = r.reason;
        break;
      case 'vm-finished':
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
