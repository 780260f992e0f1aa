// The dependency graph over VM names (`dependsOn`). Nodes are numbered in name order so every
// order derived from the graph is the same whatever order the inventory lists the VMs in.

import { InputError, InputErrorCode, type Problem } from '../util/errors.js';
import { MinHeap } from './heap.js';

export interface DependencyGraph {
  /** VM names, sorted; a node is its index here */
  readonly names: readonly string[];
  readonly indexOf: ReadonlyMap<string, number>;
  /** dependsOn[v]: the nodes v depends on, ascending, without duplicates */
  readonly dependsOn: readonly (readonly number[])[];
  /** dependents[v]: the nodes that depend on v, ascending */
  readonly dependents: readonly (readonly number[])[];
}

export interface DependencyInput {
  readonly name: string;
  readonly dependsOn: readonly string[];
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Builds the graph; unknown dependencies and duplicate names are input problems, all reported at once. */
export function buildDependencyGraph(vms: readonly DependencyInput[]): DependencyGraph {
  const names = vms.map((vm) => vm.name).sort(byName);
  const indexOf = new Map<string, number>();
  const problems: Problem[] = [];
  names.forEach((name, i) => {
    if (indexOf.has(name)) {
      problems.push({ code: InputErrorCode.alreadyExists, message: `VM ${name} is listed twice`, at: { vm: name } });
    }
    indexOf.set(name, i);
  });
  const dependsOn: number[][] = names.map(() => []);
  const dependents: number[][] = names.map(() => []);
  for (const vm of vms) {
    const v = indexOf.get(vm.name)!;
    const deps = new Set<number>();
    for (const dep of vm.dependsOn) {
      const d = indexOf.get(dep);
      if (d === undefined) {
        problems.push({
          code: InputErrorCode.notFound,
          message: `VM ${vm.name} depends on ${dep}, which is not in the inventory`,
          hint: `add ${dep} to the inventory or remove it from dependsOn`,
          at: { vm: vm.name },
        });
      } else deps.add(d);
    }
    const sorted = [...deps].sort((a, b) => a - b);
    dependsOn[v] = sorted;
    for (const d of sorted) dependents[d]!.push(v);
  }
  if (problems.length > 0) throw new InputError(problems);
  // dependents were pushed in VM input order; keep them ascending like dependsOn
  for (const list of dependents) list.sort((a, b) => a - b);
  return { names, indexOf, dependsOn, dependents };
}

/**
 * A dependency cycle as names, closed: ['a', 'b', 'a'] reads "a depends on b depends on a".
 * undefined when the graph is acyclic. Iterative, so a 10,000-deep chain cannot overflow the stack.
 */
export function findCycle(graph: DependencyGraph): string[] | undefined {
  const n = graph.names.length;
  const colour = new Uint8Array(n); // 0 unseen, 1 on the current path, 2 finished
  const parent = new Int32Array(n).fill(-1);
  const nextEdge = new Int32Array(n);
  for (let root = 0; root < n; root++) {
    if (colour[root] !== 0) continue;
    const stack = [root];
    colour[root] = 1;
    while (stack.length > 0) {
      const v = stack[stack.length - 1]!;
      const deps = graph.dependsOn[v]!;
      if (nextEdge[v]! < deps.length) {
        const d = deps[nextEdge[v]!++]!;
        if (colour[d] === 0) {
          colour[d] = 1;
          parent[d] = v;
          stack.push(d);
        } else if (colour[d] === 1) {
          const cycle = [d];
          for (let u = v; u !== d; u = parent[u]!) cycle.push(u);
          cycle.push(d);
          // built backwards from the closing edge; reverse to read along dependsOn
          return cycle.reverse().map((i) => graph.names[i]!);
        }
      } else {
        colour[v] = 2;
        stack.pop();
      }
    }
  }
  return undefined;
}

/** Refuses a cyclic graph with the cycle named (exit code 2). */
export function assertAcyclic(graph: DependencyGraph): void {
  const cycle = findCycle(graph);
  if (cycle === undefined) return;
  throw InputError.one({
    code: InputErrorCode.invalidInput,
    message: `dependency cycle: ${cycle.join(' -> ')}`,
    hint: 'a VM cannot (even indirectly) depend on itself; remove one dependsOn of the cycle',
    at: { vm: cycle[0]! },
  });
}

/**
 * Kahn's order over `nodes` (all nodes when omitted), edges outside the subset ignored, ties
 * broken by name. `dependenciesFirst` gives a start order; false gives a stop order
 * (dependents first). Throws if the subset holds a cycle.
 */
export function topologicalOrder(
  graph: DependencyGraph,
  options: { nodes?: readonly number[]; dependenciesFirst?: boolean } = {},
): number[] {
  const nodes = options.nodes ?? graph.names.map((_, i) => i);
  const dependenciesFirst = options.dependenciesFirst ?? true;
  // "before" edges: in a start order a dependency comes before its dependents
  const before = dependenciesFirst ? graph.dependents : graph.dependsOn;
  const after = dependenciesFirst ? graph.dependsOn : graph.dependents;
  const inSet = nodes.length === graph.names.length ? undefined : new Set(nodes);
  const member = (v: number): boolean => inSet === undefined || inSet.has(v);
  const waiting = new Map<number, number>();
  const ready = new MinHeap<number>((a, b) => a < b);
  for (const v of nodes) {
    let count = 0;
    for (const u of after[v]!) if (member(u)) count++;
    waiting.set(v, count);
    if (count === 0) ready.push(v);
  }
  const order: number[] = [];
  while (ready.size > 0) {
    const v = ready.pop()!;
    order.push(v);
    for (const u of before[v]!) {
      if (!member(u)) continue;
      const left = waiting.get(u)! - 1;
      waiting.set(u, left);
      if (left === 0) ready.push(u);
    }
  }
  if (order.length !== nodes.length) {
    const cycle = findCycle(graph);
    throw InputError.one({
      code: InputErrorCode.invalidInput,
      message: `dependency cycle: ${(cycle ?? []).join(' -> ')}`,
    });
  }
  return order;
}
