import { describe, expect, it } from '@jest/globals';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { canRunEngine, marksFromEngineEvents, rehearse, renderRehearsalText, type Rehearsal } from '../../src/cli/simulate.js';
import { DEFAULT_GUEST_TIMES } from '../../src/engine/connections.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { BundlesSection } from '../../src/report/plan-view.js';

/** examples/testdriver in a temp folder, its node file beside it (testDriverNode is relative to the inventory). */
function testdriverCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sanshift-simulate-test-'));
  copyFileSync(join(process.cwd(), 'fixtures/testdriver/node.xml'), join(dir, 'node.xml'));
  const yaml = readFileSync(join(process.cwd(), 'examples/testdriver/inventory.yaml'), 'utf8').replace(/testDriverNode: \S+/, 'testDriverNode: node.xml');
  writeFileSync(join(dir, 'inventory.yaml'), yaml);
  return join(dir, 'inventory.yaml');
}

function checkTimeline(r: Rehearsal): void {
  expect(r.vms.length).toBeGreaterThan(0);
  expect(r.makespanMs).toBeGreaterThanOrEqual(r.lowerBound.ms);
  expect(r.ratio).toBeCloseTo(r.makespanMs / r.lowerBound.ms, 9);
  for (const v of r.vms) {
    expect(v.outcome).toBe('done');
    const t1 = v.t1!;
    const t2 = v.t2!;
    const resync = v.resync!;
    expect(v.downtimeMs).toBeGreaterThan(0);
    // the engine's windows end at the start's answer; the guest's boot after it is downtime too
    const bootAfter = r.source === 'engine' ? DEFAULT_GUEST_TIMES.bootMs - DEFAULT_GUEST_TIMES.startMs : 0;
    expect(v.downtimeMs).toBe(t1.endMs - t1.startMs + (t2.endMs - t2.startMs) + 2 * bootAfter);
    // T1, then the copy, then T2, all inside the run
    expect(t1.startMs).toBeLessThan(t1.endMs);
    expect(resync.startMs).toBeGreaterThanOrEqual(t1.startMs);
    expect(resync.endMs).toBeLessThanOrEqual(t2.startMs);
    expect(t2.startMs).toBeLessThan(t2.endMs);
    expect(t2.endMs).toBeLessThanOrEqual(r.makespanMs);
  }
  expect(r.totals.done).toBe(r.vms.length);
  expect(r.totals.downtimeMs).toBe(r.vms.reduce((s, v) => s + v.downtimeMs, 0));
}

describe('sanshift simulate on test-driver hosts: the real engine', () => {
  it('runs every VM to done on a virtual clock, never below the lower bound, and leaves no state beside the inventory', async () => {
    const file = testdriverCopy();
    const inv = await loadInventory(file);
    expect(canRunEngine(inv)).toBe(true);
    const r = await rehearse(inv);
    expect(r.source).toBe('engine');
    expect(r.vms.map((v) => v.vm)).toEqual(['app1', 'db1', 'dns1', 'web1']);
    checkTimeline(r);
    // db1: 200 GiB + 50 GiB; web1 and app1: the simulated host's default size
    expect(r.vms.find((v) => v.vm === 'db1')!.bytes).toBe(250 * 1024 ** 3);
    expect(r.totals.bytes).toBe((20 + 250 + 20 + 20) * 1024 ** 3);
    expect(existsSync(join(file, '..', '.sanshift'))).toBe(false);
  }, 60_000);

  it('prints the timeline, the ratio and says nothing real is touched; --json for machines', async () => {
    const file = testdriverCopy();
    const io = new RecordingIo();
    expect(await main(['simulate', '-i', file], io)).toBe(0);
    expect(io.stdout).toMatch(/nothing real is touched/);
    expect(io.stdout).toMatch(/^db1 +hv1 +0 +250 GiB +\d:\d\d:\d\d-\d:\d\d:\d\d/m);
    expect(io.stdout).toMatch(/lower bound .*; ratio \d\.\d{3}/);
    const json = new RecordingIo();
    expect(await main(['simulate', '-i', file, '--json'], json)).toBe(0);
    const parsed = JSON.parse(json.stdout) as Rehearsal;
    expect(parsed.source).toBe('engine');
    checkTimeline(parsed);
  }, 60_000);
});

describe('sanshift simulate on real hosts: the model', () => {
  const REAL = `
hosts:
  kvm1: { uri: 'qemu+ssh://root@kvm1.invalid/system', ssh: root@kvm1.invalid }
  kvm2: { uri: 'qemu+ssh://root@kvm2.invalid/system', ssh: root@kvm2.invalid }
vms:
  - { name: dns1, host: kvm1, antiAffinity: [dns] }
  - { name: dns2, host: kvm2, antiAffinity: [dns] }
  - { name: db1, host: kvm1, dependsOn: [dns1], simulate: { sizes: { vda: 500GiB, vdb: 100GiB } } }
  - { name: web1, host: kvm2, dependsOn: [db1], disks: { vda: /dev/mapper/new-web1 } }
mapping:
  - { from: '^/dev/mapper/old-(.+)$', to: '/dev/mapper/new-$1', array: newsan }
limits: { arrayBandwidth: { newsan: 300MiB/s } }
`;
  it('contacts no host, says it is the model, and keeps anti-affine VMs apart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sanshift-simulate-model-'));
    writeFileSync(join(dir, 'inventory.yaml'), REAL);
    const inv = await loadInventory(join(dir, 'inventory.yaml'));
    expect(canRunEngine(inv)).toBe(false);
    const r = await rehearse(inv);
    expect(r.source).toBe('model');
    checkTimeline(r);
    const [a, b] = ['dns1', 'dns2'].map((n) => r.vms.find((v) => v.vm === n)!);
    for (const wa of [a!.t1!, a!.t2!]) for (const wb of [b!.t1!, b!.t2!]) expect(wa.endMs <= wb.startMs || wb.endMs <= wa.startMs).toBe(true);
    const text = renderRehearsalText(r);
    expect(text).toMatch(/MODEL/);
    expect(text).toMatch(/contacted none of them/);
    expect(text).toMatch(/one 20\.0 GiB disk assumed for: dns1, dns2/);
    // one array named by the only rule: the model knows where every disk goes
    expect(text).not.toMatch(/different arrays/);
  });

  it('says when it cannot tell which array a disk goes to (rules naming different arrays)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sanshift-simulate-model-'));
    const two = REAL.replace('array: newsan }', () => "array: newsan }\n  - { from: '^/dev/mapper/slow-(.+)$', to: '/dev/mapper/cheap-$1', array: cheapsan }").replace('{ name: web1, host: kvm2,', '{ name: web1, host: kvm2, array: newsan,');
    writeFileSync(join(dir, 'inventory.yaml'), two);
    const r = await rehearse(await loadInventory(join(dir, 'inventory.yaml')));
    const note = r.notes.find((n) => n.includes('different arrays'));
    expect(note).toMatch(/\(cheapsan, newsan\) and 3 VMs name none \(dns1, dns2, db1\)/);
    expect(note).toMatch(/outside limits\.arrayBandwidth/);
  });
});

describe('marksFromEngineEvents', () => {
  it('ends a resync one poll after the last progress line, never after the cutover check', () => {
    const at = (s: number): number => 1_000_000 + s * 1000;
    const events: EngineEvent[] = [
      { kind: 'run-started', at: at(0), run: 'r', vms: ['a', 'b'], rehearsal: true },
      { kind: 'down', at: at(20), vm: 'a', window: 'T1' },
      { kind: 'step-finished', at: at(21), vm: 'a', step: 'add-new-leg', target: 'vda', ms: 0 },
      { kind: 'up', at: at(50), vm: 'a', window: 'T1', downMs: 30_000 },
      { kind: 'progress', at: at(60), vm: 'a', percent: 50, speedKiBs: 1, etaSeconds: 1, doneBytes: 1, totalBytes: 2 },
      { kind: 'down', at: at(20), vm: 'b', window: 'T1' },
      { kind: 'up', at: at(55), vm: 'b', window: 'T1', downMs: 35_000 },
      { kind: 'step-started', at: at(58), vm: 'b', step: 'check-cutover', summary: '' },
      { kind: 'step-started', at: at(200), vm: 'a', step: 'check-cutover', summary: '' },
      { kind: 'down', at: at(220), vm: 'a', window: 'T2' },
      { kind: 'up', at: at(250), vm: 'a', window: 'T2', downMs: 30_000 },
      { kind: 'vm-finished', at: at(260), vm: 'a', outcome: 'done' },
      { kind: 'run-finished', at: at(300), run: 'r', done: 1, failed: 0, rolledBack: 0 },
    ];
    const { marks, endMs } = marksFromEngineEvents(events, 5_000);
    expect(endMs).toBe(300_000);
    expect(marks.get('a')).toEqual({ t1Down: 20_000, resyncStart: 21_000, t1Up: 50_000, resyncEnd: 65_000, t2Down: 220_000, t2Up: 250_000, outcome: 'done' });
    // b synced before its first poll: from its start on the mirrors, capped by the cutover check
    expect(marks.get('b')!.resyncEnd).toBe(58_000);
  });
});

describe('sanshift plan shows bundles', () => {
  it('puts the bundles, their orders and expected windows in the JSON plan', async () => {
    const file = testdriverCopy();
    const io = new RecordingIo();
    expect(await main(['plan', '-i', file, '--json'], io)).toBe(0);
    const parsed = JSON.parse(io.stdout) as { bundles: BundlesSection };
    const all = parsed.bundles.bundles.flatMap((b) => b.vms).sort();
    expect(all).toEqual(['app1', 'db1', 'dns1', 'web1']);
    // dns1 has 2 dependents, under the default bundleMaxSize of 8: no hub, one bundle
    expect(parsed.bundles.hubs).toEqual([]);
    expect(parsed.bundles.bundles).toHaveLength(1);
    const one = parsed.bundles.bundles[0]!;
    // dependents stop first, dependencies start first
    const stop = one.stopOrder;
    const start = one.startOrder;
    expect(stop.indexOf('web1')).toBeLessThan(stop.indexOf('db1'));
    expect(stop.indexOf('db1')).toBeLessThan(stop.indexOf('dns1'));
    expect([...start].sort()).toEqual(['app1', 'db1', 'dns1', 'web1']);
    expect(start.indexOf('dns1')).toBeLessThan(start.indexOf('db1'));
    expect(start.indexOf('db1')).toBeLessThan(start.indexOf('web1'));
    expect(one.expectedT1Ms).not.toBeNull();
    expect(one.expectedT2Ms!).toBeGreaterThan(one.expectedT1Ms!);
    const text = new RecordingIo();
    expect(await main(['plan', '-i', file], text)).toBe(0);
    expect(text.stdout).toMatch(/^Bundles: \d+ bundles?;/m);
    expect(text.stdout).toContain(`stop:  ${stop.join(' -> ')}`);
    expect(text.stdout).toContain(`start: ${start.join(' -> ')}`);
  }, 60_000);
});
