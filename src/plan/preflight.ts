// Preflight: read-only checks of one host's VMs before anything acts (DESIGN.md, life of a VM).
// Reads through the Hypervisor and Host ports only; changes nothing. A check that needs a
// shell on the host is reported "not checked, because ..." when the shell cannot be reached.
import { listDisks, readMigrationMetadata } from '../domain/index.js';
import { gatherBlockDeviceFacts, newVolumeProblems, type HostBlockFacts } from '../host/blockdev.js';
import { judgeMirrorIdentity } from '../host/md.js';
import type { CommandRunner } from '../host/runner.js';
import type { Hypervisor } from '../hypervisor/port.js';
import { errorMessage } from '../util/errors.js';
import { CheckStatus, type DiskPlan, type PreflightCheck } from './types.js';

export interface VmUnderCheck {
  name: string;
  disks: DiskPlan[];
}

/** Block sources used by every domain of a host (live and persistent definitions). */
async function sourcesInUse(hv: Hypervisor): Promise<Map<string, Set<string>>> {
  const byPath = new Map<string, Set<string>>();
  for (const name of await hv.listDomains()) {
    const st = await hv.lookup(name);
    if (st === null) continue;
    const xmls = [await hv.inactiveXml(name)];
    if (st.id !== null) xmls.push(await hv.liveXml(name));
    for (const xml of xmls) {
      for (const d of listDisks(xml)) {
        if (d.type !== 'block' || d.source === null) continue;
        const users = byPath.get(d.source) ?? new Set<string>();
        users.add(name);
        byPath.set(d.source, users);
      }
    }
  }
  return byPath;
}

const pass = (check: string, detail: string, target?: string): PreflightCheck => ({ check, status: CheckStatus.pass, detail, ...(target === undefined ? {} : { target }) });
const fail = (check: string, detail: string, target?: string): PreflightCheck => ({ check, status: CheckStatus.fail, detail, ...(target === undefined ? {} : { target }) });
const notChecked = (check: string, detail: string, target?: string): PreflightCheck => ({ check, status: CheckStatus.notChecked, detail, ...(target === undefined ? {} : { target }) });

/**
 * Checks every VM of one host. `migrating` names VMs whose migration is already under way
 * (sanshift metadata present): their new volumes are legitimately held by their own mirrors.
 */
export async function preflightHost(
  hv: Hypervisor,
  runner: CommandRunner | { unreachable: string },
  vms: readonly VmUnderCheck[],
): Promise<Map<string, PreflightCheck[]>> {
  const out = new Map<string, PreflightCheck[]>(vms.map((v) => [v.name, []]));
  const inUse = await sourcesInUse(hv);
  const migrating = new Set<string>();
  for (const vm of vms) {
    const checks = out.get(vm.name)!;
    if (await hv.hasManagedSave(vm.name)) {
      checks.push(fail('managed save', `${vm.name} has a managed save image: its next start resumes a saved live definition, which sanshift would not control; start it (or \`virsh managedsave-remove\`) first`));
    }
    const meta = readMigrationMetadata(await hv.inactiveXml(vm.name));
    if (meta !== null) {
      migrating.add(vm.name);
      checks.push(pass('migration state', `a migration is under way (phase ${meta.phase}, run ${meta.runId}); \`sanshift run\` continues it`));
    }
    for (const d of vm.disks) {
      const users = [...(inUse.get(d.new) ?? [])].filter((u) => u !== vm.name);
      checks.push(
        users.length === 0
          ? pass('new volume unused by domains', `no domain on ${hv.host} uses ${d.new}`, d.target)
          : fail('new volume unused by domains', `${d.new} is used by domain ${users.join(', ')} on ${hv.host}`, d.target),
      );
    }
  }

  if ('unreachable' in runner) {
    for (const vm of vms) {
      out.get(vm.name)!.push(notChecked('host checks', `volume sizes, holders, mounts, md arrays and mdadm were not checked, because ${runner.unreachable}`));
    }
    return out;
  }

  let facts: HostBlockFacts;
  const paths = vms.flatMap((v) => v.disks.flatMap((d) => [d.old, d.new, d.mirror]));
  try {
    facts = await gatherBlockDeviceFacts(runner, paths);
  } catch (err) {
    for (const vm of vms) out.get(vm.name)!.push(notChecked('host checks', `not checked, because the host's shell failed: ${errorMessage(err)}`));
    return out;
  }
  for (const vm of vms) {
    const checks = out.get(vm.name)!;
    checks.push(facts.mdadm.present ? pass('mdadm', `present (${facts.mdadm.version ?? 'version unknown'})`) : fail('mdadm', `mdadm is not usable on ${hv.host}: ${facts.mdadm.detail || 'not found'}`));
    for (const d of vm.disks) {
      const oldFacts = facts.devices.get(d.old)!;
      const newFacts = facts.devices.get(d.new)!;
      const mdFacts = facts.devices.get(d.mirror)!;
      if (oldFacts.sizeBytes !== null) d.sizeBytes = oldFacts.sizeBytes;
      const identity = judgeMirrorIdentity(d.mirror, { md: mdFacts.resolved, old: oldFacts.resolved, new: newFacts.resolved }, facts.mdstat);
      checks.push(oldFacts.exists ? pass('old volume', `${d.old} is a block device of ${oldFacts.sizeBytes ?? '?'} bytes`, d.target) : fail('old volume', `${d.old} is not a block device on ${hv.host}`, d.target));
      if (identity.ours) {
        // Our own mirror already holds OLD (and NEW): a migration under way, which run resumes.
        checks.push(pass('mirror name', `${d.mirror} is already our mirror (${identity.name.state === 'active' ? identity.name.kernelName : '?'}) of ${d.old}`, d.target));
        continue;
      }
      if (identity.name.state === 'free') checks.push(pass('mirror name', `${d.mirror} is free`, d.target));
      // mdadm leaves the name behind after a stop or a failed build; a build replaces it.
      else if (identity.name.state === 'dangling') checks.push(pass('mirror name', `${d.mirror} is free (a leftover link to ${identity.name.target}, no longer an array; the build replaces it)`, d.target));
      else checks.push(fail('mirror name', `${d.mirror} is taken: ${identity.reason ?? identity.name.state}`, d.target));
      const problems = newVolumeProblems(newFacts, oldFacts);
      checks.push(
        problems.length === 0
          ? pass('new volume', `${d.new} is a free block device of ${newFacts.sizeBytes ?? '?'} bytes, not mounted, not held, in no array`, d.target)
          : fail('new volume', problems.map((p) => p.message).join('; '), d.target),
      );
    }
  }
  return out;
}
