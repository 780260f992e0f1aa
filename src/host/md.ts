// md operations over a CommandRunner: build, add, stop, inspect, poll. Every failure of an
// mdadm command becomes an ActionError naming argv, host, exit code and stderr.
import { ActionError } from '../util/errors.js';
import { commandFailed } from './failure.js';
import {
  addLegArgv,
  assertMdKernelName,
  buildMirrorArgv,
  detailArgv,
  failLegArgv,
  mirrorSysfsPaths,
  readFilesArgv,
  readMdstatArgv,
  removeFailedArgv,
  resolvePathsArgv,
  setSyncSpeedMaxCommand,
  stopMirrorArgv,
} from './mdadm.js';
import { parseMdDetail, type MdDetail } from './mddetail.js';
import { findArray, parseMdstat, type Mdstat, type MdstatMember } from './mdstat.js';
import { mirrorStateFrom, type MirrorState } from './mirrorstate.js';
import type { CommandResult, CommandRunner } from './runner.js';
import { splitGrepDump } from './sysfs.js';

async function runOk(runner: CommandRunner, argv: string[], doing: string, input?: string): Promise<CommandResult> {
  const result = await runner.run(argv, input === undefined ? {} : { input });
  if (result.exitCode !== 0) throw commandFailed(runner.host, result, doing);
  return result;
}

/** mdadm --build MD --level 1 --raid-disks=2 OLD missing */
// mdadm picks the first free md minor and then claims it: two builds at once on one host pick
// the same minor, and one fails (md_set_array_info: Invalid argument) or takes the other's name
// (seen in the lab). So array creation and removal run one at a time per host runner.
const mdChanges = new WeakMap<CommandRunner, Promise<unknown>>();

function oneAtATime<T>(runner: CommandRunner, fn: () => Promise<T>): Promise<T> {
  const before = mdChanges.get(runner) ?? Promise.resolve();
  const mine = before.then(fn, fn);
  mdChanges.set(runner, mine.catch(() => undefined));
  return mine;
}

export async function buildMirror(runner: CommandRunner, mdPath: string, oldPath: string): Promise<CommandResult> {
  return oneAtATime(runner, () => runOk(runner, buildMirrorArgv(mdPath, oldPath), `build mirror ${mdPath} over ${oldPath}`));
}

/** mdadm --add MD NEW: the resync (recovery) onto NEW starts at once */
export async function addLeg(runner: CommandRunner, mdPath: string, newPath: string): Promise<CommandResult> {
  return runOk(runner, addLegArgv(mdPath, newPath), `add ${newPath} to mirror ${mdPath}`);
}

export async function stopMirror(runner: CommandRunner, mdPath: string): Promise<CommandResult> {
  return oneAtATime(runner, () => runOk(runner, stopMirrorArgv(mdPath), `stop mirror ${mdPath}`));
}

export async function failLeg(runner: CommandRunner, mdPath: string, legPath: string): Promise<CommandResult> {
  return runOk(runner, failLegArgv(mdPath, legPath), `mark ${legPath} faulty in ${mdPath}`);
}

export async function removeFailedLegs(runner: CommandRunner, mdPath: string): Promise<CommandResult> {
  return runOk(runner, removeFailedArgv(mdPath), `remove failed legs of ${mdPath}`);
}

export async function readMdDetail(runner: CommandRunner, mdPath: string): Promise<MdDetail> {
  const r = await runOk(runner, detailArgv(mdPath), `read details of ${mdPath}`);
  return parseMdDetail(r.stdout);
}

/** Caps (or with 'system' uncaps) one array's resync speed in KiB/s. */
export async function setResyncSpeedMax(runner: CommandRunner, mdKernelName: string, kiBs: number | 'system'): Promise<void> {
  const { argv, input } = setSyncSpeedMaxCommand(mdKernelName, kiBs);
  await runOk(runner, argv, `set resync speed of ${mdKernelName} to ${kiBs}`, input);
}

export async function readMdstat(runner: CommandRunner): Promise<Mdstat> {
  const r = await runOk(runner, readMdstatArgv(), 'read /proc/mdstat');
  return parseMdstat(r.stdout);
}

/** Canonical paths (all links followed), one per input, in order. */
export async function resolvePaths(runner: CommandRunner, paths: readonly string[]): Promise<string[]> {
  const r = await runOk(runner, resolvePathsArgv(paths), `resolve ${paths.join(' ')}`);
  const lines = r.stdout.split('\n').slice(0, paths.length);
  if (lines.length !== paths.length) {
    throw new ActionError(`readlink on host ${runner.host} answered ${lines.length} lines for ${paths.length} paths`, { host: runner.host });
  }
  return lines;
}

/** /dev/dm-0 -> dm-0, /dev/md127 -> md127; null for anything not directly under /dev. Pure. */
export function kernelNameOf(resolvedPath: string): string | null {
  const m = /^\/dev\/([A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(resolvedPath);
  return m === null ? null : m[1]!;
}

/** What a mirror name points at now (traps 1 and 2: names move, and can dangle). */
export type MirrorName =
  | { state: 'free' }
  | { state: 'dangling'; target: string }
  | { state: 'active'; kernelName: string };

/** Pure: the state of a name from its resolved path and the current /proc/mdstat. */
export function mirrorNameState(mdPath: string, resolved: string, mdstat: Mdstat): MirrorName {
  const kname = kernelNameOf(resolved);
  if (kname === null || !/^md\d+$/.test(kname)) {
    return resolved === mdPath ? { state: 'free' } : { state: 'dangling', target: resolved };
  }
  const array = findArray(mdstat, kname);
  return array !== undefined && array.active ? { state: 'active', kernelName: kname } : { state: 'dangling', target: resolved };
}

export async function inspectMirrorName(runner: CommandRunner, mdPath: string): Promise<MirrorName> {
  const [resolved] = await resolvePaths(runner, [mdPath]);
  const mdstat = await readMdstat(runner);
  return mirrorNameState(mdPath, resolved!, mdstat);
}

/** The kernel name behind /dev/md/NAME, or null when the name is free or dangling. */
export async function resolveMirror(runner: CommandRunner, mdPath: string): Promise<string | null> {
  const name = await inspectMirrorName(runner, mdPath);
  return name.state === 'active' ? name.kernelName : null;
}

/** The legs of an active array, from /proc/mdstat; null when it is not there. */
export async function mirrorMembers(runner: CommandRunner, mdKernelName: string): Promise<MdstatMember[] | null> {
  assertMdKernelName(mdKernelName);
  const array = findArray(await readMdstat(runner), mdKernelName);
  return array === undefined ? null : array.members;
}

export interface MirrorIdentity {
  mdPath: string;
  name: MirrorName;
  /** kernel names of OLD and NEW (dm-0), null when they do not resolve under /dev */
  oldKname: string | null;
  newKname: string | null;
  members: MdstatMember[];
  hasOld: boolean;
  hasNew: boolean;
  /** true when the name is an active array whose legs are OLD (and possibly NEW), nothing else */
  ours: boolean;
  /** why it is not ours, in the operator's words; null when ours */
  reason: string | null;
}

/** Pure: decides whether /dev/md/NAME is really the mirror of OLD (+ NEW). */
export function judgeMirrorIdentity(
  mdPath: string,
  resolved: { md: string; old: string; new: string },
  mdstat: Mdstat,
): MirrorIdentity {
  const name = mirrorNameState(mdPath, resolved.md, mdstat);
  const oldKname = kernelNameOf(resolved.old);
  const newKname = kernelNameOf(resolved.new);
  const members = name.state === 'active' ? (findArray(mdstat, name.kernelName)?.members ?? []) : [];
  const hasOld = oldKname !== null && members.some((m) => m.kname === oldKname);
  const hasNew = newKname !== null && members.some((m) => m.kname === newKname);
  const strangers = members.filter((m) => m.kname !== oldKname && m.kname !== newKname).map((m) => m.kname);
  let reason: string | null = null;
  if (name.state === 'free') reason = `${mdPath} does not exist`;
  else if (name.state === 'dangling') reason = `${mdPath} points at ${name.target}, which is not an active md array`;
  else if (!hasOld) reason = `${mdPath} (${name.kernelName}) does not hold the old volume${oldKname === null ? '' : ` ${oldKname}`}`;
  else if (strangers.length > 0) reason = `${mdPath} (${name.kernelName}) also holds ${strangers.join(', ')}`;
  return { mdPath, name, oldKname, newKname, members, hasOld, hasNew, ours: reason === null, reason };
}

/** Checks, right before a wait, stop or cutover, that /dev/md/NAME is our mirror of OLD+NEW. */
export async function identifyMirror(
  runner: CommandRunner,
  paths: { mdPath: string; oldPath: string; newPath: string },
): Promise<MirrorIdentity> {
  const [md, old, nu] = await resolvePaths(runner, [paths.mdPath, paths.oldPath, paths.newPath]);
  const mdstat = await readMdstat(runner);
  return judgeMirrorIdentity(paths.mdPath, { md: md!, old: old!, new: nu! }, mdstat);
}

export interface MirrorToPoll {
  kernelName: string;
  /** kernel names of its legs (OLD, NEW) whose dev-KNAME/state to read as well */
  memberKnames?: readonly string[];
}

const GREP_MISSING = /^grep: (.+): No such file or directory$/;

/** ONE command per host: /proc/mdstat and the sysfs files of every mirror named. A mirror that
 * vanished comes back with present=false; it is not an error. */
export async function pollMirrors(runner: CommandRunner, mirrors: readonly (string | MirrorToPoll)[]): Promise<MirrorState[]> {
  const wanted: MirrorToPoll[] = mirrors.map((m) => (typeof m === 'string' ? { kernelName: m } : m));
  const files = ['/proc/mdstat', ...wanted.flatMap((m) => mirrorSysfsPaths(m.kernelName, m.memberKnames ?? []))];
  const result = await runner.run(readFilesArgv(files));
  const unexpected = result.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !GREP_MISSING.test(l.trim()));
  // grep: 0 all read, 1 nothing printed, 2 some file missing (only that is acceptable)
  if (result.exitCode > 2 || unexpected.length > 0) throw commandFailed(runner.host, result, 'poll mirrors');
  const dump = splitGrepDump(result.stdout, files);
  const mdstat = parseMdstat((dump.get('/proc/mdstat') ?? []).join('\n'));
  return wanted.map((m) => mirrorStateFrom(m.kernelName, mdstat, dump, m.memberKnames ?? []));
}

/** Trap 3: `mdadm --wait` exits 1 when there was nothing to wait for; that is not a failure. */
export function interpretWait(result: CommandResult): 'waited' | 'nothing-to-wait' | 'failed' {
  if (result.exitCode === 0) return 'waited';
  if (result.exitCode === 1 && result.stderr.trim() === '' && result.stdout.trim() === '') return 'nothing-to-wait';
  return 'failed';
}
