// A fleet for engine tests: libvirt's test driver (real libvirt, in process) for the domains,
// the simulated md host for the commands, a virtual clock, a temp state folder. `restart()`
// gives a new engine (new Connections, journal read back from disk) over the same hosts, as
// after a crash of the process: libvirt and md state survive, engine memory does not.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connections } from '../../src/engine/connections.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { historyReader, runFleet, RunMode, type RunSummary } from '../../src/engine/run.js';
import { newRunId } from '../../src/engine/journal.js';
import type { SimulatedHost } from '../../src/host/simulated.js';
import { HypervisorPool } from '../../src/hypervisor/libvirt.js';
import type { CommandResult, RunOptions } from '../../src/host/runner.js';
import type { Hypervisor } from '../../src/hypervisor/port.js';
import { parseInventory } from '../../src/inventory/parse.js';
import type { Inventory } from '../../src/inventory/types.js';
import { planFleet, type PlanOutcome } from '../../src/plan/fleet-plan.js';
import { VirtualClock } from '../../src/util/clock.js';
import { probeArgv } from '../../src/host/probe.js';
import { MD_ACT_SCRIPT } from '../../src/host/scripts.js';

export const NODE_XML = join(process.cwd(), 'fixtures/testdriver/node.xml');

export const BASE_INVENTORY = `
hosts:
  hv1:
    testDriverNode: node.xml
    shell: simulated
vms:
  - name: web1
    host: hv1
    simulate: { sizes: { vda: 1GiB } }
  - name: db1
    host: hv1
    simulate: { sizes: { vda: 2GiB, vdb: 1GiB } }
  - name: dns1
    host: hv1
    simulate: { sizes: { vda: 1GiB } }
mapping:
  - from: '^/dev/mapper/old-(.+)$'
    to: '/dev/mapper/new-$1'
policy:
  shutdownTimeout: 60s
  onShutdownTimeout: force
  pollInterval: 5s
  resyncSpeedMax: 20MiB/s   # 1 GiB takes about 50 s: long enough to act in mid-resync
  health: { settle: 10s }
`;

export class Fleet {
  readonly dir = mkdtempSync(join(tmpdir(), 'sanshift-engine-'));
  readonly stateDir = join(this.dir, '.sanshift');
  readonly clock = new VirtualClock(Date.UTC(2026, 10, 24, 2, 0, 0));
  readonly pool = new HypervisorPool();
  readonly simulated = new Map<string, SimulatedHost>();
  readonly events: EngineEvent[] = [];
  inventory: Inventory;
  connections: Connections;
  /** called with every engine event, to act in the middle of a run (not awaited by the engine) */
  onEvent: ((e: EngineEvent) => void) | undefined;
  /** wraps the hypervisor of a host, to inject faults */
  hvWrapper: ((hv: Hypervisor) => Hypervisor) | undefined;
  /** the next runs' stop signal (a second Ctrl-C) */
  stop: AbortSignal | undefined;

  /** `editNode` changes the test driver's domains before anything reads them. */
  constructor(inventoryYaml: string = BASE_INVENTORY, editNode?: (nodeXml: string) => string) {
    if (editNode === undefined) copyFileSync(NODE_XML, join(this.dir, 'node.xml'));
    else writeFileSync(join(this.dir, 'node.xml'), editNode(readFileSync(NODE_XML, 'utf8')));
    writeFileSync(join(this.dir, 'inventory.yaml'), inventoryYaml);
    this.inventory = parseInventory(inventoryYaml, join(this.dir, 'inventory.yaml'));
    this.connections = this.connect();
  }

  private connect(): Connections {
    const c = new Connections(this.inventory, { clock: this.clock, stateDir: this.stateDir, pool: this.pool, simulated: this.simulated });
    const inner = c.hypervisor.bind(c);
    c.hypervisor = (host) => (this.hvWrapper === undefined ? inner(host) : this.hvWrapper(inner(host)));
    return c;
  }

  /** A new engine over the same hosts, as after the process died. */
  restart(): void {
    this.connections = this.connect();
  }

  hv(): Hypervisor {
    return this.connections.hypervisor(this.inventory.hosts.hv1!);
  }

  async sim(): Promise<SimulatedHost> {
    await this.connections.runnerOrThrow(this.inventory.hosts.hv1!);
    return this.simulated.get('hv1')!;
  }

  async plan(vms: string[] = [], reverse = false): Promise<PlanOutcome> {
    return planFleet(this.inventory, this.connections, { vms, runId: newRunId(this.clock.now()), now: new Date(this.clock.now()), history: historyReader(this.stateDir), reverse });
  }

  async run(vms: string[] = [], mode: RunMode = RunMode.migrate, reverse = false): Promise<RunSummary> {
    const outcome = await this.plan(vms, reverse);
    if (outcome.problems.length > 0) throw new Error(outcome.problems.map((p) => p.message).join('\n'));
    return runFleet({ plan: outcome.plan, inventory: this.inventory, connections: this.connections, clock: this.clock, stateDir: this.stateDir, runId: newRunId(this.clock.now()), mode, operatorCommandsInRehearsal: true, ...(this.stop === undefined ? {} : { stop: this.stop }), emit: (e) => {
      this.events.push(e);
      this.onEvent?.(e);
    } });
  }
}

/** The side effects the engine can have on a host, by name, in the order they happen. */
export type Effect = { what: string; when: 'before' | 'after' };

const MUTATING_HV = ['shutdown', 'destroy', 'define', 'start', 'startWithLiveXml'] as const;

/** The groups (VERB MIRROR OLD NEW SPEED) of an md action session, or null for any other command. */
function mdGroups(argv: readonly string[]): string[][] | null {
  if (argv[0] !== 'sh' || argv[2] !== MD_ACT_SCRIPT) return null;
  // after NAME: the lease words (owner, VM, ttl), then the groups
  const words = argv.slice(7);
  const groups: string[][] = [];
  for (let i = 0; i + 5 <= words.length; i += 5) groups.push(words.slice(i, i + 5));
  return groups;
}

/**
 * Stops the engine dead at the n-th side effect, before or after it happens, as a SIGKILL
 * would: the promise of that call never settles, so nothing after it runs. Returns the list
 * of effects seen, so a first clean run can count them.
 */
export async function injectCrash(fleet: Fleet, crashAt: { n: number; when: 'before' | 'after' } | undefined): Promise<{ effects: Effect[]; crashed: Promise<void> }> {
  const seen: Effect[] = [];
  let count = 0;
  // once dead, nothing the old process asks ever gets an answer: not its deadlines, not its
  // polls (a killed process does not time out and go on)
  let dead = false;
  const never = <T>(): Promise<T> => new Promise<T>(() => {});
  let crash: () => void = () => {};
  const crashed = new Promise<void>((resolve) => {
    crash = () => {
      dead = true;
      resolve();
    };
  });
  const gate = async <T>(what: string, act: () => Promise<T>): Promise<T> => {
    if (dead) return never();
    count++;
    if (crashAt !== undefined && count === crashAt.n && crashAt.when === 'before') {
      seen.push({ what, when: 'before' });
      crash();
      return never();
    }
    const out = await act();
    seen.push({ what, when: 'after' });
    if (crashAt !== undefined && count === crashAt.n && crashAt.when === 'after') {
      crash();
      return never();
    }
    return out;
  };
  // Above the per-host guard: a command the dead process sent never times out.
  const connections = fleet.connections;
  const tracked = connections.trackedRunner.bind(connections);
  connections.trackedRunner = async (host) => {
    const inner = await tracked(host);
    // Each group of an md action session is its own side effect: a process killed in
    // mid-session leaves the first groups done and the rest not (the remote script dies at its
    // next write). The answer is put back together as the script prints it.
    const run = async (argv: readonly string[], options?: RunOptions): Promise<CommandResult> => {
      if (dead) return never();
      const groups = mdGroups(argv);
      if (groups === null) return inner.run(argv, options);
      const lines: string[] = [];
      let last = undefined as CommandResult | undefined;
      let failed = false;
      for (const g of groups) {
        if (failed) {
          lines.push(`skip ${g[0]} ${g[1]}`);
          continue;
        }
        const r = await gate(`md ${g[0]} ${g[1]!.replace('/dev/md/', '')}`, () => inner.run([...argv.slice(0, 7), ...g], options));
        const out = r.stdout.split('\n');
        const acted = out.slice(1, out.findIndex((l) => l.startsWith('#probe ')));
        lines.push(...acted);
        if (acted.some((l) => l.startsWith('fail '))) failed = true;
        last = r;
      }
      // the script's closing probe covers every path of every group
      const probe = (await inner.run(probeArgv('state', groups.flatMap((g) => g.slice(1, 4))), options)).stdout;
      return { ...last!, argv: [...argv], stdout: `#act 1\n${lines.join('\n')}\n${probe}` };
    };
    return { host: inner.host, kind: inner.kind, run, close: () => inner.close() };
  };
  fleet.hvWrapper = (hv) => {
    const wrapped = Object.create(hv) as Hypervisor;
    for (const key of Object.getOwnPropertyNames(Object.getPrototypeOf(hv)).concat(Object.keys(hv))) {
      const value = (hv as unknown as Record<string, unknown>)[key];
      if (typeof value !== 'function' || key === 'constructor' || key === 'close') continue;
      const mutating = (MUTATING_HV as readonly string[]).includes(key);
      (wrapped as unknown as Record<string, unknown>)[key] = (...args: unknown[]) =>
        mutating ? gate(`virsh ${key}`, () => (value as (...a: unknown[]) => Promise<unknown>).apply(hv, args)) : dead ? never() : (value as (...a: unknown[]) => Promise<unknown>).apply(hv, args);
    }
    return wrapped;
  };
  return { effects: seen, crashed };
}

/** After a crash: the dead process's locks are stale, the wrappers go, a new engine starts. */
export async function recoverFromCrash(fleet: Fleet): Promise<void> {
  const { rmSync } = await import('node:fs');
  rmSync(join(fleet.stateDir, 'locks'), { recursive: true, force: true });
  fleet.hvWrapper = undefined;
  fleet.clock.forgetInFlight();
  // the dead run's leases on the host have run out by the time it is run again (in this test
  // process the dead run's pid is alive, so sanshift could not tell it is dead)
  for (const sim of fleet.simulated.values()) sim.expireLeases();
  fleet.restart();
}
