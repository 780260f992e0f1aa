// (j) A fleet run across both lab hosts, two VMs on lab-hv and one on lab-hv2, at most one
// mirror per host at a time (limits.mirrorsPerHost: 1): every VM migrates, the journal shows the
// limit held on lab-hv, and mirrors on both hosts at once (the limit is per host). One VM on
// lab-hv2: a second there cost two more domain starts under AppArmor (some 30 s of the lab's
// CPU each) and a second migration in a row, on CI's longest chain of scenarios. vm4
// powers off on ACPI and the others ignore it, so this also checks what (g) checks: a graceful
// shutdown without force, and the force after the timeout (g itself is opt-in, for CI's time).
// vm4 also carries a per-VM policy (issue 13): shutdown by ACPI named explicitly, and a real
// health gate after each window: its boot sector prints a line on the serial console at every
// boot, and a command check (ssh to its host) waits for that line, so the gate passes only once
// the guest booted from the mirror (T1) and from NEW (T2).
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkMigrated, checkNewContent, mirrorsAtOnce, Workspace } from '../harness.js';
import { isResult, type Scenario } from './scenario.js';

const PER_HOST = 1;

export const fleetTwoHosts: Scenario = {
  id: 'j',
  title: `fleet run across both hosts (two VMs on lab-hv, one on lab-hv2), mirrorsPerHost ${PER_HOST}: all migrate, the limit holds per host`,
  tenants: ['vm4', 'vm6'],
  tenantsOnB: ['vm8'],
  async run(ctx) {
    const [a, b] = [ctx.lab, ctx.labB];
    const onA = [ctx.tenant('vm4'), ctx.tenant('vm6')];
    const onB = [ctx.tenantOnB('vm8')];
    const ws = new Workspace('j', a, onA, [{ lab: b, tenants: onB }]);
    // one boot line at the lab's start (or reset), one more after each window; ssh hands the
    // remote shell one string, so the pattern is quoted for it
    writeFileSync(join(ws.dir, 'booted.sh'), [
      '#!/bin/sh',
      'want=3; [ "$SANSHIFT_WINDOW" = T1 ] && want=2',
      `n=$(ssh -p ${a.sshPort} -i ${a.keyFile} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR root@127.0.0.1 "grep -c 'waiting for the ACPI power button' /var/log/libvirt/qemu/vm4-serial.log")`,
      'echo "$n boot lines, $want wanted after $SANSHIFT_WINDOW"',
      '[ "${n:-0}" -ge "$want" ]',
      '',
    ].join('\n'));
    chmodSync(join(ws.dir, 'booted.sh'), 0o755);
    // vm4's boot sector must be up (ACPI on) before its T2 shutdown: 8 s, as in (g)
    ws.writeInventory({
      resyncSpeedMax: '16MiB/s',
      mirrorsPerHost: PER_HOST,
      shutdownTimeout: '8s',
      vmPolicy: {
        vm4: {
          shutdown: { mode: 'acpi' },
          health: { timeout: '5m', interval: '3s', checks: [{ kind: 'command', argv: ['./booted.sh'], gates: ['T1', 'T2'], timeout: '60s' }] },
        },
      },
    });
    const proc = ws.sanshift(['run', '--yes']);
    const code = await proc.finish(1_200_000);
    ctx.check(`sanshift run exits 0 (got ${code}; log ${proc.logFile})`, code === 0);
    const hostOf = (vm: string): string => (onA.some((t) => t.name === vm) ? a.hostName : b.hostName);
    const most = mirrorsAtOnce(ws.journal(), hostOf).get(a.hostName) ?? 0;
    ctx.check(`${a.hostName}: at most ${PER_HOST} mirror at once (the journal shows ${most})`, most >= 1 && most <= PER_HOST);
    const both = mirrorsAtOnce(ws.journal(), () => 'both hosts').get('both hosts') ?? 0;
    ctx.check(`mirrors on both hosts at once: the limit is per host (the journal shows ${both} at once)`, both > PER_HOST);
    const forced = (vm: string): string => JSON.stringify(ws.journal().filter(isResult(vm, 'shutdown-vm')).map((r) => r.detail?.['forced']));
    ctx.check(`vm4 powered off on ACPI at T1 and T2, no force (${forced('vm4')})`, forced('vm4') === '[false,false]');
    const gates = ws.journal().filter(isResult('vm4', 'health-gate')).map((r) => `${String(r.detail?.['phase'])}:${JSON.stringify((r.detail?.['checks'] as { ok: boolean }[] | undefined)?.map((c) => c.ok))}`);
    ctx.check(`vm4's health gate (its boot line on the serial console) passed after T1 and after T2 (${gates.join(' ')})`, gates.join(' ') === 'T1:[true] T2:[true]');
    for (const vm of ['vm6', 'vm8']) ctx.check(`${vm} ignored ACPI and was forced off after the timeout (${forced(vm)})`, forced(vm) === '[true,true]');
    ctx.check('every VM on lab-hv runs and is defined on NEW; NEW holds OLD', [...await checkMigrated(a, onA), ...await checkNewContent(a, onA, new Map())]);
    ctx.check('every VM on lab-hv2 runs and is defined on NEW; NEW holds OLD', [...await checkMigrated(b, onB), ...await checkNewContent(b, onB, new Map())]);
  },
};
