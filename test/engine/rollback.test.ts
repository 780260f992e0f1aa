import { describe, expect, it } from '@jest/globals';
import { listDisks, sameDefinition } from '../../src/domain/index.js';
import { RunMode } from '../../src/engine/run.js';
import { Fleet, injectCrash, recoverFromCrash } from './harness.js';

const sources = (xml: string) => Object.fromEntries(listDisks(xml).filter((d) => d.type === 'block').map((d) => [d.target, d.source]));
const OLD = { vda: '/dev/mapper/old-db1', vdb: '/dev/mapper/old-db1-logs' };
const NEW = { vda: '/dev/mapper/new-db1', vdb: '/dev/mapper/new-db1-logs' };

describe('rollback', () => {
  it('returns the VM to OLD from every phase before T2 completes, and refuses after', async () => {
    const clean = new Fleet();
    const { effects } = await injectCrash(clean, undefined);
    await clean.run(['db1']);
    let rolledBack = 0;
    let refused = 0;
    for (let n = 1; n <= effects.length; n++) {
      const fleet = new Fleet();
      const original = await fleet.hv().inactiveXml('db1');
      const { crashed } = await injectCrash(fleet, { n, when: 'after' });
      void fleet.run(['db1']);
      await crashed;
      await recoverFromCrash(fleet);
      const summary = await fleet.run(['db1'], RunMode.rollback);
      const outcome = summary.results[0]!.outcome;
      const label = `rollback after effect ${n} (${effects[n - 1]!.what})`;
      const startedOnNew = effects.slice(0, n).some((e) => e.what === 'virsh start');
      if (startedOnNew) {
        refused++;
        expect([label, outcome.outcome === 'failed' && outcome.reason]).toEqual([label, expect.stringMatching(/only a reverse migration \(rollback --reverse\)/)]);
        expect([label, sources(await fleet.hv().inactiveXml('db1'))]).toEqual([label, NEW]);
        continue;
      }
      rolledBack++;
      expect([label, outcome.outcome]).toEqual([label, 'rolled-back']);
      expect([label, sources(await fleet.hv().liveXml('db1'))]).toEqual([label, OLD]);
      expect([label, sameDefinition(await fleet.hv().inactiveXml('db1'), original)]).toEqual([label, true]);
      expect([label, (await fleet.hv().lookup('db1'))?.state]).toEqual([label, 'running']);
      expect([label, (await fleet.sim()).renderMdstat().match(/^md\d+ :/gm)]).toEqual([label, null]);
    }
    expect(rolledBack).toBeGreaterThan(8);
    expect(refused).toBeGreaterThanOrEqual(1);
  });

  it("without a journal (another machine's run, a lost state folder) still goes back whole and leaves the VM running", async () => {
    const clean = new Fleet();
    const { effects } = await injectCrash(clean, undefined);
    await clean.run(['db1']);
    const n = effects.findIndex((e) => e.what.startsWith('md add')) + 1;
    const fleet = new Fleet();
    const original = await fleet.hv().inactiveXml('db1');
    const { crashed } = await injectCrash(fleet, { n, when: 'after' });
    void fleet.run(['db1']);
    await crashed;
    await recoverFromCrash(fleet);
    (await import('node:fs')).rmSync(fleet.stateDir, { recursive: true, force: true });
    const summary = await fleet.run(['db1'], RunMode.rollback);
    expect(summary.results[0]!.outcome.outcome).toBe('rolled-back');
    expect(sources(await fleet.hv().liveXml('db1'))).toEqual(OLD);
    expect(sameDefinition(await fleet.hv().inactiveXml('db1'), original)).toBe(true);
    expect((await fleet.hv().lookup('db1'))?.state).toBe('running');
  });

  it('--reverse migrates a completed VM back to its old volumes', async () => {
    const fleet = new Fleet();
    const original = await fleet.hv().inactiveXml('db1');
    expect((await fleet.run(['db1'])).results[0]?.outcome.outcome).toBe('done');
    expect(sources(await fleet.hv().inactiveXml('db1'))).toEqual(NEW);
    const back = await fleet.run(['db1'], RunMode.migrate, true);
    expect(back.results[0]?.outcome.outcome).toBe('done');
    expect(sources(await fleet.hv().liveXml('db1'))).toEqual(OLD);
    expect(sameDefinition(await fleet.hv().inactiveXml('db1'), original)).toBe(true);
    const builds = fleet.events.filter((e) => e.kind === 'step-started' && e.step === 'build-mirror').map((e) => (e as { summary: string }).summary);
    expect(builds.at(-1)).toBe('build /dev/md/ss-db1-vda over /dev/mapper/new-db1, /dev/md/ss-db1-vdb over /dev/mapper/new-db1-logs (OLD alone: md copies nothing yet)');
  });

  it('refuses --reverse for a VM that never completed a migration', async () => {
    const fleet = new Fleet();
    const outcome = await fleet.plan(['web1'], true);
    expect(outcome.problems.map((p) => p.message)).toEqual(['VM web1 has no completed migration to reverse in the journal']);
  });
});
