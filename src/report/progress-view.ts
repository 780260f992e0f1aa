// The live view of a run: a pure reducer folds engine events into a fleet state, and a pure
// renderer turns that state into the lines a terminal redraws in place (cli/run.ts does the
// drawing with log-update). Tested without a terminal.
import type { EngineEvent } from '../engine/events.js';
import { formatBytes, formatDuration, formatSpeed } from './event-lines.js';
import { fleetEta, type FleetEta } from './fleet-eta.js';

export const VmStage = {
  waiting: 'waiting',
  t1: 'T1',
  resync: 'resync',
  t2: 'T2',
  health: 'health',
  rollback: 'rollback',
  done: 'done',
  failed: 'failed',
  rolledBack: 'rolled back',
} as const;
export type VmStage = (typeof VmStage)[keyof typeof VmStage];

export interface VmLiveState {
  vm: string;
  stage: VmStage;
  /** what it is doing now, in the operator's words (the last step started) */
  doing: string;
  /** event time the VM went down, while it is down */
  downSince: number | null;
  percent: number | null;
  speedKiBs: number | null;
  etaSeconds: number | null;
  doneBytes: number;
  totalBytes: number;
  reason: string | null;
  /** event time of the last progress line, and the ETA it gave (seconds) */
  lastProgressAt: number | null;
  etaAtLastProgress: number | null;
  /** bytes its disks hold, from the plan (preflight read them); null when unknown */
  plannedBytes: number | null;
}

export interface FleetLiveState {
  run: string | null;
  rehearsal: boolean;
  startedAt: number | null;
  /** time of the latest event (the run's clock: virtual in a rehearsal) */
  now: number;
  vms: VmLiveState[];
  finished: boolean;
  /** when the first copy began (the first new leg added), for the fleet ETA */
  copyStartedAt: number | null;
  /** T2 windows seen so far: their count and summed length, for the fleet ETA's tail */
  t2Windows: number;
  t2DownMs: number;
}

/** The state before the first event; `plannedBytes` gives each VM's size when the plan knows it. */
export function initialFleetState(vms: readonly string[] = [], plannedBytes: ReadonlyMap<string, number> = new Map()): FleetLiveState {
  const planned = new Map(plannedBytes);
  return { run: null, rehearsal: false, startedAt: null, now: 0, vms: vms.map((v) => newVm(v, planned.get(v) ?? null)), finished: false, copyStartedAt: null, t2Windows: 0, t2DownMs: 0 };
}

function newVm(vm: string, plannedBytes: number | null = null): VmLiveState {
  return { vm, stage: VmStage.waiting, doing: '', downSince: null, percent: null, speedKiBs: null, etaSeconds: null, doneBytes: 0, totalBytes: 0, reason: null, lastProgressAt: null, etaAtLastProgress: null, plannedBytes };
}

const finishedStages: ReadonlySet<VmStage> = new Set([VmStage.done, VmStage.failed, VmStage.rolledBack]);

export function isActive(v: VmLiveState): boolean {
  return v.stage !== VmStage.waiting && !finishedStages.has(v.stage);
}

/** The stage a step puts a VM in; null keeps the current one (a step shared by several stages). */
function stageOfStep(step: string, current: VmStage): VmStage | null {
  switch (step) {
    case 'shutdown-vm':
      return current === VmStage.resync || current === VmStage.t2 ? VmStage.t2 : current === VmStage.rollback ? VmStage.rollback : VmStage.t1;
    case 'build-mirror':
    case 'add-new-leg':
    case 'cap-resync-speed':
    case 'record-migration':
    case 'start-on-mirror':
      return VmStage.t1;
    case 'adopt-start':
      return VmStage.resync;
    case 'check-cutover':
    case 'define-on-new':
    case 'start-on-new':
      return VmStage.t2;
    case 'health-gate':
      return VmStage.health;
    case 'define-original':
    case 'start-on-old':
      return VmStage.rollback;
    default:
      return null;
  }
}

function updateVm(state: FleetLiveState, vm: string, change: (v: VmLiveState) => VmLiveState): FleetLiveState {
  const known = state.vms.some((v) => v.vm === vm);
  const vms = known ? state.vms : [...state.vms, newVm(vm)];
  return { ...state, vms: vms.map((v) => (v.vm === vm ? change(v) : v)) };
}

/** Pure: the fleet state after one event. */
export function reduceFleet(state: FleetLiveState, e: EngineEvent): FleetLiveState {
  const s = { ...state, now: Math.max(state.now, e.at) };
  switch (e.kind) {
    case 'run-started': {
      const known = new Set(s.vms.map((v) => v.vm));
      return { ...s, run: e.run, rehearsal: e.rehearsal, startedAt: e.at, vms: [...s.vms, ...e.vms.filter((n) => !known.has(n)).map(newVm)] };
    }
    case 'step-started':
      return updateVm(s, e.vm, (v) => {
        const stage = stageOfStep(e.step, v.stage) ?? (v.stage === VmStage.waiting ? VmStage.t1 : v.stage);
        return { ...v, stage, doing: e.summary };
      });
    case 'step-finished':
      return e.step === 'add-new-leg' && s.copyStartedAt === null ? { ...s, copyStartedAt: e.at } : s;
    case 'progress':
      return updateVm(s, e.vm, (v) => ({ ...v, stage: VmStage.resync, doing: 'resync', percent: e.percent, speedKiBs: e.speedKiBs, etaSeconds: e.etaSeconds, doneBytes: e.doneBytes, totalBytes: e.totalBytes, lastProgressAt: e.at, etaAtLastProgress: e.etaSeconds }));
    case 'resync-ended':
      return updateVm(s, e.vm, (v) => ({ ...v, percent: 100, etaSeconds: 0, speedKiBs: null, doing: 'in sync, waiting for its T2 window', doneBytes: e.bytes ?? Math.max(v.doneBytes, v.totalBytes), totalBytes: e.bytes ?? v.totalBytes }));
    case 'note':
      return updateVm(s, e.vm, (v) => ({ ...v, doing: e.text }));
    case 'down':
      return updateVm(s, e.vm, (v) => ({ ...v, stage: e.window === 'T1' ? VmStage.t1 : e.window === 'T2' ? VmStage.t2 : VmStage.rollback, downSince: e.at }));
    case 'up':
      return updateVm(e.window === 'T2' ? { ...s, t2Windows: s.t2Windows + 1, t2DownMs: s.t2DownMs + e.downMs } : s, e.vm, (v) => ({ ...v, downSince: null, stage: e.window === 'T1' ? VmStage.resync : e.window === 'T2' ? VmStage.health : VmStage.rollback, doing: e.window === 'T1' ? 'resync starting' : v.doing }));
    case 'vm-finished':
      return updateVm(s, e.vm, (v) => ({
        ...v,
        stage: e.outcome === 'done' ? VmStage.done : e.outcome === 'failed' ? VmStage.failed : VmStage.rolledBack,
        downSince: null,
        speedKiBs: null,
        etaSeconds: null,
        // a finished migration copied all it had to copy
        doneBytes: e.outcome === 'done' ? Math.max(v.doneBytes, v.totalBytes) : v.doneBytes,
        reason: e.reason ?? null,
      }));
    case 'run-finished':
      return { ...s, finished: true };
  }
}

export interface FleetSummary {
  done: number;
  running: number;
  waiting: number;
  failed: number;
  rolledBack: number;
  down: number;
  copiedBytes: number;
  speedKiBs: number;
  /** seconds until the VMs resyncing now are in sync, at today's speed; null when unknown */
  etaSeconds: number | null;
  /** when the whole fleet is done (fleet-eta.ts) */
  fleet: FleetEta;
}

const over: ReadonlySet<VmStage> = new Set([VmStage.done, VmStage.failed, VmStage.rolledBack]);

/** Bytes still to copy for the VMs not finished: what the plan says they hold less what is copied; null when a size is unknown. */
export function remainingBytes(state: FleetLiveState): number | null {
  let left = 0;
  for (const v of state.vms) {
    if (over.has(v.stage)) continue;
    const size = v.plannedBytes ?? (v.totalBytes > 0 ? v.totalBytes : null);
    if (size === null) return null;
    left += Math.max(0, size - v.doneBytes);
  }
  return left;
}

/** The fleet ETA of a live state. */
export function fleetEtaOf(state: FleetLiveState): FleetEta {
  return fleetEta({
    now: state.now,
    startedAt: state.startedAt,
    copyStartedAt: state.copyStartedAt,
    copiedBytes: state.vms.reduce((a, v) => a + v.doneBytes, 0),
    remainingBytes: remainingBytes(state),
    vms: state.vms.length,
    finishedVms: state.vms.filter((v) => over.has(v.stage)).length,
    meanT2Ms: state.t2Windows === 0 ? null : state.t2DownMs / state.t2Windows,
    runningEtaSeconds: Math.max(0, ...state.vms.filter((v) => v.stage === VmStage.resync && v.etaSeconds !== null).map((v) => v.etaSeconds!)),
  });
}

export function summarize(state: FleetLiveState): FleetSummary {
  const count = (stage: VmStage) => state.vms.filter((v) => v.stage === stage).length;
  const resyncing = state.vms.filter((v) => v.stage === VmStage.resync);
  const speed = resyncing.reduce((a, v) => a + (v.speedKiBs ?? 0), 0);
  const remaining = resyncing.reduce((a, v) => a + Math.max(0, v.totalBytes - v.doneBytes), 0);
  const etas = resyncing.map((v) => v.etaSeconds).filter((x): x is number => x !== null);
  return {
    done: count(VmStage.done),
    running: state.vms.filter(isActive).length,
    waiting: count(VmStage.waiting),
    failed: count(VmStage.failed),
    rolledBack: count(VmStage.rolledBack),
    down: state.vms.filter((v) => v.downSince !== null).length,
    copiedBytes: state.vms.reduce((a, v) => a + v.doneBytes, 0),
    speedKiBs: speed,
    // the slowest mirror decides when the fleet's running resyncs end; bytes/speed is the floor
    etaSeconds: etas.length === 0 ? (speed > 0 ? Math.round(remaining / 1024 / speed) : null) : Math.max(...etas),
    fleet: fleetEtaOf(state),
  };
}

function bar(percent: number, width: number): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function fit(line: string, columns: number): string {
  return line.length <= columns ? line : `${line.slice(0, Math.max(0, columns - 1))}…`;
}

export function renderSummaryLine(state: FleetLiveState): string {
  const f = summarize(state);
  const elapsed = state.startedAt === null ? '' : ` · ${formatDuration(state.now - state.startedAt)} elapsed`;
  const parts = [`${f.done} done`, `${f.running} running`, `${f.waiting} waiting`, `${f.failed} failed`];
  if (f.rolledBack > 0) parts.push(`${f.rolledBack} rolled back`);
  if (f.down > 0) parts.push(`${f.down} down now`);
  const speed = f.speedKiBs > 0 ? ` at ${formatSpeed(f.speedKiBs)}` : '';
  const eta = f.etaSeconds === null ? '' : ` · resync ETA ${formatDuration(f.etaSeconds * 1000)}`;
  const fleet = f.fleet.seconds === null || f.fleet.basis === 'done' ? '' : ` · fleet ETA ${formatDuration(f.fleet.seconds * 1000)}`;
  return `${state.rehearsal ? 'REHEARSAL ' : ''}${state.vms.length} VMs: ${parts.join(', ')} · ${formatBytes(f.copiedBytes)} copied${speed}${fleet}${eta}${elapsed}`;
}

export function renderVmLine(v: VmLiveState, now: number, nameWidth: number): string {
  const name = v.vm.padEnd(nameWidth);
  const stage = v.stage.padEnd(8);
  if (v.stage === VmStage.resync && v.percent !== null) {
    const eta = v.etaSeconds === null ? '-' : formatDuration(v.etaSeconds * 1000);
    return `  ${name}  ${stage} ${bar(v.percent, 20)} ${v.percent.toFixed(1).padStart(5)}%  ${formatSpeed(v.speedKiBs).padStart(11)}  ETA ${eta.padEnd(7)} of ${formatBytes(v.totalBytes)}`;
  }
  const down = v.downSince === null ? '' : `DOWN ${formatDuration(now - v.downSince)} · `;
  return `  ${name}  ${stage} ${down}${v.doing}`;
}

/** The frame a terminal shows: the fleet line, then one line per active VM. Pure. */
export function renderLiveFrame(state: FleetLiveState, columns = 100, maxVmLines = 30): string {
  const active = state.vms.filter(isActive);
  const width = Math.max(4, ...active.map((v) => v.vm.length));
  const lines = [renderSummaryLine(state), ...active.slice(0, maxVmLines).map((v) => renderVmLine(v, state.now, width))];
  if (active.length > maxVmLines) lines.push(`  … and ${active.length - maxVmLines} more running (sanshift status shows them all)`);
  return lines.map((l) => fit(l, columns)).join('\n');
}

/** For plain (non-terminal) output: lets one progress line per VM through every `stepPercent`
 * points or every `everyMs` of run time, whichever comes first. Stateful, no I/O. */
export class ProgressThrottle {
  private readonly last = new Map<string, { percent: number; at: number }>();

  constructor(
    private readonly stepPercent = 10,
    private readonly everyMs = 60_000,
  ) {}

  shouldPrint(e: EngineEvent): boolean {
    if (e.kind !== 'progress') return true;
    const prev = this.last.get(e.vm);
    const bucket = Math.floor(e.percent / this.stepPercent);
    if (prev === undefined || bucket > Math.floor(prev.percent / this.stepPercent) || e.at - prev.at >= this.everyMs) {
      this.last.set(e.vm, { percent: e.percent, at: e.at });
      return true;
    }
    return false;
  }
}
