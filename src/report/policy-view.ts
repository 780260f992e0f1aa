// A VM's effective policy as `plan` shows it: each setting with where it came from (the
// defaults, the fleet's policy:, a group, the VM's own policy:), as text for the change ticket
// and as JSON. URLs lose their credentials; nothing else of a policy is secret. Pure.
import { describeWindow } from '../control/windows.js';
import type { Policy, PolicyKey, PolicySources, VmSpec } from '../inventory/types.js';
import { describeCheck } from '../plan/vm-steps.js';
import { redactUrl } from '../util/url.js';
import { formatDuration, formatSpeed } from './event-lines.js';

/** The policy with every URL's user and password removed: what plan --json prints. */
export function printablePolicy(policy: Policy): Policy {
  return { ...policy, health: { ...policy.health, checks: policy.health.checks.map((c) => (c.kind === 'http' ? { ...c, url: redactUrl(c.url) } : c)) } };
}

/** "(fleet)", or "(shutdown.mode: group db; shutdown.timeout: vm)" when the keys of a line differ. */
function from(sources: PolicySources, keys: readonly PolicyKey[]): string {
  const distinct = [...new Set(keys.map((k) => sources[k]))];
  if (distinct.length === 1) return `(${distinct[0]})`;
  return `(${keys.map((k) => `${k}: ${sources[k]}`).join('; ')})`;
}

/** The lines of the `policy:` block of a VM in the text plan, indented by `indent`. */
export function renderPolicyLines(vm: Pick<VmSpec, 'policy' | 'policySources' | 'groups'>, indent = '    '): string[] {
  const p = vm.policy;
  const s = vm.policySources;
  const rows: [string, string, string][] = [];
  rows.push(['shutdown', `${p.shutdownMode === 'auto' ? 'guest agent if the domain has one, else ACPI' : p.shutdownMode === 'agent' ? 'guest agent' : 'ACPI'}, wait ${formatDuration(p.shutdownTimeoutMs)}, then ${p.onShutdownTimeout === 'force' ? 'force it off' : 'fail (the VM stays up)'}`, from(s, ['shutdown.mode', 'shutdown.timeout', 'shutdown.onTimeout'])]);
  rows.push(['resync cap', p.resyncSpeedMaxKiB === undefined ? "the kernel's default" : `${formatSpeed(p.resyncSpeedMaxKiB)} per mirror`, from(s, ['resyncSpeedMax'])]);
  rows.push(['health', `settle ${formatDuration(p.health.settleMs)}, give up after ${formatDuration(p.health.timeoutMs)}, retry every ${formatDuration(p.health.intervalMs)}`, from(s, ['health.settle', 'health.timeout', 'health.interval'])]);
  for (const gate of ['T1', 'T2'] as const) {
    const checks = p.health.checks.filter((c) => c.gates.includes(gate));
    if (checks.length > 0) rows.push([`  after ${gate}`, checks.map(describeCheck).join('; '), from(s, ['health.checks'])]);
  }
  if (p.health.command !== undefined) rows.push(['  on its host', `${p.health.command.join(' ')} exits 0`, from(s, ['health.command'])]);
  const hooks = (['beforeWindow', 'afterWindow', 'onFailure'] as const).filter((h) => p.hooks[h] !== undefined);
  if (hooks.length === 0) rows.push(['hooks', 'none', from(s, ['hooks.beforeWindow', 'hooks.afterWindow', 'hooks.onFailure'])]);
  for (const h of hooks) rows.push([`hook ${h}`, `${p.hooks[h]!.join(' ')} (timeout ${formatDuration(p.hooks.timeoutMs)})`, from(s, [`hooks.${h}`, 'hooks.timeout'])]);
  rows.push(['windows', p.windows === undefined ? 'any time' : describeWindow(p.windows), from(s, ['windows'])]);
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = [`${indent.slice(2)}policy${vm.groups.length === 0 ? '' : ` (groups: ${vm.groups.join(', ')})`}:`];
  for (const [name, value, source] of rows) lines.push(`${indent}${name.padEnd(width)}  ${value}   ${source}`);
  return lines;
}
