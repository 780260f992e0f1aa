import { describe, expect, it } from '@jest/globals';
import { MD_ACT_SCRIPT } from '../../src/host/scripts.js';
import { listDisks, readMigrationMetadata } from '../../src/domain/index.js';
import { Fleet } from './harness.js';

const sources = (xml: string) => Object.fromEntries(listDisks(xml).filter((d) => d.type === 'block').map((d) => [d.target, d.source]));

describe('the life of a VM on the test driver and the simulated host', () => {
  it('moves a one-disk and a two-disk VM to their new volumes', async () => {
    const fleet = new Fleet();
    const summary = await fleet.run(['web1', 'db1']);
    expect(summary.results.map((r) => [r.vm, r.outcome.outcome])).toEqual([
      ['web1', 'done'],
      ['db1', 'done'],
    ]);
    const hv = fleet.hv();
    for (const [vm, expected] of [
      ['web1', { vda: '/dev/mapper/new-web1' }],
      ['db1', { vda: '/dev/mapper/new-db1', vdb: '/dev/mapper/new-db1-logs' }],
    ] as const) {
      expect(sources(await hv.liveXml(vm))).toEqual(expected);
      expect(sources(await hv.inactiveXml(vm))).toEqual(expected);
      expect(readMigrationMetadata(await hv.liveXml(vm))).toBeNull();
      expect(readMigrationMetadata(await hv.inactiveXml(vm))).toBeNull();
      expect((await hv.lookup(vm))?.state).toBe('running');
    }
    const sim = await fleet.sim();
    expect(sim.renderMdstat()).not.toMatch(/^md\d+ :/m);
    // the untouched VM stays as it was
    expect(sources(await hv.inactiveXml('dns1'))).toEqual({ vda: '/dev/mapper/old-dns1' });
    // two down windows per migrated VM, each measured
    const ups = fleet.events.filter((e) => e.kind === 'up');
    expect(ups.filter((e) => e.vm === 'web1').map((e) => (e as { window: string }).window)).toEqual(['T1', 'T2']);
  });

  it('runs again after completion without touching anything', async () => {
    const fleet = new Fleet();
    await fleet.run(['web1']);
    const before = await fleet.hv().liveXml('web1');
    const outcome = await fleet.plan(['web1']);
    expect(outcome.problems).toEqual([]);
    expect(outcome.plan.vms[0]?.done).toBe(true);
    const again = await fleet.run(['web1']);
    expect(again.results).toEqual([]);
    expect(await fleet.hv().liveXml('web1')).toBe(before);
  });
});

describe('md array creation on one host', () => {
  it('changes md only through the md action script, which holds the host-wide lock (two builds race for one minor)', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    const summary = await fleet.run(['web1', 'db1', 'dns1']);
    expect(summary.results.every((r) => r.outcome.outcome === 'done')).toBe(true);
    const bare = sim.history.filter((c) => (c.argv[0] === 'mdadm' && ['--build', '--add', '--stop'].includes(c.argv[1] ?? '')) || c.argv[0] === 'tee');
    expect(bare).toEqual([]);
    const scripted = sim.history.filter((c) => c.argv[0] === 'sh' && c.argv[2] === MD_ACT_SCRIPT);
    expect(scripted.length).toBeGreaterThanOrEqual(4 * 3);
    // the lock is taken before the first action and released before the probe that follows
    const body = MD_ACT_SCRIPT.slice(MD_ACT_SCRIPT.indexOf("fact '#act' 1"));
    expect(body.indexOf('flock -w 60 9')).toBeGreaterThan(0);
    expect(body.indexOf('flock -w 60 9')).toBeLessThan(body.indexOf('act "$verb"'));
    expect(body.indexOf('flock -u 9')).toBeLessThan(body.indexOf('probe state'));
  });
});
