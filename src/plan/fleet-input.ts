// The scheduler's view of an inventory (FleetVm): from a plan when the domains were read
// (`sanshift plan`, `sanshift simulate` on test-driver hosts), or from the inventory alone
// when no host may be contacted (`sanshift simulate` on real hosts: the model). Pure.

import type { Inventory, VmSpec } from '../inventory/types.js';
import type { FleetDisk, FleetVm } from './bundles.js';
import type { Plan } from './types.js';

/** The array of a new volume when neither the VM nor a mapping rule names one: its host's own
 * (as the engine's coordinator counts it), so unnamed volumes of two hosts never share a limit. */
export const unnamedArrayOf = (host: string): string => `host:${host}`;

/** The disk a VM is assumed to have when the inventory names none (model only). */
export const ASSUMED_TARGET = 'vda';

/** What a disk whose size was not read weighs when the scheduler orders bundles. */
export const UNKNOWN_DISK_SIZE_BYTES = 20 * 1024 ** 3;

export interface FleetInputOptions {
  /** size of a disk the inventory gives no `simulate.sizes` for; 0 when sizes do not matter */
  defaultSizeBytes: number;
}

const sizeOf = (vm: VmSpec | undefined, target: string, fallback: number): number =>
  vm?.simulatedSizes?.[target] ?? fallback;

/**
 * The VMs of a plan as FleetVms: disks and arrays from the plan (DiskPlan.array), sizes from
 * the plan (read by preflight), else `simulate.sizes`, else the default. VMs already done, and links to VMs outside the plan, are
 * left out: they take no window in this run, so nothing can wait for them or share with them.
 */
export function fleetVmsFromPlan(inv: Inventory, plan: Plan, options: FleetInputOptions): FleetVm[] {
  const specs = new Map(inv.vms.map((v) => [v.name, v]));
  const planned = plan.vms.filter((p) => p.done !== true);
  const inRun = new Set(planned.map((p) => p.name));
  return planned.map((p) => {
    const spec = specs.get(p.name);
    return {
      name: p.name,
      host: p.host,
      dependsOn: (spec?.dependsOn ?? []).filter((d) => inRun.has(d)),
      antiAffinity: spec?.antiAffinity ?? [],
      disks: p.disks.map((d) => ({ target: d.target, sizeBytes: d.sizeBytes ?? sizeOf(spec, d.target, options.defaultSizeBytes), array: d.array ?? unnamedArrayOf(p.host) })),
    };
  });
}

export interface ModelFleet {
  vms: FleetVm[];
  /** VMs whose disks the inventory does not name: one ASSUMED_TARGET disk each */
  assumedDisks: string[];
  /** disks whose size is the default, as `vm/target` */
  defaultSizes: string[];
  /** VMs whose array the inventory alone cannot tell (the mapping rules name more than one and
   * the VM names none): counted on their host's own array, outside limits.arrayBandwidth */
  unknownArrays: string[];
}

/**
 * The VMs of an inventory without reading any domain (the model of `simulate` on real hosts):
 * disks are the targets named in `disks` or `simulate.sizes`, else one assumed disk; the array
 * is the VM's `array`, else the one array all mapping rules name, else the host's (unnamedArrayOf).
 */
export function fleetVmsFromInventory(inv: Inventory, options: FleetInputOptions): ModelFleet {
  const ruleArrays = new Set(inv.mapping.map((r) => r.array));
  const soleRuleArray = ruleArrays.size === 1 ? [...ruleArrays][0] : undefined;
  const assumedDisks: string[] = [];
  const defaultSizes: string[] = [];
  const unknownArrays: string[] = [];
  // which rule maps a disk depends on its old volume's path, which only the domain knows
  const rulesTell = ruleArrays.size <= 1;
  const vms = inv.vms.map((spec): FleetVm => {
    const named = new Set([...Object.keys(spec.disks ?? {}), ...Object.keys(spec.simulatedSizes ?? {})]);
    if (named.size === 0) {
      named.add(ASSUMED_TARGET);
      assumedDisks.push(spec.name);
    }
    const array = spec.array ?? soleRuleArray ?? unnamedArrayOf(spec.host);
    if (spec.array === undefined && !rulesTell) unknownArrays.push(spec.name);
    const disks: FleetDisk[] = [...named].sort().map((target) => {
      if (spec.simulatedSizes?.[target] === undefined) defaultSizes.push(`${spec.name}/${target}`);
      return { target, sizeBytes: sizeOf(spec, target, options.defaultSizeBytes), array };
    });
    return { name: spec.name, host: spec.host, dependsOn: spec.dependsOn, antiAffinity: spec.antiAffinity, disks };
  });
  return { vms, assumedDisks, defaultSizes, unknownArrays };
}
