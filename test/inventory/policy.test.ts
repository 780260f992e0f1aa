import { describe, expect, it } from '@jest/globals';
import { parseInventory } from '../../src/inventory/parse.js';
import type { Inventory } from '../../src/inventory/types.js';
import { parseExceptDates, parseWindowRange } from '../../src/inventory/window-text.js';
import { formatKeyPath, InputError, type Problem } from '../../src/util/errors.js';

const HOST = 'hosts:\n  hv1:\n    uri: qemu+ssh://root@hv1/system\n';

function parse(text: string): Inventory {
  return parseInventory(HOST + text, '/inv/site.yaml');
}

function problemsOf(text: string): Problem[] {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return [...(err as InputError).problems];
  }
  throw new Error('expected an InputError');
}

/** [key path, line, message] of each problem */
const culprits = (problems: Problem[]) => problems.map((p) => [formatKeyPath(p.at?.path ?? []), p.at?.line, p.message]);

describe('policy levels: the most specific wins, key by key', () => {
  const inv = parse(`
policy:
  shutdownTimeout: 2m
  shutdown: { mode: acpi }
  hooks: { beforeWindow: [/bin/drain, '{vm}'], timeout: 30s }
groups:
  db:
    policy:
      shutdown: { timeout: 10m, onTimeout: force }
      hooks: { afterWindow: [/bin/undrain, '{host}'] }
  web: {}
vms:
  - name: plain
    host: hv1
  - name: db1
    host: hv1
    groups: [db]
  - name: db2
    host: hv1
    groups: db
    policy:
      shutdown: { timeout: 1m }
      hooks: { beforeWindow: [] }
`);
  const vm = (name: string) => inv.vms.find((v) => v.name === name)!;

  it('a VM with no group and no policy has the fleet policy', () => {
    expect(vm('plain').policy).toMatchObject({ shutdownTimeoutMs: 120_000, shutdownMode: 'acpi', onShutdownTimeout: 'fail', hooks: { beforeWindow: ['/bin/drain', 'plain'], timeoutMs: 30_000 } });
    expect(vm('plain').policySources).toMatchObject({ 'shutdown.timeout': 'fleet', 'shutdown.mode': 'fleet', 'shutdown.onTimeout': 'default', 'hooks.beforeWindow': 'fleet' });
  });
  it('a group overrides the fleet, and {vm} and {host} become the VM and its host', () => {
    expect(vm('db1').policy).toMatchObject({ shutdownTimeoutMs: 600_000, onShutdownTimeout: 'force', shutdownMode: 'acpi' });
    expect(vm('db1').policy.hooks).toEqual({ beforeWindow: ['/bin/drain', 'db1'], afterWindow: ['/bin/undrain', 'hv1'], timeoutMs: 30_000 });
    expect(vm('db1').policySources).toMatchObject({ 'shutdown.timeout': 'group db', 'shutdown.onTimeout': 'group db', 'shutdown.mode': 'fleet', 'hooks.afterWindow': 'group db' });
  });
  it('the VM overrides its group; an empty hook list removes the hook', () => {
    expect(vm('db2').policy.shutdownTimeoutMs).toBe(60_000);
    expect(vm('db2').policy.onShutdownTimeout).toBe('force');
    expect(vm('db2').policy.hooks.beforeWindow).toBeUndefined();
    expect(vm('db2').policySources).toMatchObject({ 'shutdown.timeout': 'vm', 'hooks.beforeWindow': 'vm', 'shutdown.onTimeout': 'group db' });
  });
  it('keeps the groups as written, and the fleet default unchanged', () => {
    expect(vm('db2').groups).toEqual(['db']);
    expect(inv.policy.shutdownTimeoutMs).toBe(120_000);
    expect(inv.policy.hooks.beforeWindow).toEqual(['/bin/drain', '{vm}']);
  });
});

describe('two groups of one VM that disagree', () => {
  const groups = `
groups:
  paris:
    policy:
      windows: { timezone: Europe/Paris, allow: ['22:00-06:00'] }
  prod:
    policy:
      windows: { timezone: Europe/Paris, allow: ['01:00-05:00'] }
`;
  it('are refused, naming both groups, the key, the VM and both lines', () => {
    const problems = problemsOf(`${groups}vms:\n  - { name: db1, host: hv1, groups: [paris, prod] }\n`);
    expect(culprits(problems)).toEqual([
      ['groups.prod.policy.windows', 11, "groups paris and prod both set windows, to different values, and VM db1 is in both (paris's is at line 8)"],
    ]);
    expect(problems[0]?.at?.vm).toBe('db1');
    expect(problems[0]?.hint).toContain("set windows in the VM's own policy:");
  });
  it('are reported once for every VM in both groups', () => {
    const vms = Array.from({ length: 8 }, (_, i) => `  - { name: vm${i}, host: hv1, groups: [prod, paris] }`).join('\n');
    const problems = problemsOf(`${groups}vms:\n${vms}\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toContain('VM vm0 (and 7 more: vm1, vm2, vm3, vm4, vm5, ...) is in both');
  });
  it('are settled by the VM setting the key itself', () => {
    const inv = parse(`${groups}vms:\n  - name: db1\n    host: hv1\n    groups: [paris, prod]\n    policy: { windows: always }\n`);
    expect(inv.vms[0]?.policy.windows).toBeUndefined();
    expect(inv.vms[0]?.policySources.windows).toBe('vm');
  });
  it('agree when they set the same value', () => {
    const same = groups.replace("'01:00-05:00'", "'22:00-06:00'");
    const inv = parse(`${same}vms:\n  - { name: db1, host: hv1, groups: [paris, prod] }\n`);
    expect(inv.vms[0]?.policySources.windows).toBe('group paris');
  });
});

describe('policy refusals name the file, line and key', () => {
  it('a group that is not declared, with a did-you-mean', () => {
    const problems = problemsOf('groups:\n  prod-db: {}\nvms:\n  - { name: db1, host: hv1, groups: [prod-bd] }\n');
    expect(culprits(problems)).toEqual([['vms[0].groups[0]', 7, 'VM db1 is in group "prod-bd", which is not declared under groups: (did you mean "prod-db"?)']]);
  });
  it('the old and the new spelling of one key at one level', () => {
    const problems = problemsOf('vms:\n  - { name: db1, host: hv1 }\npolicy:\n  shutdownTimeout: 5m\n  shutdown: { timeout: 3m }\n');
    expect(culprits(problems)).toEqual([['policy.shutdown.timeout', 8, 'shutdownTimeout and shutdown.timeout are the same setting, written twice here']]);
  });
  it('pollInterval below the fleet level', () => {
    const problems = problemsOf('vms:\n  - name: db1\n    host: hv1\n    policy: { pollInterval: 1s }\n');
    expect(problems[0]?.at?.path).toEqual(['vms', 0, 'policy', 'pollInterval']);
    expect(problems[0]?.hint).toBe('set it under the top-level policy:');
  });
  it('health checks missing what their kind needs, or holding what it does not', () => {
    const problems = problemsOf(`vms:\n  - { name: db1, host: hv1 }\npolicy:\n  health:\n    checks:\n      - { kind: tcp, host: db1 }\n      - { kind: http, url: 'https://x', port: 80 }\n      - { kind: gest-agent }\n`);
    expect(culprits(problems)).toEqual([
      ['policy.health.checks[2].kind', 11, 'expected one of guest-agent, tcp, http, command, got "gest-agent" (did you mean "guest-agent"?)'],
    ]);
    const again = problemsOf(`vms:\n  - { name: db1, host: hv1 }\npolicy:\n  health:\n    checks:\n      - { kind: tcp, host: db1 }\n      - { kind: http, url: 'https://x', port: 80 }\n      - { kind: http, url: 'ftp://{vm}/' }\n      - { kind: command, argv: [check, '{name}'] }\n`);
    expect(culprits(again)).toEqual([
      ['policy.health.checks[0]', 9, 'a tcp check needs port:'],
      ['policy.health.checks[1].port', 10, 'port: means nothing to a http check'],
      ['policy.health.checks[2].url', 11, '"ftp://{vm}/" is not an http or https URL'],
      ['policy.health.checks[3].argv[1]', 12, '{name} is not a placeholder sanshift knows'],
    ]);
  });
  it('a tcp host that {vm} turns into something that is no host name, for that VM only', () => {
    const problems = problemsOf(`vms:\n  - { name: db_1, host: hv1 }\n  - { name: db2, host: hv1 }\npolicy:\n  health:\n    checks: [{ kind: tcp, host: '{vm}.example.net', port: 5432 }]\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toBe('the tcp check\'s host becomes "db_1.example.net" for VM db_1, which is not a host name or address');
    expect(problems[0]?.at).toMatchObject({ vm: 'db_1', line: 9, path: ['policy', 'health', 'checks', 0, 'host'] });
  });
  it('a hook that is a shell string, not an argv', () => {
    const problems = problemsOf('vms:\n  - { name: db1, host: hv1 }\npolicy:\n  hooks: { beforeWindow: "drain.sh db1" }\n');
    expect(culprits(problems)).toEqual([['policy.hooks.beforeWindow', 7, 'expected a list of arguments, e.g. [/usr/local/bin/drain, --vm, "{vm}"], or [] for no hook, got "drain.sh db1"']]);
  });
  it('relative hook programs resolve against the inventory folder; bare names stay for PATH', () => {
    const inv = parse('vms:\n  - { name: db1, host: hv1 }\npolicy:\n  hooks: { beforeWindow: [hooks/drain, x], afterWindow: [logger, up] }\n');
    expect(inv.vms[0]?.policy.hooks.beforeWindow).toEqual(['/inv/hooks/drain', 'x']);
    expect(inv.vms[0]?.policy.hooks.afterWindow).toEqual(['logger', 'up']);
  });
  it('windows: an unknown zone, a bad range, a bad date, a margin longer than a range', () => {
    const problems = problemsOf(`vms:\n  - { name: db1, host: hv1 }\npolicy:\n  windows:\n    timezone: Europe/Pariss\n    allow: ['22:00-06:00', '01:00-25:00', 'Mo-Fr 20:00-21:00']\n    except: ['2026-02-30']\n`);
    expect(culprits(problems)).toEqual([
      ['policy.windows.timezone', 8, '"Europe/Pariss" is not a time zone (did you mean "Europe/Paris"?)'],
      ['policy.windows.allow[1]', 9, '"01:00-25:00" holds a time that does not exist'],
      ['policy.windows.allow[2]', 9, '"Mo-Fr" is not a list of days'],
      ['policy.windows.except[0]', 10, '"2026-02-30" is not a date'],
    ]);
    const margin = problemsOf(`vms:\n  - { name: db1, host: hv1 }\npolicy:\n  windows: { timezone: UTC, allow: ['22:00-23:00'], margin: 1h }\n`);
    expect(margin[0]?.message).toContain('leaves nothing of "22:00-23:00"');
  });
  it('windows: a misspelt key inside the map, and a word that is not "always"', () => {
    const keys = problemsOf(`vms:\n  - { name: db1, host: hv1 }\npolicy:\n  windows: { timezone: UTC, alow: ['22:00-23:00'] }\n`);
    expect(culprits(keys)).toEqual([
      ['policy.windows.allow', 7, '"allow" is missing'],
      ['policy.windows.alow', 7, 'unknown key "alow" (did you mean "allow"?)'],
    ]);
    const word = problemsOf(`vms:\n  - { name: db1, host: hv1 }\npolicy:\n  windows: never\n`);
    expect(culprits(word)).toEqual([['policy.windows', 7, 'expected always, or a map with timezone: and allow:, got "never"']]);
  });
  it('rollout: canaries that name nothing, and a percentage that never stops', () => {
    const problems = problemsOf('groups: { canary: {} }\nvms:\n  - { name: db1, host: hv1 }\nrollout:\n  canaries: [db2, "group:canari"]\n  maxFailPercent: 100\n');
    expect(culprits(problems)).toEqual([
      ['rollout.canaries[0]', 8, 'canary "db2" is not a VM of this inventory (did you mean "db1"?)'],
      ['rollout.canaries[1]', 8, 'canary group "canari" is not declared under groups: (did you mean "canary"?)'],
      ['rollout.maxFailPercent', 9, 'maxFailPercent 100 would never stop the run'],
    ]);
  });
  it('rollout: a count of canaries', () => {
    expect(parse('vms:\n  - { name: db1, host: hv1 }\nrollout: { canaries: 2, maxFailures: 1 }\n').rollout).toEqual({ canaryVms: [], canaryGroups: [], canaryCount: 2, maxFailures: 1 });
  });
});

describe('window text', () => {
  it('reads ranges, overnight ranges and days', () => {
    expect(parseWindowRange('22:00-06:00')).toEqual({ ok: true, value: { startMin: 1320, endMin: 360, text: '22:00-06:00' } });
    expect(parseWindowRange('Mon-Fri 9:30 - 17:00')).toEqual({ ok: true, value: { startMin: 570, endMin: 1020, days: [1, 2, 3, 4, 5], text: 'Mon-Fri 9:30 - 17:00' } });
    expect(parseWindowRange('Fri-Mon 00:00-24:00')).toMatchObject({ ok: true, value: { days: [0, 1, 5, 6], endMin: 1440 } });
    expect(parseWindowRange('saturday,Sun 01:00-02:00')).toMatchObject({ ok: true, value: { days: [0, 6] } });
  });
  it('refuses what would be a guess', () => {
    expect(parseWindowRange('22:00-22:00')).toMatchObject({ ok: false, hint: 'write 00:00-24:00 for a whole day' });
    expect(parseWindowRange('24:00-02:00')).toMatchObject({ ok: false });
    expect(parseWindowRange('10pm-6am')).toMatchObject({ ok: false });
  });
  it('reads dates and ranges of dates', () => {
    expect(parseExceptDates('2026-12-24')).toEqual({ ok: true, value: ['2026-12-24'] });
    expect(parseExceptDates('2026-12-30..2027-01-02')).toEqual({ ok: true, value: ['2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02'] });
    expect(parseExceptDates('2027-01-02..2026-12-30')).toMatchObject({ ok: false });
    expect(parseExceptDates('2026-01-01..2027-06-01')).toMatchObject({ ok: false });
    expect(parseExceptDates('24/12/2026')).toMatchObject({ ok: false });
  });
});
