// Renders a plan: human text an operator can paste into a change ticket, or JSON
// (docs/plan-json.md). Pure: returns strings.
import { createTwoFilesPatch } from 'diff';
import { shellJoin } from '../host/quote.js';
import { CheckStatus, type Plan, type Step, type VmPlan } from '../plan/types.js';
import { formatProblem, type Problem } from '../util/errors.js';

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

export function renderPlanText(plan: Plan, problems: readonly Problem[]): string {
  const hosts = new Set(plan.vms.map((v) => v.host));
  const refused = new Set(problems.map((p) => p.at?.vm).filter((v): v is string => v !== undefined));
  const out: string[] = [];
  out.push(`sanshift plan: ${plan.inventory}`);
  out.push(`${plan.vms.length} VM${plan.vms.length === 1 ? '' : 's'} on ${hosts.size} host${hosts.size === 1 ? '' : 's'}; ${plan.vms.length - refused.size} ready, ${refused.size} refused. Nothing was changed.`);
  out.push('<mdN of /dev/md/NAME> is the kernel name md gives the mirror when it is built.');
  for (const vm of plan.vms) out.push('', renderVmPlan(vm));
  if (problems.length > 0) {
    out.push('', `${problems.length} problem${problems.length === 1 ? '' : 's'} (nothing will run until they are fixed):`);
    for (const p of problems) out.push(indent(formatProblem(p), '  '));
  }
  return `${out.join('\n')}\n`;
}

export function renderPlanJson(plan: Plan, problems: readonly Problem[]): string {
  const vms = plan.vms.map(({ originalXml: _original, ...vm }) => vm);
  return `${JSON.stringify({ inventory: plan.inventory, createdAt: plan.createdAt, vms, problems }, null, 2)}\n`;
}
