// Comparing two domain definitions for meaning, not bytes: the engine uses it to check that the
// persistent definition is still the original (invariant I2) and tests use it everywhere.

import { parseDomain } from './identity.js';
import { removeMigrationMetadata } from './metadata.js';
import { buildXml, type XmlElement, type XmlNode } from './xml.js';

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
