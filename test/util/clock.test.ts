// A loop that sleeps on one abort signal for the whole run (lease renewals: days) must not pile
// up a listener per sleep on it: Node warns past ten (MaxListenersExceededWarning, which an
// operator saw on `sanshift simulate`), and they are never freed.
import { getEventListeners } from 'node:events';
import { describe, expect, test } from '@jest/globals';
import { VirtualClock, wallClock, type Clock } from '../../src/util/clock.js';

async function sleepsOn(clock: Clock, times: number): Promise<AbortController> {
  const stop = new AbortController();
  for (let i = 0; i < times; i++) await clock.sleep(1, stop.signal);
  return stop;
}

describe.each([
  ['wall', () => wallClock],
  ['virtual', () => new VirtualClock(0)],
])('the %s clock', (_name, make) => {
  test('a finished sleep leaves no listener on its signal', async () => {
    const stop = await sleepsOn(make(), 25);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });

  test('an aborted sleep never resolves', async () => {
    const clock = make();
    const stop = new AbortController();
    let woke = false;
    void clock.sleep(5, stop.signal).then(() => (woke = true));
    stop.abort();
    await wallClock.sleep(30);
    expect(woke).toBe(false);
  });
});
