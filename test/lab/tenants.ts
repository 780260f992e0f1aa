// What the lab guest holds, as plain data: SAN volumes, tenant domains and their XML, the
// qemu.conf, and the plan that guest/boot.sh runs. Pure: no fs, no processes.
import { createHash } from 'node:crypto';

export interface LabDisk {
  /** target dev inside the tenant, e.g. vda */
  target: string;
  /** dm-linear volume on the "old SAN", /dev/mapper/<oldVolume>, filled with a pattern */
  oldVolume: string;
  /** dm-linear volume on the "new SAN", /dev/mapper/<newVolume>, zeros */
  newVolume: string;
  sizeMiB: number;
}

export interface TenantSpec {
  name: string;
  disks: LabDisk[];
  /** boots from its first disk a boot sector that powers off on an ACPI power-button press;
   * otherwise a no-OS SeaBIOS domain that ignores `virsh shutdown` */
  powersOffOnAcpi?: boolean;
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

export const DEFAULT_TENANTS: readonly TenantSpec[] = [
  { name: 'vm1', disks: [{ target: 'vda', oldVolume: 'old-vm1', newVolume: 'new-vm1', sizeMiB: 256 }] },
  {
    name: 'vm2',
    disks: [
      { target: 'vda', oldVolume: 'old-vm2-a', newVolume: 'new-vm2-a', sizeMiB: 64 },
      { target: 'vdb', oldVolume: 'old-vm2-b', newVolume: 'new-vm2-b', sizeMiB: 64 },
    ],
  },
  { name: 'vm3', disks: [{ target: 'vda', oldVolume: 'old-vm3', newVolume: 'new-vm3', sizeMiB: 64 }] },
  {
    name: 'vm4',
    powersOffOnAcpi: true,
    disks: [{ target: 'vda', oldVolume: 'old-vm4', newVolume: 'new-vm4', sizeMiB: 64 }],
  },
];

// names reach dmsetup, virsh and file names in the guest: keep them to a tame alphabet
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
const SAFE_TARGET = /^(vd|sd|hd)[a-z]{1,2}$/;

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
    if (t.disks.length === 0) throw new Error(`lab tenant ${t.name} has no disk`);
    for (const d of t.disks) {
      if (!SAFE_TARGET.test(d.target)) throw new Error(`lab tenant ${t.name}: bad target ${d.target}`);
      if (!Number.isInteger(d.sizeMiB) || d.sizeMiB < 1) throw new Error(`lab tenant ${t.name}: bad size`);
      addVolume(d.oldVolume);
      addVolume(d.newVolume);
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

export function tenantXml(t: TenantSpec): string {
  const disks = t.disks
    .map(
      (d) =>
        `    <disk type='block' device='disk'>\n` +
        `      <driver name='qemu' type='raw' cache='none' io='native'/>\n` +
        `      <source dev='/dev/mapper/${d.oldVolume}'/>\n` +
        `      <target dev='${d.target}' bus='virtio'/>\n` +
        `    </disk>\n`,
    )
    .join('');
  // the ACPI tenant reports on its serial port what it saw: proof that it powered off itself
  const serial = t.powersOffOnAcpi
    ? `    <serial type='file'>\n      <source path='/var/log/libvirt/qemu/${t.name}-serial.log'/>\n      <target port='0'/>\n    </serial>\n`
    : '';
  return (
    `<domain type='qemu'>\n` +
    `  <name>${t.name}</name>\n` +
    `  <uuid>${tenantUuid(t.name)}</uuid>\n` +
    `  <memory unit='MiB'>64</memory>\n` +
    `  <vcpu>1</vcpu>\n` +
    `  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n` +
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

export interface QemuConfOptions {
  /** LAB-NOTES' settings (default); false keeps libvirt's production defaults: qemu as the
   * libvirt-qemu user inside libvirt's own /dev namespace */
  qemuRunsAsRoot: boolean;
}

export function qemuConf(o: QemuConfOptions): string {
  const lines = ['stdio_handler = "file"', 'security_driver = "none"'];
  if (o.qemuRunsAsRoot) lines.push('user = "root"', 'group = "root"', 'namespaces = []');
  return lines.join('\n') + '\n';
}

function shellWord(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** the script guest/boot.sh sources: its functions fill_volumes, make_volume, define_tenant,
 * start_tenant, wait_tenants do the work */
export function guestPlan(
  tenants: readonly TenantSpec[],
  spares: readonly SpareVolume[],
  paths: { bootSector: string; tenantXml: (name: string) => string },
): string {
  const fills: string[] = [];
  const makes: string[] = [];
  for (const t of tenants) {
    t.disks.forEach((d, i) => {
      const boot = t.powersOffOnAcpi && i === 0 ? `:${paths.bootSector}` : '';
      fills.push(`${d.oldVolume}:${d.sizeMiB}${boot}`);
      makes.push(`make_volume ${shellWord(d.oldVolume)} ${d.sizeMiB}`);
      makes.push(`make_volume ${shellWord(d.newVolume)} ${d.sizeMiB}`);
    });
  }
  for (const s of spares) {
    if (s.patterned) fills.push(`${s.name}:${s.sizeMiB}`);
    makes.push(`make_volume ${shellWord(s.name)} ${s.sizeMiB}`);
  }
  const lines = ['# written by test/lab/lab.ts for guest/boot.sh'];
  if (fills.length) lines.push(`fill_volumes ${fills.map(shellWord).join(' ')}`);
  lines.push(...makes);
  lines.push('udevadm settle --timeout=30', 'mark volumes');
  for (const t of tenants) lines.push(`define_tenant ${shellWord(paths.tenantXml(t.name))}`);
  for (const t of tenants) if (t.start !== false) lines.push(`start_tenant ${shellWord(t.name)}`);
  lines.push('wait_tenants');
  return lines.join('\n') + '\n';
}
