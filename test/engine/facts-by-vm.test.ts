// A fleet's journals hold tens of records per VM. Reading every VM's facts must fold each
// record once, not the whole journal once per VM (status, plan and a run's start did: a
// quadratic scan, minutes at 10,000 VMs).
import { describe, expect, test } from '@jest/globals';
import { factsByVm, factsOf } from '../../src/engine/facts.js';
import type { JournalRecord } from '../../src/engine/journal.js';
import { failedInJournals } from '../../src/cli/selection.js';

const at = '2026-12-01T00:00:00.000Z';
const VMS = 300;
const records: JournalRecord[] = Array.from({ length: VMS }, (_, i) => [
  { run: 'r1', at, kind: 'original', vm: `vm${i}`, host: 'hv1', xml: `<domain><name>vm${i}</name></domain>`, running: true },
  { run: 'r1', at, kind: 'power', vm: `vm${i}`, running: i % 3 !== 0, state: 'shut off' },
] as JournalRecord[]).flat();

/** The records, counting each read of an element. */
function counted(list: readonly JournalRecord[]): { records: JournalRecord[]; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy([...list], {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { records: proxy, reads: () => reads };
}

describe('facts of every VM of a fleet', () => {
  test('are the facts factsOf gives, with each record read a bounded number of times', () => {
    const c = counted(records);
    const facts = factsByVm(c.records);
    for (let i = 0; i < VMS; i++) expect(facts(`vm${i}`)).toEqual(factsOf(records, `vm${i}`));
    // factsOf over the whole journal per VM would read VMS × records.length = 180,000
    expect(c.reads()).toBeLessThanOrEqual(2 * records.length);
    expect(facts('vm3').wantRunning).toBe(false);
  });

  test('--failed reads the journals once', () => {
    const c = counted(records);
    expect(failedInJournals(c.records).size).toBe(0);
    expect(c.reads()).toBeLessThanOrEqual(2 * records.length);
  });
});
