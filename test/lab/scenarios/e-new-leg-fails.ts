// (e) The new leg fails in mid-resync: that VM goes back to OLD, the other completes.
import { checkMigrated, checkNewContent, checkOnOld, Workspace } from '../harness.js';
import { finished, midResync, type Scenario } from './scenario.js';

export const newLegFails: Scenario = {
  id: 'e',
  title: 'new leg fails in mid-resync (dm error table under new-vm2-a); vm4 completes',
  tenants: ['vm2', 'vm4'],
  async run(ctx) {
    const [vm2, vm4] = [ctx.tenant('vm2'), ctx.tenant('vm4')];
    const ws = new Workspace('e', ctx.lab, [vm2, vm4]);
    // NEW joins after the start on the mirror, so the copy starts with the guest up: 1 MiB/s
    // leaves vm2's 128 MiB resyncing for two minutes, ample to fail its NEW mid-way
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
    ctx.check('vm4 completes: NEW holds OLD', await checkNewContent(ctx.lab, [vm4], new Map()));
    ctx.check('vm4 on NEW, no metadata', await checkMigrated(ctx.lab, [vm4]));
  },
};
