import { describe, expect, it } from '@jest/globals';
import { listDisks, readMigrationMetadata } from '../../src/domain/index.js';
import { Fleet, injectCrash, recoverFromCrash } from './harness.js';

const sources = (xml: string) => Object.fromEntries(listDisks(xml).filter((d) => d.type === 'block').map((d) => [d.target, d.source]));

describe('interruption at every step boundary', () => {
  it('converges to the same end state from a crash before or after every side effect', async () => {
    // A clean run counts the side effects of migrating db1 (two disks).
    const clean = new Fleet();
    const { effects } = await injectCrash(clean, undefined);
    await clean.run(['db1']);
    expect(effects.length).toBeGreaterThanOrEqual(12);
    const names = effects.map((e) => e.what);
    expect(names).toContain('md build ss-db1-vda');
    expect(names).toContain('md build ss-db1-vdb');
    expect(names).toContain('md flush ss-db1-vda');
    expect(names).toContain('md add ss-db1-vdb');
    expect(names).toContain('virsh startWithLiveXml');
    expect(names).toContain('md stop ss-db1-vdb');

    for (let n = 1; n <= effects.length; n++) {
      for (const when of ['before', 'after'] as const) {
        const fleet = new Fleet();
        const { crashed } = await injectCrash(fleet, { n, when });
        void fleet.run(['db1']);
        await crashed;
        await recoverFromCrash(fleet);
        const summary = await fleet.run(['db1']);
        const hv = fleet.hv();
        const label = `crash ${when} effect ${n} (${effects[n - 1]!.what})`;
        expect([label, summary.results.map((r) => r.outcome.outcome)]).toEqual([label, summary.results.length === 0 ? [] : ['done']]);
        expect([label, sources(await hv.liveXml('db1'))]).toEqual([label, { vda: '/dev/mapper/new-db1', vdb: '/dev/mapper/new-db1-logs' }]);
        expect([label, sources(await hv.inactiveXml('db1'))]).toEqual([label, { vda: '/dev/mapper/new-db1', vdb: '/dev/mapper/new-db1-logs' }]);
        expect([label, readMigrationMetadata(await hv.inactiveXml('db1'))]).toEqual([label, null]);
        expect([label, (await hv.lookup('db1'))?.state]).toEqual([label, 'running']);
        expect([label, (await fleet.sim()).renderMdstat().match(/^md\d+ :/gm)]).toEqual([label, null]);
      }
    }
  });
});
