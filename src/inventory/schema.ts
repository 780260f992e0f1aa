// The shape of an inventory file, checked with zod: keys, types, enums and units. What the
// values mean together (names, references, cycles, device paths) is checked in parse.ts.
import * as z from 'zod';
import { parseDuration, parseSize, parseSpeed, type Parsed } from './units.js';

function unit(parse: (input: unknown) => Parsed<number>) {
  return z.unknown().transform((input, ctx) => {
    const parsed = parse(input);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: 'custom', message: parsed.message, params: { hint: parsed.hint } });
    return z.NEVER;
  });
}

const duration = unit(parseDuration);
const size = unit(parseSize);
const speed = unit(parseSpeed);
const text = z.string().min(1);
const count = z.number().int().min(1);
/** one name or a list of names; always a list after parsing */
const names = z
  .union([z.string().min(1), z.array(z.string().min(1))], { error: 'expected a name or a list of names' })
  .transform((value) => (typeof value === 'string' ? [value] : value));

export const shellKinds = ['ssh', 'local', 'simulated'] as const;

export const hostSchema = z.strictObject({
  uri: text,
  shell: z.enum(shellKinds).optional(),
  ssh: text.optional(),
  sshPort: z.number().int().min(1).max(65535).optional(),
  identityFile: text.optional(),
  sshOptions: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: 'expected a single value' })).optional(),
  sudo: z.boolean().optional(),
});

export const vmSchema = z.strictObject({
  name: text,
  host: text,
  disks: z.record(z.string(), text).optional(),
  dependsOn: names.optional(),
  antiAffinity: names.optional(),
  array: text.optional(),
  simulate: z.strictObject({ sizes: z.record(z.string(), size).optional() }).optional(),
});

export const mappingRuleSchema = z.strictObject({
  from: text,
  to: text,
  array: text.optional(),
});

export const policySchema = z.strictObject({
  shutdownTimeout: duration.optional(),
  onShutdownTimeout: z.enum(['fail', 'force']).optional(),
  resyncSpeedMax: speed.optional(),
  pollInterval: duration.optional(),
  resyncStallTimeout: duration.optional(),
  health: z
    .strictObject({
      // YAML reads `3` or `true` as a number or boolean; in an argv they mean the text
      command: z
        .array(z.union([z.string().min(1), z.number(), z.boolean()], { error: 'expected a command-line argument' }).transform(String))
        .min(1)
        .optional(),
      settle: duration.optional(),
      timeout: duration.optional(),
    })
    .optional(),
});

export const limitsSchema = z.strictObject({
  mirrorsPerHost: count.optional(),
  downWindows: count.optional(),
  global: count.optional(),
  bundleMaxSize: count.optional(),
  hostBandwidth: speed.optional(),
  arrayBandwidth: z.record(z.string(), speed).optional(),
});

export const inventorySchema = z.strictObject({
  version: z.literal(1, { error: 'expected 1 (the only inventory version so far)' }).optional(),
  hosts: z.record(z.string(), hostSchema),
  vms: z.array(vmSchema).optional(),
  mapping: z.array(mappingRuleSchema).optional(),
  mappingCsv: text.optional(),
  policy: policySchema.optional(),
  limits: limitsSchema.optional(),
});

export type RawInventory = z.output<typeof inventorySchema>;

/** The keys allowed in the map at `path`, for "did you mean"; [] when `path` is not a map of fixed keys. */
export function knownKeysAt(path: readonly PropertyKey[], schema: z.ZodType = inventorySchema): string[] {
  let node: z.ZodType | undefined = schema;
  const unwrap = (n: z.ZodType | undefined): z.ZodType | undefined => {
    let current = n;
    for (;;) {
      if (current instanceof z.ZodOptional || current instanceof z.ZodDefault) current = current.unwrap() as z.ZodType;
      else if (current instanceof z.ZodPipe) current = current.in as z.ZodType;
      else return current;
    }
  };
  for (const part of path) {
    node = unwrap(node);
    if (node instanceof z.ZodObject) node = (node.shape as Record<string, z.ZodType>)[String(part)];
    else if (node instanceof z.ZodRecord) node = node.valueType as z.ZodType;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else return [];
  }
  node = unwrap(node);
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}
