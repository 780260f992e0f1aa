// Observation by host, not by VM: every VM of a host decides from snapshots of the whole host.
// A read asked for while none is under way starts one probe (one session) for every VM of the
// host; reads asked for in the meantime share the next one. VMs waiting for their resync share
// one periodic poll: one timer and one probe per host per interval, however many VMs wait, on a
// real clock as on a virtual one.
import { probeHost, type HostSnapshot } from '../host/probe.js';
import type { CommandRunner } from '../host/runner.js';
import type { Hypervisor } from '../hypervisor/port.js';
import type { DiskPlan } from '../plan/types.js';
import type { Clock } from '../util/clock.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // a reader that gave up (its VM failed) must not leave an unhandled rejection behind
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** One periodic reading of a host: its block devices and md arrays, and the ids of its domains. */
export interface HostPoll {
  snapshot: HostSnapshot;
  /** domain name -> libvirt id (null: defined but not running) */
  roster: Map<string, number | null>;
  at: number;
}

export class HostObserver {
  private readonly vms = new Map<string, readonly DiskPlan[]>();
  private queued: Deferred<HostSnapshot> | null = null;
  private probing = false;
  /** the probe under way, and the ticket it was launched at */
  private inFlight: { ticket: number; result: Promise<HostSnapshot> } | null = null;
  private tickets = 0;
  private waiters: Deferred<HostPoll>[] = [];
  private polling = false;
  /** probes run and periodic polls made, for tests and benchmarks */
  readonly counts = { probes: 0, polls: 0 };

  constructor(
    readonly host: string,
    private readonly runner: CommandRunner,
    private readonly hv: Hypervisor,
    private readonly clock: Clock,
    private readonly pollIntervalMs: number,
  ) {}

  /** The VM's disks are read by every probe of this host from now on. */
  register(vm: string, disks: readonly DiskPlan[]): void {
    this.vms.set(vm, disks);
  }

  unregister(vm: string): void {
    this.vms.delete(vm);
  }

  private paths(): string[] {
    const all = new Set<string>();
    for (const disks of this.vms.values()) for (const d of disks) all.add(d.mirror).add(d.old).add(d.new);
    return [...all].sort();
  }

  /** A ticket: a later `read({ after })` may share a probe launched after this moment. */
  ticket(): number {
    return ++this.tickets;
  }

  /** A snapshot of the host taken after this call: callers of the same moment share one probe,
   * and a call made while a probe runs waits for the next (it may need to see its own action).
   * `after`: the caller needs only a probe launched after that ticket (a VM seen off needs a
   * reading begun after it was seen off, not after it asked), and may share one under way. */
  read(options: { after?: number } = {}): Promise<HostSnapshot> {
    if (options.after !== undefined && this.inFlight !== null && this.inFlight.ticket > options.after) return this.inFlight.result;
    if (this.queued === null) {
      this.queued = deferred();
      if (!this.probing) this.launchSoon();
    }
    return this.queued.promise;
  }

  private launchSoon(): void {
    this.probing = true;
    // every VM whose turn comes in this event-loop turn joins the same probe
    setImmediate(() => void this.launch());
  }

  private async launch(): Promise<void> {
    const q = this.queued!;
    this.queued = null;
    this.inFlight = { ticket: this.ticket(), result: q.promise };
    try {
      this.counts.probes++;
      q.resolve(await probeHost(this.runner, 'state', this.paths()));
    } catch (err) {
      q.reject(err);
    } finally {
      this.inFlight = null;
      if (this.queued !== null) this.launchSoon();
      else this.probing = false;
    }
  }

  /** The next periodic reading, taken one poll interval from the first waiter's call. */
  nextPoll(): Promise<HostPoll> {
    const d = deferred<HostPoll>();
    this.waiters.push(d);
    if (!this.polling) {
      this.polling = true;
      void this.pollLoop();
    }
    return d.promise;
  }

  private async pollLoop(): Promise<void> {
    while (this.waiters.length > 0) {
      await this.clock.sleep(this.pollIntervalMs);
      const batch = this.waiters;
      this.waiters = [];
      try {
        const [snapshot, roster] = await Promise.all([this.read(), this.hv.roster()]);
        this.counts.polls++;
        const poll = { snapshot, roster, at: this.clock.now() };
        for (const w of batch) w.resolve(poll);
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.polling = false;
  }
}
