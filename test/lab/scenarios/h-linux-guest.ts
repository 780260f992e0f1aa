// (h) A real guest: the Linux tenant writes fsynced, checksummed records to ext4 on two disks
// (cache='none' and the default cache) through its own block layer for the whole migration, and
// powers off on ACPI itself at both shutdowns. Afterwards both file systems check clean on NEW
// and every record it reported as written is there.
import { checkMigrated, Workspace } from '../harness.js';
import type { Lab } from '../lab.js';
import { bootsWriting, checkRecordFile, cleanShutdowns, fsckClean, initUptimes, readRecords, reportedRecords, waitForSerial } from '../linux-tenant.js';
import { isResult, type Scenario } from './scenario.js';

const VM = 'vm5';
/** records a boot must have reported before the scenario moves on */
const SOME_RECORDS = 3;

const recordsOfBoot = (serial: string, boot: number): number => {
  // lab-rec lines after the boot's own "writing records" line
  const at = serial.indexOf(`lab-tenant: writing records (boot ${boot})`);
  return at < 0 ? 0 : reportedRecords(serial.slice(at)).length;
};

async function mdKernelNames(lab: Lab, mirrors: string[]): Promise<string[]> {
  const out = (await lab.guestRun(['readlink', '-f', ...mirrors])).stdout.split('\n').filter(Boolean);
  return out.map((p) => p.replace('/dev/', ''));
}

export const linuxGuest: Scenario = {
  id: 'h',
  // three nested TCG boots of minutes each: too slow for CI (docs/lab.md)
  optIn: true,
  title: 'real guest (Linux, ext4 on cache=none and default-cache disks): records written all along, clean ACPI power-offs, clean fsck and every record on NEW',
  tenants: [VM],
  async run(ctx) {
    const t = ctx.tenant(VM);
    const { lab } = ctx;
    // its first boot, timed: the nested TCG boot is what decides where this tenant can be used
    const t0 = Date.now();
    await lab.virsh(['start', VM]);
    let serial = await waitForSerial(lab, VM, `${SOME_RECORDS} records of boot 1`, (s) => recordsOfBoot(s, 1) >= SOME_RECORDS, 600_000);
    ctx.say(`nested boot: ${((Date.now() - t0) / 1000).toFixed(0)} s from virsh start to its first records (kernel to init: ${initUptimes(serial)[0] ?? '?'} s on its own clock)`);

    const ws = new Workspace('h', lab, [t]);
    // a clean power-off of a guest under nested TCG takes seconds, not the no-OS tenants' none;
    // the resync is held at 64 KiB/s until the guest runs on its mirrors (below)
    ws.writeInventory({ resyncSpeedMax: '64KiB/s', shutdownTimeout: '180s' });
    const proc = ws.sanshift(['run', '--yes']);
    await ws.waitForRecord(`${VM} started on its mirrors`, isResult(VM, 'start-on-mirror'), 900_000, proc);
    const t1 = Date.now();
    serial = await waitForSerial(lab, VM, `${SOME_RECORDS} records of boot 2 (on the mirrors)`, (s) => recordsOfBoot(s, 2) >= SOME_RECORDS, 600_000);
    ctx.say(`boot 2 on the mirrors: first records ${((Date.now() - t1) / 1000).toFixed(0)} s after start-on-mirror's result`);
    // Lab volumes are megabytes where production's take hours to copy: the guest must be up,
    // writing through the mirrors, before the resync ends and T2 asks it to power off. Held
    // until now, the resync may go (md's own knob; the engine set it once and only reads it).
    const kernelNames = await mdKernelNames(lab, t.disks.map((d) => `/dev/md/ss-${VM}-${d.target}`));
    const resyncing = await lab.mdstat();
    ctx.check(`both mirrors still resync while the guest writes through them (${kernelNames.join(', ')})`, kernelNames.every((k) => new RegExp(`^${k} :[^\\n]*\\n[^\\n]*\\n[^\\n]*recovery`, 'm').test(resyncing)));
    // both knobs: while the guest writes, md copies at sync_speed_min
    for (const k of kernelNames) {
      await lab.guestRun(['tee', `/sys/block/${k}/md/sync_speed_max`], { input: '16384\n' });
      await lab.guestRun(['tee', `/sys/block/${k}/md/sync_speed_min`], { input: '8192\n' });
    }

    const code = await proc.finish(1_200_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    const forced = ws.journal().filter(isResult(VM, 'shutdown-vm')).map((r) => r.detail?.['forced']);
    ctx.check(`the guest powered off by itself at T1 and T2 (forced: ${JSON.stringify(forced)})`, JSON.stringify(forced) === '[false,false]');

    // boot 3, on NEW: let it write, then power it off as an operator would, and look at NEW
    const t2 = Date.now();
    serial = await waitForSerial(lab, VM, `${SOME_RECORDS} records of boot 3 (on NEW)`, (s) => recordsOfBoot(s, 3) >= SOME_RECORDS, 600_000);
    ctx.say(`boot 3 on NEW: first records ${((Date.now() - t2) / 1000).toFixed(0)} s after the run ended`);
    await lab.virsh(['shutdown', VM]);
    serial = await waitForSerial(lab, VM, 'its third clean shutdown', (s) => cleanShutdowns(s) >= 3, 300_000);
    for (let i = 0; i < 60 && (await lab.domainState(VM)) !== 'shut off'; i++) await new Promise((r) => setTimeout(r, 1000));
    ctx.check('vm5 is shut off after its own clean shutdown', (await lab.domainState(VM)) === 'shut off');
    ctx.check(`three boots, each writing (${JSON.stringify(bootsWriting(serial))}), three clean shutdowns (${cleanShutdowns(serial)})`, JSON.stringify(bootsWriting(serial)) === '[1,2,3]' && cleanShutdowns(serial) === 3);

    const reported = reportedRecords(serial);
    for (const d of t.disks) {
      const device = `/dev/mapper/${d.newVolume}`;
      ctx.check(`${d.target} (cache=${d.cache ?? 'none'}): the file system on NEW checks clean`, await fsckClean(lab, device));
      const file = checkRecordFile(d.target, await readRecords(lab, device), reported);
      const perBoot = [...file.perBoot].sort(([a], [b]) => a - b).map(([b, n]) => `boot ${b}: ${n}`).join(', ');
      ctx.say(`${d.target}: ${reported.filter((r) => r.disk === d.target).length} records reported, on NEW ${perBoot} (${file.unreported} written but not reported)`);
      ctx.check(`${d.target}: every record reported written is on NEW, intact, numbered without a gap`, file.problems);
      ctx.check(`${d.target}: records from all three boots (on OLD, on the mirror, on NEW)`, [1, 2, 3].every((b) => (file.perBoot.get(b) ?? 0) > 0));
    }
    ctx.check('vm5 defined on NEW, no md array, no metadata', await checkMigrated(lab, [t], { expectRunning: false }));
  },
};
