// sanshift's own record inside the domain definition, so that `virsh dumpxml` shows any operator
// (and any later run, from any machine) where a VM's migration stands:
//
//   <metadata>
//     <sanshift:migration xmlns:sanshift='https://sanshift.dev/xmlns/migration/1' phase='sync' run-id='...'>
//       <sanshift:disk target='vda' old='/dev/mapper/old-db1' new='/dev/mapper/new-db1' mirror='/dev/md/db1-vda'/>
//     </sanshift:migration>
//   </metadata>
//
// Our element is recognised by its namespace URI, not its prefix. Other applications' metadata
// (libosinfo, cloud managers ...) is never touched.

import { DomainXmlError } from './errors.js';
import { domainNameOrUndefined, parseDomain } from './identity.js';
import {
  ByText,
  buildXml,
  childElements,
  element,
  firstChild,
  insertChildElement,
  isIndented,
  namespaceUri,
  removeChildElement,
  type XmlElement,
} from './xml.js';

export const MIGRATION_NAMESPACE = 'https://sanshift.dev/xmlns/migration/1';
export const MIGRATION_PREFIX = 'sanshift';
const MIGRATION_ELEMENT = 'migration';
const DISK_ELEMENT = 'disk';

export interface MigrationDiskRecord {
  target: string;
  old: string;
  new: string;
  mirror: string;
}

export interface MigrationMetadata {
  phase: string;
  runId: string;
  disks: MigrationDiskRecord[];
  /** ISO 8601 time of the last update */
  updatedAt?: string;
}

/** The records of recently read definitions, by their text (see listDisks: the preflight and
 * status read the record of every VM of a fleet, from definitions already parsed for their disks). */
const recordByText = new ByText<MigrationMetadata | null>(16_384);

/** sanshift's migration record in the domain XML, or null when there is none. */
export function readMigrationMetadata(xml: string): MigrationMetadata | null {
  let meta = recordByText.get(xml);
  if (meta === undefined) {
    meta = recordOf(parseDomain(xml));
    recordByText.set(xml, meta);
  }
  // each caller gets its own copy to keep
  return meta === null ? null : { ...meta, disks: meta.disks.map((d) => ({ ...d })) };
}

/** Keeps the record of `xml`, whose tree a caller parsed for another reason (listDisks), so that
 * reading the record next costs no parse. A malformed record is not kept: its reader gets the error. */
export function rememberRecord(xml: string, domain: XmlElement): void {
  if (recordByText.has(xml)) return;
  try {
    recordByText.set(xml, recordOf(domain));
  } catch {
    // not kept
  }
}

function recordOf(domain: XmlElement): MigrationMetadata | null {
  const found = findOurs(domain);
  const ours = found[0];
  if (ours === undefined) return null;
  const vm = domainNameOrUndefined(domain);
  if (found.length > 1) throw new DomainXmlError('more than one sanshift migration record in <metadata>', vm);
  return decode(ours.element, vm);
}

/** Returns the domain XML with our record set to `meta` (replaced in place, or added; a missing
 * `<metadata>` is created where libvirt puts it). */
export function writeMigrationMetadata(xml: string, meta: MigrationMetadata): string {
  const domain = parseDomain(xml);
  setMigrationRecord(domain, meta);
  return buildXml(domain);
}

/** `writeMigrationMetadata` on a parsed domain, in place. */
export function setMigrationRecord(domain: XmlElement, meta: MigrationMetadata): void {
  const indent = isIndented(domain);
  const record = encode(meta);
  const found = findOurs(domain);
  const first = found[0];
  if (first !== undefined) {
    // keep the record where it was, so a diff of two definitions shows only the changed values
    const at = childElements(first.metadata).indexOf(first.element);
    for (const old of found) removeChildElement(old.metadata, old.element);
    insertChildElement(first.metadata, record, { depth: 1, indent, beforeElementIndex: at });
    return;
  }
  let metadata = firstChild(domain, 'metadata');
  if (metadata === undefined) {
    metadata = element('metadata');
    insertChildElement(domain, metadata, { depth: 0, indent, beforeElementIndex: metadataPosition(domain) });
  }
  insertChildElement(metadata, record, { depth: 1, indent });
}

/** Returns the domain XML without our record; an emptied `<metadata>` goes too. */
export function removeMigrationMetadata(xml: string): string {
  const domain = parseDomain(xml);
  dropMigrationRecord(domain);
  return buildXml(domain);
}

/** `removeMigrationMetadata` on a parsed domain, in place. */
export function dropMigrationRecord(domain: XmlElement): void {
  for (const { metadata, element: ours } of findOurs(domain)) {
    removeChildElement(metadata, ours);
    const onlyWhitespaceLeft = metadata.children.every((c) => c.kind === 'text' && c.text.trim() === '');
    if (onlyWhitespaceLeft) removeChildElement(domain, metadata);
  }
}

interface FoundRecord {
  metadata: XmlElement;
  element: XmlElement;
}

function findOurs(domain: XmlElement): FoundRecord[] {
  const found: FoundRecord[] = [];
  for (const metadata of childElements(domain, 'metadata')) {
    for (const child of childElements(metadata)) {
      if (localName(child.name) === MIGRATION_ELEMENT && namespaceUri(child, [domain, metadata]) === MIGRATION_NAMESPACE) {
        found.push({ metadata, element: child });
      }
    }
  }
  return found;
}

function localName(qualified: string): string {
  return qualified.slice(qualified.indexOf(':') + 1);
}

/** libvirt writes <metadata> after name, uuid, genid, title and description; we insert it there too. */
function metadataPosition(domain: XmlElement): number | undefined {
  const before = new Set(['name', 'uuid', 'genid', 'title', 'description']);
  const elements = childElements(domain);
  const index = elements.findIndex((el) => !before.has(el.name));
  return index === -1 ? undefined : index;
}

function encode(meta: MigrationMetadata): XmlElement {
  const p = MIGRATION_PREFIX;
  const attributes: Record<string, string> = { [`xmlns:${p}`]: MIGRATION_NAMESPACE, phase: meta.phase, 'run-id': meta.runId };
  if (meta.updatedAt !== undefined) attributes['updated-at'] = meta.updatedAt;
  const disks = meta.disks.map((d) =>
    element(`${p}:${DISK_ELEMENT}`, { target: d.target, old: d.old, new: d.new, mirror: d.mirror }),
  );
  return element(`${p}:${MIGRATION_ELEMENT}`, attributes, disks);
}

function decode(record: XmlElement, vm: string | undefined): MigrationMetadata {
  const required = (el: XmlElement, name: string): string => {
    const value = el.attributes[name];
    if (value === undefined) throw new DomainXmlError(`the sanshift migration record lacks ${el.name}/@${name}`, vm);
    return value;
  };
  const disks = childElements(record)
    .filter((el) => localName(el.name) === DISK_ELEMENT)
    .map((el) => ({ target: required(el, 'target'), old: required(el, 'old'), new: required(el, 'new'), mirror: required(el, 'mirror') }));
  const meta: MigrationMetadata = { phase: required(record, 'phase'), runId: required(record, 'run-id'), disks };
  const updatedAt = record.attributes['updated-at'];
  if (updatedAt !== undefined) meta.updatedAt = updatedAt;
  return meta;
}
