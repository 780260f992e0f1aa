// The shape of an inventory file, checked with zod: keys, types, enums and units. What the
// values mean together (names, references, cycles, device paths) is checked in parse.ts.
import * as z from 'zod';
import { healthCheckKinds, shutdownModes } from './types.js';
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
  // optional in the shape: a host names either uri: or testDriverNode: (parse.ts checks one of them)
  uri: text.optional(),
  testDriverNode: text.optional(),
  shell: z.enum(shellKinds).optional(),
  ssh: text.optional(),
  sshPort: z.number().int().min(1).max(65535).optional(),
  identityFile: text.optional(),
  sshOptions: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: 'expected a single value' })).optional(),
  sudo: z.boolean().optional(),
  // a rehearsal host (shell: simulated) that answers as slowly as a far or loaded real one
  simulate: z.strictObject({ sessionLatency: duration.optional(), libvirtLatency: duration.optional() }).optional(),
});

// YAML reads `3` or `true` as a number or boolean; in an argv they mean the text
const argument = z.union([z.string().min(1), z.number(), z.boolean()], { error: 'expected a command-line argument' }).transform(String);
/** a command as an argument vector: never a string for a shell (I6) */
const argv = z.array(argument, { error: 'expected a list of arguments, e.g. [/usr/local/bin/drain, --vm, "{vm}"]' }).min(1);
/** a hook may be an empty list: no hook at this level, whatever a less specific level says */
const hookArgv = z.array(argument, { error: 'expected a list of arguments, e.g. [/usr/local/bin/drain, --vm, "{vm}"], or [] for no hook' });

export const healthCheckSchema = z.strictObject({
  kind: z.enum(healthCheckKinds),
  host: text.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  url: text.optional(),
  argv: argv.optional(),
  gates: z.array(z.enum(['T1', 'T2']), { error: 'expected a list of windows: [T1], [T2] or [T1, T2]' }).min(1).optional(),
  timeout: duration.optional(),
});

export const windowsSchema = z.union(
  [
    z.literal('always'),
    z.strictObject({
      timezone: text,
      allow: z.array(text).min(1),
      // YAML 1.2 reads 2026-12-24 as a string; a number would be a typo such as 20261224
      except: z.array(text).optional(),
      margin: duration.optional(),
    }),
  ],
  { error: 'expected always, or a map with timezone: and allow:' },
);

export const policySchema = z.strictObject({
  shutdownTimeout: duration.optional(),
  onShutdownTimeout: z.enum(['fail', 'force']).optional(),
  shutdown: z
    .strictObject({
      mode: z.enum(shutdownModes).optional(),
      timeout: duration.optional(),
      onTimeout: z.enum(['fail', 'force']).optional(),
    })
    .optional(),
  resyncSpeedMax: speed.optional(),
  resyncStallTimeout: duration.optional(),
  timeouts: z
    .strictObject({
      hostCommand: duration.optional(),
      libvirtCall: duration.optional(),
      start: duration.optional(),
      hostLost: duration.optional(),
      windowHold: duration.optional(),
    })
    .optional(),
  pollInterval: duration.optional(),
  health: z
    .strictObject({
      command: argv.optional(),
      settle: duration.optional(),
      timeout: duration.optional(),
      interval: duration.optional(),
      checks: z.array(healthCheckSchema).optional(),
    })
    .optional(),
  hooks: z
    .strictObject({
      beforeWindow: hookArgv.optional(),
      afterWindow: hookArgv.optional(),
      onFailure: hookArgv.optional(),
      timeout: duration.optional(),
    })
    .optional(),
  windows: windowsSchema.optional(),
});

export const vmSchema = z.strictObject({
  name: text,
  host: text,
  disks: z.record(z.string(), text).optional(),
  dependsOn: names.optional(),
  antiAffinity: names.optional(),
  array: text.optional(),
  groups: names.optional(),
  policy: policySchema.optional(),
  simulate: z.strictObject({ sizes: z.record(z.string(), size).optional() }).optional(),
});

export const mappingRuleSchema = z.strictObject({
  from: text,
  to: text,
  array: text.optional(),
});


export const limitsSchema = z.strictObject({
  mirrorsPerHost: count.optional(),
  sessionsPerHost: count.optional(),
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
  // a group without a policy (`rack7: {}` or `rack7:`) is a tag for --limit group:rack7
  groups: z.record(z.string(), z.strictObject({ policy: policySchema.optional(), description: text.optional() }).nullable()).optional(),
  rollout: z
    .strictObject({
      canaries: z
        .union([z.number().int().min(0), z.array(text)], { error: 'expected a count of VMs, or a list of VM names and group:NAME' })
        .optional(),
      maxFailures: count.optional(),
      maxFailPercent: z.number().min(0).max(100).optional(),
    })
    .optional(),
  limits: limitsSchema.optional(),
});

export type RawInventory = z.output<typeof inventorySchema>;

/** The keys allowed in the map at `path`, for "did you mean"; [] when `path` is not a map of fixed keys. */
export function knownKeysAt(path: readonly PropertyKey[], schema: z.ZodType = inventorySchema): string[] {
  let node: z.ZodType | undefined = schema;
  const unwrap = (n: z.ZodType | undefined): z.ZodType | undefined => {
    let current = n;
    for (;;) {
      if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodNullable) current = current.unwrap() as z.ZodType;
      else if (current instanceof z.ZodPipe) current = current.in as z.ZodType;
      // a union of a word and a map (windows: always | {...}): the keys are the map's
      else if (current instanceof z.ZodUnion) current = (current.options as z.ZodType[]).find((o) => o instanceof z.ZodObject) ?? (current.options[0] as z.ZodType);
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
