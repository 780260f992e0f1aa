// Mapping rules turn an old volume's path into its new volume's path: `from` is a regular
// expression over the old path, `to` is the new path with $1... groups. First match wins.
// Pure: the CSV text arrives as a string (load.ts reads files).
import { InputError, InputErrorCode, type Culprit, type Problem } from '../util/errors.js';
import { isSafeDevicePath, rules as validateRules } from '../util/validate.js';
import type { MappingRule, VmSpec } from './types.js';

export interface MappedVolume {
  /** the new volume's path, checked with isSafeDevicePath */
  new: string;
  /** the storage array the rule names, if any */
  array?: string;
  /** the rule that matched */
  rule: MappingRule;
}

const compiled = new WeakMap<MappingRule, RegExp>();

function regexOf(rule: MappingRule): RegExp {
  let re = compiled.get(rule);
  if (re === undefined) {
    re = new RegExp(rule.from);
    compiled.set(rule, re);
  }
  return re;
}

type TemplatePart = { literal: string } | { group: number | string | '&' };

/** `to` split into literal text and group references, as String.prototype.replace reads them. */
function templateParts(to: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  const token = /\$(?:(\$)|(&)|(\d{1,2})|<([^>]+)>)/g;
  let last = 0;
  for (let m = token.exec(to); m !== null; m = token.exec(to)) {
    if (m.index > last) parts.push({ literal: to.slice(last, m.index) });
    if (m[1] !== undefined) parts.push({ literal: '$' });
    else if (m[2] !== undefined) parts.push({ group: '&' });
    else if (m[3] !== undefined) parts.push({ group: Number(m[3]) });
    else parts.push({ group: m[4] ?? '' });
    last = token.lastIndex;
  }
  if (last < to.length) parts.push({ literal: to.slice(last) });
  return parts;
}

function expand(to: string, match: RegExpExecArray): string {
  return templateParts(to)
    .map((part) => {
      if ('literal' in part) return part.literal;
      if (part.group === '&') return match[0];
      if (typeof part.group === 'number') return match[part.group] ?? '';
      return match.groups?.[part.group] ?? '';
    })
    .join('');
}

/**
 * Why a rule cannot work, or undefined when it can: `from` must compile, `to` must be an
 * absolute /dev path and may only name groups that `from` has.
 */
export function mappingRuleProblem(from: string, to: string): { key: 'from' | 'to'; message: string; hint: string } | undefined {
  let re: RegExp;
  try {
    re = new RegExp(from);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '') : String(err);
    return {
      key: 'from',
      message: `the regular expression ${JSON.stringify(from)} does not compile: ${reason}`,
      hint: "fix the expression (JavaScript syntax; in YAML, single quotes keep backslashes as they are: '^/dev/mapper/old-(.+)$')",
    };
  }
  // a regex that also matches '' reports its group count through the empty match
  const groupCount = (new RegExp(`${re.source}|`).exec('')?.length ?? 1) - 1;
  const names = new Set(Object.keys(new RegExp(`${re.source}|`).exec('')?.groups ?? {}));
  for (const part of templateParts(to)) {
    if ('literal' in part || part.group === '&') continue;
    if (typeof part.group === 'number' && part.group > groupCount) {
      return {
        key: 'to',
        message: `"to" uses $${part.group} but "from" has ${groupCount} group${groupCount === 1 ? '' : 's'}`,
        hint: 'add a (group) to "from" or use a lower $n in "to"',
      };
    }
    if (typeof part.group === 'string' && !names.has(part.group)) {
      return { key: 'to', message: `"to" uses $<${part.group}> but "from" has no group of that name`, hint: 'name the group in "from": (?<name>...)' };
    }
  }
  // a template that starts with a group ($&) gets its /dev/ from the old path; newVolumeFor checks the result
  const [head] = templateParts(to);
  const literalHead = head !== undefined && 'literal' in head ? head.literal : undefined;
  if (literalHead !== undefined && !literalHead.startsWith('/dev/')) {
    return { key: 'to', message: `"to" must be an absolute path under /dev, got ${JSON.stringify(to)}`, hint: "write the new volume's full path, e.g. /dev/mapper/new-$1" };
  }
  return undefined;
}

/** The new volume for an old one through the first rule that matches; null when none does. Throws InputError when the result is not a safe device path. */
export function newVolumeFor(oldPath: string, rules: readonly MappingRule[]): MappedVolume | null {
  for (const rule of rules) {
    const match = regexOf(rule).exec(oldPath);
    if (match === null) continue;
    const newPath = expand(rule.to, match);
    if (!isSafeDevicePath(newPath)) {
      throw InputError.one({
        code: InputErrorCode.invalidInput,
        message: `mapping rule ${JSON.stringify(rule.from)} -> ${JSON.stringify(rule.to)} turns ${oldPath} into ${JSON.stringify(newPath)}, which is not a safe device path (${validateRules.devicePath})`,
        hint: 'tighten "from" (anchor it with ^...$) or fix "to", or give this disk its new volume explicitly under vms[].disks',
        ...(rule.at === undefined ? {} : { at: rule.at }),
      });
    }
    return rule.array === undefined ? { new: newPath, rule } : { new: newPath, array: rule.array, rule };
  }
  return null;
}

const templateRegexes = new WeakMap<MappingRule, RegExp>();

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A regex that matches every path the rule's `to` can produce. */
function outputRegexOf(rule: MappingRule): RegExp {
  let re = templateRegexes.get(rule);
  if (re === undefined) {
    const body = templateParts(rule.to)
      .map((part) => ('literal' in part ? escapeRegExp(part.literal) : '.*'))
      .join('');
    re = new RegExp(`^${body}$`);
    templateRegexes.set(rule, re);
  }
  return re;
}

/**
 * The storage array a new volume lives on: the VM's own `array` if it names one, else the
 * array of the first rule whose `to` can produce this path; undefined when nothing says.
 */
export function arrayOf(vm: Pick<VmSpec, 'array'>, newPath: string, rules: readonly MappingRule[]): string | undefined {
  if (vm.array !== undefined) return vm.array;
  for (const rule of rules) {
    if (outputRegexOf(rule).test(newPath)) return rule.array;
  }
  return undefined;
}

/** Exact old,new[,array] pairs as rules (anchored, escaped), so they run through the same code as regex rules. */
export function exactRule(oldPath: string, newPath: string, index: number, array?: string, at?: Culprit): MappingRule {
  return {
    from: `^${escapeRegExp(oldPath)}$`,
    to: newPath.replace(/\$/g, '$$$$'),
    index,
    ...(array === undefined ? {} : { array }),
    ...(at === undefined ? {} : { at }),
  };
}

/**
 * Rows `old,new[,array]` of a mapping CSV. Blank lines and lines starting with # are
 * skipped, and so is a header row whose first field is "old". No quoting: device paths
 * never need it.
 */
export function mappingRulesFromCsv(text: string, csvFile: string): { rules: MappingRule[]; problems: Problem[] } {
  const rules: MappingRule[] = [];
  const problems: Problem[] = [];
  const oldSeen = new Map<string, number>();
  const newSeen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const row = raw.trim();
    if (row === '' || row.startsWith('#')) return;
    const fields = row.split(',').map((f) => f.trim());
    if (rules.length === 0 && problems.length === 0 && fields[0]?.toLowerCase() === 'old') return;
    const at: Culprit = { file: csvFile, line };
    const problem = (message: string, hint: string): void => {
      problems.push({ code: InputErrorCode.invalidInput, message, hint, at });
    };
    const [oldPath = '', newPath = '', array] = fields;
    if (fields.length < 2 || fields.length > 3) {
      problem(`expected old,new or old,new,array, got ${fields.length} field${fields.length === 1 ? '' : 's'}`, 'write one pair per line: /dev/mapper/old-db1,/dev/mapper/new-db1');
      return;
    }
    let ok = true;
    for (const [what, path] of [['old', oldPath], ['new', newPath]] as const) {
      if (!isSafeDevicePath(path)) {
        problem(`the ${what} volume ${JSON.stringify(path)} is not a safe device path`, `write ${validateRules.devicePath}`);
        ok = false;
      }
    }
    if (array !== undefined && array === '') {
      problem('the array field is empty', 'name the storage array, or drop the trailing comma');
      ok = false;
    }
    const oldFirst = oldSeen.get(oldPath);
    if (ok && oldFirst !== undefined) {
      problem(`the old volume ${oldPath} is listed twice (first at line ${oldFirst})`, 'keep one row per old volume');
      ok = false;
    }
    const newFirst = newSeen.get(newPath);
    if (ok && newFirst !== undefined) {
      problem(`the new volume ${newPath} is the target of two old volumes (first at line ${newFirst})`, 'give each old volume its own new volume');
      ok = false;
    }
    if (!ok) return;
    oldSeen.set(oldPath, line);
    newSeen.set(newPath, line);
    rules.push(exactRule(oldPath, newPath, rules.length, array, at));
  });
  return { rules, problems };
}
