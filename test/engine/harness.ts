// A fleet for engine tests: libvirt's test driver (real libvirt, in process) for the domains,
// the simulated md host for the commands, a virtual clock, a temp state folder. `restart()`
// gives a new engine (new Connections, journal read back from disk) over the same hosts, as
// after a crash of the process: libvirt and md state survive, engine memory does not.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connections } from '../../src/engine/connections.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { historyReader, runFleet, RunMode, type RunSummary } from '../../src/engine/run.js';
import { newRunId } from '../../src/engine/journal.js';
import type { SimulatedHost } from '../../src/host/simulated.js';
import { HypervisorPool } from '../../src/hypervisor/libvirt.js';
import type { Hypervisor } from '../../src/hypervisor/port.js';
import { parseInventory } from '../../src/inventory/parse.js';
import type { Inventory } from '../../src/inventory/types.js';
import { planFleet, type PlanOutcome } from '../../src/plan/fleet-plan.js';
import { VirtualClock } from '../../src/util/clock.js';

export const NODE_XML = join(process.cwd(), 'fixtures/testdriver/node.xml');

export const BASE_INVENTORY = `
hosts:
  hv1:
    uri: test:///node.xml
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
  /** wraps the hypervisor of a host, to inject faults */
  hvWrapper: ((hv: Hypervisor) => Hypervisor) | undefined;

  constructor(inventoryYaml: string = BASE_INVENTORY) {
    copyFileSync(NODE_XML, join(this.dir, 'node.xml'));
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

  async plan(vms: string[] = []): Promise<PlanOutcome> {
    return planFleet(this.inventory, this.connections, { vms, runId: newRunId(this.clock.now()), now: new Date(this.clock.now()), history: historyReader(this.stateDir) });
  }

  async run(vms: string[] = [], mode: RunMode = RunMode.migrate): Promise<RunSummary> {
    const outcome = await this.plan(vms);
    if (outcome.problems.length > 0) throw new Error(outcome.problems.map((p) => p.message).join('\n'));
    return runFleet({ plan: outcome.plan, inventory: this.inventory, connections: this.connections, clock: this.clock, stateDir: this.stateDir, runId: newRunId(this.clock.now()), mode, emit: (e) => this.events.push(e) });
  }
}
