import { describe, expect, it } from '@jest/globals';
import { listDisks, readMigrationMetadata, sameDefinition } from '../../src/domain/index.js';
import type { EngineEvent } from '../../src/engine/events.js';
import type { Hypervisor } from '../../src/hypervisor/port.js';
import { InputError } from '../../src/util/errors.js';
import { parseInventory } from '../../src/inventory/parse.js';
import { MD_ACT_SCRIPT } from '../../src/host/scripts.js';
import { BASE_INVENTORY, Fleet } from './harness.js';

const sources = (xml: string) => Object.fromEntries(listDisks(xml).filter((d) => d.type === 'block').map((d) => [d.target, d.source]));
const firstProgress = (vm: string) => (e: EngineEvent) => e.kind === 'progress' && e.vm === vm;

/** Runs `act` once, at the first event that matches. */
function once(fleet: Fleet, match: (e: EngineEvent) => boolean, act: () => void | Promise<void>): { done: Promise<void> } {
  let fired = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => (finish = r));
  fleet.onEvent = (e) => {
    if (fired || !match(e)) return;
    fired = true;
    void Promise.resolve(act()).then(finish);
  };
  return { done };
}

describe('I2: the next boot never needs the mirror', () => {
  it('keeps the persistent definition on OLD (with our metadata) while the VM runs on its mirror', async () => {
    const fleet = new Fleet();
    const hv = fleet.hv();
    const seen: Record<string, unknown> = {};
    const probe = once(fleet, firstProgress('web1'), async () => {
      seen.live = sources(await hv.liveXml('web1'));
      seen.persistent = sources(await hv.inactiveXml('web1'));
      seen.meta = readMigrationMetadata(await hv.inactiveXml('web1'));
    });
    const summary = await fleet.run(['web1']);
    await probe.done;
    expect(summary.results[0]?.outcome.outcome).toBe('done');
    expect(seen.live).toEqual({ vda: '/dev/md/ss-web1-vda' });
    expect(seen.persistent).toEqual({ vda: '/dev/mapper/old-web1' });
    expect(seen.meta).toMatchObject({ phase: 'mirror', disks: [{ target: 'vda', old: '/dev/mapper/old-web1', new: '/dev/mapper/new-web1', mirror: '/dev/md/ss-web1-vda' }] });
  });
});

describe('I3: never cut over a stale copy', () => {
  it('rebuilds the mirror when the VM was restarted outside sanshift during the resync', async () => {
    const fleet = new Fleet();
    const hv = fleet.hv();
    const restarted = once(fleet, firstProgress('web1'), async () => {
      // an operator's `virsh destroy; virsh start`: the persistent definition boots on OLD
      await hv.destroy('web1');
      await hv.start('web1');
    });
    const summary = await fleet.run(['web1']);
    await restarted.done;
    expect(summary.results[0]?.outcome.outcome).toBe('done');
    const notes = fleet.events.filter((e) => e.kind === 'note' && e.vm === 'web1').map((e) => (e as { text: string }).text);
    expect(notes.some((t) => /^I3: .*stale/.test(t))).toBe(true);
    const builds = fleet.events.filter((e) => e.kind === 'step-started' && e.step === 'build-mirror');
    // the restart is two calls, so the engine may see it half-done and rebuild twice: either is right
    expect(builds.length).toBeGreaterThanOrEqual(2);
    // the stale mirror was stopped before the rebuild, and the cutover came after a full second resync
    const steps = fleet.events.filter((e) => e.kind === 'step-started').map((e) => (e as { step: string }).step);
    expect(steps.indexOf('stop-mirror')).toBeLessThan(steps.lastIndexOf('build-mirror'));
    expect(steps.lastIndexOf('build-mirror')).toBeLessThan(steps.indexOf('check-cutover'));
    expect(sources(await hv.liveXml('web1'))).toEqual({ vda: '/dev/mapper/new-web1' });
  });
});

describe('I5: touch nothing that is in use', () => {
  it('refuses at preflight a new volume that is mounted, held or used by a domain', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    sim.markMounted('/dev/mapper/new-web1', '/srv');
    sim.setHolder('/dev/mapper/new-db1', 'dm-9');
    const before = await fleet.hv().inactiveXml('web1');
    const outcome = await fleet.plan(['web1', 'db1']);
    const text = outcome.problems.map((p) => p.message).join('\n');
    expect(text).toMatch(/new-web1 is mounted on \/srv/);
    expect(text).toMatch(/new-db1 is held by dm-9/);
    await expect(fleet.run(['web1'])).rejects.toThrow(/mounted/);
    expect(await fleet.hv().inactiveXml('web1')).toBe(before);
    expect(sim.history.some((h) => h.argv[0] === 'sh' && h.argv[2] === MD_ACT_SCRIPT)).toBe(false);
  });

  it('re-checks right before mdadm --add and goes back to OLD when the volume became busy', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    once(fleet, (e) => e.kind === 'step-started' && e.step === 'add-new-leg' && e.vm === 'web1', () => sim.markMounted('/dev/mapper/new-web1', '/mnt'));
    const original = await fleet.hv().inactiveXml('web1');
    const summary = await fleet.run(['web1']);
    const outcome = summary.results[0]!.outcome;
    expect(outcome.outcome).toBe('failed');
    expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/I5: \/dev\/mapper\/new-web1 is in use: .*mounted on \/mnt.*back on its old volumes/);
    expect(sim.history.some((h) => h.argv[2] === MD_ACT_SCRIPT && /^ok add /m.test(h.stdout))).toBe(false);
    expect(sim.history.some((h) => h.argv[2] === MD_ACT_SCRIPT && /^fail add \S+ new-in-use /m.test(h.stdout))).toBe(true);
    expect(sim.activeArrayOf('/dev/md/ss-web1-vda')).toBeNull();
    expect(sameDefinition(await fleet.hv().inactiveXml('web1'), original)).toBe(true);
    expect((await fleet.hv().lookup('web1'))?.state).toBe('running');
  });
});

describe('I6: no shell, no surprises', () => {
  it('refuses hostile VM names and device paths before anything runs', () => {
    const hostile = BASE_INVENTORY.replace('name: web1', "name: 'web1;reboot'").replace("to: '/dev/mapper/new-$1'", "to: '/dev/mapper/new-$1'");
    expect(() => parseInventory(hostile, '/tmp/inv.yaml')).toThrow(InputError);
    const badPath = BASE_INVENTORY.replace("    simulate: { sizes: { vda: 1GiB } }\n  - name: db1", "    disks: { vda: '/dev/mapper/x$(reboot)' }\n  - name: db1");
    expect(() => parseInventory(badPath, '/tmp/inv.yaml')).toThrow(/vda/);
  });
});

describe('graceful shutdown that times out', () => {
  const ignoreAcpi = (hv: Hypervisor): Hypervisor => {
    const w = Object.create(hv) as Hypervisor;
    w.shutdown = async () => {}; // a guest without ACPI handling ignores the request
    return w;
  };

  it('fail: leaves the VM running and untouched (its one-legged mirrors stopped, its record taken out)', async () => {
    const fleet = new Fleet();
    fleet.hvWrapper = ignoreAcpi;
    const before = await fleet.hv().inactiveXml('web1');
    const beforeId = (await fleet.hv().lookup('web1'))?.id;
    // the VM's effective policy (the fleet's, copied into each VM at parse)
    fleet.inventory.vms.find((v) => v.name === 'web1')!.policy.onShutdownTimeout = 'fail';
    const summary = await fleet.run(['web1']);
    const outcome = summary.results[0]!.outcome;
    expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/did not power off within 60s \(onShutdownTimeout: fail\); it keeps running on its old volumes, untouched/);
    expect((await fleet.hv().lookup('web1'))?.id).toBe(beforeId);
    expect(await fleet.hv().inactiveXml('web1')).toBe(before);
    const sim = await fleet.sim();
    // built while it ran (prepare), then stopped again: nothing of sanshift is left
    expect(sim.history.some((h) => h.argv[2] === MD_ACT_SCRIPT && /^ok build /m.test(h.stdout))).toBe(true);
    expect(sim.activeArrayOf('/dev/md/ss-web1-vda')).toBeNull();
  });

  it('force: powers it off after the timeout and goes on', async () => {
    const fleet = new Fleet();
    fleet.hvWrapper = ignoreAcpi;
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]?.outcome.outcome).toBe('done');
    const forced = fleet.events.filter((e) => e.kind === 'note' && /forcing it off/.test(e.text));
    expect(forced).toHaveLength(2);
  });
});

describe('a mirror leg that fails during the resync', () => {
  it('sends that VM back to OLD with the reason; the others complete', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    once(fleet, firstProgress('db1'), () => sim.failLeg('/dev/md/ss-db1-vdb', 'new'));
    const original = await fleet.hv().inactiveXml('db1');
    const summary = await fleet.run(['web1', 'db1', 'dns1']);
    const byVm = Object.fromEntries(summary.results.map((r) => [r.vm, r.outcome]));
    expect(byVm.web1?.outcome).toBe('done');
    expect(byVm.dns1?.outcome).toBe('done');
    expect(byVm.db1?.outcome).toBe('failed');
    expect(byVm.db1?.outcome === 'failed' && byVm.db1.reason).toMatch(/the new leg of vdb's mirror failed \(dm-\d+\).*back on its old volumes/);
    expect(summary.ok).toBe(false);
    expect(sources(await fleet.hv().liveXml('db1'))).toEqual({ vda: '/dev/mapper/old-db1', vdb: '/dev/mapper/old-db1-logs' });
    expect(sameDefinition(await fleet.hv().inactiveXml('db1'), original)).toBe(true);
    expect(sim.activeArrayOf('/dev/md/ss-db1-vda')).toBeNull();
    expect(sim.activeArrayOf('/dev/md/ss-db1-vdb')).toBeNull();
  });
});

describe('the managed-save hazard', () => {
  const withManagedSave = (names: Set<string>) => (hv: Hypervisor): Hypervisor => {
    const w = Object.create(hv) as Hypervisor;
    w.hasManagedSave = async (name) => names.has(name);
    w.managedSaveDomains = async () => new Set(names);
    return w;
  };

  it('never starts a VM over a managed save taken while it ran on its mirror', async () => {
    const fleet = new Fleet();
    const saved = new Set<string>();
    fleet.hvWrapper = withManagedSave(saved);
    const hv = fleet.hv();
    // libvirt-guests at host shutdown: the guest's state is saved and the domain stops
    const hostShutdown = once(fleet, firstProgress('web1'), async () => {
      saved.add('web1');
      await hv.destroy('web1');
    });
    const summary = await fleet.run(['web1']);
    await hostShutdown.done;
    const outcome = summary.results[0]!.outcome;
    expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/managed save image: starting it would resume the saved live definition/);
    expect((await hv.lookup('web1'))?.state).toBe('shutoff');
    const startsAfter = fleet.events.filter((e) => e.kind === 'step-started' && e.vm === 'web1' && /^start/.test(e.step));
    expect(startsAfter.map((e) => (e as { step: string }).step)).toEqual(['start-on-mirror']);
  });

  it('refuses at preflight a VM that has a managed save image', async () => {
    const fleet = new Fleet();
    fleet.hvWrapper = withManagedSave(new Set(['db1']));
    const outcome = await fleet.plan(['db1']);
    expect(outcome.problems.map((p) => p.message)).toEqual([expect.stringMatching(/preflight: managed save: db1 has a managed save image/)]);
  });
});

describe('a guest that drops the first power-button press', () => {
  it('gets asked again during the shutdown timeout, and powers off without being forced', async () => {
    const fleet = new Fleet();
    let asks = 0;
    fleet.hvWrapper = (hv) => {
      const w = Object.create(hv) as Hypervisor;
      // still in its firmware at the first press; the second one is heard
      w.shutdown = async (name) => {
        asks++;
        if (asks % 2 === 0) await hv.shutdown(name);
      };
      return w;
    };
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]?.outcome.outcome).toBe('done');
    expect(fleet.events.filter((e) => e.kind === 'note' && /forcing it off/.test(e.text))).toEqual([]);
    expect(asks).toBeGreaterThanOrEqual(4);
  });
});
