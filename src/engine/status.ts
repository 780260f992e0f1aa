// The status of each VM, computed from the journal's facts and from what is observed now;
// never stored. Pure apart from `observeFleet`, which reads the hosts.
import type { Inventory } from '../inventory/types.js';
import type { VmPlan } from '../plan/types.js';
import { HOSTS_AT_ONCE, planFleet, type VmHistory } from '../plan/fleet-plan.js';
import { errorMessage } from '../util/errors.js';
import type { Connections } from './connections.js';
import { factsByVm, type MigrationFacts } from './facts.js';
import type { JournalRecord } from './journal.js';
import PQueue from 'p-queue';
import { probeHost, type HostSnapshot } from '../host/probe.js';
import { domainView, mirrorViews, Placement, type Observation } from './observation.js';

export const VmPhase = {
  notStarted: 'not started',
  t1: 'T1: moving onto its mirrors',
  resyncing: 'resyncing',
  inSync: 'in sync, cutover next',
  t2: 'T2: moving onto its new volumes',
  done: 'done',
  failed: 'failed',
  rolledBack: 'rolled back',
  unknown: 'unknown',
  onHold: 'on hold: its host does not answer',
} as const;
export type VmPhase = (typeof VmPhase)[keyof typeof VmPhase];

export interface VmStatus {
  vm: string;
  host: string;
  phase: VmPhase;
  /** resync across the VM's mirrors, when one runs */
  percent: number | null;
  speedKiBs: number | null;
  etaSeconds: number | null;
  /** the last failure, or why the host could not be read */
  lastError: string | null;
}

/** Pure: the phase of a VM from its observation (null: the domain is gone) and facts. */
export function phaseOf(obs: Observation | null, facts: MigrationFacts): Pick<VmStatus, 'phase' | 'percent' | 'speedKiBs' | 'etaSeconds'> {
  const none = { percent: null, speedKiBs: null, etaSeconds: null };
  if (obs === null) return { phase: VmPhase.unknown, ...none };
  // the run that drives it said its host stopped answering (it may answer us now)
  if (facts.held !== null && facts.outcome === null) return { phase: VmPhase.onHold, ...none };
  const ours = obs.mirrors.filter((m) => m.ours);
  if (obs.persistent === Placement.new && ours.length === 0 && obs.live !== Placement.mirror) {
    if (facts.outcome === 'done' || (obs.running && facts.healthPassed)) return { phase: VmPhase.done, ...none };
    return { phase: facts.originalXml === null ? VmPhase.done : VmPhase.t2, ...none };
  }
  if (ours.length > 0) {
    if (obs.running && obs.live === Placement.mirror) {
      if (ours.every((m) => m.state?.inSync === true)) return { phase: VmPhase.inSync, percent: 100, speedKiBs: null, etaSeconds: 0 };
      const done = ours.reduce((s, m) => s + (m.state?.inSync === true ? (m.state.progress?.totalSectors ?? 0) : (m.state?.progress?.doneSectors ?? 0)), 0);
      const total = ours.reduce((s, m) => s + (m.state?.progress?.totalSectors ?? 0), 0);
      const speed = ours.reduce((s, m) => s + (m.state?.progress?.speedKiBs ?? 0), 0);
      const percent = total === 0 ? 0 : Math.round((done / total) * 1000) / 10;
      return { phase: VmPhase.resyncing, percent, speedKiBs: speed || null, etaSeconds: speed === 0 ? null : Math.round(((total - done) * 512) / 1024 / speed) };
    }
    return { phase: facts.shutDownForCutover ? VmPhase.t2 : VmPhase.t1, ...none };
  }
  if (facts.outcome === 'failed') return { phase: VmPhase.failed, ...none };
  if (facts.outcome === 'rolled-back') return { phase: VmPhase.rolledBack, ...none };
  if (obs.recorded) return { phase: VmPhase.t1, ...none };
  return { phase: facts.originalXml === null ? VmPhase.notStarted : VmPhase.t1, ...none };
}


export interface FleetStatusOptions {
  /** the VMs to show; all of the inventory when empty */
  vms: readonly string[];
  now: Date;
  history: (vm: string) => VmHistory | undefined;
  records: readonly JournalRecord[];
}

/** A row for every VM selected: its disks planned from one read of its definition, which its
 * observation then takes instead of asking libvirt again (one read per VM, not two). */
export async function fleetStatus(inv: Inventory, connections: Connections, o: FleetStatusOptions): Promise<VmStatus[]> {
  const outcome = await planFleet(inv, connections, { vms: o.vms, runId: 'status', now: o.now, history: o.history, withoutPreflight: true });
  // every VM gets a row: one on a host that could not be read shows as unknown, with why
  return observeFleet(inv, connections, outcome.plan.vms, o.records, outcome.definitions);
}

/** Reads every planned VM's state: per host one probe of all its VMs' volumes and one listing of
 * its domains, hosts in parallel; one failure does not hide the others. `definitions`: persistent
 * definitions read a moment ago, by VM. */
export async function observeFleet(inv: Inventory, connections: Connections, plans: readonly VmPlan[], records: readonly JournalRecord[], definitions: ReadonlyMap<string, string> = new Map()): Promise<VmStatus[]> {
  const byHost = new Map<string, VmPlan[]>();
  for (const p of plans) if (p.done !== true) byHost.set(p.host, [...(byHost.get(p.host) ?? []), p]);
  const found = new Map<string, VmStatus>();
  const factsOfVm = factsByVm(records);
  const queue = new PQueue({ concurrency: HOSTS_AT_ONCE });
  await Promise.all(
    [...byHost].map(([hostName, vms]) =>
      queue.add(async () => {
        const host = inv.hosts[hostName]!;
        const hv = connections.hypervisor(host);
        let snap: HostSnapshot;
        try {
          const runner = await connections.trackedRunner(host);
          snap = await probeHost(runner, 'state', vms.flatMap((p) => p.disks.flatMap((d) => [d.mirror, d.old, d.new])));
        } catch (err) {
          for (const p of vms) found.set(p.name, { vm: p.name, host: p.host, phase: VmPhase.unknown, percent: null, speedKiBs: null, etaSeconds: null, lastError: errorMessage(err) });
          return;
        }
        await Promise.all(
          vms.map(async (p) => {
            const facts = factsOfVm(p.name);
            try {
              const st = await hv.lookup(p.name);
              if (st === null) {
                found.set(p.name, { vm: p.name, host: p.host, ...phaseOf(null, facts), lastError: `domain ${p.name} not found on ${p.host}` });
                return;
              }
              const known = definitions.get(p.name);
              const [persistentXml, liveXml] = await Promise.all([known === undefined ? hv.inactiveXml(p.name) : known, st.id === null ? null : hv.liveXml(p.name)]);
              const obs: Observation = { ...domainView(st, persistentXml, liveXml, p.disks), managedSave: false, mirrors: mirrorViews(snap, p.disks, facts), hostReadWhileOff: false };
              found.set(p.name, { vm: p.name, host: p.host, ...phaseOf(obs, facts), lastError: facts.lastFailure });
            } catch (err) {
              found.set(p.name, { vm: p.name, host: p.host, phase: VmPhase.unknown, percent: null, speedKiBs: null, etaSeconds: null, lastError: errorMessage(err) });
            }
          }),
        );
      }),
    ),
  );
  return plans.map((p) => (p.done === true ? { vm: p.name, host: p.host, phase: VmPhase.done, percent: null, speedKiBs: null, etaSeconds: null, lastError: null } : found.get(p.name)!));
}
