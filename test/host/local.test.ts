import { describe, expect, it } from '@jest/globals';
import { ActionError } from '../../src/util/errors.js';
import { LocalRunner } from '../../src/host/local.js';

const node = process.execPath;

describe('LocalRunner with real tiny processes', () => {
  const runner = new LocalRunner({ host: 'here' });

  it('keeps stdout and stderr byte for byte, final newlines included', async () => {
    const r = await runner.run([node, '-e', 'process.stdout.write("a\\n\\nb\\n"); process.stderr.write("warn\\n")']);
    expect(r).toMatchObject({ stdout: 'a\n\nb\n', stderr: 'warn\n', exitCode: 0 });
    expect(r.argv[0]).toBe(node);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('resolves with any exit code instead of throwing', async () => {
    const r = await runner.run([node, '-e', 'process.stderr.write("mdadm: nope\\n"); process.exit(3)']);
    expect(r).toMatchObject({ exitCode: 3, stderr: 'mdadm: nope\n' });
  });

  it('feeds stdin when asked, and closes it otherwise', async () => {
    const echo = [node, '-e', 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(s.toUpperCase()))'];
    expect((await runner.run(echo, { input: '3000\n' })).stdout).toBe('3000\n');
    expect((await runner.run(echo)).stdout).toBe('');
  });

  it('passes argv without a shell: metacharacters stay literal', async () => {
    const r = await runner.run([node, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '$(id)', 'a b', "'q'", '*']);
    expect(JSON.parse(r.stdout)).toEqual(['$(id)', 'a b', "'q'", '*']);
  });

  it('runs in the C locale so outputs have the format the parsers know', async () => {
    const r = await runner.run([node, '-e', 'process.stdout.write(process.env.LC_ALL ?? "")']);
    expect(r.stdout).toBe('C');
  });

  it('rejects when the program does not exist or runs past its timeout', async () => {
    await expect(runner.run(['/nonexistent/mdadm', '--version'])).rejects.toThrow(ActionError);
    await expect(runner.run(['/nonexistent/mdadm', '--version'])).rejects.toThrow(/could not run on host here/);
    await expect(runner.run([node, '-e', 'setTimeout(()=>{}, 5000)'], { timeoutMs: 200 })).rejects.toThrow(/got no answer within 200 ms \(timed out\)/);
  });

  it('prefixes sudo -n when asked', async () => {
    const sudo = new LocalRunner({ sudo: true });
    // sudo may be absent here: either it ran sudo, or it failed to start it; never the bare command
    const r: unknown = await sudo.run(['true']).catch((e: unknown) => e);
    if (r instanceof Error) expect(r.message).toContain('sudo -n true');
    else expect((r as { argv: string[] }).argv).toEqual(['true']);
  });
});
