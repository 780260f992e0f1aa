// The ordered steps of the life of one VM (DESIGN.md), with the exact argv of every host
// command and the full XML of every definition applied. Pure: the same inputs give the same
// plan, which `plan` prints and `run` executes.
import { removeMigrationMetadata, rewriteDiskSources, writeMigrationMetadata, type MigrationMetadata } from '../domain/index.js';
import { addLegArgv, buildMirrorArgv, readFilesArgv, stopMirrorArgv } from '../host/mdadm.js';
import type { Policy } from '../inventory/types.js';
import { Phase, StepKind, type DiskPlan, type Step } from './types.js';

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
}

export function definitionsFor(persistentXml: string, disks: readonly DiskPlan[], runId: string): DefinitionSet {
  const original = removeMigrationMetadata(persistentXml);
  const recorded = writeMigrationMetadata(original, migrationMetadata(runId, disks));
  const onMirror = rewriteDiskSources(recorded, new Map(disks.map((d) => [d.target, d.mirror])));
  const onNew = rewriteDiskSources(original, new Map(disks.map((d) => [d.target, d.new])));
  return { original, recorded, onMirror, onNew };
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function buildVmSteps(vm: string, disks: readonly DiskPlan[], defs: DefinitionSet, policy: Policy): Step[] {
  const shutdown = (phase: Phase): Step => ({
    kind: StepKind.shutdownVm,
    phase,
    summary: `graceful shutdown of ${vm} (wait up to ${seconds(policy.shutdownTimeoutMs)}, then ${policy.onShutdownTimeout === 'force' ? 'force it off' : 'fail and leave it running'})`,
  });
  const steps: Step[] = [shutdown(Phase.t1)];
  for (const d of disks) {
    steps.push({ kind: StepKind.buildMirror, phase: Phase.t1, target: d.target, summary: `build the mirror ${d.mirror} over the old volume ${d.old}`, argv: buildMirrorArgv(d.mirror, d.old) });
    steps.push({ kind: StepKind.addNewLeg, phase: Phase.t1, target: d.target, summary: `re-check that ${d.new} is unused (I5), then add it as the second leg`, argv: addLegArgv(d.mirror, d.new) });
    if (policy.resyncSpeedMaxKiB !== undefined) {
      steps.push({
        kind: StepKind.capResyncSpeed,
        phase: Phase.t1,
        target: d.target,
        summary: `cap the resync of ${d.mirror} at ${policy.resyncSpeedMaxKiB} KiB/s`,
        argv: ['tee', `/sys/block/${mdKernelPlaceholder(d)}/md/sync_speed_max`],
        input: `${policy.resyncSpeedMaxKiB}\n`,
      });
    }
  }
  steps.push({ kind: StepKind.recordMigration, phase: Phase.t1, summary: `record the migration in ${vm}'s persistent definition (still on the old volumes: I2)`, xml: defs.recorded });
  steps.push({ kind: StepKind.startOnMirror, phase: Phase.t1, summary: `start ${vm} with a one-off live definition on its mirrors`, xml: defs.onMirror });
  steps.push({
    kind: StepKind.waitForResync,
    phase: Phase.sync,
    summary: `wait until every mirror is [UU], idle and not degraded (one poll per host every ${seconds(policy.pollIntervalMs)})`,
    argv: readFilesArgv(['/proc/mdstat', ...disks.flatMap((d) => ['sync_action', 'sync_completed', 'degraded'].map((f) => `/sys/block/${mdKernelPlaceholder(d)}/md/${f}`))]),
  });
  steps.push({ kind: StepKind.checkCutover, phase: Phase.t2, summary: `check I3: ${vm} ran on its mirrors without interruption since they were built, every mirror in sync` });
  steps.push(shutdown(Phase.t2));
  steps.push({ kind: StepKind.defineOnNew, phase: Phase.t2, summary: `define ${vm} on the new volumes (it is off; the mirrors are in sync)`, xml: defs.onNew });
  for (const d of disks) {
    steps.push({ kind: StepKind.stopMirror, phase: Phase.t2, target: d.target, summary: `stop the mirror ${d.mirror}`, argv: stopMirrorArgv(d.mirror) });
  }
  steps.push({ kind: StepKind.startOnNew, phase: Phase.t2, summary: `start ${vm} on the new volumes` });
  steps.push({
    kind: StepKind.healthGate,
    phase: Phase.t2,
    summary: `health gate: ${vm} stays running for ${seconds(policy.health.settleMs)}${policy.health.command === undefined ? '' : ` and \`${policy.health.command.join(' ')}\` exits 0`}`,
    ...(policy.health.command === undefined ? {} : { argv: policy.health.command }),
  });
  return steps;
}
