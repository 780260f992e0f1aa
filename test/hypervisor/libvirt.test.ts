import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HypervisorError, HypervisorPool, LibvirtHypervisor } from '../../src/hypervisor/libvirt.js';
import { UnreachableError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'sanshift-hv-'));
const nodeFile = join(dir, 'node.xml');
writeFileSync(
  nodeFile,
  `<node>
  <domain type='test'>
    <name>vm1</name>
    <uuid>11111111-2222-3333-4444-555555555555</uuid>
    <memory>65536</memory>
    <os><type>hvm</type></os>
    <devices>
      <disk type='block' device='disk'><source dev='/dev/mapper/old-vm1'/><target dev='vda' bus='virtio'/></disk>
    </devices>
  </domain>
</node>`,
);

describe('LibvirtHypervisor on the libvirt test driver', () => {
  const hv = new LibvirtHypervisor('hv1', `test://${nodeFile}`);
  afterAll(() => hv.close());

  it('looks up a domain with its state, uuid and id', async () => {
    const st = await hv.lookup('vm1');
    expect(st).toMatchObject({ name: 'vm1', uuid: '11111111-2222-3333-4444-555555555555', state: 'running' });
    expect(typeof st?.id).toBe('number');
    expect(await hv.lookup('nope')).toBeNull();
    expect(await hv.listDomains()).toEqual(['vm1']);
  });

  it('starts with a one-off live definition and keeps the persistent one untouched', async () => {
    await hv.destroy('vm1');
    expect((await hv.lookup('vm1'))?.state).toBe('shutoff');
    expect((await hv.lookup('vm1'))?.id).toBeNull();
    const persistent = await hv.inactiveXml('vm1');
    await hv.startWithLiveXml(persistent.replace('/dev/mapper/old-vm1', '/dev/md/ss-vm1-vda'));
    expect(await hv.liveXml('vm1')).toContain('/dev/md/ss-vm1-vda');
    expect(await hv.inactiveXml('vm1')).toContain('/dev/mapper/old-vm1');
    expect(await hv.inactiveXml('vm1')).not.toContain('/dev/md/');
    // After the one-off run ends, the next boot uses the persistent definition (I2).
    await hv.destroy('vm1');
    await hv.start('vm1');
    expect(await hv.liveXml('vm1')).toContain('/dev/mapper/old-vm1');
  });

  it('defines a new persistent definition while running without touching the live one', async () => {
    const persistent = await hv.inactiveXml('vm1');
    await hv.define(persistent.replace('/dev/mapper/old-vm1', '/dev/mapper/new-vm1'));
    expect(await hv.liveXml('vm1')).toContain('/dev/mapper/old-vm1');
    expect(await hv.inactiveXml('vm1')).toContain('/dev/mapper/new-vm1');
  });

  it('turns libvirt failures into errors that name host, domain and operation', async () => {
    const err = await hv.startWithLiveXml(await hv.liveXml('vm1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HypervisorError);
    expect((err as Error).message).toMatch(/start with a one-off live definition on host hv1 failed: .*already active/);
    const err2 = await hv.shutdown('ghost').catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/graceful shutdown of domain ghost on host hv1 failed/);
  });

  it('reports an unreachable URI as UnreachableError naming host and URI', async () => {
    const bad = new LibvirtHypervisor('hv9', 'test:///nonexistent/dir/node.xml');
    const err = await bad.lookup('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toContain('host hv9 (test:///nonexistent/dir/node.xml) cannot be reached');
  });

  it('shares one connection per URI in a pool', () => {
    const pool = new HypervisorPool();
    expect(pool.get('a', 'test:///default')).toBe(pool.get('a', 'test:///default'));
    expect(pool.get('a', 'test:///default')).not.toBe(pool.get('b', `test://${nodeFile}`));
  });
});
