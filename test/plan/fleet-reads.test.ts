// Reads at fleet scale: a plan reads each VM's persistent definition from libvirt once, even with
// its preflight (whose in-use index reads every domain of every host), and each host's roster once.
import { describe, expect, it } from '@jest/globals';
import type { HostSnapshot } from '../../src/host/probe.js';
import type { Hypervisor } from '../../src/hypervisor/port.js';
import { InUseIndex, type HostReader } from '../../src/plan/in-use.js';
import { fleetStatus, VmPhase } from '../../src/engine/status.js';
import { Fleet } from '../engine/harness.js';

/** Counts the definitions and rosters libvirt is asked for, from the fleet's next connections on. */
function countReads(fleet: Fleet): { asked: Map<string, number>; rosters: { count: number } } {
  const asked = new Map<string, number>();
  const rosters = { count: 0 };
  fleet.hvWrapper = (hv: Hypervisor): Hypervisor =>
    new Proxy(hv, {
      get(target, key, receiver) {
        if (key === 'roster') {
          return () => {
            rosters.count++;
            return target.roster();
          };
        }
        if (key === 'inactiveXml') {
          return (name: string, options?: object) => {
            asked.set(name, (asked.get(name) ?? 0) + 1);
            return target.inactiveXml(name, options);
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  fleet.restart();
  return { asked, rosters };
}

describe('a plan with its preflight', () => {
  it("asks libvirt for each definition once, and for the host's roster once", async () => {
    const fleet = new Fleet();
    const { asked, rosters } = countReads(fleet);
    const outcome = await fleet.plan();
    expect(outcome.problems).toEqual([]);
    const planned = outcome.plan.vms.map((v) => v.name);
    expect(planned.length).toBeGreaterThan(1);
    // the in-use index read every domain of the host; the plan took its VMs' definitions from that reading
    for (const vm of planned) expect([vm, asked.get(vm)]).toEqual([vm, 1]);
    expect(rosters.count).toBe(1);
    // and the definitions are the ones libvirt holds
    for (const p of outcome.plan.vms) expect(p.stepsFrom?.definition).toContain(`<name>${p.name}</name>`);
  });
});

describe('status', () => {
  it('asks libvirt for each definition once: its observation takes the one its disks were planned from', async () => {
    const fleet = new Fleet();
    const { asked } = countReads(fleet);
    const rows = await fleetStatus(fleet.inventory, fleet.connections, { vms: [], now: new Date(fleet.clock.now()), history: () => undefined, records: [] });
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows) expect([row.vm, row.phase, asked.get(row.vm)]).toEqual([row.vm, VmPhase.notStarted, 1]);
  });
});

describe('the in-use index', () => {
  it('reads at most its bound of hosts at once, whoever asks (a run start asks for all of them at its first check)', async () => {
    let reading = 0;
    let most = 0;
    const reader = (name: string): HostReader => ({
      name,
      hv: {
        roster: async () => {
          reading++;
          most = Math.max(most, reading);
          await new Promise((r) => setTimeout(r, 5));
          reading--;
          return new Map();
        },
      } as unknown as Hypervisor,
      probe: async () => ({}) as HostSnapshot,
    });
    const index = new InUseIndex(Array.from({ length: 40 }, (_, i) => reader(`hv${i}`)), () => 0, 60_000, 4);
    const { users, unchecked } = await index.usersOf('hv0', 'vm1', [], new Map());
    expect([users, unchecked]).toEqual([[], []]);
    expect(most).toBe(4);
    expect(await index.refreshAll()).toEqual(new Map());
    expect(most).toBe(4);
  });
});
