import { describe, expect, test } from '@jest/globals';
import { assertAcyclic, buildDependencyGraph, findCycle, topologicalOrder } from '../../src/plan/graph.js';
import { InputError } from '../../src/util/errors.js';

const vm = (name: string, ...dependsOn: string[]) => ({ name, dependsOn });

describe('dependency graph', () => {
  test('numbers VMs in name order whatever the input order', () => {
    const g = buildDependencyGraph([vm('web', 'app'), vm('db'), vm('app', 'db')]);
    expect(g.names).toEqual(['app', 'db', 'web']);
    expect(g.dependsOn[g.indexOf.get('web')!]).toEqual([g.indexOf.get('app')]);
    expect(g.dependents[g.indexOf.get('db')!]).toEqual([g.indexOf.get('app')]);
  });

  test('an unknown dependency is an input problem naming both VMs', () => {
    expect(() => buildDependencyGraph([vm('web', 'ghost')])).toThrow(InputError);
    expect(() => buildDependencyGraph([vm('web', 'ghost')])).toThrow(/web depends on ghost/);
  });

  test('findCycle returns the cycle closed, along dependsOn', () => {
    const g = buildDependencyGraph([vm('a', 'b'), vm('b', 'c'), vm('c', 'a'), vm('d', 'a')]);
    const cycle = findCycle(g)!;
    expect(cycle[0]).toBe(cycle[cycle.length - 1]);
    expect(cycle).toHaveLength(4);
    for (let i = 0; i + 1 < cycle.length; i++) {
      const from = g.indexOf.get(cycle[i]!)!;
      expect(g.dependsOn[from]).toContain(g.indexOf.get(cycle[i + 1]!));
    }
    expect(() => assertAcyclic(g)).toThrow(/dependency cycle: .* -> /);
  });

  test('a VM depending on itself is a cycle of one', () => {
    expect(findCycle(buildDependencyGraph([vm('a', 'a')]))).toEqual(['a', 'a']);
  });

  test('no cycle in a DAG, even a 20,000-deep chain (no recursion)', () => {
    expect(findCycle(buildDependencyGraph([vm('a'), vm('b', 'a'), vm('c', 'a', 'b')]))).toBeUndefined();
    const chain = Array.from({ length: 20_000 }, (_, i) => vm(`v${i}`, ...(i > 0 ? [`v${i - 1}`] : [])));
    const g = buildDependencyGraph(chain);
    expect(findCycle(g)).toBeUndefined();
    expect(topologicalOrder(g)[0]).toBe(g.indexOf.get('v0'));
  });

  test('topological orders: dependencies first, or dependents first, ties by name', () => {
    const g = buildDependencyGraph([vm('web', 'app', 'cache'), vm('app', 'db'), vm('db'), vm('cache')]);
    const names = (order: number[]) => order.map((i) => g.names[i]);
    expect(names(topologicalOrder(g))).toEqual(['cache', 'db', 'app', 'web']);
    expect(names(topologicalOrder(g, { dependenciesFirst: false }))).toEqual(['web', 'app', 'cache', 'db']);
    const subset = ['app', 'db'].map((n) => g.indexOf.get(n)!);
    expect(names(topologicalOrder(g, { nodes: subset }))).toEqual(['db', 'app']);
  });
});
