// listDisks and readMigrationMetadata remember what they read by the definition's text (a fleet's
// plan reads each definition's disks and record in several places). What they hand out must
// still behave as a fresh read: a caller's edits never reach the next caller.
import { describe, expect, test } from '@jest/globals';
import { listDisks, readMigrationMetadata } from '../../src/domain/index.js';
import { ByText } from '../../src/domain/xml.js';
import { readDomainFixture } from './fixtures.js';

describe('reads remembered by text', () => {
  test("a caller's own copy of the disks: it may sort its array; the disks themselves are read-only", () => {
    const xml = readDomainFixture('db-three-disks-iotune.xml');
    const first = listDisks(xml);
    const targets = first.map((d) => d.target);
    first.reverse();
    expect(() => {
      (first[0] as { source: string | null }).source = '/dev/evil';
    }).toThrow(TypeError);
    expect(listDisks(xml).map((d) => d.target)).toEqual(targets);
    expect(listDisks(xml).map((d) => d.source)).not.toContain('/dev/evil');
  });

  test("the record read after the disks comes from the same parse, and a caller's edit stays its own", () => {
    const xml = readDomainFixture('mid-migration.xml');
    listDisks(xml);
    const meta = readMigrationMetadata(xml)!;
    expect(meta.runId).toBe('run-20240302-0001');
    meta.runId = 'edited';
    meta.disks[0]!.new = '/dev/edited';
    const again = readMigrationMetadata(xml)!;
    expect(again.runId).toBe('run-20240302-0001');
    expect(again.disks[0]!.new).not.toBe('/dev/edited');
  });

  test('a malformed record fails every read, not only the first', () => {
    const xml = readDomainFixture('mid-migration.xml').replace(/ run-id='[^']*'/, '');
    listDisks(xml);
    expect(() => readMigrationMetadata(xml)).toThrow(/run-id/);
    expect(() => readMigrationMetadata(xml)).toThrow(/run-id/);
  });

  test('ByText forgets the oldest first once full', () => {
    const m = new ByText<number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    expect([m.get('a'), m.get('b'), m.get('c')]).toEqual([undefined, 2, 3]);
  });
});
