// The operator's controls on the command line: --version, one-line unknown commands, the
// environment, -q/-v, --limit/--exclude/--failed, pause, maintenance windows in plan and simulate.
import { describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isOpen } from '../../src/control/windows.js';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import type { Rehearsal } from '../../src/cli/simulate.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { loadInventory } from '../../src/inventory/load.js';
import { rehearsalCopy, repo } from './helpers.js';

const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;

/** The rehearsal example with groups and a night window for db1 and web1. */
function controlledCopy(): { dir: string; inventory: string } {
  const copy = rehearsalCopy();
  const text = readFileSync(copy.inventory, 'utf8')
    .replace('  - name: db1 ', '  - name: db1\n    groups: [night]\n   ')
    .replace(/ {2}- name: web1\n/, '  - name: web1\n    groups: [night, web]\n')
    .concat('\ngroups:\n  night:\n    policy:\n      windows: { timezone: UTC, allow: ["22:00-06:00"] }\n  web: {}\n');
  writeFileSync(copy.inventory, text);
  return copy;
}

function journal(stateDir: string, run: string, records: object[]): void {
  mkdirSync(join(stateDir, 'runs'), { recursive: true });
  writeFileSync(join(stateDir, 'runs', `${run}.jsonl`), records.map((r) => JSON.stringify({ run, ...r })).join('\n') + '\n');
}

describe('the command line itself', () => {
  test('--version prints the version of package.json', async () => {
    const io = new RecordingIo();
    expect(await main(['--version'], io)).toBe(0);
    expect(io.stdout.trim()).toBe(version);
  });

  test('an unknown command: one line with the fix, exit 2, not the whole help', async () => {
    const io = new RecordingIo();
    expect(await main(['rnu', '-i', 'x.yaml'], io)).toBe(2);
    expect(io.stderr).toBe('unknown command "rnu"; did you mean "run"? (sanshift --help lists them)\n');
    expect(io.stdout).toBe('');
    const far = new RecordingIo();
    expect(await main(['-i', 'x.yaml', 'frobnicate'], far)).toBe(2);
    expect(far.stderr).toBe('unknown command "frobnicate" (sanshift --help lists them)\n');
  });

  test('other usage errors: the error and where to look, in two lines', async () => {
    const io = new RecordingIo();
    expect(await main(['plan'], io, {})).toBe(2);
    expect(io.stderr).toBe('error: Missing required argument: inventory\nname the inventory with -i FILE, or set SANSHIFT_INVENTORY\n(sanshift plan --help lists the options)\n');
    const both = new RecordingIo();
    expect(await main(['plan', '-i', 'x.yaml', '-q', '-v'], both)).toBe(2);
    expect(both.stderr).toContain('mutually exclusive');
  });

  test('SANSHIFT_INVENTORY and SANSHIFT_STATE_DIR stand in for -i and --state-dir; the flags win', async () => {
    const { dir, inventory } = rehearsalCopy();
    const stateDir = join(dir, 'elsewhere');
    const env = { SANSHIFT_INVENTORY: inventory, SANSHIFT_STATE_DIR: stateDir };
    const io = new RecordingIo();
    expect(await main(['run', 'dns1', '--yes', '-q'], io, env)).toBe(0);
    expect(readdirSync(join(stateDir, 'runs')).some((f) => f.endsWith('.jsonl'))).toBe(true);
    expect(existsSync(join(dir, '.sanshift'))).toBe(false);
    const flagged = new RecordingIo();
    expect(await main(['plan', '-i', inventory, 'db1', '--state-dir', join(dir, 'other')], flagged, { SANSHIFT_INVENTORY: '/nonexistent.yaml', SANSHIFT_STATE_DIR: stateDir })).toBe(0);
    expect(flagged.stdout).toContain('VM db1 on host hv1');
  });
});

describe('-q and -v on a run', () => {
  test('-q prints the report only; -v prints every progress event', async () => {
    const quiet = rehearsalCopy();
    const q = new RecordingIo();
    expect(await main(['run', '-i', quiet.inventory, 'dns1', '--yes', '-q'], q)).toBe(0);
    expect(q.stdout).not.toContain('REHEARSAL: this inventory');
    expect(q.stdout).not.toContain('graceful shutdown');
    expect(q.stdout).toMatch(/dns1\s+done/);

    const loud = rehearsalCopy();
    const v = new RecordingIo();
    const eventsFile = join(loud.dir, 'events.jsonl');
    expect(await main(['run', '-i', loud.inventory, 'dns1', '--yes', '-v', '--events', eventsFile], v)).toBe(0);
    const events = readFileSync(eventsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EngineEvent);
    const progressLines = v.stdout.split('\n').filter((l) => l.includes(': resync ')).length;
    expect(progressLines).toBe(events.filter((e) => e.kind === 'progress').length);
  });
});

describe('--limit, --exclude, --failed', () => {
  test('plan --limit with a group and a glob, minus --exclude', async () => {
    const { inventory } = controlledCopy();
    const io = new RecordingIo();
    expect(await main(['plan', '-i', inventory, '--limit', 'group:night,d*', '--exclude', 'dns1', '--json'], io)).toBe(0);
    expect((JSON.parse(io.stdout) as { vms: { name: string }[] }).vms.map((v) => v.name)).toEqual(['db1', 'web1']);
  });

  test('a pattern that matches nothing: exit 2, naming it, nothing planned', async () => {
    const { inventory } = controlledCopy();
    const io = new RecordingIo();
    expect(await main(['run', '-i', inventory, '--limit', 'group:nigth', '--yes'], io)).toBe(2);
    expect(io.stderr).toContain('--limit group:nigth: no group "nigth" in the inventory (did you mean "night"?)');
    expect(io.stdout).not.toContain('run ');
  });

  test('--failed selects the VMs whose last outcome in the journals is failed', async () => {
    const { dir, inventory } = controlledCopy();
    const stateDir = join(dir, '.sanshift');
    const none = new RecordingIo();
    expect(await main(['plan', '-i', inventory, '--failed'], none)).toBe(2);
    expect(none.stderr).toContain('--failed: no VM failed in the journals');
    // web1 failed in one run; db1 failed, then was done in a later one
    journal(stateDir, '20260101T000000Z-000001', [
      { kind: 'vm-finished', at: '2026-01-01T00:00:01Z', vm: 'web1', outcome: 'failed', reason: 'health gate failed' },
      { kind: 'vm-finished', at: '2026-01-01T00:00:02Z', vm: 'db1', outcome: 'failed', reason: 'shutdown timed out' },
    ]);
    journal(stateDir, '20260102T000000Z-000002', [{ kind: 'vm-finished', at: '2026-01-02T00:00:01Z', vm: 'db1', outcome: 'done' }]);
    const io = new RecordingIo();
    expect(await main(['plan', '-i', inventory, '--failed', '--json'], io)).toBe(0);
    expect((JSON.parse(io.stdout) as { vms: { name: string }[] }).vms.map((v) => v.name)).toEqual(['web1']);
  });

  test('rollback never means the whole fleet: it needs names or a selection', async () => {
    const { inventory } = rehearsalCopy();
    const io = new RecordingIo();
    expect(await main(['rollback', '-i', inventory, '--yes'], io)).toBe(2);
    expect(io.stderr).toContain('rollback needs the VMs to roll back');
  });
});

describe('sanshift pause', () => {
  test('with no run in progress there is nothing to pause, and no request is left behind', async () => {
    const { dir, inventory } = rehearsalCopy();
    const io = new RecordingIo();
    expect(await main(['pause', '-i', inventory], io)).toBe(0);
    expect(io.stdout).toContain('no run is in progress');
    expect(existsSync(join(dir, '.sanshift', 'pause.json'))).toBe(false);
  });

  test('pause a run in progress, see it in status, resume with run, or take it back', async () => {
    const { dir, inventory } = rehearsalCopy();
    const stateDir = join(dir, '.sanshift');
    // a run in progress: started, not finished, its process alive (this one)
    journal(stateDir, '20260101T000000Z-00000a', [{ kind: 'run-started', at: new Date(Date.now() - 60_000).toISOString(), inventory, vms: ['db1'], pid: process.pid, hostname: hostname(), rehearsal: true }]);
    const io = new RecordingIo();
    expect(await main(['pause', '-i', inventory, '--reason', 'change freeze'], io)).toBe(0);
    expect(io.stdout).toMatch(/^pause requested at \S+ by .* \(change freeze\)\.\nRuns in progress: 20260101T000000Z-00000a \(started/);
    expect(io.stdout).toContain('the down windows in progress finish');
    expect(io.stdout).toContain('no new window starts');
    expect(io.stdout).toContain(`To resume: sanshift run -i ${inventory}`);
    expect(JSON.parse(readFileSync(join(stateDir, 'pause.json'), 'utf8'))).toMatchObject({ reason: 'change freeze', runs: ['20260101T000000Z-00000a'] });

    const status = new RecordingIo();
    await main(['status', '-i', inventory], status);
    expect(status.stdout).toMatch(/^PAUSED: pause requested at .* \(change freeze\); run 20260101T000000Z-00000a finishes the windows in progress and starts no new one\. To resume: sanshift run -i /);
    const json = new RecordingIo();
    await main(['status', '-i', inventory, '--json'], json);
    expect(JSON.parse(json.stdout).pause).toMatchObject({ draining: ['20260101T000000Z-00000a'], request: { reason: 'change freeze' } });

    const cancel = new RecordingIo();
    expect(await main(['pause', '-i', inventory, '--cancel'], cancel)).toBe(0);
    expect(cancel.stdout).toContain('taken back');
    expect(existsSync(join(stateDir, 'pause.json'))).toBe(false);

    // paused again, then resumed: a run started after the request says so, and status no longer shows it
    expect(await main(['pause', '-i', inventory], new RecordingIo())).toBe(0);
    const resume = new RecordingIo();
    expect(await main(['run', '-i', inventory, 'dns1', '--yes'], resume)).toBe(0);
    expect(resume.stdout).toContain('this run starts after it, so it is not paused by it; it resumes the migration');
    const after = new RecordingIo();
    await main(['status', '-i', inventory], after);
    expect(after.stdout).not.toContain('PAUSED');
  });

  test('a pause file that cannot be read stops a new run until it is looked at', async () => {
    const { dir, inventory } = rehearsalCopy();
    mkdirSync(join(dir, '.sanshift'), { recursive: true });
    writeFileSync(join(dir, '.sanshift', 'pause.json'), 'garbage');
    const io = new RecordingIo();
    expect(await main(['run', '-i', inventory, 'dns1', '--yes'], io)).toBe(2);
    expect(io.stderr).toContain('sanshift pause --cancel');
    const status = new RecordingIo();
    await main(['status', '-i', inventory], status);
    expect(status.stdout).toMatch(/^PAUSED: pause requested at 1970-01-01T00:00:00.000Z by unknown \(the pause file is not a pause request sanshift wrote/);
  });
});

describe('a run that is paused', () => {
  test('ends with exit 5, names the VMs it left and why, and the report says so', async () => {
    const { dir, inventory } = rehearsalCopy();
    // a request that applies to the run about to start (made "after" its start)
    mkdirSync(join(dir, '.sanshift'), { recursive: true });
    writeFileSync(join(dir, '.sanshift', 'pause.json'), JSON.stringify({ requestedAt: '2099-01-01T00:00:00.000Z', by: 'ops@test', reason: 'freeze', runs: [] }));
    const io = new RecordingIo();
    expect(await main(['run', '-i', inventory, 'dns1', 'web1', '--yes'], io)).toBe(5);
    expect(io.stdout).toMatch(/stopped early: pause requested at 2099-01-01T00:00:00.000Z by ops@test \(freeze\)\n2 VMs left where they stand, none of them off \((dns1, web1|web1, dns1)\); `sanshift run` again continues\./);
    expect(io.stdout).toContain('stopped early: pause requested at 2099-01-01T00:00:00.000Z by ops@test (freeze); the unfinished VMs are left where they stand');
  });
});

describe('maintenance windows and effective policy in plan and simulate', () => {
  test('plan --json: each VM\'s effective policy, where each key came from, and when it is expected down', async () => {
    const { inventory } = controlledCopy();
    const io = new RecordingIo();
    expect(await main(['plan', '-i', inventory, '--json'], io)).toBe(0);
    const plan = JSON.parse(io.stdout) as { vms: { name: string; groups: string[]; policy: { windows?: unknown; shutdownTimeoutMs: number }; policySources: Record<string, string>; expectedDown: { T1: string | null } }[] };
    const web1 = plan.vms.find((v) => v.name === 'web1')!;
    expect(web1.groups).toEqual(['night', 'web']);
    expect(web1.policySources).toMatchObject({ windows: 'group night', 'shutdown.timeout': 'fleet', 'hooks.beforeWindow': 'default' });
    expect(web1.policy.shutdownTimeoutMs).toBe(120_000);
    const inv = await loadInventory(inventory);
    const window = inv.vms.find((v) => v.name === 'web1')!.policy.windows!;
    expect(isOpen(Date.parse(web1.expectedDown.T1!), window)).toBe(true);
    expect(plan.vms.find((v) => v.name === 'dns1')!.policySources.windows).toBe('default');
  });

  test('plan text shows the policy block with its sources', async () => {
    const { inventory } = controlledCopy();
    const io = new RecordingIo();
    expect(await main(['plan', '-i', inventory, 'db1'], io)).toBe(0);
    expect(io.stdout).toContain('  policy (groups: night):');
    expect(io.stdout).toMatch(/ {4}windows +22:00-06:00 UTC +\(group night\)/);
    expect(io.stdout).toMatch(/ {4}resync cap +200 MiB\/s per mirror +\(fleet\)/);
    expect(io.stdout).toMatch(/ {2}expected down: T1 \d{4}-\d\d-\d\d \d\d:\d\d UTC, T2 /);
  });

  test('simulate --model --start: no T1 or T2 outside the window, for the whole bundle of a VM that has one', async () => {
    const { inventory } = controlledCopy();
    const io = new RecordingIo();
    expect(await main(['simulate', '-i', inventory, '--model', '--start', '2026-01-14T12:00:00Z', '--json'], io)).toBe(0);
    const r = JSON.parse(io.stdout) as Rehearsal;
    expect(r.startAt).toBe('2026-01-14T12:00:00.000Z');
    const row = (vm: string) => r.vms.find((v) => v.vm === vm)!;
    // dns1 and app1 have no window of their own, but share db1's bundle (dependsOn): they wait with it
    for (const vm of ['db1', 'web1', 'dns1', 'app1']) {
      for (const at of [row(vm).t1At!, row(vm).t2At!]) {
        const hour = new Date(at).getUTCHours();
        expect({ vm, at, inWindow: hour >= 22 || hour < 6 }).toEqual({ vm, at, inWindow: true });
      }
    }
    expect(new Set(r.vms.map((v) => v.bundle)).size).toBe(1);
    // alone in its own run, dns1 has no window: it goes at once
    const alone = new RecordingIo();
    expect(await main(['simulate', '-i', inventory, '--model', '--start', '2026-01-14T12:00:00Z', '--json', 'dns1'], alone)).toBe(0);
    expect((JSON.parse(alone.stdout) as Rehearsal).vms[0]!.t1At).toBe('2026-01-14T12:00:00.000Z');
    expect(r.notes.join('\n')).toContain('maintenance windows applied from a start at 2026-01-14T12:00:00.000Z');
    const text = new RecordingIo();
    expect(await main(['simulate', '-i', inventory, '--model', '--start', '2026-01-14T12:00:00Z', 'db1'], text)).toBe(0);
    expect(text.stdout).toMatch(/db1 .* 2026-01-14 22:00 UTC/);
  });

  test('examples/night: plans with exit 0, and its rehearsal runs the canary first, every window at night in Paris', async () => {
    const io = new RecordingIo();
    const stateDir = join(rehearsalCopy().dir, 'state');
    expect(await main(['plan', '-i', join(repo, 'examples/night/inventory.yaml'), '--state-dir', stateDir], io)).toBe(0);
    expect(io.stdout).toMatch(/ {4}hook beforeWindow +\S+\/examples\/night\/hooks\/lb\.sh drain db1 \(timeout 2m00s\) +\(hooks\.beforeWindow: group db; hooks\.timeout: fleet\)/);
    // the step lists show each gate where the engine runs it: after T1 only for a VM whose checks name T1
    const stepsOf = (vm: string) => io.stdout.slice(io.stdout.indexOf(`VM ${vm} on host`)).split('\n  policy:')[0]!;
    expect(stepsOf('app1')).toMatch(/ T1 .*\n(?:.*\n)*? +\d+\. health gate after T1: \S+\/hooks\/check\.sh app1 exits 0 \(on this machine\) \(failing: back to the old volumes/);
    expect(stepsOf('app1')).toMatch(/\d+\. health gate: app1 stays running for \d+s; \S+\/hooks\/check\.sh app1 exits 0 \(on this machine\); \S+\/hooks\/check\.sh app1 --deep exits 0 \(on this machine\)$/);
    expect(stepsOf('dns1')).toMatch(/\d+\. health gate after T1: \S+\/hooks\/check\.sh dns1 exits 0 \(on this machine\) /);
    const plain = new RecordingIo();
    expect(await main(['plan', '-i', rehearsalCopy().inventory, 'dns1'], plain)).toBe(0);
    expect(plain.stdout).toContain('health gate: dns1 stays running');
    expect(plain.stdout).not.toContain('health gate after T1');
    const sim = new RecordingIo();
    expect(await main(['simulate', '-i', join(repo, 'examples/night/inventory.yaml'), '--model', '--start', '2026-11-24T18:00:00+01:00', '--json', '--state-dir', stateDir], sim)).toBe(0);
    const r = JSON.parse(sim.stdout) as Rehearsal;
    const dns1 = r.vms.find((v) => v.vm === 'dns1')!;
    expect(dns1.t1At).toBe('2026-11-24T21:00:00.000Z'); // 22:00 in Paris
    for (const v of r.vms.filter((x) => x.vm !== 'dns1')) expect(v.t1!.startMs).toBeGreaterThanOrEqual(dns1.t2!.endMs);
  });

  test('simulate on the engine waits for the windows like --model; --start must carry its offset', async () => {
    const { inventory } = controlledCopy();
    const io = new RecordingIo();
    expect(await main(['simulate', '-i', inventory, 'dns1', 'db1', '--start', '2026-01-14T12:00:00Z', '--json'], io)).toBe(0);
    const r = JSON.parse(io.stdout) as Rehearsal;
    expect(r.notes.join('\n')).not.toContain('not applied');
    for (const v of r.vms) {
      for (const at of [v.t1At!, v.t2At!]) {
        const hour = new Date(at).getUTCHours();
        expect({ vm: v.vm, at, inWindow: hour >= 22 || hour < 6 }).toEqual({ vm: v.vm, at, inWindow: true });
      }
    }
    const bad = new RecordingIo();
    expect(await main(['simulate', '-i', inventory, '--start', '2026-01-14 22:00'], bad)).toBe(2);
    expect(bad.stderr).toContain('write an ISO 8601 time with its offset');
  });
});
