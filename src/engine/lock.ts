// Two runs of this machine must never act on the same VM at once. Each run claims its VMs with
// a lock file in the state folder, created whole and exclusively; a lock whose process is gone
// is stale and may be taken over, by one taker only. Runs from other machines or other state
// folders are kept apart by the hosts' leases (src/host/leases.ts), which every run also takes.
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

export function processAlive(pid: number): boolean {
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

/** Creates `path` holding `content`, or fails with EEXIST: the file appears whole or not at all
 * (written beside it, then hard-linked into place: link(2) never replaces). */
function createWhole(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(16).slice(2)}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  try {
    linkSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

export function claimVm(stateDir: string, host: string, vm: string, run: string, now: Date = new Date()): ClaimResult {
  mkdirSync(join(stateDir, 'locks'), { recursive: true, mode: 0o700 });
  const path = lockPath(stateDir, host, vm);
  const me: LockOwner = { run, pid: process.pid, hostname: hostname(), since: now.toISOString() };
  try {
    createWhole(path, JSON.stringify(me));
    return { claimed: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = readOwner(path);
  if (owner !== undefined && owner.run === run) return { claimed: true };
  // A lock from another machine cannot be checked for liveness: only the same machine's
  // dead processes are stale. (A file is never seen half written: see createWhole.)
  const stale = owner === undefined || (owner.hostname === me.hostname && !processAlive(owner.pid));
  if (!stale) return { claimed: false, owner };
  // Take over: move the stale lock aside first. rename(2) of one path succeeds for one taker
  // only, so two runs that both found it stale cannot both win; the loser finds it gone.
  const aside = `${path}.stale.${process.pid}.${Math.random().toString(16).slice(2)}`;
  try {
    renameSync(path, aside);
  } catch {
    const winner = readOwner(path);
    return winner === undefined ? { claimed: false, owner: owner ?? me } : winner.run === run ? { claimed: true } : { claimed: false, owner: winner };
  }
  const moved = readOwner(aside);
  rmSync(aside, { force: true });
  // what was moved must be the stale lock seen, not a fresh one written in between
  if (moved !== undefined && owner !== undefined && (moved.run !== owner.run || moved.pid !== owner.pid)) {
    try {
      createWhole(path, JSON.stringify(moved));
    } catch {
      // someone else claimed it meanwhile: theirs stands
    }
    return { claimed: false, owner: moved };
  }
  try {
    createWhole(path, JSON.stringify(me));
  } catch {
    const winner = readOwner(path);
    return { claimed: false, owner: winner ?? me };
  }
  return owner === undefined ? { claimed: true } : { claimed: true, tookOverFrom: owner };
}

export function releaseVm(stateDir: string, host: string, vm: string, run: string): void {
  const path = lockPath(stateDir, host, vm);
  const owner = readOwner(path);
  if (owner?.run === run) rmSync(path, { force: true });
}

/** One claim file of the state folder, as `sanshift doctor` lists them. */
export interface ClaimFile {
  /** absolute path of the file */
  path: string;
  host: string;
  vm: string;
  /** undefined when the file cannot be read as a claim */
  owner: LockOwner | undefined;
}

/** Every claim file in the state folder (locks/HOST--VM.json), whoever holds it. */
export function readClaims(stateDir: string): ClaimFile[] {
  const dir = join(stateDir, 'locks');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && f.includes('--'))
    .sort()
    .map((f) => {
      const stem = f.slice(0, -'.json'.length);
      const at = stem.indexOf('--');
      return { path: join(dir, f), host: stem.slice(0, at), vm: stem.slice(at + 2), owner: readOwner(join(dir, f)) };
    });
}
