// The whole path at fleet scale (issue 14): 10,000 VMs on 500 rehearsal hosts, each host
// answering as a far one does (100 ms per host command, 20 ms per libvirt call, on the
// rehearsal's virtual clock), through the real command line: `main()` with the argv an
// operator types, yargs, the inventory loader, the host reads, the rendering of the JSON.
// For the command: the wall time of sanshift's own code, the virtual time its hosts took (the
// rehearsal's clock, kept in the state folder), and the process's peak RSS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { RecordingIo } from '../src/cli/io.js';
import { readRehearsalTime } from '../src/engine/connections.js';
import { writeEngineFleet } from './windows.js';

export interface CommandFigures {
  exitCode: number;
  /** wall time of the whole command, code and virtual waits alike */
  wallMs: number;
  /** CPU time of the process (every thread: libvirt's workers too), less sensitive to a busy machine than the wall */
  cpuMs: number;
  /** virtual time the hosts took: the rehearsal clock's advance during the command */
  hostMs: number;
  /** peak RSS of the process so far */
  peakRssMB: number;
  /** at the command's end, before any collection: the JavaScript heap in use and in all, and
   * the RSS (what is not heap is native: Node itself, libvirt's test driver holding the fleet) */
  endHeapUsedMB: number;
  endHeapTotalMB: number;
  endRssMB: number;
  outputMB: number;
}

/** stdout as a pipe takes it: counted and let go, as `sanshift plan --json > plan.json` would */
class PipeIo extends RecordingIo {
  bytes = 0;
  override out(text: string): void {
    this.bytes += text.length;
  }
}

async function command(argv: string[], rehearsalDir: string): Promise<CommandFigures> {
  const io = new PipeIo();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const exitCode = await main(argv, io, {});
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const memory = process.memoryUsage();
  if (exitCode !== 0) throw new Error(`sanshift ${argv.join(' ')} exited ${exitCode}: ${io.stderr.slice(0, 2000)}`);
  const time = readRehearsalTime(rehearsalDir);
  if (time === null) throw new Error(`sanshift ${argv[0]} left no rehearsal time in ${rehearsalDir}`);
  return {
    exitCode,
    wallMs: Math.round(wallMs),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    hostMs: time.commandEndedAtMs - time.commandStartedAtMs,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    endHeapUsedMB: Math.round(memory.heapUsed / 1024 / 1024),
    endHeapTotalMB: Math.round(memory.heapTotal / 1024 / 1024),
    endRssMB: Math.round(memory.rss / 1024 / 1024),
    outputMB: Number((io.bytes / 1024 / 1024).toFixed(1)),
  };
}

export interface FleetPathFigures {
  vms: number;
  hosts: number;
  figures: CommandFigures;
}

/** `plan --json` or `status --json` of `hosts` × `vmsPerHost` VMs. */
export async function benchFleetPath(which: 'plan' | 'status', hosts: number, vmsPerHost: number): Promise<FleetPathFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'sanshift-fleet-path-'));
  try {
    const file = writeEngineFleet(dir, {
      hosts,
      vmsPerHost,
      disks: [1, 2],
      sizesGiB: [20, 40, 80],
      mirrorsPerHost: 8,
      downWindows: 50,
      pollInterval: '30s',
      latency: { sessionMs: 100, libvirtCallMs: 20 },
    });
    const rehearsalDir = join(dir, '.sanshift', 'rehearsal');
    return { vms: hosts * vmsPerHost, hosts, figures: await command([which, '-i', file, '--json'], rehearsalDir) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// one command per process, so that its peak RSS is its own: tsx bench/fleet-path.ts plan|status HOSTS VMS_PER_HOST
if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2] === 'status' ? 'status' : 'plan';
  const [hosts, perHost] = [Number(process.argv[3] ?? 500), Number(process.argv[4] ?? 20)];
  console.log(JSON.stringify(await benchFleetPath(which, hosts, perHost)));
}
