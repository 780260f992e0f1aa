// The lab scenarios: every promise of sanshift proven on the real kernel md, mdadm, libvirtd and
// qemu. Boots the lab (a second lab host too when a chosen scenario needs one), runs each
// scenario of scenarios/index.ts against it (sanshift as a real subprocess, over qemu+ssh and
// ssh), each as soon as the tenants it needs are free and reset, prints one verdict per
// scenario and `N passed, M failed`. Run: npx tsx test/lab/scenarios.ts [--only a,c] [--full] [--keep]
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_WORK, startLab, type Lab, type OldRange } from './lab.js';
import { killLeftoverSanshifts, type Problems } from './harness.js';
import { SCENARIOS } from './scenarios/index.js';
import { CAPTURES, type Ctx, type Scenario } from './scenarios/scenario.js';
import { HOST_B_TENANTS, LAB_TENANTS, LINUX_TENANT, SHARED_LUN } from './tenants.js';
import { createSharedLun } from './shared-lun.js';

const MiB_KiB = 1024;

interface Args {
  only: Set<string> | null;
  /** the opt-in scenarios too, and AppArmor on both hosts (npm run test:lab:full) */
  full: boolean;
  /** the hosts ('a', 'b') that load libvirt's AppArmor profiles */
  apparmor: Set<'a' | 'b'>;
  keep: boolean;
}

const USAGE = 'usage: scenarios.ts [--only a,b] [--full] [--apparmor a,b|b|none] [--keep]';

function parseArgs(argv: string[]): Args {
  let only: Set<string> | null = null;
  let keep = false;
  let full = false;
  let apparmor: Set<'a' | 'b'> | null = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') only = new Set((argv[++i] ?? '').split(',').filter(Boolean));
    else if (argv[i] === '--keep') keep = true;
    else if (argv[i] === '--full') full = true;
    else if (argv[i] === '--apparmor') {
      const hosts = (argv[++i] ?? '').split(',').filter((h) => h !== '' && h !== 'none');
      if (hosts.some((h) => h !== 'a' && h !== 'b')) throw new Error(`--apparmor takes a, b, a,b or none; ${USAGE}`);
      apparmor = new Set(hosts as ('a' | 'b')[]);
    } else throw new Error(`unknown argument ${argv[i]}; ${USAGE}`);
  }
  // AppArmor costs a lab host about 30 s of CPU per domain start (virt-aa-helper compiles the
  // qemu profile several times under TCG): in CI only host B has it, so CI still starts VMs on
  // mirrors and on NEW under AppArmor (j, i), and the whole set runs with it in --full
  return { only, full, keep, apparmor: apparmor ?? new Set(full ? ['a', 'b'] : ['b']) };
}

/** Whether a scenario needs the host: it names tenants there, or holds it whole. */
function usesHost(s: Scenario, host: 'A' | 'B'): boolean {
  return s.wholeHost === host || (host === 'A' ? s.tenants : s.tenantsOnB ?? []).length > 0;
}

/** Whether two scenarios may not run at once: a tenant in common, or a host one of them changes
 * as a whole (a reboot, an ssh cut) that the other uses. */
function conflicts(x: Scenario, y: Scenario): boolean {
  for (const host of ['A', 'B'] as const) {
    if ((x.wholeHost === host && usesHost(y, host)) || (y.wholeHost === host && usesHost(x, host))) return true;
  }
  const onB = new Set(y.tenantsOnB ?? []);
  return x.tenants.some((t) => y.tenants.includes(t)) || (x.tenantsOnB ?? []).some((t) => onB.has(t));
}

/** One lab host and what the scenarios did to it since its boot. */
class HostState {
  /** tenants whose state differs from the boot's */
  readonly touched = new Set<string>();
  /** old-volume ranges overwritten through mirrors, to restore at the next reset */
  readonly dirtied: OldRange[] = [];
  constructor(readonly lab: Lab) {}

  private ownsVolume(names: readonly string[], volume: string): boolean {
    return this.lab.tenants.some((t) => names.includes(t.name) && t.disks.some((d) => d.oldVolume === volume));
  }

  /** puts the named tenants back as the boot left them, if a scenario touched them */
  async reset(names: readonly string[]): Promise<void> {
    const reset = names.filter((n) => this.touched.has(n));
    if (reset.length > 0) {
      const t = Date.now();
      await this.lab.resetTenants(reset, { restoreOld: this.dirtied.filter((r) => this.ownsVolume(reset, r.volume)) });
      this.dirtied.splice(0, this.dirtied.length, ...this.dirtied.filter((r) => !this.ownsVolume(reset, r.volume)));
      console.log(`reset ${reset.join(', ')} on ${this.lab.hostName} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    }
    for (const n of names) this.touched.add(n);
  }

  /** after a scenario that held the host (a reboot destroys every domain): all to reset */
  touchAll(): void {
    for (const t of this.lab.tenants) this.touched.add(t.name);
  }
}

async function main(): Promise<number> {
  const { only, full, keep, apparmor } = parseArgs(process.argv.slice(2));
  const ids = SCENARIOS.map((s) => s.id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length > 0) throw new Error(`scenario id registered twice: ${twice.join(', ')}`);
  const unknown = [...(only ?? [])].filter((id) => !ids.includes(id));
  if (unknown.length > 0) throw new Error(`no scenario ${unknown.join(', ')}; there are ${ids.join(', ')}`);
  // opt-in scenarios run when named, or with --full
  const chosen = SCENARIOS.filter((s) => (only === null ? full || !s.optIn : only.has(s.id)));
  if (chosen.length === 0) throw new Error('no scenario chosen');
  mkdirSync(CAPTURES, { recursive: true });
  const t0 = Date.now();
  const results: { id: string; ok: boolean; ms: number; title: string }[] = [];
  const twoHosts = chosen.some((s) => usesHost(s, 'B'));

  // the LUN both hosts see lives on this machine, beside the labs' run folders
  const lunDir = join(LAB_WORK, `shared-${process.pid}`);
  let labA: Lab | null = null;
  let labB: Lab | null = null;
  try {
    const aa = (h: 'a' | 'b'): string => (apparmor.has(h) ? 'AppArmor' : 'no AppArmor');
    console.log(`lab: booting ${twoHosts ? `two hosts at once (lab-hv: ${aa('a')}; lab-hv2: ${aa('b')})` : `one host (${aa('a')})`}, 2-5 min`);
    const sharedDisks = twoHosts ? [{ file: createSharedLun(lunDir, SHARED_LUN), serial: SHARED_LUN.serial }] : [];
    // the Linux tenant only for a scenario that names it: its two ext4 volumes and its kernel
    // cost host A's boot seconds of TCG that no other scenario needs
    const tenantsA = LAB_TENANTS.filter((t) => t.name !== LINUX_TENANT.name || chosen.some((s) => s.tenants.includes(t.name)));
    const bootA = startLab({ tenants: tenantsA, sharedDisks, memoryMiB: 4096, apparmor: apparmor.has('a') });
    const bootB = twoHosts ? startLab({ hostName: 'lab-hv2', tenants: HOST_B_TENANTS, sharedDisks, memoryMiB: 2048, apparmor: apparmor.has('b') }) : null;
    // a host takes scenarios once it is up and its md knobs are set: host A's start while host B
    // still boots (B's tenants start under AppArmor: it comes up 20-45 s later)
    const ready = async (l: Lab): Promise<Lab> => {
      console.log(`lab: ${l.hostName} ready in ${(l.timings.bootMs / 1000).toFixed(0)} s on 127.0.0.1:${l.sshPort}; run folder ${l.runDir}`);
      // the lab's SAN is slow: md's host-wide ceiling keeps the first instants after `mdadm
      // --add` (before sanshift sets the per-mirror cap) from copying a small volume at once;
      // md's floor (1000 KiB/s by default) would override any per-mirror cap below it
      await l.setHostResyncCeiling(4 * MiB_KiB);
      await l.setHostResyncFloor(16);
      return l;
    };
    let stateB: HostState | null = null;
    /** host B: booting, up, or why it is not */
    let hostB: 'booting' | 'up' | Error = bootB === null ? new Error('no scenario chosen uses it') : 'booting';
    const bootedB: Promise<void> | null = bootB === null ? null : bootB
      .then(async (l) => {
        labB = l;
        stateB = new HostState(await ready(l));
        hostB = 'up';
      })
      .catch((e: unknown) => {
        hostB = e instanceof Error ? e : new Error(String(e));
      });
    try {
      labA = await bootA;
    } catch (e) {
      // let host B finish booting, so that the end stops it too
      await bootedB;
      throw e;
    }
    const a = await ready(labA);
    const stateA = new HostState(a);

    const runOne = async (s: Scenario): Promise<void> => {
      const started = Date.now();
      const problems: Problems = [];
      const say = (line: string): void => console.log(`  [${s.id}] ${line}`);
      const tenantOf = (l: Lab | null, name: string) => {
        const t = l?.tenants.find((x) => x.name === name);
        if (!t) throw new Error(`no tenant ${name} on ${l?.hostName ?? 'a second host (none booted)'}`);
        return t;
      };
      try {
        const ctx: Ctx = {
          lab: a,
          get labB(): Lab {
            if (labB === null) throw new Error(`scenario ${s.id} uses a second host but declares no tenantsOnB`);
            return labB;
          },
          tenant: (name) => tenantOf(a, name),
          tenantOnB: (name) => tenantOf(labB, name),
          problems,
          check: (what, p) => {
            const list = typeof p === 'boolean' ? (p ? [] : [what]) : p.map((x) => `${what}: ${x}`);
            say(`${list.length === 0 ? 'ok  ' : 'FAIL'} ${what}`);
            problems.push(...list);
          },
          say,
          dirtied: stateA.dirtied,
          dirtiedOnB: stateB?.dirtied ?? [],
        };
        await s.run(ctx);
      } catch (e) {
        problems.push(`error: ${(e as Error).stack ?? String(e)}`);
      }
      // a scenario that threw may leave its sanshift running: it must not act on the tenants'
      // next scenario
      await killLeftoverSanshifts(s.id);
      const ms = Date.now() - started;
      results.push({ id: s.id, ok: problems.length === 0, ms, title: s.title });
      console.log(`${problems.length === 0 ? 'PASS' : 'FAIL'} ${s.id} ${s.title} (${(ms / 1000).toFixed(1)} s)`);
      for (const p of problems) console.log(`     ${p.replaceAll('\n', '\n     ')}`);
    };

    // Each scenario starts as soon as its tenants are free (and its host, for one that changes
    // a host as a whole), after a reset of those of them an earlier scenario touched; no
    // scenario overtakes an earlier one of the list it shares a tenant or host with, so each
    // tenant sees the list's order. Fixed waves left a host idle while the wave's slowest
    // scenario ran, and reset every tenant of a wave at once while nothing ran.
    const pending = [...chosen];
    const running = new Map<Scenario, Promise<Scenario>>();
    const startable = (s: Scenario): boolean =>
      (!usesHost(s, 'B') || hostB !== 'booting') &&
      ![...running.keys()].some((r) => conflicts(r, s)) && !pending.slice(0, pending.indexOf(s)).some((e) => conflicts(e, s));
    const start = (s: Scenario): Promise<Scenario> =>
      (async () => {
        if (usesHost(s, 'B') && hostB instanceof Error) {
          results.push({ id: s.id, ok: false, ms: 0, title: s.title });
          console.log(`FAIL ${s.id} ${s.title} (not run: lab-hv2 did not boot: ${hostB.message})`);
          return s;
        }
        try {
          // the two hosts reset side by side
          await Promise.all([stateA.reset(s.tenants), stateB?.reset(s.tenantsOnB ?? [])]);
        } catch (e) {
          // an earlier scenario left its tenants in a state the reset cannot undo: this one
          // cannot start from the boot state, the others may
          results.push({ id: s.id, ok: false, ms: 0, title: s.title });
          console.log(`FAIL ${s.id} ${s.title} (not run: resetting its tenants failed: ${(e as Error).message})`);
          return s;
        }
        const beside = [...running.keys()].filter((r) => r !== s).map((r) => r.id);
        console.log(`start ${s.id}${beside.length > 0 ? ` (beside ${beside.join(', ')})` : ''}`);
        // the hosts' md lock keeps two sanshift processes from racing for an md minor
        // (scenario l starts two runs at the same instant to prove it)
        await runOne(s);
        if (s.wholeHost === 'A') stateA.touchAll();
        if (s.wholeHost === 'B') stateB?.touchAll();
        return s;
      })();
    while (pending.length > 0 || running.size > 0) {
      for (const s of pending.filter(startable)) {
        pending.splice(pending.indexOf(s), 1);
        running.set(s, start(s));
      }
      const next = await Promise.race([...running.values(), ...(hostB === 'booting' && bootedB !== null ? [bootedB.then(() => null)] : [])]);
      if (next !== null) running.delete(next);
    }
  } finally {
    const up = [labA, labB].filter((l): l is Lab => l !== null);
    if (!keep) {
      await Promise.all(up.map((l) => l.stop()));
      rmSync(lunDir, { recursive: true, force: true });
    } else {
      for (const l of up) l.keep();
      for (const l of up) console.log(`lab ${l.hostName} kept running: ssh -p ${l.sshPort} -i ${l.keyFile} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 (bash test/lab/stop.sh to stop it)`);
    }
  }
  console.log('\ntimings');
  for (const l of [labA, labB]) if (l) console.log(`  lab boot ${l.hostName} ${(l.timings.bootMs / 1000).toFixed(1)} s`);
  for (const r of results) console.log(`  ${r.id} ${(r.ms / 1000).toFixed(1).padStart(6)} s  ${r.ok ? 'pass' : 'FAIL'}`);
  console.log(`  total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const passed = results.filter((r) => r.ok).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  return results.length - passed === 0 ? 0 : 1;
}

const code = await main().catch((e: unknown) => {
  console.error(`lab scenarios: ${(e as Error).stack ?? String(e)}`);
  console.log('0 passed, 1 failed');
  return 1;
});
// The lab is down by now; end here rather than wait on whatever handle a library left open
// (a CI run once sat for minutes after its last line). Exit once stdout has drained.
process.stdout.write('', () => process.exit(code));
