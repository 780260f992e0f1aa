// The per-VM half of planning: for each VM, its disks from the domain XML, the four
// definitions (original, recorded, on the mirrors, on NEW) and its steps. Pure code over a real
// test-driver definition (db1: two block disks), renamed for each VM; reading the definitions
// from libvirt is not part of it.
import { readFileSync } from 'node:fs';
import { disksOf, parseDomain } from '../src/domain/index.js';
import { defaultPolicy } from '../src/inventory/parse.js';
import { defaultSources } from '../src/inventory/policy.js';
import { resolveDisks } from '../src/plan/disks.js';
import { buildVmSteps, definitionsFor } from '../src/plan/vm-steps.js';

const node = readFileSync(new URL('../fixtures/testdriver/node.xml', import.meta.url), 'utf8');
const db1 = node.split('<domain ').find((d) => d.includes('<name>db1</name>'))!;
const template = `<domain ${db1.slice(0, db1.indexOf('</domain>') + '</domain>'.length)}`;
const mapping = [{ from: '^/dev/mapper/old-(.+)$', to: '/dev/mapper/new-$1', index: 0 }];

const definitions = (count: number) => Array.from({ length: count }, (_, i) => template.replace('<name>db1</name>', `<name>vm${i}</name>`));

/** Milliseconds for xml2js to parse `count` definitions, and nothing else: the floor of per-VM
 * planning, which parses each definition once. */
export function timeParses(count: number): number {
  const xmls = definitions(count);
  const t0 = performance.now();
  for (const xml of xmls) parseDomain(xml);
  return performance.now() - t0;
}

/** Milliseconds to plan `count` VMs' steps and definitions: one parse each, five documents
 * written from the tree. */
export function timeVmPlans(count: number): number {
  const xmls = definitions(count);
  const t0 = performance.now();
  xmls.forEach((xml, i) => {
    const vm = { name: `vm${i}`, host: 'hv1', dependsOn: [], antiAffinity: [], groups: [], policy: defaultPolicy, policySources: defaultSources(), index: i };
    const domain = parseDomain(xml);
    const { disks } = resolveDisks(vm, disksOf(domain), mapping);
    buildVmSteps(vm.name, disks, definitionsFor(domain, disks, 'bench'), defaultPolicy);
  });
  return performance.now() - t0;
}
