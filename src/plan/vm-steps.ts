// The ordered steps of the life of one VM (DESIGN.md), with the exact argv of every host
// command and the full XML of every definition applied. Pure: the same inputs give the same
// plan, which `plan` prints and `run` executes.
import { buildXml, cloneElement, dropMigrationRecord, parseDomain, setDiskSources, setMigrationRecord, type MigrationMetadata, type XmlElement } from '../domain/index.js';
import { addLegArgv, buildMirrorArgv, stopMirrorArgv } from '../host/mdadm.js';
import type { HealthCheckSpec, Policy } from '../inventory/types.js';
import { redactUrl } from '../util/url.js';
import { Phase, StepKind, type DiskPlan, type Step, type VmPlan, type VmPlanDetail } from './types.js';

/** Placeholder for the md kernel name (md127...), known only once the array exists. */
export function mdKernelPlaceholder(disk: DiskPlan): string {
  return `<mdN of ${disk.mirror}>`;
}

export const MigrationPhase = {
  /** the VM runs (or is about to run) on its mirrors; the persistent definition is on OLD */
  mirror: 'mirror',
} as const;

export function migrationMetadata(runId: string, disks: readonly DiskPlan[], phase: string = MigrationPhase.mirror): MigrationMetadata {
  return { phase, runId, disks: disks.map(({ target, old, new: nu, mirror }) => ({ target, old, new: nu, mirror })) };
}

export interface DefinitionSet {
  /** the persistent definition as it was, without any sanshift metadata */
  original: string;
  /** persistent definition during the migration: still on OLD (I2), plus our metadata */
  recorded: string;
  /** one-off live definition: the mirrors, plus our metadata */
  onMirror: string;
  /** the final persistent definition: NEW, no metadata */
  onNew: string;
  /** what a rollback defines: OLD, no metadata */
  onOld: string;
}

/** Every definition sanshift applies, each derived from the VM's *current* persistent
 * definition, so an operator's edit made during a days-long copy is kept. From one parse: the
 * definitions differ only in sanshift's record and the disks' sources, so each is the same tree
 * edited in place and written out (planning 10,000 VMs parses 10,000 documents, not 50,000). */
export function definitionsFor(persistent: string | XmlElement, disks: readonly DiskPlan[], runId: string): DefinitionSet {
  const domain = typeof persistent === 'string' ? parseDomain(persistent) : cloneElement(persistent);
  dropMigrationRecord(domain);
  const original = buildXml(domain);
  const sources = (pick: (d: DiskPlan) => string) => new Map(disks.map((d) => [d.target, pick(d)]));
  // a second tree for the two without a record: setDiskSources overwrites every moved disk's
  // source, so onNew's tree becomes onOld's with one more edit
  const plain = cloneElement(domain);
  setMigrationRecord(domain, migrationMetadata(runId, disks));
  const recorded = buildXml(domain);
  setDiskSources(domain, sources((d) => d.mirror));
  const onMirror = buildXml(domain);
  setDiskSources(plain, sources((d) => d.new));
  const onNew = buildXml(plain);
  setDiskSources(plain, sources((d) => d.old));
  const onOld = buildXml(plain);
  return { original, recorded, onMirror, onNew, onOld };
}

/** A VM's steps and the definition they start from, made from what its plan keeps. */
export function vmPlanDetail(vm: Pick<VmPlan, 'name' | 'disks' | 'stepsFrom'>): VmPlanDetail {
  if (vm.stepsFrom === null) return { steps: [], originalXml: '' };
  const defs = definitionsFor(vm.stepsFrom.definition, vm.disks, vm.stepsFrom.runId);
  return { steps: buildVmSteps(vm.name, vm.disks, defs, vm.stepsFrom.policy), originalXml: defs.original };
}

/** A VM's plan as `plan --json` and the saved plan write it: what its steps are made from
 * replaced by `written` (its steps, and the saved plan's definition), `done` last, in the
 * order both have always had. */
export function vmPlanWritten<W extends { steps: Step[] }>({ stepsFrom: _from, done, ...fields }: VmPlan, written: W): Omit<VmPlan, 'stepsFrom'> & W {
  return { ...fields, ...written, ...(done === undefined ? {} : { done }) };
}

/** One health check as the plan shows it, in its steps and its policy block; a URL without
 * its credentials. */
export function describeCheck(c: HealthCheckSpec): string {
  switch (c.kind) {
    case 'guest-agent':
      return 'guest agent answers guest-ping';
    case 'tcp':
      return `tcp ${c.host}:${c.port} opens`;
    case 'http':
      return `GET ${redactUrl(c.url)} answers 2xx`;
    case 'command':
      return `${c.argv.join(' ')} exits 0 (on this machine)`;
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The md commands of one session, as `argv` and `more` of a step. They are shown by the mirror's
 * name; the script checks that the name leads to the array it must (its legs, by kernel name)
 * and then acts on the array's kernel name (src/host/scripts.ts). */
function session(commands: string[][]): Pick<Step, 'argv' | 'more'> {
  const [first, ...rest] = commands;
  return { argv: first!, ...(rest.length === 0 ? {} : { more: rest }) };
}

export function buildVmSteps(vm: string, disks: readonly DiskPlan[], defs: DefinitionSet, policy: Policy): Step[] {
  const shutdown = (phase: Phase): Step => ({
    kind: StepKind.shutdownVm,
    phase,
    summary: `graceful shutdown of ${vm} (wait up to ${seconds(policy.shutdownTimeoutMs)}, then ${policy.onShutdownTimeout === 'force' ? 'force it off' : 'fail and leave it running'})`,
  });
  const cap = (d: DiskPlan) => ['tee', `/sys/block/${mdKernelPlaceholder(d)}/md/sync_speed_max`];
  const capNote = policy.resyncSpeedMaxKiB === undefined ? '' : `, capped at ${policy.resyncSpeedMaxKiB} KiB/s before NEW can join`;
  const steps: Step[] = [];
  // prepare: the VM still runs on OLD; md copies nothing while a mirror has one leg
  steps.push({
    kind: StepKind.buildMirror,
    phase: Phase.prepare,
    summary: `build ${disks.map((d) => `${d.mirror} over ${d.old}`).join(', ')} (OLD alone${capNote}; one session, each name checked first)`,
    ...session(disks.flatMap((d) => [buildMirrorArgv(d.mirror, d.old), ...(policy.resyncSpeedMaxKiB === undefined ? [] : [cap(d)])])),
  });
  steps.push({ kind: StepKind.recordMigration, phase: Phase.prepare, summary: `record the migration in ${vm}'s current persistent definition (still on the old volumes: I2)`, xml: defs.recorded });
  steps.push({ kind: StepKind.checkNewUnused, phase: Phase.prepare, summary: `check again that no domain on any inventory host uses ${disks.map((d) => d.new).join(', ')} (I5, compared as devices)` });
  // T1: only what needs the VM off
  steps.push(shutdown(Phase.t1));
  steps.push({ kind: StepKind.flushMirrors, phase: Phase.t1, vmOff: true, summary: `drop the page cache of ${disks.map((d) => d.mirror).join(', ')} (one session)`, ...session(disks.map((d) => ['blockdev', '--flushbufs', d.mirror])) });
  steps.push({ kind: StepKind.startOnMirror, phase: Phase.t1, vmOff: true, summary: `start ${vm} with a one-off live definition on its mirrors`, xml: defs.onMirror });
  // a gate after T1 runs only when a check names T1 (it delays the copy); failing, it goes back
  const t1Checks = policy.health.checks.filter((c) => c.gates.includes('T1'));
  if (t1Checks.length > 0) {
    steps.push({ kind: StepKind.healthGate, phase: Phase.t1, summary: `health gate after T1: ${t1Checks.map(describeCheck).join('; ')} (failing: back to the old volumes, still current, before NEW joins)` });
  }
  // copy: the guest runs on the mirrors
  steps.push({
    kind: StepKind.addNewLeg,
    phase: Phase.sync,
    summary: `re-check that ${disks.map((d) => d.new).join(', ')} ${disks.length > 1 ? 'are' : 'is'} unused (I5: domains, holders, mounts, sector size), record the write counters (I3), add NEW: md starts copying (one session)`,
    ...session(disks.map((d) => addLegArgv(d.mirror, d.new))),
  });
  steps.push({
    kind: StepKind.waitForResync,
    phase: Phase.sync,
    summary: `wait until every mirror is [UU], idle and not degraded (one probe per host every ${seconds(policy.pollIntervalMs)}, however many VMs)`,
  });
  // T2: checked while the VM runs, then only the final check, define, stop and start
  steps.push({ kind: StepKind.checkCutover, phase: Phase.t2, summary: `check I3: ${vm} ran on its mirrors without interruption since they were built, every mirror in sync; read its current definition` });
  steps.push(shutdown(Phase.t2));
  steps.push({ kind: StepKind.finalCheck, phase: Phase.t2, vmOff: true, summary: 'read the host once more: every mirror in sync, and nothing wrote to OLD around its mirror (I3, write counters)' });
  steps.push({ kind: StepKind.defineOnNew, phase: Phase.t2, vmOff: true, summary: `define ${vm} on the new volumes (its current definition, edits kept; the mirrors are in sync)`, xml: defs.onNew });
  steps.push({ kind: StepKind.stopMirror, phase: Phase.t2, vmOff: true, summary: `stop ${disks.map((d) => d.mirror).join(', ')} (one session, each array checked first)`, ...session(disks.map((d) => stopMirrorArgv(d.mirror))) });
  steps.push({ kind: StepKind.startOnNew, phase: Phase.t2, vmOff: true, summary: `start ${vm} on the new volumes` });
  const t2Checks = policy.health.checks.filter((c) => c.gates.includes('T2'));
  steps.push({
    kind: StepKind.healthGate,
    phase: Phase.t2,
    summary: `health gate: ${vm} stays running for ${seconds(policy.health.settleMs)}${policy.health.command === undefined ? '' : ` and \`${policy.health.command.join(' ')}\` exits 0`}${t2Checks.length === 0 ? '' : `; ${t2Checks.map(describeCheck).join('; ')}`}`,
    ...(policy.health.command === undefined ? {} : { argv: policy.health.command }),
  });
  return steps;
}
