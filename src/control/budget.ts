// Who may start now, as far as the rollout is concerned: canaries first, then the rest; and a
// failure budget that stops admitting new VMs after N failures or more than X% of the VMs
// finished in the run (Ansible's max_fail_percentage). VMs already in flight always go on to
// the end of their migration: the budget only says no to VMs that have not started.
// Pure: the engine tells it what finished and asks it before each admission.
import type { Rollout, VmSpec } from '../inventory/types.js';

/** Whether a unit (a bundle: VMs that share their windows) may enter its first window now. */
export type Admission =
  | { admit: true; canary: boolean }
  /** not yet: the canaries are still running */
  | { admit: false; wait: true; reason: string }
  /** not in this run: a canary failed, or the failure budget is spent */
  | { admit: false; wait: false; reason: string };

/** How a VM's migration ended, as the budget counts it. */
export type BudgetOutcome = 'done' | 'failed' | 'rolled-back';

/**
 * The canaries among the VMs of a run, in run order: the VMs named, the members of the groups
 * named, or the first `canaryCount` VMs. Canaries not in this run (done in an earlier one, or
 * not selected) are not waited for.
 */
export function canariesOf(rollout: Rollout, vms: readonly Pick<VmSpec, 'name' | 'groups'>[]): string[] {
  if (rollout.canaryCount > 0) return vms.slice(0, rollout.canaryCount).map((v) => v.name);
  const named = new Set(rollout.canaryVms);
  const groups = new Set(rollout.canaryGroups);
  return vms.filter((v) => named.has(v.name) || v.groups.some((g) => groups.has(g))).map((v) => v.name);
}

const list = (names: readonly string[], max = 5): string => (names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`);

export class FailureBudget {
  readonly canaries: ReadonlySet<string>;
  private readonly outcomes = new Map<string, BudgetOutcome>();
  private readonly failures: string[] = [];
  private stop: string | null = null;

  constructor(
    private readonly rollout: Pick<Rollout, 'maxFailures' | 'maxFailPercent'>,
    canaries: Iterable<string>,
  ) {
    this.canaries = new Set(canaries);
  }

  /** For a run over `vms` (in run order) under the inventory's rollout. */
  static forRun(rollout: Rollout, vms: readonly Pick<VmSpec, 'name' | 'groups'>[]): FailureBudget {
    return new FailureBudget(rollout, canariesOf(rollout, vms));
  }

  /** Why nothing more is admitted in this run, or null while VMs may still be admitted. */
  get stopped(): string | null {
    return this.stop;
  }

  /** Canaries that have not finished yet. */
  get canariesRunning(): string[] {
    return [...this.canaries].filter((c) => !this.outcomes.has(c));
  }

  /** A unit that holds a canary goes with the canaries: its members share its windows. */
  decide(members: readonly string[]): Admission {
    if (this.stop !== null) return { admit: false, wait: false, reason: this.stop };
    const canary = members.some((m) => this.canaries.has(m));
    if (canary) return { admit: true, canary: true };
    const running = this.canariesRunning;
    if (running.length > 0) {
      return { admit: false, wait: true, reason: `waiting for the canaries to finish: ${list(running)} (rollout.canaries)` };
    }
    return { admit: true, canary: false };
  }

  /** Records how a VM ended; returns the reason when this outcome stops the admissions. */
  finished(vm: string, outcome: BudgetOutcome, reason?: string): string | null {
    if (this.outcomes.has(vm)) return null;
    this.outcomes.set(vm, outcome);
    // in a migration, a rolled-back VM did not migrate: it counts as a failure
    if (outcome === 'done') return null;
    this.failures.push(vm);
    if (this.stop !== null) return null;
    const why = reason === undefined ? '' : `: ${reason}`;
    if (this.canaries.has(vm)) {
      this.stop = `canary ${vm} ${outcome === 'failed' ? 'failed' : 'was rolled back'}${why}; no other VM is admitted in this run (rollout.canaries)`;
    } else if (this.rollout.maxFailures !== undefined && this.failures.length >= this.rollout.maxFailures) {
      this.stop = `${this.failures.length} VM${this.failures.length === 1 ? '' : 's'} failed (${list(this.failures)}), rollout.maxFailures is ${this.rollout.maxFailures}; no new VM is admitted in this run`;
    } else if (this.rollout.maxFailPercent !== undefined && this.failures.length * 100 > this.rollout.maxFailPercent * this.outcomes.size) {
      const percent = (this.failures.length * 100) / this.outcomes.size;
      this.stop = `${this.failures.length} of the ${this.outcomes.size} VMs finished in this run failed (${percent.toFixed(percent < 10 ? 1 : 0)}%, ${list(this.failures)}), above rollout.maxFailPercent ${this.rollout.maxFailPercent}%; no new VM is admitted in this run`;
    }
    return this.stop;
  }

  /** What the report says of the rollout. */
  summary(): { canaries: string[]; finished: number; failed: string[]; stopped: string | null } {
    return { canaries: [...this.canaries], finished: this.outcomes.size, failed: [...this.failures], stopped: this.stop };
  }
}
