// Renders a plan: human text an operator can paste into a change ticket, or JSON
// (docs/plan-json.md). Pure: returns strings.
import { createTwoFilesPatch } from 'diff';
import { shellJoin } from '../host/quote.js';
import type { Inventory } from '../inventory/types.js';
import { planBundles, type Bundle } from '../plan/bundles.js';
import { fleetVmsFromPlan, UNKNOWN_DISK_SIZE_BYTES } from '../plan/fleet-input.js';
import { DEFAULT_TIMINGS, simulateFleet } from '../plan/fleet-sim.js';
import { CheckStatus, type Plan, type Step, type VmPlan } from '../plan/types.js';
import { InputError, errorMessage, formatProblem, type Problem } from '../util/errors.js';


/** One bundle as the plan shows it: who shares the windows, in which order they stop and start. */
export interface BundleView extends Bundle {
  /** when the scheduler's model expects its T1 and T2 windows to start, ms after the run starts */
  expectedT1Ms: number | null;
  expectedT2Ms: number | null;
}

export interface BundlesSection {
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
export function bundlesOfPlan(inv: Inventory, plan: Plan): BundlesSection | { problems: readonly Problem[] } {
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
    const sim = simulateFleet(fleet, inv.limits, { plan: bundles, timings: () => DEFAULT_TIMINGS, scheduler: { seed: 0, ...(inv.policy.resyncSpeedMaxKiB === undefined ? {} : { resyncSpeedMaxKiB: inv.policy.resyncSpeedMaxKiB }) } });
    for (const e of sim.timeline) {
      if (e.kind !== 'window-start') continue;
      const into = e.phase === 'T1' ? t1 : t2;
      if (!into.has(e.bundle)) into.set(e.bundle, e.t);
    }
  } catch (err) {
    note = `the order of the windows is unknown: ${errorMessage(err)}`;
  }
  const views: BundleView[] = bundles.bundles.map((b) => ({
    ...b,
    expectedT1Ms: t1.get(b.id) ?? null,
    expectedT2Ms: t2.get(b.id) ?? null,
  }));
  views.sort((a, b) => (a.expectedT1Ms ?? Infinity) - (b.expectedT1Ms ?? Infinity) || a.id - b.id);
  return { bundleMaxSize: inv.limits.bundleMaxSize, hubs: bundles.hubs, bundles: views, ...(note === undefined ? {} : { note }) };
}

/** h:mm after the run starts */
function offset(ms: number | null): string {
  if (ms === null) return '?';
  const m = Math.round(ms / 60_000);
  return `+${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}`;
}

export function renderBundles(section: BundlesSection): string {
  const n = section.bundles.length;
  const lines: string[] = [];
  lines.push(`Bundles: ${n} bundle${n === 1 ? '' : 's'}; the VMs of a bundle share their two down windows (T1, T2). At most ${section.bundleMaxSize} VMs per bundle (limits.bundleMaxSize).`);
  if (section.hubs.length > 0) lines.push(`Hubs (${section.bundleMaxSize} dependents or more, a window of their own; their dependents bundle without them): ${section.hubs.join(', ')}`);
  lines.push(section.note ?? 'In the order the scheduler\'s model expects their T1 windows (the run decides as it goes: a bundle enters T1 when the limits allow, T2 when its own resyncs end).');
  for (const b of section.bundles) {
    lines.push(`  bundle ${b.id}${b.hub ? ' (hub)' : ''}: ${b.vms.join(', ')}   T1 ${offset(b.expectedT1Ms)}, T2 ${offset(b.expectedT2Ms)}`);
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
  if (vm.steps.length > 0) {
    lines.push('  steps:');
    let phase = '';
    vm.steps.forEach((s, i) => {
      const tag = s.phase === phase ? '     ' : s.phase.padEnd(5);
      phase = s.phase;
      lines.push(`    ${tag}${String(i + 1).padStart(2)}. ${s.summary}`);
      if (s.argv !== undefined) lines.push(`             $ ${shellJoin(s.argv)}${s.input === undefined ? '' : `   <<< ${JSON.stringify(s.input.trimEnd())}`}`);
      if (s.xml !== undefined) lines.push(indent(xmlDiff(vm.name, vm.originalXml, s.xml, xmlLabel[s.kind] ?? s.kind), '             '));
    });
  }
  return lines.join('\n');
}

/** `inventory` adds the bundles section (it holds dependsOn and anti-affinity). */
export function renderPlanText(plan: Plan, problems: readonly Problem[], inventory?: Inventory): string {
  const hosts = new Set(plan.vms.map((v) => v.host));
  const refused = new Set(problems.map((p) => p.at?.vm).filter((v): v is string => v !== undefined));
  const out: string[] = [];
  out.push(`sanshift plan: ${plan.inventory}`);
  out.push(`${plan.vms.length} VM${plan.vms.length === 1 ? '' : 's'} on ${hosts.size} host${hosts.size === 1 ? '' : 's'}; ${plan.vms.length - refused.size} ready, ${refused.size} refused. Nothing was changed.`);
  out.push('<mdN of /dev/md/NAME> is the kernel name md gives the mirror when it is built.');
  for (const vm of plan.vms) out.push('', renderVmPlan(vm));
  const section = inventory === undefined ? undefined : bundlesOfPlan(inventory, plan);
  if (section !== undefined && 'bundles' in section) out.push('', renderBundles(section));
  const all = section !== undefined && 'problems' in section ? [...problems, ...section.problems] : problems;
  if (all.length > 0) {
    out.push('', `${all.length} problem${all.length === 1 ? '' : 's'} (nothing will run until they are fixed):`);
    for (const p of all) out.push(indent(formatProblem(p), '  '));
  }
  return `${out.join('\n')}\n`;
}

/** `inventory` adds `bundles` (BundlesSection). */
export function renderPlanJson(plan: Plan, problems: readonly Problem[], inventory?: Inventory): string {
  const vms = plan.vms.map(({ originalXml: _original, ...vm }) => vm);
  const section = inventory === undefined ? undefined : bundlesOfPlan(inventory, plan);
  const bundles = section !== undefined && 'bundles' in section ? { bundles: section } : {};
  const all = section !== undefined && 'problems' in section ? [...problems, ...section.problems] : problems;
  return `${JSON.stringify({ inventory: plan.inventory, createdAt: plan.createdAt, vms, ...bundles, problems: all }, null, 2)}\n`;
}
