// What every lab scenario is and gets: the Scenario a file under test/lab/scenarios/ exports,
// the context the runner hands it, and the journal predicates and checks several share.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, OldRange, TenantSpec } from '../lab.js';
import {
  REPO, mirrorState, writeDuringResync as writeDuringResyncOn, type Problems, type Rec, type Sanshift, type Workspace, type Write,
} from '../harness.js';

export const CAPTURES = join(REPO, 'fixtures', 'lab-captures');

export interface Ctx {
  /** host A, lab-hv */
  lab: Lab;
  /** host B, lab-hv2: booted only when a chosen scenario has tenantsOnB */
  readonly labB: Lab;
  tenant(name: string): TenantSpec;
  tenantOnB(name: string): TenantSpec;
  problems: Problems;
  check(what: string, problems: Problems | boolean): void;
  say(line: string): void;
  /** old-volume ranges this scenario overwrote through a mirror, for the next reset */
  dirtied: OldRange[];
  dirtiedOnB: OldRange[];
}

export interface Scenario {
  id: string;
  title: string;
  /** tenants of host A it starts from, reset to their boot state first */
  tenants: string[];
  /** tenants of host B, likewise; a scenario with some makes the runner boot host B */
  tenantsOnB?: string[];
  /** a host this scenario changes as a whole (its ssh sessions, its sshd, a reboot): no other
   * scenario that uses that host runs beside it. Others run beside it on disjoint tenants. */
  wholeHost?: 'A' | 'B';
  /** left out of the default run (CI): run with --only ID or --full (npm run test:lab:full) */
  optIn?: boolean;
  run(ctx: Ctx): Promise<void>;
}

export const isResult = (vm: string, step: string) => (r: Rec): boolean => r.kind === 'result' && r.vm === vm && r.step === step;
export const isIntent = (vm: string, step: string) => (r: Rec): boolean => r.kind === 'intent' && r.vm === vm && r.step === step;
export const finished = (recs: Rec[], vm: string): Rec | undefined => recs.filter((r) => r.kind === 'vm-finished' && r.vm === vm).at(-1);

/** keeps what the real stack printed, for the parsers' and the simulated host's tests */
export function capture(name: string, text: string): void {
  writeFileSync(join(CAPTURES, name), text);
}

/** the writer of (a): a pattern through every mirror while it resyncs, checked to land then */
export async function writeDuringResync(ctx: Ctx, t: TenantSpec, writes: Map<string, Write[]>, timeoutMs: number, captureAs?: string): Promise<void> {
  const w = await writeDuringResyncOn(ctx.lab, t, timeoutMs);
  for (const [mirror, landed] of w.landedMidResync) {
    ctx.check(`${mirror}: the writes landed while it resynced`, landed);
    ctx.say(`wrote ${JSON.stringify(w.writes.get(t.disks.find((d) => mirror.endsWith(d.target))!.newVolume))} through ${mirror}`);
  }
  for (const [k, v] of w.writes) writes.set(k, v);
  ctx.dirtied.push(...w.dirtied);
  const first = [...w.seen.entries()][0];
  if (captureAs && first) {
    capture(`${captureAs}.mdstat.txt`, first[1].mdstat);
    capture(`${captureAs}.detail.txt`, `$ mdadm --detail ${first[0]}\n${first[1].detail}[exit 0]\n`);
  }
}

/** waits until the tenant runs on its mirrors and they are still resyncing: NEW joins after
 * the start on the mirror (the T1 window holds only the restart) */
export async function midResync(ctx: Ctx, ws: Workspace, proc: Sanshift, t: TenantSpec): Promise<void> {
  await ws.waitForRecord(`NEW joined ${t.name}'s mirror`, isResult(t.name, 'add-new-leg'), 300_000, proc);
  const s = await mirrorState(ctx.lab, `/dev/md/ss-${t.name}-${t.disks[0]!.target}`);
  if (!s.recovering) throw new Error(`${t.name}'s mirror is not resyncing any more right after NEW joined: lower the cap`);
}
