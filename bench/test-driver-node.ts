// The node file of a rehearsal host (libvirt's test driver, `testDriverNode:` in an inventory):
// the domains the host runs, one block disk per source. Both generated fleets of the bench
// write theirs with it.

export interface NodeDomain {
  name: string;
  disks: readonly { source: string; target: string }[];
}

/** The node file's text. UUIDs number the domains from `firstIndex` on (count them across the
 * fleet: libvirt's UUIDs are unique). */
export function testDriverNode(domains: readonly NodeDomain[], firstIndex: number): string {
  const blocks = domains.map((d, i) => `  <domain type='test'>
    <name>${d.name}</name>
    <uuid>00000000-0000-4000-8000-${(firstIndex + i).toString(16).padStart(12, '0')}</uuid>
    <memory unit='KiB'>1048576</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
${d.disks.map((k) => `      <disk type='block' device='disk'><source dev='${k.source}'/><target dev='${k.target}' bus='virtio'/></disk>`).join('\n')}
    </devices>
  </domain>`);
  return `<node>\n${blocks.join('\n')}\n</node>\n`;
}
