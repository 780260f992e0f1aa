// Two runs must never act on the same VM at once. Each run claims its VMs with a lock file
// created exclusively (O_EXCL) in the state folder; a lock whose process is gone is stale
// and may be taken over, and the takeover is journaled by the caller.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface LockOwner {
  run: string;
  pid: number;
  hostname: string;
  since: string;
}

export type ClaimResult =
  | { claimed: true; tookOverFrom?: LockOwner }
  | { claimed: false; owner: LockOwner };

function lockPath(stateDir: string, host: string, vm: string): string {
  return join(stateDir, 'locks', `${host}--${vm}.json`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

export function claimVm(stateDir: string, host: string, vm: string, run: string, now: Date = new Date()): ClaimResult {
  mkdirSync(join(stateDir, 'locks'), { recursive: true });
  const path = lockPath(stateDir, host, vm);
  const me: LockOwner = { run, pid: process.pid, hostname: hostname(), since: now.toISOString() };
  try {
    writeFileSync(path, JSON.stringify(me), { flag: 'wx' });
    return { claimed: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = readOwner(path);
  if (owner !== undefined && owner.run === run) return { claimed: true };
  // A lock from another machine cannot be checked for liveness: only the same machine's
  // dead processes are stale.
  const stale = owner === undefined || (owner.hostname === me.hostname && !processAlive(owner.pid));
  if (!stale) return { claimed: false, owner };
  rmSync(path, { force: true });
  try {
    writeFileSync(path, JSON.stringify(me), { flag: 'wx' });
  } catch {
    const winner = readOwner(path);
    return winner === undefined ? { claimed: false, owner: me } : { claimed: false, owner: winner };
  }
  return owner === undefined ? { claimed: true } : { claimed: true, tookOverFrom: owner };
}

export function releaseVm(stateDir: string, host: string, vm: string, run: string): void {
  const path = lockPath(stateDir, host, vm);
  const owner = readOwner(path);
  if (owner?.run === run) rmSync(path, { force: true });
}
