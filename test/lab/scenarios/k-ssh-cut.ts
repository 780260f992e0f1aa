// (k) Every sshd of a host killed for 60 s, sessions, shared connections and libvirt's
// virt-ssh-helper with them: once while the VM resyncs, once while it is off in its T2 window
// (issue 11). No VM rolls back, the run completes, the content is intact. On lab-hv2, alone on
// it: a cut is host-wide.
import { checkMigrated, checkNewContent, Workspace } from '../harness.js';
import { isResult, midResync, type Scenario } from './scenario.js';

const CUT_S = 60;

export const sshCut: Scenario = {
  id: 'k',
  wholeHost: 'B',
  // opt-in (npm run test:lab:full): CI's 20 minutes hold a-j and m; see docs/lab.md
  optIn: true,
  title: `the host's sshd killed for ${CUT_S} s mid-resync and again mid-window: held, not rolled back; the run completes`,
  tenants: [],
  tenantsOnB: ['vm8'],
  async run(ctx) {
    const lab = ctx.labB;
    const t = ctx.tenantOnB('vm8');
    const ws = new Workspace('k', lab, [t]);
    // 64 MiB at 384 KiB/s: a resync of about 3 min, longer than the cut
    ws.writeInventory({ resyncSpeedMax: '384KiB/s' });
    const proc = ws.sanshift(['run', '--yes']);
    await midResync({ ...ctx, lab }, ws, proc, t);
    await lab.cutSsh(CUT_S);
    ctx.say(`sshd of ${lab.hostName} killed for ${CUT_S} s in mid-resync`);
    await lab.sshBack(CUT_S * 1000 + 120_000);
    ctx.check('the mirror still resyncs after the cut', (await lab.mdstat()).includes('recovery'));
    await ws.waitForRecord('vm8 off for its T2', (r) => isResult('vm8', 'shutdown-vm')(r) && r.detail?.['phase'] === 'T2', 900_000, proc);
    await lab.cutSsh(CUT_S);
    ctx.say(`sshd of ${lab.hostName} killed for ${CUT_S} s while vm8 is off in its T2 window`);
    await lab.sshBack(CUT_S * 1000 + 120_000);
    const code = await proc.finish(900_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    const recs = ws.journal().filter((r) => r.vm === 'vm8');
    const holds = recs.filter((r) => r.kind === 'hold');
    ctx.say(`holds: ${holds.map((h) => `${h.at} ${h.reason ?? ''}`).join(' | ')}`);
    ctx.check(`vm8 was held at least twice and released as often (holds ${holds.length}, releases ${recs.filter((r) => r.kind === 'release').length})`, holds.length >= 2 && recs.filter((r) => r.kind === 'release').length === holds.length);
    ctx.check('nothing failed, nothing was rolled back', !recs.some((r) => r.kind === 'failed') && !recs.some((r) => r.kind === 'result' && r.step === 'stop-mirror' && r.detail?.['why'] === 'rollback'));
    ctx.check('NEW holds what OLD held', await checkNewContent(lab, [t], new Map()));
    ctx.check('vm8 runs on NEW and is defined on NEW, no md array, no metadata', await checkMigrated(lab, [t]));
  },
};
