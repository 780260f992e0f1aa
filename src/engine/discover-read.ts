// What `sanshift discover` reads from each host: every domain, whether it runs, and its
// persistent definition. Hosts are read in parallel, a bounded number at once (as plan and
// status read them), and each host's definitions at once (its hypervisor bounds the calls in
// flight); a host that cannot be read is reported, the others are not held back.
import PQueue from 'p-queue';
import type { Hypervisor } from '../hypervisor/port.js';
import type { DiscoveredDomain } from '../inventory/discover.js';
import { HOSTS_AT_ONCE } from '../plan/fleet-plan.js';
import { errorMessage } from '../util/errors.js';

export type HostDomains = { domains: DiscoveredDomain[] } | { error: string };

/** Each host's domains, in the order of `hosts`. */
export async function readDomainsOfHosts(hosts: readonly Hypervisor[], hostsAtOnce = HOSTS_AT_ONCE): Promise<HostDomains[]> {
  const queue = new PQueue({ concurrency: hostsAtOnce });
  return Promise.all(
    hosts.map((hv) =>
      queue.add(async (): Promise<HostDomains> => {
        try {
          // one listing gives every name and whether it runs
          const roster = await hv.roster();
          const domains = await Promise.all([...roster].map(async ([name, id]) => ({ name, xml: await hv.inactiveXml(name), running: id !== null })));
          return { domains };
        } catch (err) {
          return { error: errorMessage(err) };
        }
      }) as Promise<HostDomains>,
    ),
  );
}
