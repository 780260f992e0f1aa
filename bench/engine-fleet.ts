// The real engine's makespan against its lower bound (issue 14): `sanshift simulate --json`
// through main(), the real engine on libvirt test-driver hosts and simulated md hosts on a virtual
// clock, over the 30-VM example and over a generated fleet written as test-driver hosts. Beside
// it, on the same fleet (arrays read from the domains, the engine's timings): the scheduler's
// model, and naive fixed waves, each over the same bound.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { main } from '../src/cli/main.js';
import { RecordingIo } from '../src/cli/io.js';
import { ENGINE_TIMINGS, SIMULATED_DISK_SPEED_KIB, type Rehearsal } from '../src/cli/simulate.js';
import { Connections, DEFAULT_GUEST_TIMES, DEFAULT_SIMULATED_SIZE } from '../src/engine/connections.js';
import { loadInventory } from '../src/inventory/load.js';
import { planBundles } from '../src/plan/bundles.js';
import { generateFleet } from '../src/plan/fleet-gen.js';
import { fleetVmsFromPlan } from '../src/plan/fleet-input.js';
import { planFleet } from '../src/plan/fleet-plan.js';
import { simulateFleet } from '../src/plan/fleet-sim.js';
import { VirtualClock } from '../src/util/clock.js';
import { testDriverNode } from './test-driver-node.js';

export interface EngineRatio {
  vms: number;
  makespanMin: number;
  lowerBoundMin: number;
  bottleneck: string;
  /** the engine's makespan over the bound */
  engineRatio: number;
  /** the scheduler's model, same fleet, same timings, over the same bound */
  modelRatio: number;
  /** naive fixed waves (the model's WaveScheduler), over the same bound */
  naiveRatio: number;
  wallS: number;
}

const minutes = (ms: number) => Number((ms / 60_000).toFixed(1));

/** `generateFleet` as test-driver hosts: each disk's old volume names its array, which the
 * mapping rules read back, so the engine sees the arrays the model was given. */
export function writeGeneratedFleet(dir: string, vms: number, hosts: number, seed = 42): string {
  const fleet = generateFleet({ vms, hosts, seed });
  mkdirSync(dir, { recursive: true });
  const byHost = new Map<string, typeof fleet.vms>();
  for (const v of fleet.vms) byHost.set(v.host, [...(byHost.get(v.host) ?? []), v]);
  let n = 1;
  for (const [host, list] of byHost) {
    const domains = list.map((v) => ({ name: v.name, disks: v.disks.map((d) => ({ source: `/dev/mapper/old-${d.array}-${v.name}-${d.target}`, target: d.target })) }));
    writeFileSync(join(dir, `${host}.xml`), testDriverNode(domains, n));
    n += list.length;
  }
  const l = fleet.limits;
  const inventory = {
    hosts: Object.fromEntries([...byHost.keys()].sort().map((h) => [h, { testDriverNode: `${h}.xml`, shell: 'simulated' }])),
    vms: fleet.vms.map((v) => ({
      name: v.name,
      host: v.host,
      ...(v.dependsOn.length > 0 ? { dependsOn: [...v.dependsOn] } : {}),
      ...(v.antiAffinity.length > 0 ? { antiAffinity: [...v.antiAffinity] } : {}),
      simulate: { sizes: Object.fromEntries(v.disks.map((d) => [d.target, `${Math.round(d.sizeBytes / 1024 ** 3)}GiB`])) },
    })),
    mapping: Object.keys(l.arrayBandwidthKiB).map((a) => ({ from: `^/dev/mapper/old-${a}-(.+)$`, to: `/dev/mapper/new-${a}-$1`, array: a })),
    policy: { shutdownTimeout: '120s', onShutdownTimeout: 'force', resyncSpeedMax: `${fleet.resyncSpeedMaxKiB}KiB/s`, pollInterval: '10s', health: { settle: '10s' } },
    limits: {
      mirrorsPerHost: l.mirrorsPerHost,
      downWindows: l.downWindows,
      global: l.global,
      bundleMaxSize: l.bundleMaxSize,
      ...(l.hostBandwidthKiB === undefined ? {} : { hostBandwidth: `${l.hostBandwidthKiB}KiB/s` }),
      arrayBandwidth: Object.fromEntries(Object.entries(l.arrayBandwidthKiB).map(([a, k]) => [a, `${k}KiB/s`])),
    },
  };
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, stringify(inventory));
  return file;
}

/** The model and naive waves on the fleet as the engine sees it (the plan reads the domains). */
async function modelOn(inventoryFile: string, boundMs: number): Promise<{ modelRatio: number; naiveRatio: number }> {
  const inv = await loadInventory(inventoryFile);
  const clock = new VirtualClock(Date.UTC(2026, 0, 1));
  const stateDir = mkdtempSync(join(tmpdir(), 'sanshift-bench-model-'));
  const connections = new Connections(inv, { clock, stateDir, guestTimes: DEFAULT_GUEST_TIMES });
  try {
    const outcome = await planFleet(inv, connections, { runId: 'bench', now: new Date(clock.now()), withoutPreflight: true });
    const fleet = fleetVmsFromPlan(inv, outcome.plan, { defaultSizeBytes: DEFAULT_SIMULATED_SIZE });
    const scheduler = { seed: 0, mirrorSpeedKiB: SIMULATED_DISK_SPEED_KIB, ...(inv.policy.resyncSpeedMaxKiB === undefined ? {} : { resyncSpeedMaxKiB: inv.policy.resyncSpeedMaxKiB }) };
    const plan = planBundles(fleet, inv.limits);
    const run = (strategy?: { waveBundles: number }) => simulateFleet(fleet, inv.limits, { plan, timings: () => ENGINE_TIMINGS, scheduler, recordTimeline: false, ...(strategy === undefined ? {} : { strategy }) }).makespanMs / boundMs;
    return { modelRatio: Number(run().toFixed(4)), naiveRatio: Number(run({ waveBundles: plan.bundles.length }).toFixed(4)) };
  } finally {
    await connections.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export async function engineRatio(inventoryFile: string): Promise<EngineRatio> {
  const io = new RecordingIo();
  const t0 = performance.now();
  const code = await main(['simulate', '-i', inventoryFile, '--json'], io, {});
  const wallS = Number(((performance.now() - t0) / 1000).toFixed(1));
  if (code !== 0) throw new Error(`sanshift simulate -i ${inventoryFile} exited ${code}: ${io.stderr.slice(0, 2000)}`);
  const r = JSON.parse(io.stdout) as Rehearsal;
  if (r.source !== 'engine' || r.totals.done !== r.totals.vms) throw new Error(`the rehearsal of ${inventoryFile} did not run every VM on the engine: ${JSON.stringify(r.totals)}`);
  return {
    vms: r.totals.vms,
    makespanMin: minutes(r.makespanMs),
    lowerBoundMin: minutes(r.lowerBound.ms),
    bottleneck: r.lowerBound.bottleneck,
    engineRatio: Number(r.ratio.toFixed(4)),
    ...(await modelOn(inventoryFile, r.lowerBound.ms)),
    wallS,
  };
}

/** A generated fleet of `vms` VMs on one host per 5 VMs, through the engine. */
export async function engineRatioGenerated(vms: number): Promise<EngineRatio> {
  const dir = mkdtempSync(join(tmpdir(), 'sanshift-bench-engine-'));
  try {
    return await engineRatio(writeGeneratedFleet(dir, vms, Math.max(1, Math.round(vms / 5))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const vms = Number(process.argv[2] ?? 100);
  console.log(JSON.stringify(await engineRatioGenerated(vms)));
}
