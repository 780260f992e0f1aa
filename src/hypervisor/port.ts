// The Hypervisor port: everything sanshift asks of libvirt, one instance per host URI.
// The libvirt adapter implements it over @unraid/libvirt; tests may wrap it to inject faults.

export const DomainRunState = {
  running: 'running',
  blocked: 'blocked',
  paused: 'paused',
  shuttingDown: 'shutting-down',
  shutoff: 'shutoff',
  crashed: 'crashed',
  pmsuspended: 'pmsuspended',
  unknown: 'unknown',
} as const;
export type DomainRunState = (typeof DomainRunState)[keyof typeof DomainRunState];

export interface DomainStatus {
  name: string;
  uuid: string;
  state: DomainRunState;
  /** the libvirt domain id while the domain runs; it changes at every start */
  id: number | null;
}

export type ShutdownRequest = 'acpi' | 'agent';

export interface XmlOptions {
  /** VIR_DOMAIN_XML_SECURE: include secrets (a console password). Read a definition this way
   * whenever it is written back, or the define drops them; never print what it returns. */
  secure?: boolean;
}

export interface Hypervisor {
  readonly host: string;
  readonly uri: string;
  listDomains(): Promise<string[]>;
  /** every domain's name and id (null when not running), in one call */
  roster(): Promise<Map<string, number | null>>;
  /** names of the transient domains (no persistent definition: a shutdown makes them vanish) */
  transientDomains(): Promise<Set<string>>;
  /** null when no domain of that name exists */
  lookup(name: string): Promise<DomainStatus | null>;
  /** live definition while running, else the persistent one */
  liveXml(name: string): Promise<string>;
  /** the persistent definition (what the next boot uses) */
  inactiveXml(name: string, options?: XmlOptions): Promise<string>;
  /** a managed save image exists: the next start resumes it, with the live definition it was saved with */
  hasManagedSave(name: string): Promise<boolean>;
  /** every domain with a managed save image, in one call */
  managedSaveDomains(): Promise<Set<string>>;
  /** ask the guest to power off; returns at once. No mode: libvirt's own choice (the guest
   * agent when the domain has one connected, the ACPI power button otherwise); `acpi` or
   * `agent`: that way only (VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN, VIR_DOMAIN_SHUTDOWN_GUEST_AGENT) */
  shutdown(name: string, mode?: ShutdownRequest): Promise<void>;
  /** the QEMU guest agent of a running domain answers guest-ping; throws why it does not */
  agentPing(name: string): Promise<boolean>;
  /** pull the plug */
  destroy(name: string): Promise<void>;
  /** replace the persistent definition; a running domain keeps its live one */
  define(xml: string): Promise<void>;
  /** boot the persistent definition; resolves with the new domain id */
  start(name: string): Promise<number | null>;
  /** boot a one-off live definition; for a persistent domain (same name and UUID) libvirt
   * keeps the persistent definition untouched. Resolves with the new domain id. */
  startWithLiveXml(xml: string): Promise<number | null>;
  close(): Promise<void>;
}
