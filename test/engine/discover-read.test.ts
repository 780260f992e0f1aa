// discover reads its hosts in parallel, a bounded number at once, keeps their order, and a host
// that cannot be read is reported without holding back the others.
import { describe, expect, test } from '@jest/globals';
import { readDomainsOfHosts } from '../../src/engine/discover-read.js';
import type { Hypervisor } from '../../src/hypervisor/port.js';

describe('readDomainsOfHosts', () => {
  test('bounded, in order, a failing host apart', async () => {
    let reading = 0;
    let most = 0;
    const host = (i: number): Hypervisor =>
      ({
        roster: async () => {
          reading++;
          most = Math.max(most, reading);
          await new Promise((r) => setTimeout(r, 10 - i));
          reading--;
          if (i === 3) throw new Error('connection refused');
          return new Map([[`vm${i}a`, 7], [`vm${i}b`, null]]);
        },
        inactiveXml: async (name: string) => `<domain><name>${name}</name></domain>`,
      }) as unknown as Hypervisor;
    const read = await readDomainsOfHosts(Array.from({ length: 8 }, (_, i) => host(i)), 3);
    expect(most).toBe(3);
    expect(read[3]).toEqual({ error: 'connection refused' });
    expect(read[5]).toEqual({ domains: [{ name: 'vm5a', xml: '<domain><name>vm5a</name></domain>', running: true }, { name: 'vm5b', xml: '<domain><name>vm5b</name></domain>', running: false }] });
    expect(read.map((r) => ('domains' in r ? r.domains[0]!.name : 'x'))).toEqual(['vm0a', 'vm1a', 'vm2a', 'x', 'vm4a', 'vm5a', 'vm6a', 'vm7a']);
  });
});
