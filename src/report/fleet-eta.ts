// When the whole fleet is done, estimated from what the run has done so far. Pure; shared by
// the live view, the metrics file and `sanshift status`.
import type { JournalRecord } from '../engine/journal.js';

export interface FleetProgress {
  /** the clock of the figures (virtual in a rehearsal), ms */
  now: number;
  /** when the run started, ms */
  startedAt: number | null;
  /** when the first copy started, ms; null: none yet */
  copyStartedAt: number | null;
  copiedBytes: number;
  /** bytes still to copy for every VM not finished; null when a VM's size is unknown */
  remainingBytes: number | null;
  vms: number;
  /** VMs whose part is over (done, failed or rolled back) */
  finishedVms: number;
  /** the mean T2 window seen so far (the last VM's T2 comes after the last byte), ms */
  meanT2Ms: number | null;
  /** the longest ETA md gives for a resync running now, seconds: the fleet cannot end before it */
  runningEtaSeconds?: number | null;
}

export interface FleetEta {
  /** seconds until every VM is finished; null when nothing measured yet */
  seconds: number | null;
  /** bytes: the copy rate since the first copy began; vms: the pace of finished VMs since the start */
  basis: 'bytes' | 'vms' | 'done' | null;
}

/**
 * Bytes when every size is known: what is left over the fleet's mean copy rate since its first
 * copy began (the rate the limits and the scheduler actually allow, not one poll's speed), but
 * never before the slowest resync running now ends (at the end of a run one large copy is often
 * all that is left, and the mean rate of many copies side by side would promise too much); plus
 * one T2 window. Else the pace of finished VMs. A mean, so it settles as the run goes.
 */
export function fleetEta(p: FleetProgress): FleetEta {
  if (p.vms > 0 && p.finishedVms >= p.vms) return { seconds: 0, basis: 'done' };
  const tail = (p.meanT2Ms ?? 0) / 1000;
  if (p.remainingBytes !== null && p.copyStartedAt !== null && p.copiedBytes > 0 && p.now > p.copyStartedAt) {
    const rate = p.copiedBytes / ((p.now - p.copyStartedAt) / 1000);
    return { seconds: Math.round(Math.max(p.remainingBytes / rate, p.runningEtaSeconds ?? 0) + tail), basis: 'bytes' };
  }
  if (p.startedAt !== null && p.finishedVms > 0 && p.now > p.startedAt) {
    const perVm = (p.now - p.startedAt) / 1000 / p.finishedVms;
    return { seconds: Math.round((p.vms - p.finishedVms) * perVm), basis: 'vms' };
  }
  return { seconds: null, basis: null };
}

export interface RunPace {
  run: string;
  /** ISO time the run started */
  startedAt: string;
  vms: number;
  finishedVms: number;
  eta: FleetEta;
}

/**
 * `sanshift status`: the pace of the latest run, while it is under way (no run-finished in its
 * journal). status reads no sizes, so the basis is the pace of its finished VMs. Null when no
 * run is under way.
 */
export function runPace(records: readonly JournalRecord[], now: number): RunPace | null {
  const runs = [...new Set(records.map((r) => r.run))].sort();
  const run = runs[runs.length - 1];
  if (run === undefined) return null;
  const mine = records.filter((r) => r.run === run);
  const started = mine.find((r) => r.kind === 'run-started');
  if (started?.kind !== 'run-started' || mine.some((r) => r.kind === 'run-finished')) return null;
  const finished = new Set(mine.filter((r) => r.kind === 'vm-finished').map((r) => (r as { vm: string }).vm));
  const eta = fleetEta({ now, startedAt: Date.parse(started.at), copyStartedAt: null, copiedBytes: 0, remainingBytes: null, vms: started.vms.length, finishedVms: finished.size, meanT2Ms: null });
  return { run, startedAt: started.at, vms: started.vms.length, finishedVms: finished.size, eta };
}
