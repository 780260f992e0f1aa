// Each CLI command opens its own libvirt test-driver connection, which starts from the node
// file: the rehearsal must hand its simulated fleet from one command to the next.
import { describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
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
