// What the engine sees of one VM before every step: the domain, where its live and persistent
// definitions point, and the state of each disk's mirror. Plain data, so the decision over it
// (decide.ts) is a pure function; observeVm is the one place that reads it.
import { listDisks, readMigrationMetadata } from '../domain/index.js';
import { judgeMirrorIdentity, pollMirrors, readMdstat, resolvePaths } from '../host/md.js';
import type { MirrorState } from '../host/mirrorstate.js';
import type { CommandRunner } from '../host/runner.js';
import type { DomainRunState, Hypervisor } from '../hypervisor/port.js';
import type { DiskPlan } from '../plan/types.js';

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
  /** /dev/md/NAME exists and is an active array */
  exists: boolean;
  /** the array holds OLD (and possibly NEW) and nothing else: it is ours */
  ours: boolean;
  /** NEW is a leg of it */
  hasNew: boolean;
  /** why it is not ours, when it exists */
  reason: string | null;
  kernelName: string | null;
  /** the poll of its sysfs files and /proc/mdstat, when it exists and is ours */
  state: MirrorState | null;
}

export interface Observation {
  state: DomainRunState;
  /** the libvirt domain id while it runs, null when off */
  id: number | null;
  running: boolean;
  /** where the live definition points (null when off) */
  live: Placement | null;
  /** where the persistent definition points */
  persistent: Placement;
  /** sanshift metadata present in the persistent definition */
  recorded: boolean;
  /** a managed save image waits: the next start would resume a saved live definition */
  managedSave: boolean;
  mirrors: MirrorView[];
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

function sourcesOf(xml: string): Map<string, string> {
  return new Map(listDisks(xml).filter((d) => d.source !== null).map((d) => [d.target, d.source!]));
}

/** Reads what the engine decides on: three libvirt calls and three host commands (resolve the
 * names, /proc/mdstat, one poll of the mirrors). Null when the domain does not exist. */
export async function observeVm(ctx: { hv: Hypervisor; runner: CommandRunner; vm: string; disks: readonly DiskPlan[] }): Promise<Observation | null> {
  const { hv, vm, disks, runner } = ctx;
  const st = await hv.lookup(vm);
  if (st === null) return null;
  const persistentXml = await hv.inactiveXml(vm);
  const running = st.id !== null;
  const liveXml = running ? await hv.liveXml(vm) : null;
  const managedSave = running ? false : await hv.hasManagedSave(vm);

  const resolved = await resolvePaths(runner, disks.flatMap((d) => [d.mirror, d.old, d.new]));
  const mdstat = await readMdstat(runner);
  const identities = disks.map((d, i) => judgeMirrorIdentity(d.mirror, { md: resolved[3 * i]!, old: resolved[3 * i + 1]!, new: resolved[3 * i + 2]! }, mdstat));
  const toPoll = identities.flatMap((id) => (id.ours && id.name.state === 'active' ? [{ kernelName: id.name.kernelName, memberKnames: [id.oldKname, id.newKname].filter((k): k is string => k !== null) }] : []));
  const states = toPoll.length === 0 ? [] : await pollMirrors(runner, toPoll);
  const mirrors: MirrorView[] = disks.map((d, i) => {
    const id = identities[i]!;
    const kernelName = id.name.state === 'active' ? id.name.kernelName : null;
    return {
      target: d.target,
      exists: id.name.state === 'active',
      ours: id.ours,
      hasNew: id.hasNew,
      reason: id.reason,
      kernelName,
      state: id.ours ? (states.find((s) => s.kernelName === kernelName) ?? null) : null,
    };
  });
  return {
    state: st.state,
    id: st.id,
    running,
    live: liveXml === null ? null : placementOf(sourcesOf(liveXml), disks),
    persistent: placementOf(sourcesOf(persistentXml), disks),
    recorded: readMigrationMetadata(persistentXml) !== null,
    managedSave,
    mirrors,
  };
}
