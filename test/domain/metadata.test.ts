import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DomainXmlError } from '../../src/domain/errors.js';
import {
  MIGRATION_NAMESPACE,
  readMigrationMetadata,
  removeMigrationMetadata,
  writeMigrationMetadata,
  type MigrationMetadata,
} from '../../src/domain/metadata.js';
import { buildXml, childElements, firstChild, parseXml } from '../../src/domain/xml.js';
import { domainFixtureNames, readDomainFixture } from './fixtures.js';

const meta: MigrationMetadata = {
  phase: 'sync',
  runId: 'run-2024-05-01-7f3a',
  disks: [
    { target: 'vda', old: '/dev/mapper/old-web', new: '/dev/mapper/new-web', mirror: '/dev/md/ss-web-vda' },
    { target: 'vdb', old: '/dev/mapper/old-web-data', new: '/dev/mapper/new-web-data', mirror: '/dev/md/ss-web-vdb' },
  ],
  updatedAt: '2024-05-01T12:00:00.000Z',
};

/** Every metadata child that is not ours, as XML text, in order: what must survive untouched. */
function foreignMetadata(xml: string): string[] {
  const metadata = firstChild(parseXml(xml), 'metadata');
  if (metadata === undefined) return [];
  return childElements(metadata)
    .filter((el) => !el.name.endsWith(':migration'))
    .map(buildXml);
}

describe('readMigrationMetadata', () => {
  it('reads a record written under another prefix, recognising it by namespace', () => {
    expect(readMigrationMetadata(readDomainFixture('mid-migration.xml'))).toEqual({
      phase: 'sync',
      runId: 'run-20240302-0001',
      updatedAt: '2024-03-02T10:11:12.000Z',
      disks: [
        { target: 'vda', old: '/dev/mapper/old-midmig', new: '/dev/mapper/new-midmig', mirror: '/dev/md/ss-midmig-vda' },
        { target: 'vdb', old: '/dev/mapper/old-midmig-data', new: '/dev/mapper/new-midmig-data', mirror: '/dev/md/ss-midmig-vdb' },
      ],
    });
  });

  it('gives null when there is no record, with or without other metadata', () => {
    expect(readMigrationMetadata(readDomainFixture('web-virtio-block.xml'))).toBeNull();
    expect(readMigrationMetadata(readDomainFixture('osinfo-and-app-metadata.xml'))).toBeNull();
  });

  it('ignores an element named migration in another namespace', () => {
    const xml = `<domain><name>n</name><metadata><other:migration xmlns:other='urn:example:other' phase='x' run-id='y'/></metadata></domain>`;
    expect(readMigrationMetadata(xml)).toBeNull();
  });

  it('resolves the namespace declared on an ancestor, not only on the element', () => {
    const xml = `<domain xmlns:s='${MIGRATION_NAMESPACE}'><name>n</name><metadata><s:migration phase='t2' run-id='r'/></metadata></domain>`;
    expect(readMigrationMetadata(xml)).toEqual({ phase: 't2', runId: 'r', disks: [] });
  });

  it('refuses a record that lacks a required attribute, or two records', () => {
    const noPhase = `<domain><name>n</name><metadata><s:migration xmlns:s='${MIGRATION_NAMESPACE}' run-id='r'/></metadata></domain>`;
    expect(() => readMigrationMetadata(noPhase)).toThrow(DomainXmlError);
    expect(() => readMigrationMetadata(noPhase)).toThrow(/lacks s:migration\/@phase/);
    const badDisk = `<domain><name>n</name><metadata><s:migration xmlns:s='${MIGRATION_NAMESPACE}' phase='p' run-id='r'><s:disk target='vda' old='/a' new='/b'/></s:migration></metadata></domain>`;
    expect(() => readMigrationMetadata(badDisk)).toThrow(/@mirror/);
    const rec = `<s:migration xmlns:s='${MIGRATION_NAMESPACE}' phase='p' run-id='r'/>`;
    expect(() => readMigrationMetadata(`<domain><name>n</name><metadata>${rec}${rec}</metadata></domain>`)).toThrow(/more than one/);
  });
});

describe('writeMigrationMetadata', () => {
  it('creates <metadata> after name and uuid, indented like the rest, and reads back', () => {
    const original = readDomainFixture('web-virtio-block.xml');
    const written = writeMigrationMetadata(original, meta);
    expect(readMigrationMetadata(written)).toEqual(meta);
    expect(written).toContain(
      [
        '  <uuid>3f1c2a9e-5b0d-4c7e-9a61-0d2f4b8e7c01</uuid>',
        '  <metadata>',
        `    <sanshift:migration xmlns:sanshift='${MIGRATION_NAMESPACE}' phase='sync' run-id='run-2024-05-01-7f3a' updated-at='2024-05-01T12:00:00.000Z'>`,
        "      <sanshift:disk target='vda' old='/dev/mapper/old-web' new='/dev/mapper/new-web' mirror='/dev/md/ss-web-vda'/>",
        "      <sanshift:disk target='vdb' old='/dev/mapper/old-web-data' new='/dev/mapper/new-web-data' mirror='/dev/md/ss-web-vdb'/>",
        '    </sanshift:migration>',
        '  </metadata>',
        "  <memory unit='KiB'>2097152</memory>",
      ].join('\n'),
    );
  });

  it('adds to the end of an existing <metadata>, leaving other applications\' elements untouched', () => {
    const original = readDomainFixture('osinfo-and-app-metadata.xml');
    const written = writeMigrationMetadata(original, meta);
    expect(foreignMetadata(written)).toEqual(foreignMetadata(original));
    expect(foreignMetadata(original)).toHaveLength(2);
    const names = childElements(firstChild(parseXml(written), 'metadata')!).map((e) => e.name);
    expect(names).toEqual(['libosinfo:libosinfo', 'nova:instance', 'sanshift:migration']);
    expect(readMigrationMetadata(written)).toEqual(meta);
  });

  it('replaces an existing record in place, whatever its prefix, keeping one record', () => {
    const original = readDomainFixture('mid-migration.xml');
    const next: MigrationMetadata = { phase: 't2', runId: 'run-20240302-0001', disks: [] };
    const written = writeMigrationMetadata(original, next);
    expect(readMigrationMetadata(written)).toEqual(next);
    const names = childElements(firstChild(parseXml(written), 'metadata')!).map((e) => e.name);
    expect(names).toEqual(['libosinfo:libosinfo', 'sanshift:migration']);
    expect(foreignMetadata(written)).toEqual(foreignMetadata(original));
  });

  it('keeps a one-line document on one line', () => {
    const xml = "<domain type='kvm'><name>n</name><uuid>u</uuid><memory>1</memory></domain>";
    const written = writeMigrationMetadata(xml, { phase: 'p', runId: 'r', disks: [] });
    expect(written).toBe(
      `<domain type='kvm'><name>n</name><uuid>u</uuid><metadata><sanshift:migration xmlns:sanshift='${MIGRATION_NAMESPACE}' phase='p' run-id='r'/></metadata><memory>1</memory></domain>`,
    );
  });

  it('writing twice is the same as writing once (idempotent)', () => {
    const original = readDomainFixture('osinfo-and-app-metadata.xml');
    const once = writeMigrationMetadata(original, meta);
    expect(writeMigrationMetadata(once, meta)).toBe(once);
  });

  it('round-trips any record, whatever characters its values hold (property)', () => {
    const value = fc.string({ maxLength: 30 }).filter((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s) && !/[\ud800-\udfff]/.test(s));
    const metaArb = fc.record(
      {
        phase: value,
        runId: value,
        disks: fc.array(fc.record({ target: value, old: value, new: value, mirror: value }), { maxLength: 3 }),
        updatedAt: value,
      },
      { requiredKeys: ['phase', 'runId', 'disks'] },
    );
    const original = readDomainFixture('osinfo-and-app-metadata.xml');
    fc.assert(
      fc.property(metaArb, (m) => {
        expect(readMigrationMetadata(writeMigrationMetadata(original, m))).toEqual(m);
      }),
      { numRuns: 200 },
    );
  });
});

describe('removeMigrationMetadata', () => {
  it.each(domainFixtureNames.filter((f) => f !== 'mid-migration.xml'))(
    '%s: write then remove gives the original back byte for byte',
    (file) => {
      const original = readDomainFixture(file);
      expect(removeMigrationMetadata(writeMigrationMetadata(original, meta))).toBe(original.trimEnd());
    },
  );

  it('leaves other metadata and the <metadata> element when others remain', () => {
    const original = readDomainFixture('mid-migration.xml');
    const removed = removeMigrationMetadata(original);
    expect(readMigrationMetadata(removed)).toBeNull();
    expect(foreignMetadata(removed)).toEqual(foreignMetadata(original));
    expect(removed).toContain("<metadata>\n    <libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>");
    expect(removed).toContain('</libosinfo:libosinfo>\n  </metadata>\n  <memory');
  });

  it('removes a <metadata> left empty, and leaves a document without a record as it was', () => {
    const original = readDomainFixture('web-virtio-block.xml');
    const written = writeMigrationMetadata(original, meta);
    expect(removeMigrationMetadata(written)).not.toContain('<metadata');
    expect(removeMigrationMetadata(original)).toBe(original.trimEnd());
  });

  it('never removes another namespace\'s element of the same local name', () => {
    const xml = `<domain><name>n</name><metadata><other:migration xmlns:other='urn:example:other'/></metadata></domain>`;
    expect(removeMigrationMetadata(xml)).toBe(xml);
  });
});
