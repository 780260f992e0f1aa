// The lab: a "hypervisor host" booted as a qemu TCG guest of this machine (a Debian kernel
// with md), reachable only through an ssh port forwarded on 127.0.0.1. sanshift drives it like
// a production host: libvirt over qemu+ssh, commands over ssh. Run test/lab/setup.sh first.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import {
  DEFAULT_TENANTS,
  checkLabLayout,
  guestPlan,
  hostEnv,
  relaxedQemuConf,
  serialLogPath,
  tenantXml,
  type HostConfig,
  type SpareVolume,
  type TenantSpec,
} from './tenants.js';

export { DEFAULT_TENANTS, tenantXml, type LabDisk, type SpareVolume, type TenantSpec } from './tenants.js';

export const LAB_DIR = dirname(fileURLToPath(import.meta.url));
export const LAB_WORK = join(LAB_DIR, 'work');
const GUEST_DIR = join(LAB_DIR, 'guest');
const PATTERN_TOOL = join(GUEST_DIR, 'volume-pattern.mjs');
/** the command that writes tagged patterns (guest/volume-pattern.mjs), all in one node: a node
 * start costs the lab seconds of CPU under TCG */
const patternWrite = (ranges: readonly { device: string; tag: string; atMiB: number; countMiB: number }[]): string[] =>
  ['node', PATTERN_TOOL, 'write', ...ranges.flatMap((r) => [r.device, r.tag, String(r.atMiB), String(r.countMiB)])];
/** divides the output of one session's commands (resetTenants) */
const SECTION = '--sanshift-lab-section--';
const READY_LINE = 'sanshift-lab: ready';
const FAILED_LINE = 'sanshift-lab: FAILED';

export interface LabOptions {
  /** port on 127.0.0.1 forwarded to the guest's sshd (default: a free one) */
  sshPort?: number;
  memoryMiB?: number;
  cpus?: number;
  tenants?: readonly TenantSpec[];
  spareVolumes?: readonly SpareVolume[];
  /** the host's name (default lab-hv); also the name sanshift's inventory gives it */
  hostName?: string;
  /** see HostConfig: 'stock' (default) is Debian's packaged libvirt configuration */
  libvirtConfig?: HostConfig['libvirt'];
  /** load libvirt's AppArmor profiles (default: true on a stock host) */
  apparmor?: boolean;
  /** extra ms before every new ssh session's shell (default 0); setSshSessionDelay changes it */
  sshSessionDelayMs?: number;
  /** sshd's MaxSessions (default: sshd's own, 10) */
  sshMaxSessions?: number;
  /** sshd's MaxStartups (default: sshd's own, 10:30:100) */
  sshMaxStartups?: string;
  /** files of this machine attached as virtio disks with these serials (a LUN several lab hosts
   * see: cache=none, no image locking); in the guest /dev/disk/by-id/virtio-SERIAL */
  sharedDisks?: readonly SharedDisk[];
  /** how long to wait for the guest to say ready (default 600 s: a loaded machine's TCG boot with
   * AppArmor takes minutes) */
  readyTimeoutMs?: number;
  /** progress lines (default: none) */
  log?: (line: string) => void;
}

export interface SshSession {
  /** ms since the epoch, this machine's clock */
  at: number;
  /** what the login shell was asked to run ('-c COMMAND') */
  command: string;
}

export interface SharedDisk {
  /** an existing file on this machine */
  file: string;
  /** virtio-blk serial, at most 20 characters */
  serial: string;
}

/** the path a shared disk has inside every lab guest that has it */
export const sharedDiskPath = (serial: string): string => `/dev/disk/by-id/virtio-${serial}`;

export interface GuestResult {
  argv: string[];
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

export interface ContentRun {
  /** volume name whose pattern is there, or the tag of a later writePattern; '?' = unknown */
  tag: string;
  fromMiB: number;
  toMiB: number;
  /** every byte of the blocks (past the first 512 of block 0) is the pattern of tag at that offset */
  intact: boolean;
}

export interface ContentMap {
  device: string;
  /** block 0 carries a boot sector (55 aa) */
  boot: boolean;
  runs: ContentRun[];
}

/** blocks of an old volume that a scenario overwrote (through a mirror) and a reset restores */
export interface OldRange {
  volume: string;
  atMiB: number;
  countMiB: number;
}

export interface LabTimings {
  /** from spawning qemu to the guest saying ready */
  bootMs: number;
  /** from ready to the first ssh command answered */
  firstSshMs: number;
  /** the guest's own steps (modules, udev, sshd, libvirtd, volumes, tenants), from the console */
  guestSteps: Record<string, number>;
}

export interface Lab {
  hostName: string;
  sshPort: number;
  keyFile: string;
  /** root@127.0.0.1 */
  sshTarget: string;
  /** qemu+ssh://root@127.0.0.1:PORT/system?keyfile=KEY&no_verify=1&no_tty=1 */
  libvirtUri: string;
  /** ssh options sanshift's own runner needs for this host (port, key, no host key checks) */
  sshOptions: string[];
  consoleLog: string;
  runDir: string;
  tenants: readonly TenantSpec[];
  timings: LabTimings;
  /** run argv in the guest as root; resolves whatever the exit code */
  ssh(argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<GuestResult>;
  /** like ssh, but rejects on a non-zero exit, with stderr in the message */
  guestRun(argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<GuestResult>;
  virsh(args: string[]): Promise<string>;
  /** overwrite blocks atMiB.. of a device in the guest with the pattern of tag (then fsync) */
  writePattern(device: string, tag: string, atMiB: number, countMiB: number): Promise<void>;
  contentMap(device: string): Promise<ContentMap>;
  /** sha256 of a whole device in the guest, read after dropping its page cache */
  checksum(device: string): Promise<string>;
  mdstat(): Promise<string>;
  domainState(name: string): Promise<string>;
  /** load a dm `error` table under /dev/mapper/VOLUME: every I/O to it fails from now on */
  swapInErrorTable(volume: string): Promise<void>;
  /** load a dm `flakey` table: the volume works upSeconds, fails downSeconds, and so on */
  swapInFlakeyTable(volume: string, upSeconds: number, downSeconds: number): Promise<void>;
  /** put back the linear table the volume had at boot */
  restoreVolumeTable(volume: string): Promise<void>;
  /** an operator's `virsh destroy` + `virsh start`: the domain boots its persistent definition */
  restartDomainOutsideSanshift(name: string): Promise<void>;
  /** SIGTERM libvirtd and start it again; running domains keep running */
  restartLibvirtd(): Promise<void>;
  /** what a host reboot leaves: no domain running, no md array, a fresh libvirtd; the
   * volumes keep their content. Tenants are started again on their persistent definitions
   * when startTenants is true */
  simulateReboot(opts?: { startTenants?: boolean }): Promise<void>;
  /** put tenants back as the boot left them, between scenarios: domains destroyed, every md
   * array stopped, volume tables linear again, new volumes zeros, the given ranges of old
   * volumes rewritten with their own pattern, the boot definitions redefined, then started */
  resetTenants(names: readonly string[], opts?: { restoreOld?: readonly OldRange[]; start?: boolean }): Promise<void>;
  /** md's host-wide resync ceiling (/proc/sys/dev/raid/speed_limit_max), KiB/s */
  setHostResyncCeiling(kiBs: number): Promise<void>;
  /** md's host-wide resync floor (/proc/sys/dev/raid/speed_limit_min), KiB/s: the speed md
   * keeps even while the array has other I/O, and above any lower sync_speed_max */
  setHostResyncFloor(kiBs: number): Promise<void>;
  /** the extra ms every new ssh session waits from now on (the lab's own checks do not) */
  setSshSessionDelay(ms: number): Promise<void>;
  /** what a tenant wrote to its serial log (the ACPI boot sector, the Linux tenant) */
  serialLog(name: string): Promise<string>;
  /** every ssh session sshd started for others than the lab's own checks (sanshift's commands
   * and libvirt connections), with its start on this machine's clock (to about a second) */
  sshSessions(): Promise<SshSession[]>;
  /** every sshd of the host killed (the listener, each session, libvirt's virt-ssh-helper with
   * them) for `seconds`, then started again as at boot: a production host's sshd or network
   * gone for a while. Resolves once it is down; `sshBack()` waits for it to answer again. */
  cutSsh(seconds: number): Promise<void>;
  sshBack(timeoutMs: number): Promise<void>;
  /** kill qemu and everything of this lab; safe to call twice */
  stop(): Promise<void>;
  /** leaves the lab running once this process ends (--keep): stop it with test/lab/stop.sh */
  keep(): void;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function requireSetup(): { kernel: string; initrd: string; keyFile: string; bootSector: string; haltSector: string; tenantInitrd: string } {
  const files = {
    kernel: join(LAB_WORK, 'vmlinuz'),
    initrd: join(LAB_WORK, 'initrd.gz'),
    keyFile: join(LAB_WORK, 'id_ed25519'),
    bootSector: join(LAB_WORK, 'acpi-poweroff.bin'),
    haltSector: join(LAB_WORK, 'halt.bin'),
    tenantInitrd: join(LAB_WORK, 'tenant-initrd.gz'),
  };
  for (const f of Object.values(files)) {
    if (!existsSync(f)) throw new Error(`lab not set up: ${f} is missing; run bash test/lab/setup.sh`);
  }
  return files;
}

/** guest step timings from the console: "sanshift-lab: step NAME N ms" */
function guestSteps(consoleText: string): Record<string, number> {
  const steps: Record<string, number> = {};
  for (const m of consoleText.matchAll(/sanshift-lab: step (\S+) (\d+) ms/g)) {
    if (m[1] && m[2]) steps[m[1]] = Number(m[2]);
  }
  return steps;
}

/** keep the guest's probed qemu capabilities for the next boot (see guest/boot.sh); one copy
 * per libvirt configuration, since libvirt probes as the user qemu runs as */
async function saveLibvirtCapabilities(guestRun: (argv: string[]) => Promise<GuestResult>, libvirtConfig: string): Promise<void> {
  const dir = join(LAB_WORK, `libvirt-capabilities-${libvirtConfig}`);
  if (existsSync(dir)) return;
  const guestDir = '/var/cache/libvirt/qemu/capabilities';
  const names = (await guestRun(['ls', guestDir])).stdout.split('\n').filter((n) => /^[0-9a-f]+\.xml$/.test(n));
  if (names.length === 0) return;
  mkdirSync(`${dir}.tmp`, { recursive: true });
  for (const n of names) writeFileSync(join(`${dir}.tmp`, n), (await guestRun(['cat', `${guestDir}/${n}`])).stdout);
  renameSync(`${dir}.tmp`, dir);
}

export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const files = requireSetup();
  const tenants = opts.tenants ?? DEFAULT_TENANTS;
  const spares = opts.spareVolumes ?? [];
  checkLabLayout(tenants, spares);
  const log = opts.log ?? (() => undefined);
  const sshPort = opts.sshPort ?? (await freePort());
  const runDir = join(LAB_WORK, `run-${sshPort}`);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(join(runDir, 'tenants'), { recursive: true });

  const tenantXmlPath = (name: string): string => join(runDir, 'tenants', `${name}.xml`);
  for (const t of tenants) writeFileSync(tenantXmlPath(t.name), tenantXml(t));
  const libvirtConfig = opts.libvirtConfig ?? 'stock';
  const hostName = opts.hostName ?? 'lab-hv';
  writeFileSync(join(runDir, 'host.env'), hostEnv({
    hostName,
    libvirt: libvirtConfig,
    apparmor: opts.apparmor ?? libvirtConfig === 'stock',
    sshSessionDelayMs: opts.sshSessionDelayMs ?? 0,
    ...(opts.sshMaxSessions === undefined ? {} : { sshMaxSessions: opts.sshMaxSessions }),
    ...(opts.sshMaxStartups === undefined ? {} : { sshMaxStartups: opts.sshMaxStartups }),
  }));
  if (libvirtConfig === 'relaxed') writeFileSync(join(runDir, 'qemu.conf'), relaxedQemuConf());
  for (const d of opts.sharedDisks ?? []) {
    if (!/^[A-Za-z0-9-]{1,20}$/.test(d.serial)) throw new Error(`shared disk serial not allowed: ${d.serial}`);
    if (!existsSync(d.file)) throw new Error(`shared disk ${d.file} does not exist`);
  }
  writeFileSync(
    join(runDir, 'guest-plan.sh'),
    guestPlan(tenants, spares, { bootSector: files.bootSector, haltSector: files.haltSector, tenantXml: tenantXmlPath }),
  );

  const consoleLog = join(runDir, 'console.log');
  const pidFile = join(runDir, 'qemu.pid');
  const qemuArgs = [
    '-name', `sanshift-lab-${sshPort}`,
    '-accel', 'tcg',
    '-smp', String(opts.cpus ?? 2),
    '-m', String(opts.memoryMiB ?? 3072),
    '-display', 'none', '-monitor', 'none', '-no-reboot',
    '-serial', `file:${consoleLog}`,
    '-pidfile', pidFile,
    '-kernel', files.kernel,
    '-initrd', files.initrd,
    '-append',
    `console=ttyS0 quiet panic=-1 sanshift_lab_boot=${join(GUEST_DIR, 'boot.sh')} sanshift_lab_run=${runDir}`,
    // the machine's own root, read-only: the guest runs the very same libvirt, qemu, mdadm, node
    '-virtfs', 'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
    // restrict=on: no way out of the guest but this loopback-only forward to its sshd
    '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=n0',
    // a SAN LUN that other lab hosts see too: no host page cache between them (cache=none), and
    // no image lock, since two qemus open it for writing as two hypervisors open a LUN
    ...(opts.sharedDisks ?? []).flatMap((d, i) => [
      '-drive', `file=${d.file},if=none,id=lun${i},format=raw,cache=none,file.locking=off`,
      '-device', `virtio-blk-pci,drive=lun${i},serial=${d.serial}`,
    ]),
  ];
  const stderrFd = openSync(join(runDir, 'qemu.stderr'), 'w');
  const started = Date.now();
  const qemu: ChildProcess = spawn('qemu-system-x86_64', qemuArgs, { stdio: ['ignore', stderrFd, stderrFd] });
  closeSync(stderrFd);
  let qemuExited = false;
  const qemuExit = new Promise<void>((resolve) => qemu.once('exit', () => { qemuExited = true; resolve(); }));
  // never leave a lab running behind a test process that dies
  const killOnExit = (): void => { if (!qemuExited && qemu.pid) try { process.kill(qemu.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.on('exit', killOnExit);
  log(`qemu pid ${qemu.pid}, ssh port ${sshPort}, console ${consoleLog}`);

  const controlPath = join('/tmp', `sanshift-lab-${sshPort}.ssh`);
  const sshOptions = [
    '-p', String(sshPort), '-i', files.keyFile,
    '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=20',
  ];
  // one multiplexed connection: a fresh ssh handshake costs seconds under TCG
  // LC_SANSHIFT_LAB_CHECK: the lab's own commands skip the session delay (guest/boot.sh), which
  // stands in for production's cost of sanshift's sessions, not of the checks around them
  const labSshOptions = [...sshOptions, '-o', 'ControlMaster=auto', '-o', `ControlPath=${controlPath}`, '-o', 'ControlPersist=600',
    '-o', 'SetEnv=LC_SANSHIFT_LAB_CHECK=1'];
  const sshTarget = 'root@127.0.0.1';
  let stopped = false;

  const ssh = async (argv: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<GuestResult> => {
    if (stopped) throw new Error('lab is stopped');
    const t0 = Date.now();
    const r = await execa('ssh', [...labSshOptions, sshTarget, '--', argv.map(shellQuote).join(' ')], {
      reject: false,
      input: o.input ?? '',
      timeout: o.timeoutMs ?? 120_000,
      stripFinalNewline: false,
    });
    return { argv, stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1, durationMs: Date.now() - t0 };
  };
  const guestRun = async (argv: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<GuestResult> => {
    const r = await ssh(argv, o);
    if (r.exitCode !== 0) throw new Error(`lab guest: ${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  };
  /** several commands in one session, stopping at the first that fails (whose output says which) */
  const guestRunAll = (commands: readonly string[][]): Promise<GuestResult> =>
    guestRun(['sh', '-ec', commands.map((c) => c.map(shellQuote).join(' ')).join('\n')]);
  /** polls until sshd answers (`up`) or stops answering (`!up`), once a second */
  const untilSshd = async (up: boolean, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await ssh(['true'], { timeoutMs: 10_000 }).catch(() => ({ exitCode: 255 }));
      if ((r.exitCode === 0) === up) return;
      if (Date.now() > deadline) throw new Error(`sshd of ${hostName} ${up ? 'did not answer again' : 'still answers'} ${timeoutMs / 1000} s after the cut`);
      await sleep(1000);
    }
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await execa('ssh', [...labSshOptions, '-O', 'exit', sshTarget], { reject: false, timeout: 5000 });
    if (!qemuExited && qemu.pid) {
      qemu.kill('SIGTERM');
      const killed = await Promise.race([qemuExit.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) { qemu.kill('SIGKILL'); await qemuExit; }
    }
    process.off('exit', killOnExit);
    rmSync(pidFile, { force: true });
    rmSync(controlPath, { force: true });
    log('lab stopped');
  };

  try {
    // wait for the guest's own "ready" (or "FAILED") on its console
    const deadline = started + (opts.readyTimeoutMs ?? 600_000);
    let consoleText = '';
    for (;;) {
      consoleText = existsSync(consoleLog) ? readFileSync(consoleLog, 'latin1') : '';
      if (consoleText.includes(READY_LINE)) break;
      if (consoleText.includes(FAILED_LINE) || qemuExited || Date.now() > deadline) {
        const why = qemuExited ? 'qemu exited' : consoleText.includes(FAILED_LINE) ? 'the guest failed' : 'timed out';
        throw new Error(`lab did not start (${why}); console ${consoleLog}:\n${consoleText.split('\n').slice(-25).join('\n')}\nqemu stderr: ${readFileSync(join(runDir, 'qemu.stderr'), 'utf8')}`);
      }
      await sleep(200);
    }
    const bootMs = Date.now() - started;
    const t1 = Date.now();
    await guestRun(['true'], { timeoutMs: 60_000 });
    const timings: LabTimings = { bootMs, firstSshMs: Date.now() - t1, guestSteps: guestSteps(consoleText) };
    log(`lab ready in ${bootMs} ms, first ssh ${timings.firstSshMs} ms, guest steps ${JSON.stringify(timings.guestSteps)}`);

    await saveLibvirtCapabilities(guestRun, libvirtConfig);

    const bootTables = new Map<string, string>();
    const tableOf = async (volume: string): Promise<string> => {
      const saved = bootTables.get(volume);
      if (saved) return saved;
      const table = (await guestRun(['dmsetup', 'table', volume])).stdout.trim();
      if (!/^0 \d+ linear \S+ \d+$/.test(table)) throw new Error(`lab volume ${volume} is not linear: ${table}`);
      bootTables.set(volume, table);
      return table;
    };
    const loadTable = async (volume: string, table: string): Promise<void> => {
      await guestRun(['dmsetup', 'load', volume, '--table', table]);
      await guestRun(['dmsetup', 'resume', volume]);
    };
    const runningDomains = async (): Promise<string[]> =>
      (await guestRun(['virsh', 'list', '--name'])).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    const waitForLibvirtd = async (): Promise<void> => {
      for (let i = 0; i < 50; i++) {
        if ((await ssh(['virsh', 'version'])).exitCode === 0) return;
        await sleep(200);
      }
      throw new Error('libvirtd did not come back');
    };

    const lab: Lab = {
      hostName,
      sshPort,
      keyFile: files.keyFile,
      sshTarget,
      libvirtUri: `qemu+ssh://root@127.0.0.1:${sshPort}/system?keyfile=${files.keyFile}&no_verify=1&no_tty=1`,
      sshOptions,
      consoleLog,
      runDir,
      tenants,
      timings,
      ssh,
      guestRun,
      virsh: async (args) => (await guestRun(['virsh', ...args])).stdout,
      writePattern: async (device, tag, atMiB, countMiB) => {
        await guestRun(patternWrite([{ device, tag, atMiB, countMiB }]));
      },
      contentMap: async (device) => JSON.parse((await guestRun(['node', PATTERN_TOOL, 'map', device])).stdout) as ContentMap,
      checksum: async (device) => {
        await guestRun(['blockdev', '--flushbufs', device]);
        const out = (await guestRun(['sha256sum', device])).stdout;
        const sum = out.split(' ')[0];
        if (!sum || !/^[0-9a-f]{64}$/.test(sum)) throw new Error(`sha256sum said: ${out}`);
        return sum;
      },
      mdstat: async () => (await guestRun(['cat', '/proc/mdstat'])).stdout,
      domainState: async (name) => (await guestRun(['virsh', 'domstate', name])).stdout.trim(),
      swapInErrorTable: async (volume) => {
        const sectors = (await tableOf(volume)).split(' ')[1] ?? '';
        await loadTable(volume, `0 ${sectors} error`);
      },
      swapInFlakeyTable: async (volume, upSeconds, downSeconds) => {
        const [, sectors, , dev, offset] = (await tableOf(volume)).split(' ');
        await loadTable(volume, `0 ${sectors} flakey ${dev} ${offset} ${upSeconds} ${downSeconds}`);
      },
      restoreVolumeTable: async (volume) => loadTable(volume, await tableOf(volume)),
      restartDomainOutsideSanshift: async (name) => {
        if ((await runningDomains()).includes(name)) await guestRun(['virsh', 'destroy', name]);
        await guestRun(['virsh', 'start', name]);
      },
      restartLibvirtd: async () => {
        const pid = (await guestRun(['cat', '/run/libvirtd.pid'])).stdout.trim();
        if (!/^\d+$/.test(pid)) throw new Error(`libvirtd pid file says ${pid}`);
        await guestRun(['kill', '-TERM', pid]);
        for (let i = 0; i < 100 && (await ssh(['kill', '-0', pid])).exitCode === 0; i++) await sleep(100);
        await guestRun(['libvirtd', '-d']);
        await waitForLibvirtd();
      },
      simulateReboot: async (o = {}) => {
        for (const name of await runningDomains()) await guestRun(['virsh', 'destroy', name]);
        const mdstat = (await guestRun(['cat', '/proc/mdstat'])).stdout;
        for (const m of mdstat.matchAll(/^(md\d+) : /gm)) await guestRun(['mdadm', '--stop', `/dev/${m[1]}`]);
        // a reboot also empties /dev/md of names left by earlier arrays
        await guestRun(['rm', '-rf', '/dev/md']);
        await lab.restartLibvirtd();
        if (o.startTenants) for (const t of tenants) if (t.start !== false) await guestRun(['virsh', 'start', t.name]);
      },
      resetTenants: async (names, o = {}) => {
        const chosen = tenants.filter((t) => names.includes(t.name));
        if (chosen.length !== names.length) throw new Error(`resetTenants: unknown tenant in ${names.join(',')}`);
        // two sessions and the starts: an ssh session costs the lab a second or more under TCG,
        // and a reset used to take some twenty of them a tenant
        const volumes = chosen.flatMap((t) => t.disks.flatMap((d) => [`/dev/mapper/${d.oldVolume}`, `/dev/mapper/${d.newVolume}`]));
        const [listed = '', linked = '', mdstat = ''] = (await guestRunAll([
          ['virsh', 'list', '--name'], ['echo', SECTION], ...(volumes.length === 0 ? [] : [['readlink', '-f', ...volumes]]), ['echo', SECTION], ['cat', '/proc/mdstat'],
        ])).stdout.split(`${SECTION}\n`);
        const running = listed.split('\n').map((x) => x.trim()).filter(Boolean);
        const knames = new Set(linked.split('\n').filter(Boolean).map((x) => x.replace('/dev/', '')));
        const script: string[][] = chosen.filter((t) => running.includes(t.name)).map((t) => ['virsh', 'destroy', t.name]);
        // only the arrays over these tenants' volumes, and their names: another tenant may
        // still run on a mirror a failed scenario left behind
        for (const block of mdstat.split(/\n(?=md\d+ :)/)) {
          const m = /^(md\d+) :([^\n]*)/.exec(block);
          if (m && [...m[2]!.matchAll(/ ([a-z0-9-]+)\[\d+\]/g)].some((x) => knames.has(x[1]!))) script.push(['mdadm', '--stop', `/dev/${m[1]}`]);
        }
        const mirrorNames = chosen.flatMap((t) => [...t.disks, ...(t.externalDisks ?? [])].map((d) => `/dev/md/ss-${t.name}-${d.target}`));
        if (mirrorNames.length > 0) script.push(['rm', '-f', ...mirrorNames]);
        for (const t of chosen) {
          for (const d of t.disks) {
            for (const v of [d.oldVolume, d.newVolume]) script.push(['dmsetup', 'load', v, '--table', await tableOf(v)], ['dmsetup', 'resume', v]);
            // a hole-punched image file reads as zeros through its loop device
            const img = `/san/${d.newVolume}.img`;
            script.push(['truncate', '-s', '0', img], ['truncate', '-s', `${d.sizeMiB}M`, img], ['blockdev', '--flushbufs', `/dev/mapper/${d.newVolume}`]);
          }
        }
        const restore = o.restoreOld ?? [];
        if (restore.length > 0) script.push(patternWrite(restore.map((r) => ({ device: `/dev/mapper/${r.volume}`, tag: r.volume, atMiB: r.atMiB, countMiB: r.countMiB }))));
        for (const t of chosen) {
          // the Linux tenant wrote to OLD before its migration: a fresh file system, a fresh log
          for (const d of t.disks) if (d.fileSystem) script.push([`mkfs.${d.fileSystem}`, '-q', '-F', '-L', d.oldVolume.slice(0, 16), `/dev/mapper/${d.oldVolume}`]);
          if (t.linux || t.powersOffOnAcpi) script.push(['truncate', '-s', '0', serialLogPath(t.name)]);
        }
        for (const t of chosen) script.push(['virsh', 'define', join(runDir, 'tenants', `${t.name}.xml`)]);
        await guestRunAll(script);
        if (o.start !== false) await Promise.all(chosen.filter((t) => t.start !== false).map((t) => guestRun(['virsh', 'start', t.name])));
      },
      setHostResyncCeiling: async (kiBs) => {
        await guestRun(['tee', '/proc/sys/dev/raid/speed_limit_max'], { input: `${kiBs}\n` });
      },
      setHostResyncFloor: async (kiBs) => {
        await guestRun(['tee', '/proc/sys/dev/raid/speed_limit_min'], { input: `${kiBs}\n` });
      },
      setSshSessionDelay: async (ms) => {
        if (!Number.isInteger(ms) || ms < 0) throw new Error(`bad ssh session delay ${ms}`);
        await guestRun(['tee', '/run/sanshift-lab/ssh-session-delay-ms'], { input: `${ms}\n` });
      },
      cutSsh: async (seconds) => {
        if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`bad ssh cut ${seconds}`);
        // detached, so that it outlives the session that starts it (pkill kills that one too)
        await guestRun(['sh', '-c', `setsid sh -c 'sleep 1; pkill -x sshd; sleep ${seconds}; bash -c "$(cat /run/sanshift-lab/sshd-cmd)"' </dev/null >/dev/null 2>&1 &`]);
        // resolve only once it is down: a loaded lab may run the pkill seconds late, and a
        // sshBack() before it would find the old sshd still answering
        await untilSshd(false, 60_000);
      },
      sshBack: (timeoutMs) => untilSshd(true, timeoutMs),
      sshSessions: async () => {
        // the guest logs its uptime: read it in the same command to map it onto our clock
        const sent = Date.now();
        const r = await guestRun(['sh', '-c', 'cat /proc/uptime; cat /run/sanshift-lab/sessions.log 2>/dev/null']);
        const offset = (sent + Date.now()) / 2 - Number(r.stdout.split(' ')[0]) * 1000;
        return r.stdout.split('\n').slice(1).filter(Boolean).map((line) => {
          const space = line.indexOf(' ');
          return { at: offset + Number(line.slice(0, space)) * 1000, command: line.slice(space + 1) };
        });
      },
      serialLog: async (name) => {
        const r = await ssh(['cat', serialLogPath(name)]);
        return r.exitCode === 0 ? r.stdout : '';
      },
      stop,
      keep: () => {
        // the runner ends with process.exit, which would otherwise take the lab with it
        process.off('exit', killOnExit);
        qemu.unref();
      },
    };
    // the boot tables, read while every volume is still linear
    for (const m of (await guestRun(['dmsetup', 'table'])).stdout.matchAll(/^(\S+): (0 \d+ linear \S+ \d+)$/gm)) bootTables.set(m[1]!, m[2]!);
    return lab;
  } catch (e) {
    await stop();
    throw e;
  }
}
