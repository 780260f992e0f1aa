// Writes the rehearsal fleet of examples/fleet: inventory.yaml and one libvirt test-driver node
// file per host (hv1.xml ...), from the table below, so the domains and the inventory agree.
// Run from the repository root: `npx tsx examples/fleet/generate.ts` (the output is committed).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ExampleVm {
  name: string;
  host: string;
  /** gold or silver: the new array its volumes go to (through the mapping rules) */
  tier: 'gold' | 'silver';
  /** GiB per disk, vda first */
  disksGiB: number[];
  dependsOn?: string[];
  antiAffinity?: string[];
  comment?: string;
}

// A small company: two DNS servers (one of them a hub everything uses), LDAP, and service
// stacks (web -> app -> db) whose redundant members must never be down together.
const FLEET: ExampleVm[] = [
  { name: 'dns1', host: 'hv1', tier: 'gold', disksGiB: [20], antiAffinity: ['dns'], comment: 'a hub: every stack depends on it, so it gets a window of its own' },
  { name: 'dns2', host: 'hv3', tier: 'gold', disksGiB: [20], antiAffinity: ['dns'] },
  { name: 'ldap1', host: 'hv2', tier: 'gold', disksGiB: [40], dependsOn: ['dns1'] },
  { name: 'shop-db1', host: 'hv1', tier: 'gold', disksGiB: [300, 100], dependsOn: ['dns1'], antiAffinity: ['shop-db'] },
  { name: 'shop-db2', host: 'hv2', tier: 'gold', disksGiB: [300, 100], dependsOn: ['dns1'], antiAffinity: ['shop-db'] },
  { name: 'shop-app1', host: 'hv1', tier: 'silver', disksGiB: [40], dependsOn: ['shop-db1', 'ldap1'], antiAffinity: ['shop-app'] },
  { name: 'shop-app2', host: 'hv2', tier: 'silver', disksGiB: [40], dependsOn: ['shop-db2', 'ldap1'], antiAffinity: ['shop-app'] },
  { name: 'shop-web1', host: 'hv3', tier: 'silver', disksGiB: [20], dependsOn: ['shop-app1'], antiAffinity: ['shop-web'] },
  { name: 'shop-web2', host: 'hv4', tier: 'silver', disksGiB: [20], dependsOn: ['shop-app2'], antiAffinity: ['shop-web'] },
  { name: 'crm-db1', host: 'hv3', tier: 'gold', disksGiB: [500], dependsOn: ['dns1'] },
  { name: 'crm-app1', host: 'hv3', tier: 'silver', disksGiB: [60], dependsOn: ['crm-db1', 'ldap1'] },
  { name: 'crm-web1', host: 'hv4', tier: 'silver', disksGiB: [20], dependsOn: ['crm-app1'] },
  { name: 'mail-mx1', host: 'hv1', tier: 'silver', disksGiB: [80], dependsOn: ['dns1'], antiAffinity: ['mx'] },
  { name: 'mail-mx2', host: 'hv4', tier: 'silver', disksGiB: [80], dependsOn: ['dns1'], antiAffinity: ['mx'] },
  { name: 'mail-store1', host: 'hv2', tier: 'gold', disksGiB: [200, 200], dependsOn: ['ldap1'] },
  { name: 'mail-imap1', host: 'hv2', tier: 'silver', disksGiB: [30], dependsOn: ['mail-store1', 'ldap1'] },
  { name: 'wiki-db1', host: 'hv4', tier: 'gold', disksGiB: [100] },
  { name: 'wiki-web1', host: 'hv4', tier: 'silver', disksGiB: [30], dependsOn: ['wiki-db1', 'dns1'] },
  { name: 'git1', host: 'hv1', tier: 'gold', disksGiB: [250], dependsOn: ['ldap1'] },
  { name: 'ci-runner1', host: 'hv2', tier: 'silver', disksGiB: [60], dependsOn: ['git1'], antiAffinity: ['ci'] },
  { name: 'ci-runner2', host: 'hv3', tier: 'silver', disksGiB: [60], dependsOn: ['git1'], antiAffinity: ['ci'] },
  { name: 'mon1', host: 'hv3', tier: 'silver', disksGiB: [120], dependsOn: ['dns1'] },
  { name: 'log1', host: 'hv4', tier: 'silver', disksGiB: [400], dependsOn: ['mon1'] },
  { name: 'backup1', host: 'hv1', tier: 'silver', disksGiB: [500] },
  { name: 'files1', host: 'hv2', tier: 'gold', disksGiB: [200, 150], dependsOn: ['ldap1'] },
  { name: 'print1', host: 'hv3', tier: 'silver', disksGiB: [20], dependsOn: ['ldap1'] },
  { name: 'vpn1', host: 'hv4', tier: 'gold', disksGiB: [20], dependsOn: ['ldap1'], antiAffinity: ['vpn'] },
  { name: 'vpn2', host: 'hv1', tier: 'gold', disksGiB: [20], dependsOn: ['ldap1'], antiAffinity: ['vpn'] },
  { name: 'proxy1', host: 'hv2', tier: 'silver', disksGiB: [20], dependsOn: ['dns1'], antiAffinity: ['proxy'] },
  { name: 'proxy2', host: 'hv3', tier: 'silver', disksGiB: [20], dependsOn: ['dns2'], antiAffinity: ['proxy'] },
];

const HOSTS = ['hv1', 'hv2', 'hv3', 'hv4'];
const TARGETS = ['vda', 'vdb', 'vdc'];

function domainXml(vm: ExampleVm, index: number): string {
  const hex = (index + 1).toString(16).padStart(12, '0');
  const disks = vm.disksGiB
    .map((_, i) => `      <disk type='block' device='disk'>
        <driver name='qemu' type='raw' cache='none' io='native'/>
        <source dev='/dev/mapper/old-${vm.tier}-${vm.name}-${TARGETS[i]}'/>
        <target dev='${TARGETS[i]}' bus='virtio'/>
      </disk>`)
    .join('\n');
  return `  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>${vm.name}</name>
    <uuid>5a5e1f70-0000-4000-8000-${hex}</uuid>
    <memory unit='KiB'>1048576</memory>
    <currentMemory unit='KiB'>1048576</currentMemory>
    <vcpu placement='static'>1</vcpu>
    <os>
      <type arch='x86_64'>hvm</type>
      <boot dev='hd'/>
    </os>
    <on_poweroff>destroy</on_poweroff>
    <on_reboot>restart</on_reboot>
    <on_crash>destroy</on_crash>
    <devices>
${disks}
      <interface type='network'>
        <mac address='52:54:00:5a:00:${(index + 1).toString(16).padStart(2, '0')}'/>
        <source network='default'/>
      </interface>
    </devices>
  </domain>`;
}

function nodeXml(host: string): string {
  const domains = FLEET.map((vm, i) => ({ vm, i })).filter(({ vm }) => vm.host === host);
  return `<node>
  <!-- GENERATED by examples/fleet/generate.ts: the domains of host ${host} for libvirt's test driver.
       No runstate means running. -->
${domains.map(({ vm, i }) => domainXml(vm, i)).join('\n')}
</node>
`;
}

function inventoryYaml(): string {
  const list = (xs: string[] | undefined): string => `[${(xs ?? []).join(', ')}]`;
  const vms = FLEET.map((vm) => {
    const lines = [`  - name: ${vm.name}${vm.comment === undefined ? '' : `   # ${vm.comment}`}`, `    host: ${vm.host}`];
    if (vm.dependsOn !== undefined) lines.push(`    dependsOn: ${list(vm.dependsOn)}`);
    if (vm.antiAffinity !== undefined) lines.push(`    antiAffinity: ${list(vm.antiAffinity)}`);
    lines.push(`    simulate: { sizes: { ${vm.disksGiB.map((g, i) => `${TARGETS[i]}: ${g}GiB`).join(', ')} } }`);
    return lines.join('\n');
  });
  return `# GENERATED by examples/fleet/generate.ts (edit the table there, then run it again).
# A rehearsal fleet of ${FLEET.length} VMs on ${HOSTS.length} hosts and 2 new arrays that runs on any machine:
# libvirt's test driver for the domains (hv1.xml ... beside this file) and simulated md hosts.
# Nothing real is touched.  Try:
#   sanshift plan     -i examples/fleet/inventory.yaml     # bundles and the order of their windows
#   sanshift simulate -i examples/fleet/inventory.yaml     # the whole run on a virtual clock
hosts:
${HOSTS.map((h) => `  ${h}:\n    testDriverNode: ${h}.xml   # libvirt's test driver; relative to this file\n    shell: simulated`).join('\n')}

vms:
${vms.join('\n')}

# the tier in the old volume's name says which new array it goes to
mapping:
  - from: '^/dev/mapper/old-gold-(.+)$'
    to: '/dev/mapper/new-gold-$1'
    array: gold
  - from: '^/dev/mapper/old-silver-(.+)$'
    to: '/dev/mapper/new-silver-$1'
    array: silver

policy:
  shutdownTimeout: 120s
  onShutdownTimeout: force
  resyncSpeedMax: 200MiB/s
  pollInterval: 10s
  health: { settle: 10s }

limits:
  mirrorsPerHost: 4
  downWindows: 3
  global: 12
  bundleMaxSize: 4          # dns1 has more dependents than that: a hub
  hostBandwidth: 300MiB/s
  arrayBandwidth: { gold: 400MiB/s, silver: 300MiB/s }
`;
}

const here = dirname(fileURLToPath(import.meta.url));
for (const host of HOSTS) writeFileSync(join(here, `${host}.xml`), nodeXml(host));
writeFileSync(join(here, 'inventory.yaml'), inventoryYaml());
