// (d) A host reboot in mid-resync: the next boot never needs the mirror (I2). On host B, with
// AppArmor: a reboot is host-wide (every domain, every array, libvirtd), so the scenario holds
// host B (the runner then resets all of B's tenants before their next scenario); host A's run
// on. It names vm9 only: resetting the others first would cost two starts under AppArmor
// (some 30 s of the lab's CPU each) for domains the reboot destroys.
import { checkMigrated, checkNewContent, sources, Workspace } from '../harness.js';
import { midResync, type Scenario } from './scenario.js';

export const hostReboot: Scenario = {
  id: 'd',
  wholeHost: 'B',
  title: 'host reboot in mid-resync (lab-hv2): virsh start boots OLD (I2), then sanshift completes',
  tenants: [],
  tenantsOnB: ['vm9'],
  async run(ctx) {
    const lab = ctx.labB;
    const t = ctx.tenantOnB('vm9');
    const ws = new Workspace('d', lab, [t]);
    // vm9 is 64 MiB: 128 s, longer than a T1 window with AppArmor's starts
    ws.writeInventory({ resyncSpeedMax: '512KiB/s' });
    const proc = ws.sanshift(['run', '--yes']);
    await midResync({ ...ctx, lab }, ws, proc, t);
    // a host crash also takes sanshift's connections: the operator runs it again afterwards
    await proc.kill();
    await lab.simulateReboot();
    await lab.virsh(['start', t.name]);
    ctx.check(`after the reboot, virsh start boots ${t.name} on OLD (I2)`, JSON.stringify(await sources(lab, t.name, false)) === JSON.stringify([`/dev/mapper/${t.disks[0]!.oldVolume}`]));
    ws.writeInventory({ resyncSpeedMax: '16MiB/s' });
    const again = ws.sanshift(['run', '--yes']);
    const code = await again.finish(900_000);
    ctx.check(`sanshift run after the reboot exits 0 (got ${code}; log ${again.logFile})`, code === 0);
    ctx.check('NEW holds OLD', await checkNewContent(lab, [t], new Map()));
    ctx.check(`${t.name} on NEW, no md array, no metadata`, await checkMigrated(lab, [t]));
  },
};
