// The inventory as the rest of sanshift sees it: validated, defaults applied, durations in
// milliseconds and speeds in KiB/s. src/inventory/load.ts builds it from YAML or JSON.
import type { Culprit } from '../util/errors.js';

export type ShellKind = 'local' | 'ssh' | 'simulated';

export interface HostSpec {
  name: string;
  /** libvirt URI, as libvirt reads it (test:///abs/node.xml is an absolute path); a host written
   * with `testDriverNode: FILE` gets test:// plus FILE resolved against the inventory's folder */
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
  /** shell: simulated only: what each host command (one ssh session) and each libvirt call
   * costs on the rehearsal's clock, to rehearse against far or loaded hosts */
  simulatedLatency?: { sessionMs: number; libvirtCallMs: number };
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
  /** the groups (tags) this VM belongs to, as written; each is a key of the inventory's `groups` */
  groups: string[];
  /** the effective policy: defaults, then `policy:`, then its groups', then its own (most specific wins) */
  policy: Policy;
  /** where each key of `policy` came from, for `plan` */
  policySources: PolicySources;
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

/** The down window after which a health check runs: after T1 (on the mirrors, OLD still
 * current) or after T2 (on NEW, OLD stale). */
export type HealthGate = 'T1' | 'T2';
export const healthGates: readonly HealthGate[] = ['T1', 'T2'];

export const healthCheckKinds = ['guest-agent', 'tcp', 'http', 'command'] as const;
export type HealthCheckKind = (typeof healthCheckKinds)[number];

interface CheckCommon {
  /** after which windows this check gates the start (default both) */
  gates: HealthGate[];
  /** how long one attempt may take before it counts as failed */
  attemptTimeoutMs: number;
}

/** One built-in check, run from the orchestrator's machine; `{vm}` and `{host}` are already
 * replaced by the VM's name and its host's name. */
export type HealthCheckSpec =
  /** the QEMU guest agent answers guest-ping (through libvirt) */
  | (CheckCommon & { kind: 'guest-agent' })
  /** a TCP connection to host:port opens */
  | (CheckCommon & { kind: 'tcp'; host: string; port: number })
  /** GET url answers 2xx */
  | (CheckCommon & { kind: 'http'; url: string })
  /** argv, run on the orchestrator's machine with SANSHIFT_VM etc. in its environment, exits 0 */
  | (CheckCommon & { kind: 'command'; argv: string[] });

export interface HealthCheck {
  /** argv run on the VM's host after start; exit 0 means healthy */
  command?: string[];
  /** how long to wait for the domain to stay running after start */
  settleMs: number;
  timeoutMs: number;
  /** the time between two attempts of a check that has not passed yet */
  intervalMs: number;
  /** checks run from the orchestrator's machine after the windows their `gates` name; all must pass */
  checks: HealthCheckSpec[];
}

export const shutdownModes = ['auto', 'agent', 'acpi'] as const;
/** agent: the QEMU guest agent; acpi: the ACPI power button; auto: the agent when the domain has
 * a guest-agent channel, ACPI otherwise. */
export type ShutdownMode = (typeof shutdownModes)[number];

export const hookNames = ['beforeWindow', 'afterWindow', 'onFailure'] as const;
export type HookName = (typeof hookNames)[number];

/** Commands run on the orchestrator's machine around each down window of a VM (argv, no shell). */
export interface Hooks {
  /** before the VM is stopped for T1 or T2; a failure keeps the VM up and untouched */
  beforeWindow?: string[];
  /** after the VM is up and healthy again */
  afterWindow?: string[];
  /** when the VM's migration fails (its reason is in SANSHIFT_REASON) */
  onFailure?: string[];
  timeoutMs: number;
}

/** One allowed range of local time: [startMin, endMin) minutes after local midnight; endMin <=
 * startMin means it runs past midnight into the next day (22:00-06:00). */
export interface WindowRange {
  startMin: number;
  endMin: number;
  /** days of the week it starts on (0 Sunday ... 6 Saturday); undefined: every day */
  days?: number[];
  /** as written, for messages */
  text: string;
}

/** When T1 and T2 windows may start: inside an `allow` range, in `timezone`, never on an
 * `except` date (a local calendar day), and at least `marginMs` before the range closes. */
export interface MaintenanceWindow {
  /** an IANA time zone, e.g. Europe/Paris */
  timezone: string;
  allow: WindowRange[];
  /** YYYY-MM-DD, local dates on which nothing starts */
  except: string[];
  marginMs: number;
}

export interface Timeouts {
  /** one host command (one ssh session): past it the command is killed, its outcome unknown */
  hostCommandMs: number;
  /** one libvirt call (a start aside) */
  libvirtCallMs: number;
  /** a libvirt start (qemu launching a guest on a loaded host takes a while) */
  startMs: number;
  /** a host that does not answer holds its VMs this long; then they need an operator */
  hostLostMs: number;
  /** a VM off in a window whose host's shell does not answer is started again on OLD after this,
   * when libvirt still answers (never after its definition moved to NEW) */
  windowHoldMs: number;
}

export interface Policy {
  shutdownTimeoutMs: number;
  onShutdownTimeout: 'fail' | 'force';
  shutdownMode: ShutdownMode;
  /** md sync_speed_max per mirror, KiB/s; undefined leaves the kernel's default */
  resyncSpeedMaxKiB?: number;
  pollIntervalMs: number;
  /** a resync that makes no progress this long is abandoned: the VM goes back to OLD */
  resyncStallTimeoutMs: number;
  /** deadlines of what a host may take to answer (docs/troubleshooting.md, faults) */
  timeouts: Timeouts;
  health: HealthCheck;
  hooks: Hooks;
  /** undefined: windows may start at any time */
  windows?: MaintenanceWindow;
}

/** Each key of a policy that can be set on its own, at fleet, group or VM level. */
export const policyKeys = [
  'shutdown.mode',
  'shutdown.timeout',
  'shutdown.onTimeout',
  'resyncSpeedMax',
  'resyncStallTimeout',
  'timeouts.hostCommand',
  'timeouts.libvirtCall',
  'timeouts.start',
  'timeouts.hostLost',
  'timeouts.windowHold',
  'pollInterval',
  'health.command',
  'health.settle',
  'health.timeout',
  'health.interval',
  'health.checks',
  'hooks.beforeWindow',
  'hooks.afterWindow',
  'hooks.onFailure',
  'hooks.timeout',
  'windows',
] as const;
export type PolicyKey = (typeof policyKeys)[number];

/** Where an effective policy key came from: the built-in default, `policy:`, a group, the VM. */
export type PolicySource = 'default' | 'fleet' | 'vm' | `group ${string}`;
export type PolicySources = Record<PolicyKey, PolicySource>;

/** Which VMs go first, and when to stop admitting new ones (`rollout:`). */
export interface Rollout {
  /** canaries named in the inventory (VM names, validated) */
  canaryVms: string[];
  /** canaries by group (every VM of the group) */
  canaryGroups: string[];
  /** the first N VMs of a run are canaries (0: none by count) */
  canaryCount: number;
  /** stop admitting new VMs once this many have failed in the run */
  maxFailures?: number;
  /** stop admitting new VMs once more than this percentage of the VMs finished in the run failed */
  maxFailPercent?: number;
}

export interface GroupSpec {
  name: string;
  /** where it was declared, for messages */
  line?: number;
}

export interface Limits {
  /** concurrent mirrors on one host */
  mirrorsPerHost: number;
  /** ssh sessions (host commands) at once per host; keep it below sshd's MaxSessions */
  sessionsPerHost?: number;
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
  /** the fleet-level policy (`policy:` over the defaults); each VM's effective one is VmSpec.policy */
  policy: Policy;
  /** the groups declared under `groups:` */
  groups: Record<string, GroupSpec>;
  rollout: Rollout;
  limits: Limits;
  /** line (1-based) of a key path in the file, for messages; undefined when unknown */
  lineOf(path: readonly (string | number)[]): number | undefined;
}
