// Synthetic fleets for the benchmark and the simulation tests: service stacks with a few hub
// services, anti-affine pairs, and disks from 20 GiB to 2 TiB. Seeded, so a fleet is a value.

import type { Limits } from '../inventory/types.js';
import type { FleetDisk, FleetVm } from './bundles.js';
import type { VmTimings } from './fleet-sim.js';

const GiB = 1024 ** 3;

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FleetShape {
  vms: number;
  hosts?: number;
  arrays?: number;
  seed?: number;
  /** service VMs most of the fleet depends on (DNS, LDAP, NTP...) */
  hubs?: number;
  /** share of VMs that depend on a hub */
  hubDependentShare?: number;
  /** share of VMs with a dependency outside their own service stack */
  crossStackShare?: number;
  /** share of VMs in anti-affine pairs */
  antiAffinityShare?: number;
  minDiskBytes?: number;
  maxDiskBytes?: number;
  /** limits.mirrorsPerHost (default 8) */
  mirrorsPerHost?: number;
}

export interface GeneratedFleet {
  vms: FleetVm[];
  limits: Limits;
  /** policy.resyncSpeedMaxKiB of this fleet */
  resyncSpeedMaxKiB: number;
  timings: Map<string, VmTimings>;
  /** dependsOn edges per VM, measured */
  dependsOnPerVm: number;
}

// Arrays are unequal on purpose: bandwidth (GiB/s) and share of the volumes do not match,
// so one array is the bottleneck and the scheduler has to notice.
const ARRAY_BANDWIDTH_GIB = [3, 3, 2, 2, 2, 1.5, 1, 1];
const ARRAY_SHARE = [0.2, 0.15, 0.15, 0.12, 0.12, 0.1, 0.08, 0.08];

export function generateFleet(shape: FleetShape): GeneratedFleet {
  const random = seededRandom(shape.seed ?? 1);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const hostCount = shape.hosts ?? 200;
  const arrayCount = shape.arrays ?? 8;
  const hubCount = Math.min(shape.hubs ?? 5, shape.vms);
  const minDisk = shape.minDiskBytes ?? 20 * GiB;
  const maxDisk = shape.maxDiskBytes ?? 2048 * GiB;
  const pad = (i: number, width: number): string => String(i).padStart(width, '0');
  const hosts = Array.from({ length: hostCount }, (_, i) => `hv${pad(i + 1, 3)}`);
  const arrays = Array.from({ length: arrayCount }, (_, i) => `san${String.fromCharCode(97 + (i % 26))}${i >= 26 ? i : ''}`);
  const shares = arrays.map((_, i) => ARRAY_SHARE[i % ARRAY_SHARE.length]!);
  const shareSum = shares.reduce((x, y) => x + y, 0);
  const pickArray = (): string => {
    let r = random() * shareSum;
    for (let i = 0; i < arrays.length; i++) {
      r -= shares[i]!;
      if (r < 0) return arrays[i]!;
    }
    return arrays[arrays.length - 1]!;
  };
  // log-uniform: as many 20-40 GiB disks as 1-2 TiB ones, like real fleets
  const diskSize = (): number => Math.round(Math.exp(Math.log(minDisk) + random() * Math.log(maxDisk / minDisk)) / GiB) * GiB;

  const width = String(shape.vms).length;
  const names = Array.from({ length: shape.vms }, (_, i) => (i < hubCount ? `hub${pad(i + 1, 2)}` : `vm${pad(i + 1, width)}`));
  const deps: Set<string>[] = names.map(() => new Set());
  // service stacks of 1-6 VMs after the hubs; members depend on earlier members (acyclic by index)
  const stackStart: number[] = [];
  for (let i = hubCount; i < shape.vms; ) {
    const size = int(1, 6);
    for (let k = 0; k < size && i + k < shape.vms; k++) {
      const v = i + k;
      stackStart[v] = i;
      if (k > 0) {
        const count = random() < 0.4 ? 1 : 2;
        for (let c = 0; c < count; c++) deps[v]!.add(names[int(i, v - 1)]!);
      }
    }
    i += size;
  }
  const hubShare = shape.hubDependentShare ?? 0.4;
  const crossShare = shape.crossStackShare ?? 0.2;
  for (let v = hubCount; v < shape.vms; v++) {
    if (hubCount > 0 && random() < hubShare) deps[v]!.add(names[int(0, hubCount - 1)]!);
    const start = stackStart[v]!;
    if (start > hubCount && random() < crossShare) deps[v]!.add(names[int(hubCount, start - 1)]!);
  }
  // anti-affine pairs: replicas of one role, never down together
  const groups: string[][] = names.map(() => []);
  const pairs = Math.floor((shape.vms * (shape.antiAffinityShare ?? 0.1)) / 2);
  const free = names.map((_, i) => i);
  for (let p = 0; p < pairs && free.length >= 2; p++) {
    const take = (): number => free.splice(int(0, free.length - 1), 1)[0]!;
    const group = `pair${pad(p + 1, 4)}`;
    groups[take()]!.push(group);
    groups[take()]!.push(group);
  }

  const timings = new Map<string, VmTimings>();
  const vms: FleetVm[] = names.map((name, v) => {
    const diskCount = random() < 0.5 ? 1 : random() < 0.6 ? 2 : 3;
    const home = pickArray();
    const disks: FleetDisk[] = [];
    for (let d = 0; d < diskCount; d++) {
      disks.push({ target: `vd${String.fromCharCode(97 + d)}`, sizeBytes: diskSize(), array: random() < 0.1 ? pickArray() : home });
    }
    timings.set(name, {
      shutdownMs: int(10, 90) * 1000,
      bootMs: int(20, 120) * 1000,
      mirrorSetupMs: 3000,
      mirrorStopMs: 3000,
    });
    return { name, host: hosts[int(0, hostCount - 1)]!, dependsOn: [...deps[v]!].sort(), antiAffinity: groups[v]!, disks };
  });
  const arrayBandwidthKiB: Record<string, number> = {};
  arrays.forEach((a, i) => (arrayBandwidthKiB[a] = ARRAY_BANDWIDTH_GIB[i % ARRAY_BANDWIDTH_GIB.length]! * 1024 * 1024));
  const edges = vms.reduce((sum, vm) => sum + vm.dependsOn.length, 0);
  return {
    vms,
    limits: {
      mirrorsPerHost: shape.mirrorsPerHost ?? 8,
      downWindows: 20,
      global: 200,
      bundleMaxSize: 8,
      hostBandwidthKiB: 400 * 1024,
      arrayBandwidthKiB,
    },
    resyncSpeedMaxKiB: 200 * 1024,
    timings,
    dependsOnPerVm: edges / Math.max(1, shape.vms),
  };
}
