import { describe, expect, test } from '@jest/globals';
import { isHub, planBundles, type FleetVm } from '../../src/plan/bundles.js';
import { InputError } from '../../src/util/errors.js';

const vm = (name: string, dependsOn: string[] = [], antiAffinity: string[] = []): FleetVm => ({
  name, host: 'hv1', dependsOn, antiAffinity, disks: [{ target: 'vda', sizeBytes: 1 << 30, array: 'san1' }],
});
const bundleOf = (plan: ReturnType<typeof planBundles>, name: string) => plan.bundles[plan.bundleOf.get(name)!]!;

describe('bundles', () => {
  test('a service stack shares one bundle, stops dependents first and starts dependencies first', () => {
    const plan = planBundles([vm('web', ['app']), vm('app', ['db']), vm('db'), vm('lonely')], { bundleMaxSize: 8 });
    expect(plan.bundles).toHaveLength(2);
    const stack = bundleOf(plan, 'web');
    expect(stack.vms).toEqual(['app', 'db', 'web']);
    expect(stack.stopOrder).toEqual(['web', 'app', 'db']);
    expect(stack.startOrder).toEqual(['db', 'app', 'web']);
    expect(stack.externalDependencies).toEqual([]);
    expect(bundleOf(plan, 'lonely').vms).toEqual(['lonely']);
  });

  test('hub rule: a dependency with at least bundleMaxSize dependents gets its own window', () => {
    expect(isHub(4, 4)).toBe(true);
    expect(isHub(3, 4)).toBe(false);
    const apps = Array.from({ length: 5 }, (_, i) => vm(`app${i}`, ['dns']));
    const plan = planBundles([vm('dns'), ...apps, vm('db0'), vm('web0', ['app0', 'db0'])], { bundleMaxSize: 4 });
    expect(plan.hubs).toEqual(['dns']);
    const dns = bundleOf(plan, 'dns');
    expect(dns.vms).toEqual(['dns']);
    expect(dns.hub).toBe(true);
    // the dependents bundle without the hub; the start gate still waits for it
    const web = bundleOf(plan, 'web0');
    expect(web.vms).toEqual(['app0', 'db0', 'web0']);
    expect(web.externalDependencies).toEqual(['dns']);
    expect(bundleOf(plan, 'app3').vms).toEqual(['app3']);
  });

  test('size cap: a long chain is cut into connected bundles of at most bundleMaxSize', () => {
    const chain = Array.from({ length: 7 }, (_, i) => vm(`v${i}`, i > 0 ? [`v${i - 1}`] : []));
    const plan = planBundles(chain, { bundleMaxSize: 3 });
    expect(plan.bundles.map((b) => b.vms)).toEqual([['v0', 'v1', 'v2'], ['v3', 'v4', 'v5'], ['v6']]);
    expect(bundleOf(plan, 'v3').externalDependencies).toEqual(['v2']);
  });

  test('anti-affine VMs never share a bundle, even when linked', () => {
    const plan = planBundles([vm('db1', [], ['db']), vm('db2', ['db1'], ['db']), vm('app', ['db2'])], { bundleMaxSize: 8 });
    expect(plan.bundleOf.get('db1')).not.toBe(plan.bundleOf.get('db2'));
    expect(bundleOf(plan, 'app').vms).toContain('db2');
  });

  test('same bundles whatever the order of the inventory', () => {
    const fleet = [vm('a'), vm('b', ['a']), vm('c', ['b'], ['g']), vm('d', ['a'], ['g']), vm('e', ['d'])];
    const one = planBundles(fleet, { bundleMaxSize: 2 });
    const two = planBundles([...fleet].reverse(), { bundleMaxSize: 2 });
    expect(two.bundles).toEqual(one.bundles);
    for (const b of one.bundles) expect(b.vms.length).toBeLessThanOrEqual(2);
  });

  test('a cycle is refused with the cycle named', () => {
    expect(() => planBundles([vm('a', ['b']), vm('b', ['a'])], { bundleMaxSize: 4 })).toThrow(InputError);
    expect(() => planBundles([vm('a', ['b']), vm('b', ['a'])], { bundleMaxSize: 4 })).toThrow(/a -> b -> a/);
  });
});
