import { describe, expect, it } from '@jest/globals';
import { parseInventory } from '../../src/inventory/parse.js';
import { globToRegExp, selectVms } from '../../src/inventory/select.js';

const inv = parseInventory(
  `hosts:
  hv1: { uri: qemu+ssh://root@hv1/system }
  hv2: { uri: qemu+ssh://root@hv2/system }
groups:
  web: {}
  canary: {}
  empty: {}
vms:
  - { name: dns1, host: hv1, groups: [canary] }
  - { name: db1, host: hv1 }
  - { name: db2, host: hv2 }
  - { name: web1, host: hv2, groups: [web] }
  - { name: web2, host: hv2, groups: [web, canary] }
  - { name: web10, host: hv1, groups: [web] }
`,
  '/inv/site.yaml',
);

const pick = (sel: Parameters<typeof selectVms>[1]) => {
  const r = selectVms(inv, sel);
  return { vms: r.vms, narrowed: r.narrowed, problems: r.problems.map((p) => p.message) };
};

describe('selectVms', () => {
  it('everything, in inventory order, when nothing narrows it', () => {
    expect(pick({})).toEqual({ vms: ['dns1', 'db1', 'db2', 'web1', 'web2', 'web10'], narrowed: false, problems: [] });
  });
  it('names, globs, group: and host:, repeated or comma-separated, as a union', () => {
    expect(pick({ limit: ['web?'] }).vms).toEqual(['web1', 'web2']);
    expect(pick({ limit: ['db*,group:canary'] }).vms).toEqual(['dns1', 'db1', 'db2', 'web2']);
    expect(pick({ limit: ['host:hv1'], names: ['db2'] }).vms).toEqual(['dns1', 'db1', 'db2', 'web10']);
    expect(pick({ limit: ['web[12]'] }).vms).toEqual(['web1', 'web2']);
  });
  it('--exclude takes away, whatever selected them', () => {
    expect(pick({ limit: ['group:web'], exclude: ['web1', 'host:hv1'] }).vms).toEqual(['web2']);
    expect(pick({ exclude: ['group:canary'] })).toMatchObject({ vms: ['db1', 'db2', 'web1', 'web10'], narrowed: true });
  });
  it('--failed keeps only the failed VMs of the rest', () => {
    expect(pick({ limit: ['web*'], failed: new Set(['web2', 'db1']) }).vms).toEqual(['web2']);
    expect(pick({ failed: new Set() }).problems).toEqual(['--failed: no VM failed in the journals of this state folder']);
  });
  it('refuses every part that matches nothing, with a did-you-mean, so a typo never widens or narrows silently', () => {
    expect(pick({ names: ['db3'], limit: ['group:webs', 'host:hv3', 'app*'], exclude: ['dsn1'] }).problems).toEqual([
      'VM db3 is not in the inventory (did you mean "db1"?)',
      '--limit group:webs: no group "webs" in the inventory (did you mean "web"?)',
      '--limit host:hv3: no host "hv3" in the inventory (did you mean "hv1"?)',
      '--limit app*: the pattern matches no VM of the inventory',
      '--exclude dsn1: VM dsn1 is not in the inventory (did you mean "dns1"?)',
    ]);
    expect(pick({ limit: ['group:empty'] }).problems).toEqual(['--limit group:empty: no VM is in group empty']);
  });
  it('refuses a selection whose parts cancel out', () => {
    expect(pick({ limit: ['db1'], exclude: ['db*'] })).toEqual({ vms: [], narrowed: true, problems: ['the selection matches no VM (--limit db1 --exclude db*)'] });
  });
});

describe('globToRegExp', () => {
  it('matches the whole name; regex characters are literal', () => {
    expect(globToRegExp('web*').test('web10')).toBe(true);
    expect(globToRegExp('web*').test('xweb1')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('db[!2]').test('db1')).toBe(true);
    expect(globToRegExp('db[!2]').test('db2')).toBe(false);
  });
});
