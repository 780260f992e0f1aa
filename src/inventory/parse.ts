// From inventory text to a validated Inventory, collecting every problem before throwing one
// InputError. Pure: the only file it may read (a mapping CSV) arrives through `readFile`.
import path from 'node:path';
import type * as z from 'zod';
import { InputError, InputErrorCode, type Culprit, type Problem } from '../util/errors.js';
import { isSafeDevicePath, isSafeDomainName, isSafeTargetDev, rules as safe } from '../util/validate.js';
import { mappingRuleProblem, mappingRulesFromCsv } from './mapping.js';
import { defaultPolicy, groupsLayer, mergePolicy, readPolicyLayer, type PolicyLayer, type SourcedLayer } from './policy.js';
import { inventorySchema, knownKeysAt, type RawInventory } from './schema.js';
import { closest, didYouMean } from './suggest.js';
import type { GroupSpec, HostSpec, Inventory, Limits, MappingRule, Policy, PolicySources, Rollout, ShellKind, VmSpec } from './types.js';
import { describeValue } from './units.js';
import { readYaml, type KeyPath } from './yamlSource.js';

export interface ParseOptions {
  /** reads a file the inventory refers to (mappingCsv), by absolute path; throws when it cannot */
  readFile?: (absolutePath: string) => string;
  /** whether a file exists, by absolute path: lets the parser tell an absolute test:/// URI that
   * names a missing file from one written for the old rule (relative to the inventory) */
  exists?: (absolutePath: string) => boolean;
}

export { defaultPolicy };

/** Defaults applied when the inventory leaves a limit out; docs/inventory.md lists them. */
export const defaultLimits: Limits = {
  mirrorsPerHost: 4,
  // below sshd's default MaxSessions (10): an operator's own ssh to the host still gets in
  sessionsPerHost: 8,
  downWindows: 4,
  global: 32,
  bundleMaxSize: 8,
  arrayBandwidthKiB: {},
};

/** user@host or host; never starting with '-', so it cannot be read as an ssh option. */
const SSH_DESTINATION =
  /^(?:[A-Za-z0-9_][A-Za-z0-9._-]*@)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+)$/;
const SSH_OPTION_KEY = /^[A-Za-z][A-Za-z0-9]*$/;
const SSH_OPTION_VALUE = /^[A-Za-z0-9._,:@/=+-]+$/;
/** ssh options that run a local command through a shell: refused by invariant I6. */
const SSH_OPTIONS_THAT_RUN_COMMANDS = new Set(['proxycommand', 'localcommand', 'permitlocalcommand', 'knownhostscommand']);
const LOCAL_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Parse and validate an inventory (YAML or JSON). `file` names it in messages; relative
 * paths inside it (test:/// URIs, identityFile, mappingCsv) resolve against its folder.
 * Throws InputError (exit code 2) listing every problem found.
 */
export function parseInventory(text: string, file: string, options: ParseOptions = {}): Inventory {
  const absoluteFile = path.resolve(file);
  const folder = path.dirname(absoluteFile);
  const source = readYaml(text, file);
  const lineOf = source.lineOf;
  const at = (keyPath: KeyPath, extra: Omit<Culprit, 'file' | 'path' | 'line'> = {}): Culprit => {
    const line = lineOf(keyPath);
    return { file, path: keyPath, ...(line === undefined ? {} : { line }), ...extra };
  };

  if (source.problems.length > 0) throw new InputError(source.problems);
  if (source.data === undefined || source.data === null) {
    throw InputError.one({
      code: InputErrorCode.invalidInput,
      message: 'the inventory is empty',
      hint: 'list hosts: and vms: (see docs/inventory.md for a complete example)',
      at: { file, line: 1 },
    });
  }

  const parsed = inventorySchema.safeParse(source.data, { reportInput: true });
  if (!parsed.success) throw new InputError(parsed.error.issues.flatMap((issue) => problemsFromIssue(issue, at)));

  const problems: Problem[] = [];
  const raw = parsed.data;
  const hosts = readHosts(raw, folder, options, at, problems);
  const groups = readGroups(raw, at, problems);
  const fleetLayer = readPolicyLayer(raw.policy, ['policy'], 'fleet', { folder, at, problems });
  const groupLayers = new Map(Object.entries(raw.groups ?? {}).map(([name, g]) => [name, readPolicyLayer(g?.policy ?? undefined, ['groups', name, 'policy'], 'group', { folder, at, problems })]));
  const fleet = mergePolicy([{ source: 'fleet', layer: fleetLayer }], undefined, at);
  const vms = readVms(raw, source.data, at, problems, { folder, fleetLayer, groupLayers });
  const mapping = readMapping(raw, file, folder, options, at, problems);
  const rollout = readRollout(raw, vms, groups, at, problems);
  const limits = readLimits(raw, vms, mapping, at, problems);
  if (problems.length > 0) throw new InputError(problems);

  return { file: absoluteFile, hosts, vms, mapping, policy: fleet.policy, groups, rollout, limits, lineOf };
}

type At = (keyPath: KeyPath, extra?: Omit<Culprit, 'file' | 'path' | 'line'>) => Culprit;

function invalid(problems: Problem[], message: string, hint: string, where: Culprit, code: Problem['code'] = InputErrorCode.invalidInput): void {
  problems.push({ code, message, hint, at: where });
}

// ---- zod issues as Problems ------------------------------------------------------------

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map of key: value',
  record: 'a map of key: value',
  array: 'a list',
};

function problemsFromIssue(issue: z.core.$ZodIssue, at: At): Problem[] {
  const keyPath = issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part));
  const last = keyPath[keyPath.length - 1];
  const input = (issue as { input?: unknown }).input;
  const problem = (message: string, hint: string, where = at(keyPath)): Problem => ({
    code: InputErrorCode.invalidInput,
    message,
    hint,
    at: where,
  });
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(keyPath);
      return issue.keys.map((key) => {
        const best = closest(key, known);
        return problem(
          `unknown key ${JSON.stringify(key)}${best === undefined ? '' : ` (did you mean ${JSON.stringify(best)}?)`}`,
          best === undefined ? `remove it; the keys allowed here are: ${known.join(', ')}` : `rename it to ${best}`,
          at([...keyPath, key]),
        );
      });
    }
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (input === undefined) {
        return [problem(`${JSON.stringify(String(last ?? 'inventory'))} is missing`, `add ${String(last)}: with ${expected}`)];
      }
      // a schema's own wording (an argv, a name or a list of names) says more than the type
      if (!issue.message.startsWith('Invalid input')) return [problem(`${issue.message}, got ${describeValue(input)}`, `write ${expected} here`)];
      return [problem(`expected ${expected}, got ${describeValue(input)}`, `write ${expected} here`)];
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => String(v));
      const suggestion = typeof input === 'string' ? didYouMean(input, values) : '';
      return [problem(`expected one of ${values.join(', ')}, got ${describeValue(input)}${suggestion}`, `use one of: ${values.join(', ')}`)];
    }
    case 'too_small': {
      if (issue.origin === 'string') return [problem('must not be empty', 'write a value or remove the key')];
      if (issue.origin === 'array') return [problem(`must list at least ${String(issue.minimum)} item(s)`, 'add an item or remove the key')];
      return [problem(`must be at least ${String(issue.minimum)}, got ${describeValue(input)}`, `use a number of ${String(issue.minimum)} or more`)];
    }
    case 'too_big':
      return [problem(`must be at most ${String(issue.maximum)}, got ${describeValue(input)}`, `use a number of ${String(issue.maximum)} or less`)];
    case 'custom': {
      const hint = (issue.params as { hint?: unknown } | undefined)?.hint;
      return [problem(issue.message, typeof hint === 'string' ? hint : 'fix the value')];
    }
    case 'invalid_union': {
      // a word or a map (windows: always | {...}): for a map, the map branch's own problems
      // say more than "no branch matched"
      if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
        const branch = issue.errors.find((issues) => issues.length > 0 && issues.every((i) => i.path.length > 0 || i.code === 'unrecognized_keys'));
        if (branch !== undefined) return branch.flatMap((i) => problemsFromIssue({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue, at));
      }
      const message = issue.message === 'Invalid input' ? 'this value has the wrong form' : issue.message;
      return [problem(`${message}, got ${describeValue(input)}`, 'see docs/inventory.md for the forms this key takes')];
    }
    default:
      return [problem(issue.message, 'fix the value')];
  }
}

// ---- hosts -----------------------------------------------------------------------------

/** The libvirt test-driver URI of a node file named by `testDriverNode:`, relative to the
 * inventory's folder (or absolute). A `uri:` is taken as libvirt reads it: test:///abs/node.xml
 * is the absolute path /abs/node.xml. */
export function testDriverUri(node: string, folder: string): string {
  return `test://${path.resolve(folder, node)}`;
}

/** The file of a test:///FILE URI, or undefined for any other URI and for test:///default. */
function testUriFile(uri: string): string | undefined {
  const m = /^test:\/\/(\/[^?#]*)/.exec(uri);
  return m === null || m[1] === '/default' ? undefined : m[1];
}

function readHosts(raw: RawInventory, folder: string, options: ParseOptions, at: At, problems: Problem[]): Record<string, HostSpec> {
  const hosts: Record<string, HostSpec> = {};
  for (const [name, h] of Object.entries(raw.hosts)) {
    const base = ['hosts', name];
    const where = (key?: string): Culprit => at(key === undefined ? base : [...base, key], { host: name });
    if (!isSafeDomainName(name)) {
      invalid(problems, `host name ${JSON.stringify(name)} holds characters sanshift refuses`, `rename it with ${safe.domainName}`, where());
      continue;
    }
    if (h.uri !== undefined && h.testDriverNode !== undefined) {
      invalid(problems, 'a host has uri: or testDriverNode:, not both', 'keep uri: for any libvirt URI, or testDriverNode: for a test-driver file beside the inventory', where('testDriverNode'));
      continue;
    }
    if (h.uri === undefined && h.testDriverNode === undefined) {
      invalid(problems, `host ${name} has no uri:`, 'add uri: with its libvirt URI (qemu+ssh://root@hv1/system), or testDriverNode: with a libvirt test-driver file beside the inventory', where());
      continue;
    }
    const uri = h.uri ?? testDriverUri(h.testDriverNode!, folder);
    if (h.testDriverNode !== undefined && options.exists !== undefined && !options.exists(path.resolve(folder, h.testDriverNode))) {
      invalid(problems, `the test-driver file ${path.resolve(folder, h.testDriverNode)} does not exist`, "check the path; testDriverNode: is relative to the inventory's folder", where('testDriverNode'), InputErrorCode.notFound);
      continue;
    }
    const testFile = h.uri === undefined ? undefined : testUriFile(h.uri);
    // test:///node.xml used to mean "node.xml beside the inventory"; it now means /node.xml, as
    // in libvirt: an inventory written for the old rule is refused here, not at the first connection
    if (testFile !== undefined && options.exists !== undefined && !options.exists(testFile)) {
      const beside = path.resolve(folder, testFile.slice(1));
      const moved = options.exists(beside);
      invalid(
        problems,
        `${h.uri} names the absolute path ${testFile}, which does not exist${moved ? ` (${beside} does, beside the inventory)` : ''}`,
        moved ? `write testDriverNode: ${testFile.slice(1)} instead of uri: (a test:/// URI is an absolute path, as in libvirt)` : 'write the absolute path of the node file, or testDriverNode: FILE for a file beside the inventory',
        where('uri'),
        InputErrorCode.notFound,
      );
      continue;
    }
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      invalid(problems, `${JSON.stringify(uri)} is not a libvirt URI`, 'write a URI such as qemu+ssh://root@hv1/system or qemu:///system', where(h.uri === undefined ? 'testDriverNode' : 'uri'));
      continue;
    }
    const remoteHost = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const remote = remoteHost !== '' && !LOCAL_NAMES.has(url.hostname);
    const shell: ShellKind = h.shell ?? (remote ? 'ssh' : 'local');
    if (shell === 'local' && remote) {
      invalid(
        problems,
        `shell: local would run mdadm on this machine, but the URI ${uri} points at ${remoteHost}`,
        'use shell: ssh (the default for a remote URI) so host commands run where the VM runs',
        where('shell'),
      );
    }
    const derived = remoteHost === '' ? undefined : url.username === '' ? remoteHost : `${decodeURIComponent(url.username)}@${remoteHost}`;
    const ssh = h.ssh ?? (shell === 'ssh' ? derived : undefined);
    if (ssh !== undefined && !SSH_DESTINATION.test(ssh)) {
      invalid(
        problems,
        `ssh destination ${JSON.stringify(ssh)} is not user@host`,
        h.ssh === undefined ? 'add ssh: user@host' : 'write user@host or host (letters, digits, . _ -), never starting with -',
        where(h.ssh === undefined ? 'uri' : 'ssh'),
      );
    }
    if (shell === 'ssh' && ssh === undefined) {
      invalid(
        problems,
        `shell: ssh needs a destination, and the URI ${uri} names no host`,
        'add ssh: user@host, or use shell: local for this machine',
        where(h.shell === undefined ? undefined : 'shell'),
      );
    }
    const sshTransport = /\+(ssh|libssh|libssh2)$/.test(url.protocol.replace(/:$/, ''));
    const sshPort = h.sshPort ?? (sshTransport && url.port !== '' ? Number(url.port) : undefined);
    const sshOptions = readSshOptions(h.sshOptions, base, name, at, problems);
    const spec: HostSpec = { name, uri, shell, sudo: h.sudo ?? false };
    if (ssh !== undefined) spec.ssh = ssh;
    if (sshPort !== undefined) spec.sshPort = sshPort;
    // ssh expands ~ itself; other relative paths are relative to the inventory, like every path in it
    if (h.identityFile !== undefined) spec.sshIdentityFile = h.identityFile.startsWith('~') ? h.identityFile : path.resolve(folder, h.identityFile);
    if (sshOptions !== undefined) spec.sshOptions = sshOptions;
    if (h.simulate !== undefined) {
      if (shell !== 'simulated') invalid(problems, `simulate: is for rehearsal hosts, and host ${name} is shell: ${shell}`, 'remove simulate:, or make the host a rehearsal host with shell: simulated', where('simulate'));
      else spec.simulatedLatency = { sessionMs: h.simulate.sessionLatency ?? 0, libvirtCallMs: h.simulate.libvirtLatency ?? 0 };
    }
    hosts[name] = spec;
  }
  return hosts;
}

function readSshOptions(
  options: Record<string, string | number | boolean> | undefined,
  base: KeyPath,
  host: string,
  at: At,
  problems: Problem[],
): Record<string, string> | undefined {
  if (options === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    const where = at([...base, 'sshOptions', key], { host });
    const text = typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
    if (!SSH_OPTION_KEY.test(key)) {
      invalid(problems, `${JSON.stringify(key)} is not an ssh option name`, 'use an ssh_config keyword such as ConnectTimeout', where);
    } else if (SSH_OPTIONS_THAT_RUN_COMMANDS.has(key.toLowerCase())) {
      invalid(problems, `ssh option ${key} runs a command through a shell, which sanshift refuses`, 'use ProxyJump instead of ProxyCommand, or set it in ~/.ssh/config', where);
    } else if (!SSH_OPTION_VALUE.test(text)) {
      invalid(problems, `ssh option ${key} has the value ${JSON.stringify(text)}, with characters sanshift refuses`, 'use letters, digits and . _ , : @ / = + - only', where);
    } else {
      out[key] = text;
    }
  }
  return out;
}

// ---- VMs -------------------------------------------------------------------------------

/** Key path of item j of a name list that may have been written as one string. */
function nameItemPath(base: KeyPath, j: number, written: unknown): KeyPath {
  return Array.isArray(written) ? [...base, j] : base;
}

function writtenVm(data: unknown, i: number): Record<string, unknown> {
  const vms = (data as { vms?: unknown }).vms;
  const vm = Array.isArray(vms) ? (vms[i] as unknown) : undefined;
  return typeof vm === 'object' && vm !== null ? (vm as Record<string, unknown>) : {};
}

interface PolicyInput {
  folder: string;
  fleetLayer: PolicyLayer;
  groupLayers: ReadonlyMap<string, PolicyLayer>;
}

function readVms(raw: RawInventory, data: unknown, at: At, problems: Problem[], policyInput: PolicyInput): VmSpec[] {
  const rawVms = raw.vms ?? [];
  if (rawVms.length === 0) {
    invalid(problems, 'the inventory lists no VMs', 'add VMs under vms:, each with at least name: and host:', at(raw.vms === undefined ? [] : ['vms']));
    return [];
  }
  const vms: VmSpec[] = [];
  const conflicts = new Map<string, GroupConflict>();
  const firstByName = new Map<string, number>();
  const newVolumeUser = new Map<string, { vm: string; target: string; line: number | undefined }>();
  rawVms.forEach((v, i) => {
    const base = ['vms', i] as const;
    // an unsafe name is shown quoted in the message, never bare in the culprit
    const where = (...rest: (string | number)[]): Culprit => at([...base, ...rest], isSafeDomainName(v.name) ? { vm: v.name } : {});
    if (!isSafeDomainName(v.name)) {
      invalid(problems, `VM name ${JSON.stringify(v.name)} holds characters sanshift refuses`, `use the libvirt domain name: ${safe.domainName}`, where('name'));
    }
    const first = firstByName.get(v.name);
    if (first !== undefined) {
      invalid(
        problems,
        `VM ${v.name} is declared twice (first at line ${at(['vms', first]).line ?? '?'}, vms[${first}])`,
        'keep one entry per VM: merge the two or rename one',
        where('name'),
        InputErrorCode.alreadyExists,
      );
    } else {
      firstByName.set(v.name, i);
    }
    if (!Object.hasOwn(raw.hosts, v.host)) {
      invalid(
        problems,
        `VM ${v.name} runs on host ${JSON.stringify(v.host)}, which is not under hosts${didYouMean(v.host, Object.keys(raw.hosts))}`,
        `add ${v.host} under hosts:, or name one of: ${Object.keys(raw.hosts).join(', ') || '(no hosts yet)'}`,
        where('host'),
        InputErrorCode.notFound,
      );
    }
    if (v.disks !== undefined && Object.keys(v.disks).length === 0) {
      invalid(problems, 'disks is empty', 'list target: new volume pairs, or remove disks: to move every block disk through mapping', where('disks'));
    }
    for (const [target, newVolume] of Object.entries(v.disks ?? {})) {
      if (!isSafeTargetDev(target)) {
        invalid(problems, `${JSON.stringify(target)} is not a disk target`, `use ${safe.targetDev}, as in virsh domblklist ${v.name}`, where('disks', target));
      }
      if (!isSafeDevicePath(newVolume)) {
        invalid(problems, `new volume ${JSON.stringify(newVolume)} is not a safe device path`, `write ${safe.devicePath}, e.g. /dev/mapper/new-${v.name}`, where('disks', target));
        continue;
      }
      const user = newVolumeUser.get(newVolume);
      const line = at([...base, 'disks', target]).line;
      if (user !== undefined) {
        invalid(
          problems,
          `new volume ${newVolume} is also the new volume of ${user.vm} ${user.target} (line ${user.line ?? '?'}); two disks cannot move onto one volume`,
          'give each disk its own new volume',
          where('disks', target),
          InputErrorCode.inUse,
        );
      } else {
        newVolumeUser.set(newVolume, { vm: v.name, target, line });
      }
    }
    const sizes = v.simulate?.sizes ?? {};
    for (const target of Object.keys(sizes)) {
      if (!isSafeTargetDev(target)) {
        invalid(problems, `${JSON.stringify(target)} is not a disk target`, `use ${safe.targetDev}`, where('simulate', 'sizes', target));
      }
    }
    const groups = [...new Set(v.groups ?? [])];
    const writtenGroups = writtenVm(data, i).groups;
    (v.groups ?? []).forEach((g, j) => {
      if (policyInput.groupLayers.has(g)) return;
      const declared = [...policyInput.groupLayers.keys()];
      invalid(
        problems,
        `VM ${v.name} is in group ${JSON.stringify(g)}, which is not declared under groups:${didYouMean(g, declared)}`,
        // a misspelt group would silently drop its policy (its window, its hooks)
        `fix the name, or declare it: groups: { ${g}: {} }`,
        at(nameItemPath([...base, 'groups'], j, writtenGroups), isSafeDomainName(v.name) ? { vm: v.name } : {}),
        InputErrorCode.notFound,
      );
    });
    const vmLayer = readPolicyLayer(v.policy, [...base, 'policy'], 'vm', { folder: policyInput.folder, at, problems, ...(isSafeDomainName(v.name) ? { vm: v.name } : {}) });
    const { policy, policySources } = effectivePolicyOf(v.name, v.host, i, groups, vmLayer, policyInput, at, conflicts, problems);
    const spec: VmSpec = {
      name: v.name,
      host: v.host,
      dependsOn: [...new Set(v.dependsOn ?? [])],
      antiAffinity: [...new Set(v.antiAffinity ?? [])],
      groups,
      policy,
      policySources,
      index: i,
    };
    if (v.disks !== undefined) spec.disks = { ...v.disks };
    if (v.array !== undefined) spec.array = v.array;
    if (v.simulate?.sizes !== undefined) spec.simulatedSizes = { ...sizes };
    vms.push(spec);
  });
  for (const c of conflicts.values()) {
    const more = c.vms.length - 1;
    invalid(
      problems,
      `groups ${c.first.name} and ${c.second.name} both set ${c.key}, to different values, and VM ${c.vms[0]}${more === 0 ? '' : ` (and ${more} more: ${c.vms.slice(1, 6).join(', ')}${more > 5 ? ', ...' : ''})`} is in both (${c.first.name}'s is at line ${at(c.first.path).line ?? '?'})`,
      // list order must not decide how a production VM is shut down: the operator says which wins
      `set ${c.key} in the VM's own policy: (it wins over its groups), or keep it in one of the two groups`,
      at(c.second.path, c.vms.length === 1 ? { vm: c.vms[0]! } : {}),
    );
  }

  // dependsOn: every name must be a VM of this inventory, and the graph must have no cycle
  const names = [...firstByName.keys()];
  vms.forEach((vm) => {
    const written = writtenVm(data, vm.index).dependsOn;
    (raw.vms?.[vm.index]?.dependsOn ?? []).forEach((dep, j) => {
      if (firstByName.has(dep)) return;
      invalid(
        problems,
        `VM ${vm.name} depends on ${JSON.stringify(dep)}, which is not a VM of this inventory${didYouMean(dep, names)}`,
        `fix the name, or add ${dep} under vms:`,
        at(nameItemPath(['vms', vm.index, 'dependsOn'], j, written), { vm: vm.name }),
        InputErrorCode.notFound,
      );
    });
  });
  for (const cycle of dependencyCycles(vms.filter((vm) => firstByName.get(vm.name) === vm.index))) {
    const first = vms.find((vm) => vm.name === cycle[0]);
    const index = first?.index ?? 0;
    invalid(
      problems,
      cycle.length === 2 ? `VM ${cycle[0]} depends on itself` : `dependsOn forms a cycle: ${cycle.join(' -> ')}`,
      cycle.length === 2 ? `remove ${cycle[0]} from its own dependsOn` : 'remove one of these dependencies: a VM cannot start before what it depends on and after it at once',
      at(['vms', index, 'dependsOn'], { vm: cycle[0] }),
    );
  }
  return vms;
}

interface GroupConflict {
  key: string;
  first: { name: string; path: KeyPath };
  second: { name: string; path: KeyPath };
  vms: string[];
}

/** The effective policy of one VM: defaults, fleet, its groups, its own; group conflicts collected. */
function effectivePolicyOf(
  vm: string,
  host: string,
  index: number,
  groups: readonly string[],
  vmLayer: PolicyLayer,
  input: PolicyInput,
  at: At,
  conflicts: Map<string, GroupConflict>,
  problems: Problem[],
): { policy: Policy; policySources: PolicySources } {
  const known = groups.filter((g) => input.groupLayers.has(g)).map((name) => ({ name, layer: input.groupLayers.get(name)! }));
  const fromGroups = groupsLayer(known);
  for (const c of fromGroups.conflicts) {
    // the VM's own value settles it
    if (vmLayer[c.key] !== undefined) continue;
    const id = `${c.first.name}\0${c.second.name}\0${c.key}`;
    const seen = conflicts.get(id);
    if (seen === undefined) conflicts.set(id, { ...c, vms: [vm] });
    else seen.vms.push(vm);
  }
  const layers: SourcedLayer[] = [{ source: 'fleet', layer: input.fleetLayer }, ...fromGroups.layers, { source: 'vm', layer: vmLayer }];
  const merged = mergePolicy(layers, { vm, host }, at);
  // a placeholder that goes wrong for this VM: reported once per VM, at the key that holds it
  problems.push(...merged.problems.map((p) => (p.at?.line === undefined ? { ...p, at: { ...p.at, line: at(['vms', index]).line } } : p)));
  return { policy: merged.policy, policySources: merged.sources };
}

/** Group names: the same safe set as host names (they appear in messages and on command lines). */
function readGroups(raw: RawInventory, at: At, problems: Problem[]): Record<string, GroupSpec> {
  const groups: Record<string, GroupSpec> = {};
  for (const name of Object.keys(raw.groups ?? {})) {
    const line = at(['groups', name]).line;
    if (!isSafeDomainName(name)) {
      invalid(problems, `group name ${JSON.stringify(name)} holds characters sanshift refuses`, `rename it with ${safe.domainName}`, at(['groups', name]));
      continue;
    }
    groups[name] = line === undefined ? { name } : { name, line };
  }
  return groups;
}

function readRollout(raw: RawInventory, vms: readonly VmSpec[], groups: Record<string, GroupSpec>, at: At, problems: Problem[]): Rollout {
  const r = raw.rollout ?? {};
  const rollout: Rollout = { canaryVms: [], canaryGroups: [], canaryCount: 0 };
  if (typeof r.canaries === 'number') rollout.canaryCount = r.canaries;
  else if (r.canaries !== undefined) {
    const names = new Set(vms.map((v) => v.name));
    r.canaries.forEach((item, i) => {
      const where = at(['rollout', 'canaries', i]);
      if (item.startsWith('group:')) {
        const g = item.slice('group:'.length);
        if (Object.hasOwn(groups, g)) rollout.canaryGroups.push(g);
        else invalid(problems, `canary group ${JSON.stringify(g)} is not declared under groups:${didYouMean(g, Object.keys(groups))}`, 'name a group declared under groups:', where, InputErrorCode.notFound);
      } else if (names.has(item)) rollout.canaryVms.push(item);
      else invalid(problems, `canary ${JSON.stringify(item)} is not a VM of this inventory${didYouMean(item, names)}`, 'name a VM listed under vms:, write group:NAME for a group, or give a count (canaries: 3)', where, InputErrorCode.notFound);
    });
    rollout.canaryVms = [...new Set(rollout.canaryVms)];
    rollout.canaryGroups = [...new Set(rollout.canaryGroups)];
  }
  if (r.maxFailures !== undefined) rollout.maxFailures = r.maxFailures;
  if (r.maxFailPercent !== undefined) {
    if (r.maxFailPercent >= 100) invalid(problems, 'maxFailPercent 100 would never stop the run', 'write a percentage below 100, or remove the key', at(['rollout', 'maxFailPercent']));
    rollout.maxFailPercent = r.maxFailPercent;
  }
  return rollout;
}

/**
 * Every elementary cycle found by a depth-first walk, each once, as names from its
 * smallest member back to itself: ['a', 'b', 'c', 'a'].
 */
export function dependencyCycles(vms: readonly Pick<VmSpec, 'name' | 'dependsOn'>[]): string[][] {
  const edges = new Map(vms.map((vm) => [vm.name, vm.dependsOn]));
  const state = new Map<string, 'walking' | 'done'>();
  const stack: string[] = [];
  const seen = new Set<string>();
  const cycles: string[][] = [];
  const walk = (name: string): void => {
    state.set(name, 'walking');
    stack.push(name);
    for (const next of edges.get(name) ?? []) {
      if (!edges.has(next)) continue;
      if (state.get(next) === 'walking') {
        const loop = stack.slice(stack.indexOf(next));
        const start = loop.indexOf([...loop].sort()[0] ?? next);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        const key = rotated.join('\0');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...rotated, rotated[0] ?? next]);
        }
      } else if (state.get(next) === undefined) {
        walk(next);
      }
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const vm of vms) if (state.get(vm.name) === undefined) walk(vm.name);
  return cycles;
}

// ---- mapping ---------------------------------------------------------------------------

function readMapping(raw: RawInventory, file: string, folder: string, options: ParseOptions, at: At, problems: Problem[]): MappingRule[] {
  const rules: MappingRule[] = [];
  // exact pairs from the CSV come first: an exact pair is more specific than any regex
  if (raw.mappingCsv !== undefined) {
    const csvPath = path.resolve(folder, raw.mappingCsv);
    const shownPath = path.isAbsolute(raw.mappingCsv) ? raw.mappingCsv : path.join(path.dirname(file), raw.mappingCsv);
    let text: string | undefined;
    try {
      if (options.readFile === undefined) throw new Error('no file reader was given to parseInventory');
      text = options.readFile(csvPath);
    } catch (err) {
      const reason = (err as { code?: unknown }).code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err);
      invalid(problems, `cannot read the mapping CSV ${csvPath}: ${reason}`, "check the path; a relative path is relative to the inventory's folder", at(['mappingCsv']), InputErrorCode.notFound);
    }
    if (text !== undefined) {
      const csv = mappingRulesFromCsv(text, shownPath);
      problems.push(...csv.problems);
      rules.push(...csv.rules);
    }
  }
  (raw.mapping ?? []).forEach((r, i) => {
    const problem = mappingRuleProblem(r.from, r.to);
    if (problem !== undefined) {
      invalid(problems, problem.message, problem.hint, at(['mapping', i, problem.key]));
      return;
    }
    const rule: MappingRule = { from: r.from, to: r.to, index: rules.length, at: at(['mapping', i]) };
    if (r.array !== undefined) rule.array = r.array;
    rules.push(rule);
  });
  return rules;
}

// ---- policy and limits -----------------------------------------------------------------

function readLimits(raw: RawInventory, vms: readonly VmSpec[], mapping: readonly MappingRule[], at: At, problems: Problem[]): Limits {
  const l = raw.limits ?? {};
  const arrays = new Set<string>();
  for (const vm of vms) if (vm.array !== undefined) arrays.add(vm.array);
  for (const rule of mapping) if (rule.array !== undefined) arrays.add(rule.array);
  const arrayBandwidthKiB: Record<string, number> = {};
  for (const [array, kib] of Object.entries(l.arrayBandwidth ?? {})) {
    // a misspelt array would silently leave the real one unlimited
    if (!arrays.has(array)) {
      invalid(
        problems,
        `no VM or mapping rule names the array ${JSON.stringify(array)}${didYouMean(array, arrays)}`,
        arrays.size === 0 ? 'name the array in vms[].array or mapping[].array' : `use one of: ${[...arrays].join(', ')}`,
        at(['limits', 'arrayBandwidth', array]),
        InputErrorCode.notFound,
      );
    }
    arrayBandwidthKiB[array] = kib;
  }
  const limits: Limits = {
    mirrorsPerHost: l.mirrorsPerHost ?? defaultLimits.mirrorsPerHost,
    sessionsPerHost: l.sessionsPerHost ?? defaultLimits.sessionsPerHost,
    downWindows: l.downWindows ?? defaultLimits.downWindows,
    global: l.global ?? defaultLimits.global,
    bundleMaxSize: l.bundleMaxSize ?? defaultLimits.bundleMaxSize,
    arrayBandwidthKiB,
  };
  if (l.hostBandwidth !== undefined) limits.hostBandwidthKiB = l.hostBandwidth;
  return limits;
}
