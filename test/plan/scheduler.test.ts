import { describe, expect, test } from '@jest/globals';
import type { Limits } from '../../src/inventory/types.js';
import { planBundles, type FleetVm } from '../../src/plan/bundles.js';
import { allocateFairShare, BundleState, RollingScheduler } from '../../src/plan/scheduler.js';

const GiB = 1024 ** 3;
const vm = (name: string, host: string, disks: number, extra: Partial<FleetVm> = {}): FleetVm => ({
  name, host, dependsOn: [], antiAffinity: [],
  disks: Array.from({ length: disks }, (_, i) => ({ target: `vd${'abcdefgh'[i]}`, sizeBytes: (10 - i) * GiB, array: 'san1' })),
  ...extra,
});
const limits = (over: Partial<Limits> = {}): Limits => ({
  mirrorsPerHost: 8, downWindows: 8, global: 100, bundleMaxSize: 8, arrayBandwidthKiB: {}, ...over,
});
const scheduler = (vms: FleetVm[], l: Limits) => {
  const plan = planBundles(vms, l);
  return { plan, s: new RollingScheduler(plan, vms, l, { seed: 1 }) };
};
const names = (plan: ReturnType<typeof planBundles>, ids: number[]) => ids.map((b) => plan.bundles[b]!.vms.join('+'));

describe('allocateFairShare', () => {
  const mirrors = [
    { key: 'x', host: 'h1', array: 'A' },
    { key: 'y', host: 'h1', array: 'A' },
    { key: 'z', host: 'h1', array: 'B' },
    { key: 'w', host: 'h2', array: 'B' },
  ];
  test('max-min fair: the full array first, then the host shares what is left', () => {
    // B (100) fills at 50 each; h1 has 300 - 50 left for x and y: 125 each
    const rates = allocateFairShare(mirrors, { hostBandwidthKiB: 300, arrayBandwidthKiB: { A: 1000, B: 100 } });
    expect(Object.fromEntries(rates)).toEqual({ x: 125, y: 125, z: 50, w: 50 });
  });
  test('the per-mirror cap binds before the host', () => {
    const rates = allocateFairShare(mirrors, { hostBandwidthKiB: 300, arrayBandwidthKiB: { A: 1000, B: 100 }, perMirrorKiB: 100 });
    expect(Object.fromEntries(rates)).toEqual({ x: 100, y: 100, z: 50, w: 50 });
  });
  test('whole KiB/s, never above a limit; Infinity when nothing limits', () => {
    const three = [0, 1, 2].map((i) => ({ key: `m${i}`, host: 'h', array: 'A' }));
    const rates = allocateFairShare(three, { arrayBandwidthKiB: { A: 1000 } });
    expect([...rates.values()]).toEqual([333, 333, 333]);
    expect(allocateFairShare(three, { arrayBandwidthKiB: {} }).get('m0')).toBe(Infinity);
  });
});

describe('RollingScheduler', () => {
  test('mirrors per host: only what fits enters T1; the rest waits for a T2 to end', () => {
    const { plan, s } = scheduler([vm('a', 'hv1', 2), vm('b', 'hv1', 2), vm('c', 'hv1', 2)], limits({ mirrorsPerHost: 4 }));
    const first = s.grant();
    expect(first.enterT1).toHaveLength(2);
    expect(s.mirrorsInUse('hv1')).toBe(4);
    expect(s.grant().enterT1).toEqual([]);
    const [b0] = first.enterT1;
    const vmName = plan.bundles[b0!]!.vms[0]!;
    s.windowEnded(b0!);
    expect(s.stateOf(b0!)).toBe(BundleState.syncing);
    s.resyncStarted(vmName, 'vda');
    s.resyncStarted(vmName, 'vdb');
    s.resyncEnded(vmName, 'vda');
    expect(s.stateOf(b0!)).toBe(BundleState.syncing);
    s.resyncEnded(vmName, 'vdb');
    expect(s.stateOf(b0!)).toBe(BundleState.readyForT2);
    // T2 is granted, but the mirrors are held until the T2 window ends
    expect(s.grant()).toEqual({ enterT2: [b0], enterT1: [] });
    s.windowEnded(b0!);
    expect(s.stateOf(b0!)).toBe(BundleState.done);
    expect(s.grant().enterT1).toHaveLength(1);
  });

  test('a disk in sync that copies again (rebuilt, or its recovery restarted) takes a share again; its bundle stays ready', () => {
    const vms = [vm('a', 'hv1', 2), vm('b', 'hv1', 1)];
    const l = limits({ hostBandwidthKiB: 300 * 1024 });
    const { plan, s } = scheduler(vms, l);
    s.grant();
    const [a, b] = [plan.bundleOf.get('a')!, plan.bundleOf.get('b')!];
    s.windowEnded(a);
    s.windowEnded(b);
    for (const t of ['vda', 'vdb']) s.resyncStarted('a', t);
    s.resyncStarted('b', 'vda');
    s.resyncEnded('a', 'vda');
    s.resyncEnded('a', 'vdb');
    expect(s.stateOf(a)).toBe(BundleState.readyForT2);
    // b alone copies: the whole host's bandwidth
    expect(Object.fromEntries(s.allocateBandwidth())).toEqual({ 'b/vda': 300 * 1024 });
    // a/vdb copies again: it shares the host with b, instead of copying on top of b's share
    s.resyncStarted('a', 'vdb');
    expect(Object.fromEntries(s.allocateBandwidth())).toEqual({ 'a/vdb': 150 * 1024, 'b/vda': 150 * 1024 });
    expect(s.stateOf(a)).toBe(BundleState.readyForT2);
    s.resyncEnded('a', 'vdb');
    expect(Object.fromEntries(s.allocateBandwidth())).toEqual({ 'b/vda': 300 * 1024 });
    // counted once: b still needs its own end to be ready
    expect(s.stateOf(a)).toBe(BundleState.readyForT2);
    expect(s.stateOf(b)).toBe(BundleState.syncing);
    s.resyncEnded('b', 'vda');
    expect(s.stateOf(b)).toBe(BundleState.readyForT2);
  });

  test('largest bundle first on an array (LPT)', () => {
    const { plan, s } = scheduler([vm('small', 'hv1', 1), vm('big', 'hv2', 3), vm('mid', 'hv3', 2)], limits({ downWindows: 1 }));
    expect(names(plan, s.grant().enterT1)).toEqual(['big']);
  });

  test('down windows fleet-wide and anti-affinity: never two of one group down at once', () => {
    const vms = [vm('db1', 'hv1', 1, { antiAffinity: ['db'] }), vm('db2', 'hv2', 1, { antiAffinity: ['db'] }), vm('x', 'hv3', 1)];
    const { plan, s } = scheduler(vms, limits({ downWindows: 2 }));
    const granted = names(plan, s.grant().enterT1);
    expect(granted).toHaveLength(2);
    expect(granted.filter((n) => n.startsWith('db'))).toHaveLength(1);
    expect(s.downWindowsInUse).toBe(2);
  });

  test('a VM with more disks than mirrorsPerHost still goes, alone on its host', () => {
    const { s } = scheduler([vm('wide', 'hv1', 6), vm('other', 'hv1', 1)], limits({ mirrorsPerHost: 4 }));
    expect(s.grant().enterT1).toHaveLength(1);
    expect(s.mirrorsInUse('hv1')).toBe(6);
  });

  test('abandon releases what the bundle held and settles it', () => {
    const { s } = scheduler([vm('a', 'hv1', 2), vm('b', 'hv1', 2)], limits({ mirrorsPerHost: 2 }));
    const [a] = s.grant().enterT1;
    s.abandon(a!, 'shutdown timed out');
    expect(s.stateOf(a!)).toBe(BundleState.failed);
    expect(s.failures.get(a!)).toBe('shutdown timed out');
    expect(s.mirrorsInUse('hv1')).toBe(0);
    expect(s.grant().enterT1).toHaveLength(1);
  });

  test('a bundle waits while a dependency outside it is in its own window', () => {
    const apps = Array.from({ length: 3 }, (_, i) => vm(`app${i}`, `hv${i + 2}`, 1, { dependsOn: ['dns'] }));
    const vms = [vm('dns', 'hv1', 3), ...apps];
    const { plan, s } = scheduler(vms, limits({ bundleMaxSize: 2 }));
    // dns is the largest: it goes first, and its dependents wait for its window to end
    expect(names(plan, s.grant().enterT1)).toEqual(['dns']);
    s.windowEnded(plan.bundleOf.get('dns')!);
    expect(s.grant().enterT1).toHaveLength(3);
  });
});
