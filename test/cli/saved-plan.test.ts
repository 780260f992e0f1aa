// `plan -o`, `plan --detailed-exitcode` and `run --plan`, through the CLI on a rehearsal
// fleet (libvirt's test driver and simulated md hosts, state kept in .sanshift/rehearsal).
import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { parsePlanFile } from '../../src/plan/plan-file.js';
import { rehearsalCopy } from './helpers.js';

const runs = (dir: string) => (existsSync(join(dir, '.sanshift', 'runs')) ? readdirSync(join(dir, '.sanshift', 'runs')).filter((f) => f.endsWith('.jsonl')) : []);

async function cli(args: string[]): Promise<{ code: number; io: RecordingIo }> {
  const io = new RecordingIo();
  const code = await main(args, io);
  return { code, io };
}

/** Edits the rehearsal's simulated host, as a change on a real host would look. */
function editRehearsal(dir: string, edit: (nodeXml: string, volumes: { path: string; sizeBytes: number }[]) => string): void {
  const node = join(dir, '.sanshift', 'rehearsal', 'hv1.node.xml');
  const vols = join(dir, '.sanshift', 'rehearsal', 'hv1.volumes.json');
  const volumes = JSON.parse(readFileSync(vols, 'utf8')) as { path: string; sizeBytes: number }[];
  writeFileSync(node, edit(readFileSync(node, 'utf8'), volumes));
  writeFileSync(vols, JSON.stringify(volumes));
}

describe('plan -o FILE', () => {
  test('saves a versioned, fingerprinted plan and says how to run it; --detailed-exitcode: 4, VMs to migrate', async () => {
    const { dir, inventory } = rehearsalCopy();
    const file = join(dir, 'fleet.plan.json');
    const { code, io } = await cli(['plan', '-i', inventory, '-o', file, '--detailed-exitcode']);
    expect(code).toBe(4);
    expect(io.stdout).toContain(`plan saved to ${file}: 4 VMs to migrate, 0 already done. Run exactly this plan with: sanshift run -i ${inventory} --plan ${file}`);
    const saved = parsePlanFile(readFileSync(file, 'utf8'), file);
    expect(saved.version).toBe(1);
    expect(Object.keys(saved.fingerprint).sort()).toEqual(['app1', 'db1', 'dns1', 'web1']);
    expect(saved.inventory.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(saved.fingerprint['db1']!.disks.map((d) => d.sizeBytes)).toEqual([200 * 1024 ** 3, 50 * 1024 ** 3]);
    // without the flag, a plan is a success whether or not there is work
    expect((await cli(['plan', '-i', inventory])).code).toBe(0);
  });

  test('--json prints the plan on stdout and the saved-plan line on stderr', async () => {
    const { dir, inventory } = rehearsalCopy();
    const file = join(dir, 'p.json');
    const { code, io } = await cli(['plan', '-i', inventory, 'dns1', '--json', '-o', file]);
    expect(code).toBe(0);
    expect(JSON.parse(io.stdout).vms.map((v: { name: string }) => v.name)).toEqual(['dns1']);
    expect(io.stderr).toContain(`plan saved to ${file}: 1 VM to migrate`);
  });

  test('a folder that does not exist: exit 2 before any host is read', async () => {
    const { dir, inventory } = rehearsalCopy();
    const { code, io } = await cli(['plan', '-i', inventory, '-o', join(dir, 'missing', 'p.json')]);
    expect(code).toBe(2);
    expect(io.stderr).toContain(`--out ${join(dir, 'missing', 'p.json')}: the folder ${join(dir, 'missing')} does not exist`);
    expect(existsSync(join(dir, '.sanshift'))).toBe(false);
  });
});

describe('run --plan FILE', () => {
  test('runs exactly the saved plan\'s VMs when nothing changed; then plan --detailed-exitcode says 0, nothing to do', async () => {
    const { dir, inventory } = rehearsalCopy();
    const file = join(dir, 'dns1.plan.json');
    expect((await cli(['plan', '-i', inventory, 'dns1', '-o', file])).code).toBe(0);
    const { code, io } = await cli(['run', '-i', inventory, '--plan', file, '--yes']);
    expect(code).toBe(0);
    expect(io.stdout).toContain(`plan ${file} (made `);
    expect(io.stdout).toContain('still matches the fleet: running exactly it');
    expect(io.stdout).toMatch(/run \S+ started for 1 VM\b/);
    expect(io.stdout).toMatch(/\ndns1\s+done\s/);
    expect(io.stdout).not.toMatch(/\ndb1\s+done/);
    const after = await cli(['plan', '-i', inventory, 'dns1', '--detailed-exitcode']);
    expect(after.code).toBe(0);
  }, 60_000);

  test('refuses a stale plan with exit 2, naming every change, and touches nothing', async () => {
    const { dir, inventory } = rehearsalCopy();
    const file = join(dir, 'fleet.plan.json');
    expect((await cli(['plan', '-i', inventory, '-o', file])).code).toBe(0);
    editRehearsal(dir, (node, volumes) => {
      // web1's old and new volumes grow (a size), app1 gets more memory (a definition)
      for (const v of volumes) if (v.path.endsWith('-web1')) v.sizeBytes = 40 * 1024 ** 3;
      const i = node.indexOf('<name>app1</name>');
      const j = node.indexOf("<memory unit='KiB'>1048576</memory>", i);
      return `${node.slice(0, j)}<memory unit='KiB'>2097152</memory>${node.slice(j + "<memory unit='KiB'>1048576</memory>".length)}`;
    });
    appendFileSync(inventory, '# an edit after the plan\n');
    const { code, io } = await cli(['run', '-i', inventory, '--plan', file, '--yes']);
    expect(code).toBe(2);
    expect(io.stderr).toContain('error: 3 problems in the input; nothing was changed.');
    expect(io.stderr).toContain(`${file}: the plan is stale: inventory: the inventory's content changed since the plan`);
    expect(io.stderr).toContain(`${file} VM web1: the plan is stale: size: disk vda: /dev/mapper/old-web1 was 20.0 GiB (21474836480 bytes), is 40.0 GiB (42949672960 bytes) now`);
    expect(io.stderr).toContain(`${file} VM app1: the plan is stale: definition: its persistent definition changed: - <memory unit='KiB'>1048576</memory>; + <memory unit='KiB'>2097152</memory>`);
    expect(io.stderr).toContain(`fix: review what changed, then make a new plan: sanshift plan -i ${inventory} -o ${file}`);
    expect(runs(dir)).toEqual([]);
  }, 60_000);

  test('a device change: a disk that maps elsewhere now', async () => {
    const { dir, inventory } = rehearsalCopy();
    const file = join(dir, 'p.json');
    expect((await cli(['plan', '-i', inventory, 'web1', '-o', file])).code).toBe(0);
    writeFileSync(inventory, readFileSync(inventory, 'utf8').replace('vda: /dev/mapper/new-web1', 'vda: /dev/mapper/new-app1'));
    const { code, io } = await cli(['run', '-i', inventory, '--plan', file, '--yes']);
    expect(code).toBe(2);
    expect(io.stderr).toContain('VM web1: the plan is stale: device: disk vda: new volume /dev/mapper/new-web1 then, /dev/mapper/new-app1 now');
    expect(runs(dir)).toEqual([]);
  }, 60_000);

  test('VM names beside --plan, a missing plan, a file that is not a plan: exit 2, no host contacted', async () => {
    const { dir, inventory } = rehearsalCopy();
    const named = await cli(['run', '-i', inventory, '--plan', 'p.json', 'dns1', '--yes']);
    expect(named.code).toBe(2);
    expect(named.io.stderr).toContain('run --plan p.json names its own VMs; dns1 cannot be added or chosen');
    const missing = await cli(['run', '-i', inventory, '--plan', join(dir, 'nope.json'), '--yes']);
    expect(missing.code).toBe(2);
    expect(missing.io.stderr).toContain(`cannot read the plan ${join(dir, 'nope.json')}`);
    writeFileSync(join(dir, 'bad.json'), '{"format":"sanshift-plan","version":1}');
    const bad = await cli(['run', '-i', inventory, '--plan', join(dir, 'bad.json'), '--yes']);
    expect(bad.code).toBe(2);
    expect(bad.io.stderr).toContain(`${join(dir, 'bad.json')} is not a saved plan of this sanshift: createdAt`);
    expect(existsSync(join(dir, '.sanshift'))).toBe(false);
  });
});
