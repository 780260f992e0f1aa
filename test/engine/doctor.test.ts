// `sanshift doctor` on a real test-driver fleet with simulated md hosts: each leftover is made for
// real (a run killed in mid-resync, a definition put on /dev/md by hand, a dead run's lease, a
// record from a state folder that is gone, new volumes someone uses), found with the right
// suggestion, and gone once that suggestion is followed. A clean or migrated fleet shows nothing.
import { hostname } from 'node:os';
import { describe, expect, it } from '@jest/globals';
import { listDisks } from '../../src/domain/index.js';
import { diagnose, FindingKind, type DoctorReport, type Finding } from '../../src/engine/doctor.js';
import { factsByVm } from '../../src/engine/facts.js';
import { scanFleet } from '../../src/engine/doctor-scan.js';
import { readAllJournals, type JournalRecord } from '../../src/engine/journal.js';
import { readClaims, type ClaimFile } from '../../src/engine/lock.js';
import { RunMode } from '../../src/engine/run.js';
import { shellJoin } from '../../src/host/quote.js';
import { BASE_INVENTORY, Fleet, injectCrash, recoverFromCrash } from './harness.js';

const MACHINE = hostname();
const MACHINE_WORD = MACHINE.replace(/[^A-Za-z0-9._-]/g, '_');
/** above the kernel's largest pid (pid_max 2^22): never alive */
const DEAD_PID = 2 ** 22 + 17;

interface DoctorRun {
  report: DoctorReport;
  hostCommands: number;
  libvirtCalls: number;
}

async function doctor(fleet: Fleet, o: { alive?: (pid: number) => boolean; records?: JournalRecord[]; claims?: ClaimFile[]; selected?: string[] } = {}): Promise<DoctorRun> {
  const records = o.records ?? readAllJournals(fleet.stateDir);
  const { scans, figures } = await scanFleet(fleet.inventory, fleet.connections, Object.keys(fleet.inventory.hosts), factsByVm(records));
  const report = diagnose({
    inventory: fleet.inventory,
    selected: o.selected === undefined ? null : new Set(o.selected),
    scans,
    records,
    claims: o.claims ?? readClaims(fleet.stateDir),
    machine: MACHINE,
    alive: o.alive ?? (() => true),
    command: { inventory: 'inv.yaml' },
    stateDir: fleet.stateDir,
  });
  return { report, hostCommands: figures.reduce((s, f) => s + f.hostCommands, 0), libvirtCalls: figures.reduce((s, f) => s + f.libvirtCalls, 0) };
}

const kinds = (r: DoctorReport) => r.findings.map((f) => `${f.kind} ${f.vm ?? '-'}`);
const commands = (f: Finding | undefined) => (f?.fixes ?? []).map((x) => `${x.on === null ? 'here' : x.on}: ${shellJoin(x.argv)}${x.stdoutTo === undefined ? '' : ` > ${x.stdoutTo}`}`);
const find = (r: DoctorReport, kind: FindingKind, vm?: string) => r.findings.find((f) => f.kind === kind && (vm === undefined || f.vm === vm));

/** A run of web1 killed right after NEW joined its mirror: web1 runs on the mirror, in resync,
 * and the dead run's lease and claim are left. The new engine sees the hosts as they are. */
async function crashedMidResync(fleet: Fleet = new Fleet()): Promise<Fleet> {
  const clean = new Fleet();
  const counted = await injectCrash(clean, undefined);
  await clean.run(['web1']);
  const n = counted.effects.findIndex((e) => e.what === 'md add ss-web1-vda') + 1;
  expect(n).toBeGreaterThan(0);
  const { crashed } = await injectCrash(fleet, { n, when: 'after' });
  void fleet.run(['web1']);
  await crashed;
  fleet.hvWrapper = undefined;
  fleet.clock.forgetInFlight();
  fleet.restart();
  // the operator looks 20 s later, md copying meanwhile (and a run started then sorts after the
  // dead one: runs are ordered by their first record, and the dead one's life took no virtual time)
  fleet.clock.advance(20_000);
  return fleet;
}

describe('nothing to find', () => {
  it('on a fleet never touched, and on one fully migrated; one host command and a few libvirt calls per host', async () => {
    const fleet = new Fleet();
    const before = await doctor(fleet);
    expect(before.report).toEqual({ findings: [], notes: [] });
    expect(before.hostCommands).toBe(1);
    // node.xml: 6 domains, 5 running: 2 listings + 6 persistent + 5 live definitions
    expect(before.libvirtCalls).toBe(13);
    const summary = await fleet.run();
    expect(summary.results.map((r) => r.outcome.outcome)).toEqual(['done', 'done', 'done']);
    expect((await doctor(fleet)).report).toEqual({ findings: [], notes: [] });
  });
});

describe('a run killed in mid-resync', () => {
  it('its process gone: the mirror left mid-way (continue or roll back), its lease, the run and its claim', async () => {
    const fleet = await crashedMidResync();
    const { report } = await doctor(fleet, { alive: () => false });
    expect(kinds(report)).toEqual([`${FindingKind.leftMirror} web1`, `${FindingKind.staleLease} web1`, `${FindingKind.interruptedRun} web1`, `${FindingKind.staleClaim} web1`]);
    const mirror = find(report, FindingKind.leftMirror)!;
    expect(mirror.subject).toBe('md127 (/dev/md/ss-web1-vda)');
    // legs as /proc/mdstat lists them, newest first; md went on copying after the crash
    expect(mirror.detail).toMatch(/^sanshift's mirror of web1 vda: holds \/dev\/mapper\/new-web1 \(web1 vda NEW\) and \/dev\/mapper\/old-web1 \(web1 vda OLD\), \[U_\] resync (3\d|4\d)\.\d%; domain web1 runs on it\. No run drives it: the migration was left in mid-way\. Its run \S+ is not alive \(its process, pid \d+, is gone\)\.$/);
    expect(commands(mirror)).toEqual(['here: sanshift run -i inv.yaml web1', 'here: sanshift rollback -i inv.yaml web1']);
    const lease = find(report, FindingKind.staleLease)!;
    expect(lease.detail).toMatch(/^held by run \S+ \(pid \d+ on \S+\); its process is gone from this machine\.$/);
    expect(commands(lease)).toEqual(['hv1: flock /run/lock/sanshift/leases.lock rm -f /run/lock/sanshift/vm-web1.lease']);
    expect(commands(find(report, FindingKind.staleClaim))).toEqual([`here: rm -f ${fleet.stateDir}/locks/hv1--web1.json`]);
    expect(find(report, FindingKind.interruptedRun)!.detail).toMatch(/never finished: its process \(pid \d+\) is gone\. It left web1 mid-way/);
    expect(commands(find(report, FindingKind.interruptedRun))).toEqual(['here: sanshift status -i inv.yaml web1', 'here: sanshift run -i inv.yaml web1']);
    // followed: the next run continues it, and nothing is left
    await recoverFromCrash(fleet);
    expect((await fleet.run(['web1'])).results[0]!.outcome.outcome).toBe('done');
    expect((await doctor(fleet, { alive: () => false })).report.findings).toEqual([]);
  });

  it('the rollback it suggests works too', async () => {
    const fleet = await crashedMidResync();
    const { report } = await doctor(fleet, { alive: () => false });
    expect(commands(find(report, FindingKind.leftMirror))[1]).toBe('here: sanshift rollback -i inv.yaml web1');
    await recoverFromCrash(fleet);
    expect((await fleet.run(['web1'], RunMode.rollback)).results[0]!.outcome.outcome).toBe('rolled-back');
    expect((await doctor(fleet, { alive: () => false })).report.findings).toEqual([]);
  });

  it('while its run is alive, the same state is a run in progress: notes, no finding', async () => {
    const fleet = await crashedMidResync();
    const { report } = await doctor(fleet, { alive: () => true });
    expect(report.findings).toEqual([]);
    expect(report.notes.map((n) => n.text).join('\n')).toMatch(/md127 \(\/dev\/md\/ss-web1-vda\): web1's mirror of vda, .* drives it: nothing to do/);
    expect(report.notes.some((n) => /web1 is leased to run \S+ \(pid \d+ on /.test(n.text))).toBe(true);
  });

  it('a selection that leaves web1 out does not report it', async () => {
    const fleet = await crashedMidResync();
    expect((await doctor(fleet, { alive: () => false, selected: ['dns1'] })).report.findings).toEqual([]);
    expect(kinds((await doctor(fleet, { alive: () => false, selected: ['web1'] })).report)).toContain(`${FindingKind.leftMirror} web1`);
  });
});

describe('a definition on /dev/md (I2 broken by hand)', () => {
  const onMirror = (xml: string) => xml.replace("<source dev='/dev/mapper/old-web1'/>", "<source dev='/dev/md/ss-web1-vda'/>");

  it('with no journal: virsh edit, pointing vda back at OLD unknown', async () => {
    const fleet = new Fleet();
    const hv = fleet.hv();
    const xml = await hv.inactiveXml('web1');
    expect(onMirror(xml)).not.toBe(xml);
    await hv.define(onMirror(xml));
    const { report } = await doctor(fleet);
    expect(kinds(report)).toEqual([`${FindingKind.persistentOnMirror} web1`]);
    const f = report.findings[0]!;
    expect(f.detail).toMatch(/puts vda on \/dev\/md\/ss-web1-vda \(no such array now\): invariant I2 is broken/);
    expect(commands(f)).toEqual([`here: virsh -c ${fleet.inventory.hosts.hv1!.uri} edit web1`]);
    expect(f.fixes[0]!.why).toMatch(/point vda back at the volume it used before/);
  });

  it('after its migration completed: back onto NEW, never the journal\'s original (OLD is stale)', async () => {
    const fleet = new Fleet();
    expect((await fleet.run(['web1'])).results[0]!.outcome.outcome).toBe('done');
    const hv = fleet.hv();
    const xml = await hv.inactiveXml('web1');
    await hv.define(xml.replace("<source dev='/dev/mapper/new-web1'/>", "<source dev='/dev/md/ss-web1-vda'/>"));
    const { report } = await doctor(fleet);
    expect(kinds(report)).toEqual([`${FindingKind.persistentOnMirror} web1`]);
    expect(commands(report.findings[0])).toEqual([`here: virsh -c ${fleet.inventory.hosts.hv1!.uri} edit web1`]);
    expect(report.findings[0]!.fixes[0]!.why).toBe('point vda back at /dev/mapper/new-web1: its migration completed, so its old volumes are stale');
  });

  it('mid-migration, with the journal: define the original it recorded, then continue', async () => {
    const fleet = await crashedMidResync();
    const hv = fleet.hv();
    await hv.define(onMirror(await hv.inactiveXml('web1')));
    const { report } = await doctor(fleet, { alive: () => false });
    expect(kinds(report)).toEqual([`${FindingKind.leftMirror} web1`, `${FindingKind.persistentOnMirror} web1`, `${FindingKind.staleLease} web1`, `${FindingKind.interruptedRun} web1`, `${FindingKind.staleClaim} web1`]);
    expect(find(report, FindingKind.leftMirror)!.detail).toMatch(/domain web1's persistent definition names it \(fix web1's persistent definition first: below\)/);
    const f = find(report, FindingKind.persistentOnMirror)!;
    const uri = fleet.inventory.hosts.hv1!.uri;
    expect(commands(f)).toEqual(['here: sanshift doctor -i inv.yaml --original web1 > web1.original.xml', `here: virsh -c ${uri} define web1.original.xml`, 'here: sanshift run -i inv.yaml web1']);
    expect(f.fixes[1]!.why).toMatch(/no console password.*point vda back at \/dev\/mapper\/old-web1/);
    // followed: the original from the journal, defined; then the run finishes the migration
    const original = factsByVm(readAllJournals(fleet.stateDir))('web1').originalXml!;
    expect(listDisks(original).find((d) => d.target === 'vda')?.source).toBe('/dev/mapper/old-web1');
    await hv.define(original);
    expect(kinds((await doctor(fleet, { alive: () => false })).report)).not.toContain(`${FindingKind.persistentOnMirror} web1`);
    await recoverFromCrash(fleet);
    expect((await fleet.run(['web1'])).results[0]!.outcome.outcome).toBe('done');
    expect((await doctor(fleet, { alive: () => false })).report.findings).toEqual([]);
  });
});

describe('leases', () => {
  it('of a dead pid of this machine, and expired from elsewhere: stale; of a live run: a note', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    const now = Math.floor(fleet.clock.now() / 1000);
    sim.setLease('dns1', `20261124T010000.000Z-abcdef@${MACHINE_WORD}:${DEAD_PID}`, now + 300);
    sim.setLease('db1', '20261124T010000.000Z-123456@ops-laptop:4242', now - 60);
    sim.setLease('web1', `20261124T010000.000Z-fedcba@${MACHINE_WORD}:${process.pid}`, now + 500);
    const { report } = await doctor(fleet, { alive: (pid) => pid === process.pid });
    expect(kinds(report)).toEqual([`${FindingKind.staleLease} db1`, `${FindingKind.staleLease} dns1`]);
    expect(find(report, FindingKind.staleLease, 'dns1')!.detail).toBe(`held by run 20261124T010000.000Z-abcdef (pid ${DEAD_PID} on ${MACHINE_WORD}); its process is gone from this machine.`);
    expect(find(report, FindingKind.staleLease, 'dns1')!.fixes[0]!.why).toMatch(/a run from this machine takes it over by itself/);
    expect(find(report, FindingKind.staleLease, 'db1')!.detail).toMatch(/held by run 20261124T010000.000Z-123456 \(pid 4242 on ops-laptop\); it expired 60 s ago/);
    expect(commands(find(report, FindingKind.staleLease, 'db1'))).toEqual(['hv1: flock /run/lock/sanshift/leases.lock rm -f /run/lock/sanshift/vm-db1.lease']);
    expect(report.notes.map((n) => n.text)).toEqual([`web1 is leased to run 20261124T010000.000Z-fedcba (pid ${process.pid} on ${MACHINE_WORD}) for 500 s more: a run in progress`]);
  });
});

describe("sanshift's record with no journal here", () => {
  it('a fresh state folder: the record of the dead run, its mirror; continue from here', async () => {
    const fleet = await crashedMidResync();
    const { report } = await doctor(fleet, { alive: () => false, records: [], claims: [] });
    expect(kinds(report)).toEqual([`${FindingKind.leftMirror} web1`, `${FindingKind.metadataWithoutJournal} web1`, `${FindingKind.staleLease} web1`]);
    const rec = find(report, FindingKind.metadataWithoutJournal)!;
    expect(rec.detail).toMatch(/carries sanshift's record of run \S+ \(phase \S+.*vda: \/dev\/mapper\/old-web1 -> \/dev\/mapper\/new-web1\), and .* has no journal of that run/);
    expect(rec.detail).toMatch(/Its lease here names run \S+ \(pid \d+ on /);
    // its mirror is still there: only continuing makes sense, not dropping the record
    expect(commands(rec)).toEqual(['here: sanshift run -i inv.yaml web1']);
    // no journal here: no rollback offered for the mirror either
    expect(commands(find(report, FindingKind.leftMirror))).toEqual(['here: sanshift run -i inv.yaml web1']);
  });

  it('only the record is left: it may also be taken out', async () => {
    const fleet = new Fleet();
    const hv = fleet.hv();
    const xml = (await hv.inactiveXml('dns1')).replace(
      '</devices>',
      "</devices>\n  <metadata>\n    <sanshift:migration xmlns:sanshift='https://sanshift.dev/xmlns/migration/1' phase='mirror' run-id='20261101T000000.000Z-0a0b0c'>\n      <sanshift:disk target='vda' old='/dev/mapper/old-dns1' new='/dev/mapper/new-dns1' mirror='/dev/md/ss-dns1-vda'/>\n    </sanshift:migration>\n  </metadata>",
    );
    await hv.define(xml);
    const { report } = await doctor(fleet);
    expect(kinds(report)).toEqual([`${FindingKind.metadataWithoutJournal} dns1`]);
    expect(commands(report.findings[0])).toEqual(['here: sanshift run -i inv.yaml dns1', `here: virsh -c ${fleet.inventory.hosts.hv1!.uri} metadata dns1 --uri https://sanshift.dev/xmlns/migration/1 --config --remove`]);
  });
});

describe('new volumes of VMs not migrated yet', () => {
  const intruder = (node: string) =>
    node.replace(
      '</node>',
      `  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>intruder</name>
    <uuid>a1b2c3d4-0099-4000-8000-000000000099</uuid>
    <memory unit='KiB'>1048576</memory>
    <vcpu placement='static'>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='block' device='disk'>
        <source dev='/dev/mapper/new-db1-logs'/>
        <target dev='vda' bus='virtio'/>
      </disk>
    </devices>
    <test:runstate>5</test:runstate>
  </domain>
</node>`,
    );

  it('mounted, held, a swap, used by another domain, or already holding a file system', async () => {
    const fleet = new Fleet(BASE_INVENTORY, intruder);
    const sim = await fleet.sim();
    sim.markMounted('/dev/mapper/new-web1', '/srv');
    sim.setHolder('/dev/mapper/new-db1', 'dm-9');
    sim.setVolumeFacts('/dev/mapper/new-dns1', { fsType: 'ext4' });
    const { report } = await doctor(fleet);
    expect(kinds(report)).toEqual([`${FindingKind.newInUse} web1`, `${FindingKind.newInUse} db1`, `${FindingKind.newInUse} db1`, `${FindingKind.newHoldsData} dns1`]);
    expect(report.findings.map((f) => f.detail.replace(/\. Preflight.*|\. Its migration.*/, ''))).toEqual([
      'web1 is not migrated yet, and its new volume is in use: /dev/mapper/new-web1 is mounted on /srv',
      'db1 is not migrated yet, and its new volume is in use: /dev/mapper/new-db1 is held by dm-9',
      'db1 is not migrated yet, and its new volume is in use: domain intruder on hv1 uses it as vda in its persistent definition',
      'dns1 is not migrated yet, and its new volume already holds data: a signature of ext4 (as udev last saw it)',
    ]);
    expect(commands(find(report, FindingKind.newHoldsData))).toEqual(['hv1: lsblk -o NAME,TYPE,SIZE,FSTYPE,MOUNTPOINT /dev/mapper/new-dns1', 'hv1: wipefs /dev/mapper/new-dns1']);
    sim.markMounted('/dev/mapper/new-web1', null);
    sim.markSwap('/dev/mapper/new-web1');
    expect(find((await doctor(fleet)).report, FindingKind.newInUse, 'web1')!.detail).toMatch(/new-web1 is an active swap/);
  });

  it('a migrated VM\'s new volume holds its data, as it should: not reported', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    expect((await fleet.run(['dns1'])).results[0]!.outcome.outcome).toBe('done');
    sim.setVolumeFacts('/dev/mapper/new-dns1', { fsType: 'ext4' });
    sim.setVolumeFacts('/dev/mapper/new-web1', { fsType: 'ext4' });
    expect(kinds((await doctor(fleet)).report)).toEqual([`${FindingKind.newHoldsData} web1`]);
  });
});

describe('arrays sanshift did not build, and mirrors left after the end', () => {
  it('an array by hand over an OLD: identify it first; stopped only if nothing uses it', async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    expect((await sim.run(['mdadm', '--build', '/dev/md/manual', '--level', '1', '--raid-disks=2', '/dev/mapper/old-dns1', 'missing'])).exitCode).toBe(0);
    const { report } = await doctor(fleet);
    expect(kinds(report)).toEqual([`${FindingKind.strangerArray} dns1`]);
    expect(report.findings[0]!.detail).toMatch(/^not an array sanshift builds \(its name is not \/dev\/md\/ss-dns1-vda\): holds \/dev\/mapper\/old-dns1 \(dns1 vda OLD\), \[U_\] .*; nothing holds it and no domain uses it\. sanshift refuses to migrate dns1 while it holds its volume\./);
    expect(commands(report.findings[0])).toEqual(['hv1: mdadm --detail /dev/md/manual', 'hv1: mdadm --stop /dev/md/manual']);
  });

  it("sanshift's name over a migrated VM's volume: a mirror nothing will stop", async () => {
    const fleet = new Fleet();
    const sim = await fleet.sim();
    expect((await fleet.run(['dns1'])).results[0]!.outcome.outcome).toBe('done');
    expect((await sim.run(['mdadm', '--build', '/dev/md/ss-dns1-vda', '--level', '1', '--raid-disks=2', '/dev/mapper/old-dns1', 'missing'])).exitCode).toBe(0);
    const { report } = await doctor(fleet);
    expect(kinds(report)).toEqual([`${FindingKind.leftMirror} dns1`]);
    expect(report.findings[0]!.detail).toMatch(/its migration completed: nothing will stop it but you/);
    expect(commands(report.findings[0])).toEqual(['hv1: mdadm --stop /dev/md/ss-dns1-vda']);
    // followed: nothing left
    expect((await sim.run(['mdadm', '--stop', '/dev/md/ss-dns1-vda'])).exitCode).toBe(0);
    expect((await doctor(fleet)).report.findings).toEqual([]);
  });
});
