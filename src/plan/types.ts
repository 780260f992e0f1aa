// The plan is a value (see STYLE.md, Terraform): `plan` renders it, `run` executes it and
// takes nothing else. Pure data, serialisable as JSON (docs/plan-json.md).
import type { Policy } from '../inventory/types.js';

/** The closed list of step kinds, in the order of the life of a VM (DESIGN.md). */
export const StepKind = {
  buildMirror: 'build-mirror',
  recordMigration: 'record-migration',
  checkNewUnused: 'check-new-unused',
  shutdownVm: 'shutdown-vm',
  flushMirrors: 'flush-mirrors',
  startOnMirror: 'start-on-mirror',
  addNewLeg: 'add-new-leg',
  waitForResync: 'wait-for-resync',
  checkCutover: 'check-cutover',
  finalCheck: 'final-check',
  defineOnNew: 'define-on-new',
  stopMirror: 'stop-mirror',
  startOnNew: 'start-on-new',
  healthGate: 'health-gate',
} as const;
export type StepKind = (typeof StepKind)[keyof typeof StepKind];

export const Phase = {
  preflight: 'preflight',
  /** while the VM still runs on OLD, before its T1 window */
  prepare: 'prepare',
  t1: 'T1',
  sync: 'sync',
  t2: 'T2',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

export interface Step {
  kind: StepKind;
  phase: Phase;
  /** what the step does, in the operator's words */
  summary: string;
  /** the disk it acts on, when it acts on one */
  target?: string;
  /** the exact host command, as an argument vector; commands that sanshift runs together in one
   * session (its md action script, src/host/scripts.ts) are listed one by one */
  argv?: string[];
  /** further commands of the same session, when there are several */
  more?: string[][];
  /** the VM is off during this step (the down windows hold nothing else) */
  vmOff?: boolean;
  /** text fed to the command's standard input (sysfs writes) */
  input?: string;
  /** the full XML of a libvirt definition this step applies */
  xml?: string;
}

export interface DiskPlan {
  target: string;
  old: string;
  new: string;
  /** /dev/md/NAME of the mirror sanshift builds for this disk */
  mirror: string;
  /** storage array of the new volume, when known */
  array?: string;
  /** size of the old volume in bytes, when preflight could read it */
  sizeBytes?: number;
}

export const CheckStatus = {
  pass: 'pass',
  fail: 'fail',
  notChecked: 'not-checked',
} as const;
export type CheckStatus = (typeof CheckStatus)[keyof typeof CheckStatus];

export interface PreflightCheck {
  check: string;
  status: CheckStatus;
  detail: string;
  target?: string;
}

/** What a VM's steps and definitions are made from (`vmPlanDetail`, plan/vm-steps.ts). A plan
 * keeps this rather than the steps: they are a pure function of it and of the VM's disks, and
 * 10,000 VMs' fifteen steps and four definitions each, held until the plan is printed, were
 * most of a fleet plan's memory. The definition is the text read from libvirt, not a copy. */
export interface StepsSource {
  /** the persistent definition the migration starts from: as read at plan time, or the one the
   * journal kept when a migration is under way */
  definition: string;
  runId: string;
  policy: Policy;
}

export interface VmPlan {
  name: string;
  host: string;
  uri: string;
  disks: DiskPlan[];
  preflight: PreflightCheck[];
  /** null: no steps (done, or its host could not be read) */
  stepsFrom: StepsSource | null;
  /** its migration completed in an earlier run: no steps */
  done?: boolean;
}

/** A VM's steps, each with its exact commands and definitions, as `plan` shows them. */
export interface VmPlanDetail {
  steps: Step[];
  /** the persistent definition the steps start from, without sanshift's record ('' with no steps) */
  originalXml: string;
}

export interface Plan {
  inventory: string;
  createdAt: string;
  vms: VmPlan[];
}

export function preflightPassed(vm: VmPlan): boolean {
  return vm.preflight.every((c) => c.status === CheckStatus.pass);
}
