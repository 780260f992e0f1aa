// Which VMs a command acts on: names on the command line, --limit and --exclude patterns
// (name globs, group:NAME, host:NAME, comma lists), and --failed (the VMs whose last outcome in
// the journals is failed). Pure: the caller reads the journals. A pattern that matches nothing
// is refused (a typo in --exclude would otherwise migrate what the operator meant to protect).
import { InputErrorCode, type Problem } from '../util/errors.js';
import { didYouMean } from './suggest.js';
import type { Inventory } from './types.js';

export interface Selection {
  /** VM names given as arguments (exact) */
  names?: readonly string[];
  /** --limit patterns (each may be a comma list) */
  limit?: readonly string[];
  /** --exclude patterns */
  exclude?: readonly string[];
  /** --failed: the VMs whose last outcome in the journals is failed; undefined without --failed */
  failed?: ReadonlySet<string>;
}

export interface Selected {
  /** VM names in inventory order */
  vms: string[];
  /** false when nothing narrowed the selection: every VM of the inventory */
  narrowed: boolean;
  problems: Problem[];
}

const GLOB = /[*?[]/;

/** A shell-style glob (* ? [abc]) over the whole name. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) out += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        out += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** The comma-separated items of each pattern, trimmed, empty ones dropped. */
function items(patterns: readonly string[] | undefined): string[] {
  return (patterns ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '');
}

/** The VMs one pattern names, or a problem when it names none. */
function matchPattern(inv: Inventory, pattern: string, option: string): { vms: Set<string>; problem?: Problem } {
  const problem = (message: string, hint: string): { vms: Set<string>; problem: Problem } => ({ vms: new Set(), problem: { code: InputErrorCode.notFound, message, hint, at: { file: inv.file } } });
  const kind = /^(group|host):(.*)$/.exec(pattern);
  if (kind !== null) {
    const [, what, name] = kind as unknown as [string, 'group' | 'host', string];
    const known = what === 'group' ? Object.keys(inv.groups) : Object.keys(inv.hosts);
    if (!known.includes(name)) {
      return problem(`${option} ${pattern}: no ${what} ${JSON.stringify(name)} in the inventory${didYouMean(name, known)}`, `name a ${what} declared under ${what}s: (${known.slice(0, 8).join(', ') || 'none declared'}${known.length > 8 ? ', ...' : ''})`);
    }
    const vms = new Set(inv.vms.filter((v) => (what === 'group' ? v.groups.includes(name) : v.host === name)).map((v) => v.name));
    if (vms.size === 0) return problem(`${option} ${pattern}: no VM is in ${what} ${name}`, `check the VMs' ${what === 'group' ? 'groups:' : 'host:'} in the inventory`);
    return { vms };
  }
  if (GLOB.test(pattern)) {
    const re = globToRegExp(pattern);
    const vms = new Set(inv.vms.filter((v) => re.test(v.name)).map((v) => v.name));
    if (vms.size === 0) return problem(`${option} ${pattern}: the pattern matches no VM of the inventory`, 'check the pattern (* and ? match within names; group:NAME and host:NAME select by group and host)');
    return { vms };
  }
  if (!inv.vms.some((v) => v.name === pattern)) {
    // a name given as an argument needs no "VM db9:" in front of "VM db9 is not..."
    const prefix = option === '' ? '' : `${option} ${pattern}: `;
    return problem(`${prefix}VM ${pattern} is not in the inventory${didYouMean(pattern, inv.vms.map((v) => v.name))}`, 'name a VM listed under vms:, or write a pattern (web*), group:NAME or host:NAME');
  }
  return { vms: new Set([pattern]) };
}

/**
 * The VMs selected: (names and --limit, or every VM when neither is given), then only the failed
 * ones with --failed, minus --exclude. Every pattern that matches nothing, and an empty result,
 * is a problem (exit 2).
 */
export function selectVms(inv: Inventory, sel: Selection): Selected {
  const problems: Problem[] = [];
  const union = (patterns: string[], option: string): Set<string> => {
    const out = new Set<string>();
    for (const p of patterns) {
      const m = matchPattern(inv, p, option);
      if (m.problem !== undefined) problems.push(m.problem);
      for (const vm of m.vms) out.add(vm);
    }
    return out;
  };
  const names = [...new Set(sel.names ?? [])];
  const limit = items(sel.limit);
  const exclude = items(sel.exclude);
  const included = names.length + limit.length === 0 ? new Set(inv.vms.map((v) => v.name)) : new Set([...union(names, ''), ...union(limit, '--limit')]);
  const excluded = union(exclude, '--exclude');
  let vms = inv.vms.map((v) => v.name).filter((n) => included.has(n) && !excluded.has(n));
  if (sel.failed !== undefined) {
    const failed = sel.failed;
    if (failed.size === 0) {
      problems.push({ code: InputErrorCode.notFound, message: '--failed: no VM failed in the journals of this state folder', hint: 'the journals record a failure when a VM\'s migration ends failed; see sanshift status or sanshift report', at: { file: inv.file } });
    }
    vms = vms.filter((n) => failed.has(n));
  }
  const narrowed = names.length + limit.length + exclude.length > 0 || sel.failed !== undefined;
  if (problems.length === 0 && vms.length === 0) {
    const given = [...names, ...limit.map((l) => `--limit ${l}`), ...exclude.map((e) => `--exclude ${e}`), ...(sel.failed === undefined ? [] : ['--failed'])];
    problems.push({ code: InputErrorCode.notFound, message: `the selection matches no VM (${given.join(' ')})`, hint: 'each part matches VMs, but not together: check --exclude and --failed against --limit', at: { file: inv.file } });
  }
  return { vms, narrowed, problems };
}
