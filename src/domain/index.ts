// The domain XML layer: parse and build, disks and their sources, sanshift's metadata, comparison.
export { parseXml, buildXml, cloneElement, type XmlElement, type XmlText, type XmlNode } from './xml.js';
export { parseDomain, domainIdentity, hasGuestAgentChannel, GUEST_AGENT_CHANNEL, type DomainIdentity } from './identity.js';
export { listDisks, disksOf, blockDiskSources, rewriteDiskSources, setDiskSources, DiskDevice, DiskType, type DomainDisk } from './disks.js';
export {
  readMigrationMetadata,
  writeMigrationMetadata,
  removeMigrationMetadata,
  setMigrationRecord,
  dropMigrationRecord,
  MIGRATION_NAMESPACE,
  MIGRATION_PREFIX,
  type MigrationMetadata,
  type MigrationDiskRecord,
} from './metadata.js';
export { changedParts, normalizeForCompare, sameDefinition, type CompareOptions } from './compare.js';
export { DomainXmlError, DiskTargetError, DiskTargetProblem, type DiskTargetFault } from './errors.js';
