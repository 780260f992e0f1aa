// The connections of one sanshift process to the hosts of an inventory: one libvirt
// connection per URI, one command runner per host. Hosts with `shell: simulated` get a
// simulated md host whose volumes are derived from the domains and the inventory, and a
// hypervisor wrapper that tells that host when a domain holds a mirror open.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { domainIdentity, hasGuestAgentChannel, listDisks } from '../domain/index.js';
import { GuardedRunner } from '../host/guarded.js';
import { LocalRunner } from '../host/local.js';
import type { CommandRunner } from '../host/runner.js';
import { SimulatedHost, type SimVolumeSpec } from '../host/simulated.js';
import { SshRunner } from '../host/ssh.js';
import { HypervisorError, HypervisorPool, isTestUri } from '../hypervisor/libvirt.js';
import type { Hypervisor, ShutdownRequest, XmlOptions } from '../hypervisor/port.js';
import { VirshOnHost } from '../hypervisor/virsh.js';
import { newVolumeFor } from '../inventory/mapping.js';
import type { HostSpec, Inventory } from '../inventory/types.js';
import type { PlanPorts } from '../plan/fleet-plan.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';

/** Size of a simulated volume when the inventory does not give one. */
export const DEFAULT_SIMULATED_SIZE = 20 * 1024 ** 3;

/** How long a simulated guest takes to power off and to boot, on the engine's clock. */
export interface SimulatedGuestTimes {
  shutdownMs: number;
  /** from a start to libvirt's answer: qemu runs and the guest begins to boot, as a real
   * `virsh start` returns (the engine's window ends there, on a real host as here) */
  startMs: number;
  /** from a start to the guest up: its agent answers, and it hears an ACPI power button */
  bootMs: number;
}

/** What a simulated host's sessions and libvirt calls cost on the engine's clock: a far or
 * loaded hypervisor (the windows benchmark uses 100 ms per command, 20 ms per call). */
export interface SimulatedCosts {
  commandMs: number;
  libvirtCallMs: number;
}

export const DEFAULT_GUEST_TIMES: SimulatedGuestTimes = { shutdownMs: 20_000, startMs: 2_000, bootMs: 30_000 };

export interface ConnectionOptions {
  clock: Clock;
  /** folder for ssh control sockets */
  stateDir: string;
  /** a ready-made pool (tests share one so the test driver's state survives an engine restart) */
  pool?: HypervisorPool;
  /** simulated hosts made by an earlier Connections (tests: an engine restart keeps md state) */
  simulated?: Map<string, SimulatedHost>;
  /** guest power-off and boot times on simulated hosts (default: none, for tests) */
  guestTimes?: SimulatedGuestTimes;
  /** what each host command and libvirt call costs on simulated hosts (default: nothing) */
  costs?: SimulatedCosts;
  /** where a rehearsal keeps its simulated fleet between commands (see saveRehearsal) */
  rehearsalDir?: string;
}

export class Connections implements PlanPorts {
  readonly pool: HypervisorPool;
  readonly simulated: Map<string, SimulatedHost>;
  private readonly runners = new Map<string, CommandRunner>();
  private readonly trackedRunners = new Map<string, CommandRunner>();
  private readonly wrapped = new Map<string, Hypervisor>();

  /** the clock's time when this Connections was made: a rehearsal command's start */
  private readonly openedAt: number;

  constructor(
    readonly inventory: Inventory,
    private readonly options: ConnectionOptions,
  ) {
    this.openedAt = options.clock.now();
    const t = inventory.policy.timeouts;
    this.pool = options.pool ?? HypervisorPool.withLimits({ callMs: t.libvirtCallMs, startMs: t.startMs, callsAtOnce: 8 });
    this.simulated = options.simulated ?? new Map();
  }

  /** true when any host of the inventory is simulated: nothing real is touched there */
  get rehearsal(): boolean {
    return Object.values(this.inventory.hosts).some((h) => h.shell === 'simulated');
  }

  /** A rehearsal host resumes from the fleet its last command left, when there is one. */
  private uriOf(host: HostSpec): string {
    const saved = this.savedNodeFile(host);
    return saved !== undefined && existsSync(saved) ? `test://${saved}` : host.uri;
  }

  private savedNodeFile(host: HostSpec): string | undefined {
    if (this.options.rehearsalDir === undefined || host.shell !== 'simulated' || !host.uri.startsWith('test:///') || host.uri === 'test:///default') return undefined;
    return join(this.options.rehearsalDir, `${host.name}.node.xml`);
  }

  /** What a rehearsal host's commands and calls cost: the host's own `simulate:` latencies,
   * else the costs this Connections was made with (benchmarks), else nothing. */
  private costsOf(host: HostSpec): SimulatedCosts {
    if (host.simulatedLatency !== undefined) return { commandMs: host.simulatedLatency.sessionMs, libvirtCallMs: host.simulatedLatency.libvirtCallMs };
    return this.options.costs ?? { commandMs: 0, libvirtCallMs: 0 };
  }

  hypervisor(host: HostSpec): Hypervisor {
    let w = this.wrapped.get(host.name);
    if (w === undefined) {
      const uri = this.uriOf(host);
      const hv = tracked(this.pool.get(host.name, uri), this.options.clock);
      // a real host answers what the binding cannot ask (shutdown modes, guest-ping) with virsh
      const real = isTestUri(uri) ? hv : new VirshOnHost(hv, () => this.trackedRunner(host));
      w = host.shell !== 'simulated' ? real : new RehearsalHypervisor(hv, () => this.simulated.get(host.name), this.options.clock, this.options.guestTimes ?? { shutdownMs: 0, startMs: 0, bootMs: 0 }, this.costsOf(host).libvirtCallMs);
      this.wrapped.set(host.name, w);
    }
    return w;
  }

  /** The host's runner for planning and the in-use index: the same guarded one the engine uses,
   * so a run's re-checks count against the host's session limit too. */
  async runner(host: HostSpec): Promise<CommandRunner | { unreachable: string }> {
    try {
      return await this.trackedRunner(host);
    } catch (err) {
      return { unreachable: errorMessage(err) };
    }
  }

  async runnerOrThrow(host: HostSpec): Promise<CommandRunner> {
    const known = this.runners.get(host.name);
    if (known !== undefined) return known;
    let runner: CommandRunner;
    if (host.shell === 'simulated') runner = await this.simulatedHost(host);
    else if (host.shell === 'local') runner = new LocalRunner({ host: host.name, sudo: host.sudo });
    else {
      // One master connection per process: close() ends it with `ssh -O exit`, which would cut
      // the commands in flight of any other sanshift process sharing it (`status` during a
      // `run`; seen in the lab). ssh's socket is DIR/%C (40 chars) plus a 17-char temporary
      // suffix, and a Unix socket path holds 107 bytes: a deep state folder falls back to /tmp.
      const stateControlDir = join(this.options.stateDir, 'ssh', String(process.pid));
      const controlDir = stateControlDir.length + 1 + 40 + 17 <= 107
        ? stateControlDir
        : join(tmpdir(), `sanshift-ssh-${process.getuid?.() ?? 'user'}`, String(process.pid));
      mkdirSync(controlDir, { recursive: true, mode: 0o700 });
      runner = new SshRunner(host.name, {
        destination: host.ssh!,
        ...(host.sshPort === undefined ? {} : { port: host.sshPort }),
        ...(host.sshIdentityFile === undefined ? {} : { identityFile: host.sshIdentityFile }),
        ...(host.sshOptions === undefined ? {} : { options: host.sshOptions }),
        controlDir,
        sudo: host.sudo,
      });
    }
    this.runners.set(host.name, runner);
    return runner;
  }

  /** The runner as the engine uses it: its I/O tracked by the clock. One object per host, so
   * that what is serialised per runner (md array creation, src/host/md.ts) is per host. */
  async trackedRunner(host: HostSpec): Promise<CommandRunner> {
    let t = this.trackedRunners.get(host.name);
    if (t === undefined) {
      const runner = await this.runnerOrThrow(host);
      // A simulated host does no I/O: it only waits on the clock (its command cost), and a wait
      // on the clock inside a tracked call would hold the clock still until the guard gives up.
      const io = host.shell === 'simulated' ? runner : tracked(runner, this.options.clock);
      t = new GuardedRunner(io, { clock: this.options.clock, timeoutMs: this.inventory.policy.timeouts.hostCommandMs, ...(this.inventory.limits.sessionsPerHost === undefined ? {} : { sessions: this.inventory.limits.sessionsPerHost }) });
      this.trackedRunners.set(host.name, t);
    }
    return t;
  }

  private async simulatedHost(host: HostSpec): Promise<SimulatedHost> {
    const known = this.simulated.get(host.name);
    if (known !== undefined) return known;
    const costMs = this.costsOf(host).commandMs;
    const sim = new SimulatedHost({ host: host.name, now: () => this.options.clock.now(), ...(costMs > 0 ? { commandCostMs: costMs, sleep: (ms: number) => this.options.clock.sleep(ms) } : {}) });
    const savedVolumes = this.savedNodeFile(host)?.replace(/\.node\.xml$/, '.volumes.json');
    const volumes =
      savedVolumes !== undefined && existsSync(savedVolumes)
        ? (JSON.parse(readFileSync(savedVolumes, 'utf8')) as SimVolumeSpec[])
        : await simulatedVolumes(this.inventory, host, this.pool.get(host.name, this.uriOf(host)));
    for (const v of volumes) sim.addVolume(v);
    this.simulated.set(host.name, sim);
    return sim;
  }

  async close(): Promise<void> {
    await this.saveRehearsal();
    await Promise.all([...this.runners.values()].map((r) => r.close()));
    // this process's control-socket folder, empty once its master has exited
    for (const r of this.runners.values()) if (r instanceof SshRunner) rmSync(r.target.controlDir, { recursive: true, force: true });
    await this.pool.closeAll();
  }

  /**
   * libvirt's test driver keeps its state in the process, so a rehearsal would forget every
   * change between two commands. Each command therefore leaves the simulated fleet as a host
   * would find it after a reboot: every domain's persistent definition and whether it runs,
   * and the host's volumes. (Mirrors do not survive, as on a real host; the engine treats that
   * like a host reboot in mid-resync.)
   */
  private async saveRehearsal(): Promise<void> {
    if (this.options.rehearsalDir !== undefined) {
      mkdirSync(this.options.rehearsalDir, { recursive: true });
      const time: RehearsalTime = { commandStartedAtMs: this.openedAt, commandEndedAtMs: this.options.clock.now() };
      writeFileSync(join(this.options.rehearsalDir, REHEARSAL_TIME_FILE), `${JSON.stringify(time)}\n`);
    }
    for (const host of Object.values(this.inventory.hosts)) {
      const file = this.savedNodeFile(host);
      const used = this.wrapped.get(host.name);
      if (file === undefined || used === undefined) continue;
      if (used instanceof RehearsalHypervisor && !used.changed) {
        // a command that changed nothing there (plan, status) does not read every domain of the
        // host again to save it: the fleet is as it was loaded
        if (!existsSync(file)) copyFileSync(this.uriOf(host).slice('test://'.length), file);
      } else {
        const hv = this.pool.get(host.name, this.uriOf(host));
        const domains: string[] = [];
        for (const name of await hv.listDomains()) {
          const st = await hv.lookup(name);
          const xml = (await hv.inactiveXml(name)).replace(/^<domain type='test'[^>]*>/, `<domain type='test' xmlns:test='${TEST_NS}'>`);
          domains.push(st?.id === null ? xml.replace(/<\/domain>\s*$/, `  <test:runstate>5</test:runstate>\n</domain>`) : xml);
        }
        writeFileSync(file, `<node>\n${domains.join('\n')}\n</node>\n`);
      }
      const sim = this.simulated.get(host.name);
      if (sim !== undefined) writeFileSync(file.replace(/\.node\.xml$/, '.volumes.json'), `${JSON.stringify(sim.volumeSpecs(), null, 1)}\n`);
    }
  }
}

const TEST_NS = 'http://libvirt.org/schemas/domain/test/1.0';

/** A rehearsal's virtual time, kept between its commands: the next command's clock starts where
 * the last one ended (or now, if later), so a `status` after a rehearsed run of hours sees the
 * run's records in its past. The last command's span is also what it cost on its hosts. */
export interface RehearsalTime {
  commandStartedAtMs: number;
  commandEndedAtMs: number;
}

const REHEARSAL_TIME_FILE = 'clock.json';

/** The rehearsal time the last command left in `rehearsalDir`, or null. */
export function readRehearsalTime(rehearsalDir: string): RehearsalTime | null {
  try {
    const t = JSON.parse(readFileSync(join(rehearsalDir, REHEARSAL_TIME_FILE), 'utf8')) as Partial<RehearsalTime>;
    return typeof t.commandStartedAtMs === 'number' && typeof t.commandEndedAtMs === 'number' ? { commandStartedAtMs: t.commandStartedAtMs, commandEndedAtMs: t.commandEndedAtMs } : null;
  } catch {
    return null;
  }
}

/** The volumes a simulated host has: every block source of its domains (the old SAN) and
 * every new volume the inventory maps them to, each the size the inventory gives. */
export async function simulatedVolumes(inv: Inventory, host: HostSpec, hv: Hypervisor): Promise<SimVolumeSpec[]> {
  const sizes = new Map<string, number>();
  const vmsHere = new Map(inv.vms.filter((v) => v.host === host.name).map((v) => [v.name, v]));
  for (const name of await hv.listDomains()) {
    const vm = vmsHere.get(name);
    for (const d of listDisks(await hv.inactiveXml(name))) {
      if (d.type !== 'block' || d.source === null) continue;
      const size = vm?.simulatedSizes?.[d.target] ?? DEFAULT_SIMULATED_SIZE;
      sizes.set(d.source, size);
      const explicit = vm?.disks?.[d.target];
      let target: string | undefined = explicit;
      if (target === undefined && vm !== undefined && vm.disks === undefined) {
        try {
          target = newVolumeFor(d.source, inv.mapping)?.new;
        } catch {
          target = undefined; // an unsafe mapping result is reported by the plan, not here
        }
      }
      if (target !== undefined && !sizes.has(target)) sizes.set(target, size);
    }
  }
  return [...sizes].map(([path, sizeBytes], i) => ({ path, kname: `dm-${i}`, sizeBytes }));
}

/** The hypervisor of a rehearsal host: libvirt's test driver, plus what a real host does that
 * the test driver does not. It tells the simulated md host when a running domain holds its
 * mirrors open (a held md device refuses `mdadm --stop`) and when a guest writes through them,
 * gives simulated guests their power-off and boot times, and charges each call its cost on the
 * engine's clock. */
class RehearsalHypervisor implements Hypervisor {
  /** libvirt calls made, for benchmarks */
  calls = 0;
  /** a call changed a domain (defined, started, stopped): the rehearsal must save the fleet */
  changed = false;
  /** when each guest this process started is up, on the clock: until then it still boots */
  private readonly upAt = new Map<string, number>();
  constructor(
    private readonly inner: Hypervisor,
    private readonly sim: () => SimulatedHost | undefined,
    private readonly clock: Clock,
    private readonly times: SimulatedGuestTimes,
    private readonly callCostMs: number,
  ) {}
  get host(): string {
    return this.inner.host;
  }
  get uri(): string {
    return this.inner.uri;
  }
  private async cost(): Promise<void> {
    this.calls++;
    if (this.callCostMs > 0) await this.clock.sleep(this.callCostMs);
  }
  /** a call that defines, starts or stops a domain: the rehearsal's fleet file is then saved */
  private async costOfChange(): Promise<void> {
    await this.cost();
    this.changed = true;
  }
  async listDomains(): Promise<string[]> {
    await this.cost();
    return this.inner.listDomains();
  }
  async roster(): Promise<Map<string, number | null>> {
    await this.cost();
    return this.inner.roster();
  }
  async transientDomains(): Promise<Set<string>> {
    await this.cost();
    return this.inner.transientDomains();
  }
  async lookup(name: string) {
    await this.cost();
    return this.inner.lookup(name);
  }
  async liveXml(name: string): Promise<string> {
    await this.cost();
    return this.inner.liveXml(name);
  }
  async inactiveXml(name: string, options?: XmlOptions): Promise<string> {
    await this.cost();
    return this.inner.inactiveXml(name, options);
  }
  async hasManagedSave(name: string): Promise<boolean> {
    await this.cost();
    return this.inner.hasManagedSave(name);
  }
  async managedSaveDomains(): Promise<Set<string>> {
    await this.cost();
    return this.inner.managedSaveDomains();
  }
  private async setOpen(xml: string, n: number): Promise<void> {
    const sim = this.sim();
    if (sim === undefined) return;
    for (const d of listDisks(xml)) {
      if (d.type === 'block' && d.source?.startsWith('/dev/md/') === true && sim.activeArrayOf(d.source) !== null) sim.setOpenCount(d.source, n);
    }
  }
  private async closing(name: string, act: () => Promise<void>): Promise<void> {
    const xml = await this.inner.liveXml(name);
    await act();
    const st = await this.inner.lookup(name);
    if (st?.id === null) await this.setOpen(xml, 0);
  }
  async shutdown(name: string, mode?: ShutdownRequest): Promise<void> {
    await this.costOfChange();
    // As libvirt answers a domain without a guest-agent channel (a rehearsal's agent always
    // answers once the guest runs)
    if (mode === 'agent' && !hasGuestAgentChannel(await this.inner.liveXml(name))) {
      throw new HypervisorError(this.host, 'graceful shutdown (guest agent)', name, 'argument unsupported: QEMU guest agent is not configured');
    }
    // The guest powers off a while after the request, as a real one does; one still booting
    // hears the power button only once it is up.
    return this.closing(name, async () => {
      await this.clock.sleep(this.stillBootingMs(name) + this.times.shutdownMs);
      await this.inner.shutdown(name);
    });
  }
  async agentPing(name: string): Promise<boolean> {
    await this.cost();
    const st = await this.inner.lookup(name);
    if (st === null || st.id === null) throw new HypervisorError(this.host, 'guest-ping', name, 'Requested operation is not valid: domain is not running');
    if (!hasGuestAgentChannel(await this.inner.liveXml(name))) throw new HypervisorError(this.host, 'guest-ping', name, 'argument unsupported: QEMU guest agent is not configured');
    // libvirt's answer while the guest boots and its agent has not connected yet
    if (this.stillBootingMs(name) > 0) throw new HypervisorError(this.host, 'guest-ping', name, 'Guest agent is not responding: QEMU guest agent is not connected');
    return true;
  }
  private stillBootingMs(name: string): number {
    return Math.max(0, (this.upAt.get(name) ?? 0) - this.clock.now());
  }
  async destroy(name: string): Promise<void> {
    await this.costOfChange();
    return this.closing(name, () => this.inner.destroy(name));
  }
  async define(xml: string): Promise<void> {
    await this.costOfChange();
    return this.inner.define(xml);
  }
  /** libvirt answers a start once qemu runs; the guest goes on booting after that answer */
  private async starting(name: string, start: () => Promise<number | null>, xml: () => Promise<string>): Promise<number | null> {
    await this.costOfChange();
    const begun = this.clock.now();
    await this.clock.sleep(Math.min(this.times.startMs, this.times.bootMs));
    const id = await start();
    this.upAt.set(name, begun + this.times.bootMs);
    await this.setOpen(await xml(), 1);
    return id;
  }
  start(name: string): Promise<number | null> {
    return this.starting(name, () => this.inner.start(name), () => this.inner.liveXml(name));
  }
  startWithLiveXml(xml: string): Promise<number | null> {
    const name = domainIdentity(xml).name;
    return this.starting(name, () => this.inner.startWithLiveXml(xml), async () => xml);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The same object, with every promise it returns tracked by the clock (see VirtualClock). */
function tracked<T extends object>(target: T, clock: Clock): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value = Reflect.get(obj, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(obj, args);
        return out instanceof Promise ? clock.track(out) : out;
      };
    },
  });
}
