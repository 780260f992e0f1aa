// The inventory as the rest of sanshift sees it: validated, defaults applied, durations in
// milliseconds and speeds in KiB/s. src/inventory/load.ts builds it from YAML or JSON.
import type { Culprit } from '../util/errors.js';

export type ShellKind = 'local' | 'ssh' | 'simulated';

export interface HostSpec {
  name: string;
  /** libvirt URI; a test:///relative.xml URI is already resolved against the inventory's folder */
  uri: string;
  shell: ShellKind;
  /** ssh destination (user@host), for shell: ssh */
  ssh?: string;
  sshPort?: number;
  sshIdentityFile?: string;
  /** extra `-o Key=Value` options for ssh */
  sshOptions?: Record<string, string>;
  /** prefix host commands with `sudo -n` */
  sudo: boolean;
}

export interface VmSpec {
  name: string;
  host: string;
  /** explicit target dev -> new volume; undefined means every block disk through `mapping` */
  disks?: Record<string, string>;
  dependsOn: string[];
  /** anti-affinity groups: VMs of one group are never down at the same time */
  antiAffinity: string[];
  /** storage array of the new volumes, when the inventory names it (else from mapping rules) */
  array?: string;
  /** simulate only: disk size in bytes per target (else the simulator's default) */
  simulatedSizes?: Record<string, number>;
  /** where this VM was declared, for messages */
  index: number;
}

export interface MappingRule {
  /** a regular expression over the old volume's path */
  from: string;
  /** the replacement, with $1... groups */
  to: string;
  /** storage array the new volumes of this rule live on */
  array?: string;
  index: number;
  /** where the rule was declared (inventory file and line, or CSV file and row), for messages */
  at?: Culprit;
}

export interface HealthCheck {
  /** argv run on the VM's host after start; exit 0 means healthy */
  command?: string[];
  /** how long to wait for the domain to stay running after start */
  settleMs: number;
  timeoutMs: number;
}

export interface Policy {
  shutdownTimeoutMs: number;
  onShutdownTimeout: 'fail' | 'force';
  /** md sync_speed_max per mirror, KiB/s; undefined leaves the kernel's default */
  resyncSpeedMaxKiB?: number;
  pollIntervalMs: number;
  /** a resync that makes no progress this long is abandoned: the VM goes back to OLD */
  resyncStallTimeoutMs: number;
  health: HealthCheck;
}

export interface Limits {
  /** concurrent mirrors on one host */
  mirrorsPerHost: number;
  /** concurrent down windows fleet-wide */
  downWindows: number;
  /** concurrent VMs in flight fleet-wide (between T1 and T2 done) */
  global: number;
  /** VMs in one bundle at most */
  bundleMaxSize: number;
  /** resync bandwidth per host, KiB/s (undefined: unlimited) */
  hostBandwidthKiB?: number;
  /** resync bandwidth per storage array, KiB/s */
  arrayBandwidthKiB: Record<string, number>;
}

export interface Inventory {
  /** absolute path of the inventory file */
  file: string;
  hosts: Record<string, HostSpec>;
  vms: VmSpec[];
  mapping: MappingRule[];
  policy: Policy;
  limits: Limits;
  /** line (1-based) of a key path in the file, for messages; undefined when unknown */
  lineOf(path: readonly (string | number)[]): number | undefined;
}
