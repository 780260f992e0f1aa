// Which disks of a VM move, and where: from the inventory's explicit `disks` or its mapping
// rules, checked against the domain's own definition. Pure.
import { createHash } from 'node:crypto';
import { listDisks, type DomainDisk } from '../domain/index.js';
import { newVolumeFor } from '../inventory/mapping.js';
import type { MappingRule, VmSpec } from '../inventory/types.js';
import { InputErrorCode, type Problem } from '../util/errors.js';
import { isSafeDevicePath, isSafeMdName, rules } from '../util/validate.js';
import type { DiskPlan } from './types.js';

const MD_NAME_MAX = 32;

/** The md name of a disk's mirror: ss-VM-TARGET, shortened with a hash when too long. */
export function mirrorNameFor(vm: string, target: string): string {
  const plain = `ss-${vm}-${target}`;
  if (plain.length <= MD_NAME_MAX && isSafeMdName(plain)) return plain;
  const hash = createHash('sha256').update(`${vm}\0${target}`).digest('hex').slice(0, 8);
  const room = MD_NAME_MAX - `ss--${hash}-${target}`.length;
  const stem = vm.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, Math.max(1, room));
  return `ss-${stem}-${hash}-${target}`;
}

export function mirrorPathFor(vm: string, target: string): string {
  return `/dev/md/${mirrorNameFor(vm, target)}`;
}

export interface ResolvedDisks {
  disks: DiskPlan[];
  problems: Problem[];
  /** disks of the domain that stay where they are, with the reason (shown in the plan) */
  untouched: { target: string; reason: string }[];
}

function whyNotMovable(d: DomainDisk): string | undefined {
  if (d.device === 'cdrom' || d.device === 'floppy') return `a ${d.device} drive, not a disk`;
  if (d.device === 'lun') return "device='lun' passes SCSI commands through, which an md mirror cannot carry";
  if (d.type !== 'block') return `type='${d.type}' (only type='block' disks can be moved; ${d.type === 'file' ? 'file-backed' : d.type} disks are out of scope)`;
  if (d.source === null) return 'a block disk without a source dev';
  return undefined;
}

/** Resolves the disks of one VM. `vm.disks` explicit: exactly those targets, each must be a
 * movable block disk. Omitted: every movable block disk, through the mapping rules. */
export function resolveDisks(vm: VmSpec, persistent: string | readonly DomainDisk[], mapping: readonly MappingRule[]): ResolvedDisks {
  const domainDisks = typeof persistent === 'string' ? listDisks(persistent) : persistent;
  const problems: Problem[] = [];
  const disks: DiskPlan[] = [];
  const untouched: ResolvedDisks['untouched'] = [];
  const at = (target?: string) => ({ vm: vm.name, host: vm.host, ...(target === undefined ? {} : { path: ['vms', vm.index, 'disks', target] }) });

  const add = (d: DomainDisk, newPath: string, array: string | undefined) => {
    const old = d.source!;
    if (!isSafeDevicePath(old)) {
      problems.push({ code: InputErrorCode.invalidInput, message: `disk ${d.target}: its source ${JSON.stringify(old)} is not a safe device path`, hint: `sanshift only passes paths of ${rules.devicePath} to commands`, at: at(d.target) });
      return;
    }
    if (newPath === old) {
      problems.push({ code: InputErrorCode.invalidInput, message: `disk ${d.target}: the new volume is the old volume itself (${old})`, hint: 'name a different volume on the new SAN', at: at(d.target) });
      return;
    }
    disks.push({ target: d.target, old, new: newPath, mirror: mirrorPathFor(vm.name, d.target), ...(array === undefined ? {} : { array }) });
  };

  if (vm.disks !== undefined) {
    for (const [target, newPath] of Object.entries(vm.disks)) {
      const d = domainDisks.find((x) => x.target === target);
      if (d === undefined) {
        const known = domainDisks.map((x) => x.target).join(', ') || 'none';
        problems.push({ code: InputErrorCode.notFound, message: `disk target ${target} is not in the domain's definition (its disks: ${known})`, hint: 'use a target dev listed by `virsh domblklist ' + vm.name + '`', at: at(target) });
        continue;
      }
      const why = whyNotMovable(d);
      if (why !== undefined) {
        problems.push({ code: InputErrorCode.unsupported, message: `disk ${target} cannot be moved: ${why}`, hint: `remove ${target} from vms[${vm.index}].disks`, at: at(target) });
        continue;
      }
      const mapped = newVolumeFor(d.source!, mapping);
      add(d, newPath, vm.array ?? mapped?.array);
    }
    for (const d of domainDisks) if (!(d.target in vm.disks)) untouched.push({ target: d.target, reason: 'not listed in the inventory' });
  } else {
    for (const d of domainDisks) {
      const why = whyNotMovable(d);
      if (why !== undefined) {
        untouched.push({ target: d.target, reason: why });
        continue;
      }
      const mapped = newVolumeFor(d.source!, mapping);
      if (mapped === null) {
        problems.push({ code: InputErrorCode.invalidInput, message: `no mapping rule matches block disk ${d.target} (${d.source})`, hint: `add a mapping rule for it, or list the VM's disks explicitly (vms[${vm.index}].disks.${d.target}: /dev/...)`, at: at() });
        continue;
      }
      add(d, mapped.new, vm.array ?? mapped.array);
    }
  }
  const seen = new Map<string, string>();
  for (const d of disks) {
    const other = seen.get(d.new);
    if (other !== undefined) problems.push({ code: InputErrorCode.invalidInput, message: `disks ${other} and ${d.target} both move to ${d.new}`, hint: 'give each disk its own new volume', at: at(d.target) });
    seen.set(d.new, d.target);
  }
  if (disks.length === 0 && problems.length === 0) {
    const why = untouched.map((u) => `${u.target}: ${u.reason}`).join('; ') || 'it has no disks';
    problems.push({ code: InputErrorCode.unsupported, message: `nothing to move (${why})`, hint: 'remove the VM from the inventory, or give it a block disk to move', at: at() });
  }
  return { disks, problems, untouched };
}

/** A reverse migration: every block disk whose source moved since `originalXml` goes back to
 * where it was (OLD and NEW swap roles). */
export function reverseDisks(vm: VmSpec, currentXml: string, originalXml: string): ResolvedDisks {
  const before = new Map(listDisks(originalXml).map((d) => [d.target, d]));
  const disks: DiskPlan[] = [];
  const untouched: ResolvedDisks['untouched'] = [];
  for (const d of listDisks(currentXml)) {
    const was = before.get(d.target);
    if (d.type !== 'block' || d.source === null || was?.type !== 'block' || was.source === null || was.source === d.source) {
      untouched.push({ target: d.target, reason: 'not moved by its migration' });
      continue;
    }
    disks.push({ target: d.target, old: d.source, new: was.source, mirror: mirrorPathFor(vm.name, d.target) });
  }
  const problems: Problem[] =
    disks.length === 0 ? [{ code: InputErrorCode.wrongState, message: 'no disk of this VM has moved: there is nothing to reverse', at: { vm: vm.name, host: vm.host } }] : [];
  return { disks, problems, untouched };
}
