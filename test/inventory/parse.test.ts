import { describe, expect, it } from '@jest/globals';
import { defaultLimits, defaultPolicy, dependencyCycles, parseInventory, testDriverUri } from '../../src/inventory/parse.js';
import { defaultSources } from '../../src/inventory/policy.js';
import { formatKeyPath, InputError, type Problem } from '../../src/util/errors.js';

const HOST = 'hosts:\n  hv1:\n    uri: qemu+ssh://root@hv1/system\n';
const VM = 'vms:\n  - name: db1\n    host: hv1\n';

function problemsOf(text: string, files: Record<string, string> = {}): Problem[] {
  try {
    parseInventory(text, '/inv/site.yaml', { readFile: (p) => files[p] ?? (() => { throw new Error('ENOENT'); })() });
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(2);
    return [...(err as InputError).problems];
  }
  throw new Error('expected an InputError');
}

describe('parseInventory: defaults', () => {
  const inv = parseInventory(HOST + VM, '/inv/site.yaml');

  it('applies the documented policy and limits', () => {
    expect(inv.policy).toEqual(defaultPolicy);
    expect(inv.limits).toEqual(defaultLimits);
    expect(inv.mapping).toEqual([]);
  });
  it('derives shell and ssh destination from a remote URI', () => {
    expect(inv.hosts['hv1']).toEqual({ name: 'hv1', uri: 'qemu+ssh://root@hv1/system', shell: 'ssh', ssh: 'root@hv1', sudo: false });
  });
  it('fills VM lists and keeps disks undefined for mapping', () => {
    expect(inv.vms).toEqual([{ name: 'db1', host: 'hv1', dependsOn: [], antiAffinity: [], groups: [], policy: defaultPolicy, policySources: defaultSources(), index: 0 }]);
    expect(inv.vms[0]?.disks).toBeUndefined();
  });
  it('keeps the absolute file and answers lines of key paths', () => {
    expect(inv.file).toBe('/inv/site.yaml');
    expect(inv.lineOf(['vms', 0, 'host'])).toBe(6);
    expect(inv.lineOf(['hosts', 'hv1', 'uri'])).toBe(3);
    // a missing key: the line of its deepest existing parent
    expect(inv.lineOf(['vms', 0, 'disks'])).toBe(5);
  });
});

describe('parseInventory: hosts', () => {
  const host = (yaml: string) => parseInventory(`hosts:\n  h:\n${yaml}\n` + VM.replace('hv1', 'h'), '/inv/site.yaml').hosts['h'];

  it('uses local for a local URI, with no ssh', () => {
    expect(host('    uri: qemu:///system')).toEqual({ name: 'h', uri: 'qemu:///system', shell: 'local', sudo: false });
  });
  it('takes the ssh port from a +ssh URI and keeps a bare host name', () => {
    expect(host('    uri: qemu+ssh://hv7:2222/system')).toMatchObject({ shell: 'ssh', ssh: 'hv7', sshPort: 2222 });
  });
  it('does not take a TLS port for ssh', () => {
    expect(host('    uri: qemu+tls://hv7:16514/system')).not.toHaveProperty('sshPort');
  });
  it('lets explicit keys win and converts ssh options to strings', () => {
    const h = host('    uri: qemu+ssh://root@hv7/system\n    ssh: ops@10.0.0.7\n    sshPort: 22\n    sudo: true\n    identityFile: ~/.ssh/id_ed25519\n    sshOptions: {BatchMode: true, ConnectTimeout: 5}');
    expect(h).toMatchObject({ ssh: 'ops@10.0.0.7', sshPort: 22, sudo: true, sshIdentityFile: '~/.ssh/id_ed25519', sshOptions: { BatchMode: 'yes', ConnectTimeout: '5' } });
  });
  it('resolves a relative identityFile against the inventory folder', () => {
    expect(host('    uri: qemu+ssh://hv7/system\n    identityFile: keys/id')?.sshIdentityFile).toBe('/inv/keys/id');
  });
  it('takes a test:/// URI as libvirt does (an absolute path), and testDriverNode: relative to the inventory', () => {
    expect(host('    uri: test:///nodes/node.xml')?.uri).toBe('test:///nodes/node.xml');
    expect(host('    uri: test:///default')?.uri).toBe('test:///default');
    expect(host('    testDriverNode: nodes/node.xml')?.uri).toBe('test:///inv/nodes/node.xml');
    expect(host('    testDriverNode: /srv/lab/node.xml')?.uri).toBe('test:///srv/lab/node.xml');
    expect(testDriverUri('../lab/node.xml', '/inv')).toBe('test:///lab/node.xml');
  });
  it('refuses a host with both uri: and testDriverNode:, or neither', () => {
    const both = problemsOf('hosts:\n  hv1:\n    uri: qemu:///system\n    testDriverNode: node.xml\n' + VM);
    expect(both.map((p) => [p.at?.path?.join('.'), p.at?.line, p.message])).toEqual([['hosts.hv1.testDriverNode', 4, 'a host has uri: or testDriverNode:, not both']]);
    const neither = problemsOf('hosts:\n  hv1:\n    shell: local\n' + VM);
    expect(neither[0]?.message).toBe('host hv1 has no uri:');
  });
  it('refuses a test:/// file that does not exist, pointing at the file beside the inventory written for the old rule', () => {
    const present = new Set(['/inv/node.xml']);
    const problems = (() => {
      try {
        parseInventory('hosts:\n  hv1:\n    uri: test:///node.xml\n    shell: simulated\n' + VM, '/inv/site.yaml', { exists: (p) => present.has(p) });
      } catch (err) {
        return [...(err as InputError).problems];
      }
      throw new Error('expected an InputError');
    })();
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toBe('test:///node.xml names the absolute path /node.xml, which does not exist (/inv/node.xml does, beside the inventory)');
    expect(problems[0]?.hint).toContain('write testDriverNode: node.xml instead of uri:');
    expect(problems[0]?.at).toMatchObject({ path: ['hosts', 'hv1', 'uri'], line: 3 });
    // with the file where the URI says, it is taken as written
    present.add('/node.xml');
    expect(parseInventory('hosts:\n  hv1:\n    uri: test:///node.xml\n    shell: simulated\n' + VM, '/inv/site.yaml', { exists: (p) => present.has(p) }).hosts['hv1']?.uri).toBe('test:///node.xml');
  });
  it('refuses shell: local with a remote URI (mdadm would run on the wrong machine)', () => {
    const [p] = problemsOf('hosts:\n  hv1:\n    uri: qemu+ssh://root@hv1/system\n    shell: local\n' + VM);
    expect(p?.at).toMatchObject({ path: ['hosts', 'hv1', 'shell'], line: 4, host: 'hv1' });
    expect(p?.message).toContain('points at hv1');
  });
  it('refuses ssh destinations that could be read as options, and command-running ssh options', () => {
    const problems = problemsOf('hosts:\n  hv1:\n    uri: qemu:///system\n    shell: ssh\n    ssh: -oProxyCommand=x\n    sshOptions:\n      ProxyCommand: nc %h 22\n      User: "a b"\n' + VM);
    expect(problems.map((p) => [p.at?.path?.join('.'), p.at?.line])).toEqual([
      ['hosts.hv1.ssh', 5],
      ['hosts.hv1.sshOptions.ProxyCommand', 7],
      ['hosts.hv1.sshOptions.User', 8],
    ]);
    expect(problems[1]?.hint).toContain('ProxyJump');
  });
  it('refuses an unparsable URI and an unsafe host name', () => {
    const problems = problemsOf('hosts:\n  hv1:\n    uri: not a uri\n  "hv;2":\n    uri: qemu:///system\n' + VM);
    expect(problems.map((p) => [p.at?.path?.join('.'), p.at?.line])).toEqual([
      ['hosts.hv1.uri', 3],
      ['hosts.hv;2', 4],
    ]);
  });
});

describe('parseInventory: VMs, policy and limits', () => {
  it('reads policy and limits in their units', () => {
    const inv = parseInventory(
      HOST + VM + "    array: a1\npolicy:\n  shutdownTimeout: 90\n  resyncSpeedMax: 4000\n  health:\n    command: [/usr/bin/check, --retries, 3, true]\nlimits:\n  hostBandwidth: 1GiB/s\n  arrayBandwidth: {a1: 100MiB/s}\n",
      '/inv/site.yaml',
    );
    expect(inv.policy).toEqual({ ...defaultPolicy, shutdownTimeoutMs: 90_000, resyncSpeedMaxKiB: 4000, health: { ...defaultPolicy.health, command: ['/usr/bin/check', '--retries', '3', 'true'] } });
    expect(inv.limits).toEqual({ ...defaultLimits, hostBandwidthKiB: 1_048_576, arrayBandwidthKiB: { a1: 102_400 } });
  });
  it('refuses zero timeouts and a bandwidth for an array nothing names', () => {
    const problems = problemsOf(HOST + VM + "    array: array-a\npolicy:\n  shutdownTimeout: 0s\nlimits:\n  arrayBandwidth:\n    arry-a: 1GiB/s\n");
    expect(problems.map((p) => [p.at?.path?.join('.'), p.at?.line])).toEqual([
      ['policy.shutdownTimeout', 9],
      ['limits.arrayBandwidth.arry-a', 12],
    ]);
    expect(problems[1]?.message).toContain('(did you mean "array-a"?)');
  });
  it('reports a missing required key and a wrong type at the line of the entry', () => {
    const problems = problemsOf(HOST + 'vms:\n  - name: db1\n  - name: db2\n    host: [hv1]\n');
    expect(problems.map((p) => [formatKeyPath(p.at?.path ?? []), p.at?.line, p.message])).toEqual([
      ['vms[0].host', 5, '"host" is missing'],
      ['vms[1].host', 7, 'expected a string, got a list'],
    ]);
  });
  it('refuses an empty disks map and a health command that is not a list', () => {
    const problems = problemsOf(HOST + VM + '    disks: {}\npolicy:\n  health:\n    command: /bin/check\n');
    expect(problems.map((p) => p.at?.path?.join('.'))).toEqual(['policy.health.command']);
    const again = problemsOf(HOST + VM + '    disks: {}\n');
    expect(again[0]?.message).toBe('disks is empty');
  });
  it('accepts JSON and YAML alike', () => {
    const json = JSON.stringify({ hosts: { hv1: { uri: 'qemu+ssh://root@hv1/system' } }, vms: [{ name: 'db1', host: 'hv1' }] }, null, 2);
    const fromJson = parseInventory(json, '/inv/site.json');
    const fromYaml = parseInventory(HOST + VM, '/inv/site.json');
    expect({ ...fromJson, lineOf: null }).toEqual({ ...fromYaml, lineOf: null });
  });
  it('refuses an inventory version it does not know', () => {
    expect(problemsOf('version: 2\n' + HOST + VM)[0]?.at?.path).toEqual(['version']);
  });
  it('reads the mapping CSV through the given reader, before the regex rules', () => {
    const inv = parseInventory(HOST + VM + "mappingCsv: map.csv\nmapping:\n  - from: '^(.+)$'\n    to: /dev/mapper/x\n", '/inv/site.yaml', {
      readFile: (p) => {
        expect(p).toBe('/inv/map.csv');
        return '/dev/a,/dev/b,arr\n';
      },
    });
    expect(inv.mapping.map((r) => [r.index, r.to, r.at?.file, r.at?.line])).toEqual([
      [0, '/dev/b', '/inv/map.csv', 1],
      [1, '/dev/mapper/x', '/inv/site.yaml', 9],
    ]);
  });
  it('collects problems from every section before throwing', () => {
    const problems = problemsOf(
      'hosts:\n  hv1:\n    uri: qemu:///system\n    shell: ssh\nvms:\n  - name: db1\n    host: hv2\n    dependsOn: [db1]\n    disks: {vda: /tmp/x}\nmapping:\n  - from: "("\n    to: /dev/x\n',
    );
    expect(problems.map((p) => p.at?.line)).toEqual([4, 7, 9, 8, 11]);
  });
});

describe('dependencyCycles', () => {
  it('names each cycle once, from its smallest member', () => {
    const cycles = dependencyCycles([
      { name: 'c', dependsOn: ['a'] },
      { name: 'a', dependsOn: ['b'] },
      { name: 'b', dependsOn: ['c', 'x'] },
      { name: 'x', dependsOn: ['x'] },
      { name: 'y', dependsOn: ['a', 'unknown'] },
    ]);
    expect(cycles).toEqual([
      ['a', 'b', 'c', 'a'],
      ['x', 'x'],
    ]);
  });
  it('finds none in a tree', () => {
    expect(dependencyCycles([{ name: 'a', dependsOn: ['b', 'c'] }, { name: 'b', dependsOn: ['c'] }, { name: 'c', dependsOn: [] }])).toEqual([]);
  });
});
