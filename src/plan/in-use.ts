// I5 by identity: which domains use a volume, compared as devices, not path strings. A domain
// can name NEW as /dev/dm-N, /dev/disk/by-id/..., a multipath alias, one of its partitions, or
// through one of its SCSI paths; on another host that sees the same LUN, under any name at all.
// So each host's domains' disk sources are resolved on that host (one probe) and compared with
// NEW by device (kernel name, partitions) on NEW's own host and by LUN id on every host.
import PQueue from 'p-queue';
import { listDisks, type DomainDisk } from '../domain/index.js';
import { deviceOf, lunIdOf, type DeviceFacts, type HostSnapshot } from '../host/probe.js';
import type { Hypervisor } from '../hypervisor/port.js';
import { errorMessage } from '../util/errors.js';
import { isSafeDevicePath } from '../util/validate.js';
import type { DiskPlan } from './types.js';

/** How the index reaches one host. */
export interface HostReader {
  name: string;
  hv: Hypervisor;
  /** one probe of these paths on the host */
  probe(paths: string[]): Promise<HostSnapshot>;
}

export interface DiskUse {
  domain: string;
  target: string;
  source: string;
  /** in the running definition (else the persistent one) */
  live: boolean;
  device: DeviceFacts | null;
  lun: string | null;
}

/** One host's domains and what their block disks are. */
export interface HostUses {
  host: string;
  at: number;
  uses: DiskUse[];
  /** each domain's persistent definition as read, and the host's roster: a plan made at the
   * same moment takes its VMs' from here instead of asking libvirt twice */
  definitions: Map<string, string>;
  /** the disks of each of those definitions, as parsed for this reading: a plan's pass over
   * 10,000 VMs would otherwise parse them again (the parse memo holds fewer texts than a fleet's
   * persistent and live definitions together) */
  persistentDisks: Map<string, readonly DomainDisk[]>;
  roster: Map<string, number | null>;
  /** the device of every probed path on that host (for partitions of a used disk) */
  snapshot: HostSnapshot;
}

/** Reads what every domain of one host uses: a roster, each definition, one probe. */
export async function readHostUses(reader: HostReader, now: () => number): Promise<HostUses> {
  const roster = await reader.hv.roster();
  const found: Omit<DiskUse, 'device' | 'lun'>[] = [];
  const definitions = new Map<string, string>();
  const persistentDisks = new Map<string, readonly DomainDisk[]>();
  await Promise.all(
    [...roster].map(async ([domain, id]) => {
      const persistent = await reader.hv.inactiveXml(domain);
      definitions.set(domain, persistent);
      persistentDisks.set(domain, listDisks(persistent));
      const xmls: [string, boolean][] = [[persistent, false]];
      if (id !== null) xmls.push([await reader.hv.liveXml(domain), true]);
      for (const [xml, live] of xmls) {
        for (const d of live ? listDisks(xml) : persistentDisks.get(domain)!) {
          if (d.type === 'block' && d.source !== null && isSafeDevicePath(d.source)) found.push({ domain, target: d.target, source: d.source, live });
        }
      }
    }),
  );
  const snapshot = await reader.probe([...new Set(found.map((u) => u.source))]);
  const uses = found.map((u) => {
    const device = deviceOf(snapshot, u.source);
    return { ...u, device, lun: device === null ? null : lunIdOf(device) };
  });
  return { host: reader.name, at: now(), uses, snapshot, definitions, persistentDisks, roster };
}

interface UsesIndex {
  /** each use under its device's kernel name and under each of that device's partitions */
  byDevice: Map<string, number[]>;
  byLun: Map<string, number[]>;
}

/** Built once per reading: a fleet's plan asks for every VM's NEW against every host's reading
 * (10,000 VMs against 500 readings of 40 uses each is 2·10⁸ comparisons, scanned). */
const indexes = new WeakMap<HostUses, UsesIndex>();

function indexOf(hostUses: HostUses): UsesIndex {
  let index = indexes.get(hostUses);
  if (index === undefined) {
    index = { byDevice: new Map(), byLun: new Map() };
    const add = (m: Map<string, number[]>, key: string, i: number) => {
      const list = m.get(key);
      if (list === undefined) m.set(key, [i]);
      else list.push(i);
    };
    hostUses.uses.forEach((u, i) => {
      if (u.lun !== null) add(index!.byLun, u.lun, i);
      if (u.device !== null) for (const k of [u.device.kname, ...u.device.partitions]) add(index!.byDevice, k, i);
    });
    indexes.set(hostUses, index);
  }
  return index;
}

/** Pure: the uses of `target` (a device on host `host`) found in one host's uses, in their
 * order there: the same LUN on any host; on the target's own host, the same device, one of its
 * partitions, or a whole disk one of whose partitions it is. */
export function usesOf(target: { host: string; device: DeviceFacts }, hostUses: HostUses): DiskUse[] {
  const index = indexOf(hostUses);
  const found = new Set<number>();
  const lun = lunIdOf(target.device);
  if (lun !== null) for (const i of index.byLun.get(lun) ?? []) found.add(i);
  if (hostUses.host === target.host) {
    // a use indexed under the target's name is that device or the disk it is a partition of;
    // one indexed under a partition of the target is that partition
    for (const k of [target.device.kname, ...target.device.partitions]) for (const i of index.byDevice.get(k) ?? []) found.add(i);
  }
  return found.size === 0 ? [] : [...found].sort((a, b) => a - b).map((i) => hostUses.uses[i]!);
}

/**
 * The uses of every inventory host, kept for reuse: the VM's own host is read again for each
 * check (what changed there matters most), the others when their reading is older than
 * `maxAgeMs` (a LUN presented to another host and attached there between two readings is the
 * residual risk; docs/safety.md). Concurrent reads of one host share one reading.
 */
export class InUseIndex {
  private readonly known = new Map<string, HostUses>();
  private readonly pending = new Map<string, Promise<HostUses>>();

  /** host readings in flight at once, whoever asks (a plan's refresh, a run's first check) */
  private readonly reads: PQueue;

  constructor(
    private readonly hosts: readonly HostReader[],
    private readonly now: () => number,
    private readonly maxAgeMs: number,
    hostsAtOnce: number,
  ) {
    this.reads = new PQueue({ concurrency: hostsAtOnce });
  }

  /** The host's last reading, if it is not older than `maxAgeMs`. */
  private fresh(reader: HostReader, maxAgeMs: number): HostUses | undefined {
    const known = this.known.get(reader.name);
    return known !== undefined && this.now() - known.at <= maxAgeMs ? known : undefined;
  }

  private read(reader: HostReader, maxAgeMs: number): Promise<HostUses> {
    const known = this.fresh(reader, maxAgeMs);
    if (known !== undefined) return Promise.resolve(known);
    let p = this.pending.get(reader.name);
    if (p === undefined) {
      p = (this.reads.add(() => readHostUses(reader, this.now)) as Promise<HostUses>).then(
        (u) => {
          this.known.set(reader.name, u);
          this.pending.delete(reader.name);
          return u;
        },
        (err: unknown) => {
          this.pending.delete(reader.name);
          throw err;
        },
      );
      this.pending.set(reader.name, p);
    }
    return p;
  }

  /** Refreshes every host (preflight); returns the hosts that could not be read, with why. */
  async refreshAll(): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    await Promise.all(
      this.hosts.map(async (h) => {
        try {
          await this.read(h, 0);
        } catch (err) {
          failed.set(h.name, errorMessage(err));
        }
      }),
    );
    return failed;
  }

  /** The last reading of a host, if it was taken at `notBefore` or later: its roster and each
   * domain's persistent definition. */
  readingOf(host: string, notBefore: number): Pick<HostUses, 'roster' | 'definitions' | 'persistentDisks'> | undefined {
    const known = this.known.get(host);
    return known === undefined || known.at < notBefore ? undefined : known;
  }

  /**
   * Who uses the new volumes of `vm` (on `host`), other than the VM's own disks being moved; one
   * message per use. `newDevices` are NEW's facts on its host (from a fresh probe). A host that
   * cannot be read now is checked from its last reading, and said so; never read at all, it is
   * reported as not checked (a refusal, unless the caller accepts it).
   */
  async usersOf(host: string, vm: string, disks: readonly DiskPlan[], newDevices: ReadonlyMap<string, DeviceFacts | null>): Promise<{ users: string[]; unchecked: string[] }> {
    const users: string[] = [];
    const unchecked: string[] = [];
    // the readings still fresh are taken as they are; only the others are awaited (a plan of
    // 10,000 VMs on 500 hosts asks this 10,000 times: 5 million promises otherwise)
    // the VM's own host is read anew (what changed there matters most), the others when old
    const maxAge = (h: HostReader) => (h.name === host ? 0 : this.maxAgeMs);
    const readings: (HostUses | null)[] = this.hosts.map((h) => this.fresh(h, maxAge(h)) ?? null);
    await Promise.all(
      this.hosts.map(async (h, i) => {
        if (readings[i] !== null) return;
        try {
          readings[i] = await this.read(h, maxAge(h));
        } catch (err) {
          const last = this.known.get(h.name);
          if (last === undefined) unchecked.push(`host ${h.name} could not be read (${errorMessage(err)})`);
          readings[i] = last ?? null;
        }
      }),
    );
    for (const d of disks) {
      const device = newDevices.get(d.new) ?? null;
      if (device === null) continue;
      for (const reading of readings) {
        if (reading === null) continue;
        for (const u of usesOf({ host, device }, reading)) {
          // the VM's own disk being moved (on NEW already, after its cutover's define): not another
          // user; the same VM using NEW as another of its disks is one
          if (u.domain === vm && reading.host === host && u.target === d.target) continue;
          const how = u.source === d.new ? d.new : `${u.source} (${u.device?.kname === device.kname ? 'the same device' : u.lun !== null && u.lun === lunIdOf(device) ? `the same LUN, ${u.lun}` : 'a partition of it, or the disk it is on'})`;
          users.push(`${d.new} is used by domain ${u.domain} on host ${reading.host} as ${u.target}: ${how}${u.live ? '' : ' (in its persistent definition)'}`);
        }
      }
    }
    return { users: [...new Set(users)], unchecked };
  }
}
