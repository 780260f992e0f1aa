// `sanshift discover`, the pure part: from the domains read on each host and the mapping the
// operator gave, the text of an inventory, with a comment on everything left out and why.
// cli/discover.ts reads the hosts and writes the file.
import { stringify } from 'yaml';
import { listDisks, type DomainDisk } from '../domain/index.js';
import { errorMessage } from '../util/errors.js';
import { isSafeDevicePath, isSafeDomainName } from '../util/validate.js';
import { newVolumeFor } from './mapping.js';
import type { MappingRule, ShellKind } from './types.js';

export interface DiscoveredDomain {
  name: string;
  /** the persistent definition */
  xml: string;
  running: boolean;
}

export interface DiscoveredHost {
  name: string;
  /** the URI as it is written in the inventory */
  uri: string;
  /** a libvirt test-driver file, written as testDriverNode: (relative to the inventory) instead of uri: */
  testDriverNode?: string;
  shell?: ShellKind;
  domains: DiscoveredDomain[];
  /** why the host could not be read, when it could not */
  error?: string;
}

export interface DiscoverInput {
  hosts: DiscoveredHost[];
  /** regex rules from --map, written to the inventory's `mapping` */
  rules: Pick<MappingRule, 'from' | 'to'>[];
  /** a CSV of exact pairs: its path as written in the inventory, and its rules */
  csv?: { file: string; rules: MappingRule[] };
  /** a comment line saying how the file was made */
  header: string;
}

export interface SkippedItem {
  host: string;
  vm: string;
  /** the disk, when one disk is left out rather than the whole VM */
  target?: string;
  reason: string;
}

export interface DiscoveryResult {
  text: string;
  vms: string[];
  skipped: SkippedItem[];
}

/** Why a disk stays where it is, or undefined when sanshift can move it. */
export function diskSkipReason(d: DomainDisk): string | undefined {
  if (d.device === 'cdrom' || d.device === 'floppy') return `${d.device}, not a disk`;
  if (d.device === 'lun') return "device='lun' (SCSI passthrough) cannot sit on an md mirror";
  if (d.type !== 'block') return `type='${d.type}' disk (only block disks move)`;
  if (d.source === null) return 'block disk without a source dev';
  if (!isSafeDevicePath(d.source)) return `source ${JSON.stringify(d.source)} is not a plain /dev path`;
  return undefined;
}

const scalar = (v: string): string => stringify(v).trimEnd();

function describeDisk(d: DomainDisk): string {
  return `${d.target} ${d.source ?? '(empty)'}`;
}

/** Pure: the inventory text for what was found. Every VM it lists plans as written; the rest
 * is in comments, with the reason. */
export function discoverInventory(input: DiscoverInput): DiscoveryResult {
  const rules: MappingRule[] = [...(input.csv?.rules ?? []), ...input.rules.map((r, i) => ({ from: r.from, to: r.to, index: i }))];
  const skipped: SkippedItem[] = [];
  const vmLines: string[] = [];
  const vms: string[] = [];
  for (const host of input.hosts) {
    if (host.error !== undefined) {
      skipped.push({ host: host.name, vm: '*', reason: `host not read: ${host.error}` });
      vmLines.push(`  # host ${host.name}: not read (${host.error})`);
      continue;
    }
    for (const dom of [...host.domains].sort((a, b) => a.name.localeCompare(b.name))) {
      const skip = (reason: string, target?: string) => skipped.push({ host: host.name, vm: dom.name, reason, ...(target === undefined ? {} : { target }) });
      if (!isSafeDomainName(dom.name)) {
        skip('its name is not one sanshift passes to commands');
        vmLines.push(`  # ${JSON.stringify(dom.name)} on ${host.name}: skipped, its name has characters sanshift does not pass to commands`);
        continue;
      }
      let disks: DomainDisk[];
      try {
        disks = listDisks(dom.xml);
      } catch (err) {
        skip(`its definition could not be read: ${errorMessage(err)}`);
        vmLines.push(`  # ${dom.name} on ${host.name}: skipped, its definition could not be read (${errorMessage(err)})`);
        continue;
      }
      const notes: string[] = [];
      const moves: string[] = [];
      const unmapped: string[] = [];
      for (const d of disks) {
        const why = diskSkipReason(d);
        if (why !== undefined) {
          notes.push(`${describeDisk(d)}: stays (${why})`);
          skip(why, d.target);
          continue;
        }
        let mapped: string | null;
        try {
          mapped = newVolumeFor(d.source!, rules)?.new ?? null;
        } catch (err) {
          mapped = null;
          notes.push(`${describeDisk(d)}: ${errorMessage(err)}`);
        }
        if (mapped === null || mapped === d.source) {
          unmapped.push(d.target);
          notes.push(`${describeDisk(d)}: NO MAPPING (no rule or CSV row gives its new volume)`);
          skip('no mapping rule or CSV row matches its source', d.target);
        } else moves.push(`${describeDisk(d)} -> ${mapped}`);
      }
      const state = dom.running ? 'running' : 'shut off';
      if (moves.length === 0) {
        const reason = disks.length === 0 ? 'no disks' : unmapped.length > 0 ? 'its block disks have no mapping' : 'no block disk to move';
        if (unmapped.length === 0) skip(reason);
        vmLines.push(`  # ${dom.name} on ${host.name} (${state}): skipped, ${reason}`);
        for (const n of notes) vmLines.push(`  #   ${n}`);
        continue;
      }
      if (unmapped.length > 0) {
        // Half a VM moved is not a migration: leave it to the operator, commented out.
        vmLines.push(`  # ${dom.name} on ${host.name} (${state}): commented out, ${unmapped.join(', ')} ${unmapped.length === 1 ? 'has' : 'have'} no mapping; add a rule or CSV row, then uncomment`);
        for (const n of [...moves, ...notes]) vmLines.push(`  #   ${n}`);
        vmLines.push(`  # - name: ${scalar(dom.name)}`, `  #   host: ${scalar(host.name)}`);
        continue;
      }
      vms.push(dom.name);
      vmLines.push(`  - name: ${scalar(dom.name)}            # ${state}`);
      vmLines.push(`    host: ${scalar(host.name)}`);
      for (const n of [...moves, ...notes]) vmLines.push(`    #   ${n}`);
      vmLines.push(`    # dependsOn: []              # VMs that must be migrated first`);
    }
  }

  const out: string[] = [];
  out.push(`# ${input.header}`, '# Review it: remove the VMs not to move now, add dependsOn and antiAffinity, then:', '#   sanshift plan -i THIS_FILE', '# docs/inventory.md describes every key.');
  out.push('hosts:');
  for (const h of input.hosts) {
    out.push(`  ${scalar(h.name)}:`, h.testDriverNode === undefined ? `    uri: ${scalar(h.uri)}` : `    testDriverNode: ${scalar(h.testDriverNode)}   # libvirt test-driver file, relative to this inventory`);
    if (h.shell !== undefined) out.push(`    shell: ${h.shell}`);
  }
  out.push('');
  out.push(vms.length === 0 ? 'vms:                             # nothing found to migrate: see the comments below' : 'vms:');
  out.push(...vmLines);
  if (vms.length === 0) out.push('  []');
  if (input.rules.length > 0) {
    out.push('', 'mapping:');
    for (const r of input.rules) out.push(`  - from: ${scalar(r.from)}`, `    to: ${scalar(r.to)}`);
  }
  if (input.csv !== undefined) out.push('', `mappingCsv: ${scalar(input.csv.file)}   # exact old,new[,array] pairs; they win over the rules`);
  out.push('', 'policy:', '  shutdownTimeout: 120s             # graceful shutdown, then onShutdownTimeout', '  onShutdownTimeout: fail          # fail: leave the VM running; force: pull the plug', '');
  return { text: out.join('\n'), vms, skipped };
}

/** `REGEX=REPLACEMENT` from --map: split at the last '=' (a new volume path has none). */
export function parseMapOption(text: string): { from: string; to: string } | null {
  const i = text.lastIndexOf('=');
  if (i <= 0 || i === text.length - 1) return null;
  return { from: text.slice(0, i), to: text.slice(i + 1) };
}

/** `NAME=URI` from --host. */
export function parseHostOption(text: string): { name: string; uri: string } | null {
  const i = text.indexOf('=');
  if (i <= 0 || i === text.length - 1) return null;
  return { name: text.slice(0, i), uri: text.slice(i + 1) };
}
