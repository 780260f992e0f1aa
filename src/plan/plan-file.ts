// A saved plan (`sanshift plan -o FILE`, `sanshift run --plan FILE`): the Plan value with a
// format version and a fingerprint of what it depends on, so that a run can refuse a stale
// plan, naming every change (STYLE.md: Terraform's saved plan). Pure: the CLI reads and writes
// the file; hashing is computation, not I/O.
//
// Secrets: a domain definition read with VIR_DOMAIN_XML_SECURE holds console passwords
// (<graphics passwd='...'>). The file never holds them: every definition in it, and every
// definition the fingerprint hashes, has them masked. A changed console password alone is
// therefore not a change: sanshift rewrites only disk sources and keeps every other part of
// the definition current when it acts (DESIGN.md), and what the operator reviewed (masked) is
// what is compared.
import { createHash } from 'node:crypto';
import { diffLines } from 'diff';
import { z } from 'zod';
import { InputError, InputErrorCode, formatKeyPath, type Problem } from '../util/errors.js';
import type { Plan, Step, VmPlan, VmPlanDetail } from './types.js';
import { vmPlanDetail, vmPlanWritten } from './vm-steps.js';

export const PLAN_FORMAT = 'sanshift-plan';
export const PLAN_FORMAT_VERSION = 1;

/** What a console password becomes in a saved plan. */
export const MASKED = '(masked by sanshift)';

/** The attributes of a libvirt domain definition that hold a secret in clear. */
const SECRET_ATTRIBUTE = /\b(passwd)(\s*=\s*)(["'])(?:(?!\3)[\s\S])*\3/g;

/** The definition with every console password replaced by MASKED. */
export function maskSecrets(xml: string): string {
  return xml.replace(SECRET_ATTRIBUTE, (_m, name: string, eq: string, q: string) => `${name}${eq}${q}${MASKED}${q}`);
}

/** The run id a plan writes into sanshift's metadata: different for every plan, so not compared. */
const RUN_ID_ATTRIBUTE = /\brun-id=(["'])[^"']*\1/g;
const withoutRunId = (xml: string): string => xml.replace(RUN_ID_ATTRIBUTE, "run-id='RUN'");

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export interface DiskFingerprint {
  target: string;
  old: string;
  new: string;
  mirror: string;
  array: string | null;
  /** the old volume's size as preflight read it; null when it could not */
  sizeBytes: number | null;
}

export interface VmFingerprint {
  host: string;
  uri: string;
  /** sha256 of the persistent definition the plan starts from, passwords masked */
  definitionSha256: string;
  disks: DiskFingerprint[];
  /** its migration completed before the plan: nothing to do */
  done: boolean;
  /** sha256 of the steps (kind, phase, target, argv, input, masked XML without the run id) */
  stepsSha256: string;
}

export interface PlanFile {
  format: typeof PLAN_FORMAT;
  version: typeof PLAN_FORMAT_VERSION;
  createdAt: string;
  /** the sanshift that wrote it, e.g. "sanshift 0.1.0" */
  createdBy: string;
  inventory: {
    file: string;
    /** sha256 of the inventory file's text, and of the mapping CSV it names, if any */
    sha256: string;
  };
  /** the VMs named when the plan was made; empty: every VM of the inventory */
  selection: string[];
  fingerprint: Record<string, VmFingerprint>;
  /** the plan as `plan --json` shows it, plus each VM's definition; every password masked */
  plan: SavedPlan;
}

/** A VM of a saved plan: its steps written out, since the file is what the operator reviewed. */
export type SavedVmPlan = Omit<VmPlan, 'stepsFrom'> & VmPlanDetail;

export interface SavedPlan extends Omit<Plan, 'vms'> {
  vms: SavedVmPlan[];
}

function stepsDigest(steps: readonly Step[]): string {
  return sha256(JSON.stringify(steps.map((s) => [s.kind, s.phase, s.target ?? null, s.argv ?? null, s.input ?? null, s.xml === undefined ? null : withoutRunId(maskSecrets(s.xml))])));
}

function fingerprintOf(vm: VmPlan, detail: VmPlanDetail): VmFingerprint {
  return {
    host: vm.host,
    uri: vm.uri,
    definitionSha256: sha256(maskSecrets(detail.originalXml)),
    disks: vm.disks.map((d) => ({ target: d.target, old: d.old, new: d.new, mirror: d.mirror, array: d.array ?? null, sizeBytes: d.sizeBytes ?? null })),
    done: vm.done === true,
    stepsSha256: stepsDigest(detail.steps),
  };
}

function savedVm(vm: VmPlan, detail: VmPlanDetail): SavedVmPlan {
  return vmPlanWritten(vm, { steps: detail.steps.map((s) => (s.xml === undefined ? s : { ...s, xml: maskSecrets(s.xml) })), originalXml: maskSecrets(detail.originalXml) });
}

export interface InventoryDigest {
  file: string;
  sha256: string;
}

/** The saved form of a plan: masked, fingerprinted, versioned. */
export function planFileOf(plan: Plan, inventory: InventoryDigest, selection: readonly string[], createdBy: string): PlanFile {
  // each VM's steps made once, for its fingerprint and its masked copy
  const fingerprint: Record<string, VmFingerprint> = {};
  const vms: SavedVmPlan[] = [];
  for (const vm of plan.vms) {
    const detail = vmPlanDetail(vm);
    fingerprint[vm.name] = fingerprintOf(vm, detail);
    vms.push(savedVm(vm, detail));
  }
  return {
    format: PLAN_FORMAT,
    version: PLAN_FORMAT_VERSION,
    createdAt: plan.createdAt,
    createdBy,
    inventory: { file: inventory.file, sha256: inventory.sha256 },
    selection: [...selection],
    fingerprint,
    plan: { ...plan, vms },
  };
}

export function renderPlanFile(file: PlanFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

// ---- reading ------------------------------------------------------------------------------

const diskSchema = z.object({ target: z.string(), old: z.string(), new: z.string(), mirror: z.string(), array: z.string().nullable(), sizeBytes: z.number().nullable() });
const fingerprintSchema = z.object({ host: z.string(), uri: z.string(), definitionSha256: z.string(), disks: z.array(diskSchema), done: z.boolean(), stepsSha256: z.string() });
const vmPlanSchema = z.looseObject({ name: z.string(), host: z.string(), uri: z.string(), disks: z.array(z.looseObject({ target: z.string() })), steps: z.array(z.looseObject({ kind: z.string() })), originalXml: z.string() });
const planFileSchema = z.object({
  format: z.literal(PLAN_FORMAT),
  version: z.literal(PLAN_FORMAT_VERSION),
  createdAt: z.string(),
  createdBy: z.string(),
  inventory: z.object({ file: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  selection: z.array(z.string()),
  fingerprint: z.record(z.string(), fingerprintSchema),
  plan: z.looseObject({ inventory: z.string(), createdAt: z.string(), vms: z.array(vmPlanSchema) }),
});

/** Reads a saved plan; anything else is refused naming the file, the key and the fix. */
export function parsePlanFile(text: string, file: string): PlanFile {
  const fix = `make a new plan: sanshift plan -i INVENTORY -o ${file}`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw InputError.one({ code: InputErrorCode.invalidInput, message: `${file} is not a saved plan: not JSON (${(err as Error).message})`, hint: fix, at: { file } });
  }
  const head = raw as { format?: unknown; version?: unknown } | null;
  if (typeof head === 'object' && head !== null && head.format === PLAN_FORMAT && typeof head.version === 'number' && head.version > PLAN_FORMAT_VERSION) {
    throw InputError.one({ code: InputErrorCode.unsupported, message: `${file} is a plan of format version ${head.version}, written by a newer sanshift; this one reads version ${PLAN_FORMAT_VERSION}`, hint: `run it with the sanshift that wrote it, or ${fix}`, at: { file, path: ['version'] } });
  }
  const parsed = planFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems: Problem[] = parsed.error.issues.slice(0, 10).map((i) => ({ code: InputErrorCode.invalidInput, message: `${file} is not a saved plan of this sanshift: ${formatKeyPath(i.path as (string | number)[]) || '(top)'}: ${i.message}`, hint: fix, at: { file, path: i.path as (string | number)[] } }));
    throw new InputError(problems);
  }
  const pf = parsed.data as unknown as PlanFile;
  for (const vm of pf.plan.vms) {
    if (pf.fingerprint[vm.name] === undefined) throw InputError.one({ code: InputErrorCode.invalidInput, message: `${file}: VM ${vm.name} is planned but has no fingerprint`, hint: fix, at: { file, path: ['fingerprint', vm.name] } });
  }
  return pf;
}

// ---- comparing ----------------------------------------------------------------------------

export const ChangeKind = {
  inventory: 'inventory',
  added: 'vm added',
  removed: 'vm removed',
  host: 'host',
  definition: 'definition',
  device: 'device',
  size: 'size',
  state: 'state',
  steps: 'steps',
} as const;
export type ChangeKind = (typeof ChangeKind)[keyof typeof ChangeKind];

export interface Change {
  /** null: the change is not one VM's (the inventory) */
  vm: string | null;
  kind: ChangeKind;
  /** what changed, then and now */
  detail: string;
}

const short = (h: string) => h.slice(0, 12);
const size = (b: number | null) => (b === null ? 'unknown' : `${(b / 1024 ** 3).toFixed(1)} GiB (${b} bytes)`);

/** The lines that differ between two definitions, at most `max` of them, for the message. */
function definitionDiff(before: string, after: string, max = 6): string {
  const lines: string[] = [];
  for (const part of diffLines(before, after)) {
    if (!part.added && !part.removed) continue;
    for (const l of part.value.split('\n')) if (l.trim() !== '') lines.push(`${part.added ? '+' : '-'} ${l.trim()}`);
  }
  const shown = lines.slice(0, max);
  if (lines.length > max) shown.push(`… ${lines.length - max} more changed lines`);
  return shown.join('; ');
}

/**
 * Every difference between the saved plan and a plan made now from the same inventory and the
 * same selection, in the saved plan's order: the inventory first, then VM by VM. Empty: the
 * fleet is as it was planned.
 */
export function comparePlans(saved: PlanFile, fresh: PlanFile): Change[] {
  const changes: Change[] = [];
  if (saved.inventory.sha256 !== fresh.inventory.sha256) {
    const moved = saved.inventory.file === fresh.inventory.file ? '' : ` (planned from ${saved.inventory.file}, now ${fresh.inventory.file})`;
    changes.push({ vm: null, kind: ChangeKind.inventory, detail: `the inventory's content changed since the plan${moved}: sha256 ${short(saved.inventory.sha256)}… then, ${short(fresh.inventory.sha256)}… now` });
  }
  const savedXml = new Map(saved.plan.vms.map((v) => [v.name, v.originalXml]));
  const freshXml = new Map(fresh.plan.vms.map((v) => [v.name, v.originalXml]));
  for (const vm of Object.keys(saved.fingerprint)) {
    const was = saved.fingerprint[vm]!;
    const now = fresh.fingerprint[vm];
    if (now === undefined) {
      changes.push({ vm, kind: ChangeKind.removed, detail: 'planned, but not in a plan made now (gone from the inventory or from its host)' });
      continue;
    }
    const before = changes.length;
    if (was.host !== now.host || was.uri !== now.uri) changes.push({ vm, kind: ChangeKind.host, detail: `host ${was.host} (${was.uri}) then, ${now.host} (${now.uri}) now` });
    if (was.done !== now.done) {
      // a done VM is planned with no disks and no definition: comparing those would only repeat this
      changes.push({ vm, kind: ChangeKind.state, detail: was.done ? 'its migration was complete then, it is not now' : 'its migration completed since the plan: nothing left to do' });
      continue;
    }
    if (was.definitionSha256 !== now.definitionSha256) {
      const diff = definitionDiff(savedXml.get(vm) ?? '', freshXml.get(vm) ?? '');
      changes.push({ vm, kind: ChangeKind.definition, detail: `its persistent definition changed${diff === '' ? '' : `: ${diff}`}` });
    }
    const nowDisks = new Map(now.disks.map((d) => [d.target, d]));
    for (const d of was.disks) {
      const n = nowDisks.get(d.target);
      if (n === undefined) {
        changes.push({ vm, kind: ChangeKind.device, detail: `disk ${d.target} (${d.old} -> ${d.new}) is no longer migrated` });
        continue;
      }
      for (const key of ['old', 'new', 'mirror', 'array'] as const) {
        if (d[key] !== n[key]) changes.push({ vm, kind: ChangeKind.device, detail: `disk ${d.target}: ${key === 'old' ? 'old volume' : key === 'new' ? 'new volume' : key} ${d[key] ?? 'none'} then, ${n[key] ?? 'none'} now` });
      }
      if (d.sizeBytes !== n.sizeBytes) changes.push({ vm, kind: ChangeKind.size, detail: `disk ${d.target}: ${d.old} was ${size(d.sizeBytes)}, is ${size(n.sizeBytes)} now` });
    }
    const wasTargets = new Set(was.disks.map((d) => d.target));
    for (const n of now.disks) if (!wasTargets.has(n.target)) changes.push({ vm, kind: ChangeKind.device, detail: `disk ${n.target} (${n.old} -> ${n.new}) would be migrated now, and was not planned` });
    // the same inputs and other steps: another sanshift made them
    if (changes.length === before && was.stepsSha256 !== now.stepsSha256) changes.push({ vm, kind: ChangeKind.steps, detail: 'its steps differ with the same definition, disks and inventory (was the plan made by another sanshift version?)' });
  }
  for (const vm of Object.keys(fresh.fingerprint)) {
    if (saved.fingerprint[vm] === undefined) changes.push({ vm, kind: ChangeKind.added, detail: 'in a plan made now, but not in the saved plan' });
  }
  return changes;
}

/** One line per change, for messages and for `plan --detailed-exitcode` scripts. */
export function formatChange(c: Change): string {
  return `${c.vm === null ? '' : `VM ${c.vm}: `}${c.kind}: ${c.detail}`;
}
