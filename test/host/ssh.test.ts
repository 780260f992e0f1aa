import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnreachableError } from '../../src/util/errors.js';
import { buildSshArgv, remoteCommandLine, SshRunner } from '../../src/host/ssh.js';

describe('ssh argv construction (pure)', () => {
  const target = { destination: 'root@hv1', controlDir: '/run/sanshift' };

  it('uses batch mode, connection reuse, then the destination, --, and one quoted command', () => {
    expect(buildSshArgv(target, ['mdadm', '--build', '/dev/md/ss-vm1-vda', '--level', '1'])).toEqual([
      'ssh', '-o', 'BatchMode=yes', '-o', 'ControlMaster=auto', '-o', 'ControlPath=/run/sanshift/%C', '-o', 'ControlPersist=60',
      // a host that stops answering is noticed in seconds
      '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3',
      'root@hv1', '--', 'mdadm --build /dev/md/ss-vm1-vda --level 1',
    ]);
  });

  it('adds port, key, extra options and sudo', () => {
    const argv = buildSshArgv(
      { ...target, port: 2222, identityFile: '/k/id', options: { StrictHostKeyChecking: 'no' }, sudo: true },
      ['tee', '/sys/block/md127/md/sync_speed_max'],
    );
    expect(argv.slice(15)).toEqual(['-p', '2222', '-i', '/k/id', '-o', 'StrictHostKeyChecking=no', 'root@hv1', '--', 'sudo -n tee /sys/block/md127/md/sync_speed_max']);
  });

  it('leaves an option the inventory sets to the inventory (ssh takes the first value it reads)', () => {
    const argv = buildSshArgv({ ...target, options: { ConnectTimeout: '30' } }, ['true']);
    expect(argv.filter((a) => a.startsWith('ConnectTimeout='))).toEqual(['ConnectTimeout=30']);
  });

  it('quotes once, for the remote shell', () => {
    expect(remoteCommandLine(['grep', '-H', '-e', '', '--', '/proc/mdstat'])).toBe("grep -H -e '' -- /proc/mdstat");
    expect(remoteCommandLine(['echo', "a'b c"])).toBe("echo 'a'\\''b c'");
  });

  it('refuses destinations and options that could become ssh flags or inject config', () => {
    expect(() => buildSshArgv({ ...target, destination: '-oProxyCommand=x' }, ['true'])).toThrow(/unsafe ssh destination/);
    expect(() => buildSshArgv({ ...target, options: { 'Proxy Command': 'x' } }, ['true'])).toThrow(/unsafe ssh option/);
    expect(() => buildSshArgv({ ...target, options: { User: 'a\nb' } }, ['true'])).toThrow(/unsafe ssh option/);
    expect(() => buildSshArgv(target, [])).toThrow();
  });
});

describe('SshRunner through a fake ssh that runs the command line in a local sh', () => {
  let dir: string;
  let savedPath: string | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sanshift-fake-ssh-'));
    // the last argument is the remote command line; "down" plays an unreachable host
    writeFileSync(
      join(dir, 'ssh'),
      '#!/bin/sh\nfor last; do :; done\ncase " $* " in *" down -- "*) echo "ssh: connect to host down port 22: Connection refused" >&2; exit 255;; esac\nexec sh -c "$last"\n',
    );
    chmodSync(join(dir, 'ssh'), 0o755);
    savedPath = process.env['PATH'];
    process.env['PATH'] = `${dir}:${savedPath ?? ''}`;
  });

  afterAll(() => {
    process.env['PATH'] = savedPath;
    rmSync(dir, { recursive: true, force: true });
  });

  it('the remote side sees exactly the argv we meant', async () => {
    const runner = new SshRunner('hv1', { destination: 'root@hv1', controlDir: join(dir, 'ctl') });
    const args = ['a b', "it's", '$(id)', '', '*', 'x\ny'];
    const r = await runner.run(['printf', '%s|', ...args]);
    expect(r.stdout).toBe(`${args.join('|')}|`);
    expect(r.argv).toEqual(['printf', '%s|', ...args]);
  });

  it('passes exit codes and stdin through', async () => {
    const runner = new SshRunner('hv1', { destination: 'root@hv1', controlDir: join(dir, 'ctl') });
    expect((await runner.run(['sh', '-c', 'exit 7'])).exitCode).toBe(7);
    expect((await runner.run(['cat'], { input: '3000\n' })).stdout).toBe('3000\n');
  });

  it('turns ssh exit 255 into UnreachableError naming the host', async () => {
    const runner = new SshRunner('hv-down', { destination: 'down', controlDir: join(dir, 'ctl') });
    const err = await runner.run(['cat', '/proc/mdstat']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as UnreachableError).host).toBe('hv-down');
    expect((err as Error).message).toContain('Connection refused');
    await runner.close();
  });
});
