// What the engine sees of one VM before every step: the domain, where its live and persistent
// definitions point, and the state of each disk's mirror. Plain data, so the decision over it
// (decide.ts) is a pure function.
import type { MirrorState } from '../host/mirrorstate.js';
import type { DomainRunState } from '../hypervisor/port.js';

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
