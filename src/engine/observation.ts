// What the engine sees of one VM before it decides: the domain (libvirt) and, for each disk, its
// mirror (a host snapshot shared by every VM of the host: host-observer.ts). Plain data, so the
// decision over it (decide.ts) is a pure function. `viewOfHost` reads a snapshot; the VM's own
// loop (vm-migration.ts) combines it with what libvirt says.
import { listDisks, readMigrationMetadata } from '../domain/index.js';
import { judgeMirrorIdentity } from '../host/md.js';
import type { MirrorState } from '../host/mirrorstate.js';
import { deviceOf, mirrorStateIn, resolvedPath, sectorsWrittenAround, type DeviceFacts, type HostSnapshot } from '../host/probe.js';
import type { DomainRunState } from '../hypervisor/port.js';
import type { DiskPlan } from '../plan/types.js';
import type { MigrationFacts } from './facts.js';

/** Where a definition's moved disks point, taken together. */
export const Placement = {
  old: 'old',
  mirror: 'mirror',
  new: 'new',
  mixed: 'mixed',
} as const;
export type Placement = (typeof Placement)[keyof typeof Placement];

export interface MirrorView {
  target: string;
  /** /dev/md/NAME leads to an active array */
  exists: boolean;
  /** the array holds OLD and possibly NEW and nothing else (or NEW alone once OLD failed and
   * was removed after NEW had joined): it is ours */
  ours: boolean;
  hasOld: boolean;
  /** NEW is a leg of it */
  hasNew: boolean;
  /** why it is not ours, when it exists */
  reason: string | null;
  kernelName: string | null;
  /** its sysfs and /proc/mdstat state, when it exists and is ours */
  state: MirrorState | null;
  /** OLD's leg, NEW's leg: failed (faulty, or write_error), or in sync */
  oldFailed: boolean;
  newFailed: boolean;
  newInSync: boolean;
  /** sectors written to OLD around the array since NEW joined (I3); null when unknown: no
   * baseline, or a counter went backwards (the device or the array was recreated) */
  writtenAround: number | null;
  /** sectors written to NEW since its mirror stopped at the cutover; null when unknown */
  newWrittenSinceStop: number | null;
}

export interface Observation {
  state: DomainRunState;
  /** the libvirt domain id while it runs, null when off */
  id: number | null;
  running: boolean;
  /** paused or pmsuspended: its RAM is state, it is never forced off */
  suspended: boolean;
  /** where the live definition points (null when off) */
  live: Placement | null;
  /** where the persistent definition points */
  persistent: Placement;
  /** the persistent definition as libvirt has it now, secrets included (read with
   * VIR_DOMAIN_XML_SECURE so that a define keeps them; never printed) */
  persistentXml: string;
  /** sanshift metadata present in the persistent definition */
  recorded: boolean;
  /** a managed save image waits: the next start would resume a saved live definition */
  managedSave: boolean;
  mirrors: MirrorView[];
  /** the host was read after the VM was last seen off (what the cutover's final check needs) */
  hostReadWhileOff: boolean;
}

export function placementOf(sources: ReadonlyMap<string, string>, disks: readonly { target: string; old: string; new: string; mirror: string }[]): Placement {
  const kinds = new Set<Placement>();
  for (const d of disks) {
    const s = sources.get(d.target);
    if (s === d.old) kinds.add(Placement.old);
    else if (s === d.mirror) kinds.add(Placement.mirror);
    else if (s === d.new) kinds.add(Placement.new);
    else kinds.add(Placement.mixed);
  }
  return kinds.size === 1 ? [...kinds][0]! : Placement.mixed;
}

export function sourcesOf(xml: string): Map<string, string> {
  return new Map(listDisks(xml).filter((d) => d.source !== null).map((d) => [d.target, d.source!]));
}

function legState(state: MirrorState | null, kname: string | null): { member: boolean; faulty: boolean; inSync: boolean } {
  const leg = kname === null ? undefined : state?.members.find((m) => m.kname === kname);
  if (leg === undefined) return { member: false, faulty: false, inSync: false };
  // md never marks the last in-sync leg faulty: when it fails it stays in_sync with write_error
  // (lab, LAB-NOTES "When OLD fails"); a leg that cannot be written is a failed leg all the same
  const failed = leg.faulty || (leg.state?.includes('write_error') ?? false);
  return { member: true, faulty: failed, inSync: !failed && !leg.spare && (leg.state === null ? true : leg.state.includes('in_sync')) };
}

/** Pure: each disk's mirror as the snapshot shows it. From the journal: which disks' NEW joined
 * in this attempt, with the I3 baseline, and NEW's counters right after the cutover's stop. */
export function mirrorViews(
  snap: HostSnapshot,
  disks: readonly DiskPlan[],
  journal: Pick<MigrationFacts, 'joined' | 'newAfterStop'>,
): MirrorView[] {
  const { joined } = journal;
  return disks.map((d) => {
    const id = judgeMirrorIdentity(d.mirror, { md: resolvedPath(snap, d.mirror), old: resolvedPath(snap, d.old), new: resolvedPath(snap, d.new) }, snap.mdstat);
    const kernelName = id.name.state === 'active' ? id.name.kernelName : null;
    // OLD failed and was removed after NEW had joined: the array is NEW alone, still ours
    const newAlone = kernelName !== null && !id.hasOld && id.hasNew && id.members.length === 1 && joined.has(d.target);
    const ours = id.ours || newAlone;
    const state = ours && kernelName !== null ? mirrorStateIn(snap, kernelName) : null;
    const oldLeg = legState(state, id.oldKname);
    const newLeg = legState(state, id.newKname);
    const base = joined.get(d.target) ?? null;
    let writtenAround: number | null = null;
    if (ours && base !== null && base.mdKname === kernelName) {
      const old: DeviceFacts | null = deviceOf(snap, d.old);
      const md = kernelName === null ? undefined : snap.devices.get(kernelName);
      if (old !== null && old.kname === base.oldKname && old.counters !== null && md?.counters != null) {
        writtenAround = sectorsWrittenAround(base, { old: old.counters, md: md.counters });
      }
    }
    const stopped = journal.newAfterStop.get(d.target);
    const nv = deviceOf(snap, d.new);
    let newWrittenSinceStop: number | null = null;
    if (stopped !== undefined && nv !== null && nv.kname === stopped.kname && nv.counters !== null) {
      const w = nv.counters.writeSectors - stopped.counters.writeSectors;
      const x = nv.counters.discardSectors - stopped.counters.discardSectors;
      newWrittenSinceStop = w < 0 || x < 0 ? null : w + x;
    }
    return {
      target: d.target,
      exists: id.name.state === 'active',
      ours,
      hasOld: id.hasOld,
      hasNew: id.hasNew,
      reason: ours ? null : id.reason,
      kernelName,
      state,
      oldFailed: oldLeg.faulty,
      newFailed: newLeg.faulty,
      newInSync: newLeg.inSync,
      writtenAround,
      newWrittenSinceStop,
    };
  });
}

/** Pure: the domain half of an observation, from libvirt's answers. */
export function domainView(
  status: { state: DomainRunState; id: number | null },
  persistentXml: string,
  liveXml: string | null,
  disks: readonly DiskPlan[],
): Pick<Observation, 'state' | 'id' | 'running' | 'suspended' | 'live' | 'persistent' | 'persistentXml' | 'recorded'> {
  const running = status.id !== null;
  return {
    state: status.state,
    id: status.id,
    running,
    suspended: status.state === 'paused' || status.state === 'pmsuspended',
    live: liveXml === null ? null : placementOf(sourcesOf(liveXml), disks),
    persistent: placementOf(sourcesOf(persistentXml), disks),
    persistentXml,
    recorded: readMigrationMetadata(persistentXml) !== null,
  };
}
