// Executes a plan over a fleet: claims every VM (two runs never act on one VM), then migrates
// (or rolls back) each VM with its own state machine. One VM's failure never stops the others.
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { FailureBudget } from '../control/budget.js';
import type { Inventory, Policy } from '../inventory/types.js';
import { fleetVmsFromPlan, UNKNOWN_DISK_SIZE_BYTES } from '../plan/fleet-input.js';
import type { VmHistory } from '../plan/fleet-plan.js';
import type { Plan, VmPlan } from '../plan/types.js';
import type { Clock } from '../util/clock.js';
import { InputError, InputErrorCode, errorMessage, type Problem } from '../util/errors.js';
import type { Connections } from './connections.js';
import { Coordinator, type Admission } from './coordinator.js';
import { RunHalt } from './halt.js';
import type { EventSink } from './events.js';
import { factsByVm, factsOf, recordsByVm, resumeStageOf } from './facts.js';
import { deadHere, describeOwner, LEASE_RENEW_MS, LEASE_TTL_SECONDS, leases, ownerWord, type HeldLease } from '../host/leases.js';
import { deviceOf } from '../host/probe.js';
import { HOSTS_AT_ONCE, hostReaders, REMOTE_IN_USE_MAX_AGE_MS } from '../plan/fleet-plan.js';
import { InUseIndex } from '../plan/in-use.js';
import { HostObserver } from './host-observer.js';
import { Journal, readAllJournals, type JournalRecord } from './journal.js';
import { claimVm, processAlive, releaseVm } from './lock.js';
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
  /** aborted (a second Ctrl-C): every VM stops at its next safe point */
  stop?: AbortSignal;
  /** run the operator's hooks and outward health checks for VMs of simulated hosts too (tests);
   * by default a rehearsal announces them without running them */
  operatorCommandsInRehearsal?: boolean;
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
  /** why the run stopped early (a pause, a stop, the failure budget), when it did */
  stopped: string | null;
  /** per host: probes run (sessions that read the host) and periodic polls among them */
  hosts: Record<string, { probes: number; polls: number }>;
}

/** What earlier journals say of each VM, in the form the planner reads. */
export function historyReader(stateDir: string): (vm: string) => VmHistory | undefined {
  const factsOfVm = factsByVm(readAllJournals(stateDir));
  return (vm) => {
    const f = factsOfVm(vm);
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

  // The hosts' leases: one run acts on a VM, whatever machine each runs from (the local locks
  // above only see this machine). Taken for all of a host's VMs in one session, hosts in parallel.
  const owner = ownerWord({ run: o.runId, machine: hostname(), pid: process.pid });
  const leaseHosts = await takeLeases(o, owner, claimed).catch((err: unknown) => {
    for (const vm of claimed) releaseVm(o.stateDir, vm.host, vm.name, o.runId);
    throw err;
  });

  const history: JournalRecord[] = readAllJournals(o.stateDir);
  // each VM gets its own records: filtering the fleet's journals once per VM is quadratic
  const historyOf = recordsByVm(history);
  const journal = new Journal(o.stateDir, o.runId, () => o.clock.now());
  const rehearsal = o.connections.rehearsal;
  journal.append({ kind: 'run-started', inventory: o.inventory.file, vms: claimed.map((v) => v.name), pid: process.pid, hostname: hostname(), rehearsal });
  o.emit({ kind: 'run-started', at: o.clock.now(), run: o.runId, vms: claimed.map((v) => v.name), rehearsal });

  const results: VmResult[] = [];
  let stopped: string | null = null;
  const specs = new Map(o.inventory.vms.map((v) => [v.name, v]));
  let coordinator: Coordinator | undefined;
  let budget: FailureBudget | undefined;
  let stoppedBy: () => string | null = () => null;
  let observers = new Map<string, HostObserver>();
  const renewing = new AbortController();
  void renewLeases(o, owner, leaseHosts, renewing.signal);
  try {
    observers = await observersFor(o, claimed);
    const inUse = new InUseIndex(hostReaders(o.inventory, o.connections), () => o.clock.now(), REMOTE_IN_USE_MAX_AGE_MS, HOSTS_AT_ONCE);
    const startedAtMs = o.clock.now();
    const halt = new RunHalt({ stateDir: o.stateDir, runId: o.runId, startedAtMs, ...(o.stop === undefined ? {} : { stop: o.stop }) });
    budget = FailureBudget.forRun(o.inventory.rollout, claimed.map((v) => specs.get(v.name)!));
    coordinator = o.mode === RunMode.migrate ? coordinatorFor(o, claimed, historyOf, { halt, budget, windowsOf: (vm) => specs.get(vm)?.policy.windows, clock: o.clock }) : undefined;
    stoppedBy = () => halt.current()?.reason ?? budget?.stopped ?? null;
    await Promise.all(
      claimed.map(async (vm) => {
        const outcome = await runOne(o, vm, specs.get(vm.name)?.policy ?? o.inventory.policy, journal, historyOf.get(vm.name) ?? [], observers.get(vm.host)!, inUse, coordinator, leaseHosts.get(vm.host)!.get(vm.name)!);
        observers.get(vm.host)?.unregister(vm.name);
        leaseHosts.get(vm.host)?.delete(vm.name);
        results.push({ vm: vm.name, host: vm.host, outcome });
      }),
    );
  } finally {
    renewing.abort();
    coordinator?.close();
    await releaseLeases(o, owner, claimed);
    const failed = results.filter((r) => r.outcome.outcome === 'failed').length;
    const left = results.filter((r) => r.outcome.outcome === 'stopped').length;
    stopped = left > 0 ? stoppedBy() ?? 'stopped' : null;
    journal.append({ kind: 'run-finished', ok: failed === 0 && left === 0 && results.length === claimed.length, ...(stopped === null ? {} : { stopped }) });
    journal.close();
    for (const vm of claimed) releaseVm(o.stateDir, vm.host, vm.name, o.runId);
    o.emit({ kind: 'run-finished', at: o.clock.now(), run: o.runId, done: results.filter((r) => r.outcome.outcome === 'done').length, failed, rolledBack: results.filter((r) => r.outcome.outcome === 'rolled-back').length });
  }
  const order = new Map(claimed.map((v, i) => [v.name, i]));
  results.sort((a, b) => order.get(a.vm)! - order.get(b.vm)!);
  const hosts = Object.fromEntries([...observers].map(([name, ob]) => [name, { ...ob.counts }]));
  return { run: o.runId, journal: journal.path, results, ok: results.every((r) => r.outcome.outcome !== 'failed'), stopped, hosts };
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
function coordinatorFor(o: FleetRunOptions, vms: readonly VmPlan[], historyOf: ReadonlyMap<string, JournalRecord[]>, admission: Admission): Coordinator | undefined {
  if (vms.length === 0) return undefined;
  const diskOf = new Map(vms.flatMap((v) => v.disks.map((d) => [`${v.name}/${d.target}`, { mirror: d.mirror, old: d.old, new: d.new }] as const)));
  const resume = new Map(vms.map((vm) => [vm.name, resumeStageOf(factsOf(historyOf.get(vm.name) ?? [], vm.name))] as const));
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
      admission,
    },
  );
}

/**
 * Takes the run's leases on its VMs, host by host; a VM leased to another run (another machine,
 * another state folder) refuses the whole run before anything acts, naming that run. A lease
 * whose run died (expired) is taken over, and said so. Returns each host's VMs, to renew.
 */
async function takeLeases(o: FleetRunOptions, owner: string, vms: readonly VmPlan[]): Promise<Map<string, Map<string, HeldLease>>> {
  const byHost = new Map<string, Set<string>>();
  for (const vm of vms) byHost.set(vm.host, (byHost.get(vm.host) ?? new Set()).add(vm.name));
  const problems: Problem[] = [];
  const taken: [string, string[]][] = [];
  const held = new Map<string, Map<string, HeldLease>>();
  await Promise.all(
    [...byHost].map(async ([host, names]) => {
      const runner = await o.connections.trackedRunner(o.inventory.hosts[host]!);
      const sentAt = o.clock.now();
      const answer = await leases(runner, 'acquire', owner, LEASE_TTL_SECONDS, [...names]);
      // a run of this machine whose process is gone: its leases need not wait to expire
      for (const dead of new Set(answer.busy.filter((b) => deadHere(b.owner, hostname(), processAlive)).map((b) => b.owner))) {
        const again = await leases(runner, { takeoverFrom: dead }, owner, LEASE_TTL_SECONDS, answer.busy.filter((b) => b.owner === dead).map((b) => b.vm));
        answer.held.push(...again.held);
        answer.tookOver.push(...again.tookOver);
        answer.busy = [...answer.busy.filter((b) => b.owner !== dead), ...again.busy];
      }
      taken.push([host, answer.held]);
      held.set(host, new Map(answer.held.map((vm) => [vm, { owner, vm, ttlSeconds: LEASE_TTL_SECONDS, confirmedAt: sentAt, lostTo: null }])));
      for (const b of answer.busy) problems.push({ code: InputErrorCode.wrongState, message: `VM ${b.vm} is being migrated by ${describeOwner(b.owner)} (its lease on ${host} runs ${b.seconds} s more)`, hint: 'wait for that run to end or stop it (its lease then expires within 10 min); then run again', at: { vm: b.vm, host } });
      if (answer.lockTimeout) problems.push({ code: InputErrorCode.wrongState, message: `the leases of ${host} were locked by another process for 60 s`, hint: 'run again', at: { host } });
      for (const t of answer.tookOver) o.emit({ kind: 'note', at: o.clock.now(), vm: t.vm, text: `took over the lease of a run that no longer renews it (${describeOwner(t.from)})` });
    }),
  );
  if (problems.length > 0) {
    await Promise.all(taken.map(async ([host, names]) => leases(await o.connections.trackedRunner(o.inventory.hosts[host]!), 'release', owner, 0, names).catch(() => undefined)));
    throw new InputError(problems);
  }
  return held;
}

/** Renews the run's leases while it lasts: one session per host per renewal. A failed renewal is
 * tried again at the next; a lease another run holds now is marked lost, and its VM does nothing
 * more (its loop checks before each change, and each md action checks on the host). */
async function renewLeases(o: FleetRunOptions, owner: string, byHost: ReadonlyMap<string, Map<string, HeldLease>>, stop: AbortSignal): Promise<void> {
  for (;;) {
    await o.clock.sleep(LEASE_RENEW_MS, stop);
    if (stop.aborted) return;
    await Promise.all(
      [...byHost].map(async ([host, held]) => {
        const live = [...held.values()].filter((l) => l.lostTo === null);
        if (live.length === 0) return;
        try {
          const runner = await o.connections.trackedRunner(o.inventory.hosts[host]!);
          const sentAt = o.clock.now();
          const answer = await leases(runner, 'acquire', owner, LEASE_TTL_SECONDS, live.map((l) => l.vm));
          for (const vm of answer.held) {
            const l = held.get(vm);
            if (l !== undefined) l.confirmedAt = sentAt;
          }
          for (const b of answer.busy) {
            const l = held.get(b.vm);
            if (l !== undefined) l.lostTo = b.owner;
            o.emit({ kind: 'note', at: o.clock.now(), vm: b.vm, text: `its lease on ${host} is held by ${describeOwner(b.owner)} now: this run does nothing more to it` });
          }
        } catch (err) {
          o.emit({ kind: 'note', at: o.clock.now(), vm: live[0]!.vm, text: `could not renew the leases on ${host} (${errorMessage(err)}); tried again in ${LEASE_RENEW_MS / 1000}s` });
        }
      }),
    );
  }
}

async function releaseLeases(o: FleetRunOptions, owner: string, vms: readonly VmPlan[]): Promise<void> {
  const byHost = new Map<string, string[]>();
  for (const vm of vms) byHost.set(vm.host, [...(byHost.get(vm.host) ?? []), vm.name]);
  await Promise.all(
    [...byHost].map(async ([host, names]) => {
      // a host that does not answer keeps them until they expire
      await leases(await o.connections.trackedRunner(o.inventory.hosts[host]!), 'release', owner, 0, names).catch(() => undefined);
    }),
  );
}

async function runOne(o: FleetRunOptions, vm: VmPlan, policy: Policy, journal: Journal, history: JournalRecord[], observer: HostObserver, inUse: InUseIndex, coordinator: Coordinator | undefined, lease: HeldLease): Promise<VmOutcome> {
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
      // the VM's effective policy: its own keys over its groups' over the fleet's
      policy,
      runId: o.runId,
      emit: o.emit,
      cwd: dirname(o.inventory.file),
      operatorCommands: host.shell !== 'simulated' || o.operatorCommandsInRehearsal === true,
      lease,
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
