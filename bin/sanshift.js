#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (setup runs it).
//
// libvirt calls run on libuv's worker threads and hold one each until libvirt answers, even a
// call sanshift gave up on: with libuv's default of 4, four hung hosts would stall every host.
// The pool is sized once, at its first use, before any line here runs; so when the caller did
// not size it, sanshift starts again with a pool sized by the inventory's hosts (8 calls in
// flight per host, plus room for files). The two processes live and die as one: the child
// watches a pipe whose other end only the launcher holds, so a SIGKILL of the launcher (the pid
// an operator sees first) ends the child at once instead of leaving it acting, orphaned.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);

function hostsOf(file) {
  try {
    const text = readFileSync(file, 'utf8');
    const hosts = /\.json$/i.test(file) ? JSON.parse(text).hosts : null;
    if (hosts !== null) return Object.keys(hosts).length;
    // a YAML inventory: its host entries are the two-space keys under `hosts:`
    const block = /^hosts:\s*\n((?:[ \t]+.*\n?|\s*\n)*)/m.exec(text)?.[1] ?? '';
    return block.split('\n').filter((l) => /^ {2}[^\s#][^:]*:/.test(l)).length;
  } catch {
    return 0;
  }
}

if (process.env.UV_THREADPOOL_SIZE === undefined) {
  const i = args.findIndex((a) => a === '-i' || a === '--inventory');
  const file = i >= 0 ? args[i + 1] : (args.find((a) => a.startsWith('--inventory='))?.slice(12) ?? process.env.SANSHIFT_INVENTORY);
  const hosts = file === undefined ? 0 : hostsOf(file);
  const size = Math.min(1024, Math.max(64, 8 * hosts + 16));
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, UV_THREADPOOL_SIZE: String(size), SANSHIFT_LAUNCHER_FD: '3' },
  });
  // a terminal's Ctrl-C, and its hangup, reach the child too (same process group): it decides
  // what they mean (a run pauses on Ctrl-C and goes on after a hangup), and the launcher waits
  for (const sig of ['SIGINT', 'SIGQUIT', 'SIGHUP']) process.on(sig, () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      // die of the child's signal, as the shell expects (130 for a Ctrl-C): without its
      // handler, since the launcher's own would swallow it and exit 0
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  if (process.env.SANSHIFT_LAUNCHER_FD !== undefined) {
    // the launcher's end closes when it dies, however it dies: go with it, as one process
    // would (the journal makes any stopping point safe, as for a SIGKILL of one process)
    const { Socket } = await import('node:net');
    const pipe = new Socket({ fd: Number(process.env.SANSHIFT_LAUNCHER_FD), readable: true, writable: false });
    delete process.env.SANSHIFT_LAUNCHER_FD;
    const die = () => process.kill(process.pid, 'SIGKILL');
    pipe.on('end', die).on('close', die).on('error', die);
    pipe.resume();
    pipe.unref();
  }
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(args);
}
