// The inventory sanshift uses to drive the lab: the lab's guest is one production-like host,
// reached by qemu+ssh for libvirt and by ssh for host commands. Pure: returns YAML text.
import { stringify } from 'yaml';
import type { TenantSpec } from './tenants.js';

export interface LabInventoryOptions {
  sshPort: number;
  /** absolute path of the lab's private key */
  keyFile: string;
  tenants: readonly TenantSpec[];
  /** graceful-shutdown timeout; the no-OS tenants ignore ACPI, so keep it short (default 4s) */
  shutdownTimeout?: string;
  /** md sync_speed_max per mirror, so writes can land mid-resync (default 8MiB/s) */
  resyncSpeedMax?: string;
  /** default 2s: the lab's tenants either run or crash at once */
  healthSettle?: string;
  pollInterval?: string;
  mirrorsPerHost?: number;
}

export const LAB_HOST = 'lab-hv';

export function labInventory(o: LabInventoryOptions): string {
  const inventory = {
    version: 1,
    hosts: {
      [LAB_HOST]: {
        uri: `qemu+ssh://root@127.0.0.1:${o.sshPort}/system?keyfile=${o.keyFile}&no_verify=1&no_tty=1`,
        shell: 'ssh',
        ssh: 'root@127.0.0.1',
        sshPort: o.sshPort,
        identityFile: o.keyFile,
        // the guest's host key changes at every boot; it is reachable on 127.0.0.1 only
        sshOptions: { StrictHostKeyChecking: 'no', UserKnownHostsFile: '/dev/null', LogLevel: 'ERROR', ConnectTimeout: 20 },
      },
    },
    vms: o.tenants.map((t) => ({ name: t.name, host: LAB_HOST })),
    mapping: [{ from: '^/dev/mapper/old-(.+)$', to: '/dev/mapper/new-$1' }],
    policy: {
      shutdownTimeout: o.shutdownTimeout ?? '4s',
      onShutdownTimeout: 'force',
      resyncSpeedMax: o.resyncSpeedMax ?? '8MiB/s',
      pollInterval: o.pollInterval ?? '1s',
      health: { settle: o.healthSettle ?? '2s' },
    },
    limits: { mirrorsPerHost: o.mirrorsPerHost ?? 4, downWindows: 4 },
  };
  return `# written by test/lab/inventory.ts for the lab on 127.0.0.1:${o.sshPort}\n${stringify(inventory)}`;
}
