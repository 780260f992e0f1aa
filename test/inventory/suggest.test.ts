import { describe, expect, it } from '@jest/globals';
import { closest, didYouMean, editDistance } from '../../src/inventory/suggest.js';

describe('editDistance', () => {
  it.each([
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['shell', 'shel', 1],
    ['dependsOn', 'dependsOn', 0],
    ['ab', 'ba', 1],
    ['dsn1', 'dns1', 1],
  ] as const)('%s -> %s is %d', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('closest', () => {
  const keys = ['name', 'host', 'disks', 'dependsOn', 'antiAffinity', 'array', 'simulate'];
  it('finds a misspelt key', () => {
    expect(closest('dependOn', keys)).toBe('dependsOn');
    expect(closest('Host', keys)).toBe('host');
    expect(closest('antiaffinity', keys)).toBe('antiAffinity');
  });
  it('says nothing when nothing is close', () => {
    expect(closest('priority', keys)).toBeUndefined();
    expect(didYouMean('priority', keys)).toBe('');
  });
  it('keeps short words strict: one edit at most', () => {
    expect(closest('db9', ['db1'])).toBe('db1');
    expect(closest('xy9', ['db1'])).toBeUndefined();
  });
  it('phrases the suggestion', () => {
    expect(didYouMean('dsn1', ['dns1', 'db1'])).toBe(' (did you mean "dns1"?)');
  });
});
