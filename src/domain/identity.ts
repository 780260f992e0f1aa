// Reading a `<domain>` document and who it is: the name and UUID that libvirt keys domains on.

import { DomainXmlError } from './errors.js';
import { firstChild, parseXml, textContent, type XmlElement } from './xml.js';

/** Parses domain XML and checks that its root is `<domain>`. */
export function parseDomain(xml: string): XmlElement {
  const root = parseXml(xml);
  if (root.name !== 'domain') throw new DomainXmlError(`the root element is <${root.name}>, not <domain>`);
  return root;
}

export interface DomainIdentity {
  name: string;
  /** null when the XML has no `<uuid>` (libvirt then generates one at define time) */
  uuid: string | null;
}

export function domainIdentity(xml: string): DomainIdentity {
  return identityOf(parseDomain(xml));
}

export function identityOf(domain: XmlElement): DomainIdentity {
  const nameEl = firstChild(domain, 'name');
  const name = nameEl === undefined ? '' : textContent(nameEl).trim();
  if (name === '') throw new DomainXmlError('the domain has no <name>');
  const uuidEl = firstChild(domain, 'uuid');
  const uuid = uuidEl === undefined ? '' : textContent(uuidEl).trim();
  return { name, uuid: uuid === '' ? null : uuid.toLowerCase() };
}

/** The domain's name for error messages, or undefined when even that cannot be read. */
export function domainNameOrUndefined(domain: XmlElement): string | undefined {
  const nameEl = firstChild(domain, 'name');
  const name = nameEl === undefined ? '' : textContent(nameEl).trim();
  return name === '' ? undefined : name;
}
