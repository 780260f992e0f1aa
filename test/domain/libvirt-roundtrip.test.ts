// libvirt's own test driver judges the XML we produce: it parses and re-serialises every
// definition, so "equal" below means equal in libvirt's eyes, not only in ours.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { normalizeForCompare } from '../../src/domain/compare.js';
import { listDisks, rewriteDiskSources } from '../../src/domain/disks.js';
import { domainIdentity } from '../../src/domain/identity.js';
import {
  readMigrationMetadata,
  removeMigrationMetadata,
  writeMigrationMetadata,
  type MigrationMetadata,
} from '../../src/domain/metadata.js';
import { buildXml, parseXml } from '../../src/domain/xml.js';
import { domainFixtureNames, readDomainFixture, TestDriver } from './fixtures.js';

let driver: TestDriver;
beforeAll(async () => {
  driver = await TestDriver.open();
});
afterAll(async () => {
  await driver.close();
});

/** libvirt's serialisation of a definition (defined, read back inactive, undefined again). */
async function asLibvirtSeesIt(xml: string): Promise<string> {
  return driver.reserialize(xml, domainIdentity(xml).name);
}

const meta: MigrationMetadata = {
  phase: 'sync',
  runId: 'run-libvirt-roundtrip',
  disks: [{ target: 'vda', old: '/dev/mapper/old', new: '/dev/mapper/new', mirror: '/dev/md/ss-vda' }],
  updatedAt: '2024-05-01T12:00:00.000Z',
};

describe.each(domainFixtureNames)('%s through libvirt', (file) => {
  const original = readDomainFixture(file);

  it('parse then build means the same to libvirt as the original', async () => {
    const byLibvirt = await asLibvirtSeesIt(original);
    expect(await asLibvirtSeesIt(buildXml(parseXml(original)))).toBe(byLibvirt);
    // and libvirt's own output survives us: it defines back to itself, byte for byte
    expect(await asLibvirtSeesIt(buildXml(parseXml(byLibvirt)))).toBe(byLibvirt);
    expect(normalizeForCompare(buildXml(parseXml(byLibvirt)))).toBe(normalizeForCompare(byLibvirt));
  });

  it('a rewrite of each block disk changes only that source, as libvirt sees it', async () => {
    const byLibvirt = await asLibvirtSeesIt(original);
    const blockDisks = listDisks(original).filter((d) => d.type === 'block' && d.source !== null);
    expect(blockDisks.length).toBeGreaterThan(0);
    for (const disk of blockDisks) {
      const newDev = `/dev/md/ss-${disk.target}`;
      const rewritten = await asLibvirtSeesIt(rewriteDiskSources(original, new Map([[disk.target, newDev]])));
      const from = `<source dev='${disk.source}'`;
      expect(byLibvirt.split(from)).toHaveLength(2);
      expect(rewritten).toBe(byLibvirt.replace(from, `<source dev='${newDev}'`));
      expect(listDisks(rewritten)).toEqual(
        listDisks(byLibvirt).map((d) => (d.target === disk.target ? { ...d, source: newDev } : d)),
      );
    }
  });

  it('our metadata survives libvirt, and removing it gives libvirt\'s original back', async () => {
    const byLibvirt = await asLibvirtSeesIt(original);
    const withRecord = await asLibvirtSeesIt(writeMigrationMetadata(original, meta));
    expect(readMigrationMetadata(withRecord)).toEqual(meta);
    expect(normalizeForCompare(withRecord, { ignoreMigrationMetadata: true })).toBe(
      normalizeForCompare(removeMigrationMetadata(byLibvirt)),
    );
    const recordRemoved = await asLibvirtSeesIt(removeMigrationMetadata(withRecord));
    expect(recordRemoved).toBe(await asLibvirtSeesIt(removeMigrationMetadata(original)));
    expect(readMigrationMetadata(recordRemoved)).toBeNull();
  });
});

describe('fixtures that libvirt does not keep whole', () => {
  it('qemu:commandline survives our round trip, though the test driver (not the qemu driver) drops it', async () => {
    const original = readDomainFixture('qemu-commandline-namespace.xml');
    const ours = rewriteDiskSources(original, new Map([['vda', '/dev/md/q']]));
    expect(ours).toContain("<qemu:arg value='name=opt/com.example/config,string=a&amp;b'/>");
    expect(ours).toContain("<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>");
    expect(await asLibvirtSeesIt(ours)).not.toContain('qemu:commandline');
  });
});
