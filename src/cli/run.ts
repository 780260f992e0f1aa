// `sanshift run` and `sanshift rollback`: plan, confirm, execute, report.
import { historyReader, runFleet, RunMode, type RunSummary } from '../engine/run.js';
import { newRunId } from '../engine/journal.js';
import type { EngineEvent } from '../engine/events.js';
import { planFleet, uncheckedProblems } from '../plan/fleet-plan.js';
import { unnamedArrayOf } from '../plan/fleet-input.js';
import { comparePlans, planFileOf, type PlanFile } from '../plan/plan-file.js';
import type { Plan, VmPlan } from '../plan/types.js';
import type { MetricsPlacement } from '../report/metrics.js';
import { checkWritableFolder } from './files.js';
import { MetricsFile } from './metrics-file.js';
import { inventoryDigest, readPlanFile, sanshiftVersion } from './plan-files.js';
import { timestampedLine } from '../report/event-lines.js';
import { initialFleetState, ProgressThrottle, reduceFleet, renderLiveFrame, type FleetLiveState } from '../report/progress-view.js';
import { renderRunReportText } from '../report/run-report.js';
import { closeSync, openSync, writeSync } from 'node:fs';
import { createLogUpdate } from 'log-update';
import { processIo } from './io.js';
import { reportFromJournal, writeRunReport } from './report.js';
import { InputError, InputErrorCode } from '../util/errors.js';
import { openSession, REHEARSAL_BANNER, type Session } from './common.js';
import type { Argv } from 'yargs';
import { arg, type CliCommand } from './command.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';
import { describePause, readPause, requestPause } from '../control/pause.js';
import { GOING_ON_AFTER_HANGUP, installInterrupts, PAUSE_ON_CTRL_C, STOP_ON_CTRL_C } from './interrupt.js';
import { selectedNames, selectionArgs, withSelection, type SelectionArgs } from './selection.js';

const NO_SELECTION: SelectionArgs = { limit: [], exclude: [], failed: false };

/** How much a run prints while it works: -q only the report at the end, -v every event. */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

export interface RunArgs {
  inventory: string;
  vm: string[];
  yes: boolean;
  stateDir?: string;
  /** write every event as a JSON line to this file; '-' for stdout */
  events?: string;
  selection?: SelectionArgs;
  verbosity?: Verbosity;
  /** execute exactly this saved plan (`plan -o`), or refuse if the fleet changed since */
  plan?: string;
  /** keep the run's Prometheus metrics in this file (node_exporter's textfile collector) */
  metrics?: string;
  /** go on when a preflight check could not run */
  acceptUnchecked?: boolean;
}

export interface RollbackArgs {
  inventory: string;
  /** the VMs named; with --limit/--failed they may be several */
  vm: string | string[];
  reverse: boolean;
  yes: boolean;
  stateDir?: string;
  events?: string;
  selection?: SelectionArgs;
  verbosity?: Verbosity;
}

const verbosityOf = (a: Record<string, unknown>): Verbosity => (arg.flag(a, 'quiet') ? 'quiet' : arg.flag(a, 'verbose') ? 'verbose' : 'normal');

/** Where the JSON-lines event stream goes (docs/events.md); writes are synchronous so a crash
 * loses nothing already emitted. */
interface EventStream {
  write(e: EngineEvent): void;
  close(): void;
}

function openEventStream(target: string | undefined, io: Io): EventStream | null {
  if (target === undefined) return null;
  if (target === '-') return { write: (e) => io.out(`${JSON.stringify(e)}\n`), close: () => undefined };
  let fd: number;
  try {
    fd = openSync(target, 'a');
  } catch (err) {
    throw InputError.one({ code: InputErrorCode.invalidInput, message: `cannot open the events file ${target}: ${(err as Error).message}`, hint: 'pass a writable file path to --events, or - for standard output' });
  }
  return { write: (e) => void writeSync(fd, `${JSON.stringify(e)}\n`), close: () => closeSync(fd) };
}

/** What a terminal shows while a run works: a frame redrawn in place, and lines printed above it. */
interface LiveScreen {
  frame(text: string): void;
  print(text: string): void;
  done(): void;
}

function liveScreenFor(io: Io): LiveScreen {
  if (io === processIo) {
    const log = createLogUpdate(process.stdout);
    return {
      frame: (t) => log(t),
      print: (t) => {
        log.clear();
        process.stdout.write(t);
      },
      done: () => log.done(),
    };
  }
  // Any other Io (tests): keep the last frame and write it once, at the end.
  let last = '';
  return { frame: (t) => void (last = t), print: (t) => io.out(t), done: () => io.out(`${last}\n`) };
}

/** The run's output to the operator: a live view on a terminal, else throttled timestamped lines. */
class RunDisplay {
  state: FleetLiveState = initialFleetState();
  private readonly throttle = new ProgressThrottle();
  private readonly screen: LiveScreen | null;
  private lastDraw = 0;

  constructor(
    private readonly io: Io,
    private readonly write: (text: string) => void,
    live: boolean,
    private readonly verbosity: Verbosity = 'normal',
    plannedBytes: ReadonlyMap<string, number> = new Map(),
  ) {
    this.screen = live && verbosity === 'normal' ? liveScreenFor(io) : null;
    this.state = initialFleetState([...plannedBytes.keys()], plannedBytes);
  }

  on(e: EngineEvent): void {
    this.state = reduceFleet(this.state, e);
    if (this.verbosity === 'quiet') return;
    if (this.screen === null) {
      if (this.verbosity !== 'verbose' && !this.throttle.shouldPrint(e)) return;
      const line = timestampedLine(e);
      if (line !== null) this.write(`${line}\n`);
      return;
    }
    // On a terminal, the frame shows steps and progress; what is worth keeping scrolls above it.
    const keep = e.kind === 'down' || e.kind === 'up' || e.kind === 'vm-finished' || e.kind === 'note' || e.kind === 'run-started';
    const line = keep ? timestampedLine(e) : null;
    if (line !== null) this.screen.print(`${line}\n`);
    const wall = Date.now();
    // At most ten redraws a second: a rehearsal emits hundreds of events per second.
    if (line !== null || wall - this.lastDraw >= 100 || e.kind === 'run-finished') {
      this.lastDraw = wall;
      this.screen.frame(renderLiveFrame(this.state, this.io.columns));
    }
  }

  close(): void {
    if (this.screen !== null) {
      this.screen.frame(renderLiveFrame(this.state, this.io.columns));
      this.screen.done();
    }
  }

  /** Bytes each VM resynced, as the progress events said (the journal does not hold them). */
  resyncBytes(): Map<string, number> {
    return new Map(this.state.vms.filter((v) => v.totalBytes > 0).map((v) => [v.vm, v.totalBytes]));
  }

  /** When each VM's mirrors reached sync: its last progress line plus that line's ETA (the
   * engine polls again within one poll interval of it). */
  inSyncAt(): Map<string, number> {
    return new Map(this.state.vms.filter((v) => v.lastProgressAt !== null).map((v) => [v.vm, v.lastProgressAt! + (v.etaAtLastProgress ?? 0) * 1000]));
  }
}

/** A run asks before it acts, unless --yes; without a terminal to ask on, it refuses. */
async function confirm(io: Io, question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!io.stdinIsTTY) {
    throw InputError.one({ code: InputErrorCode.invalidInput, message: 'standard input is not a terminal, so sanshift cannot ask for confirmation', hint: 'add --yes to run without asking' });
  }
  const answer = await io.ask(`${question} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

/** A pause request the new run must know of: an unreadable one stops it (someone asked for a
 * pause and sanshift cannot tell when); a readable one does not apply to a run started after
 * it, which is how `run` resumes: say so. */
function pauseNote(stateDir: string): string | null {
  const req = readPause(stateDir);
  if (req === null) return null;
  if (Date.parse(req.requestedAt) === 0) {
    throw InputError.one({ code: InputErrorCode.wrongState, message: `the pause request in ${stateDir} cannot be read: ${req.reason ?? 'unknown reason'}`, hint: 'look at it, then take it back with sanshift pause --cancel (or remove pause.json from the state folder)' });
  }
  return `${describePause(req)}: this run starts after it, so it is not paused by it; it resumes the migration.\n`;
}

/** `{ key: value }`, or nothing when the value is undefined (exactOptionalPropertyTypes). */
function opt<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}

/** A saved plan to execute (`run --plan`): where it was read from, and what it holds. */
interface SavedPlan {
  file: string;
  plan: PlanFile;
  /** the -i the run was given, for the digest of the inventory now */
  inventoryFile: string;
}

/** Refuses (exit 2, nothing touched) a saved plan the fleet no longer matches, naming every change. */
function refuseIfStale(saved: SavedPlan, fresh: Plan): void {
  const now = planFileOf(fresh, inventoryDigest(saved.inventoryFile), saved.plan.selection, sanshiftVersion());
  const changes = comparePlans(saved.plan, now);
  if (changes.length === 0) return;
  const hint = `review what changed, then make a new plan: sanshift plan -i ${saved.inventoryFile}${saved.plan.selection.length === 0 ? '' : ` ${saved.plan.selection.join(' ')}`} -o ${saved.file}`;
  // one fix for all of them, after the last
  throw new InputError(changes.map((c, i) => ({ code: InputErrorCode.wrongState, message: `the plan is stale: ${c.kind}: ${c.detail}`, ...(i === changes.length - 1 ? { hint } : {}), at: { file: saved.file, ...(c.vm === null ? {} : { vm: c.vm }) } })));
}

/** How `execute` runs: what the command line asked for beyond the VMs and the mode. */
interface ExecuteOptions {
  reverse: boolean;
  yes: boolean;
  verb: string;
  eventsTo?: string;
  verbosity?: Verbosity;
  saved?: SavedPlan;
  metricsTo?: string;
  /** go on when a preflight check could not run */
  acceptUnchecked?: boolean;
}

async function execute(session: Session, io: Io, vms: string[], mode: RunMode, o: ExecuteOptions): Promise<number> {
  const { reverse, yes, verb, eventsTo, saved, metricsTo } = o;
  const verbosity = o.verbosity ?? 'normal';
  const { inventory, connections, clock, stateDir } = session;
  const now = clock.now();
  const runId = newRunId(now);
  const resumeNote = pauseNote(stateDir);
  // a saved plan is planned again with its own selection, then compared: it runs only if nothing changed
  const outcome = await planFleet(inventory, connections, { vms: saved?.plan.selection ?? vms, runId, now: new Date(now), history: historyReader(stateDir), reverse });
  // With --events -, stdout carries the JSON lines; what the operator reads goes to stderr.
  const human = (t: string) => (eventsTo === '-' ? io.err(t) : io.out(t));
  if (connections.rehearsal && verbosity !== 'quiet') human(REHEARSAL_BANNER);
  if (outcome.problems.length > 0) throw new InputError(outcome.problems);
  for (const u of outcome.unreachable) throw u;
  // a check that could not run is not a check that passed (I5 on a host nobody could read)
  const unchecked = mode === RunMode.migrate ? uncheckedProblems(outcome.plan) : [];
  if (unchecked.length > 0 && o.acceptUnchecked !== true) throw new InputError(unchecked);
  if (unchecked.length > 0) human(`accepted without checking (--accept-unchecked):\n${unchecked.map((p) => `  ${p.at?.vm ?? ''}: ${p.message}`).join('\n')}\n`);
  if (saved !== undefined) {
    refuseIfStale(saved, outcome.plan);
    human(`plan ${saved.file} (made ${saved.plan.createdAt}) still matches the fleet: running exactly it\n`);
  }
  const todo = outcome.plan.vms.filter((v) => v.done !== true);
  const finished = outcome.plan.vms.filter((v) => v.done === true);
  if (finished.length > 0 && mode === RunMode.rollback) {
    // The planner marks a migrated VM done: its old volumes are stale, so plain rollback must
    // refuse, also when others of the selection could roll back (no half of what was asked).
    const names = finished.map((v) => v.name);
    throw InputError.one({ code: InputErrorCode.wrongState, message: `${names.join(', ')} finished ${names.length === 1 ? 'its' : 'their'} migration: the old volumes are stale, so a rollback cannot go back to them`, hint: `to move ${names.length === 1 ? 'it' : 'them'} back, migrate back: sanshift rollback --reverse${todo.length > 0 ? '; to roll back the others, --exclude these' : ''}` });
  }
  if (todo.length === 0) {
    human(`nothing to do: ${outcome.plan.vms.map((v) => v.name).join(', ')} already on ${mode === RunMode.rollback ? 'their old' : 'their new'} volumes\n`);
    return ExitCode.ok;
  }
  const names = todo.map((v) => v.name).join(', ');
  if (!(await confirm(io, `${verb} ${todo.length} VM${todo.length === 1 ? '' : 's'} (${names}); each restarts twice.`, yes))) {
    io.err('declined; nothing was changed\n');
    return ExitCode.declined;
  }
  if (resumeNote !== null && verbosity !== 'quiet') human(resumeNote);
  const events = openEventStream(eventsTo, io);
  const planned = plannedBytes(todo);
  const display = new RunDisplay(io, human, io.isTTY && eventsTo !== '-', verbosity, planned);
  const metrics = metricsTo === undefined ? null : new MetricsFile(metricsTo, placementOf(todo), planned);
  const emit = (e: EngineEvent) => {
    events?.write(e);
    display.on(e);
    metrics?.on(e);
  };
  // A first Ctrl-C asks for a pause (the windows in progress finish, no new one starts), a
  // second stops every VM at its next safe point (src/engine/halt.ts).
  const stop = new AbortController();
  const uninstall = io === processIo
    ? installInterrupts(process, {
        pause: () => {
          requestPause(stateDir, { now: new Date(), reason: `Ctrl-C in run ${runId}`, runs: [runId] });
          io.err(PAUSE_ON_CTRL_C);
        },
        stop: () => {
          io.err(STOP_ON_CTRL_C);
          stop.abort();
        },
        // a hangup's default would end the run mid-window; it goes on (said where stderr still goes)
        hangup: () => io.err(GOING_ON_AFTER_HANGUP),
      })
    : () => undefined;
  let summary: RunSummary;
  try {
    summary = await runFleet({ plan: outcome.plan, inventory, connections, clock, stateDir, runId, mode, emit, stop: stop.signal });
  } finally {
    uninstall();
    display.close();
    events?.close();
    metrics?.close();
  }
  if (metrics?.failure != null) io.err(`warning: the metrics file ${metrics.file} could not be written: ${metrics.failure}\n`);
  const report = reportFromJournal(stateDir, summary.run, { resyncBytes: display.resyncBytes(), inSyncAt: display.inSyncAt() });
  const files = writeRunReport(stateDir, report);
  human(`\n${renderRunReportText(report)}journal: ${summary.journal}\nreport:  ${files.markdown}\n         ${files.json}\n`);
  if (!summary.ok) return ExitCode.failed;
  if (summary.stopped !== null) {
    const left = summary.results.filter((r) => r.outcome.outcome === 'stopped').map((r) => r.vm);
    human(`stopped early: ${summary.stopped}\n${left.length} VM${left.length === 1 ? '' : 's'} left where ${left.length === 1 ? 'it stands' : 'they stand'}, none of them off (${left.slice(0, 8).join(', ')}${left.length > 8 ? ', ...' : ''}); \`sanshift run\` again continues.\n`);
    return ExitCode.stoppedEarly;
  }
  return ExitCode.ok;
}

/** Each VM's host and the array of each of its disks, where the metrics count its resync. */
function placementOf(vms: readonly VmPlan[]): Map<string, MetricsPlacement> {
  return new Map(vms.map((v) => [v.name, { host: v.host, arrays: v.disks.map((d) => d.array ?? unnamedArrayOf(v.host)) }]));
}

/** Each VM's size when preflight read every one of its disks: the fleet ETA counts in bytes. */
function plannedBytes(vms: readonly VmPlan[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of vms) if (v.disks.length > 0 && v.disks.every((d) => d.sizeBytes !== undefined)) out.set(v.name, v.disks.reduce((a, d) => a + d.sizeBytes!, 0));
  return out;
}

export async function runCommand(args: RunArgs, io: Io): Promise<number> {
  // what can be refused without a host is refused before any is contacted
  if (args.plan !== undefined && args.vm.length > 0) {
    throw InputError.one({ code: InputErrorCode.invalidInput, message: `run --plan ${args.plan} names its own VMs; ${args.vm.join(', ')} cannot be added or chosen`, hint: 'leave out the VM names, or make a plan of just those VMs: sanshift plan -i INVENTORY VM... -o FILE' });
  }
  const saved = args.plan === undefined ? undefined : { file: args.plan, plan: readPlanFile(args.plan), inventoryFile: args.inventory };
  if (args.metrics !== undefined) checkWritableFolder(args.metrics, '--metrics');
  const session = await openSession(args.inventory, args.stateDir);
  try {
    const vms = selectedNames(session.inventory, args.vm, args.selection ?? NO_SELECTION, session.stateDir);
    return await execute(session, io, vms, RunMode.migrate, { reverse: false, yes: args.yes, verb: 'migrate', ...opt('eventsTo', args.events), ...opt('verbosity', args.verbosity), ...opt('saved', saved), ...opt('metricsTo', args.metrics), ...opt('acceptUnchecked', args.acceptUnchecked) });
  } finally {
    await session.connections.close();
  }
}

export async function rollbackCommand(args: RollbackArgs, io: Io): Promise<number> {
  const named = typeof args.vm === 'string' ? [args.vm] : args.vm;
  const sel = args.selection ?? NO_SELECTION;
  // a rollback of the whole fleet by accident: never; name the VMs, or select them
  if (named.length === 0 && sel.limit.length === 0 && !sel.failed) {
    throw InputError.one({ code: InputErrorCode.invalidInput, message: 'rollback needs the VMs to roll back', hint: 'name them (sanshift rollback -i INV db1), or select them with --limit or --failed' });
  }
  const session = await openSession(args.inventory, args.stateDir);
  try {
    const vms = selectedNames(session.inventory, named, sel, session.stateDir);
    const common = { yes: args.yes, ...opt('eventsTo', args.events), ...opt('verbosity', args.verbosity) };
    if (args.reverse) return await execute(session, io, vms, RunMode.migrate, { ...common, reverse: true, verb: 'migrate back (reverse)' });
    return await execute(session, io, vms, RunMode.rollback, { ...common, reverse: false, verb: 'roll back' });
  } finally {
    await session.connections.close();
  }
}


export const runCli: CliCommand = {
  command: 'run [vm..]',
  describe: 'migrate the VMs (all, or those named): two short restarts each; running it again continues where things stand',
  builder: (y: Argv) =>
    withSelection(y)
      .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to migrate (default: every VM of the inventory)' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask for confirmation (needed when stdin is not a terminal)' })
      .option('events', { type: 'string', nargs: 1, describe: 'also write every event as one JSON object per line to FILE (appended), or - for stdout (docs/events.md)' })
      .option('plan', { type: 'string', nargs: 1, describe: 'execute exactly the plan saved by `sanshift plan -o FILE`; refused, naming every change, if the fleet or the inventory changed since' })
      .option('accept-unchecked', { type: 'boolean', default: false, describe: 'go on when a preflight check could not run (a host or its shell unreachable); they are listed first' })
      .option('metrics', { type: 'string', nargs: 1, describe: 'keep Prometheus metrics of the run in FILE (rewritten atomically every 5 s and at the end), for node_exporter\'s textfile collector (docs/observability.md)' })
      .example('$0 run -i fleet.yaml', 'migrate every VM of fleet.yaml, after a confirmation')
      .example('$0 run -i fleet.yaml --plan fleet.plan.json', 'migrate exactly the VMs of a reviewed plan, if nothing changed since')
      .example('$0 run -i fleet.yaml --yes --metrics /var/lib/node_exporter/textfile/sanshift.prom', 'with metrics for Prometheus')
      .example('$0 run -i fleet.yaml db1 --yes', 'pilot: migrate db1 alone, without asking')
      .example('$0 run -i fleet.yaml --yes --events run.jsonl', 'also log every event as JSON lines to run.jsonl')
      .example("$0 run -i fleet.yaml --limit 'group:web,db*' --exclude db9", 'a selection')
      .example('$0 run -i fleet.yaml --failed --yes', 'again, the VMs whose last run failed')
      .epilog('Each VM restarts twice: T1 onto its mirrors, T2 onto its new volumes. Running it again continues where things stand.\nAt the end, the run report is printed and written beside the journal (sanshift report shows it again).\nExit codes: 0 every VM done, 1 a VM failed, 2 invalid input or a stale --plan (nothing touched), 3 declined.'),
  run: (a, io) =>
    runCommand({ inventory: arg.string(a, 'inventory'), vm: arg.strings(a, 'vm'), yes: arg.flag(a, 'yes'), stateDir: arg.optString(a, 'state-dir'), events: arg.optString(a, 'events'), selection: selectionArgs(a), verbosity: verbosityOf(a), plan: arg.optString(a, 'plan'), metrics: arg.optString(a, 'metrics'), acceptUnchecked: arg.flag(a, 'accept-unchecked') }, io),
};

export const rollbackCli: CliCommand = {
  command: 'rollback [vm..]',
  describe: 'return VMs to their old volumes, from any phase before their cutover; after it, only with --reverse',
  builder: (y: Argv) =>
    withSelection(y)
      .positional('vm', { type: 'string', array: true, default: [], describe: 'the VMs to roll back (or select them with --limit / --failed; never all by default)' })
      .option('reverse', { type: 'boolean', default: false, describe: 'after a completed migration: migrate the VM back to its old volumes (two restarts)' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask for confirmation' })
      .option('events', { type: 'string', nargs: 1, describe: 'also write every event as one JSON object per line to FILE (appended), or - for stdout (docs/events.md)' })
      .example('$0 rollback -i fleet.yaml db1', 'db1 back on its old volumes, mirror gone, definition as before')
      .example('$0 rollback -i fleet.yaml db1 --reverse --yes', 'move a migrated db1 back to its old volumes')
      .example('$0 rollback -i fleet.yaml --failed', 'every VM whose last run failed, back on its old volumes'),
  run: (a, io) => rollbackCommand({ inventory: arg.string(a, 'inventory'), vm: arg.strings(a, 'vm'), reverse: arg.flag(a, 'reverse'), yes: arg.flag(a, 'yes'), stateDir: arg.optString(a, 'state-dir'), events: arg.optString(a, 'events'), selection: selectionArgs(a), verbosity: verbosityOf(a) }, io),
};
