import { describe, expect, it } from '@jest/globals';
import { normalizeForCompare, sameDefinition } from '../../src/domain/compare.js';
import { rewriteDiskSources } from '../../src/domain/disks.js';
import { writeMigrationMetadata } from '../../src/domain/metadata.js';
import { readDomainFixture } from './fixtures.js';

const original = readDomainFixture('osinfo-and-app-metadata.xml');

describe('normalizeForCompare', () => {
  it('ignores the runtime id of a running domain', () => {
    const live = original.replace("<domain type='kvm'>", "<domain type='kvm' id='42'>");
    expect(live).not.toBe(original);
    expect(normalizeForCompare(live)).toBe(normalizeForCompare(original));
  });

  it('ignores indentation and quoting, and keeps meaningful text', () => {
    const reformatted = original.replace(/>\n\s*</g, '><').replace(/'/g, '"');
    expect(sameDefinition(reformatted, original)).toBe(true);
    expect(normalizeForCompare(original)).toContain('\nSecond line: don&apos;t restart');
    expect(normalizeForCompare(original)).not.toMatch(/>\s+</);
  });

  it('sees a changed disk source, a changed attribute, and a removed element', () => {
    expect(sameDefinition(rewriteDiskSources(original, new Map([['vda', '/dev/md/x']])), original)).toBe(false);
    expect(sameDefinition(original.replace("cache='none'", "cache='writeback'"), original)).toBe(false);
    expect(sameDefinition(original.replace('<on_crash>destroy</on_crash>', ''), original)).toBe(false);
    expect(sameDefinition(original.replace('billing-db-01', 'billing-db-02'), original)).toBe(false);
  });

  it('sees sanshift\'s record unless asked to ignore it', () => {
    const withRecord = writeMigrationMetadata(original, { phase: 'sync', runId: 'r', disks: [] });
    expect(sameDefinition(withRecord, original)).toBe(false);
    expect(sameDefinition(withRecord, original, { ignoreMigrationMetadata: true })).toBe(true);
  });
});
