// Executes a plan over a fleet: claims every VM (two runs never act on one VM), then migrates
// (or rolls back) each VM with its own state machine. One VM's failure never stops the others.
import { hostname } from 'node:os';
import PQueue from 'p-queue';
import type { Inventory } from '../inventory/types.js';
import { fleetVmsFromPlan, UNKNOWN_DISK_SIZE_BYTES } from '../plan/fleet-input.js';
import type { VmHistory } from '../plan/fleet-plan.js';
import type { Plan, VmPlan } from '../plan/types.js';
import type { Clock } from '../util/clock.js';
import { InputError, InputErrorCode, errorMessage, type Problem } from '../util/errors.js';
import type { Connections } from './connections.js';
import { Coordinator } from './coordinator.js';
import type { EventSink } from './events.js';
import { factsOf } from './facts.js';
import { HostPoller } from './host-poller.js';
import { Journal, readAllJournals, type JournalRecord } from './journal.js';
import { claimVm, releaseVm } from './lock.js';
import { observeVm } from './observation.js';
import { VmMigration, type VmOutcome } from './vm-migration.js';

export const RunMode = {
  migrate: 'migrate',
  rollback: 'rollback',
} as const;
export type RunMode = (typeof RunMode)[keyof typeof RunMode];

export interface FleetRunOptions {
  plan: Plan;
  inventory: Inventory;
  connections: Connections;
  clock: Clock;
  stateDir: string;
  runId: string;
  mode: RunMode;
  emit: EventSink;
}

export interface VmResult {
  vm: string;
  host: string;
  outcome: VmOutcome;
}

export interface RunSummary {
  run: string;
  journal: string;
  results: VmResult[];
  ok: boolean;
}

/** What earlier journals say of each VM, in the form the planner reads. */
export function historyReader(stateDir: string): (vm: string) => VmHistory | undefined {
  const records = readAllJournals(stateDir);
  return (vm) => {
    const f = factsOf(records, vm);
    if (f.originalXml === null) return undefined;
    const underWay = f.outcome === null || f.outcome === 'failed';
    return { originalXml: underWay ? f.originalXml : null, migrated: f.outcome === 'done', completedFromXml: f.outcome === 'done' ? f.originalXml : null };
  };
}

export async function runFleet(o: FleetRunOptions): Promise<RunSummary> {
  const vms = o.plan.vms.filter((v) => v.done !== true);
  const claimed: VmPlan[] = [];
  const problems: Problem[] = [];
  for (const vm of vms) {
    const claim = claimVm(o.stateDir, vm.host, vm.name, o.runId, new Date(o.clock.now()));
    if (claim.claimed) claimed.push(vm);
    else problems.push({ code: InputErrorCode.wrongState, message: `VM ${vm.name} is owned by run ${claim.owner.run} (pid ${claim.owner.pid} on ${claim.owner.hostname}, since ${claim.owner.since})`, hint: 'wait for that run to end, or stop it; then run again', at: { vm: vm.name, host: vm.host } });
  }
  if (problems.length > 0) {
    for (const vm of claimed) releaseVm(o.stateDir, vm.host, vm.name, o.runId);
    throw new InputError(problems);
  }

  const history: JournalRecord[] = readAllJournals(o.stateDir);
  const journal = new Journal(o.stateDir, o.runId, () => o.clock.now());
  const rehearsal = o.connections.rehearsal;
  journal.append({ kind: 'run-started', inventory: o.inventory.file, vms: claimed.map((v) => v.name), pid: process.pid, hostname: hostname(), rehearsal });
  o.emit({ kind: 'run-started', at: o.clock.now(), run: o.runId, vms: claimed.map((v) => v.name), rehearsal });

  const pollers = new Map<string, HostPoller>();
  const results: VmResult[] = [];
  try {
    const coordinator = o.mode === RunMode.migrate ? await coordinatorFor(o, claimed) : undefined;
    await Promise.all(
      claimed.map(async (vm) => {
        const outcome = await runOne(o, vm, journal, history, pollers, coordinator);
        results.push({ vm: vm.name, host: vm.host, outcome });
      }),
    );
  } finally {
    const failed = results.filter((r) => r.outcome.outcome === 'failed').length;
    journal.append({ kind: 'run-finished', ok: failed === 0 && results.length === claimed.length });
    journal.close();
    for (const vm of claimed) releaseVm(o.stateDir, vm.host, vm.name, o.runId);
    o.emit({ kind: 'run-finished', at: o.clock.now(), run: o.runId, done: results.filter((r) => r.outcome.outcome === 'done').length, failed, rolledBack: results.filter((r) => r.outcome.outcome === 'rolled-back').length });
  }
  const order = new Map(claimed.map((v, i) => [v.name, i]));
  results.sort((a, b) => order.get(a.vm)! - order.get(b.vm)!);
  return { run: o.runId, journal: journal.path, results, ok: results.every((r) => r.outcome.outcome !== 'failed') };
}

/** VMs that have not begun their migration go through the fleet scheduler; VMs found mid-way
 * (an interrupted run) continue on their own, since their first window is behind them. */
async function coordinatorFor(o: FleetRunOptions, vms: readonly VmPlan[]): Promise<Coordinator | undefined> {
  const fresh: VmPlan[] = [];
  for (const vm of vms) {
    const host = o.inventory.hosts[vm.host]!;
    try {
      const obs = await observeVm({ hv: o.connections.hypervisor(host), runner: await o.connections.trackedRunner(host), vm: vm.name, disks: vm.disks });
      if (obs !== null && obs.persistent === 'old' && !obs.recorded && obs.mirrors.every((m) => !m.ours) && obs.live !== 'mirror') fresh.push(vm);
    } catch {
      // an unreadable VM fails in its own loop, with the reason
    }
  }
  if (fresh.length === 0) return undefined;
  const mirrorOf = new Map(vms.flatMap((v) => v.disks.map((d) => [`${v.name}/${d.target}`, d.mirror] as const)));
  const speedQueue = new PQueue({ concurrency: 1 });
  return new Coordinator(
    fleetVmsFromPlan(o.inventory, { ...o.plan, vms: fresh }, { defaultSizeBytes: UNKNOWN_DISK_SIZE_BYTES }),
    o.inventory.limits,
    {
      ...(o.inventory.policy.resyncSpeedMaxKiB === undefined ? {} : { resyncSpeedMaxKiB: o.inventory.policy.resyncSpeedMaxKiB }),
      // speed changes of one host go one at a time, in the order the scheduler decided them
      runnerOf: (host) => speedQueue.add(() => o.connections.trackedRunner(o.inventory.hosts[host]!)),
      mirrorOf: (vm, target) => mirrorOf.get(`${vm}/${target}`)!,
      emit: o.emit,
      now: () => o.clock.now(),
    },
  );
}

async function runOne(o: FleetRunOptions, vm: VmPlan, journal: Journal, history: JournalRecord[], pollers: Map<string, HostPoller>, coordinator: Coordinator | undefined): Promise<VmOutcome> {
  const host = o.inventory.hosts[vm.host]!;
  try {
    const runner = await o.connections.trackedRunner(host);
    let poller = pollers.get(vm.host);
    if (poller === undefined) {
      poller = new HostPoller(runner);
      pollers.set(vm.host, poller);
    }
    const p = poller;
    const migration = new VmMigration({
      vm: vm.name,
      host: vm.host,
      disks: vm.disks,
      hv: o.connections.hypervisor(host),
      runner,
      journal,
      history,
      clock: o.clock,
      policy: o.inventory.policy,
      runId: o.runId,
      emit: o.emit,
      poll: (m) => p.poll(m),
      ...(coordinator?.has(vm.name) === true ? { coordination: coordinator.for(vm.name), speedManagedElsewhere: coordinator.ownsResyncSpeed } : {}),
    });
    return o.mode === RunMode.rollback ? await migration.rollback() : await migration.migrate();
  } catch (err) {
    const reason = errorMessage(err);
    o.emit({ kind: 'vm-finished', at: o.clock.now(), vm: vm.name, outcome: 'failed', reason });
    return { outcome: 'failed', reason };
  }
}
