// The inventory sanshift uses to drive the lab: each lab guest is one production-like host,
// reached by qemu+ssh for libvirt and by ssh for host commands. Pure: returns YAML text.
import { stringify } from 'yaml';
import type { TenantSpec } from './tenants.js';

/** one lab host as the inventory names it, and the tenants of it that the run may migrate */
export interface LabInventoryHost {
  name: string;
  sshPort: number;
  tenants: readonly TenantSpec[];
}

export interface LabInventoryOptions {
  /** absolute path of the lab's private key (every lab host trusts it) */
  keyFile: string;
  /** the single-host form: the lab host on this port, named LAB_HOST */
  sshPort?: number;
  tenants?: readonly TenantSpec[];
  /** the several-host form (each VM on the host that lists it) */
  hosts?: readonly LabInventoryHost[];
  /** VM → target → new volume, where the old-→new- mapping must not decide (a shared LUN) */
  newVolumes?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** graceful-shutdown timeout; the no-OS tenants ignore ACPI, so keep it short (default 4s) */
  shutdownTimeout?: string;
  /** md sync_speed_max per mirror, so writes can land mid-resync (default 8MiB/s) */
  resyncSpeedMax?: string;
  /** default 2s: the lab's tenants either run or crash at once */
  healthSettle?: string;
  pollInterval?: string;
  mirrorsPerHost?: number;
  /** more fleet policy keys (hooks, health checks, shutdown mode...), over the lab's defaults */
  policy?: Record<string, unknown>;
  /** each VM's own policy keys */
  vmPolicy?: Readonly<Record<string, Record<string, unknown>>>;
}

export const LAB_HOST = 'lab-hv';

export function labInventory(o: LabInventoryOptions): string {
  const hosts: readonly LabInventoryHost[] = o.hosts ?? [{ name: LAB_HOST, sshPort: o.sshPort ?? 0, tenants: o.tenants ?? [] }];
  if (hosts.some((h) => !Number.isInteger(h.sshPort) || h.sshPort <= 0)) throw new Error('labInventory: every host needs its ssh port');
  const inventory = {
    version: 1,
    hosts: Object.fromEntries(hosts.map((h) => [h.name, {
      uri: `qemu+ssh://root@127.0.0.1:${h.sshPort}/system?keyfile=${o.keyFile}&no_verify=1&no_tty=1`,
      shell: 'ssh',
      ssh: 'root@127.0.0.1',
      sshPort: h.sshPort,
      identityFile: o.keyFile,
      // the guest's host key changes at every boot; it is reachable on 127.0.0.1 only
      sshOptions: { StrictHostKeyChecking: 'no', UserKnownHostsFile: '/dev/null', LogLevel: 'ERROR', ConnectTimeout: 20 },
    }])),
    vms: hosts.flatMap((h) => h.tenants.map((t) => ({
      name: t.name,
      host: h.name,
      ...(o.newVolumes?.[t.name] === undefined ? {} : { disks: { ...o.newVolumes[t.name] } }),
      ...(o.vmPolicy?.[t.name] === undefined ? {} : { policy: o.vmPolicy[t.name] }),
    }))),
    mapping: [{ from: '^/dev/mapper/old-(.+)$', to: '/dev/mapper/new-$1' }],
    policy: {
      shutdownTimeout: o.shutdownTimeout ?? '4s',
      onShutdownTimeout: 'force',
      resyncSpeedMax: o.resyncSpeedMax ?? '8MiB/s',
      pollInterval: o.pollInterval ?? '1s',
      health: { settle: o.healthSettle ?? '2s' },
      ...o.policy,
    },
    limits: { mirrorsPerHost: o.mirrorsPerHost ?? 4, downWindows: 4 },
  };
  const where = hosts.map((h) => `${h.name} on 127.0.0.1:${h.sshPort}`).join(', ');
  return `# written by test/lab/inventory.ts for the lab (${where})\n${stringify(inventory)}`;
}
