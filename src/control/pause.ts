// A pause request: a small JSON file in the state folder that any process can write
// (`sanshift pause`, a first Ctrl-C) and every run reads before it starts a new window. A run
// that sees a request that applies to it lets the windows in progress finish, starts no new
// one, and exits; `sanshift run` again resumes.
//
// A request applies to the runs that started before it (and to those it names). It is never
// taken back by a later run: with runs over disjoint VMs side by side, a new run clearing it
// would silently resume the others. `sanshift pause --cancel` takes it back.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';

export interface PauseRequest {
  /** ISO time of the request */
  requestedAt: string;
  /** user@host (pid N), for the operator who wonders who paused */
  by: string;
  reason?: string;
  /** runs in progress when it was made (from the journals) */
  runs: string[];
}

export const PAUSE_FILE = 'pause.json';

export function pausePath(stateDir: string): string {
  return join(stateDir, PAUSE_FILE);
}

function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): the host and pid still say where it came from
  }
  return `${user}@${hostname()} (pid ${process.pid})`;
}

/** Writes the request atomically (a temporary file renamed over it): a reader sees the old
 * request or the new one, never half of one. */
export function requestPause(stateDir: string, request: { now: Date; reason?: string; runs?: readonly string[]; by?: string }): PauseRequest {
  const req: PauseRequest = { requestedAt: request.now.toISOString(), by: request.by ?? whoAmI(), runs: [...(request.runs ?? [])] };
  if (request.reason !== undefined && request.reason !== '') req.reason = request.reason;
  mkdirSync(stateDir, { recursive: true });
  const file = pausePath(stateDir);
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temp, `${JSON.stringify(req, null, 2)}\n`, { mode: 0o644 });
  renameSync(temp, file);
  return req;
}

/** The pause request, or null when there is none. A file that cannot be read as one still
 * counts as a request (someone asked for a pause): safer to pause than to go on. */
export function readPause(stateDir: string): PauseRequest | null {
  let text: string;
  try {
    text = readFileSync(pausePath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { requestedAt: new Date(0).toISOString(), by: 'unknown', reason: `the pause file cannot be read: ${(err as Error).message}`, runs: [] };
  }
  try {
    const raw = JSON.parse(text) as Partial<PauseRequest>;
    if (typeof raw.requestedAt !== 'string' || Number.isNaN(Date.parse(raw.requestedAt))) throw new Error('no requestedAt');
    const req: PauseRequest = { requestedAt: raw.requestedAt, by: typeof raw.by === 'string' ? raw.by : 'unknown', runs: Array.isArray(raw.runs) ? raw.runs.filter((r): r is string => typeof r === 'string') : [] };
    if (typeof raw.reason === 'string') req.reason = raw.reason;
    return req;
  } catch {
    return { requestedAt: new Date(0).toISOString(), by: 'unknown', reason: 'the pause file is not a pause request sanshift wrote (it still pauses every run)', runs: [] };
  }
}

/** Takes the request back; true when there was one. */
export function clearPause(stateDir: string): boolean {
  try {
    rmSync(pausePath(stateDir));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Whether `req` pauses the run `runId` that started at `startedAtMs`: runs that started before
 * the request, or that it names. An unreadable request (requestedAt 1970) pauses every run. */
export function pauseApplies(req: PauseRequest | null, run: { id: string; startedAtMs: number }): boolean {
  if (req === null) return false;
  const at = Date.parse(req.requestedAt);
  return at === 0 || req.runs.includes(run.id) || run.startedAtMs <= at;
}

/** For the operator: who asked, when, why. */
export function describePause(req: PauseRequest): string {
  return `pause requested at ${req.requestedAt} by ${req.by}${req.reason === undefined ? '' : ` (${req.reason})`}`;
}
