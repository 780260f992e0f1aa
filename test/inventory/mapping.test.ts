import { describe, expect, it } from '@jest/globals';
import { arrayOf, exactRule, mappingRuleProblem, mappingRulesFromCsv, newVolumeFor } from '../../src/inventory/mapping.js';
import type { MappingRule } from '../../src/inventory/types.js';
import { InputError } from '../../src/util/errors.js';

const rule = (from: string, to: string, index: number, array?: string): MappingRule => ({
  from,
  to,
  index,
  ...(array === undefined ? {} : { array }),
  at: { file: 'inv.yaml', path: ['mapping', index], line: 10 + index },
});

describe('newVolumeFor', () => {
  const rules = [
    rule('^/dev/mapper/old-(db.+)$', '/dev/mapper/fast-$1', 0, 'array-fast'),
    rule('^/dev/mapper/old-(.+)$', '/dev/mapper/new-$1', 1),
    rule('^/dev/disk/by-id/wwn-0x5000(?<serial>[0-9a-f]+)$', '/dev/disk/by-id/wwn-0x6000$<serial>', 2),
  ];

  it('takes the first rule that matches and expands its groups', () => {
    const db = newVolumeFor('/dev/mapper/old-db1', rules);
    expect(db).toEqual({ new: '/dev/mapper/fast-db1', array: 'array-fast', rule: rules[0] });
    const web = newVolumeFor('/dev/mapper/old-web1', rules);
    expect(web?.new).toBe('/dev/mapper/new-web1');
    expect(web?.rule.index).toBe(1);
    expect(web).not.toHaveProperty('array');
  });

  it('expands named groups', () => {
    expect(newVolumeFor('/dev/disk/by-id/wwn-0x5000c500a1b2', rules)?.new).toBe('/dev/disk/by-id/wwn-0x6000c500a1b2');
  });

  it('returns null when no rule matches', () => {
    expect(newVolumeFor('/dev/sdb', rules)).toBeNull();
    expect(newVolumeFor('/dev/mapper/old-db1', [])).toBeNull();
  });

  it('refuses a result that is not a safe device path, naming the rule', () => {
    // an unanchored group swallows a shell metacharacter from the old path
    const loose = [rule('old-(.*)', '/dev/mapper/new-$1', 0)];
    let error: unknown;
    try {
      newVolumeFor('/dev/mapper/old-x;reboot', loose);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    const problem = (error as InputError).problems[0];
    expect(problem?.at).toEqual({ file: 'inv.yaml', path: ['mapping', 0], line: 10 });
    expect(problem?.message).toContain('"/dev/mapper/new-x;reboot"');
    expect((error as InputError).exitCode).toBe(2);
  });

  it('keeps a literal $ written as $$ and the whole match as $&', () => {
    const r = [rule('^/dev/mapper/old-db1$', '$&-copy', 0)];
    expect(newVolumeFor('/dev/mapper/old-db1', r)?.new).toBe('/dev/mapper/old-db1-copy');
    const r2 = [rule('^/dev/(sd[a-z])$', '/dev/mapper/x$$-$1', 0)];
    expect(() => newVolumeFor('/dev/sdb', r2)).toThrow(/x\$-sdb/);
  });
});

describe('exactRule', () => {
  it('matches only its own path, even with regex characters in it', () => {
    const r = exactRule('/dev/disk/by-path/pci-0000:00:1f.2-ata-1+2', '/dev/mapper/new-a', 0);
    expect(newVolumeFor('/dev/disk/by-path/pci-0000:00:1f.2-ata-1+2', [r])?.new).toBe('/dev/mapper/new-a');
    expect(newVolumeFor('/dev/disk/by-path/pci-0000:00:1fX2-ata-1+2', [r])).toBeNull();
    expect(newVolumeFor('/dev/disk/by-path/pci-0000:00:1f.2-ata-1+2-part1', [r])).toBeNull();
  });
});

describe('arrayOf', () => {
  const rules = [
    exactRule('/dev/mapper/old-web1', '/dev/mapper/web1-system', 0, 'array-b'),
    rule('^/dev/mapper/old-(.+)$', '/dev/mapper/new-$1', 1, 'array-a'),
    rule('^/dev/sd(.)$', '/dev/mapper/plain-$1', 2),
  ];
  it("prefers the VM's own array", () => {
    expect(arrayOf({ array: 'array-z' }, '/dev/mapper/new-db1', rules)).toBe('array-z');
  });
  it('finds the rule whose output pattern produces the path', () => {
    expect(arrayOf({}, '/dev/mapper/new-db1', rules)).toBe('array-a');
    expect(arrayOf({}, '/dev/mapper/web1-system', rules)).toBe('array-b');
  });
  it('says nothing when the rule has no array or no rule fits', () => {
    expect(arrayOf({}, '/dev/mapper/plain-b', rules)).toBeUndefined();
    expect(arrayOf({}, '/dev/mapper/other', rules)).toBeUndefined();
  });
});

describe('mappingRuleProblem', () => {
  it('accepts a sound rule', () => {
    expect(mappingRuleProblem('^/dev/mapper/old-(.+)$', '/dev/mapper/new-$1')).toBeUndefined();
    expect(mappingRuleProblem('^/dev/(?<n>sd.)$', '/dev/mapper/$<n>')).toBeUndefined();
    expect(mappingRuleProblem('^/dev/mapper/old-db1$', '$&-copy')).toBeUndefined();
  });
  it.each([
    ['^/dev/mapper/old-(.+$', '/dev/mapper/new-$1', 'from', /does not compile: Unterminated group/],
    ['^/dev/mapper/old-(.+)$', '/dev/mapper/new-$2', 'to', /uses \$2 but "from" has 1 group$/],
    ['^/dev/mapper/old-.+$', '/dev/mapper/new-$1', 'to', /has 0 groups/],
    ['^/dev/(sd.)$', '/dev/mapper/$<name>', 'to', /no group of that name/],
    ['^/dev/mapper/old-(.+)$', 'mapper/new-$1', 'to', /absolute path under \/dev/],
  ] as const)('refuses from=%j to=%j', (from, to, key, message) => {
    const problem = mappingRuleProblem(from, to);
    expect(problem?.key).toBe(key);
    expect(problem?.message).toMatch(message);
    expect(problem?.hint).toBeTruthy();
  });
});

describe('mappingRulesFromCsv', () => {
  it('reads pairs, an optional header, comments and an array column', () => {
    const { rules, problems } = mappingRulesFromCsv(
      'old,new,array\n# comment\n\n/dev/mapper/old-a, /dev/mapper/new-a ,arr1\r\n/dev/mapper/old-b,/dev/mapper/new-b\n',
      'map.csv',
    );
    expect(problems).toEqual([]);
    expect(rules.map((r) => [r.index, r.array, r.at?.line])).toEqual([
      [0, 'arr1', 4],
      [1, undefined, 5],
    ]);
    expect(newVolumeFor('/dev/mapper/old-b', rules)?.new).toBe('/dev/mapper/new-b');
  });
  it('names the row of each bad line', () => {
    const { problems } = mappingRulesFromCsv(
      ['/dev/a,/dev/x', '/dev/b,/dev/x', '/dev/c', '/dev/a,/dev/y', '/dev/d,/dev/new d', '/dev/e,/dev/z,'].join('\n'),
      'map.csv',
    );
    expect(problems.map((p) => [p.at?.file, p.at?.line])).toEqual([
      ['map.csv', 2],
      ['map.csv', 3],
      ['map.csv', 4],
      ['map.csv', 5],
      ['map.csv', 6],
    ]);
    expect(problems[0]?.message).toBe('the new volume /dev/x is the target of two old volumes (first at line 1)');
    expect(problems[2]?.message).toBe('the old volume /dev/a is listed twice (first at line 1)');
  });
});
