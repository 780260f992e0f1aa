// What the Node binding of libvirt cannot ask (it has virDomainShutdown without flags, and no
// qemu-agent-command): asked with `virsh` on the host itself, through the host's command runner
// (one ssh session over the master connection, like any host command). Everything else goes to
// the wrapped hypervisor.
import type { CommandRunner } from '../host/runner.js';
import { isSafeDomainName } from '../util/validate.js';
import { HypervisorError } from './libvirt.js';
import type { DomainStatus, Hypervisor, ShutdownRequest, XmlOptions } from './port.js';

/** The URI of the same libvirt daemon as seen from its own host: `qemu+ssh://root@hv1/system`
 * is `qemu:///system` there (transport, host and transport parameters dropped). */
export function hostSideUri(uri: string): string {
  const m = /^([A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9]+)?:\/\/[^/?]*(\/[^?#]*)?/.exec(uri);
  if (m === null) throw new Error(`not a libvirt URI: ${JSON.stringify(uri)}`);
  return `${m[1]!.toLowerCase()}://${m[2] ?? '/system'}`;
}

/** `virsh -c URI shutdown NAME --mode MODE` */
export function virshShutdownArgv(uri: string, name: string, mode: ShutdownRequest): string[] {
  if (!isSafeDomainName(name)) throw new Error(`refusing unsafe domain name ${JSON.stringify(name)}`);
  return ['virsh', '-q', '-c', uri, 'shutdown', name, '--mode', mode];
}

/** `virsh -c URI qemu-agent-command NAME '{"execute":"guest-ping"}' --timeout S` */
export function virshAgentPingArgv(uri: string, name: string, timeoutSeconds: number): string[] {
  if (!isSafeDomainName(name)) throw new Error(`refusing unsafe domain name ${JSON.stringify(name)}`);
  return ['virsh', '-q', '-c', uri, 'qemu-agent-command', name, '{"execute":"guest-ping"}', '--timeout', String(Math.max(1, Math.round(timeoutSeconds)))];
}

const AGENT_PING_TIMEOUT_S = 5;

export class VirshOnHost implements Hypervisor {
  private readonly localUri: string;

  constructor(
    private readonly inner: Hypervisor,
    private readonly runner: () => Promise<CommandRunner>,
  ) {
    this.localUri = hostSideUri(inner.uri);
  }

  get host(): string {
    return this.inner.host;
  }
  get uri(): string {
    return this.inner.uri;
  }

  async shutdown(name: string, mode?: ShutdownRequest): Promise<void> {
    if (mode === undefined) return this.inner.shutdown(name);
    const r = await (await this.runner()).run(virshShutdownArgv(this.localUri, name, mode));
    if (r.exitCode !== 0) throw new HypervisorError(this.host, `graceful shutdown (${mode === 'agent' ? 'guest agent' : 'ACPI'})`, name, virshError(r.stderr, r.exitCode));
  }

  async agentPing(name: string): Promise<boolean> {
    const r = await (await this.runner()).run(virshAgentPingArgv(this.localUri, name, AGENT_PING_TIMEOUT_S), { timeoutMs: (AGENT_PING_TIMEOUT_S + 25) * 1000 });
    if (r.exitCode !== 0) throw new HypervisorError(this.host, 'guest-ping', name, virshError(r.stderr, r.exitCode));
    return /"return"/.test(r.stdout);
  }

  listDomains(): Promise<string[]> {
    return this.inner.listDomains();
  }
  roster(): Promise<Map<string, number | null>> {
    return this.inner.roster();
  }
  transientDomains(): Promise<Set<string>> {
    return this.inner.transientDomains();
  }
  lookup(name: string): Promise<DomainStatus | null> {
    return this.inner.lookup(name);
  }
  liveXml(name: string): Promise<string> {
    return this.inner.liveXml(name);
  }
  inactiveXml(name: string, options?: XmlOptions): Promise<string> {
    return this.inner.inactiveXml(name, options);
  }
  hasManagedSave(name: string): Promise<boolean> {
    return this.inner.hasManagedSave(name);
  }
  managedSaveDomains(): Promise<Set<string>> {
    return this.inner.managedSaveDomains();
  }
  destroy(name: string): Promise<void> {
    return this.inner.destroy(name);
  }
  define(xml: string): Promise<void> {
    return this.inner.define(xml);
  }
  start(name: string): Promise<number | null> {
    return this.inner.start(name);
  }
  startWithLiveXml(xml: string): Promise<number | null> {
    return this.inner.startWithLiveXml(xml);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** virsh's `error: ...` lines, without the prefix. */
function virshError(stderr: string, code: number): string {
  const lines = stderr.split('\n').map((l) => l.replace(/^error:\s*/, '').trim()).filter((l) => l !== '');
  return lines.length > 0 ? lines.join('; ') : `virsh exited ${code}`;
}
