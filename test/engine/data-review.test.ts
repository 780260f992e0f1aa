// The storage review's scenarios (issue 10), each on the libvirt test driver and the simulated md
// host: a test that failed before the engine learnt it. docs/safety.md lists them.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { listDisks, sameDefinition } from '../../src/domain/index.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { RunMode } from '../../src/engine/run.js';
import type { DeviceFacts, HostSnapshot } from '../../src/host/probe.js';
import type { DomainStatus, Hypervisor } from '../../src/hypervisor/port.js';
import { usesOf, type HostUses } from '../../src/plan/in-use.js';
import { BASE_INVENTORY, Fleet } from './harness.js';

const sources = (xml: string) => Object.fromEntries(listDisks(xml).filter((d) => d.type === 'block').map((d) => [d.target, d.source]));

/** Changes one domain of the test driver's node file. */
function editDomain(name: string, edit: (domainXml: string) => string): (node: string) => string {
  return (node) => node.replace(new RegExp(`(<domain [^>]*>\\s*<name>${name}</name>[\\s\\S]*?</domain>)`), (d) => edit(d));
}

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

const firstProgress = (vm: string) => (e: EngineEvent) => e.kind === 'progress' && e.vm === vm;
const notes = (fleet: Fleet, vm: string) => fleet.events.filter((e): e is Extract<EngineEvent, { kind: 'note' }> => e.kind === 'note' && e.vm === vm).map((e) => e.text);

async function kname(fleet: Fleet, path: string): Promise<string> {
  return (await fleet.sim()).volumeSpecs().find((v) => v.path === path)!.kname;
}

describe('1. OLD fails while NEW is in sync: forward, never back onto the stale OLD', () => {
  it('cuts over to NEW', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    once(fleet, (e) => e.kind === 'resync-ended' && e.vm === 'web1', () => sim.failLeg('/dev/md/ss-web1-vda', 'old'));
    // after the copy, a long wait for the T2 window gives OLD time to fail first
    fleet.inventory.limits.downWindows = 1;
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    expect(sources(await fleet.hv().inactiveXml('web1'))).toEqual({ vda: '/dev/mapper/new-web1' });
  });

  it('a rollback asked then refuses before it stops the VM: it keeps running on its mirror', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    const stop = new AbortController();
    fleet.stop = stop.signal;
    once(fleet, (e) => e.kind === 'resync-ended' && e.vm === 'web1', () => {
      sim.failLeg('/dev/md/ss-web1-vda', 'old');
      stop.abort(); // the operator stops the run here, and asks for a rollback
    });
    expect((await fleet.run(['web1'])).results[0]!.outcome.outcome).toBe('stopped');
    fleet.stop = undefined;
    const id = (await fleet.hv().lookup('web1'))?.id;
    const summary = await fleet.run(['web1'], RunMode.rollback);
    const outcome = summary.results[0]!.outcome;
    expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/the old leg of vda's mirror failed: going back would lose writes/);
    expect((await fleet.hv().lookup('web1'))?.id).toBe(id);
    expect(sources(await fleet.hv().liveXml('web1'))).toEqual({ vda: '/dev/md/ss-web1-vda' });
  });

  it('before NEW was in sync: neither is whole, so it stops and says so, and rolls nothing back', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    once(fleet, firstProgress('web1'), () => sim.failLeg('/dev/md/ss-web1-vda', 'old'));
    const summary = await fleet.run(['web1']);
    const outcome = summary.results[0]!.outcome;
    expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/neither volume is a complete copy/);
    // still on its mirror: md serves it from NEW's copied part and OLD's failed writes failed loudly
    expect(sources(await fleet.hv().liveXml('web1'))).toEqual({ vda: '/dev/md/ss-web1-vda' });
    expect(sim.activeArrayOf('/dev/md/ss-web1-vda')).not.toBeNull();
  });
});

describe('2. I3 while the VM is off: writes around the mirror are found by the write counters', () => {
  it('a VM off at the start: a write to OLD during its copy makes NEW stale, so the copy is redone', async () => {
    const fleet = new Fleet(BASE_INVENTORY, editDomain('web1', (d) => d.replace('</devices>', '</devices>\n    <test:runstate>5</test:runstate>')));
    const sim = await fleet.sim();
    let wrote = false;
    once(fleet, firstProgress('web1'), () => {
      sim.write('/dev/mapper/old-web1', 4096);
      wrote = true;
    });
    const summary = await fleet.run(['web1']);
    expect(wrote).toBe(true);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    expect(notes(fleet, 'web1').some((n) => /I3: something wrote to OLD around vda's mirror while the VM was off/.test(n))).toBe(true);
    const builds = fleet.events.filter((e) => e.kind === 'step-started' && e.step === 'build-mirror' && e.vm === 'web1');
    expect(builds.length).toBe(2);
    // it was off, and stays off, on NEW
    expect((await fleet.hv().lookup('web1'))?.id).toBeNull();
    expect(sources(await fleet.hv().inactiveXml('web1'))).toEqual({ vda: '/dev/mapper/new-web1' });
  });

  it('the T2 window: writes to OLD while the VM was off before the final check redo the copy', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    // someone writes OLD right after sanshift's T2 shutdown (a start and stop on OLD by hand)
    once(fleet, (e) => e.kind === 'down' && e.vm === 'web1' && e.window === 'T2', () => sim.write('/dev/mapper/old-web1', 8));
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    expect(notes(fleet, 'web1').some((n) => /I3: vda's mirror is in sync, but 8 sectors were written to OLD around it/.test(n))).toBe(true);
    const checks = fleet.events.filter((e) => e.kind === 'step-started' && e.step === 'check-cutover' && e.vm === 'web1');
    expect(checks.length).toBe(2);
  });

  it('writes through the mirror are not writes around it', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    once(fleet, firstProgress('web1'), () => sim.write('/dev/md/ss-web1-vda', 2048));
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    expect(fleet.events.filter((e) => e.kind === 'step-started' && e.step === 'build-mirror' && e.vm === 'web1')).toHaveLength(1);
  });
});

describe('3. I5 by identity, on every host', () => {
  it('refuses a NEW another domain uses under another name (/dev/dm-N)', async () => {
    const fleet = new Fleet();
    const dm = await kname(fleet, '/dev/mapper/new-web1');
    // app1 now uses web1's NEW by its kernel name
    const hv = fleet.hv();
    await hv.define((await hv.inactiveXml('app1')).replace("<source dev='/dev/mapper/old-app1'/>", `<source dev='/dev/${dm}'/>`));
    const outcome = await fleet.plan(['web1']);
    expect(outcome.problems.map((p) => p.message).join('\n')).toMatch(new RegExp(`/dev/mapper/new-web1 is used by domain app1 on host hv1 as vda: /dev/${dm} \\(the same device\\)`));
  });

  it('refuses a NEW whose LUN a domain of another inventory host uses', async () => {
    // hv2: a second host with its own domains (app1 only)
    const inv = BASE_INVENTORY.replace('hosts:\n  hv1:\n    testDriverNode: node.xml\n    shell: simulated', 'hosts:\n  hv1:\n    testDriverNode: node.xml\n    shell: simulated\n  hv2:\n    testDriverNode: node2.xml\n    shell: simulated');
    const fleet = new Fleet(inv);
    const node = readFileSync(join(fleet.dir, 'node.xml'), 'utf8');
    const app1 = /<domain [^>]*>\s*<name>app1<\/name>[\s\S]*?<\/domain>/.exec(node)![0];
    writeFileSync(join(fleet.dir, 'node2.xml'), `<node>\n${app1}\n</node>\n`);
    await fleet.sim();
    await fleet.connections.runnerOrThrow(fleet.inventory.hosts.hv2!);
    // the same LUN: web1's NEW on hv1 is the disk app1 uses on hv2
    fleet.simulated.get('hv1')!.setVolumeFacts('/dev/mapper/new-web1', { serial: '3600a0b800012345' });
    fleet.simulated.get('hv2')!.setVolumeFacts('/dev/mapper/old-app1', { serial: '3600a0b800012345' });
    const outcome = await fleet.plan(['web1']);
    expect(outcome.problems.map((p) => p.message).join('\n')).toMatch(/new-web1 is used by domain app1 on host hv2 as vda: \/dev\/mapper\/old-app1 \(the same LUN, 3600a0b800012345\)/);
  });

  it('by device: a partition of NEW, the disk NEW is a partition of, a path of its LUN', () => {
    const dev = (kname: string, over: Partial<DeviceFacts> = {}): DeviceFacts => ({ kname, majMin: '8:0', sizeBytes: 1, counters: null, logicalBlockSize: 512, partitionNumber: null, dmUuid: null, wwid: null, udevSerial: null, udevWwn: null, holders: [], partitions: [], md: null, ...over });
    const uses = (list: [string, DeviceFacts][]): HostUses => ({ host: 'hv1', at: 0, snapshot: {} as HostSnapshot, definitions: new Map(), persistentDisks: new Map(), roster: new Map(), uses: list.map(([domain, device]) => ({ domain, target: 'vda', source: `/dev/${device.kname}`, live: true, device, lun: device.dmUuid?.replace(/^mpath-/, '') ?? device.udevSerial })) });
    const newDisk = dev('sdc', { partitions: ['sdc1'], udevSerial: '36001' });
    const found = usesOf({ host: 'hv1', device: newDisk }, uses([['a', dev('sdc1', { partitionNumber: 1 })], ['b', dev('dm-7', { dmUuid: 'mpath-36001' })], ['c', dev('sdd')]]));
    expect(found.map((u) => u.domain)).toEqual(['a', 'b']);
    const newPart = dev('sdc1', { partitionNumber: 1 });
    expect(usesOf({ host: 'hv1', device: newPart }, uses([['d', dev('sdc', { partitions: ['sdc1'] })]])).map((u) => u.domain)).toEqual(['d']);
    // on another host only the LUN id can match: kernel names mean nothing there
    expect(usesOf({ host: 'hv2', device: newDisk }, uses([['e', dev('sdc')], ['f', dev('sdq', { udevSerial: '36001' })]])).map((u) => u.domain)).toEqual(['f']);
  });

  it('looked up in an index, finds exactly what a scan of every use finds, in the same order', () => {
    const dev = (kname: string, over: Partial<DeviceFacts> = {}): DeviceFacts => ({ kname, majMin: '8:0', sizeBytes: 1, counters: null, logicalBlockSize: 512, partitionNumber: null, dmUuid: null, wwid: null, udevSerial: null, udevWwn: null, holders: [], partitions: [], md: null, ...over });
    // the rules, as a scan (what usesOf did before it had an index)
    const scan = (t: { host: string; device: DeviceFacts }, h: HostUses) => {
      const lun = t.device.dmUuid?.replace(/^mpath-/, '') ?? t.device.udevSerial;
      return h.uses.filter((u) => (lun !== null && u.lun === lun) || (h.host === t.host && u.device !== null && (u.device.kname === t.device.kname || t.device.partitions.includes(u.device.kname) || u.device.partitions.includes(t.device.kname))));
    };
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    const device = () => {
      const disk = `sd${'abcdef'[rnd(6)]}`;
      const part = rnd(3) === 0;
      return part ? dev(`${disk}1`, { partitionNumber: 1, udevSerial: rnd(2) === 0 ? `36${rnd(4)}` : null }) : dev(disk, { partitions: rnd(2) === 0 ? [`${disk}1`] : [], udevSerial: rnd(2) === 0 ? `36${rnd(4)}` : null });
    };
    for (let round = 0; round < 200; round++) {
      const host = rnd(2) === 0 ? 'hv1' : 'hv2';
      const list = Array.from({ length: 1 + rnd(8) }, (_, i) => {
        const d = rnd(5) === 0 ? null : device();
        return { domain: `d${i}`, target: 'vda', source: '/dev/x', live: rnd(2) === 0, device: d, lun: d === null ? null : (d.dmUuid?.replace(/^mpath-/, '') ?? d.udevSerial) };
      });
      const reading: HostUses = { host, at: 0, snapshot: {} as HostSnapshot, definitions: new Map(), persistentDisks: new Map(), roster: new Map(), uses: list };
      const target = { host: 'hv1', device: device() };
      expect(usesOf(target, reading)).toEqual(scan(target, reading));
    }
  });
});

describe('4. refused at preflight, with the reason', () => {
  it('a <shareable/> disk', async () => {
    const fleet = new Fleet(BASE_INVENTORY, editDomain('web1', (d) => d.replace("<target dev='vda' bus='virtio'/>", "<target dev='vda' bus='virtio'/>\n        <shareable/>")));
    const outcome = await fleet.plan(['web1']);
    expect(outcome.problems.map((p) => p.message).join('\n')).toMatch(/shareable disk \(vda\): disk vda is <shareable\/>/);
  });

  it('a transient domain', async () => {
    const fleet = new Fleet();
    fleet.hvWrapper = (hv) => Object.assign(Object.create(hv) as Hypervisor, { transientDomains: async () => new Set(['web1']) });
    const outcome = await fleet.plan(['web1']);
    expect(outcome.problems.map((p) => p.message).join('\n')).toMatch(/web1 is a transient domain .*its T1 shutdown would make it vanish/);
  });

  it('an OLD held by something else (a kpartx map), and OLD and NEW with different sector sizes', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    sim.setHolder('/dev/mapper/old-web1', 'dm-42');
    sim.setVolumeFacts('/dev/mapper/new-db1', { logicalBlockSize: 4096 });
    const text = (await fleet.plan(['web1', 'db1'])).problems.map((p) => p.message).join('\n');
    expect(text).toMatch(/old volume \(vda\): \/dev\/mapper\/old-web1 is held by dm-42/);
    expect(text).toMatch(/\/dev\/mapper\/new-db1 has 4096-byte logical sectors and \/dev\/mapper\/old-db1 512/);
  });

  it('a host check that could not run: run refuses it unless --accept-unchecked', async () => {
    const { runCommand } = await import('../../src/cli/run.js');
    const { writeFileSync } = await import('node:fs');
    const fleet = new Fleet();
    const inv = join(fleet.dir, 'unchecked.yaml');
    // an ssh host nobody can reach: its libvirt is the test driver, its shell unreachable
    writeFileSync(inv, BASE_INVENTORY.replace('    shell: simulated', '    shell: ssh\n    ssh: nobody@127.0.0.1\n    sshPort: 9\n    sshOptions: { ConnectTimeout: 1 }'));
    const io = { out: () => undefined, outAll: async () => undefined, err: () => undefined, isTTY: false, stdinIsTTY: false, columns: 100, ask: async () => '' };
    const err = await runCommand({ inventory: inv, vm: ['web1'], yes: true }, io).catch((e: unknown) => e);
    expect(String(err)).toMatch(/host checks was not checked: .*--accept-unchecked/s);
  });
});

describe('5. rollback after define-on-new', () => {
  it('refuses once someone ran the VM on NEW by hand after the cutover stopped its mirror', async () => {
    const { injectCrash, recoverFromCrash } = await import('./harness.js');
    const clean = new Fleet();
    const { effects } = await injectCrash(clean, undefined);
    await clean.run(['web1']);
    const stopAt = effects.findIndex((e) => e.what === 'md stop ss-web1-vda') + 1;
    for (const wrote of [64, 0]) {
      // the run dies right after the cutover stopped the mirror, before it asked for the start
      const fleet = new Fleet();
      const sim = await fleet.sim();
      const { crashed } = await injectCrash(fleet, { n: stopAt, when: 'after' });
      void fleet.run(['web1']);
      await crashed;
      await recoverFromCrash(fleet);
      const hv = fleet.hv();
      // an operator starts it (its definition is on NEW), it writes, and it is stopped again
      await hv.start('web1');
      if (wrote > 0) sim.write('/dev/mapper/new-web1', wrote);
      await hv.destroy('web1');
      const summary = await fleet.run(['web1'], RunMode.rollback);
      const outcome = summary.results[0]!.outcome;
      if (wrote > 0) {
        expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/64 sectors were written to vda's new volume since the cutover/);
        expect(sources(await hv.inactiveXml('web1'))).toEqual({ vda: '/dev/mapper/new-web1' });
      } else {
        // nothing wrote NEW: OLD is still whole, and the rollback goes through
        expect(outcome.outcome).toBe('rolled-back');
        expect(sources(await hv.inactiveXml('web1'))).toEqual({ vda: '/dev/mapper/old-web1' });
      }
    }
  });
});

describe('6. a NEW that leaves without (F), and a copy that stalls', () => {
  it('NEW removed from the mirror: noticed, and the VM goes back to OLD', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    once(fleet, firstProgress('web1'), () => sim.removeLeg('/dev/md/ss-web1-vda', 'new'));
    const summary = await fleet.run(['web1']);
    const outcome = summary.results[0]!.outcome;
    expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/the new volume left vda's mirror.*back on its old volumes/);
    expect(sources(await fleet.hv().liveXml('web1'))).toEqual({ vda: '/dev/mapper/old-web1' });
  });

  it('no progress for the stall timeout: reported, and the VM goes back to OLD', async () => {
    const fleet = new Fleet(BASE_INVENTORY.replace('  pollInterval: 5s', '  pollInterval: 5s\n  resyncStallTimeout: 2m'));
    const sim = await fleet.sim();
    once(fleet, firstProgress('web1'), () => sim.freezeRecovery('/dev/md/ss-web1-vda'));
    const t0 = fleet.clock.now();
    const summary = await fleet.run(['web1']);
    const outcome = summary.results[0]!.outcome;
    expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/the resync made no progress for 120s/);
    expect(fleet.clock.now() - t0).toBeLessThan(10 * 60_000);
    expect(sources(await fleet.hv().liveXml('web1'))).toEqual({ vda: '/dev/mapper/old-web1' });
  });
});

describe('7. power state: what the VM is doing now, and what its operator chose', () => {
  it('a paused guest is held, never shut down, and goes on once resumed', async () => {
    const fleet = new Fleet();
    let pausedUntil = fleet.clock.now() + 60_000;
    fleet.hvWrapper = (hv) => {
      const w = Object.create(hv) as Hypervisor;
      w.lookup = async (name) => {
        const st = await hv.lookup(name);
        return st !== null && name === 'web1' && st.id !== null && fleet.clock.now() < pausedUntil ? ({ ...st, state: 'paused' } as DomainStatus) : st;
      };
      return w;
    };
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    expect(notes(fleet, 'web1').some((n) => /on hold: paused/.test(n))).toBe(true);
    const down = fleet.events.find((e) => e.kind === 'down' && e.vm === 'web1');
    expect(down!.at).toBeGreaterThanOrEqual(pausedUntil);
    pausedUntil = 0;
  });

  it('a guest suspended during its shutdown is never forced off', async () => {
    const fleet = new Fleet();
    fleet.hvWrapper = (hv) => {
      const w = Object.create(hv) as Hypervisor;
      w.shutdown = async () => {}; // ignored
      let asked = false;
      const shutdown = w.shutdown;
      w.shutdown = async (n) => {
        asked = true;
        return shutdown(n);
      };
      w.lookup = async (name) => {
        const st = await hv.lookup(name);
        return st !== null && asked && st.id !== null ? ({ ...st, state: 'pmsuspended' } as DomainStatus) : st;
      };
      return w;
    };
    const summary = await fleet.run(['web1']);
    const outcome = summary.results[0]!.outcome;
    expect(outcome.outcome === 'failed' && outcome.reason).toMatch(/pmsuspended .*never forced off/);
    expect(fleet.events.some((e) => e.kind === 'note' && /forcing it off/.test(e.text))).toBe(false);
    expect((await fleet.hv().lookup('web1'))?.id).not.toBeNull();
  });

  it('a VM its operator stops during the copy is not started again: it ends on NEW, off', async () => {
    const fleet = new Fleet();
    const hv = fleet.hv();
    once(fleet, firstProgress('web1'), () => hv.destroy('web1'));
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    expect((await hv.lookup('web1'))?.id).toBeNull();
    expect(sources(await hv.inactiveXml('web1'))).toEqual({ vda: '/dev/mapper/new-web1' });
    expect(notes(fleet, 'web1').some((n) => /stopped outside sanshift .*stays off/.test(n))).toBe(true);
    const journal = readdirSync(join(fleet.stateDir, 'runs')).map((f) => readFileSync(join(fleet.stateDir, 'runs', f), 'utf8')).join('');
    expect(journal).toMatch(/"kind":"power","vm":"web1","running":false/);
  });
});

describe('8. an operator edit made during the copy survives', () => {
  it('is kept in the definition on NEW, and named in a note', async () => {
    const fleet = new Fleet();
    const hv = fleet.hv();
    const edited = once(fleet, firstProgress('web1'), async () => {
      // `virsh edit` during a days-long copy: more memory
      const xml = await hv.inactiveXml('web1', { secure: true });
      await hv.define(xml.replace(/<memory unit='KiB'>\d+<\/memory>/, "<memory unit='KiB'>2097152</memory>").replace(/<currentMemory unit='KiB'>\d+<\/currentMemory>/, "<currentMemory unit='KiB'>2097152</currentMemory>"));
    });
    const summary = await fleet.run(['web1']);
    await edited.done;
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    expect(await hv.inactiveXml('web1')).toMatch(/<memory unit='KiB'>2097152<\/memory>/);
    expect(notes(fleet, 'web1').some((n) => /changed since the migration began \(kept\): memory, currentMemory/.test(n))).toBe(true);
  });
});

describe('9. console passwords survive, and are never written down', () => {
  const withVnc = editDomain('web1', (d) => d.replace('</devices>', "  <graphics type='vnc' port='-1' autoport='yes' passwd='s3cret-vnc'/>\n    </devices>"));

  it('after T1, T2 and a rollback alike', async () => {
    const fleet = new Fleet(BASE_INVENTORY, withVnc);
    const hv = fleet.hv();
    expect(await hv.inactiveXml('web1', { secure: true })).toMatch(/passwd='s3cret-vnc'/);
    const summary = await fleet.run(['web1']);
    expect(summary.results[0]!.outcome.outcome).toBe('done');
    const after = await hv.inactiveXml('web1', { secure: true });
    expect(after).toMatch(/passwd='s3cret-vnc'/);
    expect(sources(after)).toEqual({ vda: '/dev/mapper/new-web1' });
    // the journal, the events and the plan never hold it
    const journal = readdirSync(join(fleet.stateDir, 'runs')).map((f) => readFileSync(join(fleet.stateDir, 'runs', f), 'utf8')).join('');
    expect(journal).not.toMatch(/s3cret/);
    expect(JSON.stringify(fleet.events)).not.toMatch(/s3cret/);
  });

  it('through a rollback from the mirror', async () => {
    const fleet = new Fleet(BASE_INVENTORY, withVnc);
    const hv = fleet.hv();
    const original = await hv.inactiveXml('web1', { secure: true });
    const { crashed } = await import('./harness.js').then((h) => h.injectCrash(fleet, { n: 5, when: 'after' }));
    void fleet.run(['web1']);
    await crashed;
    await (await import('./harness.js')).recoverFromCrash(fleet);
    const summary = await fleet.run(['web1'], RunMode.rollback);
    expect(summary.results[0]!.outcome.outcome).toBe('rolled-back');
    expect(sameDefinition(await hv.inactiveXml('web1', { secure: true }), original)).toBe(true);
  });

  it('the plan never shows it', async () => {
    const fleet = new Fleet(BASE_INVENTORY, withVnc);
    const outcome = await fleet.plan(['web1']);
    expect(JSON.stringify(outcome.plan)).not.toMatch(/s3cret/);
  });
});
