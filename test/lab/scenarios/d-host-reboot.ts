// (d) A host reboot in mid-resync: the next boot never needs the mirror (I2).
import { checkMigrated, checkNewContent, sources, Workspace } from '../harness.js';
import { midResync, type Scenario } from './scenario.js';

export const hostReboot: Scenario = {
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
};
