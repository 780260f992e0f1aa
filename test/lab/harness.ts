// What the lab scenarios and the demo share: sanshift as a real subprocess against the lab,
// its journal read from outside, and the checks of the end state (content, placement, md).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_DIR, LAB_WORK, type ContentRun, type Lab, type TenantSpec } from './lab.js';
import { labInventory, type LabInventoryOptions } from './inventory.js';

export const REPO = join(LAB_DIR, '..', '..');
const WRITE_MID_RESYNC = join(LAB_DIR, 'guest', 'write-mid-resync.sh');
const SANSHIFT = join(REPO, 'bin', 'sanshift.js');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A journal record as the scenarios read it (src/engine/journal.ts writes them). */
export interface Rec {
  run: string;
  at: string;
  kind: string;
  vm?: string;
  step?: string;
  target?: string;
  detail?: Record<string, unknown>;
  reason?: string;
  outcome?: string;
}

/** The disks a journal record covers: the engine acts on all of a VM's disks in one step
 * (`detail.targets`), naming `target` only when there is one. */
export function targetsOfRec(r: Rec): string[] {
  const list = r.detail?.['targets'];
  if (Array.isArray(list)) return list.filter((t): t is string => typeof t === 'string');
  return r.target === undefined ? [] : [r.target];
}

/** One folder per scenario: its inventory and sanshift's state folder (.sanshift) beside it.
 * The inventory holds the lab host and the tenants given, plus any other lab hosts. */
export class Workspace {
  readonly dir: string;
  readonly inventory: string;
  constructor(
    readonly name: string,
    readonly lab: Lab,
    readonly tenants: readonly TenantSpec[],
    readonly otherHosts: readonly { lab: Lab; tenants: readonly TenantSpec[] }[] = [],
  ) {
    this.dir = join(LAB_WORK, `run-${lab.sshPort}`, 'scenarios', name);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    this.inventory = join(this.dir, 'inventory.yaml');
    this.writeInventory({});
  }

  writeInventory(o: Partial<Omit<LabInventoryOptions, 'hosts' | 'sshPort' | 'tenants'>>): void {
    const hosts = [{ lab: this.lab, tenants: this.tenants }, ...this.otherHosts].map((h) => ({ name: h.lab.hostName, sshPort: h.lab.sshPort, tenants: h.tenants }));
    writeFileSync(this.inventory, labInventory({ keyFile: this.lab.keyFile, hosts, ...o }));
  }

  /** Every journal record of every run, in file order; a torn last line is skipped. `stateDir`:
   * a run's own state folder (--state-dir), else the workspace's. */
  journal(stateDir: string = join(this.dir, '.sanshift')): Rec[] {
    const runs = join(stateDir, 'runs');
    if (!existsSync(runs)) return [];
    const out: Rec[] = [];
    for (const f of readdirSync(runs).filter((n) => n.endsWith('.jsonl')).sort()) {
      for (const line of readFileSync(join(runs, f), 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try { out.push(JSON.parse(line) as Rec); } catch { /* torn by a SIGKILL */ }
      }
    }
    return out;
  }

  /** Resolves with the first record that matches, polling the journal files. */
  async waitForRecord(what: string, match: (r: Rec) => boolean, timeoutMs: number, proc?: Sanshift, stateDir?: string): Promise<Rec> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.journal(stateDir).find(match);
      if (hit) return hit;
      if (proc?.exited) throw new Error(`sanshift exited (${proc.exitCode}) before the journal showed ${what}; log ${proc.logFile}`);
      if (Date.now() > deadline) throw new Error(`the journal did not show ${what} within ${timeoutMs / 1000}s`);
      await sleep(50);
    }
  }

  /** Resolves when `count` records match (a later run hitting the same boundary again). */
  async waitForCount(what: string, match: (r: Rec) => boolean, count: number, timeoutMs: number, proc?: Sanshift): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.journal().filter(match).length >= count) return;
      if (proc?.exited) throw new Error(`sanshift exited (${proc.exitCode}) before the journal showed ${what}; log ${proc.logFile}`);
      if (Date.now() > deadline) throw new Error(`the journal did not show ${what} within ${timeoutMs / 1000}s`);
      await sleep(50);
    }
  }

  sanshift(args: string[], o: { echo?: boolean } = {}): Sanshift {
    return new Sanshift(this, args, o.echo ?? false);
  }
}

let runCount = 0;
/** sanshift processes still running, by the workspace that started them */
const live = new Set<Sanshift>();

/** SIGKILLs what a workspace left running (a scenario that threw midway; scenarios name their
 * workspace after their id). */
export async function killLeftoverSanshifts(workspace: string): Promise<void> {
  await Promise.all([...live].filter((p) => p.workspace === workspace).map((p) => p.kill()));
}

/** `node bin/sanshift.js ARGS -i INVENTORY`, a real process (SIGKILL is real). */
export class Sanshift {
  readonly child: ChildProcess;
  readonly logFile: string;
  exited = false;
  exitCode: number | null = null;
  readonly done: Promise<number>;
  readonly startedAt = Date.now();
  readonly workspace: string;

  constructor(ws: Workspace, readonly args: string[], echo: boolean) {
    this.workspace = ws.name;
    this.logFile = join(ws.dir, `sanshift-${++runCount}-${args[0]}.log`);
    const fd = openSync(this.logFile, 'w');
    const argv = [SANSHIFT, ...args, '-i', ws.inventory];
    writeFileSync(fd, `$ sanshift ${args.join(' ')} -i ${ws.inventory}\n`);
    this.child = spawn(process.execPath, argv, { cwd: ws.dir, stdio: ['ignore', echo ? 'pipe' : fd, echo ? 'pipe' : fd] });
    if (echo) {
      for (const s of [this.child.stdout, this.child.stderr]) s?.on('data', (b: Buffer) => { process.stdout.write(b); writeFileSync(this.logFile, b, { flag: 'a' }); });
    }
    closeSync(fd);
    live.add(this);
    this.done = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      live.delete(this);
      this.exited = true;
      this.exitCode = code ?? (signal === 'SIGKILL' ? 137 : 128);
      resolve(this.exitCode);
    }));
  }

  async kill(): Promise<void> {
    if (!this.exited && this.child.pid) process.kill(this.child.pid, 'SIGKILL');
    await this.done;
  }

  /** waits for the exit; past timeoutMs, SIGKILLs it and throws */
  async finish(timeoutMs: number): Promise<number> {
    const timer = sleep(timeoutMs).then(() => 'timeout' as const);
    const r = await Promise.race([this.done, timer]);
    if (r === 'timeout') {
      await this.kill();
      throw new Error(`sanshift ${this.args.join(' ')} did not finish within ${timeoutMs / 1000}s; log ${this.logFile}`);
    }
    return r;
  }

  log(): string {
    return readFileSync(this.logFile, 'utf8');
  }
}

/** What a check found wrong, if anything. */
export type Problems = string[];

export interface Write {
  tag: string;
  atMiB: number;
  countMiB: number;
}

/** The runs a volume's content map must show: its own pattern, overlaid by the writes. */
export function expectedRuns(volume: string, sizeMiB: number, writes: readonly Write[]): ContentRun[] {
  const tags: string[] = Array.from({ length: sizeMiB }, () => volume);
  for (const w of writes) for (let i = w.atMiB; i < w.atMiB + w.countMiB; i++) tags[i] = w.tag;
  const runs: ContentRun[] = [];
  tags.forEach((tag, i) => {
    const last = runs[runs.length - 1];
    if (last && last.tag === tag && last.toMiB === i) last.toMiB = i + 1;
    else runs.push({ tag, fromMiB: i, toMiB: i + 1, intact: true });
  });
  return runs;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** NEW of every disk of the tenants holds OLD's original content plus the writes made to it. */
export async function checkNewContent(lab: Lab, tenants: readonly TenantSpec[], writes: ReadonlyMap<string, Write[]>): Promise<Problems> {
  const problems: Problems = [];
  for (const t of tenants) {
    for (const d of t.disks) {
      const want = expectedRuns(d.oldVolume, d.sizeMiB, writes.get(d.newVolume) ?? []);
      const map = await lab.contentMap(`/dev/mapper/${d.newVolume}`);
      if (!same(map.runs, want)) problems.push(`${d.newVolume} holds ${JSON.stringify(map.runs)}, expected ${JSON.stringify(want)}`);
    }
  }
  return problems;
}

/** the block sources of a domain, live or from its persistent definition */
export async function sources(lab: Lab, vm: string, inactive: boolean): Promise<string[]> {
  const out = await lab.virsh(['domblklist', ...(inactive ? ['--inactive'] : []), vm]);
  return out.split('\n').slice(2).map((l) => l.trim().split(/\s+/)[1] ?? '').filter((s) => s.startsWith('/'));
}

/** md arrays holding any volume of these tenants (other scenarios may run beside them) */
export async function arraysOf(lab: Lab, tenants: readonly TenantSpec[]): Promise<string[]> {
  const volumes = tenants.flatMap((t) => t.disks.flatMap((d) => [`/dev/mapper/${d.oldVolume}`, `/dev/mapper/${d.newVolume}`]));
  const knames = new Set((await lab.guestRun(['readlink', '-f', ...volumes])).stdout.split('\n').filter(Boolean).map((p) => p.replace('/dev/', '')));
  return (await lab.mdstat()).split(/\n(?=md\d+ :)/).filter((b) => /^md\d+ :/.test(b))
    .filter((b) => [...b.split('\n')[0]!.matchAll(/ ([a-z0-9-]+)\[\d+\]/g)].some((m) => knames.has(m[1]!)))
    .map((b) => b.trim());
}

/** The state of (a): runs on NEW, defined on NEW, no sanshift metadata left, no md array. */
export async function checkMigrated(lab: Lab, tenants: readonly TenantSpec[], opts: { expectRunning?: boolean } = {}): Promise<Problems> {
  const problems: Problems = [];
  for (const t of tenants) {
    const news = t.disks.map((d) => `/dev/mapper/${d.newVolume}`);
    const state = await lab.domainState(t.name);
    if ((opts.expectRunning ?? true) && state !== 'running') problems.push(`${t.name} is ${state}, not running`);
    if (state === 'running' && !same(await sources(lab, t.name, false), news)) problems.push(`${t.name} runs on ${(await sources(lab, t.name, false)).join(',')}, not on NEW`);
    if (!same(await sources(lab, t.name, true), news)) problems.push(`${t.name}'s persistent definition is on ${(await sources(lab, t.name, true)).join(',')}, not on NEW`);
    for (const flag of state === 'running' ? [[], ['--inactive']] : [['--inactive']]) {
      const xml = await lab.virsh(['dumpxml', ...flag, t.name]);
      // sanshift's own element or namespace (the Linux tenant's kernel path says sanshift-lab)
      if (/<sanshift:|sanshift\.dev\/xmlns/.test(xml)) problems.push(`${t.name}'s ${flag.length ? 'inactive' : 'live'} XML still holds sanshift metadata`);
    }
  }
  const left = await arraysOf(lab, tenants);
  if (left.length > 0) problems.push(`md arrays left: ${left.join('\n')}`);
  return problems;
}

/** The tenant is back on OLD as before: running on OLD, its original definition, no mirror. */
export async function checkOnOld(lab: Lab, t: TenantSpec, originalInactiveXml: string): Promise<Problems> {
  const problems: Problems = [];
  const olds = t.disks.map((d) => `/dev/mapper/${d.oldVolume}`);
  const state = await lab.domainState(t.name);
  if (state !== 'running') problems.push(`${t.name} is ${state}, not running`);
  else if (!same(await sources(lab, t.name, false), olds)) problems.push(`${t.name} runs on ${(await sources(lab, t.name, false)).join(',')}, not on OLD`);
  const now = await lab.virsh(['dumpxml', '--inactive', t.name]);
  if (now !== originalInactiveXml) problems.push(`${t.name}'s definition differs from the original:\n--- before\n${originalInactiveXml}\n--- after\n${now}`);
  const left = await arraysOf(lab, [t]);
  if (left.length > 0) problems.push(`md arrays left: ${left.join('\n')}`);
  return problems;
}

/** md kernel name behind /dev/md/NAME and whether it is recovering now, in one ssh call */
export async function mirrorState(lab: Lab, mirror: string): Promise<{ kernelName: string | null; recovering: boolean; mdstat: string }> {
  const r = await lab.ssh(['sh', '-c', `readlink -f ${mirror} 2>/dev/null; echo ---; cat /proc/mdstat`]);
  const [link = '', mdstat = ''] = r.stdout.split('---\n');
  const kernelName = /^\/dev\/(md\d+)$/.exec(link.trim())?.[1] ?? null;
  if (kernelName === null) return { kernelName, recovering: false, mdstat };
  const block = mdstat.split(/\n(?=md\d+ :)/).find((b) => b.startsWith(`${kernelName} :`)) ?? '';
  return { kernelName, recovering: /recovery =/.test(block), mdstat };
}

/** Downtime per VM and window from the journal: from a shutdown's result to the next start's. */
export function downtimesFromJournal(records: readonly Rec[]): Map<string, { window: string; ms: number }[]> {
  const out = new Map<string, { window: string; ms: number }[]>();
  const downAt = new Map<string, { at: number; window: string }>();
  for (const r of records) {
    if (r.kind !== 'result' || !r.vm) continue;
    if (r.step === 'shutdown-vm') downAt.set(r.vm, { at: Date.parse(r.at), window: String(r.detail?.['phase'] ?? '?') });
    if (r.step === 'start-on-mirror' || r.step === 'start-on-new' || r.step === 'start-on-old') {
      const d = downAt.get(r.vm);
      if (d) {
        out.set(r.vm, [...(out.get(r.vm) ?? []), { window: d.window, ms: Date.parse(r.at) - d.at }]);
        downAt.delete(r.vm);
      }
    }
  }
  return out;
}

/** The journal steps that open and close a VM's down windows. The engine names them; when its
 * names change, this is the one place to follow them. */
export const WINDOW_STEPS = {
  /** its intent opens the window; detail.phase says which (T1, T2, rollback) */
  shutdown: 'shutdown-vm',
  /** the start whose result closes each window */
  start: { T1: 'start-on-mirror', T2: 'start-on-new' },
} as const;

export type WindowName = keyof typeof WINDOW_STEPS.start;

/** One down window of one VM, from the journal's timestamps (ms). */
export interface WindowRow {
  vm: string;
  window: WindowName;
  /** from the shutdown's intent to the start's result: what the VM's users see */
  windowMs: number;
  /** the shutdown step: intent to result (the guest powering off, or the timeout and force) */
  shutdownMs: number;
  /** the start step: intent to result (libvirt starting qemu) */
  bootMs: number;
  /** everything else inside the window: sanshift's own work while the VM is off */
  overheadMs: number;
  /** ssh sessions the host started during the window, for any VM (when the lab logged them) */
  hostSessions?: number;
}

/** Each VM's T1 and T2 windows, taken apart (issue 9). A window interrupted by a kill (no start
 * result after its shutdown) is left out: it has no end to measure. */
export function windowReport(records: readonly Rec[], sessionStarts?: readonly number[]): WindowRow[] {
  const rows: WindowRow[] = [];
  const open = new Map<string, { window: WindowName; shutdownIntent: number; shutdownResult?: number; startIntent?: number }>();
  const at = (r: Rec): number => Date.parse(r.at);
  for (const r of records) {
    if (!r.vm || (r.kind !== 'intent' && r.kind !== 'result')) continue;
    const w = open.get(r.vm);
    if (r.step === WINDOW_STEPS.shutdown) {
      const phase = r.detail?.['phase'];
      if (r.kind === 'intent') {
        if (phase === 'T1' || phase === 'T2') open.set(r.vm, { window: phase, shutdownIntent: at(r) });
        else open.delete(r.vm);
      } else if (w) w.shutdownResult = at(r);
      continue;
    }
    if (!w || r.step !== WINDOW_STEPS.start[w.window]) continue;
    if (r.kind === 'intent') w.startIntent = at(r);
    else if (w.shutdownResult !== undefined && w.startIntent !== undefined) {
      const windowMs = at(r) - w.shutdownIntent;
      const shutdownMs = w.shutdownResult - w.shutdownIntent;
      const bootMs = at(r) - w.startIntent;
      const row: WindowRow = { vm: r.vm, window: w.window, windowMs, shutdownMs, bootMs, overheadMs: windowMs - shutdownMs - bootMs };
      if (sessionStarts) row.hostSessions = sessionStarts.filter((t) => t >= w.shutdownIntent && t <= at(r)).length;
      rows.push(row);
      open.delete(r.vm);
    }
  }
  return rows.sort((a, b) => a.vm.localeCompare(b.vm) || a.window.localeCompare(b.window));
}

/** The window report as a table, seconds with one decimal. */
export function formatWindowTable(rows: readonly WindowRow[]): string {
  const s = (ms: number): string => (ms / 1000).toFixed(1);
  const sessions = rows.some((r) => r.hostSessions !== undefined);
  const header = ['vm', 'window', 'window s', 'shutdown s', 'boot s', 'overhead s', ...(sessions ? ['host ssh sessions'] : [])];
  const body = rows.map((r) => [r.vm, r.window, s(r.windowMs), s(r.shutdownMs), s(r.bootMs), s(r.overheadMs), ...(sessions ? [String(r.hostSessions ?? '')] : [])]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...body.map(line)].join('\n');
}

/** The most md mirrors that existed at once on each host, from the journal: a mirror exists
 * from its build-mirror intent to its stop-mirror result (one per VM and target). */
export function mirrorsAtOnce(records: readonly Rec[], hostOf: (vm: string) => string): Map<string, number> {
  const events: { at: number; host: string; delta: number }[] = [];
  const open = new Map<string, { at: number; host: string }>();
  for (const r of records) {
    if (!r.vm) continue;
    for (const target of targetsOfRec(r)) {
      const key = `${r.vm}/${target}`;
      if (r.step === 'build-mirror' && r.kind === 'intent' && !open.has(key)) open.set(key, { at: Date.parse(r.at), host: hostOf(r.vm) });
      if (r.step === 'stop-mirror' && r.kind === 'result') {
        const o = open.get(key);
        if (o) {
          events.push({ at: o.at, host: o.host, delta: 1 }, { at: Date.parse(r.at), host: o.host, delta: -1 });
          open.delete(key);
        }
      }
    }
  }
  // a mirror never stopped lasts to the end
  for (const o of open.values()) events.push({ at: o.at, host: o.host, delta: 1 });
  // at one instant, an end before a start: a stop followed by a build is not an overlap
  events.sort((x, y) => x.at - y.at || x.delta - y.delta);
  const now = new Map<string, number>();
  const most = new Map<string, number>();
  for (const e of events) {
    const n = (now.get(e.host) ?? 0) + e.delta;
    now.set(e.host, n);
    most.set(e.host, Math.max(most.get(e.host) ?? 0, n));
  }
  return most;
}

export interface MidResyncWrites {
  /** new volume → the writes NEW must hold after the cutover */
  writes: Map<string, Write[]>;
  /** old volume ranges overwritten through the mirrors (a reset restores them) */
  dirtied: { volume: string; atMiB: number; countMiB: number }[];
  /** per mirror: was it still resyncing after the writes? */
  landedMidResync: Map<string, boolean>;
  /** /proc/mdstat and mdadm --detail of each mirror right after its writes */
  seen: Map<string, { mdstat: string; detail: string }>;
}

/** Writes a pattern through every mirror of the tenant once it resyncs, as the tenant would:
 * one range ahead of the resync point (md copies it later) and one behind it (md writes both
 * legs). Waits up to timeoutMs for each mirror to resync; the waiting and writing run in the
 * lab host in one command per mirror (guest/write-mid-resync.sh), so the writes follow the
 * resync's start within a second or two even on a loaded lab. */
export async function writeDuringResync(lab: Lab, t: TenantSpec, timeoutMs: number, out: MidResyncWrites = { writes: new Map(), dirtied: [], landedMidResync: new Map(), seen: new Map() }): Promise<MidResyncWrites> {
  await Promise.all(t.disks.map(async (d) => {
    const mirror = `/dev/md/ss-${t.name}-${d.target}`;
    const tag = `w-${t.name}-${d.target}`;
    const ranges: Write[] = [{ tag, atMiB: d.sizeMiB - 5, countMiB: 3 }, { tag, atMiB: 1, countMiB: 2 }];
    const [ahead, behind] = [ranges[0]!, ranges[1]!];
    const r = await lab.ssh(['bash', WRITE_MID_RESYNC, mirror, tag, String(ahead.atMiB), String(ahead.countMiB), String(behind.atMiB), String(behind.countMiB), String(Math.ceil(timeoutMs / 1000))], { timeoutMs: timeoutMs + 120_000 });
    if (r.exitCode !== 0) throw new Error(`writing through ${mirror} mid-resync: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    const m = /^landed-mid-resync (yes|no)\n([\s\S]*?)\n---detail---\n([\s\S]*)$/.exec(r.stdout);
    if (!m) throw new Error(`write-mid-resync.sh said: ${r.stdout}`);
    out.landedMidResync.set(mirror, m[1] === 'yes');
    // $(< file) dropped /proc/mdstat's closing newline
    out.seen.set(mirror, { mdstat: `${m[2]!}\n`, detail: m[3]! });
    out.writes.set(d.newVolume, ranges);
    for (const w of ranges) out.dirtied.push({ volume: d.oldVolume, atMiB: w.atMiB, countMiB: w.countMiB });
  }));
  return out;
}
