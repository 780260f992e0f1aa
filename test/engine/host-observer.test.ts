// The host observer shares probes: callers of one moment share one, a caller that may need to
// see its own action waits for the next, and a caller that needs only a reading begun after a
// ticket (a VM seen off) shares one under way that began after it.
import { describe, expect, it } from '@jest/globals';
import { HostObserver } from '../../src/engine/host-observer.js';
import { SimulatedHost } from '../../src/host/simulated.js';
import type { Hypervisor } from '../../src/hypervisor/port.js';
import { VirtualClock } from '../../src/util/clock.js';

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
