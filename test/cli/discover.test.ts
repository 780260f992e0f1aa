import { describe, expect, test } from '@jest/globals';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { discoverInventory, parseMapOption } from '../../src/inventory/discover.js';
import { loadInventory } from '../../src/inventory/load.js';
import { repo } from './helpers.js';

const rule = "^/dev/mapper/old-(.+)$=/dev/mapper/new-$1";

function nodeCopy(): { dir: string; node: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sanshift-discover-'));
  const node = join(dir, 'node.xml');
  copyFileSync(join(repo, 'fixtures/testdriver/node.xml'), node);
  return { dir, node };
}

describe('sanshift discover, as a new user: discover, edit, plan, run', () => {
  const { dir, node } = nodeCopy();
  const out = join(dir, 'fleet', 'inventory.yaml');

  test('writes an inventory of the block-disk VMs, with what was skipped and why', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'fleet'));
    const io = new RecordingIo();
    expect(await main(['discover', '--host', `hv1=test://${node}`, '--shell', 'simulated', '--map', rule, '-o', out], io)).toBe(0);
    expect(io.stderr).toContain('discovered 4 VMs to migrate');
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('testDriverNode: ../node.xml');
    expect(text).toContain("# files1 on hv1 (shut off): skipped, no block disk to move");
    expect(text).toContain("vda /var/lib/libvirt/images/files1.qcow2: stays (type='file' disk (only block disks move))");
    expect(text).toMatch(/ceph1 on hv1 .*skipped/);
    expect(text).toContain('sda /var/lib/libvirt/images/tools.iso: stays (cdrom, not a disk)');
    const inv = await loadInventory(out);
    expect(inv.vms.map((v) => v.name).sort()).toEqual(['app1', 'db1', 'dns1', 'web1']);
  });

  test('the written inventory plans with exit 0', async () => {
    const io = new RecordingIo();
    expect(await main(['plan', '-i', out], io)).toBe(0);
    expect(io.stdout).toContain('4 VMs on 1 host; 4 ready, 0 refused');
  });

  test('after an edit (keep two VMs, add a dependency), it runs', async () => {
    const text = readFileSync(out, 'utf8')
      .replace(/ {2}- name: app1[\s\S]*?(?= {2}#? ?-? ?\S*? ?ceph1| {2}# ceph1)/, '')
      .replace(/(- name: db1[^\n]*\n {4}host: hv1\n)/, '$1    dependsOn: [dns1]\n');
    writeFileSync(out, text.replace(/ {2}- name: web1[\s\S]*?(?=\n\n)/, ''));
    const inv = await loadInventory(out);
    expect(inv.vms.map((v) => v.name).sort()).toEqual(['db1', 'dns1']);
    const io = new RecordingIo();
    expect(await main(['run', '-i', out, '--yes'], io)).toBe(0);
    expect(io.stdout).toMatch(/db1\s+done/);
  });

  test('existing output is not replaced without --force', async () => {
    const io = new RecordingIo();
    expect(await main(['discover', '--host', `hv1=test://${node}`, '--map', rule, '-o', out], io)).toBe(2);
    expect(io.stderr).toContain('add --force');
  });
});

test('a CSV of pairs: mapped VMs listed, a VM with an unmapped disk commented out', async () => {
  const { dir, node } = nodeCopy();
  const csv = join(dir, 'pairs.csv');
  writeFileSync(csv, 'old,new\n/dev/mapper/old-dns1,/dev/mapper/new-dns1\n/dev/mapper/old-db1,/dev/mapper/new-db1\n');
  const out = join(dir, 'inv.yaml');
  const io = new RecordingIo();
  expect(await main(['discover', '--host', `hv1=test://${node}`, '--shell', 'simulated', '--csv', csv, '-o', out], io)).toBe(0);
  const text = readFileSync(out, 'utf8');
  expect(text).toContain('mappingCsv: pairs.csv');
  expect(text).toContain('# db1 on hv1 (running): commented out, vdb has no mapping');
  const inv = await loadInventory(out);
  expect(inv.vms.map((v) => v.name)).toEqual(['dns1']);
  expect(await main(['plan', '-i', out], new RecordingIo())).toBe(0);
});

test('no mapping, a bad --map or --host: exit 2 before any host is read', async () => {
  const io = new RecordingIo();
  expect(await main(['discover', '--host', 'hv1=test:///nope.xml', '--map', '(=x', '--host', 'bad'], io)).toBe(2);
  expect(io.stderr).toContain('--host "bad" is not NAME=URI');
  expect(io.stderr).toContain('does not compile');
  const none = new RecordingIo();
  expect(await main(['discover', '--host', 'hv1=test:///nope.xml'], none)).toBe(2);
  expect(none.stderr).toContain('no mapping given');
});

test('an unreachable host: exit 1, the host is commented', async () => {
  const io = new RecordingIo();
  expect(await main(['discover', '--host', 'hv9=test:///does/not/exist.xml', '--map', rule], io)).toBe(1);
  expect(io.stdout).toContain('# host hv9: not read');
});

test('parseMapOption splits at the last =', () => {
  expect(parseMapOption('^a=(b)$=/dev/x-$1')).toEqual({ from: '^a=(b)$', to: '/dev/x-$1' });
  expect(parseMapOption('nothing')).toBeNull();
});

test('discoverInventory lists nothing to migrate with a valid empty list', () => {
  const r = discoverInventory({ hosts: [{ name: 'hv1', uri: 'qemu:///system', domains: [] }], rules: [{ from: '^x$', to: '/dev/y' }], header: 'h' });
  expect(r.vms).toEqual([]);
  expect(r.text).toContain('  []');
});
