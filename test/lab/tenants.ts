// What the lab guest holds, as plain data: SAN volumes, tenant domains and their XML, the
// qemu.conf, and the plan that guest/boot.sh runs. Pure: no fs, no processes.
import { createHash } from 'node:crypto';

export interface LabDisk {
  /** target dev inside the tenant, e.g. vda */
  target: string;
  /** dm-linear volume on the "old SAN", /dev/mapper/<oldVolume>, filled with a pattern (or
   * formatted, see fileSystem) */
  oldVolume: string;
  /** dm-linear volume on the "new SAN", /dev/mapper/<newVolume>, zeros */
  newVolume: string;
  sizeMiB: number;
  /** the disk's cache mode: 'none' (default; O_DIRECT, no host page cache) or libvirt's
   * default (no cache attribute: qemu's writeback, through the host's page cache) */
  cache?: 'none' | 'default';
  /** made with this file system on OLD instead of the pattern (the Linux tenant's disks) */
  fileSystem?: 'ext4';
}

/** a disk on a device the lab's volume plan does not make: a LUN shared by several lab hosts */
export interface ExternalDisk {
  target: string;
  /** the device path on this host, e.g. /dev/disk/by-id/virtio-SERIAL */
  source: string;
}

export interface TenantSpec {
  name: string;
  disks: LabDisk[];
  externalDisks?: ExternalDisk[];
  /** boots from its first disk a boot sector that powers off on an ACPI power-button press;
   * otherwise one that halts for good (guest/halt.S) and so ignores `virsh shutdown` */
  powersOffOnAcpi?: boolean;
  /** boots the lab's own kernel with guest/tenant-init as its whole OS: records written to an
   * ext4 file system on every disk, reported on its serial log, a clean power-off on ACPI */
  linux?: boolean;
  /** started at boot (default true); always defined */
  start?: boolean;
}

/** a volume that belongs to no tenant (a too-small new volume for preflight tests, say) */
export interface SpareVolume {
  name: string;
  sizeMiB: number;
  /** fill with the pattern tagged with its own name (default: zeros) */
  patterned?: boolean;
}

// 128 MiB: at the scenarios' 1-4 MiB/s a resync outlasts a T1 window of a loaded lab (up to
// two minutes), so what a scenario does "mid-resync" really lands mid-resync
export const DEFAULT_TENANTS: readonly TenantSpec[] = [
  { name: 'vm1', disks: [{ target: 'vda', oldVolume: 'old-vm1', newVolume: 'new-vm1', sizeMiB: 128 }] },
  {
    name: 'vm2',
    disks: [
      { target: 'vda', oldVolume: 'old-vm2-a', newVolume: 'new-vm2-a', sizeMiB: 128 },
      { target: 'vdb', oldVolume: 'old-vm2-b', newVolume: 'new-vm2-b', sizeMiB: 128 },
    ],
  },
  { name: 'vm3', disks: [{ target: 'vda', oldVolume: 'old-vm3', newVolume: 'new-vm3', sizeMiB: 128 }] },
  {
    name: 'vm4',
    powersOffOnAcpi: true,
    disks: [{ target: 'vda', oldVolume: 'old-vm4', newVolume: 'new-vm4', sizeMiB: 64 }],
  },
];

/** The Linux tenant: the lab's own kernel, records on two ext4 file systems, one disk per cache
 * mode (one boot under nested TCG proves both). Defined at boot, started by its scenario. */
export const LINUX_TENANT: TenantSpec = {
  name: 'vm5',
  linux: true,
  start: false,
  disks: [
    { target: 'vda', oldVolume: 'old-vm5-a', newVolume: 'new-vm5-a', sizeMiB: 64, cache: 'none', fileSystem: 'ext4' },
    { target: 'vdb', oldVolume: 'old-vm5-b', newVolume: 'new-vm5-b', sizeMiB: 64, cache: 'default', fileSystem: 'ext4' },
  ],
};

/** The SAN LUN every lab host sees (a file of this machine attached to each lab guest). */
export const SHARED_LUN = { serial: 'lab-lun-0', sizeMiB: 64 } as const;
export const SHARED_LUN_PATH = `/dev/disk/by-id/virtio-${SHARED_LUN.serial}`;

/** Host A (lab-hv): the four tenants of the single-host scenarios, the Linux tenant, and vm6,
 * a VM whose new volume a scenario sets to the shared LUN. */
export const LAB_TENANTS: readonly TenantSpec[] = [
  ...DEFAULT_TENANTS,
  LINUX_TENANT,
  { name: 'vm6', disks: [{ target: 'vda', oldVolume: 'old-vm6', newVolume: 'new-vm6', sizeMiB: 64 }] },
];

/** Host B (lab-hv2): vm7 runs on the shared LUN; vm8 and vm9 are its share of a fleet run. */
export const HOST_B_TENANTS: readonly TenantSpec[] = [
  { name: 'vm7', disks: [], externalDisks: [{ target: 'vda', source: SHARED_LUN_PATH }] },
  { name: 'vm8', disks: [{ target: 'vda', oldVolume: 'old-vm8', newVolume: 'new-vm8', sizeMiB: 64 }] },
  { name: 'vm9', disks: [{ target: 'vda', oldVolume: 'old-vm9', newVolume: 'new-vm9', sizeMiB: 64 }] },
];

// names reach dmsetup, virsh and file names in the guest: keep them to a tame alphabet
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
const SAFE_TARGET = /^(vd|sd|hd)[a-z]{1,2}$/;
const SAFE_DEVICE = /^\/dev\/[A-Za-z0-9_./:-]+$/;

export function checkLabLayout(tenants: readonly TenantSpec[], spares: readonly SpareVolume[] = []): void {
  const volumes = new Set<string>();
  const names = new Set<string>();
  const addVolume = (name: string): void => {
    if (!SAFE_NAME.test(name)) throw new Error(`lab volume name not allowed: ${JSON.stringify(name)}`);
    if (volumes.has(name)) throw new Error(`lab volume used twice: ${name}`);
    volumes.add(name);
  };
  for (const t of tenants) {
    if (!SAFE_NAME.test(t.name)) throw new Error(`lab tenant name not allowed: ${JSON.stringify(t.name)}`);
    if (names.has(t.name)) throw new Error(`lab tenant defined twice: ${t.name}`);
    names.add(t.name);
    if (t.disks.length + (t.externalDisks?.length ?? 0) === 0) throw new Error(`lab tenant ${t.name} has no disk`);
    if (t.linux && t.powersOffOnAcpi) throw new Error(`lab tenant ${t.name}: linux and the boot sector exclude each other`);
    for (const d of t.disks) {
      if (!SAFE_TARGET.test(d.target)) throw new Error(`lab tenant ${t.name}: bad target ${d.target}`);
      if (!Number.isInteger(d.sizeMiB) || d.sizeMiB < 1) throw new Error(`lab tenant ${t.name}: bad size`);
      addVolume(d.oldVolume);
      addVolume(d.newVolume);
    }
    for (const d of t.externalDisks ?? []) {
      if (!SAFE_TARGET.test(d.target)) throw new Error(`lab tenant ${t.name}: bad target ${d.target}`);
      if (!SAFE_DEVICE.test(d.source)) throw new Error(`lab tenant ${t.name}: device path not allowed: ${d.source}`);
    }
  }
  for (const s of spares) {
    addVolume(s.name);
    if (!Number.isInteger(s.sizeMiB) || s.sizeMiB < 1) throw new Error(`lab volume ${s.name}: bad size`);
  }
}

/** a stable UUID per tenant name, so captured XML and fixtures stay comparable run to run */
export function tenantUuid(name: string): string {
  const h = createHash('sha256').update(`sanshift-lab:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** where the lab guest keeps the Linux tenant's kernel and initramfs (Debian's place for them) */
export const TENANT_KERNEL = '/var/lib/libvirt/boot/sanshift-lab-vmlinuz';
export const TENANT_INITRD = '/var/lib/libvirt/boot/sanshift-lab-tenant-initrd.gz';

/** the serial log of a tenant that has one (the ACPI boot sector's, the Linux tenant's) */
export function serialLogPath(name: string): string {
  return `/var/log/libvirt/qemu/${name}-serial.log`;
}

function diskXml(source: string, target: string, cache: 'none' | 'default'): string {
  // cache='none' with io='native' is the usual production choice for SAN volumes; the default
  // goes through the host's page cache (qemu's writeback), which is what the stale-cache
  // hazard of DESIGN.md is about
  const driver = cache === 'none' ? `<driver name='qemu' type='raw' cache='none' io='native'/>` : `<driver name='qemu' type='raw'/>`;
  return (
    `    <disk type='block' device='disk'>\n` +
    `      ${driver}\n` +
    `      <source dev='${source}'/>\n` +
    `      <target dev='${target}' bus='virtio'/>\n` +
    `    </disk>\n`
  );
}

export function tenantXml(t: TenantSpec): string {
  const disks =
    t.disks.map((d) => diskXml(`/dev/mapper/${d.oldVolume}`, d.target, d.cache ?? 'none')).join('') +
    (t.externalDisks ?? []).map((d) => diskXml(d.source, d.target, 'none')).join('');
  // tenants with something to say write it to a serial file, appended across restarts so the
  // log of a migration holds every boot
  const serial = t.powersOffOnAcpi || t.linux
    ? `    <serial type='file'>\n      <source path='${serialLogPath(t.name)}' append='on'/>\n      <target port='0'/>\n    </serial>\n`
    : '';
  const os = t.linux
    ? `  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    <kernel>${TENANT_KERNEL}</kernel>\n    <initrd>${TENANT_INITRD}</initrd>\n` +
      // quiet: every console line costs under nested TCG
      `    <cmdline>console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init</cmdline>\n  </os>\n`
    : `  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n`;
  return (
    `<domain type='qemu'>\n` +
    `  <name>${t.name}</name>\n` +
    `  <uuid>${tenantUuid(t.name)}</uuid>\n` +
    `  <memory unit='MiB'>${t.linux ? 160 : 64}</memory>\n` +
    `  <vcpu>1</vcpu>\n` +
    os +
    `  <features>\n    <acpi/>\n  </features>\n` +
    `  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n` +
    `  <devices>\n` +
    `    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n` +
    disks +
    serial +
    `    <memballoon model='none'/>\n` +
    `  </devices>\n` +
    `</domain>\n`
  );
}

/** How a lab host differs from a stock Debian hypervisor, if at all (guest/boot.sh reads it). */
export interface HostConfig {
  hostName: string;
  /** 'stock': libvirt-daemon-system's files as packaged (qemu as libvirt-qemu, dynamic
   * ownership, a mount namespace per qemu, virtlogd); 'relaxed': LAB-NOTES' qemu.conf (qemu as
   * root, no namespaces, no security driver), for telling a stock-host failure from others */
  libvirt: 'stock' | 'relaxed';
  /** load libvirt's AppArmor profiles before libvirtd starts (stock Debian does) */
  apparmor: boolean;
  /** extra ms before every ssh session's shell (production's PAM, logind, load) */
  sshSessionDelayMs: number;
  /** sshd's MaxSessions; undefined: sshd's own default (10) */
  sshMaxSessions?: number;
  /** sshd's MaxStartups; undefined: sshd's own default (10:30:100) */
  sshMaxStartups?: string;
}

const SAFE_HOST_NAME = /^[a-z][a-z0-9-]{0,30}$/;

/** host.env: shell assignments that guest/boot.sh sources. Pure. */
export function hostEnv(c: HostConfig): string {
  if (!SAFE_HOST_NAME.test(c.hostName)) throw new Error(`lab host name not allowed: ${c.hostName}`);
  if (!Number.isInteger(c.sshSessionDelayMs) || c.sshSessionDelayMs < 0) throw new Error(`bad ssh session delay ${c.sshSessionDelayMs}`);
  if (c.sshMaxSessions !== undefined && (!Number.isInteger(c.sshMaxSessions) || c.sshMaxSessions < 0)) throw new Error(`bad MaxSessions ${c.sshMaxSessions}`);
  if (c.sshMaxStartups !== undefined && !/^\d+(:\d+:\d+)?$/.test(c.sshMaxStartups)) throw new Error(`bad MaxStartups ${c.sshMaxStartups}`);
  return [
    '# written by test/lab/lab.ts for guest/boot.sh',
    `LAB_HOSTNAME=${c.hostName}`,
    `LAB_LIBVIRT=${c.libvirt}`,
    `LAB_APPARMOR=${c.apparmor ? 1 : 0}`,
    `LAB_SSH_DELAY_MS=${c.sshSessionDelayMs}`,
    `LAB_SSH_MAX_SESSIONS=${c.sshMaxSessions ?? ''}`,
    `LAB_SSH_MAX_STARTUPS=${c.sshMaxStartups ?? ''}`,
  ].join('\n') + '\n';
}

/** the qemu.conf of a 'relaxed' host (LAB-NOTES); a stock host uses the packaged one */
export function relaxedQemuConf(): string {
  return ['stdio_handler = "file"', 'security_driver = "none"', 'user = "root"', 'group = "root"', 'namespaces = []'].join('\n') + '\n';
}

function shellWord(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** the script guest/boot.sh sources: its functions fill_volumes, make_volume, format_volume,
 * install_tenant_boot, define_tenant, start_tenant, wait_tenants do the work */
export function guestPlan(
  tenants: readonly TenantSpec[],
  spares: readonly SpareVolume[],
  paths: { bootSector: string; haltSector: string; tenantXml: (name: string) => string },
): string {
  const fills: string[] = [];
  const makes: string[] = [];
  const formats: string[] = [];
  for (const t of tenants) {
    t.disks.forEach((d, i) => {
      const boot = i !== 0 || t.linux ? '' : `:${t.powersOffOnAcpi ? paths.bootSector : paths.haltSector}`;
      if (d.fileSystem === undefined) fills.push(`${d.oldVolume}:${d.sizeMiB}${boot}`);
      makes.push(`make_volume ${shellWord(d.oldVolume)} ${d.sizeMiB}`);
      makes.push(`make_volume ${shellWord(d.newVolume)} ${d.sizeMiB}`);
      if (d.fileSystem !== undefined) formats.push(`format_volume ${shellWord(d.oldVolume)} ${d.fileSystem}`);
    });
  }
  for (const s of spares) {
    if (s.patterned) fills.push(`${s.name}:${s.sizeMiB}`);
    makes.push(`make_volume ${shellWord(s.name)} ${s.sizeMiB}`);
  }
  const lines = ['# written by test/lab/lab.ts for guest/boot.sh'];
  if (fills.length) lines.push(`fill_volumes ${fills.map(shellWord).join(' ')}`);
  lines.push(...makes);
  // the /dev/mapper nodes are udev's: settle before formatting through them
  lines.push('udevadm settle --timeout=30', ...formats);
  if (tenants.some((t) => t.linux)) lines.push('install_tenant_boot');
  lines.push('mark volumes');
  for (const t of tenants) lines.push(`define_tenant ${shellWord(paths.tenantXml(t.name))}`);
  for (const t of tenants) if (t.start !== false) lines.push(`start_tenant ${shellWord(t.name)}`);
  lines.push('wait_tenants');
  return lines.join('\n') + '\n';
}
