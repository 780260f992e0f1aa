// Policy at three levels: the fleet (`policy:`), groups (`groups.NAME.policy`) and the VM
// (`vms[].policy`). Each level is read into a layer of keys it sets; a VM's effective policy is
// the defaults, then the fleet, then its groups, then its own layer: the most specific wins, key
// by key. Two groups of one VM that set one key to different values are refused, unless the VM
// sets that key itself (docs/inventory.md, "Groups and policy levels"). Pure.
import path from 'node:path';
import type * as z from 'zod';
import { InputErrorCode, type Culprit, type Problem } from '../util/errors.js';
import type { policySchema } from './schema.js';
import type {
  HealthCheckSpec,
  HealthGate,
  MaintenanceWindow,
  Policy,
  PolicyKey,
  PolicySource,
  PolicySources,
  ShutdownMode,
} from './types.js';
import { policyKeys } from './types.js';
import { checkTimeZone, parseExceptDates, parseWindowRange } from './window-text.js';
import type { KeyPath } from './yamlSource.js';

type RawPolicy = z.output<typeof policySchema>;
type At = (keyPath: KeyPath, extra?: Omit<Culprit, 'file' | 'path' | 'line'>) => Culprit;

/** Defaults applied when the inventory leaves a policy out; docs/inventory.md lists them. */
export const defaultPolicy: Policy = {
  shutdownTimeoutMs: 300_000,
  onShutdownTimeout: 'fail',
  shutdownMode: 'auto',
  pollIntervalMs: 5_000,
  // long enough for a SAN that pauses (a controller failover), short enough that a copy stuck
  // for good does not hold a VM on its mirror for days
  resyncStallTimeoutMs: 1_800_000,
  timeouts: { hostCommandMs: 120_000, libvirtCallMs: 120_000, startMs: 300_000, hostLostMs: 1_800_000, windowHoldMs: 120_000 },
  health: { settleMs: 30_000, timeoutMs: 300_000, intervalMs: 5_000, checks: [] },
  hooks: { timeoutMs: 300_000 },
};

/** How long one attempt of a built-in health check may take, unless the check says. */
export const DEFAULT_CHECK_ATTEMPT_MS = 10_000;

/** The value each policy key holds in a layer (before `{vm}` and `{host}` are replaced). */
export interface PolicyValues {
  'shutdown.mode': ShutdownMode;
  'shutdown.timeout': number;
  'shutdown.onTimeout': 'fail' | 'force';
  resyncSpeedMax: number;
  resyncStallTimeout: number;
  'timeouts.hostCommand': number;
  'timeouts.libvirtCall': number;
  'timeouts.start': number;
  'timeouts.hostLost': number;
  'timeouts.windowHold': number;
  pollInterval: number;
  'health.command': string[];
  'health.settle': number;
  'health.timeout': number;
  'health.interval': number;
  'health.checks': HealthCheckSpec[];
  'hooks.beforeWindow': string[];
  'hooks.afterWindow': string[];
  'hooks.onFailure': string[];
  'hooks.timeout': number;
  /** 'always': no window at this level, whatever a less specific level says */
  windows: MaintenanceWindow | 'always';
}
// every key of PolicyKey has a value type, and no other: a new key without one does not compile
type SameKeys = [PolicyKey] extends [keyof PolicyValues] ? ([keyof PolicyValues] extends [PolicyKey] ? true : never) : never;
const keysMatch: SameKeys = true;
void keysMatch;

export interface LayerEntry<K extends PolicyKey> {
  value: PolicyValues[K];
  /** where it was written, for messages */
  path: KeyPath;
}
export type PolicyLayer = { [K in PolicyKey]?: LayerEntry<K> };

export type PolicyLevel = 'fleet' | 'group' | 'vm';

interface LayerContext {
  folder: string;
  at: At;
  problems: Problem[];
  /** the VM whose own policy this is, for messages */
  vm?: string;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const PLACEHOLDERS = ['vm', 'host'];

function badPlaceholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((p) => !PLACEHOLDERS.includes(p));
}

/** A program path relative to the inventory's folder, like every path in it; a bare name is
 * looked up in PATH, an absolute path stays. */
function resolveProgram(argv: string[], folder: string): string[] {
  const [program, ...rest] = argv;
  if (program === undefined || !program.includes('/') || path.isAbsolute(program) || program.startsWith('{')) return argv;
  return [path.resolve(folder, program), ...rest];
}

/** Reads one level's `policy:` into the keys it sets, checking what each key means on its own. */
export function readPolicyLayer(raw: RawPolicy | undefined, base: KeyPath, level: PolicyLevel, ctx: LayerContext): PolicyLayer {
  const layer: PolicyLayer = {};
  if (raw === undefined) return layer;
  const { at, problems } = ctx;
  const extra = ctx.vm === undefined ? {} : { vm: ctx.vm };
  const where = (...rest: (string | number)[]): Culprit => at([...base, ...rest], extra);
  const problem = (message: string, hint: string, culprit: Culprit): void => void problems.push({ code: InputErrorCode.invalidInput, message, hint, at: culprit });
  const set = <K extends PolicyKey>(key: K, value: PolicyValues[K] | undefined, ...rest: (string | number)[]): void => {
    if (value !== undefined) layer[key] = { value, path: [...base, ...rest] } as unknown as PolicyLayer[K];
  };
  const positive = (value: number | undefined, ...rest: (string | number)[]): void => {
    if (value === 0) problem('must be longer than 0', 'write a duration such as 30s', where(...rest));
  };
  /** the same key written twice at one level (the old and the new spelling) */
  const once = (a: unknown, aName: string, b: unknown, bName: string, ...rest: (string | number)[]): void => {
    if (a !== undefined && b !== undefined) {
      problem(`${aName} and ${bName} are the same setting, written twice here`, `keep one of them (${bName} is the newer spelling)`, where(...rest));
    }
  };

  once(raw.shutdownTimeout, 'shutdownTimeout', raw.shutdown?.timeout, 'shutdown.timeout', 'shutdown', 'timeout');
  once(raw.onShutdownTimeout, 'onShutdownTimeout', raw.shutdown?.onTimeout, 'shutdown.onTimeout', 'shutdown', 'onTimeout');
  positive(raw.shutdownTimeout, 'shutdownTimeout');
  positive(raw.shutdown?.timeout, 'shutdown', 'timeout');
  set('shutdown.timeout', raw.shutdown?.timeout, 'shutdown', 'timeout');
  set('shutdown.timeout', raw.shutdown?.timeout === undefined ? raw.shutdownTimeout : undefined, 'shutdownTimeout');
  set('shutdown.onTimeout', raw.shutdown?.onTimeout, 'shutdown', 'onTimeout');
  set('shutdown.onTimeout', raw.shutdown?.onTimeout === undefined ? raw.onShutdownTimeout : undefined, 'onShutdownTimeout');
  set('shutdown.mode', raw.shutdown?.mode, 'shutdown', 'mode');
  set('resyncSpeedMax', raw.resyncSpeedMax, 'resyncSpeedMax');
  positive(raw.resyncStallTimeout, 'resyncStallTimeout');
  set('resyncStallTimeout', raw.resyncStallTimeout, 'resyncStallTimeout');

  if (raw.pollInterval !== undefined && level !== 'fleet') {
    problem(
      'pollInterval cannot be set per group or per VM: sanshift reads all the mirrors of a host in one go, at one interval',
      'set it under the top-level policy:',
      where('pollInterval'),
    );
  }
  positive(raw.pollInterval, 'pollInterval');
  set('pollInterval', raw.pollInterval, 'pollInterval');

  if (raw.timeouts !== undefined && level !== 'fleet') {
    problem('timeouts cannot be set per group or per VM: they are how long a host may take to answer', 'set them under the top-level policy:', where('timeouts'));
  }
  for (const k of ['hostCommand', 'libvirtCall', 'start', 'hostLost', 'windowHold'] as const) {
    positive(raw.timeouts?.[k], 'timeouts', k);
    set(`timeouts.${k}`, raw.timeouts?.[k], 'timeouts', k);
  }

  const h = raw.health;
  positive(h?.timeout, 'health', 'timeout');
  positive(h?.interval, 'health', 'interval');
  set('health.command', h?.command === undefined ? undefined : [...h.command], 'health', 'command');
  set('health.settle', h?.settle, 'health', 'settle');
  set('health.timeout', h?.timeout, 'health', 'timeout');
  set('health.interval', h?.interval, 'health', 'interval');
  if (h?.checks !== undefined) {
    const checks: HealthCheckSpec[] = [];
    h.checks.forEach((c, i) => {
      const check = readCheck(c, (...rest) => where('health', 'checks', i, ...rest), problem, ctx.folder);
      if (check !== undefined) checks.push(check);
    });
    set('health.checks', checks, 'health', 'checks');
  }

  const hooks = raw.hooks;
  positive(hooks?.timeout, 'hooks', 'timeout');
  for (const name of ['beforeWindow', 'afterWindow', 'onFailure'] as const) {
    const argv = hooks?.[name];
    if (argv === undefined) continue;
    for (const [j, a] of argv.entries()) {
      const bad = badPlaceholders(a);
      if (bad.length > 0) problem(`{${bad[0]}} is not a placeholder sanshift knows`, 'use {vm} or {host}; the environment also holds SANSHIFT_VM, SANSHIFT_HOST, SANSHIFT_PHASE, SANSHIFT_WINDOW and SANSHIFT_RUN_ID', where('hooks', name, j));
    }
    set(`hooks.${name}`, resolveProgram([...argv], ctx.folder), 'hooks', name);
  }
  set('hooks.timeout', hooks?.timeout, 'hooks', 'timeout');

  if (raw.windows !== undefined) {
    const w = raw.windows === 'always' ? 'always' : readWindows(raw.windows, (...rest) => where('windows', ...rest), problem);
    if (w !== undefined) set('windows', w, 'windows');
  }
  return layer;
}

type RawCheck = NonNullable<NonNullable<RawPolicy['health']>['checks']>[number];
type ProblemSink = (message: string, hint: string, culprit: Culprit) => void;

const CHECK_FIELDS: Record<HealthCheckSpec['kind'], { needs: (keyof RawCheck)[]; example: string }> = {
  'guest-agent': { needs: [], example: '{ kind: guest-agent }' },
  tcp: { needs: ['host', 'port'], example: "{ kind: tcp, host: '{vm}.example.net', port: 22 }" },
  http: { needs: ['url'], example: "{ kind: http, url: 'https://{vm}.example.net/health' }" },
  command: { needs: ['argv'], example: '{ kind: command, argv: [/usr/local/bin/check-app, --vm, "{vm}"] }' },
};
const OPTIONAL_FIELDS = ['kind', 'gates', 'timeout'];

function readCheck(c: RawCheck, where: (...rest: (string | number)[]) => Culprit, problem: ProblemSink, folder: string): HealthCheckSpec | undefined {
  const spec = CHECK_FIELDS[c.kind];
  let ok = true;
  for (const key of spec.needs) {
    if (c[key] === undefined) {
      problem(`a ${c.kind} check needs ${String(key)}:`, `write it as ${spec.example}`, where());
      ok = false;
    }
  }
  for (const key of Object.keys(c)) {
    if (c[key as keyof RawCheck] !== undefined && !OPTIONAL_FIELDS.includes(key) && !spec.needs.includes(key as keyof RawCheck)) {
      problem(`${key}: means nothing to a ${c.kind} check`, `remove it; a ${c.kind} check is written ${spec.example}`, where(key));
      ok = false;
    }
  }
  if (c.timeout === 0) {
    problem('must be longer than 0', 'write a duration such as 10s', where('timeout'));
    ok = false;
  }
  for (const [key, text] of [['host', c.host], ['url', c.url], ...(c.argv ?? []).map((a, j) => [j, a] as const)] as const) {
    if (typeof text !== 'string') continue;
    const bad = badPlaceholders(text);
    if (bad.length > 0) {
      problem(`{${bad[0]}} is not a placeholder sanshift knows`, 'use {vm} (the VM\'s name) or {host} (its host\'s name in the inventory)', typeof key === 'number' ? where('argv', key) : where(key));
      ok = false;
    }
  }
  // a trial with a plain name catches a URL that can never parse, at the line that wrote it
  if (c.url !== undefined && urlProblem(fillPlaceholders(c.url, { vm: 'vm', host: 'host' })) !== undefined) {
    problem(`${JSON.stringify(c.url)} is not an http or https URL`, "write it as https://{vm}.example.net/health", where('url'));
    ok = false;
  }
  if (!ok) return undefined;
  const common = { gates: [...new Set(c.gates ?? (['T1', 'T2'] as HealthGate[]))].sort() as HealthGate[], attemptTimeoutMs: c.timeout ?? DEFAULT_CHECK_ATTEMPT_MS };
  switch (c.kind) {
    case 'guest-agent':
      return { kind: 'guest-agent', ...common };
    case 'tcp':
      return { kind: 'tcp', host: c.host!, port: c.port!, ...common };
    case 'http':
      return { kind: 'http', url: c.url!, ...common };
    case 'command':
      return { kind: 'command', argv: resolveProgram([...c.argv!], folder), ...common };
  }
}

type RawWindows = Exclude<NonNullable<RawPolicy['windows']>, 'always'>;

function readWindows(w: RawWindows, where: (...rest: (string | number)[]) => Culprit, problem: ProblemSink): MaintenanceWindow | undefined {
  let ok = true;
  const zone = checkTimeZone(w.timezone);
  if (!zone.ok) {
    problem(zone.message, zone.hint, where('timezone'));
    ok = false;
  }
  const allow = w.allow.flatMap((text, i) => {
    const r = parseWindowRange(text);
    if (r.ok) return [r.value];
    problem(r.message, r.hint, where('allow', i));
    ok = false;
    return [];
  });
  const except = new Set<string>();
  (w.except ?? []).forEach((text, i) => {
    const d = parseExceptDates(text);
    if (d.ok) for (const day of d.value) except.add(day);
    else {
      problem(d.message, d.hint, where('except', i));
      ok = false;
    }
  });
  const marginMs = w.margin ?? 0;
  for (const r of allow) {
    const length = ((r.endMin - r.startMin + 1440) % 1440 || 1440) * 60_000;
    if (marginMs >= length) {
      problem(`margin ${marginMs / 60_000} min leaves nothing of ${JSON.stringify(r.text)}: no window could ever start in it`, 'make the margin shorter than the shortest allowed range', where('margin'));
      ok = false;
      break;
    }
  }
  return ok ? { timezone: w.timezone, allow, except: [...except].sort(), marginMs } : undefined;
}

// ---- placeholders ----------------------------------------------------------------------

export function fillPlaceholders(text: string, subject: { vm: string; host: string }): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => (name === 'vm' ? subject.vm : name === 'host' ? subject.host : whole));
}

/** Why `url` is not a URL sanshift can GET, or undefined. */
function urlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL';
  }
  return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : `${u.protocol} is not http: or https:`;
}

/** A host name or address a TCP check may connect to: DNS letters, or an IP address. */
const TCP_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[?[0-9A-Fa-f:.]+\]?)$/;

// ---- merging ---------------------------------------------------------------------------

/** Every key from the defaults (a VM built outside an inventory: tests, benchmarks). */
export function defaultSources(): PolicySources {
  return Object.fromEntries(policyKeys.map((k) => [k, 'default'])) as PolicySources;
}

export interface SourcedLayer {
  source: PolicySource;
  layer: PolicyLayer;
}

export interface EffectivePolicy {
  policy: Policy;
  sources: PolicySources;
  problems: Problem[];
}

/**
 * The policy of `layers`, least specific first: each key from the last layer that sets it.
 * With `subject`, {vm} and {host} are replaced in health checks and hooks, and what they
 * become is checked (a tcp host, a URL).
 */
export function mergePolicy(layers: readonly SourcedLayer[], subject: { vm: string; host: string } | undefined, at: At): EffectivePolicy {
  const problems: Problem[] = [];
  const sources = defaultSources();
  const merged: PolicyLayer = {};
  for (const { source, layer } of layers) {
    for (const key of policyKeys) {
      const entry = layer[key];
      if (entry === undefined) continue;
      (merged as Record<string, unknown>)[key] = entry;
      sources[key] = source;
    }
  }
  const value = <K extends PolicyKey>(key: K): PolicyValues[K] | undefined => merged[key]?.value as PolicyValues[K] | undefined;
  const fill = (text: string): string => (subject === undefined ? text : fillPlaceholders(text, subject));
  const culprit = (key: PolicyKey, ...rest: (string | number)[]): Culprit => at([...(merged[key]?.path ?? []), ...rest], subject === undefined ? {} : { vm: subject.vm });

  const checks = (value('health.checks') ?? defaultPolicy.health.checks).map((c, i): HealthCheckSpec => {
    switch (c.kind) {
      case 'tcp': {
        const host = fill(c.host);
        if (subject !== undefined && !TCP_HOST.test(host)) {
          problems.push({ code: InputErrorCode.invalidInput, message: `the tcp check's host becomes ${JSON.stringify(host)} for VM ${subject.vm}, which is not a host name or address`, hint: 'write a host name such as {vm}.example.net, or an IP address', at: culprit('health.checks', i, 'host') });
        }
        return { ...c, host };
      }
      case 'http': {
        const url = fill(c.url);
        const why = subject === undefined ? undefined : urlProblem(url);
        if (why !== undefined) problems.push({ code: InputErrorCode.invalidInput, message: `the http check's url becomes ${JSON.stringify(url)} for VM ${subject!.vm}: ${why}`, hint: 'write it as https://{vm}.example.net/health', at: culprit('health.checks', i, 'url') });
        return { ...c, url };
      }
      case 'command':
        return { ...c, argv: c.argv.map(fill) };
      default:
        return { ...c };
    }
  });

  const policy: Policy = {
    shutdownTimeoutMs: value('shutdown.timeout') ?? defaultPolicy.shutdownTimeoutMs,
    onShutdownTimeout: value('shutdown.onTimeout') ?? defaultPolicy.onShutdownTimeout,
    shutdownMode: value('shutdown.mode') ?? defaultPolicy.shutdownMode,
    pollIntervalMs: value('pollInterval') ?? defaultPolicy.pollIntervalMs,
    resyncStallTimeoutMs: value('resyncStallTimeout') ?? defaultPolicy.resyncStallTimeoutMs,
    timeouts: {
      hostCommandMs: value('timeouts.hostCommand') ?? defaultPolicy.timeouts.hostCommandMs,
      libvirtCallMs: value('timeouts.libvirtCall') ?? defaultPolicy.timeouts.libvirtCallMs,
      startMs: value('timeouts.start') ?? defaultPolicy.timeouts.startMs,
      hostLostMs: value('timeouts.hostLost') ?? defaultPolicy.timeouts.hostLostMs,
      windowHoldMs: value('timeouts.windowHold') ?? defaultPolicy.timeouts.windowHoldMs,
    },
    health: {
      settleMs: value('health.settle') ?? defaultPolicy.health.settleMs,
      timeoutMs: value('health.timeout') ?? defaultPolicy.health.timeoutMs,
      intervalMs: value('health.interval') ?? defaultPolicy.health.intervalMs,
      checks,
    },
    hooks: { timeoutMs: value('hooks.timeout') ?? defaultPolicy.hooks.timeoutMs },
  };
  const speed = value('resyncSpeedMax');
  if (speed !== undefined) policy.resyncSpeedMaxKiB = speed;
  const command = value('health.command');
  if (command !== undefined) policy.health.command = [...command];
  for (const name of ['beforeWindow', 'afterWindow', 'onFailure'] as const) {
    const argv = value(`hooks.${name}`);
    // an empty list at a more specific level means: no hook here
    if (argv !== undefined && argv.length > 0) policy.hooks[name] = argv.map(fill);
  }
  const windows = value('windows');
  if (windows !== undefined && windows !== 'always') policy.windows = windows;
  return { policy, sources, problems };
}

/** Two layers' values of one key, compared as the inventory wrote them (before placeholders). */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The layer of a VM's groups together: each key from the group that sets it. `conflicts` lists
 * each key two of them set differently (the caller refuses it unless the VM sets it itself).
 */
export function groupsLayer(groups: readonly { name: string; layer: PolicyLayer }[]): {
  layers: SourcedLayer[];
  conflicts: { key: PolicyKey; first: { name: string; path: KeyPath }; second: { name: string; path: KeyPath } }[];
} {
  const conflicts: { key: PolicyKey; first: { name: string; path: KeyPath }; second: { name: string; path: KeyPath } }[] = [];
  const owner = new Map<PolicyKey, { name: string; value: unknown; path: KeyPath }>();
  const layers: SourcedLayer[] = [];
  for (const g of groups) {
    const own: PolicyLayer = {};
    for (const key of policyKeys) {
      const entry = g.layer[key];
      if (entry === undefined) continue;
      const first = owner.get(key);
      if (first === undefined) {
        owner.set(key, { name: g.name, value: entry.value, path: entry.path });
        (own as Record<string, unknown>)[key] = entry;
      } else if (!sameValue(first.value, entry.value)) {
        conflicts.push({ key, first: { name: first.name, path: first.path }, second: { name: g.name, path: entry.path } });
      }
    }
    layers.push({ source: `group ${g.name}`, layer: own });
  }
  return { layers, conflicts };
}
