// definitionsFor derives every definition from one parsed tree, edited in place. Its oracle is
// the string functions of the domain layer, each of which parses its input afresh: the two
// must give the same five documents, byte for byte.
import { buildXml, parseDomain, readMigrationMetadata, removeMigrationMetadata, rewriteDiskSources, writeMigrationMetadata } from '../../src/domain/index.js';
import { definitionsFor } from '../../src/plan/vm-steps.js';
import type { DiskPlan } from '../../src/plan/types.js';
import { readDomainFixture } from '../domain/fixtures.js';

const cases: [string, DiskPlan[]][] = [
  ['db-three-disks-iotune.xml', [
    { target: 'vda', old: '/dev/mapper/old-db', new: '/dev/mapper/new-db', mirror: '/dev/md/ss-db-vda' },
    { target: 'vdc', old: '/dev/disk/by-id/dm-name-old-db-logs', new: '/dev/mapper/new-db-logs', mirror: '/dev/md/ss-db-vdc' },
  ]],
  // carries a sanshift record of an earlier run, which no definition may keep
  ['mid-migration.xml', [{ target: 'vda', old: '/dev/mapper/old-midmig', new: '/dev/mapper/new-midmig', mirror: '/dev/md/ss-midmig-vda' }]],
];

describe('definitionsFor', () => {
  test.each(cases)('%s: the same documents as the string functions, from one tree', (file, disks) => {
    const xml = readDomainFixture(file);
    const sources = (pick: (d: DiskPlan) => string) => new Map(disks.map((d) => [d.target, pick(d)]));
    const original = removeMigrationMetadata(xml);
    const recorded = writeMigrationMetadata(original, { phase: 'mirror', runId: 'run-1', disks: disks.map(({ target, old, new: nu, mirror }) => ({ target, old, new: nu, mirror })) });
    const expected = {
      original,
      recorded,
      onMirror: rewriteDiskSources(recorded, sources((d) => d.mirror)),
      onNew: rewriteDiskSources(original, sources((d) => d.new)),
      onOld: rewriteDiskSources(original, sources((d) => d.old)),
    };
    expect(definitionsFor(xml, disks, 'run-1')).toEqual(expected);
    const tree = parseDomain(xml);
    const before = buildXml(tree);
    expect(definitionsFor(tree, disks, 'run-1')).toEqual(expected);
    // the caller's tree is left as it was: fleet-plan reads the disks from it too
    expect(buildXml(tree)).toBe(before);
    expect(readMigrationMetadata(expected.recorded)?.runId).toBe('run-1');
    expect(readMigrationMetadata(expected.onNew)).toBeNull();
    expect(expected.onMirror).toContain("dev='/dev/md/ss-");
  });

  test('a disk the domain lacks fails the whole set, naming the target', () => {
    const xml = readDomainFixture('mid-migration.xml');
    expect(() => definitionsFor(xml, [{ target: 'vdz', old: '/dev/a', new: '/dev/b', mirror: '/dev/md/x' }], 'run-1')).toThrow(/vdz/);
  });
});
