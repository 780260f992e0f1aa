// VM leases on the hypervisor: one sanshift run acts on a VM, whatever machine it runs from.
// A lease is taken for the run's VMs of a host in one session, renewed while the run lasts,
// checked (and extended) by every md action, and released at the end. The script is in
// scripts.ts (LEASE_SCRIPT); this file builds its argv and reads its answer.
import { ActionError } from '../util/errors.js';
import { isSafeDomainName } from '../util/validate.js';
import { commandFailed } from './failure.js';
import type { CommandRunner } from './runner.js';
import { LEASE_SCRIPT } from './scripts.js';

/** How long a lease lasts unless renewed: a run that died frees its VMs this long after. */
export const LEASE_TTL_SECONDS = 600;
/** How often a run renews its leases (a third of their life: two renewals may be missed). */
export const LEASE_RENEW_MS = 200_000;
/** How long a confirmation of the lease (a renewal, an md action) lets the run act without
 * asking again: no other run can take it over before it expires, and the margin covers the
 * time between the confirmation's request and the host's reading of its clock. */
export const LEASE_TRUST_MS = LEASE_TTL_SECONDS * 1000 - 120_000;

/** Who holds a lease: `RUN@MACHINE:PID`, what a refused colleague is told. */
export interface LeaseOwner {
  run: string;
  machine: string;
  pid: number;
}

const OWNER = /^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:\d+$/;

export function ownerWord(o: LeaseOwner): string {
  const word = `${o.run}@${o.machine.replace(/[^A-Za-z0-9._-]/g, '_')}:${o.pid}`;
  if (!OWNER.test(word)) throw new ActionError(`not a lease owner: ${JSON.stringify(word)}`);
  return word;
}

/** The lease an md action must find its run holding (MD_ACT_SCRIPT's first three words). */
export interface LeaseCheck {
  owner: string;
  vm: string;
  ttlSeconds: number;
}

/** What a run knows of its lease on one VM, shared by the renewals and the VM's loop. */
export interface HeldLease extends LeaseCheck {
  /** when the request that last found the lease the run's was sent (the run's clock) */
  confirmedAt: number;
  /** the owner word of the run that holds it now, once one was seen */
  lostTo: string | null;
}

export function leaseWords(check: LeaseCheck | undefined): string[] {
  if (check === undefined) return ['-', '-', '0'];
  if (!OWNER.test(check.owner) || !isSafeDomainName(check.vm)) throw new ActionError(`unsafe lease ${JSON.stringify(check)}`);
  return [check.owner, check.vm, String(Math.max(1, Math.floor(check.ttlSeconds)))];
}

/** `takeover` also takes the leases of the one dead owner named (compared under the host's lock,
 * so two runs that both found it dead cannot both win). */
export type LeaseOp = 'acquire' | 'release' | { takeoverFrom: string };

export function leaseArgv(op: LeaseOp, owner: string, ttlSeconds: number, vms: readonly string[]): string[] {
  if (!OWNER.test(owner)) throw new ActionError(`not a lease owner: ${JSON.stringify(owner)}`);
  if (typeof op === 'object' && !OWNER.test(op.takeoverFrom)) throw new ActionError(`not a lease owner: ${JSON.stringify(op.takeoverFrom)}`);
  for (const vm of vms) if (!isSafeDomainName(vm)) throw new ActionError(`refusing unsafe VM name ${JSON.stringify(vm)}`);
  const opWords = typeof op === 'object' ? ['takeover', owner, String(Math.max(0, Math.floor(ttlSeconds))), op.takeoverFrom] : [op, owner, String(Math.max(0, Math.floor(ttlSeconds)))];
  return ['sh', '-c', LEASE_SCRIPT, 'sanshift-lease', ...opWords, ...vms];
}

/** The owner word's machine and pid, when it names this machine: a run whose process is gone
 * here is dead for sure, and its leases need not wait to expire. */
export function deadHere(word: string, machine: string, alive: (pid: number) => boolean): boolean {
  const m = /^.+@(.+):(\d+)$/.exec(word);
  return m !== null && m[1] === machine.replace(/[^A-Za-z0-9._-]/g, '_') && !alive(Number(m[2]));
}

export interface LeaseAnswer {
  /** held (or renewed) by this run */
  held: string[];
  /** held now, taken over from a run whose lease had expired (it died, or lost its host) */
  tookOver: { vm: string; from: string }[];
  /** held by another run: its owner word and the seconds its lease still has */
  busy: { vm: string; owner: string; seconds: number }[];
  lockTimeout: boolean;
}

export function parseLeaseAnswer(stdout: string): LeaseAnswer {
  const out: LeaseAnswer = { held: [], tookOver: [], busy: [], lockTimeout: false };
  for (const line of stdout.split('\n')) {
    const [word, vm = '', a = '', b = ''] = line.split(' ');
    if (word === 'held') out.held.push(vm);
    else if (word === 'took') {
      out.held.push(vm);
      out.tookOver.push({ vm, from: a });
    } else if (word === 'busy') out.busy.push({ vm, owner: a, seconds: Number(b) });
    else if (word === 'lock-timeout') out.lockTimeout = true;
  }
  return out;
}

export async function leases(runner: CommandRunner, op: LeaseOp, owner: string, ttlSeconds: number, vms: readonly string[]): Promise<LeaseAnswer> {
  if (vms.length === 0) return { held: [], tookOver: [], busy: [], lockTimeout: false };
  const r = await runner.run(leaseArgv(op, owner, ttlSeconds, vms));
  if (r.exitCode !== 0) throw commandFailed(runner.host, r, `${typeof op === 'object' ? 'take over' : op} the leases of ${vms.join(', ')}`);
  return parseLeaseAnswer(r.stdout);
}

/** `RUN@MACHINE:PID` in the operator's words. */
export function describeOwner(word: string): string {
  const m = /^(.+)@(.+):(\d+)$/.exec(word);
  return m === null ? word : `run ${m[1]} (pid ${m[3]} on ${m[2]})`;
}
