import { describe, expect, it } from '@jest/globals';
import { blockDiskSources, listDisks, rewriteDiskSources, type DomainDisk } from '../../src/domain/disks.js';
import { DiskTargetError, DiskTargetProblem, DomainXmlError } from '../../src/domain/errors.js';
import { InputError, InputErrorCode } from '../../src/util/errors.js';
import { domainFixtureNames, readDomainFixture } from './fixtures.js';

/** The independent oracle for a rewrite: the fixture text with exactly one source string replaced. */
function replaceOnce(xml: string, from: string, to: string): string {
  expect(xml.split(from).length - 1).toBe(1);
  return xml.replace(from, to);
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('listDisks', () => {
  it('describes every kind of disk in document order', () => {
    const disks = listDisks(readDomainFixture('mixed-storage-types.xml'));
    const expected: DomainDisk[] = [
      { target: 'vda', bus: 'virtio', device: 'disk', type: 'file', source: '/var/lib/libvirt/images/fx-mixed-root.qcow2', format: 'qcow2', readonly: false, shareable: false },
      { target: 'vdb', bus: 'virtio', device: 'disk', type: 'network', source: 'rbd:vms/fx-mixed-data', format: 'raw', readonly: false, shareable: false },
      { target: 'vdc', bus: 'virtio', device: 'disk', type: 'volume', source: 'san-pool/lun-0042', format: 'raw', readonly: false, shareable: false },
      { target: 'vdd', bus: 'virtio', device: 'disk', type: 'block', source: '/dev/mapper/old-mixed', format: 'raw', readonly: false, shareable: false },
      { target: 'fda', bus: 'fdc', device: 'floppy', type: 'file', source: '/var/lib/libvirt/images/drivers.img', format: null, readonly: false, shareable: false },
      { target: 'hdc', bus: 'ide', device: 'cdrom', type: 'network', source: 'https:/isos/tools.iso', format: 'raw', readonly: true, shareable: false },
    ];
    expect(disks).toEqual(expected);
  });

  it('reports cdroms, an empty drive, SCSI LUNs and shareable disks', () => {
    const app = listDisks(readDomainFixture('app-sata-cdrom-boot-order.xml'));
    expect(app.map((d) => [d.target, d.bus, d.device, d.type, d.source, d.readonly])).toEqual([
      ['sda', 'sata', 'disk', 'block', '/dev/mapper/old-app', false],
      ['sdb', 'sata', 'cdrom', 'file', '/var/lib/libvirt/images/debian-12.5.0-amd64-netinst.iso', true],
      ['sdc', 'sata', 'cdrom', 'file', null, true],
    ]);
    const scsi = listDisks(readDomainFixture('scsi-lun-passthrough.xml'));
    expect(scsi.map((d) => [d.target, d.bus, d.device, d.shareable])).toEqual([
      ['sda', 'scsi', 'disk', false],
      ['sdb', 'scsi', 'lun', true],
      ['hda', 'ide', 'disk', false],
    ]);
  });

  it('takes libvirt defaults for a disk without type or device, and a null bus when not given', () => {
    const [disk] = listDisks("<domain><name>d</name><devices><disk><source file='/x.img'/><target dev='hda'/></disk></devices></domain>");
    expect(disk).toEqual({ target: 'hda', bus: null, device: 'disk', type: 'file', source: '/x.img', format: null, readonly: false, shareable: false });
  });

  it('gives no disks for a domain without <devices>', () => {
    expect(listDisks('<domain><name>d</name></domain>')).toEqual([]);
  });

  it('refuses a disk without a target dev', () => {
    const err = catchError(() => listDisks("<domain><name>d</name><devices><disk type='block'><source dev='/dev/x'/></disk></devices></domain>"));
    expect(err).toBeInstanceOf(DomainXmlError);
    expect((err as DomainXmlError).problems[0]?.at?.vm).toBe('d');
  });

  it('finds the block sources the engine mirrors', () => {
    expect(blockDiskSources(readDomainFixture('db-three-disks-iotune.xml'))).toEqual(
      new Map([
        ['vda', '/dev/mapper/old-db'],
        ['vdb', '/dev/mapper/old-db-data'],
        ['vdc', '/dev/disk/by-id/dm-name-old-db-logs'],
      ]),
    );
    expect(blockDiskSources(readDomainFixture('mixed-storage-types.xml'))).toEqual(new Map([['vdd', '/dev/mapper/old-mixed']]));
  });
});

describe('rewriteDiskSources', () => {
  // every block disk of every fixture, rewritten alone: the only change is its source dev
  const cases = domainFixtureNames.flatMap((file) =>
    listDisks(readDomainFixture(file))
      .filter((d) => d.type === 'block' && d.source !== null)
      .map((d) => [file, d.target, d.source as string] as const),
  );

  it('has block disks to work on in the fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  it.each(cases)('%s: changes only the source of %s', (file, target, oldDev) => {
    const original = readDomainFixture(file);
    const newDev = `/dev/md/sanshift-${target}`;
    const rewritten = rewriteDiskSources(original, new Map([[target, newDev]]));
    expect(rewritten).toBe(replaceOnce(original.trimEnd(), `<source dev='${oldDev}'`, `<source dev='${newDev}'`));
  });

  it('keeps <seclabel> children of <source>, <driver>, <boot order> and the others', () => {
    const rewritten = rewriteDiskSources(readDomainFixture('seclabel-in-source.xml'), new Map([['vda', '/dev/md/x']]));
    expect(rewritten).toContain(
      "<source dev='/dev/md/x'>\n        <seclabel model='selinux' relabel='no'/>\n        <seclabel model='dac' relabel='yes'>\n          <label>+107:+107</label>\n        </seclabel>\n      </source>\n      <target dev='vda' bus='virtio'/>\n      <boot order='1'/>",
    );
  });

  it('keeps <encryption> inside <source> and <iotune>, <serial>, <address> beside it', () => {
    const luks = rewriteDiskSources(readDomainFixture('luks-encrypted.xml'), new Map([['vda', '/dev/md/l']]));
    expect(luks).toContain("<source dev='/dev/md/l'>\n        <encryption format='luks'>");
    const db = rewriteDiskSources(readDomainFixture('db-three-disks-iotune.xml'), new Map([['vdb', '/dev/md/d']]));
    expect(db).toContain("<source dev='/dev/md/d'/>\n      <target dev='vdb' bus='virtio'/>\n      <iotune>");
  });

  it('rewrites several disks at once, leaving the others', () => {
    const original = readDomainFixture('db-three-disks-iotune.xml');
    const rewritten = rewriteDiskSources(
      original,
      new Map([
        ['vda', '/dev/mapper/new-db'],
        ['vdc', '/dev/mapper/new-db-logs'],
      ]),
    );
    expect(blockDiskSources(rewritten)).toEqual(
      new Map([
        ['vda', '/dev/mapper/new-db'],
        ['vdb', '/dev/mapper/old-db-data'],
        ['vdc', '/dev/mapper/new-db-logs'],
      ]),
    );
  });

  it('with an empty map gives the same document', () => {
    const original = readDomainFixture('web-virtio-block.xml');
    expect(rewriteDiskSources(original, new Map())).toBe(original.trimEnd());
  });

  it('escapes a new path that needs it, and reads it back unchanged', () => {
    const rewritten = rewriteDiskSources(readDomainFixture('web-virtio-block.xml'), new Map([['vda', "/dev/disk/by-id/it's&<odd>"]]));
    expect(blockDiskSources(rewritten).get('vda')).toBe("/dev/disk/by-id/it's&<odd>");
  });

  it('refuses, in one error, every target that is missing or not a block disk', () => {
    const err = catchError(() =>
      rewriteDiskSources(
        readDomainFixture('mixed-storage-types.xml'),
        new Map([
          ['vdd', '/dev/mapper/new-mixed'],
          ['vdz', '/dev/mapper/x'],
          ['vda', '/dev/mapper/y'],
          ['vdb', '/dev/mapper/z'],
          ['hdc', '/dev/mapper/w'],
        ]),
      ),
    );
    expect(err).toBeInstanceOf(DiskTargetError);
    expect(err).toBeInstanceOf(InputError);
    const e = err as DiskTargetError;
    expect(e.exitCode).toBe(2);
    expect(e.vm).toBe('fx-mixed');
    expect(e.faults).toEqual([
      { target: 'vdz', problem: DiskTargetProblem.missing },
      { target: 'vda', problem: DiskTargetProblem.notBlock, actualType: 'file' },
      { target: 'vdb', problem: DiskTargetProblem.notBlock, actualType: 'network' },
      { target: 'hdc', problem: DiskTargetProblem.notBlock, actualType: 'network' },
    ]);
    expect(e.problems.map((p) => p.code)).toEqual([
      InputErrorCode.notFound,
      InputErrorCode.unsupported,
      InputErrorCode.unsupported,
      InputErrorCode.unsupported,
    ]);
    expect(e.message).toContain("VM fx-mixed: disk 'vda' is type='file', only type='block' disks can be moved");
  });

  it('refuses a cdrom target (a file disk) with its type named', () => {
    const err = catchError(() => rewriteDiskSources(readDomainFixture('app-sata-cdrom-boot-order.xml'), new Map([['sdb', '/dev/x']])));
    expect((err as DiskTargetError).faults).toEqual([{ target: 'sdb', problem: 'not-block', actualType: 'file' }]);
  });

  it('refuses a block disk without <source dev>, duplicate targets and an empty new path', () => {
    const noSource = "<domain><name>n</name><devices><disk type='block' device='disk'><target dev='vda'/></disk></devices></domain>";
    expect((catchError(() => rewriteDiskSources(noSource, new Map([['vda', '/dev/x']]))) as DiskTargetError).faults).toEqual([
      { target: 'vda', problem: DiskTargetProblem.noSourceDev },
    ]);
    const twice =
      "<domain><name>n</name><devices><disk type='block'><source dev='/dev/a'/><target dev='vda'/></disk><disk type='block'><source dev='/dev/b'/><target dev='vda'/></disk></devices></domain>";
    expect((catchError(() => rewriteDiskSources(twice, new Map([['vda', '/dev/x']]))) as DiskTargetError).faults).toEqual([
      { target: 'vda', problem: DiskTargetProblem.duplicate },
    ]);
    expect(
      (catchError(() => rewriteDiskSources(readDomainFixture('web-virtio-block.xml'), new Map([['vda', '']]))) as DiskTargetError).faults,
    ).toEqual([{ target: 'vda', problem: DiskTargetProblem.emptyNewSource }]);
  });

  it('changes the disk\'s own <source>, never one nested deeper (a block job\'s <mirror>)', () => {
    const xml =
      "<domain><name>n</name><devices><disk type='block'><source dev='/dev/old'/><mirror type='block' job='copy'><source dev='/dev/copy'/></mirror><target dev='vda'/></disk></devices></domain>";
    expect(rewriteDiskSources(xml, new Map([['vda', '/dev/new']]))).toBe(xml.replace("dev='/dev/old'", "dev='/dev/new'"));
  });
});
