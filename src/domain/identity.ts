// Reading a `<domain>` document and who it is: the name and UUID that libvirt keys domains on.

import { DomainXmlError } from './errors.js';
import { childElements, firstChild, parseXml, textContent, type XmlElement } from './xml.js';

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

/** The name of the virtio channel that carries the QEMU guest agent. */
export const GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0';

/** The domain has a guest-agent channel (`<channel><target type='virtio'
 * name='org.qemu.guest_agent.0'/></channel>` under `<devices>`). */
export function hasGuestAgentChannel(xml: string): boolean {
  const devices = firstChild(parseDomain(xml), 'devices');
  if (devices === undefined) return false;
  return childElements(devices, 'channel').some((c) => {
    const target = firstChild(c, 'target');
    return target?.attributes['type'] === 'virtio' && target.attributes['name'] === GUEST_AGENT_CHANNEL;
  });
}
