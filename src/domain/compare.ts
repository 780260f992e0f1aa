// Comparing two domain definitions for meaning, not bytes: the engine uses it to check that the
// persistent definition is still the original (invariant I2) and tests use it everywhere.

import { parseDomain } from './identity.js';
import { removeMigrationMetadata } from './metadata.js';
import { buildXml, childElements, type XmlElement, type XmlNode } from './xml.js';

export interface CompareOptions {
  /** also ignore sanshift's own `<metadata>` record (which changes at every phase) */
  ignoreMigrationMetadata?: boolean;
}

/**
 * A canonical form of domain XML: the runtime `id` attribute of `<domain>` is dropped (it changes
 * at every start), whitespace-only text between elements is dropped, and quoting and escaping are
 * made uniform. Two definitions mean the same when their canonical forms are equal.
 */
export function normalizeForCompare(xml: string, options: CompareOptions = {}): string {
  const source = options.ignoreMigrationMetadata === true ? removeMigrationMetadata(xml) : xml;
  const domain = parseDomain(source);
  delete domain.attributes['id'];
  return buildXml(withoutWhitespaceText(domain));
}

/** True when two definitions are equal in meaning (see normalizeForCompare). */
export function sameDefinition(a: string, b: string, options: CompareOptions = {}): boolean {
  return normalizeForCompare(a, options) === normalizeForCompare(b, options);
}

function withoutWhitespaceText(el: XmlElement): XmlElement {
  const children: XmlNode[] = [];
  for (const child of el.children) {
    if (child.kind === 'element') children.push(withoutWhitespaceText(child));
    else if (child.text.trim() !== '') children.push(child);
  }
  return { ...el, children };
}

/**
 * What an operator changed between two versions of a definition, as the names of the parts
 * that differ (`memory`, `devices/interface`, ...): the disk sources and sanshift's own record
 * are the migration's and are left out. Names only, so no secret is ever shown.
 */
export function changedParts(before: string, after: string): string[] {
  const parts = (xml: string): Map<string, string> => {
    const domain = withoutWhitespaceText(parseDomain(removeMigrationMetadata(xml)));
    delete domain.attributes['id'];
    const out = new Map<string, string>();
    const add = (key: string, el: XmlElement) => {
      let k = key;
      for (let i = 2; out.has(k); i++) k = `${key}#${i}`;
      out.set(k, buildXml(el));
    };
    for (const el of childElements(domain)) {
      if (el.name !== 'devices') {
        add(el.name, el);
        continue;
      }
      for (const dev of childElements(el)) {
        if (dev.name === 'disk') {
          // the source of a disk is what the migration moves; the rest of it is the operator's
          const copy = { ...dev, children: dev.children.map((c) => (c.kind === 'element' && c.name === 'source' ? { ...c, attributes: { ...c.attributes, dev: '' } } : c)) };
          add('devices/disk', copy);
        } else add(`devices/${dev.name}`, dev);
      }
    }
    return out;
  };
  const a = parts(before);
  const b = parts(after);
  const names = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
  return [...new Set(names.map((k) => k.replace(/#\d+$/, '')))];
}
