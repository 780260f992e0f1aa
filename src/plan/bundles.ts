// Bundles: VMs that share their down windows, so a service stack has one outage per phase
// instead of one per VM. The rules are in docs/scheduling.md ("Bundles").

import type { Limits } from '../inventory/types.js';
import { assertAcyclic, buildDependencyGraph, topologicalOrder, type DependencyGraph } from './graph.js';

/** One disk to move, as the scheduler sees it: how many bytes, onto which storage array. */
export interface FleetDisk {
  /** target dev in the guest (vda) */
  target: string;
  sizeBytes: number;
  /** storage array of the new volume (resync bandwidth is shared per array) */
  array: string;
}

/** The planning view of one VM: where it runs, what it depends on, what it copies. */
export interface FleetVm {
  name: string;
  host: string;
  dependsOn: readonly string[];
  antiAffinity: readonly string[];
  disks: readonly FleetDisk[];
}

export interface Bundle {
  /** position in BundlePlan.bundles */
  id: number;
  /** member VM names, sorted */
  vms: string[];
  /** dependents first: a VM stops only after every member that depends on it has stopped */
  stopOrder: string[];
  /** dependencies first: a VM starts only once each of its dependencies is up and healthy */
  startOrder: string[];
  /** dependencies of members that live in other bundles; the start gate waits for them too */
  externalDependencies: string[];
  /** a hub (see isHub) alone in its own window */
  hub: boolean;
}

export interface BundlePlan {
  graph: DependencyGraph;
  bundles: Bundle[];
  /** VM name -> bundle id */
  bundleOf: Map<string, number>;
  /** VMs treated as external services, sorted */
  hubs: string[];
}

/**
 * A dependency is a hub when it and its direct dependents cannot fit in one bundle: its
 * dependents then bundle without it and it gets its own window (docs/scheduling.md).
 */
export function isHub(dependentCount: number, bundleMaxSize: number): boolean {
  return dependentCount >= Math.max(1, bundleMaxSize);
}

/**
 * Groups VMs into bundles: connected by dependsOn (hubs excluded), at most
 * limits.bundleMaxSize VMs, never two VMs of one anti-affinity group. Refuses cycles and
 * unknown dependencies (InputError). Same input, same bundles, whatever the input order.
 */
export function planBundles(vms: readonly FleetVm[], limits: Pick<Limits, 'bundleMaxSize'>): BundlePlan {
  const graph = buildDependencyGraph(vms);
  assertAcyclic(graph);
  const cap = Math.max(1, Math.floor(limits.bundleMaxSize));
  const n = graph.names.length;
  const groupsOf: (readonly string[])[] = new Array(n);
  for (const vm of vms) groupsOf[graph.indexOf.get(vm.name)!] = vm.antiAffinity;

  const hub = new Uint8Array(n);
  for (let v = 0; v < n; v++) if (isHub(graph.dependents[v]!.length, cap)) hub[v] = 1;

  const members: number[][] = [];
  const groupsIn: Set<string>[] = [];
  const bundleOfNode = new Int32Array(n).fill(-1);
  const place = (v: number, b: number): void => {
    bundleOfNode[v] = b;
    members[b]!.push(v);
    for (const g of groupsOf[v]!) groupsIn[b]!.add(g);
  };
  const open = (v: number): void => {
    members.push([]);
    groupsIn.push(new Set());
    place(v, members.length - 1);
  };
  // links that bundle: dependsOn either way, hubs cut out
  const neighbours = (v: number): number[] => {
    const out: number[] = [];
    for (const u of graph.dependsOn[v]!) if (hub[u] === 0) out.push(u);
    for (const u of graph.dependents[v]!) if (hub[u] === 0) out.push(u);
    return out.sort((a, b) => a - b);
  };

  for (let root = 0; root < n; root++) {
    if (bundleOfNode[root] !== -1) continue;
    if (hub[root] === 1) {
      open(root);
      continue;
    }
    // breadth-first from the smallest name: each VM after the root has a placed neighbour,
    // so it joins that neighbour's bundle if it fits, and bundles stay connected
    const seen = new Set<number>([root]);
    const queue = [root];
    for (let head = 0; head < queue.length; head++) {
      const v = queue[head]!;
      const adjacent = neighbours(v);
      if (v === root) open(v);
      else {
        const links = new Map<number, number>();
        for (const u of adjacent) {
          const b = bundleOfNode[u]!;
          if (b !== -1) links.set(b, (links.get(b) ?? 0) + 1);
        }
        let best = -1;
        let bestLinks = 0;
        for (const [b, count] of links) {
          if (members[b]!.length >= cap) continue;
          if (groupsOf[v]!.some((g) => groupsIn[b]!.has(g))) continue;
          if (count > bestLinks || (count === bestLinks && b < best)) {
            best = b;
            bestLinks = count;
          }
        }
        if (best === -1) open(v);
        else place(v, best);
      }
      for (const u of adjacent) {
        if (!seen.has(u)) {
          seen.add(u);
          queue.push(u);
        }
      }
    }
  }

  const bundleOf = new Map<string, number>();
  const bundles: Bundle[] = members.map((nodes, id) => {
    const inBundle = new Set(nodes);
    const external = new Set<number>();
    for (const v of nodes) {
      bundleOf.set(graph.names[v]!, id);
      for (const d of graph.dependsOn[v]!) if (!inBundle.has(d)) external.add(d);
    }
    const names = (list: Iterable<number>): string[] => [...list].sort((a, b) => a - b).map((v) => graph.names[v]!);
    return {
      id,
      vms: names(nodes),
      stopOrder: topologicalOrder(graph, { nodes, dependenciesFirst: false }).map((v) => graph.names[v]!),
      startOrder: topologicalOrder(graph, { nodes, dependenciesFirst: true }).map((v) => graph.names[v]!),
      externalDependencies: names(external),
      hub: nodes.length === 1 && hub[nodes[0]!] === 1,
    };
  });
  const hubs: string[] = [];
  for (let v = 0; v < n; v++) if (hub[v] === 1) hubs.push(graph.names[v]!);
  return { graph, bundles, bundleOf, hubs };
}
