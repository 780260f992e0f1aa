// Maintenance windows in the scheduler's model: no T1 or T2 starts while a bundle's window is
// closed; resyncs go on outside the windows; a bundle waits for all its members' windows.
import { describe, expect, test } from '@jest/globals';
import { windowGate } from '../../src/control/windows.js';
import type { Limits, MaintenanceWindow } from '../../src/inventory/types.js';
import { parseWindowRange } from '../../src/inventory/window-text.js';
import { planBundles, type FleetVm } from '../../src/plan/bundles.js';
import { simulateFleet, type SimGate, type TimelineEvent, type VmTimings } from '../../src/plan/fleet-sim.js';

const GiB = 1024 ** 3;
const HOUR = 3_600_000;
const timings: VmTimings = { shutdownMs: 30_000, bootMs: 60_000, mirrorSetupMs: 3_000, mirrorStopMs: 3_000 };
const limits: Limits = { mirrorsPerHost: 4, downWindows: 4, global: 32, bundleMaxSize: 8, arrayBandwidthKiB: {} };
const start = Date.parse('2026-01-14T12:00:00Z'); // a Wednesday, noon UTC

function win(timezone: string, allow: string[]): MaintenanceWindow {
  return { timezone, allow: allow.map((t) => (parseWindowRange(t) as { ok: true; value: MaintenanceWindow['allow'][number] }).value), except: [], marginMs: 0 };
}
const vm = (name: string, gib: number, dependsOn: string[] = []): FleetVm => ({ name, host: 'h1', dependsOn, antiAffinity: [], disks: [{ target: 'vda', sizeBytes: gib * GiB, array: 'A' }] });
const at = (t: number): string => new Date(start + t).toISOString();

function run(vms: FleetVm[], windowsOf: Record<string, MaintenanceWindow[]>) {
  const plan = planBundles(vms, limits);
  const gates = new Map<number, SimGate>();
  for (const b of plan.bundles) {
    const ws = b.vms.flatMap((n) => windowsOf[n] ?? []);
    if (ws.length > 0) gates.set(b.id, windowGate(ws));
  }
  // 1 MiB/s per mirror: 36 GiB take about 10 hours
  const result = simulateFleet(vms, limits, { plan, timings: () => timings, scheduler: { mirrorSpeedKiB: 1024 }, gateOf: (b) => gates.get(b), startAtMs: start });
  return { plan, gates, result };
}
const first = (tl: TimelineEvent[], kind: TimelineEvent['kind'], vmName: string, phase?: 'T1' | 'T2') =>
  tl.find((e) => e.kind === kind && 'vm' in e && e.vm === vmName && (phase === undefined || ('phase' in e && e.phase === phase)))!.t;

describe('simulateFleet with maintenance windows', () => {
  const night = win('UTC', ['22:00-06:00']);

  test('no window starts while the gate is closed; a VM without a window goes at once, even behind it in the queue', () => {
    // db1 is larger: first in the scheduler's queue; its closed window must not hold free back
    const { plan, gates, result } = run([vm('db1', 20), vm('free', 10)], { db1: [night] });
    for (const e of result.timeline) {
      if (e.kind !== 'window-start') continue;
      const gate = gates.get(e.bundle);
      if (gate !== undefined) expect({ at: at(e.t), open: gate.isOpen(start + e.t) }).toEqual({ at: at(e.t), open: true });
    }
    expect(at(first(result.timeline, 'vm-stop', 'db1', 'T1'))).toBe('2026-01-14T22:00:00.000Z');
    expect(first(result.timeline, 'vm-stop', 'free', 'T1')).toBe(0);
    expect(plan.bundles).toHaveLength(2);
  });

  test('a resync that ends after the window closes runs on, and T2 waits for the next night', () => {
    const { result } = run([vm('big', 36)], { big: [night] });
    const resyncEnd = first(result.timeline, 'resync-end', 'big');
    const t2 = first(result.timeline, 'vm-stop', 'big', 'T2');
    // T1 at 22:00, 10 h of copy: in sync after 08:00, when the window is closed
    expect(at(resyncEnd) > '2026-01-15T08:00:00.000Z').toBe(true);
    expect(at(resyncEnd) < '2026-01-15T09:00:00.000Z').toBe(true);
    expect(at(t2)).toBe('2026-01-15T22:00:00.000Z');
    expect(result.bundlesDone).toBe(1);
    expect(result.makespanMs).toBeGreaterThan(34 * HOUR);
  });

  test('a bundle waits for the intersection of its members\' windows', () => {
    const paris = win('Europe/Paris', ['22:00-06:00']);
    const newYork = win('America/New_York', ['18:00-23:00']);
    const { plan, result } = run([vm('db1', 1), vm('app1', 1, ['db1'])], { db1: [paris], app1: [newYork] });
    expect(plan.bundles).toHaveLength(1);
    // winter: Paris 21:00-05:00 UTC, New York 23:00-04:00 UTC: the bundle starts at 23:00 UTC
    expect(at(first(result.timeline, 'vm-stop', 'app1', 'T1'))).toBe('2026-01-14T23:00:00.000Z');
  });

  test('stops with a clear error when a bundle\'s windows never meet', () => {
    const a = win('UTC', ['01:00-02:00']);
    const b = win('UTC', ['03:00-04:00']);
    expect(() => run([vm('db1', 1), vm('app1', 1, ['db1'])], { db1: [a], app1: [b] })).toThrow(/the maintenance windows of app1\+db1 never open/);
  });

  test('canaries first: no other bundle enters T1 before every canary bundle is done', () => {
    const vms = [vm('big', 30), vm('canary', 2), vm('other', 2)];
    const plan = planBundles(vms, limits);
    const canary = plan.bundleOf.get('canary')!;
    const result = simulateFleet(vms, limits, { plan, timings: () => timings, scheduler: { mirrorSpeedKiB: 1024 }, canaryBundles: [canary] });
    const canaryDone = result.timeline.find((e) => e.kind === 'window-end' && e.phase === 'T2' && e.bundle === canary)!.t;
    expect(first(result.timeline, 'vm-stop', 'canary', 'T1')).toBe(0);
    expect(first(result.timeline, 'vm-stop', 'big', 'T1')).toBe(canaryDone);
    expect(first(result.timeline, 'vm-stop', 'other', 'T1')).toBe(canaryDone);
  });

  test('without gates, the result is the same as before', () => {
    const vms = [vm('a', 3), vm('b', 5)];
    const plain = simulateFleet(vms, limits, { timings: () => timings });
    const gated = simulateFleet(vms, limits, { timings: () => timings, gateOf: () => undefined, startAtMs: start });
    expect(gated.makespanMs).toBe(plain.makespanMs);
    expect(gated.timeline).toEqual(plain.timeline);
  });
});
