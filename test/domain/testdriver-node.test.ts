// fixtures/testdriver/node.xml is the fake fleet host the inventory and engine tests open as
// test:///ABSOLUTE/PATH/node.xml; this checks it says what they rely on. Each connection to a
// file URI gets its own private copy of the fleet, so destroying domains here harms no other test.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainState, Hypervisor } from '@unraid/libvirt';
import { blockDiskSources, listDisks } from '../../src/domain/disks.js';
import { testDriverNodeFile } from './fixtures.js';

const expected = {
  web1: { state: DomainState.RUNNING, block: { vda: '/dev/mapper/old-web1' } },
  db1: { state: DomainState.RUNNING, block: { vda: '/dev/mapper/old-db1', vdb: '/dev/mapper/old-db1-logs' } },
  app1: { state: DomainState.RUNNING, block: { vda: '/dev/mapper/old-app1' } },
  files1: { state: DomainState.SHUTOFF, block: {} },
  ceph1: { state: DomainState.RUNNING, block: {} },
  dns1: { state: DomainState.RUNNING, block: { vda: '/dev/mapper/old-dns1' } },
} as const;

let host: Hypervisor;
beforeAll(async () => {
  host = new Hypervisor({ uri: `test://${testDriverNodeFile}` });
  await host.connectOpen();
});
afterAll(async () => {
  await host.connectClose();
});

describe('the test-driver node file', () => {
  it('opens and lists exactly the fleet domains', async () => {
    const names = await Promise.all((await host.connectListAllDomains()).map((d) => d.getName()));
    expect(names.sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s is in the expected state with the expected block disks', async (name, want) => {
    const domain = await host.domainLookupByName(name);
    expect((await domain.getInfo()).state).toBe(want.state);
    const xml = await domain.getXMLDesc();
    expect(Object.fromEntries(blockDiskSources(xml))).toEqual(want.block);
  });

  it('gives app1 a cdrom, files1 a qcow2 file and ceph1 an rbd disk', async () => {
    const disksOf = async (name: string) => listDisks(await (await host.domainLookupByName(name)).getXMLDesc());
    expect((await disksOf('app1')).map((d) => [d.target, d.device, d.type])).toEqual([
      ['vda', 'disk', 'block'],
      ['sda', 'cdrom', 'file'],
    ]);
    expect(await disksOf('files1')).toMatchObject([{ target: 'vda', type: 'file', format: 'qcow2' }]);
    expect(await disksOf('ceph1')).toMatchObject([{ target: 'vda', type: 'network', source: 'rbd:vms/ceph1' }]);
  });

  it('defines every domain persistently: a destroyed one stays, shut off', async () => {
    for (const name of Object.keys(expected)) {
      const domain = await host.domainLookupByName(name);
      if ((await domain.getInfo()).state === DomainState.RUNNING) await domain.destroy();
    }
    expect((await host.connectListDefinedDomains()).sort()).toEqual(Object.keys(expected).sort());
  });
});
