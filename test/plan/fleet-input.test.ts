import { describe, expect, it } from '@jest/globals';
import { parseInventory } from '../../src/inventory/parse.js';
import { planBundles } from '../../src/plan/bundles.js';
import { ASSUMED_TARGET, fleetVmsFromInventory, fleetVmsFromPlan, unnamedArrayOf } from '../../src/plan/fleet-input.js';
import type { Plan, VmPlan } from '../../src/plan/types.js';

const GiB = 1024 ** 3;

const inventory = parseInventory(
  `
hosts:
  kvm1: { uri: 'qemu+ssh://root@kvm1/system', ssh: root@kvm1 }
  kvm2: { uri: 'qemu+ssh://root@kvm2/system', ssh: root@kvm2 }
vms:
  - { name: dns1, host: kvm1, antiAffinity: [dns] }
  - { name: db1, host: kvm1, dependsOn: [dns1], simulate: { sizes: { vda: 500GiB, vdb: 100GiB } } }
  - { name: web1, host: kvm2, dependsOn: [db1, dns1], array: fast, disks: { vda: /dev/mapper/new-web1 } }
  - { name: old1, host: kvm2, dependsOn: [db1] }
mapping:
  - { from: '^/dev/mapper/old-(.+)$', to: '/dev/mapper/new-$1', array: newsan }
`,
  '/nowhere/inventory.yaml',
);

function vmPlan(name: string, host: string, disks: VmPlan['disks'], done = false): VmPlan {
  return { name, host, uri: 'qemu+ssh://x/system', disks, preflight: [], stepsFrom: null, ...(done ? { done: true } : {}) };
}

const disk = (target: string, extra: Partial<VmPlan['disks'][number]> = {}): VmPlan['disks'][number] => ({ target, old: `/dev/mapper/old-${target}`, new: `/dev/mapper/new-${target}`, mirror: `/dev/md/ss-${target}`, ...extra });

describe('fleetVmsFromPlan', () => {
  const plan: Plan = {
    inventory: inventory.file,
    createdAt: '2026-01-01T00:00:00Z',
    vms: [
      vmPlan('dns1', 'kvm1', [disk('vda', { array: 'newsan', sizeBytes: 7 * GiB })]),
      vmPlan('db1', 'kvm1', [disk('vda', { array: 'newsan' }), disk('vdb')]),
      vmPlan('web1', 'kvm2', [disk('vda', { array: 'fast' })]),
      vmPlan('old1', 'kvm2', [], true),
    ],
  };
  const fleet = fleetVmsFromPlan(inventory, plan, { defaultSizeBytes: 3 * GiB });
  const byName = new Map(fleet.map((v) => [v.name, v]));

  it('takes sizes from the plan first, then simulate.sizes, then the default', () => {
    expect(byName.get('dns1')!.disks).toEqual([{ target: 'vda', sizeBytes: 7 * GiB, array: 'newsan' }]);
    expect(byName.get('db1')!.disks.map((d) => d.sizeBytes)).toEqual([500 * GiB, 100 * GiB]);
    expect(byName.get('web1')!.disks[0]!.sizeBytes).toBe(3 * GiB);
  });

  it("takes arrays from the plan, and the host's own array when none is named", () => {
    expect(byName.get('db1')!.disks.map((d) => d.array)).toEqual(['newsan', unnamedArrayOf('kvm1')]);
    expect(byName.get('web1')!.disks[0]!.array).toBe('fast');
  });

  it('leaves out VMs already done and links to them, keeps dependencies and anti-affinity', () => {
    expect(fleet.map((v) => v.name)).toEqual(['dns1', 'db1', 'web1']);
    expect(byName.get('web1')!.dependsOn).toEqual(['db1', 'dns1']);
    expect(byName.get('dns1')!.antiAffinity).toEqual(['dns']);
    // a valid planBundles input: every dependency is in the fleet
    const bundles = planBundles(fleet, { bundleMaxSize: 8 });
    expect(bundles.bundles.flatMap((b) => b.vms).sort()).toEqual(['db1', 'dns1', 'web1']);
  });
});

describe('fleetVmsFromInventory (the model: no domain read)', () => {
  const model = fleetVmsFromInventory(inventory, { defaultSizeBytes: 20 * GiB });
  const byName = new Map(model.vms.map((v) => [v.name, v]));

  it('names the disks from disks and simulate.sizes, and assumes one disk when neither names any', () => {
    expect(byName.get('db1')!.disks.map((d) => [d.target, d.sizeBytes])).toEqual([['vda', 500 * GiB], ['vdb', 100 * GiB]]);
    expect(byName.get('web1')!.disks.map((d) => [d.target, d.sizeBytes])).toEqual([['vda', 20 * GiB]]);
    expect(byName.get('dns1')!.disks.map((d) => d.target)).toEqual([ASSUMED_TARGET]);
    expect(model.assumedDisks).toEqual(['dns1', 'old1']);
    expect(model.defaultSizes).toEqual(['dns1/vda', 'web1/vda', 'old1/vda']);
  });

  it("uses the VM's array, else the one array of the mapping rules", () => {
    expect(byName.get('web1')!.disks[0]!.array).toBe('fast');
    expect(byName.get('db1')!.disks[0]!.array).toBe('newsan');
  });

  it('falls back to the host when the mapping rules name several arrays or none', () => {
    const two = { ...inventory, mapping: [...inventory.mapping, { ...inventory.mapping[0]!, array: 'other', index: 1 }] };
    const m = fleetVmsFromInventory(two, { defaultSizeBytes: GiB });
    expect(m.vms.find((v) => v.name === 'db1')!.disks[0]!.array).toBe(unnamedArrayOf('kvm1'));
    // and says so: the model cannot apply the arrays' limits to them (web1 names its own)
    expect(m.unknownArrays).toContain('db1');
    expect(m.unknownArrays).not.toContain('web1');
    expect(model.unknownArrays).toEqual([]);
  });
});
