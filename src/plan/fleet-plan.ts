// Builds the plan of a whole inventory (or of the VMs named): reads each domain's persistent
// definition, resolves its disks, keeps what its steps are made from (vm-steps.ts makes them
// when the plan is shown), then runs preflight host by host.
// Every problem is collected, nothing is changed; the caller decides how to render and exit.
import PQueue from 'p-queue';
import { probeHost } from '../host/probe.js';
import type { CommandRunner } from '../host/runner.js';
import type { Hypervisor } from '../hypervisor/port.js';
import { didYouMean } from '../inventory/suggest.js';
import type { HostSpec, Inventory, VmSpec } from '../inventory/types.js';
import { InputError, InputErrorCode, UnreachableError, errorMessage, type Problem } from '../util/errors.js';
import { resolveDisks, reverseDisks } from './disks.js';
import { InUseIndex, type HostReader } from './in-use.js';
import { preflightHost } from './preflight.js';
import { CheckStatus, type Plan, type VmPlan } from './types.js';

export interface PlanPorts {
  hypervisor(host: HostSpec): Hypervisor;
  /** the host's command runner, or why it cannot be had */
  runner(host: HostSpec): Promise<CommandRunner | { unreachable: string }>;
}

/** What earlier runs' journals say of a VM (the engine derives it; the plan only reads it). */
export interface VmHistory {
  /** the persistent definition before its migration began, when one is under way */
  originalXml: string | null;
  /** its last migration completed (it runs on its new volumes) */
  migrated: boolean;
  /** the definition the completed migration started from, for a reverse migration */
  completedFromXml: string | null;
}

export interface PlanOptions {
  /** VM names to plan; all of the inventory when empty */
  vms?: readonly string[];
  runId: string;
  now: Date;
  history?: (vm: string) => VmHistory | undefined;
  /** plan reverse migrations: completed VMs go back to the volumes they came from */
  reverse?: boolean;
  /** skip the host checks (status only needs the disks of each VM, not a preflight) */
  withoutPreflight?: boolean;
}

export interface PlanOutcome {
  plan: Plan;
  /** input problems: the plan must not be executed (exit code 2) */
  problems: Problem[];
  /** hosts that could not be reached (exit code 1 when there is no input problem) */
  unreachable: UnreachableError[];
  /** each planned VM's persistent definition as read for this plan, for a caller that looks at
   * the VMs next (status) instead of reading them from libvirt again */
  definitions: Map<string, string>;
}

/** The inventory's VMs named on the command line, or all of them; unknown names are problems. */
export function selectVms(inv: Inventory, names: readonly string[] = []): { vms: VmSpec[]; problems: Problem[] } {
  if (names.length === 0) return { vms: inv.vms, problems: [] };
  const byName = new Map(inv.vms.map((v) => [v.name, v]));
  const problems: Problem[] = [];
  const vms: VmSpec[] = [];
  for (const n of new Set(names)) {
    const vm = byName.get(n);
    if (vm === undefined) {
      problems.push({ code: InputErrorCode.notFound, message: `VM ${n} is not in the inventory${didYouMean(n, byName.keys())}`, hint: 'name a VM listed under vms:', at: { file: inv.file } });
    } else vms.push(vm);
  }
  return { vms, problems };
}

/** Hosts read at once: each costs a handful of sessions and libvirt calls; 500 hosts in
 * parallel would open 500 ssh masters from one machine. 32 reads 500 far hosts (100 ms a
 * session, 20 ms a libvirt call) in about 10 s (bench/fleet-path.ts). */
export const HOSTS_AT_ONCE = 32;
/** How old another host's reading of its domains may be when NEW is re-checked (I5) */
export const REMOTE_IN_USE_MAX_AGE_MS = 10 * 60_000;

/** How the in-use index (I5 by identity) reaches every host of the inventory. */
export function hostReaders(inv: Inventory, ports: PlanPorts): HostReader[] {
  return Object.values(inv.hosts).map((host) => ({
    name: host.name,
    hv: ports.hypervisor(host),
    probe: async (paths: string[]) => {
      const runner = await ports.runner(host);
      if ('unreachable' in runner) throw new UnreachableError(host.name, host.uri, runner.unreachable);
      return probeHost(runner, 'state', paths);
    },
  }));
}

export async function planFleet(inv: Inventory, ports: PlanPorts, options: PlanOptions): Promise<PlanOutcome> {
  const { vms, problems } = selectVms(inv, options.vms);
  const unreachable: UnreachableError[] = [];
  const plans: VmPlan[] = [];
  const byHost = new Map<string, VmSpec[]>();
  for (const vm of vms) byHost.set(vm.host, [...(byHost.get(vm.host) ?? []), vm]);
  // I5 by identity: every host's domains, read once for the whole plan, hosts in parallel
  const inUse = options.withoutPreflight === true || byHost.size === 0 ? undefined : new InUseIndex(hostReaders(inv, ports), () => options.now.getTime(), Number.POSITIVE_INFINITY, HOSTS_AT_ONCE);
  const queue = new PQueue({ concurrency: HOSTS_AT_ONCE });
  if (inUse !== undefined) await inUse.refreshAll();

  // each host's findings are merged in the inventory's order, whatever order hosts answer in
  const perHost = await Promise.all(
    [...byHost].map(([hostName, hostVms]) =>
      queue.add(async () => {
        const problems: Problem[] = [];
        const unreachable: UnreachableError[] = [];
        const host = inv.hosts[hostName]!;
        const hv = ports.hypervisor(host);
        const hostPlans: VmPlan[] = [];
        const current = new Map<string, string>();
        try {
          // with a preflight, the in-use index read the host's roster and definitions a moment ago
          const reading = inUse?.readingOf(hostName, options.now.getTime());
          // one listing for the whole host: which VMs exist, which run
          const roster = reading?.roster ?? (await hv.roster());
          // every definition of the host at once (the hypervisor pool bounds the calls in flight)
          const definitions = new Map(
            await Promise.all(
              hostVms.filter((vm) => roster.has(vm.name)).map(async (vm) => [vm.name, reading?.definitions.get(vm.name) ?? (await hv.inactiveXml(vm.name))] as const),
            ),
          );
          for (const vm of hostVms) {
            if (!roster.has(vm.name)) {
              problems.push({ code: InputErrorCode.notFound, message: `VM ${vm.name} does not exist on host ${hostName} (${host.uri})`, hint: `check the name with \`virsh -c ${host.uri} list --all\``, at: { file: inv.file, path: ['vms', vm.index, 'name'], line: inv.lineOf(['vms', vm.index, 'name']), vm: vm.name } });
              continue;
            }
            const id = roster.get(vm.name) ?? null;
            const state = id === null ? 'shut off' : `running (id ${id})`;
            const past = options.history?.(vm.name);
            const persistentXml = definitions.get(vm.name)!;
            current.set(vm.name, persistentXml);
            if (options.reverse === true) {
              if (past?.migrated !== true || past.completedFromXml === null) {
                problems.push({ code: InputErrorCode.wrongState, message: `VM ${vm.name} has no completed migration to reverse in the journal`, hint: 'a reverse migration moves a VM back after its migration completed; before that, use rollback without --reverse', at: { vm: vm.name, host: hostName } });
                continue;
              }
              const resolved = reverseDisks(vm, persistentXml, past.completedFromXml);
              problems.push(...resolved.problems);
              hostPlans.push({ name: vm.name, host: hostName, uri: host.uri, disks: resolved.disks, preflight: [{ check: 'domain', status: CheckStatus.pass, detail: `found on ${hostName}, ${state}; a reverse migration back to its old volumes` }], stepsFrom: { definition: persistentXml, runId: options.runId, policy: vm.policy } });
              continue;
            }
            if (past?.migrated === true && past.originalXml === null) {
              hostPlans.push({ name: vm.name, host: hostName, uri: host.uri, disks: [], preflight: [{ check: 'migration state', status: CheckStatus.pass, detail: 'already on its new volumes (its migration completed); nothing to do' }], stepsFrom: null, done: true });
              continue;
            }
            // A migration under way may have moved the definition already (T2): plan from the
            // definition it started from, which the journal keeps.
            const planFrom = past?.originalXml ?? persistentXml;
            // the disks as the in-use reading parsed them a moment ago, when it is that text;
            // the steps are made when shown
            const parsed = planFrom === persistentXml ? reading?.persistentDisks.get(vm.name) : undefined;
            const resolved = resolveDisks(vm, parsed ?? planFrom, inv.mapping);
            problems.push(...resolved.problems.map((p) => ({ ...p, at: { file: inv.file, ...p.at, ...(p.at?.path === undefined ? {} : { line: inv.lineOf(p.at.path) ?? inv.lineOf(['vms', vm.index]) }) } })));
            hostPlans.push({
              name: vm.name,
              host: hostName,
              uri: host.uri,
              disks: resolved.disks,
              preflight: [{ check: 'domain', status: CheckStatus.pass, detail: `found on ${hostName}, ${state}` }, ...resolved.untouched.map((u) => ({ check: 'untouched disk', status: CheckStatus.pass, target: u.target, detail: `stays where it is: ${u.reason}` }))],
              stepsFrom: { definition: planFrom, runId: options.runId, policy: vm.policy },
            });
          }
          if (options.withoutPreflight !== true) {
            const runner = await ports.runner(host);
            const todo = hostPlans.filter((p) => p.done !== true);
            const probe = 'unreachable' in runner ? runner : () => probeHost(runner, 'full', todo.flatMap((p) => p.disks.flatMap((d) => [d.old, d.new, d.mirror])));
            const checks = await preflightHost(hostName, hv, probe, todo.map((p) => ({ name: p.name, disks: p.disks, persistentXml: current.get(p.name)! })), inUse);
            for (const p of hostPlans) p.preflight.push(...(checks.get(p.name) ?? []));
          }
        } catch (err) {
          if (err instanceof InputError) {
            problems.push(...err.problems);
            return { hostPlans, problems, unreachable, current };
          }
          const down = err instanceof UnreachableError ? err : new UnreachableError(hostName, host.uri, errorMessage(err));
          unreachable.push(down);
          for (const vm of hostVms) if (!hostPlans.some((p) => p.name === vm.name)) hostPlans.push(unreachablePlan(vm, host, down));
        }
        return { hostPlans, problems, unreachable, current };
      }),
    ),
  );
  const definitions = new Map<string, string>();
  for (const h of perHost) {
    plans.push(...h.hostPlans);
    problems.push(...h.problems);
    unreachable.push(...h.unreachable);
    for (const [vm, xml] of h.current) definitions.set(vm, xml);
  }

  for (const p of plans) {
    for (const c of p.preflight) {
      if (c.status === CheckStatus.fail) problems.push({ code: InputErrorCode.wrongState, message: `preflight: ${c.check}${c.target === undefined ? '' : ` (${c.target})`}: ${c.detail}`, at: { vm: p.name, host: p.host } });
    }
  }
  problems.push(...crossVmConflicts(plans));
  const order = new Map(vms.map((v, i) => [v.name, i]));
  plans.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
  return { plan: { inventory: inv.file, createdAt: options.now.toISOString(), vms: plans }, problems, unreachable, definitions };
}

function unreachablePlan(vm: VmSpec, host: HostSpec, err: UnreachableError): VmPlan {
  return { name: vm.name, host: host.name, uri: host.uri, disks: [], stepsFrom: null, preflight: [{ check: 'libvirt', status: CheckStatus.notChecked, detail: `not checked, because ${err.message}` }] };
}

/** The preflight checks that could not run (a host's shell unreachable, another host's domains
 * unreadable): `run` refuses them unless the operator accepts them by name of the flag. */
export function uncheckedProblems(plan: Plan): Problem[] {
  return plan.vms.flatMap((p) =>
    p.preflight
      .filter((c) => c.status === CheckStatus.notChecked)
      .map((c) => ({
        code: InputErrorCode.wrongState,
        message: `preflight: ${c.check}${c.target === undefined ? '' : ` (${c.target})`} was not checked: ${c.detail}`,
        hint: 'make the host reachable and run again, or, knowing what was not checked, accept it with --accept-unchecked',
        at: { vm: p.name, host: p.host },
      })),
  );
}

/** A new volume claimed by two VMs of one host (mapping rules can do that quietly). */
function crossVmConflicts(plans: readonly VmPlan[]): Problem[] {
  const owner = new Map<string, string>();
  const problems: Problem[] = [];
  for (const p of plans) {
    for (const d of p.disks) {
      const key = `${p.host}\0${d.new}`;
      const other = owner.get(key);
      if (other !== undefined && other !== p.name) {
        problems.push({ code: InputErrorCode.invalidInput, message: `${d.new} is the new volume of both ${other} and ${p.name} on host ${p.host}`, hint: 'give each disk its own new volume (check the mapping rules)', at: { vm: p.name, host: p.host } });
      }
      owner.set(key, p.name);
    }
  }
  return problems;
}
