import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimVm, releaseVm } from '../../src/engine/lock.js';
import { InputError } from '../../src/util/errors.js';
import { Fleet, injectCrash } from './harness.js';

describe('two runs never act on one VM at once', () => {
  it('refuses the second run, naming the run that owns the VM, before touching anything', async () => {
    const fleet = new Fleet();
    const { crashed } = await injectCrash(fleet, { n: 3, when: 'before' }); // the first run stays busy (frozen)
    void fleet.run(['web1']);
    await crashed;
    // a second process: its own connections, the first one's locks
    fleet.hvWrapper = undefined;
    fleet.restart();
    const before = await fleet.hv().inactiveXml('web1');
    const err = await fleet.run(['web1']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/VM web1 is owned by run \d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6} \(pid \d+ on .*, since .*\)/);
    expect((err as InputError).problems[0]?.hint).toMatch(/wait for that run to end/);
    expect(await fleet.hv().inactiveXml('web1')).toBe(before);
  });

  it('takes over a lock whose process is gone, and releases only its own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sanshift-lock-'));
    mkdirSync(join(dir, 'locks'));
    writeFileSync(join(dir, 'locks', 'hv1--web1.json'), JSON.stringify({ run: 'old-run', pid: 2 ** 22 + 17, hostname: hostname(), since: '2026-11-24T00:00:00Z' }));
    const claim = claimVm(dir, 'hv1', 'web1', 'new-run');
    expect(claim).toEqual({ claimed: true, tookOverFrom: expect.objectContaining({ run: 'old-run' }) });
    releaseVm(dir, 'hv1', 'web1', 'someone-else');
    expect(claimVm(dir, 'hv1', 'web1', 'third-run')).toMatchObject({ claimed: false, owner: { run: 'new-run' } });
    releaseVm(dir, 'hv1', 'web1', 'new-run');
    expect(claimVm(dir, 'hv1', 'web1', 'third-run')).toEqual({ claimed: true });
  });
});
