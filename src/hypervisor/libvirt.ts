// The Hypervisor port over @unraid/libvirt (N-API binding of libvirt). One connection per
// URI, opened lazily and shared; every libvirt failure becomes a HypervisorError that names
// the host, the domain and the operation.
import { DomainState, Hypervisor as NativeHypervisor, type Domain } from '@unraid/libvirt';
import PQueue from 'p-queue';
import { TimeoutError, UnreachableError, errorMessage, isTransient } from '../util/errors.js';
import { DomainRunState, type DomainStatus, type Hypervisor, type ShutdownRequest, type XmlOptions } from './port.js';

/** DomainGetXMLDescFlags SECURE and INACTIVE; the enum is not exported as a value by the binding. */
const XML_SECURE = 1;
const XML_INACTIVE = 2;
/** ConnectListAllDomainsFlags TRANSIENT and MANAGEDSAVE */
const LIST_TRANSIENT = 8;
const LIST_MANAGEDSAVE = 256;

export class HypervisorError extends Error {
  constructor(
    readonly host: string,
    readonly operation: string,
    readonly domain: string | undefined,
    readonly reason: string,
  ) {
    super(`${operation}${domain === undefined ? '' : ` of domain ${domain}`} on host ${host} failed: ${reason}`);
    this.name = 'HypervisorError';
  }
}

const stateNames: Record<number, DomainRunState> = {
  [DomainState.NOSTATE]: DomainRunState.unknown,
  [DomainState.RUNNING]: DomainRunState.running,
  [DomainState.BLOCKED]: DomainRunState.blocked,
  [DomainState.PAUSED]: DomainRunState.paused,
  [DomainState.SHUTDOWN]: DomainRunState.shuttingDown,
  [DomainState.SHUTOFF]: DomainRunState.shutoff,
  [DomainState.CRASHED]: DomainRunState.crashed,
  [DomainState.PMSUSPENDED]: DomainRunState.pmsuspended,
};

function isNotFound(reason: string): boolean {
  return /domain not found|no domain with matching name/i.test(reason);
}

/** How long libvirt may take, and how many calls one host may have in flight. */
export interface LibvirtLimits {
  callMs: number;
  startMs: number;
  /** A call holds one of libuv's worker threads until libvirt returns, even past its deadline:
   * a hung host may hold this many, and no more (bin/sanshift.js sizes the pool by host). */
  callsAtOnce: number;
}

export const DEFAULT_LIBVIRT_LIMITS: LibvirtLimits = { callMs: 120_000, startMs: 300_000, callsAtOnce: 8 };

export class LibvirtHypervisor implements Hypervisor {
  private connection: Promise<NativeHypervisor> | undefined;
  private readonly queue: PQueue;
  /**
   * Domain handles in use by a call. The binding frees a handle's virDomainPtr when its JS
   * object is garbage-collected, even while a worker thread still uses it: without this set a
   * handle used only inside one call could be collected mid-call ("invalid domain pointer in
   * virDomainGetXMLDesc", or a segfault, seen under load).
   */
  private readonly pinned = new Set<Domain>();

  constructor(
    readonly host: string,
    readonly uri: string,
    private readonly limits: LibvirtLimits = DEFAULT_LIBVIRT_LIMITS,
  ) {
    this.queue = new PQueue({ concurrency: limits.callsAtOnce });
  }

  private connect(): Promise<NativeHypervisor> {
    this.connection ??= (async () => {
      const native = new NativeHypervisor({ uri: this.uri });
      try {
        await native.connectOpen();
      } catch (err) {
        this.connection = undefined;
        throw new UnreachableError(this.host, this.uri, errorMessage(err));
      }
      return native;
    })();
    return this.connection;
  }

  private call<T>(operation: string, domain: string | undefined, fn: (h: NativeHypervisor) => Promise<T>, ms: number = this.limits.callMs): Promise<T> {
    return this.queue.add(async () => {
      const native = await this.connect();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(this.host, `libvirt ${operation}${domain === undefined ? '' : ` of domain ${domain}`}`, ms)), ms);
      });
      try {
        return await Promise.race([
          fn(native).catch((err: unknown) => {
            throw new HypervisorError(this.host, operation, domain, errorMessage(err));
          }),
          late,
        ]);
      } catch (err) {
        // a connection that broke, or a call with no answer: the next call opens a new one
        if (isTransient(err)) this.dropConnection(native);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    }) as Promise<T>;
  }

  private dropConnection(native: NativeHypervisor): void {
    const current = this.connection;
    this.connection = undefined;
    void current?.then((c) => {
      // the call that timed out may still run on it: close it in a while, quietly
      if (c === native) setTimeout(() => void c.connectClose().catch(() => undefined), this.limits.callMs).unref();
    });
  }

  /** Looks the domain up and runs `fn` on it, keeping its handle alive until `fn` settles. */
  private async onDomain<T>(operation: string, name: string, msOrFn: number | ((dom: Domain) => Promise<T>), maybeFn?: (dom: Domain) => Promise<T>): Promise<T> {
    const ms = typeof msOrFn === 'number' ? msOrFn : this.limits.callMs;
    const fn = typeof msOrFn === 'number' ? maybeFn! : msOrFn;
    return this.call(operation, name, async (h) => {
      const dom = await h.domainLookupByName(name);
      this.pinned.add(dom);
      try {
        return await fn(dom);
      } finally {
        this.pinned.delete(dom);
      }
    }, ms);
  }

  /** One listing call; names and ids come from the handles it returns (client-side in libvirt). */
  private async listAll<T>(operation: string, flags: number, read: (d: Domain) => Promise<T>): Promise<T[]> {
    return this.call(operation, undefined, async (h) => {
      const domains = await h.connectListAllDomains(flags);
      for (const d of domains) this.pinned.add(d);
      try {
        return await Promise.all(domains.map(read));
      } finally {
        for (const d of domains) this.pinned.delete(d);
      }
    });
  }

  async listDomains(): Promise<string[]> {
    return (await this.listAll('list domains', 0, (d) => d.getName())).sort();
  }

  async roster(): Promise<Map<string, number | null>> {
    const rows = await this.listAll('list domains', 0, async (d) => {
      const [name, id] = await Promise.all([d.getName(), d.getID()]);
      return [name, typeof id === 'number' && id >= 0 ? id : null] as const;
    });
    return new Map(rows);
  }

  async transientDomains(): Promise<Set<string>> {
    return new Set(await this.listAll('list transient domains', LIST_TRANSIENT, (d) => d.getName()));
  }

  async lookup(name: string): Promise<DomainStatus | null> {
    try {
      return await this.onDomain('read state', name, async (dom) => {
        const [info, uuid, id] = await Promise.all([dom.getInfo(), dom.getUUIDString(), dom.getID()]);
        const state = stateNames[info.state] ?? DomainRunState.unknown;
        // The binding answers undefined (not null) for a domain that does not run.
        const liveId = typeof id === 'number' && id >= 0 && state !== DomainRunState.shutoff ? id : null;
        return { name, uuid, state, id: liveId };
      });
    } catch (err) {
      if (err instanceof HypervisorError && isNotFound(err.reason)) return null;
      throw err;
    }
  }

  liveXml(name: string): Promise<string> {
    return this.onDomain('read live XML', name, (dom) => dom.getXMLDesc());
  }

  inactiveXml(name: string, options: XmlOptions = {}): Promise<string> {
    return this.onDomain('read persistent XML', name, (dom) => dom.getXMLDesc(XML_INACTIVE | (options.secure === true ? XML_SECURE : 0)));
  }

  async hasManagedSave(name: string): Promise<boolean> {
    return (await this.managedSaveDomains()).has(name);
  }

  async managedSaveDomains(): Promise<Set<string>> {
    return new Set(await this.listAll('look for managed saves', LIST_MANAGEDSAVE, (d) => d.getName()));
  }

  /**
   * The binding has virDomainShutdown only (libvirt's own choice of agent or ACPI). A mode is
   * asked through `virsh` on the host (VirshOnHost, src/hypervisor/virsh.ts), which wraps every
   * real host's hypervisor; the test driver knows one way to shut down, and no guest agent.
   */
  shutdown(name: string, mode?: ShutdownRequest): Promise<void> {
    if (mode === 'agent' && isTestUri(this.uri)) return Promise.reject(new HypervisorError(this.host, 'graceful shutdown through the guest agent', name, 'argument unsupported: QEMU guest agent is not configured (the test driver has none)'));
    if (mode !== undefined && !isTestUri(this.uri)) return Promise.reject(new Error(`internal: a shutdown by ${mode} of ${name} on ${this.host} needs virsh on the host (VirshOnHost)`));
    return this.onDomain('graceful shutdown', name, (dom) => dom.shutdown());
  }

  agentPing(name: string): Promise<boolean> {
    if (isTestUri(this.uri)) return Promise.reject(new HypervisorError(this.host, 'guest-ping', name, 'argument unsupported: QEMU guest agent is not configured (the test driver has none)'));
    return Promise.reject(new Error(`internal: guest-ping of ${name} on ${this.host} needs virsh on the host (VirshOnHost)`));
  }

  destroy(name: string): Promise<void> {
    return this.onDomain('force off', name, (dom) => dom.destroy());
  }

  async define(xml: string): Promise<void> {
    await this.call('define', undefined, (h) => h.domainDefineXML(xml));
  }

  start(name: string): Promise<number | null> {
    return this.onDomain('start', name, this.limits.startMs, async (dom) => {
      await dom.create();
      // libvirt's remote driver refreshes the handle's id after a create: no further call
      const id = await dom.getID();
      return typeof id === 'number' && id >= 0 ? id : null;
    });
  }

  async startWithLiveXml(xml: string): Promise<number | null> {
    return this.call('start with a one-off live definition', undefined, async (h) => {
      const dom = await h.domainCreateXML(xml);
      this.pinned.add(dom);
      try {
        // the new handle carries the new id: no further call to the daemon
        const id = await dom.getID();
        return typeof id === 'number' && id >= 0 ? id : null;
      } finally {
        this.pinned.delete(dom);
      }
    }, this.limits.startMs);
  }

  async close(): Promise<void> {
    const pending = this.connection;
    this.connection = undefined;
    if (pending === undefined) return;
    try {
      await (await pending).connectClose();
    } catch {
      // A connection that never opened, or is already gone, has nothing to close.
    }
  }
}

/** One Hypervisor per URI, shared by everything in this process. */
export function isTestUri(uri: string): boolean {
  return uri.startsWith('test:');
}

export class HypervisorPool {
  private readonly byUri = new Map<string, Hypervisor>();

  constructor(private readonly factory: (host: string, uri: string) => Hypervisor = (h, u) => new LibvirtHypervisor(h, u)) {}

  /** A pool whose hypervisors keep these deadlines. */
  static withLimits(limits: LibvirtLimits): HypervisorPool {
    return new HypervisorPool((h, u) => new LibvirtHypervisor(h, u, limits));
  }

  get(host: string, uri: string): Hypervisor {
    let hv = this.byUri.get(uri);
    if (hv === undefined) {
      hv = this.factory(host, uri);
      this.byUri.set(uri, hv);
    }
    return hv;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.byUri.values()].map((h) => h.close()));
    this.byUri.clear();
  }
}
