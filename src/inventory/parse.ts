// From inventory text to a validated Inventory, collecting every problem before throwing one
// InputError. Pure: the only file it may read (a mapping CSV) arrives through `readFile`.
import path from 'node:path';
import type * as z from 'zod';
import { InputError, InputErrorCode, type Culprit, type Problem } from '../util/errors.js';
import { isSafeDevicePath, isSafeDomainName, isSafeTargetDev, rules as safe } from '../util/validate.js';
import { mappingRuleProblem, mappingRulesFromCsv } from './mapping.js';
import { inventorySchema, knownKeysAt, type RawInventory } from './schema.js';
import { closest, didYouMean } from './suggest.js';
import type { HostSpec, Inventory, Limits, MappingRule, Policy, ShellKind, VmSpec } from './types.js';
import { describeValue } from './units.js';
import { readYaml, type KeyPath } from './yamlSource.js';

export interface ParseOptions {
  /** reads a file the inventory refers to (mappingCsv), by absolute path; throws when it cannot */
  readFile?: (absolutePath: string) => string;
}

/** Defaults applied when the inventory leaves a policy out; docs/inventory.md lists them. */
export const defaultPolicy: Policy = {
  shutdownTimeoutMs: 300_000,
  onShutdownTimeout: 'fail',
  pollIntervalMs: 5_000,
  // long enough for a SAN that pauses (a controller failover), short enough that a copy stuck
  // for good does not hold a VM on its mirror for days
  resyncStallTimeoutMs: 1_800_000,
  health: { settleMs: 30_000, timeoutMs: 300_000 },
};

/** Defaults applied when the inventory leaves a limit out; docs/inventory.md lists them. */
export const defaultLimits: Limits = {
  mirrorsPerHost: 4,
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
  const hosts = readHosts(raw, folder, at, problems);
  const vms = readVms(raw, source.data, at, problems);
  const mapping = readMapping(raw, file, folder, options, at, problems);
  const policy = readPolicy(raw, at, problems);
  const limits = readLimits(raw, vms, mapping, at, problems);
  if (problems.length > 0) throw new InputError(problems);

  return { file: absoluteFile, hosts, vms, mapping, policy, limits, lineOf };
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
    default:
      return [problem(issue.message, 'fix the value')];
  }
}

// ---- hosts -----------------------------------------------------------------------------

/** test:///relative/node.xml names a file beside the inventory; test:///default stays. */
export function resolveTestUri(uri: string, folder: string): string {
  const m = /^test:\/\/(\/[^?#]*)(.*)$/.exec(uri);
  if (m === null || m[1] === '/default') return uri;
  const file = m[1] ?? '';
  // already resolved (an inventory written by sanshift itself): keep it
  if (file.startsWith(`${folder}/`)) return uri;
  return `test://${path.resolve(folder, file.slice(1))}${m[2] ?? ''}`;
}

function readHosts(raw: RawInventory, folder: string, at: At, problems: Problem[]): Record<string, HostSpec> {
  const hosts: Record<string, HostSpec> = {};
  for (const [name, h] of Object.entries(raw.hosts)) {
    const base = ['hosts', name];
    const where = (key?: string): Culprit => at(key === undefined ? base : [...base, key], { host: name });
    if (!isSafeDomainName(name)) {
      invalid(problems, `host name ${JSON.stringify(name)} holds characters sanshift refuses`, `rename it with ${safe.domainName}`, where());
      continue;
    }
    const uri = resolveTestUri(h.uri, folder);
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      invalid(problems, `${JSON.stringify(h.uri)} is not a libvirt URI`, 'write a URI such as qemu+ssh://root@hv1/system or qemu:///system', where('uri'));
      continue;
    }
    const remoteHost = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const remote = remoteHost !== '' && !LOCAL_NAMES.has(url.hostname);
    const shell: ShellKind = h.shell ?? (remote ? 'ssh' : 'local');
    if (shell === 'local' && remote) {
      invalid(
        problems,
        `shell: local would run mdadm on this machine, but the URI ${h.uri} points at ${remoteHost}`,
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
        `shell: ssh needs a destination, and the URI ${h.uri} names no host`,
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

function readVms(raw: RawInventory, data: unknown, at: At, problems: Problem[]): VmSpec[] {
  const rawVms = raw.vms ?? [];
  if (rawVms.length === 0) {
    invalid(problems, 'the inventory lists no VMs', 'add VMs under vms:, each with at least name: and host:', at(raw.vms === undefined ? [] : ['vms']));
    return [];
  }
  const vms: VmSpec[] = [];
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
    const spec: VmSpec = {
      name: v.name,
      host: v.host,
      dependsOn: [...new Set(v.dependsOn ?? [])],
      antiAffinity: [...new Set(v.antiAffinity ?? [])],
      index: i,
    };
    if (v.disks !== undefined) spec.disks = { ...v.disks };
    if (v.array !== undefined) spec.array = v.array;
    if (v.simulate?.sizes !== undefined) spec.simulatedSizes = { ...sizes };
    vms.push(spec);
  });

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

function readPolicy(raw: RawInventory, at: At, problems: Problem[]): Policy {
  const p = raw.policy ?? {};
  const positive = (value: number | undefined, keyPath: KeyPath): void => {
    if (value === 0) invalid(problems, 'must be longer than 0', 'write a duration such as 30s', at(keyPath));
  };
  positive(p.shutdownTimeout, ['policy', 'shutdownTimeout']);
  positive(p.pollInterval, ['policy', 'pollInterval']);
  positive(p.resyncStallTimeout, ['policy', 'resyncStallTimeout']);
  positive(p.health?.timeout, ['policy', 'health', 'timeout']);
  const policy: Policy = {
    shutdownTimeoutMs: p.shutdownTimeout ?? defaultPolicy.shutdownTimeoutMs,
    onShutdownTimeout: p.onShutdownTimeout ?? defaultPolicy.onShutdownTimeout,
    pollIntervalMs: p.pollInterval ?? defaultPolicy.pollIntervalMs,
    resyncStallTimeoutMs: p.resyncStallTimeout ?? defaultPolicy.resyncStallTimeoutMs,
    health: {
      settleMs: p.health?.settle ?? defaultPolicy.health.settleMs,
      timeoutMs: p.health?.timeout ?? defaultPolicy.health.timeoutMs,
    },
  };
  if (p.resyncSpeedMax !== undefined) policy.resyncSpeedMaxKiB = p.resyncSpeedMax;
  if (p.health?.command !== undefined) policy.health.command = [...p.health.command];
  return policy;
}

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
    downWindows: l.downWindows ?? defaultLimits.downWindows,
    global: l.global ?? defaultLimits.global,
    bundleMaxSize: l.bundleMaxSize ?? defaultLimits.bundleMaxSize,
    arrayBandwidthKiB,
  };
  if (l.hostBandwidth !== undefined) limits.hostBandwidthKiB = l.hostBandwidth;
  return limits;
}
