// The whole path at fleet scale (issue 14): 10,000 VMs on 500 rehearsal hosts, each host
// answering as a far one does (100 ms per host command, 20 ms per libvirt call, on the
// rehearsal's virtual clock), through the command an operator types: `bin/sanshift.js` in a
// process of its own (its launcher, libuv's pool sized by it, the compiled code), its stdout a
// pipe this process reads. For the command: the wall time, the CPU time, the virtual time its
// hosts took (the rehearsal's clock, kept in the state folder), and the peak RSS of its process.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRehearsalTime } from '../src/engine/connections.js';
import { writeEngineFleet } from './windows.js';

export interface CommandFigures {
  exitCode: number;
  /** wall time of the whole command, from its start to its exit: code and virtual waits alike */
  wallMs: number;
  /** CPU time of the command's processes (every thread: libvirt's workers too), less sensitive to a busy machine than the wall */
  cpuMs: number;
  /** virtual time the hosts took: the rehearsal clock's advance during the command */
  hostMs: number;
  /** peak RSS of the command's process (the larger of the launcher and the sanshift it starts) */
  peakRssMB: number;
  /** at the command's end: the JavaScript heap in use and in all, and the RSS (what is not heap
   * is native: Node itself, libvirt's test driver holding the rehearsal's fleet) */
  endHeapUsedMB: number;
  endHeapTotalMB: number;
  endRssMB: number;
  outputMB: number;
}

interface ProcessLine {
  pool: string | null;
  peakRssMB: number;
  cpuMs: number;
  endHeapUsedMB: number;
  endHeapTotalMB: number;
  endRssMB: number;
}

const repo = fileURLToPath(new URL('..', import.meta.url));

async function command(argv: string[], dir: string): Promise<CommandFigures> {
  const figuresFile = join(dir, 'process-figures.jsonl');
  const t0 = performance.now();
  // no UV_THREADPOOL_SIZE: the launcher sizes the pool from the inventory, as for an operator
  const { UV_THREADPOOL_SIZE: _pool, ...inherited } = process.env;
  const env = { ...inherited, SANSHIFT_BENCH_FIGURES: figuresFile };
  const child = spawn(process.execPath, ['--import', join(repo, 'bench', 'process-figures.mjs'), join(repo, 'bin', 'sanshift.js'), ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let bytes = 0;
  let stderr = '';
  // read as fast as it comes, as `> plan.json` or `| jq` would
  child.stdout.on('data', (b: Buffer) => (bytes += b.length));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exitCode = await new Promise<number>((resolve, reject) => child.on('error', reject).on('close', (code) => resolve(code ?? 1)));
  const wallMs = performance.now() - t0;
  if (exitCode !== 0) throw new Error(`sanshift ${argv.join(' ')} exited ${exitCode}: ${stderr.slice(0, 2000)}`);
  const lines = readFileSync(figuresFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ProcessLine);
  // the process that did the work is the one the launcher started with the pool it sized
  const worker = lines.find((l) => l.pool !== null) ?? lines[0]!;
  const time = readRehearsalTime(join(dir, '.sanshift', 'rehearsal'));
  if (time === null) throw new Error(`sanshift ${argv[0]} left no rehearsal time in ${dir}`);
  return {
    exitCode,
    wallMs: Math.round(wallMs),
    cpuMs: lines.reduce((sum, l) => sum + l.cpuMs, 0),
    hostMs: time.commandEndedAtMs - time.commandStartedAtMs,
    peakRssMB: Math.max(...lines.map((l) => l.peakRssMB)),
    endHeapUsedMB: worker.endHeapUsedMB,
    endHeapTotalMB: worker.endHeapTotalMB,
    endRssMB: worker.endRssMB,
    outputMB: Number((bytes / 1024 / 1024).toFixed(1)),
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
    return { vms: hosts * vmsPerHost, hosts, figures: await command([which, '-i', file, '--json'], dir) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// tsx bench/fleet-path.ts plan|status HOSTS VMS_PER_HOST (the compiled CLI: `npm run build` first)
if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2] === 'status' ? 'status' : 'plan';
  const [hosts, perHost] = [Number(process.argv[3] ?? 500), Number(process.argv[4] ?? 20)];
  console.log(JSON.stringify(await benchFleetPath(which, hosts, perHost)));
}
