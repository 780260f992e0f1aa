// Preflight: read-only checks of one host's VMs before anything acts (DESIGN.md, life of a VM).
// One probe reads every volume of the host's VMs (one session); libvirt is asked for the
// domains' definitions, the transient ones and the managed saves, one listing each. A check
// that needs a shell on the host is reported "not checked, because ..." when the shell cannot
// be reached; `run` refuses such a plan unless told to accept it (--accept-unchecked).
import { listDisks, readMigrationMetadata } from '../domain/index.js';
import { judgeMirrorIdentity } from '../host/md.js';
import { deviceOf, resolvedPath, usersOf, type DeviceFacts, type HostSnapshot } from '../host/probe.js';
import type { Hypervisor } from '../hypervisor/port.js';
import { errorMessage } from '../util/errors.js';
import type { InUseIndex } from './in-use.js';
import { CheckStatus, type DiskPlan, type PreflightCheck } from './types.js';

export interface VmUnderCheck {
  name: string;
  disks: DiskPlan[];
  /** its persistent definition as the plan read it */
  persistentXml: string;
}

const pass = (check: string, detail: string, target?: string): PreflightCheck => ({ check, status: CheckStatus.pass, detail, ...(target === undefined ? {} : { target }) });
const fail = (check: string, detail: string, target?: string): PreflightCheck => ({ check, status: CheckStatus.fail, detail, ...(target === undefined ? {} : { target }) });
const notChecked = (check: string, detail: string, target?: string): PreflightCheck => ({ check, status: CheckStatus.notChecked, detail, ...(target === undefined ? {} : { target }) });

/** Pure: why NEW cannot receive OLD's copy on its host (I5 and the rest), or [] when it can. */
export function newVolumeProblems(snap: HostSnapshot, d: DiskPlan, ownArray: string | null): string[] {
  const nv = deviceOf(snap, d.new);
  if (nv === null) return [`${d.new} is not a block device on this host`];
  const old = deviceOf(snap, d.old);
  const out: string[] = [];
  if (old !== null && old.kname === nv.kname) out.push(`${d.new} is the old volume itself (${nv.kname})`);
  if (old !== null && nv.sizeBytes < old.sizeBytes) out.push(`${d.new} has ${nv.sizeBytes} bytes, fewer than the ${old.sizeBytes} of ${d.old}`);
  if (old !== null && old.logicalBlockSize !== null && nv.logicalBlockSize !== null && old.logicalBlockSize !== nv.logicalBlockSize) {
    out.push(`${d.new} has ${nv.logicalBlockSize}-byte logical sectors and ${d.old} ${old.logicalBlockSize}: a guest's file system would not read the same on both`);
  }
  // our own mirror holding NEW is a migration under way, not a user
  out.push(...usersOf(snap, nv, d.new).filter((u) => ownArray === null || !u.endsWith(`held by ${ownArray}`)));
  if (nv.partitions.length > 0) out.push(`${d.new} has partitions (${nv.partitions.join(', ')}): it holds data`);
  return out;
}

/** Pure: why OLD cannot carry a mirror: anything else holding it makes `mdadm --build` fail busy
 * (a kpartx partition map on a multipath host, an LVM volume group). */
function oldVolumeProblems(snap: HostSnapshot, d: DiskPlan, ownArray: string | null): string[] {
  const old = deviceOf(snap, d.old);
  if (old === null) return [`${d.old} is not a block device on this host`];
  const others = old.holders.filter((h) => h !== ownArray);
  return others.length === 0 ? [] : [`${d.old} is held by ${others.join(', ')} (a partition map, a volume group or another array): an md mirror cannot open it; remove the holder first (for kpartx maps: kpartx -d)`];
}

/**
 * Checks every VM of one host. VMs whose migration is under way (sanshift metadata present, or
 * our own mirror over OLD) are legitimately held by their own mirrors.
 */
export async function preflightHost(
  host: string,
  hv: Hypervisor,
  probe: (() => Promise<HostSnapshot>) | { unreachable: string },
  vms: readonly VmUnderCheck[],
  inUse: InUseIndex | undefined,
): Promise<Map<string, PreflightCheck[]>> {
  const out = new Map<string, PreflightCheck[]>(vms.map((v) => [v.name, []]));
  const [transient, saved] = await Promise.all([hv.transientDomains(), hv.managedSaveDomains()]);
  for (const vm of vms) {
    const checks = out.get(vm.name)!;
    if (saved.has(vm.name)) {
      checks.push(fail('managed save', `${vm.name} has a managed save image: its next start resumes a saved live definition, which sanshift would not control; start it (or \`virsh managedsave-remove\`) first`));
    }
    if (transient.has(vm.name)) {
      checks.push(fail('persistent domain', `${vm.name} is a transient domain (no persistent definition): its T1 shutdown would make it vanish; define it persistently first (virsh dumpxml ${vm.name} > ${vm.name}.xml; virsh define ${vm.name}.xml)`));
    }
    const meta = readMigrationMetadata(vm.persistentXml);
    if (meta !== null) checks.push(pass('migration state', `a migration is under way (phase ${meta.phase}, run ${meta.runId}); \`sanshift run\` continues it`));
    const shared = listDisks(vm.persistentXml).filter((d) => d.shareable && vm.disks.some((x) => x.target === d.target));
    for (const d of shared) {
      checks.push(fail('shareable disk', `disk ${d.target} is <shareable/>: another domain may write it around the mirror, and NEW would be cut over stale; move it by other means, or remove it from the inventory`, d.target));
    }
  }

  if ('unreachable' in probe) {
    for (const vm of vms) out.get(vm.name)!.push(notChecked('host checks', `volume sizes, sector sizes, holders, mounts, md arrays and mdadm were not checked, because ${probe.unreachable}`));
    return out;
  }

  let snap: HostSnapshot;
  try {
    snap = await probe();
  } catch (err) {
    for (const vm of vms) out.get(vm.name)!.push(notChecked('host checks', `not checked, because the host's shell failed: ${errorMessage(err)}`));
    return out;
  }
  const tools = snap.tools;
  const missingTools = tools === null ? ['mdadm', 'flock', 'blockdev'] : [...(tools.mdadm === null ? ['mdadm'] : []), ...(tools.flock ? [] : ['flock (util-linux)']), ...(tools.blockdev ? [] : ['blockdev (util-linux)'])];
  for (const vm of vms) {
    const checks = out.get(vm.name)!;
    checks.push(missingTools.length === 0 ? pass('host tools', `${tools!.mdadm}; flock and blockdev present`) : fail('host tools', `missing on ${host}: ${missingTools.join(', ')}`));
    if (!snap.mdLoaded) checks.push(fail('md driver', `/proc/mdstat is missing on ${host}: load the md driver (modprobe raid1)`));
    const newDevices = new Map<string, DeviceFacts | null>();
    for (const d of vm.disks) {
      const old = deviceOf(snap, d.old);
      const nv = deviceOf(snap, d.new);
      newDevices.set(d.new, nv);
      if (old !== null) d.sizeBytes = old.sizeBytes;
      const identity = judgeMirrorIdentity(d.mirror, { md: resolvedPath(snap, d.mirror), old: resolvedPath(snap, d.old), new: resolvedPath(snap, d.new) }, snap.mdstat);
      const ownArray = identity.ours && identity.name.state === 'active' ? identity.name.kernelName : null;
      const oldProblems = oldVolumeProblems(snap, d, ownArray);
      checks.push(oldProblems.length === 0 ? pass('old volume', `${d.old} is a block device of ${old?.sizeBytes ?? '?'} bytes${old?.logicalBlockSize == null ? '' : `, ${old.logicalBlockSize}-byte sectors`}`, d.target) : fail('old volume', oldProblems.join('; '), d.target));
      if (ownArray !== null) {
        // Our own mirror already holds OLD (and NEW): a migration under way, which run resumes.
        checks.push(pass('mirror name', `${d.mirror} is already our mirror (${ownArray}) of ${d.old}`, d.target));
      } else if (identity.name.state === 'free') checks.push(pass('mirror name', `${d.mirror} is free`, d.target));
      // mdadm leaves the name behind after a stop or a failed build; a build replaces it.
      else if (identity.name.state === 'dangling') checks.push(pass('mirror name', `${d.mirror} is free (a leftover link to ${identity.name.target}, no longer an array; the build replaces it)`, d.target));
      else checks.push(fail('mirror name', `${d.mirror} is taken: ${identity.reason ?? identity.name.state}`, d.target));
      const problems = newVolumeProblems(snap, d, ownArray);
      checks.push(
        problems.length === 0
          ? pass('new volume', `${d.new} is a free block device of ${nv?.sizeBytes ?? '?'} bytes, not mounted, not held, in no array, no partitions`, d.target)
          : fail('new volume', problems.join('; '), d.target),
      );
    }
    if (inUse === undefined) continue;
    const found = await inUse.usersOf(host, vm.name, vm.disks, newDevices);
    for (const d of vm.disks) {
      const others = found.users.filter((u) => u.startsWith(`${d.new} `));
      checks.push(others.length === 0 ? pass('new volume unused by domains', `no domain on any inventory host uses ${d.new} (compared as devices and LUN ids)`, d.target) : fail('new volume unused by domains', others.join('; '), d.target));
    }
    for (const u of found.unchecked) checks.push(notChecked('new volume unused by domains', `${u}: its domains were not compared with the new volumes`));
  }
  return out;
}
