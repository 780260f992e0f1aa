// md changes in one session per VM: build (OLD + missing, then the resync cap), flush (drop the
// mirror's page cache), add (NEW joins: I5 checked on the host in the same session, the write
// counters recorded as the I3 baseline), stop, speed. Each checks the array's identity and acts
// on its kernel name (scripts.ts, MD_ACT_SCRIPT); a probe of the paths follows, so the caller
// sees the new state without another session.
import { ActionError } from '../util/errors.js';
import { commandFailed } from './failure.js';
import { assertDevicePath } from './mdadm.js';
import { parseProbe, type BlockCounters, type HostSnapshot } from './probe.js';
import type { CommandRunner } from './runner.js';
import { leaseWords, type LeaseCheck } from './leases.js';
import { MD_ACT_SCRIPT } from './scripts.js';

export const MdVerb = {
  build: 'build',
  flush: 'flush',
  add: 'add',
  stop: 'stop',
  speed: 'speed',
} as const;
export type MdVerb = (typeof MdVerb)[keyof typeof MdVerb];

export interface MdAction {
  verb: MdVerb;
  mirror: string;
  old: string;
  new: string;
  /** sync_speed_max to set (KiB/s, or 'system'); build and add set it before NEW can join */
  speedKiBs?: number | 'system';
}

function speedWord(s: MdAction['speedKiBs']): string {
  if (s === undefined) return '-';
  if (s === 'system') return 'system';
  if (!Number.isInteger(s) || s <= 0) throw new ActionError(`resync speed must be a positive whole number of KiB/s, got ${s}`);
  return String(s);
}

/** `sh -c MD_ACT_SCRIPT sanshift-md OWNER VM TTL VERB MIRROR OLD NEW SPEED ...`: with a lease,
 * the actions run only if the VM's lease is the run's (and extend it); every word validated (I6). */
export function mdActArgv(actions: readonly MdAction[], lease?: LeaseCheck): string[] {
  if (actions.length === 0) throw new ActionError('no md action to run');
  return ['sh', '-c', MD_ACT_SCRIPT, 'sanshift-md', ...leaseWords(lease), ...actions.flatMap((a) => [a.verb, assertDevicePath(a.mirror), assertDevicePath(a.old), assertDevicePath(a.new), speedWord(a.speedKiBs)])];
}

export type MdActOutcome =
  | { mirror: string; verb: MdVerb; ok: true; kernelName: string | null; already: boolean; output: string[] }
  | { mirror: string; verb: MdVerb; ok: false; code: string; message: string; output: string[] }
  | { mirror: string; verb: MdVerb; ok: false; code: 'skipped'; message: string; output: string[] };

export interface MdActResult {
  outcomes: MdActOutcome[];
  /** the I3 baseline of each `add` that joined NEW: OLD's and the array's counters right before */
  baselines: Map<string, { oldKname: string; mdKname: string; old: BlockCounters; md: BlockCounters }>;
  /** the host right after the actions (every path named) */
  after: HostSnapshot;
  /** the lock could not be had: nothing was done */
  lockTimeout: boolean;
  /** the VM's lease is not the run's any more (what the lease file says): nothing was done */
  leaseLost: string | null;
}

function counters(fields: string[]): BlockCounters {
  const n = fields.map(Number);
  return { writeIos: n[4] ?? NaN, writeSectors: n[6] ?? NaN, discardSectors: n[13] ?? 0 };
}

/** Parses the md action script's output. Pure. */
export function parseMdAct(stdout: string): MdActResult {
  const lines = stdout.split('\n');
  const probeAt = lines.findIndex((l) => l.startsWith('#probe '));
  const head = lines.slice(0, probeAt < 0 ? lines.length : probeAt);
  if (head[0] !== '#act 1') throw new Error('no "#act 1" header in the md action output');
  const outcomes: MdActOutcome[] = [];
  const baselines: MdActResult['baselines'] = new Map();
  const pendingBase = new Map<string, { oldKname?: string; mdKname?: string; old?: BlockCounters; md?: BlockCounters }>();
  let output: string[] = [];
  let lockTimeout = false;
  let leaseLost: string | null = null;
  for (const line of head.slice(1)) {
    if (line === '') continue;
    const [key, a = '', b = '', c = '', ...rest] = line.split(' ');
    if (key === '>') {
      output.push(line.slice(2));
      continue;
    }
    if (key === 'base') {
      // base MIRROR old|md KNAME <the 17 fields of /sys/block/KNAME/stat>
      const entry = pendingBase.get(a) ?? {};
      if (b === 'old') Object.assign(entry, { oldKname: c, old: counters(rest) });
      if (b === 'md') Object.assign(entry, { mdKname: c, md: counters(rest) });
      pendingBase.set(a, entry);
      continue;
    }
    if (key === 'ok') {
      outcomes.push({ verb: a as MdVerb, mirror: b, ok: true, kernelName: c === '-' || c === '' ? null : c, already: rest[0]?.startsWith('already') === true, output });
      output = [];
      continue;
    }
    if (key === 'fail') {
      if (a === 'lock') lockTimeout = true;
      else if (a === 'owner') leaseLost = rest.join(' ');
      else outcomes.push({ verb: a as MdVerb, mirror: b, ok: false, code: c, message: rest.join(' '), output });
      output = [];
      continue;
    }
    if (key === 'skip') {
      outcomes.push({ verb: a as MdVerb, mirror: b, ok: false, code: 'skipped', message: 'not attempted after an earlier failure', output: [] });
      continue;
    }
  }
  for (const [mirror, e] of pendingBase) {
    const done = outcomes.some((o) => o.mirror === mirror && o.verb === 'add' && o.ok);
    if (done && e.old !== undefined && e.md !== undefined && e.oldKname !== undefined && e.mdKname !== undefined) {
      baselines.set(mirror, { oldKname: e.oldKname, mdKname: e.mdKname, old: e.old, md: e.md });
    }
  }
  const after = probeAt < 0 ? null : parseProbe(lines.slice(probeAt).join('\n'));
  if (after === null && !lockTimeout && leaseLost === null) throw new Error('the md action output has no probe after the actions');
  return { outcomes, baselines, after: after ?? parseProbe('#probe 1 state\n#end\n'), lockTimeout, leaseLost };
}

/** Runs md actions on a host in one session. A non-zero exit of the shell itself (not of a
 * command inside) means the script could not run at all. */
export async function runMdActions(runner: CommandRunner, actions: readonly MdAction[], options: { timeoutMs?: number; lease?: LeaseCheck } = {}): Promise<MdActResult> {
  const r = await runner.run(mdActArgv(actions, options.lease), options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
  if (r.exitCode !== 0) throw commandFailed(runner.host, r, `md ${actions.map((a) => `${a.verb} ${a.mirror}`).join(', ')}`);
  try {
    return parseMdAct(r.stdout);
  } catch (err) {
    throw new ActionError(`md actions on host ${runner.host} answered something unexpected: ${(err as Error).message}`, { host: runner.host });
  }
}
