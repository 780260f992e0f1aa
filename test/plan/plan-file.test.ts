import { describe, expect, test } from '@jest/globals';
import { InputError } from '../../src/util/errors.js';
import { ChangeKind, comparePlans, MASKED, maskSecrets, parsePlanFile, planFileOf, renderPlanFile, type PlanFile } from '../../src/plan/plan-file.js';
import { defaultPolicy } from '../../src/inventory/policy.js';
import type { Plan, VmPlan } from '../../src/plan/types.js';

const xml = (memory: number, passwd = 's3cr3t') => `<domain type='kvm'>
  <name>web1</name>
  <memory unit='KiB'>${memory}</memory>
  <devices>
    <disk type='block' device='disk'><source dev='/dev/mapper/old-web1'/><target dev='vda' bus='virtio'/></disk>
    <disk type='block' device='disk'><source dev='/dev/mapper/old-x'/><target dev='vdb' bus='virtio'/></disk>
    <graphics type='vnc' port='-1' autoport='yes' passwd='${passwd}'/>
    <graphics type="spice" passwd="it's &quot;spicy&quot;"/>
  </devices>
</domain>`;

function vmPlan(over: Partial<VmPlan> = {}, runId = 'run-a', memory = 1048576, passwd = 's3cr3t'): VmPlan {
  const original = xml(memory, passwd);
  return {
    name: 'web1',
    host: 'hv1',
    uri: 'qemu+ssh://root@hv1/system',
    disks: [{ target: 'vda', old: '/dev/mapper/old-web1', new: '/dev/mapper/new-web1', mirror: '/dev/md/ss-web1-vda', array: 'gold', sizeBytes: 20 * 1024 ** 3 }],
    preflight: [],
    stepsFrom: { definition: original, runId, policy: defaultPolicy },
    ...over,
  };
}

const plan = (vms: VmPlan[]): Plan => ({ inventory: '/inv.yaml', createdAt: '2026-11-24T00:00:00.000Z', vms });
const inv = { file: '/inv.yaml', sha256: 'a'.repeat(64) };
const saved = (vms: VmPlan[], inventory = inv): PlanFile => planFileOf(plan(vms), inventory, [], 'sanshift test');

describe('secrets', () => {
  test('console passwords are masked in both quote styles, nothing else is touched', () => {
    const masked = maskSecrets(xml(1));
    expect(masked).not.toContain('s3cr3t');
    expect(masked).not.toContain('spicy');
    expect(masked).toContain(`passwd='${MASKED}'`);
    expect(masked).toContain(`passwd="${MASKED}"`);
    expect(masked).toContain("<source dev='/dev/mapper/old-web1'/>");
  });

  test('the saved file holds no password, in the definition or in any step\'s XML', () => {
    const text = renderPlanFile(saved([vmPlan()]));
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('spicy');
    expect(text).toContain(MASKED);
  });

  test('a changed console password alone is not a change (what the operator reviewed is masked)', () => {
    expect(comparePlans(saved([vmPlan()]), saved([vmPlan({}, 'run-a', 1048576, 'other')]))).toEqual([]);
  });
});

describe('comparePlans', () => {
  test('the same fleet planned again, with another run id: no change', () => {
    expect(comparePlans(saved([vmPlan()]), saved([vmPlan({}, 'run-b')]))).toEqual([]);
  });

  test('a definition change names the VM and the lines that changed', () => {
    const changes = comparePlans(saved([vmPlan()]), saved([vmPlan({}, 'run-a', 2097152)]));
    expect(changes).toEqual([{ vm: 'web1', kind: ChangeKind.definition, detail: "its persistent definition changed: - <memory unit='KiB'>1048576</memory>; + <memory unit='KiB'>2097152</memory>" }]);
  });

  test('a device change, a size change, a host change, the inventory: each named', () => {
    const before = saved([vmPlan()]);
    const moved = vmPlan({ host: 'hv2', uri: 'qemu+ssh://root@hv2/system', disks: [{ target: 'vda', old: '/dev/mapper/old-web1', new: '/dev/mapper/new-web1-b', mirror: '/dev/md/ss-web1-vda', array: 'gold', sizeBytes: 40 * 1024 ** 3 }] });
    const after = saved([moved], { file: '/inv.yaml', sha256: 'b'.repeat(64) });
    const changes = comparePlans(before, after);
    expect(changes.map((c) => [c.vm, c.kind])).toEqual([
      [null, ChangeKind.inventory],
      ['web1', ChangeKind.host],
      ['web1', ChangeKind.device],
      ['web1', ChangeKind.size],
    ]);
    expect(changes[2]!.detail).toBe('disk vda: new volume /dev/mapper/new-web1 then, /dev/mapper/new-web1-b now');
    expect(changes[3]!.detail).toBe('disk vda: /dev/mapper/old-web1 was 20.0 GiB (21474836480 bytes), is 40.0 GiB (42949672960 bytes) now');
  });

  test('VMs that came or went, a disk that came, a migration completed since', () => {
    const db1 = vmPlan({ name: 'db1' });
    const withDisk = vmPlan({ disks: [...vmPlan().disks, { target: 'vdb', old: '/dev/mapper/old-x', new: '/dev/mapper/new-x', mirror: '/dev/md/ss-web1-vdb' }] });
    const changes = comparePlans(saved([vmPlan(), db1]), saved([withDisk, vmPlan({ name: 'app1' })]));
    expect(changes.map((c) => [c.vm, c.kind])).toEqual([
      ['web1', ChangeKind.device],
      ['db1', ChangeKind.removed],
      ['app1', ChangeKind.added],
    ]);
    // planned done: no disks, no definition; the state change alone is named
    const done = comparePlans(saved([vmPlan()]), saved([vmPlan({ done: true, stepsFrom: null, disks: [] })]));
    expect(done).toEqual([{ vm: 'web1', kind: ChangeKind.state, detail: 'its migration completed since the plan: nothing left to do' }]);
  });

  test('same inputs, other steps (another sanshift): a steps change', () => {
    const other = saved([vmPlan()]);
    other.fingerprint['web1']!.stepsSha256 = '0'.repeat(64);
    expect(comparePlans(other, saved([vmPlan()])).map((c) => c.kind)).toEqual([ChangeKind.steps]);
  });
});

describe('parsePlanFile', () => {
  const good = renderPlanFile(saved([vmPlan()]));

  test('reads what renderPlanFile wrote', () => {
    const back = parsePlanFile(good, 'p.json');
    expect(back.fingerprint['web1']!.disks[0]!.new).toBe('/dev/mapper/new-web1');
    expect(comparePlans(back, saved([vmPlan()]))).toEqual([]);
  });

  const refusal = (text: string): string => {
    try {
      parsePlanFile(text, 'p.json');
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      return (err as InputError).message;
    }
    throw new Error('not refused');
  };

  test('not JSON, not a plan, a newer format, a missing key: refused naming the file, the key and the fix', () => {
    expect(refusal('{')).toMatch(/^p\.json: p\.json is not a saved plan: not JSON/);
    expect(refusal('{"format":"other"}')).toMatch(/p\.json format: .*format: Invalid input/s);
    expect(refusal(good.replace('"version": 1', '"version": 7'))).toMatch(/format version 7, written by a newer sanshift/);
    const noSha = JSON.parse(good) as Record<string, unknown>;
    delete (noSha['inventory'] as Record<string, unknown>)['sha256'];
    expect(refusal(JSON.stringify(noSha))).toMatch(/inventory\.sha256/);
    expect(refusal('{')).toContain('fix: make a new plan: sanshift plan -i INVENTORY -o p.json');
  });
});
