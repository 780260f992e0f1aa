// The disks of a domain, and the one edit sanshift makes to them: swapping the `<source dev>` of
// block disks (old volume -> mirror -> new volume). Everything else in the XML stays as it was.

import { DiskTargetError, DiskTargetProblem, DomainXmlError, type DiskTargetFault } from './errors.js';
import { domainNameOrUndefined, parseDomain } from './identity.js';
import { rememberRecord } from './metadata.js';
import { buildXml, ByText, childElements, firstChild, type XmlElement } from './xml.js';

export const DiskDevice = { disk: 'disk', cdrom: 'cdrom', floppy: 'floppy', lun: 'lun' } as const;
/** libvirt's disk devices; an unknown future device is passed through as its string */
export type DiskDevice = (typeof DiskDevice)[keyof typeof DiskDevice] | (string & {});

export const DiskType = {
  block: 'block',
  file: 'file',
  network: 'network',
  volume: 'volume',
  dir: 'dir',
  nvme: 'nvme',
  vhostuser: 'vhostuser',
  vhostvdpa: 'vhostvdpa',
} as const;
/** libvirt's disk types; an unknown future type is passed through as its string */
export type DiskType = (typeof DiskType)[keyof typeof DiskType] | (string & {});

export interface DomainDisk {
  /** the target dev the guest sees it as: vda, sdb ... (the disk's name in sanshift) */
  target: string;
  /** virtio, scsi, sata, ide, usb, fdc ...; null when libvirt is left to choose */
  bus: string | null;
  device: DiskDevice;
  type: DiskType;
  /** block: the device path; file: the file; dir: the folder; network: `protocol:name`;
   * volume: `pool/volume`; nvme: `nvme:PCI-ADDRESS/namespace`; null for an empty drive */
  source: string | null;
  /** the image format from `<driver type=...>` (raw, qcow2 ...), null when not given */
  format: string | null;
  readonly: boolean;
  shareable: boolean;
}

/** The disks of recently read definitions, by their text. A fleet's plan reads each domain's
 * disks in several places (the in-use index, the preflight, a rehearsal's volumes, status):
 * one parse serves them all. Sized for a fleet: a few hundred bytes a domain, and the keys
 * are the strings the callers hold anyway. */
const disksByText = new ByText<readonly DomainDisk[]>(16_384);

/** Every `<disk>` of the domain, in document order. */
export function listDisks(xml: string): DomainDisk[] {
  let disks = disksByText.get(xml);
  if (disks === undefined) {
    // frozen: every caller shares them; a new array each time, so a caller may sort or filter its own
    const domain = parseDomain(xml);
    disks = disksOf(domain).map((d) => Object.freeze(d));
    // whoever reads a definition's disks reads its record next (preflight, status): from this parse
    rememberRecord(xml, domain);
    disksByText.set(xml, disks);
  }
  return [...disks];
}

/** Every `<disk>` of a parsed domain, in document order. */
export function disksOf(domain: XmlElement): DomainDisk[] {
  return diskElements(domain).map((el) => describeDisk(el, domainNameOrUndefined(domain)));
}

function diskElements(domain: XmlElement): XmlElement[] {
  const devices = firstChild(domain, 'devices');
  return devices === undefined ? [] : childElements(devices, 'disk');
}

function targetOf(disk: XmlElement): string | undefined {
  return firstChild(disk, 'target')?.attributes['dev'];
}

function describeDisk(el: XmlElement, vm: string | undefined): DomainDisk {
  const target = targetOf(el);
  if (target === undefined || target === '') throw new DomainXmlError('a <disk> has no <target dev=...>', vm);
  const type = el.attributes['type'] ?? DiskType.file; // libvirt's default when type is omitted
  const device: DiskDevice = el.attributes['device'] ?? DiskDevice.disk;
  return {
    target,
    bus: firstChild(el, 'target')?.attributes['bus'] ?? null,
    device,
    type,
    source: describeSource(type, firstChild(el, 'source')),
    format: firstChild(el, 'driver')?.attributes['type'] ?? null,
    readonly: firstChild(el, 'readonly') !== undefined,
    shareable: firstChild(el, 'shareable') !== undefined,
  };
}

function describeSource(type: string, source: XmlElement | undefined): string | null {
  if (source === undefined) return null;
  const a = source.attributes;
  switch (type) {
    case DiskType.block:
      return a['dev'] ?? null;
    case DiskType.file:
      return a['file'] ?? null;
    case DiskType.dir:
      return a['dir'] ?? null;
    case DiskType.network:
      return a['protocol'] === undefined ? null : `${a['protocol']}:${a['name'] ?? ''}`;
    case DiskType.volume:
      return a['pool'] === undefined || a['volume'] === undefined ? null : `${a['pool']}/${a['volume']}`;
    case DiskType.nvme: {
      const address = firstChild(source, 'address')?.attributes;
      const pci = address === undefined ? '?' : [address['domain'], address['bus'], address['slot'], address['function']].join(':');
      return `nvme:${pci}/${a['namespace'] ?? '1'}`;
    }
    default:
      return a['path'] ?? a['dev'] ?? a['file'] ?? null;
  }
}

/** The device path of each block disk, by target: what the engine mirrors. */
export function blockDiskSources(xml: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const disk of listDisks(xml)) {
    if (disk.type === DiskType.block && disk.source !== null) result.set(disk.target, disk.source);
  }
  return result;
}

/**
 * Returns the domain XML with the `<source dev>` of the given block disks replaced, and nothing
 * else changed: `<source>`'s other attributes and children (`<seclabel>`, `<reservations>`),
 * `<driver>`, `<iotune>`, `<address>`, `<boot>`... all stay. Throws DiskTargetError listing every
 * target that is missing, duplicated, not `type='block'`, or has no `<source dev>`.
 */
export function rewriteDiskSources(xml: string, newSourceByTarget: ReadonlyMap<string, string>): string {
  const domain = parseDomain(xml);
  setDiskSources(domain, newSourceByTarget);
  return buildXml(domain);
}

/** `rewriteDiskSources` on a parsed domain, in place; on a fault nothing is changed. */
export function setDiskSources(domain: XmlElement, newSourceByTarget: ReadonlyMap<string, string>): void {
  const disksByTarget = new Map<string, XmlElement[]>();
  for (const el of diskElements(domain)) {
    const target = targetOf(el);
    if (target === undefined) continue;
    disksByTarget.set(target, [...(disksByTarget.get(target) ?? []), el]);
  }

  const faults: DiskTargetFault[] = [];
  const sourcesToChange: [XmlElement, string][] = [];
  for (const [target, newDev] of newSourceByTarget) {
    const matches = disksByTarget.get(target) ?? [];
    const disk = matches[0];
    if (disk === undefined) faults.push({ target, problem: DiskTargetProblem.missing });
    else if (matches.length > 1) faults.push({ target, problem: DiskTargetProblem.duplicate });
    else if ((disk.attributes['type'] ?? DiskType.file) !== DiskType.block)
      faults.push({ target, problem: DiskTargetProblem.notBlock, actualType: disk.attributes['type'] ?? DiskType.file });
    else if (newDev === '') faults.push({ target, problem: DiskTargetProblem.emptyNewSource });
    else {
      const source = firstChild(disk, 'source');
      if (source?.attributes['dev'] === undefined) faults.push({ target, problem: DiskTargetProblem.noSourceDev });
      else sourcesToChange.push([source, newDev]);
    }
  }
  if (faults.length > 0) throw new DiskTargetError(domainNameOrUndefined(domain) ?? '?', faults);

  for (const [source, newDev] of sourcesToChange) source.attributes['dev'] = newDev;
}
