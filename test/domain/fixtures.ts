// Test helpers for the domain XML layer: the fixture domains, and libvirt's test driver as an
// independent judge of what a definition means.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DomainGetXMLDescFlags, Hypervisor } from '@unraid/libvirt';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const domainFixtureDir = join(repoRoot, 'fixtures', 'domains');
export const testDriverNodeFile = join(repoRoot, 'fixtures', 'testdriver', 'node.xml');

export const domainFixtureNames: readonly string[] = readdirSync(domainFixtureDir)
  .filter((f) => f.endsWith('.xml'))
  .sort();

export function readDomainFixture(file: string): string {
  return readFileSync(join(domainFixtureDir, file), 'utf8');
}

/** libvirt's test driver, in process. test:///default is shared by every connection of one
 * process, so each definition is read back and undefined before the next one. */
export class TestDriver {
  private constructor(private readonly hypervisor: Hypervisor) {}

  static async open(uri = 'test:///default'): Promise<TestDriver> {
    const hypervisor = new Hypervisor({ uri });
    await hypervisor.connectOpen();
    return new TestDriver(hypervisor);
  }

  /** Defines `xml`, returns libvirt's own serialisation of the persistent definition, undefines. */
  async reserialize(xml: string, name: string): Promise<string> {
    const defined = await this.hypervisor.domainDefineXML(xml);
    try {
      const domain = await this.hypervisor.domainLookupByName(name);
      return await domain.getXMLDesc(DomainGetXMLDescFlags.INACTIVE);
    } finally {
      await defined.undefine();
    }
  }

  get connection(): Hypervisor {
    return this.hypervisor;
  }

  async close(): Promise<void> {
    await this.hypervisor.connectClose();
  }
}
