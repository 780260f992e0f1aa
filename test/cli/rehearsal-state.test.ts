// Each CLI command opens its own libvirt test-driver connection, which starts from the node
// file: the rehearsal must hand its simulated fleet from one command to the next.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { GUEST_AGENT_CHANNEL } from '../../src/domain/index.js';
import { Connections, readRehearsalTime } from '../../src/engine/connections.js';
import { parseInventory } from '../../src/inventory/parse.js';
import { VirtualClock } from '../../src/util/clock.js';
import { rehearsalCopy } from './helpers.js';

describe('a rehearsal remembers its fleet between commands', () => {
  test('run, then status, then rollback --reverse, each a separate command', async () => {
    const { inventory } = rehearsalCopy();
    expect(await main(['run', '-i', inventory, 'db1', '--yes'], new RecordingIo())).toBe(0);

    const status = new RecordingIo();
    expect(await main(['status', '-i', inventory, 'db1'], status)).toBe(0);
    expect(status.stdout).toMatch(/db1\s+hv1\s+done/);

    const plan = new RecordingIo();
    expect(await main(['plan', '-i', inventory, 'db1', '--json'], plan)).toBe(0);
    expect(JSON.parse(plan.stdout).vms[0]).toMatchObject({ name: 'db1', done: true });

    const back = new RecordingIo();
    expect(await main(['rollback', '-i', inventory, 'db1', '--reverse', '--yes'], back)).toBe(0);
    expect(back.stdout).toMatch(/build \/dev\/md\/ss-db1-vda over \/dev\/mapper\/new-db1/);
    expect(back.stdout).toMatch(/db1\s+done/);
  });
});

describe("a rehearsal's time", () => {
  test('carries on between commands, and its hosts answer as slowly as their simulate: says', async () => {
    const { dir, inventory } = rehearsalCopy();
    writeFileSync(inventory, readFileSync(inventory, 'utf8').replace(/(\n {4}shell: simulated)/, '$1\n    simulate: { sessionLatency: 250ms, libvirtLatency: 40ms }'));
    const rehearsal = join(dir, '.sanshift', 'rehearsal');

    expect(await main(['plan', '-i', inventory, 'db1', '--json'], new RecordingIo())).toBe(0);
    const plan = readRehearsalTime(rehearsal)!;
    // the in-use probe and the preflight probe are sessions; the reads are libvirt calls
    expect(plan.commandEndedAtMs - plan.commandStartedAtMs).toBeGreaterThanOrEqual(2 * 250 + 2 * 40);

    expect(await main(['run', '-i', inventory, 'db1', '--yes'], new RecordingIo())).toBe(0);
    const run = readRehearsalTime(rehearsal)!;
    expect(run.commandStartedAtMs).toBeGreaterThanOrEqual(plan.commandEndedAtMs);
    // minutes of copy and windows pass in the rehearsal, not on the wall
    expect(run.commandEndedAtMs - run.commandStartedAtMs).toBeGreaterThan(60_000);

    // status starts where the run ended: the run's records are in its past
    const status = new RecordingIo();
    expect(await main(['status', '-i', inventory, 'db1', '--json'], status)).toBe(0);
    expect(readRehearsalTime(rehearsal)!.commandStartedAtMs).toBeGreaterThanOrEqual(run.commandEndedAtMs);
    expect(JSON.parse(status.stdout).vms[0]).toMatchObject({ vm: 'db1', phase: 'done' });
  });

  test('simulate: on a host that is not a rehearsal host is refused, naming the host', async () => {
    const { inventory } = rehearsalCopy();
    writeFileSync(inventory, readFileSync(inventory, 'utf8').replace(/\n {4}shell: simulated/, '\n    shell: local\n    simulate: { sessionLatency: 100ms }'));
    const io = new RecordingIo();
    expect(await main(['plan', '-i', inventory], io)).toBe(2);
    expect(io.stderr).toMatch(/simulate: is for rehearsal hosts, and host hv1 is shell: local/);
    expect(io.stderr).toMatch(/hosts\.hv1\.simulate|line \d+/);
  });
});

describe('status of a fleet with a host that cannot be read', () => {
  test("its VMs get rows, unknown, with why; the others' rows are as usual", async () => {
    const { inventory } = rehearsalCopy();
    // hv2: nothing listens where its libvirt should answer
    const text = readFileSync(inventory, 'utf8').replace(/\nvms:\n/, '\n  hv2:\n    uri: qemu+tcp://127.0.0.1:1/system\n    shell: simulated\nvms:\n  - name: lost1\n    host: hv2\n');
    writeFileSync(inventory, text);
    const io = new RecordingIo();
    expect(await main(['status', '-i', inventory, '--json'], io)).toBe(1);
    const rows = JSON.parse(io.stdout).vms as { vm: string; phase: string; lastError: string | null }[];
    expect(rows.find((r) => r.vm === 'lost1')).toMatchObject({ phase: 'unknown' });
    expect(rows.find((r) => r.vm === 'lost1')?.lastError).toMatch(/hv2/);
    expect(rows.find((r) => r.vm === 'db1')).toMatchObject({ phase: 'not started' });
  });
});

describe('a rehearsal command that changes nothing', () => {
  test('leaves the saved fleet as it is (saving reads every domain of every host again)', async () => {
    const { dir, inventory } = rehearsalCopy();
    expect(await main(['run', '-i', inventory, 'dns1', '--yes'], new RecordingIo())).toBe(0);
    const node = join(dir, '.sanshift', 'rehearsal', 'hv1.node.xml');
    const before = statSync(node).mtimeMs;
    const text = readFileSync(node, 'utf8');
    expect(await main(['plan', '-i', inventory, '--json'], new RecordingIo())).toBe(0);
    expect(await main(['status', '-i', inventory], new RecordingIo())).toBe(0);
    expect(statSync(node).mtimeMs).toBe(before);
    expect(readFileSync(node, 'utf8')).toBe(text);
  });
});

describe("a rehearsal guest boots after libvirt's start has answered", () => {
  test('start answers once qemu would run; the agent answers, and a power button is heard, only once the guest is up', async () => {
    const { dir, inventory: file } = rehearsalCopy();
    const inventory = parseInventory(readFileSync(file, 'utf8'), file);
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const connections = new Connections(inventory, { clock, stateDir: join(dir, '.sanshift'), guestTimes: { shutdownMs: 20_000, startMs: 2_000, bootMs: 30_000 } });
    try {
      const hv = connections.hypervisor(inventory.hosts.hv1!);
      if ((await hv.lookup('dns1'))?.id !== null) await hv.destroy('dns1');
      await hv.define((await hv.inactiveXml('dns1')).replace('</devices>', `<channel type='unix'><target type='virtio' name='${GUEST_AGENT_CHANNEL}'/></channel></devices>`));

      const started = clock.now();
      await hv.start('dns1');
      // the window of a real run ends here too: virsh start returns while the guest boots
      expect(clock.now() - started).toBe(2_000);
      await expect(hv.agentPing('dns1')).rejects.toThrow(/guest-ping .*Guest agent is not responding: QEMU guest agent is not connected/);
      await clock.sleep(27_999);
      await expect(hv.agentPing('dns1')).rejects.toThrow(/not connected/);
      await clock.sleep(1);
      await expect(hv.agentPing('dns1')).resolves.toBe(true);

      // a shutdown asked while the guest still boots takes effect once it is up, then powers off
      await hv.destroy('dns1');
      const again = clock.now();
      await hv.start('dns1');
      await hv.shutdown('dns1');
      expect(clock.now() - again).toBe(30_000 + 20_000);
      expect((await hv.lookup('dns1'))?.id).toBeNull();
    } finally {
      await connections.close();
    }
  });
});
