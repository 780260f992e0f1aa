// A generated fleet (src/plan/fleet-gen.ts) written as an inventory sanshift loads, with
// real-looking ssh hosts: `simulate` then plays the scheduler's model and contacts no host.
// Used by the page's browser test and by bench/timeline-page.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateFleet } from '../../src/plan/fleet-gen.js';

/** One host per 20 VMs (500 hosts for 10,000 VMs, the fleet). */
export const hostsFor = (vms: number): number => Math.max(4, Math.round(vms / 20));

export function writeFleetInventory(dir: string, vms: number, seed = 42): string {
  const fleet = generateFleet({ vms, hosts: hostsFor(vms), seed });
  const usedHosts = [...new Set(fleet.vms.map((v) => v.host))].sort();
  const doc = {
    hosts: Object.fromEntries(usedHosts.map((h) => [h, { uri: `qemu+ssh://root@${h}/system`, shell: 'ssh' }])),
    vms: fleet.vms.map((v) => ({
      name: v.name,
      host: v.host,
      ...(v.dependsOn.length > 0 ? { dependsOn: v.dependsOn } : {}),
      ...(v.antiAffinity.length > 0 ? { antiAffinity: v.antiAffinity } : {}),
      // the inventory names one array per VM: its first disk's
      array: v.disks[0]!.array,
      simulate: { sizes: Object.fromEntries(v.disks.map((d) => [d.target, `${Math.round(d.sizeBytes / 1024 ** 3)}GiB`])) },
    })),
    policy: { resyncSpeedMax: `${fleet.resyncSpeedMaxKiB}KiB/s` },
    limits: {
      mirrorsPerHost: fleet.limits.mirrorsPerHost,
      downWindows: fleet.limits.downWindows,
      global: fleet.limits.global,
      bundleMaxSize: fleet.limits.bundleMaxSize,
      hostBandwidth: `${fleet.limits.hostBandwidthKiB}KiB/s`,
      arrayBandwidth: Object.fromEntries(Object.entries(fleet.limits.arrayBandwidthKiB).map(([a, k]) => [a, `${k}KiB/s`])),
    },
  };
  const file = join(dir, `fleet-${vms}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}
