import { describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { newVolumeFor, arrayOf } from '../../src/inventory/mapping.js';
import { formatKeyPath, InputError, type Problem } from '../../src/util/errors.js';

const dir = 'fixtures/inventories';
const fixture = (name: string): string => `${dir}/${name}`;

async function problemsOf(name: string): Promise<Problem[]> {
  const error = await loadInventory(fixture(name)).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).exitCode).toBe(2);
  return [...(error as InputError).problems];
}

/** [file, line, key path] of each problem, the culprit an operator reads first. */
const culprits = (problems: Problem[]): [string | undefined, number | undefined, string][] =>
  problems.map((p) => [p.at?.file, p.at?.line, formatKeyPath(p.at?.path ?? [])]);

describe('loadInventory: the full example', () => {
  it('reads every key', async () => {
    const inv = await loadInventory(fixture('valid-full.yaml'));
    const folder = path.resolve(dir);
    expect(inv.file).toBe(path.join(folder, 'valid-full.yaml'));
    expect(inv.hosts['hv2']).toEqual({
      name: 'hv2',
      uri: 'qemu+ssh://admin@hv2.example.net:2222/system',
      shell: 'ssh',
      ssh: 'admin@hv2.example.net',
      sshPort: 2222,
      sshIdentityFile: path.join(folder, 'keys/sanshift_ed25519'),
      sshOptions: { ConnectTimeout: '10', StrictHostKeyChecking: 'yes' },
      sudo: true,
    });
    expect(inv.hosts['lab']).toMatchObject({ uri: `test://${folder}/nodes/lab.xml`, shell: 'simulated' });
    expect(inv.hosts['here']).toMatchObject({ uri: 'qemu:///system', shell: 'local' });
    expect(inv.vms.map((vm) => [vm.name, vm.host, vm.dependsOn, vm.antiAffinity])).toEqual([
      ['dns1', 'hv1', [], []],
      ['db1', 'hv1', ['dns1'], ['db-pair']],
      ['db2', 'hv2', ['dns1'], ['db-pair', 'rack-7']],
      ['web1', 'lab', ['db1', 'db2'], []],
      ['tools', 'here', [], []],
    ]);
    expect(inv.vms[2]?.disks).toEqual({ vda: '/dev/mapper/new-db2-root', vdb: '/dev/disk/by-id/wwn-0x600a098038304437' });
    expect(inv.vms[3]?.simulatedSizes).toEqual({ vda: 40 * 1024 ** 3, vdb: 512 * 1024 ** 2 });
    const fleetChecks = [
      { kind: 'guest-agent', gates: ['T1'], attemptTimeoutMs: 10_000 },
      { kind: 'tcp', host: '{vm}.example.net', port: 22, gates: ['T1', 'T2'], attemptTimeoutMs: 10_000 },
      { kind: 'http', url: 'https://{vm}.example.net/health', gates: ['T2'], attemptTimeoutMs: 5_000 },
      { kind: 'command', argv: [path.join(folder, 'checks/app-ok.sh'), '--strict'], gates: ['T1', 'T2'], attemptTimeoutMs: 10_000 },
    ];
    const windows = {
      timezone: 'Europe/Paris',
      allow: [
        { startMin: 22 * 60, endMin: 6 * 60, text: '22:00-06:00' },
        { startMin: 0, endMin: 24 * 60, days: [0, 6], text: 'Sat,Sun 00:00-24:00' },
      ],
      except: ['2026-12-24', '2026-12-25', '2026-12-26', '2026-12-31'],
      marginMs: 30 * 60_000,
    };
    // the fleet default keeps {vm} as written: only a VM's own policy has it replaced
    expect(inv.policy).toEqual({
      shutdownTimeoutMs: 300_000,
      onShutdownTimeout: 'force',
      shutdownMode: 'acpi',
      resyncSpeedMaxKiB: 204_800,
      resyncStallTimeoutMs: 1_800_000,
      timeouts: { hostCommandMs: 120_000, libvirtCallMs: 120_000, startMs: 300_000, hostLostMs: 1_800_000, windowHoldMs: 120_000 },
      pollIntervalMs: 2_000,
      health: { command: ['/usr/local/bin/check-guest', '--quiet'], settleMs: 90_000, timeoutMs: 600_000, intervalMs: 10_000, checks: fleetChecks },
      hooks: { timeoutMs: 300_000 },
      windows,
    });
    expect(Object.keys(inv.groups)).toEqual(['prod-db', 'rack-7']);
    expect(inv.rollout).toEqual({ canaryVms: ['dns1'], canaryGroups: ['rack-7'], canaryCount: 0, maxFailures: 3, maxFailPercent: 10 });
    const db1 = inv.vms.find((v) => v.name === 'db1')!;
    expect(db1.groups).toEqual(['prod-db']);
    expect(db1.policy).toMatchObject({ shutdownMode: 'agent', shutdownTimeoutMs: 600_000, onShutdownTimeout: 'fail', resyncSpeedMaxKiB: 102_400, windows });
    expect(db1.policy.hooks).toEqual({
      beforeWindow: [path.join(folder, 'hooks/drain.sh'), 'db1'],
      afterWindow: ['/usr/local/bin/lb', 'enable', 'db1'],
      onFailure: ['/usr/local/bin/page-oncall', '--service', 'db'],
      timeoutMs: 120_000,
    });
    expect(db1.policy.health.checks.map((c) => (c.kind === 'tcp' ? c.host : c.kind === 'http' ? c.url : c.kind))).toEqual(['guest-agent', 'db1.example.net', 'https://db1.example.net/health', 'command']);
    expect(db1.policySources).toMatchObject({ 'shutdown.mode': 'group prod-db', 'shutdown.timeout': 'group prod-db', resyncSpeedMax: 'group prod-db', pollInterval: 'fleet', 'health.checks': 'fleet', 'hooks.beforeWindow': 'group prod-db', windows: 'fleet', 'health.interval': 'fleet' });
    // db2 is in prod-db too, but its own policy drops the window and the failure hook
    const db2 = inv.vms.find((v) => v.name === 'db2')!;
    expect(db2.policy.windows).toBeUndefined();
    expect(db2.policy.hooks.onFailure).toBeUndefined();
    expect(db2.policy.hooks.beforeWindow).toEqual([path.join(folder, 'hooks/drain.sh'), 'db2']);
    expect(db2.policySources).toMatchObject({ windows: 'vm', 'hooks.onFailure': 'vm', 'hooks.beforeWindow': 'group prod-db' });
    const tools = inv.vms.find((v) => v.name === 'tools')!;
    expect(tools.policySources['shutdown.mode']).toBe('fleet');
    expect(tools.policySources['hooks.timeout']).toBe('default');
    expect(inv.limits).toEqual({
      mirrorsPerHost: 6,
      sessionsPerHost: 8,
      downWindows: 3,
      global: 50,
      bundleMaxSize: 5,
      hostBandwidthKiB: 409_600,
      arrayBandwidthKiB: { 'array-a': 1_048_576, 'array-b': 4000 },
    });
    expect(inv.lineOf(['limits', 'arrayBandwidth', 'array-b'])).toBe(108);
  });

  it('maps old volumes: CSV pairs first, then the regex rules', async () => {
    const inv = await loadInventory(fixture('valid-full.yaml'));
    expect(inv.mapping.map((r) => [r.index, r.at?.file, r.at?.line])).toEqual([
      [0, `${dir}/valid-full-mapping.csv`, 3],
      [1, `${dir}/valid-full-mapping.csv`, 4],
      [2, `${dir}/valid-full.yaml`, 50],
      [3, `${dir}/valid-full.yaml`, 53],
    ]);
    expect(newVolumeFor('/dev/mapper/old-web1-root', inv.mapping)).toMatchObject({ new: '/dev/mapper/web1-system', array: 'array-b' });
    expect(newVolumeFor('/dev/mapper/old-db1', inv.mapping)).toMatchObject({ new: '/dev/mapper/new-db1', array: 'array-a' });
    expect(newVolumeFor('/dev/disk/by-id/wwn-0x5000abc', inv.mapping)?.new).toBe('/dev/disk/by-id/wwn-0x6000abc');
    const db1 = inv.vms.find((vm) => vm.name === 'db1');
    const dns1 = inv.vms.find((vm) => vm.name === 'dns1');
    expect(db1 && arrayOf(db1, '/dev/mapper/new-db1', inv.mapping)).toBe('array-b');
    expect(dns1 && arrayOf(dns1, '/dev/mapper/new-dns1', inv.mapping)).toBe('array-a');
  });

  it('reads JSON', async () => {
    const inv = await loadInventory(fixture('valid-minimal.json'));
    expect(inv.hosts['hv1']).toMatchObject({ shell: 'ssh', ssh: 'hv1' });
    expect(inv.lineOf(['vms', 0])).toBe(3);
  });
});

describe('loadInventory: bad input names its culprit', () => {
  it('a file that does not exist', async () => {
    const problems = await problemsOf('no-such-inventory.yaml');
    expect(problems[0]).toMatchObject({ code: 'not-found', at: { file: fixture('no-such-inventory.yaml') } });
  });

  it('malformed YAML, with the parser line and column', async () => {
    const problems = await problemsOf('bad-yaml-syntax.yaml');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.at).toEqual({ file: fixture('bad-yaml-syntax.yaml'), line: 8, column: 3 });
    expect(problems[0]?.message).toMatch(/^not valid YAML or JSON: Flow sequence .* end with a \]/);
    expect(problems[0]?.hint).toContain('line 8 or just above');
  });

  it('malformed JSON', async () => {
    const problems = await problemsOf('bad-json-syntax.json');
    expect(problems[0]?.at).toMatchObject({ file: fixture('bad-json-syntax.json'), line: 4 });
  });

  it('unknown keys, each with a did-you-mean', async () => {
    const problems = await problemsOf('bad-unknown-key.yaml');
    const file = fixture('bad-unknown-key.yaml');
    expect(culprits(problems)).toEqual([
      [file, 4, 'hosts.hv1.shel'],
      [file, 8, 'vms[0].dependOn'],
      [file, 11, 'polcy'],
    ]);
    expect(problems.map((p) => p.message)).toEqual([
      'unknown key "shel" (did you mean "shell"?)',
      'unknown key "dependOn" (did you mean "dependsOn"?)',
      'unknown key "polcy" (did you mean "policy"?)',
    ]);
    expect(problems[1]?.hint).toBe('rename it to dependsOn');
  });

  it('a value outside its set', async () => {
    const problems = await problemsOf('bad-enum.yaml');
    expect(culprits(problems)).toEqual([
      [fixture('bad-enum.yaml'), 4, 'hosts.hv1.shell'],
      [fixture('bad-enum.yaml'), 9, 'policy.onShutdownTimeout'],
    ]);
    expect(problems[0]?.message).toBe('expected one of ssh, local, simulated, got "sssh" (did you mean "ssh"?)');
  });

  it('a VM named twice', async () => {
    const problems = await problemsOf('bad-duplicate-vm.yaml');
    expect(culprits(problems)).toEqual([[fixture('bad-duplicate-vm.yaml'), 9, 'vms[2].name']]);
    expect(problems[0]).toMatchObject({ code: 'already-exists', message: 'VM db1 is declared twice (first at line 5, vms[0])' });
  });

  it('a host named twice (a duplicate YAML key)', async () => {
    const problems = await problemsOf('bad-duplicate-host.yaml');
    expect(culprits(problems)).toEqual([[fixture('bad-duplicate-host.yaml'), 6, 'hosts.hv1']]);
    expect(problems[0]?.message).toBe('host "hv1" is declared twice (first at line 2)');
  });

  it('a VM on a host that is not declared', async () => {
    const problems = await problemsOf('bad-unknown-host.yaml');
    expect(culprits(problems)).toEqual([[fixture('bad-unknown-host.yaml'), 8, 'vms[1].host']]);
    expect(problems[0]).toMatchObject({ code: 'not-found', at: { vm: 'web1' } });
    expect(problems[0]?.message).toContain('(did you mean "hv01"?)');
  });

  it('dependsOn naming VMs that do not exist, in a list and as one string', async () => {
    const problems = await problemsOf('bad-dependson-unknown.yaml');
    expect(culprits(problems)).toEqual([
      [fixture('bad-dependson-unknown.yaml'), 11, 'vms[1].dependsOn[1]'],
      [fixture('bad-dependson-unknown.yaml'), 14, 'vms[2].dependsOn'],
    ]);
    expect(problems[0]?.message).toBe('VM db1 depends on "dsn1", which is not a VM of this inventory (did you mean "dns1"?)');
    expect(problems[1]?.message).toContain('(did you mean "db1"?)');
  });

  it('a dependsOn cycle, printed in full', async () => {
    const problems = await problemsOf('bad-dependson-cycle.yaml');
    expect(culprits(problems)).toEqual([[fixture('bad-dependson-cycle.yaml'), 7, 'vms[0].dependsOn']]);
    expect(problems[0]?.message).toBe('dependsOn forms a cycle: a -> b -> c -> a');
  });

  it('a VM that depends on itself', async () => {
    const problems = await problemsOf('bad-self-dependency.yaml');
    expect(culprits(problems)).toEqual([[fixture('bad-self-dependency.yaml'), 7, 'vms[0].dependsOn']]);
    expect(problems[0]?.message).toBe('VM db1 depends on itself');
  });

  it('an inventory with no VMs, and an empty file', async () => {
    const none = await problemsOf('bad-no-vms.yaml');
    expect(culprits(none)).toEqual([[fixture('bad-no-vms.yaml'), 4, 'vms']]);
    expect(none[0]?.message).toBe('the inventory lists no VMs');
    const empty = await problemsOf('bad-empty.yaml');
    expect(empty[0]).toMatchObject({ message: 'the inventory is empty', at: { file: fixture('bad-empty.yaml'), line: 1 } });
  });

  it('new volumes that are not safe device paths', async () => {
    const problems = await problemsOf('bad-unsafe-new-volume.yaml');
    const file = fixture('bad-unsafe-new-volume.yaml');
    expect(culprits(problems)).toEqual([
      [file, 8, 'vms[0].disks.vda'],
      [file, 9, 'vms[0].disks.vdb'],
      [file, 10, 'vms[0].disks.vdc'],
      [file, 11, 'vms[0].disks.vdd'],
    ]);
    expect(problems[2]?.message).toBe('new volume "/dev/mapper/new-db1;reboot" is not a safe device path');
    expect(problems[2]?.hint).toContain('absolute path under /dev');
  });

  it('a VM name with shell metacharacters', async () => {
    const problems = await problemsOf('bad-vm-name.yaml');
    expect(culprits(problems)).toEqual([[fixture('bad-vm-name.yaml'), 7, 'vms[1].name']]);
    expect(problems[0]?.message).toBe('VM name "web1; rm -rf /" holds characters sanshift refuses');
    expect(problems[0]?.at?.vm).toBeUndefined();
  });

  it('a disk target that is not a target dev', async () => {
    const problems = await problemsOf('bad-target-dev.yaml');
    expect(culprits(problems)).toEqual([[fixture('bad-target-dev.yaml'), 9, 'vms[0].disks["vd b"]']]);
  });

  it('mapping rules whose regex does not compile or whose groups do not exist', async () => {
    const problems = await problemsOf('bad-mapping-regex.yaml');
    expect(culprits(problems)).toEqual([
      [fixture('bad-mapping-regex.yaml'), 8, 'mapping[0].from'],
      [fixture('bad-mapping-regex.yaml'), 11, 'mapping[1].to'],
    ]);
    expect(problems[0]?.message).toBe('the regular expression "^/dev/mapper/old-(.+$" does not compile: Unterminated group');
  });

  it('one new volume for two disks of one VM, and for two VMs', async () => {
    const problems = await problemsOf('bad-new-volume-twice.yaml');
    expect(culprits(problems)).toEqual([
      [fixture('bad-new-volume-twice.yaml'), 9, 'vms[0].disks.vdb'],
      [fixture('bad-new-volume-twice.yaml'), 13, 'vms[1].disks.vda'],
    ]);
    expect(problems.map((p) => p.code)).toEqual(['in-use', 'in-use']);
    expect(problems[1]?.message).toContain('also the new volume of db1 vda (line 8)');
  });

  it('sizes, durations and speeds that do not parse', async () => {
    const problems = await problemsOf('bad-units.yaml');
    const file = fixture('bad-units.yaml');
    expect(culprits(problems)).toEqual([
      [file, 9, 'vms[0].simulate.sizes.vda'],
      [file, 11, 'policy.shutdownTimeout'],
      [file, 12, 'policy.resyncSpeedMax'],
      [file, 14, 'limits.hostBandwidth'],
    ]);
    expect(problems[2]?.message).toBe('"200MiB" is not a speed');
    expect(problems[2]?.hint).toContain("'200MiB/s'");
  });

  it('shell: ssh with no destination to derive', async () => {
    const problems = await problemsOf('bad-ssh-destination.yaml');
    expect(culprits(problems)).toEqual([[fixture('bad-ssh-destination.yaml'), 4, 'hosts.hv1.shell']]);
    expect(problems[0]?.hint).toBe('add ssh: user@host, or use shell: local for this machine');
  });

  it('a mapping CSV with bad rows, each named by its own file and row', async () => {
    const problems = await problemsOf('bad-mapping-csv.yaml');
    expect(culprits(problems)).toEqual([
      [fixture('bad-mapping.csv'), 3, ''],
      [fixture('bad-mapping.csv'), 4, ''],
      [fixture('bad-mapping.csv'), 5, ''],
      [fixture('bad-mapping.csv'), 6, ''],
    ]);
  });

  it('a mapping CSV that does not exist', async () => {
    const problems = await problemsOf('bad-mapping-csv-missing.yaml');
    expect(culprits(problems)).toEqual([[fixture('bad-mapping-csv-missing.yaml'), 7, 'mappingCsv']]);
    expect(problems[0]?.message).toContain(`${path.resolve(dir)}/no-such-mapping.csv: no such file`);
  });

  it('prints every problem in the error message, with where and how to fix', async () => {
    const error = await loadInventory(fixture('bad-unknown-key.yaml')).catch((err: unknown) => err);
    expect((error as Error).message.split('\n')).toEqual([
      `${fixture('bad-unknown-key.yaml')}:4 hosts.hv1.shel: unknown key "shel" (did you mean "shell"?)`,
      '  fix: rename it to shell',
      `${fixture('bad-unknown-key.yaml')}:8 vms[0].dependOn: unknown key "dependOn" (did you mean "dependsOn"?)`,
      '  fix: rename it to dependsOn',
      `${fixture('bad-unknown-key.yaml')}:11 polcy: unknown key "polcy" (did you mean "policy"?)`,
      '  fix: rename it to policy',
    ]);
  });
});
