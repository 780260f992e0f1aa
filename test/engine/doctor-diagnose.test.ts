// diagnose() alone, on readings written by hand: what the simulated host cannot show (an ordinary
// software RAID with a superblock, a LUN seen from two hosts), and the judgement of leases and
// claims from journals.
import { describe, expect, it } from '@jest/globals';
import { diagnose, FindingKind, type DomainReading, type HostScan } from '../../src/engine/doctor.js';
import type { JournalRecord } from '../../src/engine/journal.js';
import type { ClaimFile } from '../../src/engine/lock.js';
import { parseProbe } from '../../src/host/probe.js';
import { parseInventory } from '../../src/inventory/parse.js';

const inventory = parseInventory(
  `hosts:
  hv1: { uri: 'qemu+ssh://root@hv1/system' }
  hv2: { uri: 'qemu+ssh://root@hv2/system' }
vms:
  - { name: web1, host: hv1 }
  - { name: db1, host: hv2 }
mapping:
  - from: '^/dev/mapper/old-(.+)$'
    to: '/dev/mapper/new-$1'
`,
  '/srv/fleet.yaml',
);

function domain(name: string, sources: string[], running = false): DomainReading {
  const disks = sources.map((s, i) => `<disk type='block' device='disk'><source dev='${s}'/><target dev='vd${'abc'[i]}' bus='virtio'/></disk>`).join('');
  const xml = `<domain type='kvm'><name>${name}</name><devices>${disks}</devices></domain>`;
  return { name, id: running ? 7 : null, persistentXml: xml, liveXml: running ? xml : null, managedSave: false };
}

/** A scan probe's output: facts lines, then /proc/mdstat. */
function snapshot(facts: string[], mdstat: string[] = []): ReturnType<typeof parseProbe> {
  return parseProbe(['#probe 1 scan', ...facts, 'clock 1800000000', '#mdstat', 'Personalities : [raid1] ', ...mdstat, 'unused devices: <none>', '#end', ''].join('\n'));
}

const hv1Volumes = ['link /dev/mapper/old-web1 /dev/dm-0', 'dev dm-0 252:0', 'link /dev/mapper/new-web1 /dev/dm-1', 'dev dm-1 252:1'];

function run(scans: HostScan[], o: { records?: JournalRecord[]; claims?: ClaimFile[]; alive?: (pid: number) => boolean } = {}) {
  return diagnose({ inventory, selected: null, scans, records: o.records ?? [], claims: o.claims ?? [], machine: 'admin1', alive: o.alive ?? (() => false), command: { inventory: 'fleet.yaml' }, stateDir: '/srv/.sanshift' });
}

const scan = (host: string, domains: DomainReading[], snap: ReturnType<typeof parseProbe> | null): HostScan => ({ host, uri: `qemu+ssh://root@${host}/system`, domains, libvirtError: null, snapshot: snap, probeError: null });

describe('domains on /dev/md', () => {
  const raid = (superblock: string) => [`md0 : active raid1 sdb1[1] sda1[0]`, `      1048512 blocks super ${superblock} [2/2] [UU]`, '      '];
  const files = ['link /dev/md0 /dev/md0', 'dev md0 9:0', 'md md0 array_state clean', 'md md0 sync_action idle', 'md md0 degraded 0'];

  it('an ordinary software RAID (a superblock, no inventory volume) is no finding; a --build array is', () => {
    const fileserver = domain('fileserver', ['/dev/md0'], true);
    expect(run([scan('hv1', [fileserver, domain('web1', ['/dev/mapper/old-web1'])], snapshot([...hv1Volumes, ...files], raid('1.2')))]).findings).toEqual([]);
    const r = run([scan('hv1', [fileserver, domain('web1', ['/dev/mapper/old-web1'])], snapshot([...hv1Volumes, ...files], raid('non-persistent')))]);
    expect(r.findings.map((f) => [f.kind, f.subject])).toEqual([[FindingKind.persistentOnMirror, 'domain fileserver']]);
    // not in the inventory, no journal: only the edit, and no sanshift command for it
    expect(r.findings[0]!.fixes.map((f) => f.argv.join(' '))).toEqual(['virsh -c qemu+ssh://root@hv1/system edit fileserver']);
  });
});

describe('a LUN seen from two hosts', () => {
  it("an array on hv2 over web1's NEW (the same LUN serial, another name) is found, on hv2", () => {
    const hv1 = snapshot([...hv1Volumes, 'udev dm-1 ID_SERIAL=3600a0b800011'], []);
    const hv2 = snapshot(
      ['dev md5 9:5', 'md md5 array_state clean', 'md md5 sync_action idle', 'md md5 degraded 1', 'leg md5 sdc in_sync', 'dev sdc 8:32', 'udev sdc ID_SERIAL=3600a0b800011', 'holder sdc md5', 'link /dev/md/scratch /dev/md5'],
      ['md5 : active raid1 sdc[0]', '      1048512 blocks super non-persistent [2/1] [U_]', '      '],
    );
    const r = run([scan('hv1', [domain('web1', ['/dev/mapper/old-web1'], true)], hv1), scan('hv2', [domain('db1', ['/dev/mapper/old-db1'])], hv2)]);
    expect(r.findings.map((f) => [f.kind, f.host, f.vm])).toEqual([[FindingKind.strangerArray, 'hv2', 'web1']]);
    expect(r.findings[0]!.detail).toBe('not an array sanshift builds (its name is not /dev/md/ss-web1-vda): holds sdc (web1 vda NEW: the LUN of /dev/mapper/new-web1 on hv1), [U_] idle, degraded 1; nothing holds it and no domain uses it. sanshift refuses to migrate web1 while it holds its volume.');
    expect(r.findings[0]!.fixes.map((f) => `${f.on}: ${f.argv.join(' ')}`)).toEqual(['hv2: mdadm --detail /dev/md/scratch', 'hv2: mdadm --stop /dev/md/scratch']);
  });
});

describe('leases and claims judged from the journals', () => {
  const records: JournalRecord[] = [
    { run: 'r-done', at: '2026-11-24T01:00:00.000Z', kind: 'run-started', inventory: '/srv/fleet.yaml', vms: ['web1'], pid: 11, hostname: 'admin2', rehearsal: false },
    { run: 'r-done', at: '2026-11-24T02:00:00.000Z', kind: 'run-finished', ok: true },
  ];
  const leases = (lines: string[]) => snapshot([...hv1Volumes, ...lines]);

  it('a finished run\'s lease is stale however long it has; an unreadable one too; a live one is a note', () => {
    const r = run([scan('hv1', [domain('web1', ['/dev/mapper/old-web1'])], leases(['lease web1 r-done@admin2:11 1800000500', 'lease junk whatever', 'lease other r-live@admin2:12 1800000400']))], { records });
    expect(r.findings.map((f) => [f.kind, f.vm ?? f.subject, f.detail])).toEqual([
      [FindingKind.staleLease, 'web1', 'held by run r-done (pid 11 on admin2); its run finished (its journal is here) without releasing it: the host did not answer then.'],
      [FindingKind.staleLease, 'lease of junk (/run/lock/sanshift/vm-junk.lease)', 'held by whatever; it holds "whatever", which is not a lease sanshift writes (no run can take it over).'],
    ]);
    expect(r.notes).toEqual([{ host: 'hv1', vm: null, text: 'other is leased to run r-live (pid 12 on admin2) for 400 s more: a run in progress' }]);
  });

  it('the leases a dead run left on a host are one finding, removed by one command', () => {
    const r = run([scan('hv1', [domain('web1', ['/dev/mapper/old-web1'])], leases(['lease web1 r-gone@admin9:3 1799999000', 'lease web2 r-gone@admin9:3 1799999900', 'lease web3 r-gone@admin9:3 1799999500']))], { records });
    expect(r.findings.map((f) => [f.kind, f.vm, f.subject, f.detail])).toEqual([
      [FindingKind.staleLease, null, 'leases of web1, web2 and web3 (/run/lock/sanshift/vm-*.lease)', 'held by run r-gone (pid 3 on admin9); they expired 100 s ago: its run stopped renewing them (it died, or lost this host).'],
    ]);
    expect(r.findings[0]!.fixes.map((f) => `${f.on}: ${f.argv.join(' ')}`)).toEqual(['hv1: flock /run/lock/sanshift/leases.lock rm -f /run/lock/sanshift/vm-web1.lease /run/lock/sanshift/vm-web2.lease /run/lock/sanshift/vm-web3.lease']);
  });

  it("claims: this machine's dead process and a finished run are stale; another machine's is a note", () => {
    const owner = (run: string, pid: number, hostname: string) => ({ run, pid, hostname, since: '2026-11-24T01:00:00.000Z' });
    const claims: ClaimFile[] = [
      { path: '/srv/.sanshift/locks/hv1--web1.json', host: 'hv1', vm: 'web1', owner: owner('r-dead', 99, 'admin1') },
      { path: '/srv/.sanshift/locks/hv2--db1.json', host: 'hv2', vm: 'db1', owner: owner('r-done', 11, 'admin2') },
      { path: '/srv/.sanshift/locks/hv2--db2.json', host: 'hv2', vm: 'db2', owner: owner('r-other', 5, 'admin3') },
    ];
    const r = run([], { records, claims, alive: (pid) => pid !== 99 });
    expect(r.findings.map((f) => [f.kind, f.vm, f.detail, f.fixes.map((x) => x.argv.join(' '))])).toEqual([
      [FindingKind.staleClaim, 'web1', 'its process (pid 99, run r-dead) is gone.', ['rm -f /srv/.sanshift/locks/hv1--web1.json']],
      [FindingKind.staleClaim, 'db1', 'its run r-done finished without removing it.', ['rm -f /srv/.sanshift/locks/hv2--db1.json']],
    ]);
    expect(r.notes.map((n) => n.text)).toEqual(['db2 is claimed by run r-other (pid 5 on admin3, another machine: sanshift cannot tell if it lives): a run in progress']);
  });

  it('a host that could not be read is a finding: nothing can be said of it', () => {
    const r = run([{ host: 'hv2', uri: 'qemu+ssh://root@hv2/system', domains: null, libvirtError: 'Cannot recv data: Connection reset by peer', snapshot: null, probeError: 'ssh: connect to host hv2 port 22: No route to host' }]);
    expect(r.findings.map((f) => [f.kind, f.subject])).toEqual([
      [FindingKind.hostNotRead, 'libvirt of hv2 (qemu+ssh://root@hv2/system)'],
      [FindingKind.hostNotRead, 'the shell of hv2'],
    ]);
  });
});
