// Executes a plan over a fleet: claims every VM (two runs never act on one VM), then migrates
// (or rolls back) each VM with its own state machine. One VM's failure never stops the others.
import { hostname } from 'node:os';
import type { Inventory } from '../inventory/types.js';
import { fleetVmsFromPlan, UNKNOWN_DISK_SIZE_BYTES } from '../plan/fleet-input.js';
import type { VmHistory } from '../plan/fleet-plan.js';
import type { Plan, VmPlan } from '../plan/types.js';
import type { Clock } from '../util/clock.js';
import { InputError, InputErrorCode, errorMessage, type Problem } from '../util/errors.js';
import type { Connections } from './connections.js';
import { Coordinator } from './coordinator.js';
import type { EventSink } from './events.js';
import { factsOf, resumeStageOf } from './facts.js';
import { deviceOf } from '../host/probe.js';
import { hostReaders, REMOTE_IN_USE_MAX_AGE_MS } from '../plan/fleet-plan.js';
import { InUseIndex } from '../plan/in-use.js';
import { HostObserver } from './host-observer.js';
import { Journal, readAllJournals, type JournalRecord } from './journal.js';
import { claimVm, releaseVm } from './lock.js';
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
  /** per host: probes run (sessions that read the host) and periodic polls among them */
  hosts: Record<string, { probes: number; polls: number }>;
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

  const results: VmResult[] = [];
  let observers = new Map<string, HostObserver>();
  try {
    observers = await observersFor(o, claimed);
    const inUse = new InUseIndex(hostReaders(o.inventory, o.connections), () => o.clock.now(), REMOTE_IN_USE_MAX_AGE_MS);
    const coordinator = o.mode === RunMode.migrate ? coordinatorFor(o, claimed, history) : undefined;
    await Promise.all(
      claimed.map(async (vm) => {
        const outcome = await runOne(o, vm, journal, history, observers.get(vm.host)!, inUse, coordinator);
        observers.get(vm.host)?.unregister(vm.name);
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
  const hosts = Object.fromEntries([...observers].map(([name, ob]) => [name, { ...ob.counts }]));
  return { run: o.runId, journal: journal.path, results, ok: results.every((r) => r.outcome.outcome !== 'failed'), hosts };
}

/** One observer per host, knowing every VM of the host that this run drives. */
async function observersFor(o: FleetRunOptions, vms: readonly VmPlan[]): Promise<Map<string, HostObserver>> {
  const out = new Map<string, HostObserver>();
  for (const vm of vms) {
    let observer = out.get(vm.host);
    if (observer === undefined) {
      const host = o.inventory.hosts[vm.host]!;
      observer = new HostObserver(vm.host, await o.connections.trackedRunner(host), o.connections.hypervisor(host), o.clock, o.inventory.policy.pollIntervalMs);
      out.set(vm.host, observer);
    }
    observer.register(vm.name, vm.disks);
  }
  return out;
}

/** Every VM goes through the fleet scheduler, a resumed one too: where each stands is read from
 * the journals alone (no host is read twice), and its bundle is registered there, so down
 * windows, bundles, anti-affinity and limits hold after an interruption as before it. */
function coordinatorFor(o: FleetRunOptions, vms: readonly VmPlan[], history: readonly JournalRecord[]): Coordinator | undefined {
  if (vms.length === 0) return undefined;
  const diskOf = new Map(vms.flatMap((v) => v.disks.map((d) => [`${v.name}/${d.target}`, { mirror: d.mirror, old: d.old, new: d.new }] as const)));
  const resume = new Map(vms.map((vm) => [vm.name, resumeStageOf(factsOf(history, vm.name))] as const));
  return new Coordinator(
    fleetVmsFromPlan(o.inventory, { ...o.plan, vms: [...vms] }, { defaultSizeBytes: UNKNOWN_DISK_SIZE_BYTES }),
    o.inventory.limits,
    {
      resume,
      ...(o.inventory.policy.resyncSpeedMaxKiB === undefined ? {} : { resyncSpeedMaxKiB: o.inventory.policy.resyncSpeedMaxKiB }),
      runnerOf: (host) => o.connections.trackedRunner(o.inventory.hosts[host]!),
      diskOf: (vm, target) => diskOf.get(`${vm}/${target}`)!,
      emit: o.emit,
      now: () => o.clock.now(),
    },
  );
}

async function runOne(o: FleetRunOptions, vm: VmPlan, journal: Journal, history: JournalRecord[], observer: HostObserver, inUse: InUseIndex, coordinator: Coordinator | undefined): Promise<VmOutcome> {
  const host = o.inventory.hosts[vm.host]!;
  try {
    const runner = await o.connections.trackedRunner(host);
    const migration = new VmMigration({
      vm: vm.name,
      host: vm.host,
      disks: vm.disks,
      hv: o.connections.hypervisor(host),
      runner,
      observer,
      journal,
      history,
      clock: o.clock,
      policy: o.inventory.policy,
      runId: o.runId,
      emit: o.emit,
      newVolumeUsers: async (disks) => {
        const snap = await observer.read();
        const found = await inUse.usersOf(vm.host, vm.name, disks, new Map(disks.map((d) => [d.new, deviceOf(snap, d.new)])));
        for (const u of found.unchecked) o.emit({ kind: 'note', at: o.clock.now(), vm: vm.name, text: `I5 re-check: ${u}; it was checked at preflight` });
        return found.users;
      },
      ...(coordinator?.has(vm.name) === true ? { coordination: coordinator.for(vm.name) } : {}),
    });
    return o.mode === RunMode.rollback ? await migration.rollback() : await migration.migrate();
  } catch (err) {
    const reason = errorMessage(err);
    o.emit({ kind: 'vm-finished', at: o.clock.now(), vm: vm.name, outcome: 'failed', reason });
    return { outcome: 'failed', reason };
  }
}
