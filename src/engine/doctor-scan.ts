// Reads what `sanshift doctor` judges (doctor.ts): per host, one listing of its domains and one
// of their managed saves, each domain's persistent definition (and its live one while it runs),
// then one scan probe (every md array, /dev/md name and lease of the host, and the devices of
// every volume and disk source named). Hosts in parallel, a bounded number at once; each host's
// host commands and libvirt calls are counted, so `doctor -v` can show what the scan cost.
import PQueue from 'p-queue';
import { probeHost, type HostSnapshot } from '../host/probe.js';
import type { Inventory } from '../inventory/types.js';
import { HOSTS_AT_ONCE, type PlanPorts } from '../plan/fleet-plan.js';
import { errorMessage } from '../util/errors.js';
import { knownDisksOn, ParsedDefinitions, scanPaths, type DomainReading, type HostScan } from './doctor.js';
import type { MigrationFacts } from './facts.js';

/** What reading one host cost. */
export interface HostFigures {
  host: string;
  /** sessions on the host (the scan probe) */
  hostCommands: number;
  /** libvirt calls: the two listings, one per definition read */
  libvirtCalls: number;
  domains: number;
  running: number;
  /** paths given to the probe */
  paths: number;
  /** wall time of the host's reading, ms */
  ms: number;
}

const GONE = /domain not found|no domain with matching/i;

async function scanHost(inv: Inventory, ports: PlanPorts, hostName: string, facts: (vm: string) => MigrationFacts, now: () => number, parsed: ParsedDefinitions): Promise<{ scan: HostScan; figures: HostFigures }> {
  const host = inv.hosts[hostName]!;
  const start = now();
  let libvirtCalls = 0;
  let hostCommands = 0;
  const call = <T>(p: () => Promise<T>): Promise<T> => {
    libvirtCalls++;
    return p();
  };
  let domains: DomainReading[] | null = null;
  let libvirtError: string | null = null;
  try {
    const hv = ports.hypervisor(host);
    const [roster, saves] = await Promise.all([call(() => hv.roster()), call(() => hv.managedSaveDomains())]);
    const read = await Promise.all(
      [...roster].map(async ([name, id]): Promise<DomainReading | null> => {
        try {
          const [persistentXml, liveXml] = await Promise.all([call(() => hv.inactiveXml(name)), id === null ? Promise.resolve(null) : call(() => hv.liveXml(name))]);
          return { name, id, persistentXml, liveXml, managedSave: saves.has(name) };
        } catch (err) {
          // undefined between the listing and its reading: there is nothing left of it to judge
          if (GONE.test(errorMessage(err))) return null;
          throw err;
        }
      }),
    );
    domains = read.filter((d): d is DomainReading => d !== null);
  } catch (err) {
    libvirtError = errorMessage(err);
  }
  const paths = scanPaths(knownDisksOn(inv, hostName, domains ?? [], facts, parsed), domains ?? [], parsed);
  let snapshot: HostSnapshot | null = null;
  let probeError: string | null = null;
  const runner = await ports.runner(host);
  if ('unreachable' in runner) probeError = runner.unreachable;
  else {
    try {
      hostCommands++;
      snapshot = await probeHost(runner, 'scan', paths);
    } catch (err) {
      probeError = errorMessage(err);
    }
  }
  return {
    scan: { host: hostName, uri: host.uri, domains, libvirtError, snapshot, probeError },
    figures: { host: hostName, hostCommands, libvirtCalls, domains: domains?.length ?? 0, running: domains?.filter((d) => d.id !== null).length ?? 0, paths: paths.length, ms: now() - start },
  };
}

/** Reads the hosts named, in that order; a host that fails is reported, never thrown. The
 * definitions come back parsed, for diagnose() to reuse. */
export async function scanFleet(inv: Inventory, ports: PlanPorts, hosts: readonly string[], facts: (vm: string) => MigrationFacts, now: () => number = Date.now): Promise<{ scans: HostScan[]; figures: HostFigures[]; parsed: ParsedDefinitions }> {
  const queue = new PQueue({ concurrency: HOSTS_AT_ONCE });
  const parsed = new ParsedDefinitions();
  const out = await Promise.all(hosts.map((h) => queue.add(() => scanHost(inv, ports, h, facts, now, parsed))));
  return { scans: out.map((o) => o!.scan), figures: out.map((o) => o!.figures), parsed };
}
