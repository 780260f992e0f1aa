// bin/sanshift.js starts the CLI again in a child process (to size libuv's pool for the
// inventory's hosts). Found in the lab: a SIGKILL of the launcher, the pid an operator or a
// supervisor sees, left that child running on, orphaned, still acting on VMs.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { rehearsalCopy, repo } from './helpers.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the launcher and the CLI live and die as one', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  /** A rehearsal whose host is reached over ssh, and this machine's `ssh` says who ran it (the
   * CLI process), then hangs: a `plan` of it is mid-flight in a host command. */
  function hangingSsh(): { dir: string; inventory: string; marker: string; env: NodeJS.ProcessEnv } {
    const { dir, inventory } = rehearsalCopy();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const marker = join(dir, 'cli.pid');
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'ssh'), `#!/bin/sh\necho $PPID $$ > ${marker}\nexec sleep 30\n`);
    chmodSync(join(bin, 'ssh'), 0o755);
    writeFileSync(inventory, readFileSync(inventory, 'utf8').replace('    shell: simulated\n', '    shell: ssh\n    ssh: hv1.example.net\n'));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
    delete env['UV_THREADPOOL_SIZE'];
    return { dir, inventory, marker, env };
  }

  it('a SIGKILL of the launcher ends the CLI process it started', async () => {
    const { dir, inventory, marker, env } = hangingSsh();
    const launcher = spawn(process.execPath, [join(repo, 'bin', 'sanshift.js'), 'plan', '-i', inventory, '--state-dir', join(dir, 'state')], { env, stdio: 'ignore' });
    let fakeSsh = 0;
    cleanup.push(() => {
      for (const pid of [launcher.pid, fakeSsh]) if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    });
    await until('ssh to start', () => existsSync(marker) && /^\d+ \d+\n/.test(readFileSync(marker, 'utf8')), 60_000);
    const [cli, sshPid] = readFileSync(marker, 'utf8').trim().split(' ').map(Number) as [number, number];
    fakeSsh = sshPid;
    expect(cli).not.toBe(launcher.pid);
    expect(alive(cli)).toBe(true);

    launcher.kill('SIGKILL');
    await until('the CLI process to end', () => !alive(cli), 10_000);
    expect(alive(cli)).toBe(false);
  }, 90_000);

  it('a Ctrl-C that ends the CLI ends the launcher with it, by the same signal (not exit 0)', async () => {
    const { dir, inventory, marker, env } = hangingSsh();
    // its own process group, as a terminal's foreground job: Ctrl-C signals the whole group
    const launcher = spawn(process.execPath, [join(repo, 'bin', 'sanshift.js'), 'plan', '-i', inventory, '--state-dir', join(dir, 'state')], { env, stdio: 'ignore', detached: true });
    cleanup.push(() => {
      try { process.kill(-launcher.pid!, 'SIGKILL'); } catch { /* gone */ }
    });
    const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => launcher.on('exit', (code, signal) => resolve([code, signal])));
    await until('ssh to start', () => existsSync(marker) && /^\d+ \d+\n/.test(readFileSync(marker, 'utf8')), 60_000);
    process.kill(-launcher.pid!, 'SIGINT');
    expect(await ended).toEqual([null, 'SIGINT']);
  }, 90_000);

  it('a hangup (the terminal of a run went away) changes nothing: the run goes on to the end', async () => {
    const { dir, inventory } = rehearsalCopy();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['UV_THREADPOOL_SIZE'];
    // its own process group, as a terminal's job: the hangup signals the whole group
    const launcher = spawn(process.execPath, [join(repo, 'bin', 'sanshift.js'), 'run', '-i', inventory, '--yes'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    cleanup.push(() => {
      try { process.kill(-launcher.pid!, 'SIGKILL'); } catch { /* gone */ }
    });
    let out = '';
    launcher.stdout.on('data', (b: Buffer) => (out += b.toString()));
    launcher.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => launcher.on('close', (code, signal) => resolve([code, signal])));
    await until('the run to start', () => / started for 4 VMs/.test(out), 60_000);
    process.kill(-launcher.pid!, 'SIGHUP');
    expect(await ended).toEqual([0, null]);
    expect(out).toMatch(/the terminal went away \(SIGHUP\): the run goes on/);
    expect(out).toMatch(/4 VMs: 4 done/);
  }, 90_000);
});
