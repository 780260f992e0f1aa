// Renders a plan: human text an operator can paste into a change ticket, or JSON
// (docs/plan-json.md). Pure: returns strings.
import { createTwoFilesPatch } from 'diff';
import { canariesOf } from '../control/budget.js';
import { formatInZone, windowGate, type WindowGate } from '../control/windows.js';
import { shellJoin } from '../host/quote.js';
import type { Inventory, VmSpec } from '../inventory/types.js';
import { planBundles, type Bundle, type BundlePlan } from '../plan/bundles.js';
import { fleetVmsFromPlan, UNKNOWN_DISK_SIZE_BYTES } from '../plan/fleet-input.js';
import { DEFAULT_TIMINGS, simulateFleet } from '../plan/fleet-sim.js';
import { CheckStatus, type Plan, type Step, type VmPlan } from '../plan/types.js';
import { vmPlanDetail, vmPlanWritten } from '../plan/vm-steps.js';
import { InputError, errorMessage, formatProblem, type Problem } from '../util/errors.js';
import { printablePolicy, renderPolicyLines } from './policy-view.js';

export interface PlanViewOptions {
  /** when the run would start, for the expected windows (default: the plan's createdAt) */
  startAt?: Date;
}

/**
 * The window gate of each bundle: its members' maintenance windows, all of them (a bundle
 * goes down together, so only when every member's window is open). Bundles with the same
 * windows share one gate; a bundle without any has none.
 */
export function gatesOfBundles(inv: Pick<Inventory, 'vms'>, bundles: BundlePlan): Map<number, WindowGate> {
  const specs = new Map(inv.vms.map((v) => [v.name, v]));
  const shared = new Map<string, WindowGate>();
  const out = new Map<number, WindowGate>();
  for (const b of bundles.bundles) {
    const windows = b.vms.map((n) => specs.get(n)?.policy.windows).filter((w) => w !== undefined);
    if (windows.length === 0) continue;
    const key = [...new Set(windows.map((w) => JSON.stringify(w)))].sort().join('\n');
    let gate = shared.get(key);
    if (gate === undefined) shared.set(key, (gate = windowGate(windows)));
    out.set(b.id, gate);
  }
  return out;
}

/** The bundles that hold a canary of the VMs planned (rollout.canaries, in inventory order). */
export function canaryBundlesOf(inv: Pick<Inventory, 'vms' | 'rollout'>, bundles: BundlePlan): number[] {
  const planned = inv.vms.filter((v) => bundles.bundleOf.has(v.name));
  return [...new Set(canariesOf(inv.rollout, planned).map((vm) => bundles.bundleOf.get(vm)!))];
}

/** The zone a VM's times are shown in: its window's, else UTC. */
export const zoneOf = (vm: Pick<VmSpec, 'policy'> | undefined): string => vm?.policy.windows?.timezone ?? 'UTC';


/** One bundle as the plan shows it: who shares the windows, in which order they stop and start. */
export interface BundleView extends Bundle {
  /** when the scheduler's model expects its T1 and T2 windows to start, ms after the run starts */
  expectedT1Ms: number | null;
  expectedT2Ms: number | null;
  /** the same as ISO instants, from the start the plan assumed */
  expectedT1At: string | null;
  expectedT2At: string | null;
}

export interface BundlesSection {
  /** the instant the expected times count from (ISO) */
  startAt: string;
  bundleMaxSize: number;
  hubs: string[];
  /** in the order the model expects their T1 windows */
  bundles: BundleView[];
  /** why the windows could not be ordered (a cycle, a model that cannot move), when so */
  note?: string;
}

/**
 * The bundles of the planned VMs (planBundles over fleetVmsFromPlan), ordered by when the
 * scheduler's model expects their T1 windows; VMs already done take no window.
 */
export function bundlesOfPlan(inv: Inventory, plan: Plan, options: PlanViewOptions = {}): BundlesSection | { problems: readonly Problem[] } {
  const startAtMs = (options.startAt ?? new Date(plan.createdAt)).getTime();
  const fleet = fleetVmsFromPlan(inv, plan, { defaultSizeBytes: UNKNOWN_DISK_SIZE_BYTES });
  let bundles;
  try {
    bundles = planBundles(fleet, inv.limits);
  } catch (err) {
    if (err instanceof InputError) return { problems: err.problems };
    throw err;
  }
  const t1 = new Map<number, number>();
  const t2 = new Map<number, number>();
  let note: string | undefined;
  try {
    const gates = gatesOfBundles(inv, bundles);
    const sim = simulateFleet(fleet, inv.limits, { plan: bundles, timings: () => DEFAULT_TIMINGS, scheduler: { seed: 0, ...(inv.policy.resyncSpeedMaxKiB === undefined ? {} : { resyncSpeedMaxKiB: inv.policy.resyncSpeedMaxKiB }) }, gateOf: (b) => gates.get(b), startAtMs, canaryBundles: canaryBundlesOf(inv, bundles) });
    for (const e of sim.timeline) {
      if (e.kind !== 'window-start') continue;
      const into = e.phase === 'T1' ? t1 : t2;
      if (!into.has(e.bundle)) into.set(e.bundle, e.t);
    }
  } catch (err) {
    note = `the order of the windows is unknown: ${errorMessage(err)}`;
  }
  const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(startAtMs + ms).toISOString());
  const views: BundleView[] = bundles.bundles.map((b) => ({
    ...b,
    expectedT1Ms: t1.get(b.id) ?? null,
    expectedT2Ms: t2.get(b.id) ?? null,
    expectedT1At: iso(t1.get(b.id)),
    expectedT2At: iso(t2.get(b.id)),
  }));
  views.sort((a, b) => (a.expectedT1Ms ?? Infinity) - (b.expectedT1Ms ?? Infinity) || a.id - b.id);
  return { startAt: new Date(startAtMs).toISOString(), bundleMaxSize: inv.limits.bundleMaxSize, hubs: bundles.hubs, bundles: views, ...(note === undefined ? {} : { note }) };
}

/** h:mm after the run starts */
function offset(ms: number | null): string {
  if (ms === null) return '?';
  const m = Math.round(ms / 60_000);
  return `+${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}`;
}

/** "+2:00 (2026-11-24 22:00 Europe/Paris)": offset from the start, and the local time. */
function expected(ms: number | null, at: string | null, zone: string): string {
  return at === null ? offset(ms) : `${offset(ms)} (${formatInZone(Date.parse(at), zone)})`;
}

export function renderBundles(section: BundlesSection, inv?: Pick<Inventory, 'vms'>): string {
  const n = section.bundles.length;
  const specs = new Map((inv?.vms ?? []).map((v) => [v.name, v]));
  const lines: string[] = [];
  lines.push(`Bundles: ${n} bundle${n === 1 ? '' : 's'}; the VMs of a bundle share their two down windows (T1, T2). At most ${section.bundleMaxSize} VMs per bundle (limits.bundleMaxSize).`);
  if (section.hubs.length > 0) lines.push(`Hubs (${section.bundleMaxSize} dependents or more, a window of their own; their dependents bundle without them): ${section.hubs.join(', ')}`);
  lines.push(section.note ?? `In the order the scheduler's model expects their T1 windows, from a start at ${section.startAt} (the run decides as it goes: a bundle enters T1 when the limits and its maintenance windows allow, T2 when its own resyncs end and its windows allow).`);
  for (const b of section.bundles) {
    const zone = zoneOf(specs.get(b.vms[0]!));
    lines.push(`  bundle ${b.id}${b.hub ? ' (hub)' : ''}: ${b.vms.join(', ')}   T1 ${expected(b.expectedT1Ms, b.expectedT1At, zone)}, T2 ${expected(b.expectedT2Ms, b.expectedT2At, zone)}`);
    if (b.vms.length > 1) {
      lines.push(`      stop:  ${b.stopOrder.join(' -> ')}`);
      lines.push(`      start: ${b.startOrder.join(' -> ')}`);
    }
    if (b.externalDependencies.length > 0) lines.push(`      starts only while up: ${b.externalDependencies.join(', ')} (other bundles)`);
  }
  return lines.join('\n');
}

const statusMark: Record<CheckStatus, string> = {
  [CheckStatus.pass]: 'ok  ',
  [CheckStatus.fail]: 'FAIL',
  [CheckStatus.notChecked]: 'n/c ',
};

/** A unified diff of one definition against the original, without the file header noise. */
export function xmlDiff(vm: string, original: string, changed: string, label: string): string {
  const patch = createTwoFilesPatch(`${vm}.xml (current persistent definition)`, `${vm}.xml (${label})`, ensureNewline(original), ensureNewline(changed), undefined, undefined, { context: 2 });
  return patch
    .split('\n')
    .filter((l) => !l.startsWith('====='))
    .join('\n')
    .trimEnd();
}

function ensureNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}

const xmlLabel: Partial<Record<Step['kind'], string>> = {
  'record-migration': 'persistent definition during the migration',
  'start-on-mirror': 'one-off live definition on the mirrors',
  'define-on-new': 'persistent definition on the new volumes',
};

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : by + l))
    .join('\n');
}

export function renderVmPlan(vm: VmPlan): string {
  const lines: string[] = [];
  lines.push(`VM ${vm.name} on host ${vm.host} (${vm.uri})`);
  if (vm.disks.length > 0) {
    lines.push('  disks:');
    const w = Math.max(...vm.disks.map((d) => d.old.length));
    for (const d of vm.disks) lines.push(`    ${d.target.padEnd(5)} ${d.old.padEnd(w)}  ->  ${d.new}   (mirror ${d.mirror}${d.array === undefined ? '' : `, array ${d.array}`})`);
  }
  lines.push('  preflight:');
  for (const c of vm.preflight) lines.push(`    ${statusMark[c.status]} ${c.check}${c.target === undefined ? '' : ` [${c.target}]`}: ${c.detail}`);
  const { steps, originalXml } = vmPlanDetail(vm);
  if (steps.length > 0) {
    lines.push('  steps:');
    let phase = '';
    // the phase column as wide as its longest name ('prepare'), the commands under the summary
    const width = Math.max(...steps.map((s) => s.phase.length)) + 1;
    const under = ' '.repeat(4 + width + 4);
    steps.forEach((s, i) => {
      const tag = s.phase === phase ? ' '.repeat(width) : s.phase.padEnd(width);
      phase = s.phase;
      lines.push(`    ${tag}${String(i + 1).padStart(2)}. ${s.summary}`);
      // every command of the step's session, not only its first (a VM with two disks has two builds)
      if (s.argv !== undefined) lines.push(`${under}$ ${shellJoin(s.argv)}${s.input === undefined ? '' : `   <<< ${JSON.stringify(s.input.trimEnd())}`}`);
      for (const argv of s.more ?? []) lines.push(`${under}$ ${shellJoin(argv)}`);
      if (s.xml !== undefined) lines.push(indent(xmlDiff(vm.name, originalXml, s.xml, xmlLabel[s.kind] ?? s.kind), under));
    });
  }
  return lines.join('\n');
}

/** The plan as text, in pieces: the header, then one VM at a time, then the bundles and problems.
 * `inventory` adds each VM's effective policy and the bundles section (it holds dependsOn and
 * anti-affinity). */
export function* planTextChunks(plan: Plan, problems: readonly Problem[], inventory?: Inventory, options: PlanViewOptions = {}): Generator<string> {
  const specs = new Map((inventory?.vms ?? []).map((v) => [v.name, v]));
  const hosts = new Set(plan.vms.map((v) => v.host));
  const refused = new Set(problems.map((p) => p.at?.vm).filter((v): v is string => v !== undefined));
  yield `sanshift plan: ${plan.inventory}\n`;
  yield `${plan.vms.length} VM${plan.vms.length === 1 ? '' : 's'} on ${hosts.size} host${hosts.size === 1 ? '' : 's'}; ${plan.vms.length - refused.size} ready, ${refused.size} refused. Nothing was changed.\n`;
  yield '<mdN of /dev/md/NAME> is the kernel name md gives the mirror when it is built.\n';
  const section = inventory === undefined ? undefined : bundlesOfPlan(inventory, plan, options);
  const downAt = section !== undefined && 'bundles' in section ? expectedDownOf(section) : new Map<string, ExpectedDown>();
  for (const vm of plan.vms) {
    const out = ['', renderVmPlan(vm)];
    const spec = specs.get(vm.name);
    if (spec !== undefined) out.push(...renderPolicyLines(spec));
    const down = downAt.get(vm.name);
    if (down !== undefined) out.push(`  expected down: T1 ${down.T1 === null ? '?' : formatInZone(Date.parse(down.T1), zoneOf(spec))}, T2 ${down.T2 === null ? '?' : formatInZone(Date.parse(down.T2), zoneOf(spec))} (the scheduler's model; see Bundles below)`);
    yield `${out.join('\n')}\n`;
  }
  if (section !== undefined && 'bundles' in section) yield `\n${renderBundles(section, inventory)}\n`;
  const all = section !== undefined && 'problems' in section ? [...problems, ...section.problems] : problems;
  if (all.length > 0) {
    yield `\n${all.length} problem${all.length === 1 ? '' : 's'} (nothing will run until they are fixed):\n`;
    for (const p of all) yield `${indent(formatProblem(p), '  ')}\n`;
  }
}

/** When the model expects each VM's T1 and T2 windows to start (its bundle's), as ISO instants. */
export interface ExpectedDown {
  T1: string | null;
  T2: string | null;
}

export function expectedDownOf(section: BundlesSection): Map<string, ExpectedDown> {
  const out = new Map<string, ExpectedDown>();
  for (const b of section.bundles) for (const vm of b.vms) out.set(vm, { T1: b.expectedT1At, T2: b.expectedT2At });
  return out;
}

/** `inventory` adds each VM's `policy`, `policySources`, `groups` and `expectedDown`, and `bundles` (BundlesSection). */
export function renderPlanJson(plan: Plan, problems: readonly Problem[], inventory?: Inventory, options: PlanViewOptions = {}): string {
  return [...planJsonChunks(plan, problems, inventory, options)].join('');
}

/** The plan's JSON (docs/plan-json.md) in pieces, one VM at a time, the same text as one
 * JSON.stringify(…, null, 2) of it: 10,000 VMs' plan is about 100 MB of JSON, which a command
 * writes out as it goes instead of holding it whole. */
export function* planJsonChunks(plan: Plan, problems: readonly Problem[], inventory?: Inventory, options: PlanViewOptions = {}): Generator<string> {
  const section = inventory === undefined ? undefined : bundlesOfPlan(inventory, plan, options);
  const specs = new Map((inventory?.vms ?? []).map((v) => [v.name, v]));
  const downAt = section !== undefined && 'bundles' in section ? expectedDownOf(section) : new Map<string, ExpectedDown>();
  // each VM's steps are made as it is written, and let go with its text
  const vmJson = (planned: VmPlan) => {
    const vm = vmPlanWritten(planned, { steps: vmPlanDetail(planned).steps });
    const spec = specs.get(vm.name);
    if (spec === undefined) return vm;
    return { ...vm, groups: spec.groups, policy: printablePolicy(spec.policy), policySources: spec.policySources, ...(downAt.has(vm.name) ? { expectedDown: downAt.get(vm.name) } : {}) };
  };
  const bundles = section !== undefined && 'bundles' in section ? { bundles: section } : {};
  const all = section !== undefined && 'problems' in section ? [...problems, ...section.problems] : problems;
  // a value nested `depth` levels deep, as JSON.stringify(…, null, 2) indents it (JSON text holds
  // no raw newline inside a string, so every newline is one of the layout)
  const nested = (value: unknown, depth: number) => JSON.stringify(value, null, 2).replace(/\n/g, `\n${'  '.repeat(depth)}`);
  yield `{\n  "inventory": ${nested(plan.inventory, 1)},\n  "createdAt": ${nested(plan.createdAt, 1)},\n  "vms": [`;
  for (let i = 0; i < plan.vms.length; i++) yield `${i === 0 ? '' : ','}\n    ${nested(vmJson(plan.vms[i]!), 2)}`;
  yield plan.vms.length === 0 ? ']' : '\n  ]';
  for (const [key, value] of Object.entries({ ...bundles, problems: all })) yield `,\n  ${JSON.stringify(key)}: ${nested(value, 1)}`;
  yield '\n}\n';
}
