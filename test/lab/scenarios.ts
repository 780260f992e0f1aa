// The lab scenarios: every promise of sanshift proven on the real kernel md, mdadm, libvirtd and
// qemu. Boots the lab once, runs each scenario of scenarios/index.ts against it (sanshift as a
// real subprocess, over qemu+ssh and ssh), resets the tenants between waves, prints one verdict
// per scenario and `N passed, M failed`. Run: npx tsx test/lab/scenarios.ts [--only a,c] [--keep]
import { mkdirSync } from 'node:fs';
import { startLab, type OldRange } from './lab.js';
import { sleep, type Problems } from './harness.js';
import { SCENARIOS } from './scenarios/index.js';
import { CAPTURES, type Ctx, type Scenario } from './scenarios/scenario.js';

const MiB_KiB = 1024;

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
  const ids = SCENARIOS.map((s) => s.id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length > 0) throw new Error(`scenario id registered twice: ${twice.join(', ')}`);
  const chosen = SCENARIOS.filter((s) => only === null || only.has(s.id));
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
