// `sanshift doctor` through main(), on a copy of the rehearsal example: exit codes, text, JSON,
// the figures of -v, and --original.
import { describe, expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { rehearsalCopy } from './helpers.js';

/** web1 defined on its mirror by hand, and db1 carrying the record of a run whose state folder is gone. */
function leftovers(dir: string): void {
  const node = join(dir, 'node.xml');
  const text = readFileSync(node, 'utf8');
  const edited = text
    .replace("<source dev='/dev/mapper/old-web1'/>", "<source dev='/dev/md/ss-web1-vda'/>")
    .replace(
      '<uuid>a1b2c3d4-0002-4000-8000-000000000002</uuid>',
      "<uuid>a1b2c3d4-0002-4000-8000-000000000002</uuid>\n    <metadata>\n      <sanshift:migration xmlns:sanshift='https://sanshift.dev/xmlns/migration/1' phase='mirror' run-id='20261101T000000.000Z-0a0b0c'>\n        <sanshift:disk target='vda' old='/dev/mapper/old-db1' new='/dev/mapper/new-db1' mirror='/dev/md/ss-db1-vda'/>\n      </sanshift:migration>\n    </metadata>",
    );
  expect(edited).not.toBe(text);
  writeFileSync(node, edited);
}

describe('sanshift doctor', () => {
  test('nothing left: exit 0; -v shows what each host cost', async () => {
    const { inventory } = rehearsalCopy();
    const io = new RecordingIo();
    expect(await main(['doctor', '-i', inventory, '-v'], io)).toBe(0);
    expect(io.stdout).toMatch(/^REHEARSAL: /);
    expect(io.stdout).toMatch(/\nhv1: 1 host command, 13 libvirt calls \(2 listings, 6 persistent and 5 live definitions\), \d+ paths probed, \d+ ms\nnothing left behind on 1 host\n$/);
    expect(io.stderr).toBe('');
  });

  test('leftovers: exit 1, each with its commands; --json carries the same', async () => {
    const { dir, inventory } = rehearsalCopy();
    leftovers(dir);
    const io = new RecordingIo();
    expect(await main(['doctor', '-i', inventory], io)).toBe(1);
    expect(io.stdout).toMatch(/\n1\. hv1: persistent-on-mirror: domain web1\n {3}its persistent definition puts vda on \/dev\/md\/ss-web1-vda \(no such array now\): invariant I2\s+is\s+broken/);
    expect(io.stdout).toContain(`   run here: virsh -c test://${join(dir, 'node.xml')} edit web1\n`);
    expect(io.stdout).toMatch(/\n2\. hv1: metadata-without-journal: domain db1\n/);
    expect(io.stdout).toContain(`   run here: sanshift run -i ${inventory} db1\n`);
    expect(io.stdout).toMatch(/\n2 findings on 1 host scanned: nothing was run/);
    expect(io.stdout).not.toMatch(/\d+ ms\n/);
    const json = new RecordingIo();
    expect(await main(['doctor', '-i', inventory, '--json'], json)).toBe(1);
    const parsed = JSON.parse(json.stdout) as { findings: { kind: string; vm: string; fixes: { on: string | null; argv: string[]; command: string }[] }[]; hosts: { host: string; hostCommands: number }[] };
    expect(parsed.findings.map((f) => [f.kind, f.vm])).toEqual([['persistent-on-mirror', 'web1'], ['metadata-without-journal', 'db1']]);
    expect(parsed.findings[1]!.fixes.map((x) => x.command)).toEqual([`sanshift run -i ${inventory} db1`, `virsh -c test://${join(dir, 'node.xml')} metadata db1 --uri https://sanshift.dev/xmlns/migration/1 --config --remove`]);
    expect(parsed.hosts).toEqual([expect.objectContaining({ host: 'hv1', hostCommands: 1 })]);
    // a selection narrows what is reported to its VMs
    const one = new RecordingIo();
    expect(await main(['doctor', '-i', inventory, '--limit', 'db*', '--json'], one)).toBe(1);
    expect((JSON.parse(one.stdout) as { findings: { vm: string }[] }).findings.map((f) => f.vm)).toEqual(['db1']);
  });

  test('--original prints the journal\'s definition; none recorded, or a bad selection: exit 2', async () => {
    const { inventory } = rehearsalCopy();
    const none = new RecordingIo();
    expect(await main(['doctor', '-i', inventory, '--original', 'dns1'], none)).toBe(2);
    expect(none.stderr).toMatch(/no original definition of dns1 in the journals of .*\.sanshift/);
    expect(await main(['run', '-i', inventory, 'dns1', '--yes', '-q'], new RecordingIo())).toBe(0);
    const io = new RecordingIo();
    expect(await main(['doctor', '-i', inventory, '--original', 'dns1'], io)).toBe(0);
    expect(io.stdout).toMatch(/^<domain[^]*<name>dns1<\/name>[^]*<source dev='\/dev\/mapper\/old-dns1'\/>[^]*<\/domain>\n$/);
    const bad = new RecordingIo();
    expect(await main(['doctor', '-i', inventory, 'nosuch'], bad)).toBe(2);
    expect(bad.stderr).toMatch(/VM nosuch is not in the inventory/);
  });
});
