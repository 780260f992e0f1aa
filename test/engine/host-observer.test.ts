// The host observer shares probes: callers of one moment share one, a caller that may need to
// see its own action waits for the next, and a caller that needs only a reading begun after a
// ticket (a VM seen off) shares one under way that began after it.
import { describe, expect, it } from '@jest/globals';
import { HostObserver } from '../../src/engine/host-observer.js';
import { SimulatedHost } from '../../src/host/simulated.js';
import type { Hypervisor } from '../../src/hypervisor/port.js';
import { VirtualClock, wallClock } from '../../src/util/clock.js';

function setup() {
  const clock = new VirtualClock(0);
  const sim = new SimulatedHost({ now: () => clock.now(), commandCostMs: 100, sleep: (ms) => clock.sleep(ms) });
  const observer = new HostObserver('hv1', sim, {} as Hypervisor, clock, 5000);
  return { clock, sim, observer };
}

describe('HostObserver.read', () => {
  it('a read asked while a probe runs waits for the next one', async () => {
    const { sim, observer } = setup();
    const first = observer.read();
    await new Promise((r) => setImmediate(r)); // the first probe is launched
    const second = observer.read();
    await Promise.all([first, second]);
    expect(sim.counts.commands).toBe(2);
  });

  it('a read after a ticket shares a probe launched after that ticket', async () => {
    const { sim, observer } = setup();
    const ticket = observer.ticket();
    const first = observer.read();
    await new Promise((r) => setImmediate(r));
    const second = observer.read({ after: ticket });
    expect(await second).toBe(await first);
    expect(sim.counts.commands).toBe(1);
  });

  it('but not one launched before it: it waits for the next', async () => {
    const { sim, observer } = setup();
    const first = observer.read();
    await new Promise((r) => setImmediate(r));
    const ticket = observer.ticket(); // seen off only now, while the probe runs
    const second = observer.read({ after: ticket });
    await Promise.all([first, second]);
    expect(sim.counts.commands).toBe(2);
  });
});

describe('HostObserver.nextPoll on a real clock', () => {
  // The virtual clock fires every timer due at once; on a real clock the VMs' calls drift apart
  // (each handles its poll for a while before asking for the next). One poll per host per
  // interval must still hold: 50 VMs, each with its own jitter, share one timer.
  it('50 waiting VMs with drifting turns share one probe per interval', async () => {
    const sim = new SimulatedHost({ now: () => Date.now(), commandCostMs: 5, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
    const hv = { roster: async () => new Map<string, number | null>() } as unknown as Hypervisor;
    const intervalMs = 100;
    const observer = new HostObserver('hv1', sim, hv, wallClock, intervalMs);
    const started = Date.now();
    const until = started + 1000;
    let answered = 0;
    const vm = async (i: number): Promise<void> => {
      while (Date.now() < until) {
        await observer.nextPoll();
        answered++;
        // this VM's own work on the reading: 0-40 ms, different for each VM and each turn
        await new Promise((r) => setTimeout(r, (i * 7 + answered) % 41));
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, i) => vm(i)));
    const intervals = Math.ceil((Date.now() - started) / intervalMs);
    expect(answered).toBeGreaterThanOrEqual(50 * 5);
    expect(observer.counts.polls).toBeGreaterThanOrEqual(5);
    expect(observer.counts.polls).toBeLessThanOrEqual(intervals + 1);
    expect(sim.counts.commands).toBe(observer.counts.polls);
  });
});
