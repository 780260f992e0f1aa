// The lab scenarios: every promise of sanshift proven on the real kernel md, mdadm, libvirtd and
// qemu. Boots the lab once, runs each scenario against it (sanshift as a real subprocess, over
// qemu+ssh and ssh), resets the tenants between scenarios, prints one verdict per scenario and
// `N passed, M failed`. Run: npx tsx test/lab/scenarios.ts [--only a,c] [--keep]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLab, type Lab, type OldRange, type TenantSpec } from './lab.js';
import {
  REPO, checkMigrated, sources, writeDuringResync as writeDuringResyncOn, checkNewContent, checkOnOld, mirrorState, sleep, Workspace,
  type Problems, type Rec, type Write,
} from './harness.js';

const CAPTURES = join(REPO, 'fixtures', 'lab-captures');
const MiB_KiB = 1024;

interface Ctx {
  lab: Lab;
  tenant(name: string): TenantSpec;
  problems: Problems;
  check(what: string, problems: Problems | boolean): void;
  say(line: string): void;
  /** old-volume ranges this scenario overwrote through a mirror, for the next reset */
  dirtied: OldRange[];
}

interface Scenario {
  id: string;
  title: string;
  /** tenants it starts from, reset to their boot state first */
  tenants: string[];
  /** scenarios of one wave run at once, on disjoint tenants (the suite must fit 15 min) */
  wave: number;
  run(ctx: Ctx): Promise<void>;
}

const isResult = (vm: string, step: string) => (r: Rec) => r.kind === 'result' && r.vm === vm && r.step === step;
const isIntent = (vm: string, step: string) => (r: Rec) => r.kind === 'intent' && r.vm === vm && r.step === step;
const finished = (recs: Rec[], vm: string) => recs.filter((r) => r.kind === 'vm-finished' && r.vm === vm).at(-1);

function capture(name: string, text: string): void {
  writeFileSync(join(CAPTURES, name), text);
}

/** the writer of (a): a pattern through every mirror while it resyncs, checked to land then */
async function writeDuringResync(ctx: Ctx, t: TenantSpec, writes: Map<string, Write[]>, timeoutMs: number, captureAs?: string): Promise<void> {
  const w = await writeDuringResyncOn(ctx.lab, t, timeoutMs);
  for (const [mirror, landed] of w.landedMidResync) {
    ctx.check(`${mirror}: the writes landed while it resynced`, landed);
    ctx.say(`wrote ${JSON.stringify(w.writes.get(t.disks.find((d) => mirror.endsWith(d.target))!.newVolume))} through ${mirror}`);
  }
  for (const [k, v] of w.writes) writes.set(k, v);
  ctx.dirtied.push(...w.dirtied);
  const first = [...w.seen.entries()][0];
  if (captureAs && first) {
    capture(`${captureAs}.mdstat.txt`, first[1].mdstat);
    capture(`${captureAs}.detail.txt`, `$ mdadm --detail ${first[0]}\n${first[1].detail}[exit 0]\n`);
  }
}

/** waits until the tenant runs on its mirrors and they are still resyncing */
async function midResync(ctx: Ctx, ws: Workspace, proc: ReturnType<Workspace['sanshift']>, t: TenantSpec): Promise<void> {
  await ws.waitForRecord(`${t.name} started on its mirror`, isResult(t.name, 'start-on-mirror'), 240_000, proc);
  const s = await mirrorState(ctx.lab, `/dev/md/ss-${t.name}-${t.disks[0]!.target}`);
  if (!s.recovering) throw new Error(`${t.name}'s mirror is not resyncing any more when the VM started on it: lower the cap`);
}

const scenarios: Scenario[] = [
  {
    id: 'a',
    wave: 1,
    title: 'full migration of vm1, vm2, vm3 with writes through every mirror mid-resync',
    tenants: ['vm1', 'vm2', 'vm3'],
    async run(ctx) {
      const ts = ['vm1', 'vm2', 'vm3'].map((n) => ctx.tenant(n));
      const ws = new Workspace('a', ctx.lab, ts);
      ws.writeInventory({ resyncSpeedMax: '4MiB/s' });
      const writes = new Map<string, Write[]>();
      const proc = ws.sanshift(['run', '--yes']);
      await Promise.all(ts.map((t, i) => writeDuringResync(ctx, t, writes, 240_000, i === 1 ? 'scenario-a-vm2-recovering' : undefined)));
      const code = await proc.finish(600_000);
      ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
      ctx.check('NEW holds OLD plus every write', await checkNewContent(ctx.lab, ts, writes));
      ctx.check('every VM runs on NEW and is defined on NEW, no md array, no metadata', await checkMigrated(ctx.lab, ts));
      capture('scenario-a-mdstat-after.txt', await ctx.lab.mdstat());
    },
  },
  {
    id: 'b',
    wave: 2,
    title: 'rollback in mid-resync',
    tenants: ['vm3'],
    async run(ctx) {
      const t = ctx.tenant('vm3');
      const ws = new Workspace('b', ctx.lab, [t]);
      ws.writeInventory({ resyncSpeedMax: '1MiB/s' });
      const before = await ctx.lab.virsh(['dumpxml', '--inactive', t.name]);
      const proc = ws.sanshift(['run', '--yes']);
      await midResync(ctx, ws, proc, t);
      capture('scenario-b-recovering.mdstat.txt', await ctx.lab.mdstat());
      // the operator stops the run (it would go on) and rolls back
      await proc.kill();
      const rb = ws.sanshift(['rollback', t.name, '--yes']);
      const code = await rb.finish(300_000);
      ctx.check(`sanshift rollback exits 0 (got ${code}; log ${rb.logFile})`, code === 0);
      ctx.check('vm3 runs on OLD, mirror gone, definition identical to the original', await checkOnOld(ctx.lab, t, before));
    },
  },
  {
    id: 'c',
    wave: 2,
    title: 'sanshift SIGKILLed at step boundaries (vm2, two disks), then run again',
    tenants: ['vm2'],
    async run(ctx) {
      const t = ctx.tenant('vm2');
      const ws = new Workspace('c', ctx.lab, [t]);
      ws.writeInventory({ resyncSpeedMax: '2MiB/s' });
      const writes = new Map<string, Write[]>();
      // each kill lands right after the journal shows this record, in a fresh run each time
      const boundaries: [string, (r: Rec) => boolean][] = [
        ['at build-mirror intent (vda)', (r) => isIntent('vm2', 'build-mirror')(r) && r.target === 'vda'],
        ['after add-new-leg result (vda)', (r) => isResult('vm2', 'add-new-leg')(r) && r.target === 'vda'],
        ['at start-on-mirror intent', isIntent('vm2', 'start-on-mirror')],
        // a kill at the start's intent may land after libvirt started it: the next run adopts it
        ['in mid-resync (after start-on-mirror or adopt-start result)', (r) => isResult('vm2', 'start-on-mirror')(r) || isResult('vm2', 'adopt-start')(r)],
        ['at define-on-new result', isResult('vm2', 'define-on-new')],
        ['at stop-mirror result (first disk)', isResult('vm2', 'stop-mirror')],
      ];
      let seen = 0;
      for (const [label, match] of boundaries) {
        const proc = ws.sanshift(['run', '--yes']);
        // a boundary already passed by an earlier run cannot be hit again: skip it
        const already = ws.journal().filter(match).length;
        try {
          await ws.waitForCount(label, match, already + 1, 300_000, proc);
        } catch (e) {
          ctx.check(`kill ${label}: ${(e as Error).message}`, false);
          await proc.kill();
          continue;
        }
        await proc.kill();
        seen++;
        ctx.say(`SIGKILL ${label}`);
        if (label.startsWith('in mid-resync')) {
          // writes made while no sanshift runs: the mirror keeps them, the next run copies on
          for (const d of t.disks) {
            const w: Write = { tag: `w-c-${d.target}`, atMiB: 3, countMiB: 2 };
            await ctx.lab.writePattern(`/dev/md/ss-vm2-${d.target}`, w.tag, w.atMiB, w.countMiB);
            writes.set(d.newVolume, [w]);
            ctx.dirtied.push({ volume: d.oldVolume, atMiB: w.atMiB, countMiB: w.countMiB });
          }
          ws.writeInventory({ resyncSpeedMax: '16MiB/s' });
        }
      }
      const last = ws.sanshift(['run', '--yes']);
      const code = await last.finish(600_000);
      ctx.check(`the last run exits 0 (got ${code}; log ${last.logFile})`, code === 0);
      ctx.check(`all ${boundaries.length} kills landed`, seen === boundaries.length);
      ctx.check('NEW holds OLD plus every write', await checkNewContent(ctx.lab, [t], writes));
      ctx.check('vm2 runs on NEW and is defined on NEW, no md array, no metadata', await checkMigrated(ctx.lab, [t]));
    },
  },
  {
    id: 'd',
    // a reboot is host-wide (every domain, every array, libvirtd): nothing else may run then
    wave: 4,
    title: 'host reboot in mid-resync: virsh start boots OLD (I2), then sanshift completes',
    tenants: ['vm3'],
    async run(ctx) {
      const t = ctx.tenant('vm3');
      const ws = new Workspace('d', ctx.lab, [t]);
      ws.writeInventory({ resyncSpeedMax: '1MiB/s' });
      const proc = ws.sanshift(['run', '--yes']);
      await midResync(ctx, ws, proc, t);
      // a host crash also takes sanshift's connections: the operator runs it again afterwards
      await proc.kill();
      await ctx.lab.simulateReboot();
      await ctx.lab.virsh(['start', t.name]);
      ctx.check('after the reboot, virsh start boots vm3 on OLD (I2)', JSON.stringify(await sources(ctx.lab, t.name, false)) === JSON.stringify(['/dev/mapper/old-vm3']));
      ws.writeInventory({ resyncSpeedMax: '16MiB/s' });
      const again = ws.sanshift(['run', '--yes']);
      const code = await again.finish(600_000);
      ctx.check(`sanshift run after the reboot exits 0 (got ${code}; log ${again.logFile})`, code === 0);
      ctx.check('NEW holds OLD', await checkNewContent(ctx.lab, [t], new Map()));
      ctx.check('vm3 on NEW, no md array, no metadata', await checkMigrated(ctx.lab, [t]));
    },
  },
  {
    id: 'e',
    wave: 3,
    title: 'new leg fails in mid-resync (dm error table under new-vm2-a); vm4 completes',
    tenants: ['vm2', 'vm4'],
    async run(ctx) {
      const [vm2, vm3] = [ctx.tenant('vm2'), ctx.tenant('vm4')];
      const ws = new Workspace('e', ctx.lab, [vm2, vm3]);
      ws.writeInventory({ resyncSpeedMax: '1MiB/s' });
      const before = await ctx.lab.virsh(['dumpxml', '--inactive', 'vm2']);
      const proc = ws.sanshift(['run', '--yes']);
      await midResync(ctx, ws, proc, vm2);
      await ctx.lab.swapInErrorTable('new-vm2-a');
      ctx.say('error table loaded under new-vm2-a');
      const code = await proc.finish(600_000);
      await ctx.lab.restoreVolumeTable('new-vm2-a');
      ctx.check(`sanshift run exits 1 (one VM failed; got ${code}; log ${proc.logFile})`, code === 1);
      const fin = finished(ws.journal(), 'vm2');
      ctx.check(`vm2's migration ends failed with the reason (${fin?.reason ?? 'none'})`, fin?.outcome === 'failed' && /leg|fail|faulty/i.test(fin.reason ?? ''));
      ctx.check('vm2 runs on OLD with its original definition, mirrors cleaned up', await checkOnOld(ctx.lab, vm2, before));
      ctx.check('vm4 completes: NEW holds OLD', await checkNewContent(ctx.lab, [vm3], new Map()));
      ctx.check('vm4 on NEW, no metadata', await checkMigrated(ctx.lab, [vm3]));
    },
  },
  {
    id: 'f',
    wave: 3,
    title: 'VM restarted outside sanshift during the resync: detected (I3), mirror rebuilt, no stale cutover',
    tenants: ['vm1'],
    async run(ctx) {
      const t = ctx.tenant('vm1');
      const ws = new Workspace('f', ctx.lab, [t]);
      ws.writeInventory({ resyncSpeedMax: '4MiB/s' });
      const proc = ws.sanshift(['run', '--yes']);
      await midResync(ctx, ws, proc, t);
      const builds = ws.journal().filter(isResult(t.name, 'build-mirror')).length;
      await ctx.lab.restartDomainOutsideSanshift(t.name);
      // it runs on OLD now: what it writes there never reaches NEW through the stale mirror
      const w: Write = { tag: 'w-f-outside', atMiB: 20, countMiB: 3 };
      await ctx.lab.writePattern('/dev/mapper/old-vm1', w.tag, w.atMiB, w.countMiB);
      ctx.dirtied.push({ volume: 'old-vm1', atMiB: w.atMiB, countMiB: w.countMiB });
      ctx.say('vm1 restarted outside sanshift (now on OLD); 3 MiB written to OLD directly');
      const stale = await ws.waitForRecord('stop-mirror (stale)', (r) => isResult(t.name, 'stop-mirror')(r) && r.detail?.['why'] === 'stale', 240_000, proc);
      ctx.say(`sanshift stopped the stale mirror at ${stale.at}`);
      const code = await proc.finish(600_000);
      ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
      ctx.check('the mirror was rebuilt after the restart', ws.journal().filter(isResult(t.name, 'build-mirror')).length > builds);
      ctx.check('NEW holds OLD including the write made outside the mirror (no stale cutover)', await checkNewContent(ctx.lab, [t], new Map([['new-vm1', [w]]])));
      ctx.check('vm1 on NEW, no md array, no metadata', await checkMigrated(ctx.lab, [t]));
    },
  },
  {
    id: 'g',
    wave: 2,
    title: 'graceful shutdown: vm4 powers off on ACPI, vm1 ignores it and is forced (policy force)',
    tenants: ['vm4', 'vm1'],
    async run(ctx) {
      const ts = [ctx.tenant('vm4'), ctx.tenant('vm1')];
      const ws = new Workspace('g', ctx.lab, ts);
      // slow enough that vm4's boot sector is up (ACPI enabled) before its T2 shutdown: a guest
      // still in its BIOS ignores the power button
      ws.writeInventory({ resyncSpeedMax: '4MiB/s', shutdownTimeout: '8s' });
      const proc = ws.sanshift(['run', '--yes']);
      const code = await proc.finish(600_000);
      ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
      const shutdowns = (vm: string) => ws.journal().filter(isResult(vm, 'shutdown-vm')).map((r) => r.detail?.['forced']);
      ctx.check(`vm4 shut down twice without force (${JSON.stringify(shutdowns('vm4'))})`, JSON.stringify(shutdowns('vm4')) === '[false,false]');
      ctx.check(`vm1 forced off twice after the timeout (${JSON.stringify(shutdowns('vm1'))})`, JSON.stringify(shutdowns('vm1')) === '[true,true]');
      const serial = (await ctx.lab.virsh(['domstate', 'vm4'])).trim();
      ctx.check('vm4 runs again on NEW', serial === 'running');
      ctx.check('both on NEW, NEW holds OLD', [...await checkMigrated(ctx.lab, ts), ...await checkNewContent(ctx.lab, [ts[1]!], new Map())]);
    },
  },
];

function parseArgs(argv: string[]): { only: Set<string> | null; keep: boolean } {
  let only: Set<string> | null = null;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') only = new Set((argv[++i] ?? '').split(',').filter(Boolean));
    else if (argv[i] === '--keep') keep = true;
    else throw new Error(`unknown argument ${argv[i]}; usage: scenarios.ts [--only a,b] [--keep]`);
  }
  return { only, keep };
}

async function main(): Promise<number> {
  const { only, keep } = parseArgs(process.argv.slice(2));
  const chosen = scenarios.filter((s) => only === null || only.has(s.id));
  if (chosen.length === 0) throw new Error('no scenario chosen');
  mkdirSync(CAPTURES, { recursive: true });
  const t0 = Date.now();
  const results: { id: string; ok: boolean; ms: number; title: string }[] = [];
  console.log('lab: booting (1-2 min)');
  const lab = await startLab();
  console.log(`lab: ready in ${(lab.timings.bootMs / 1000).toFixed(0)} s on 127.0.0.1:${lab.sshPort}; run folder ${lab.runDir}`);
  // the lab's SAN is slow: md's host-wide ceiling keeps the first instants after `mdadm --add`
  // (before sanshift sets the per-mirror cap) from copying a small volume at once
  await lab.setHostResyncCeiling(4 * MiB_KiB);
  // tenants whose state differs from the boot's, and old ranges to restore
  const touched = new Set<string>();
  const dirtied: OldRange[] = [];
  const ownsVolume = (names: readonly string[], volume: string) => lab.tenants.some((t) => names.includes(t.name) && t.disks.some((d) => d.oldVolume === volume));
  const runOne = async (s: Scenario, delayMs: number): Promise<void> => {
    await sleep(delayMs);
    const started = Date.now();
    const problems: Problems = [];
    const say = (line: string): void => console.log(`  [${s.id}] ${line}`);
    try {
      const ctx: Ctx = {
        lab,
        tenant: (name) => {
          const t = lab.tenants.find((x) => x.name === name);
          if (!t) throw new Error(`no tenant ${name}`);
          return t;
        },
        problems,
        check: (what, p) => {
          const list = typeof p === 'boolean' ? (p ? [] : [what]) : p.map((x) => `${what}: ${x}`);
          say(`${list.length === 0 ? 'ok  ' : 'FAIL'} ${what}`);
          problems.push(...list);
        },
        say,
        dirtied,
      };
      await s.run(ctx);
    } catch (e) {
      problems.push(`error: ${(e as Error).stack ?? String(e)}`);
    }
    const ms = Date.now() - started;
    results.push({ id: s.id, ok: problems.length === 0, ms, title: s.title });
    console.log(`${problems.length === 0 ? 'PASS' : 'FAIL'} ${s.id} ${s.title} (${(ms / 1000).toFixed(1)} s)`);
    for (const p of problems) console.log(`     ${p.replaceAll('\n', '\n     ')}`);
  };
  try {
    const waves = [...new Set(chosen.map((s) => s.wave))].sort((x, y) => x - y);
    for (const wave of waves) {
      const these = chosen.filter((s) => s.wave === wave);
      const names = these.flatMap((s) => s.tenants);
      if (new Set(names).size !== names.length) throw new Error(`wave ${wave} shares a tenant between scenarios`);
      const reset = names.filter((n) => touched.has(n));
      if (reset.length > 0) {
        const t = Date.now();
        await lab.resetTenants(reset, { restoreOld: dirtied.filter((r) => ownsVolume(reset, r.volume)) });
        dirtied.splice(0, dirtied.length, ...dirtied.filter((r) => !ownsVolume(reset, r.volume)));
        console.log(`reset ${reset.join(', ')} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      }
      for (const n of names) touched.add(n);
      console.log(`wave ${wave}: ${these.map((s) => s.id).join(', ')}${these.length > 1 ? ' (at once, on disjoint tenants)' : ''}`);
      // staggered: md arrays built at the same instant by two processes race for a minor
      await Promise.all(these.map((s, i) => runOne(s, i * 12_000)));
    }
  } finally {
    if (!keep) await lab.stop();
    else console.log(`lab kept running: ssh -p ${lab.sshPort} -i ${lab.keyFile} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 (bash test/lab/stop.sh to stop it)`);
  }
  console.log('\ntimings');
  console.log(`  lab boot ${(lab.timings.bootMs / 1000).toFixed(1)} s`);
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
