// The bad-input table of the foundation issue, for everything only the live domains can tell:
// each case is refused with a message naming the VM (and key), exit code 2, nothing touched.
import { describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { Fleet, NODE_XML } from '../engine/harness.js';

const HEAD = `
hosts:
  hv1:
    testDriverNode: node.xml
    shell: simulated
mapping:
  - from: '^/dev/mapper/old-(.+)$'
    to: '/dev/mapper/new-$1'
vms:
`;

async function problemsOf(vms: string): Promise<string[]> {
  const fleet = new Fleet(HEAD + vms);
  const outcome = await fleet.plan();
  return outcome.problems.map((p) => `${p.at?.vm ?? '-'}: ${p.message}`);
}

describe('plan refuses what the live domains say is wrong', () => {
  it.each([
    ['a VM that does not exist on its host', '  - { name: web9, host: hv1 }', /web9: VM web9 does not exist on host hv1 \(test:\/\/\/.*node\.xml\)/],
    ['a disk target the domain does not have', '  - { name: web1, host: hv1, disks: { vdz: /dev/mapper/new-x } }', /web1: disk target vdz is not in the domain's definition \(its disks: vda\)/],
    ['a file-backed disk', '  - { name: files1, host: hv1, disks: { vda: /dev/mapper/new-files1 } }', /files1: disk vda cannot be moved: type='file' .*file-backed disks are out of scope/],
    ['a network disk', '  - { name: ceph1, host: hv1, disks: { vda: /dev/mapper/new-ceph1 } }', /ceph1: disk vda cannot be moved: type='network'/],
    ['a cdrom', '  - { name: app1, host: hv1, disks: { sda: /dev/mapper/new-iso } }', /app1: disk sda cannot be moved: a cdrom drive, not a disk/],
    ['a VM with nothing to move', '  - { name: files1, host: hv1 }', /files1: nothing to move \(vda: type='file'/],
    ['the new volume is the old one', '  - { name: web1, host: hv1, disks: { vda: /dev/mapper/old-web1 } }', /web1: disk vda: the new volume is the old volume itself \(\/dev\/mapper\/old-web1\)/],
  ])('%s', async (_label, vms, expected) => {
    const problems = await problemsOf(vms);
    expect(problems).toEqual([expect.stringMatching(expected)]);
  });

  it('a block disk no mapping rule matches', async () => {
    const fleet = new Fleet(HEAD.replace('old-(.+)', () => 'legacy-(.+)') + '  - { name: web1, host: hv1 }');
    const outcome = await fleet.plan();
    expect(outcome.problems.map((p) => p.message)).toEqual(['no mapping rule matches block disk vda (/dev/mapper/old-web1)']);
    expect(outcome.problems[0]?.hint).toMatch(/add a mapping rule for it, or list the VM's disks explicitly/);
  });

  it('two VMs whose mapping sends them to one new volume', async () => {
    const fleet = new Fleet(HEAD.replace("to: '/dev/mapper/new-$1'", "to: '/dev/mapper/new-shared'") + '  - { name: web1, host: hv1 }\n  - { name: dns1, host: hv1 }');
    const outcome = await fleet.plan();
    expect(outcome.problems.map((p) => p.message)).toContain('/dev/mapper/new-shared is the new volume of both web1 and dns1 on host hv1');
  });
});

describe('the plan command on bad input and unreachable hosts', () => {
  function inventoryDir(vms: string, node = 'node.xml'): string {
    const dir = mkdtempSync(join(tmpdir(), 'sanshift-plan-'));
    copyFileSync(NODE_XML, join(dir, 'node.xml'));
    // a node file libvirt cannot read: the host is unreachable (a missing file is refused as input)
    writeFileSync(join(dir, 'broken-node.xml'), 'not a libvirt node\n');
    writeFileSync(join(dir, 'inv.yaml'), HEAD.replace('testDriverNode: node.xml', `testDriverNode: ${node}`) + vms);
    return dir;
  }

  it('exits 2 and prints the culprit, touching nothing', async () => {
    const dir = inventoryDir('  - { name: web1, host: hv1, disks: { vdz: /dev/mapper/new-x } }');
    const io = new RecordingIo();
    expect(await main(['plan', '-i', join(dir, 'inv.yaml')], io)).toBe(2);
    expect(io.stdout).toMatch(/VM web1 .*disk target vdz is not in the domain's definition/s);
    expect(io.stdout).toMatch(/1 problem \(nothing will run until it is fixed\)|1 problem/);
  });

  it('exits 0 with the JSON plan of the documented shape', async () => {
    const dir = inventoryDir('  - { name: db1, host: hv1 }');
    const io = new RecordingIo();
    expect(await main(['plan', '-i', join(dir, 'inv.yaml'), '--json'], io)).toBe(0);
    const plan = JSON.parse(io.stdout) as { vms: { name: string; host: string; disks: unknown[]; steps: { kind: string; argv?: string[]; xml?: string }[]; preflight: unknown[] }[] };
    expect(plan.vms[0]).toMatchObject({ name: 'db1', host: 'hv1', disks: [{ target: 'vda', old: '/dev/mapper/old-db1', new: '/dev/mapper/new-db1', mirror: '/dev/md/ss-db1-vda' }, { target: 'vdb' }] });
    const kinds = plan.vms[0]!.steps.map((s) => s.kind);
    // prepare first, while the VM still runs on OLD; then the T1 window
    expect(kinds.slice(0, 4)).toEqual(['build-mirror', 'record-migration', 'check-new-unused', 'shutdown-vm']);
    expect(kinds.at(-1)).toBe('health-gate');
    expect(plan.vms[0]!.steps.find((s) => s.kind === 'build-mirror')?.argv).toEqual(['mdadm', '--build', '/dev/md/ss-db1-vda', '--level', '1', '--raid-disks=2', '/dev/mapper/old-db1', 'missing']);
    expect(plan.vms[0]!.steps.find((s) => s.kind === 'start-on-mirror')?.xml).toContain("<source dev='/dev/md/ss-db1-vdb'/>");
  });

  it('prints every command of a session: both builds, adds and stops of a VM with two disks', async () => {
    const dir = inventoryDir('  - { name: db1, host: hv1 }');
    const io = new RecordingIo();
    expect(await main(['plan', '-i', join(dir, 'inv.yaml')], io)).toBe(0);
    for (const command of [
      'mdadm --build /dev/md/ss-db1-vda --level 1 --raid-disks=2 /dev/mapper/old-db1 missing',
      'mdadm --build /dev/md/ss-db1-vdb --level 1 --raid-disks=2 /dev/mapper/old-db1-logs missing',
      'mdadm --add /dev/md/ss-db1-vdb /dev/mapper/new-db1-logs',
      'mdadm --stop /dev/md/ss-db1-vdb',
    ]) expect(io.stdout).toContain(`$ ${command}\n`);
    // the phase column is as wide as 'prepare': the step numbers line up
    expect(io.stdout).toMatch(/\n {4}prepare {2}1\. build [^\n]+\n {16}\$ mdadm --build/);
    expect(io.stdout).toMatch(/\n {4}T1 {7}4\. graceful shutdown/);
  });

  it('exits 1 naming host and URI when libvirt cannot be reached', async () => {
    const dir = inventoryDir('  - { name: web1, host: hv1 }', 'broken-node.xml');
    const io = new RecordingIo();
    expect(await main(['plan', '-i', join(dir, 'inv.yaml')], io)).toBe(1);
    expect(io.stderr).toMatch(/host hv1 \(test:\/\/\/.*broken-node\.xml\) cannot be reached/);
  });
});
