// (i) NEW is a SAN LUN that a VM on another host uses (I5: "referenced by any domain on every
// host that sees the LUN"). Host B's vm7 runs on the shared LUN; the inventory asks to migrate
// host A's vm6 onto that same LUN. plan and run must refuse with exit 2, naming vm7 and lab-hv2,
// and touch nothing: vm6 still on OLD as defined before, no mirror, the LUN's content unchanged.
import { checkOnOld, Workspace, type Sanshift } from '../harness.js';
import { SHARED_LUN, SHARED_LUN_PATH } from '../tenants.js';
import type { Scenario } from './scenario.js';

/** the exit code, or 'acted' once the journal shows a side effect about to happen (then killed) */
async function refusedOrKilled(ws: Workspace, proc: Sanshift, timeoutMs: number): Promise<number | 'acted'> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.exited) {
    if (ws.journal().some((r) => r.kind === 'intent')) {
      await proc.kill();
      return 'acted';
    }
    if (Date.now() > deadline) {
      await proc.kill();
      throw new Error(`sanshift ${proc.args.join(' ')} neither refused nor acted within ${timeoutMs / 1000} s; log ${proc.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return proc.exitCode ?? -1;
}

export const newInUseOnOtherHost: Scenario = {
  id: 'i',
  title: 'NEW is a LUN that a VM on another host uses: plan and run refuse (exit 2) naming vm7 on lab-hv2, nothing touched',
  tenants: ['vm6'],
  tenantsOnB: ['vm7'],
  async run(ctx) {
    const [a, b] = [ctx.lab, ctx.labB];
    const vm6 = ctx.tenant('vm6');
    // vm7's data on the LUN (past its boot sector), written from host B; host A must see the
    // very same bytes
    await b.writePattern(SHARED_LUN_PATH, SHARED_LUN.serial, 1, SHARED_LUN.sizeMiB - 1);
    const lunBefore = await b.checksum(SHARED_LUN_PATH);
    ctx.check('both hosts see the same LUN (same content read on lab-hv and lab-hv2)', (await a.checksum(SHARED_LUN_PATH)) === lunBefore);
    ctx.check('vm7 runs on lab-hv2 on the LUN', (await b.domainState('vm7')) === 'running' && (await b.virsh(['domblklist', 'vm7'])).includes(SHARED_LUN_PATH));
    const vm6Before = await a.virsh(['dumpxml', '--inactive', 'vm6']);

    // both hosts in the inventory (host B with no VM to migrate); vm6's new volume is the LUN
    const ws = new Workspace('i', a, [vm6], [{ lab: b, tenants: [] }]);
    ws.writeInventory({ newVolumes: { vm6: { vda: SHARED_LUN_PATH } } });
    const names = (log: string): boolean => /\bvm7\b/.test(log) && /\blab-hv2\b/.test(log);

    const plan = ws.sanshift(['plan']);
    const planCode = await plan.finish(600_000);
    ctx.check(`sanshift plan exits 2 (got ${planCode}; log ${plan.logFile})`, planCode === 2);
    ctx.check('sanshift plan names vm7 and lab-hv2', names(plan.log()));

    const run = ws.sanshift(['run', '--yes']);
    const runCode = await refusedOrKilled(ws, run, 600_000);
    ctx.check(`sanshift run exits 2 before any side effect (got ${runCode === 'acted' ? 'a side effect in the journal: killed' : runCode}; log ${run.logFile})`, runCode === 2);
    ctx.check('sanshift run names vm7 and lab-hv2', names(run.log()));

    ctx.check('vm6 untouched: running on OLD, definition as before, no mirror', await checkOnOld(a, vm6, vm6Before));
    const lunKernelName = (await a.guestRun(['readlink', '-f', SHARED_LUN_PATH])).stdout.trim().replace('/dev/', '');
    ctx.check(`no md array on lab-hv holds the LUN (${lunKernelName})`, !new RegExp(`\\b${lunKernelName}\\[`).test(await a.mdstat()));
    ctx.check("the LUN's content is unchanged", (await b.checksum(SHARED_LUN_PATH)) === lunBefore);
    ctx.check('vm7 still runs on lab-hv2', (await b.domainState('vm7')) === 'running');
  },
};
