import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { execa } from 'execa';
import { shellJoin, shellQuote } from '../../src/host/quote.js';

describe('shellQuote', () => {
  it('leaves plain words alone and quotes the rest', () => {
    expect(shellQuote('/dev/md/ss-vm1-vda')).toBe('/dev/md/ss-vm1-vda');
    expect(shellQuote('--raid-disks=2')).toBe('--raid-disks=2');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('$(reboot)')).toBe("'$(reboot)'");
    expect(() => shellQuote('a\0b')).toThrow();
  });

  it('a real POSIX shell reads every quoted argv back unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: 'binary' }).map((s) => s.replace(/\0/g, '')), { maxLength: 4 }), async (argv) => {
        // printf prints each argument followed by a NUL, so we can split them back exactly
        const r = await execa('sh', ['-c', `printf '%s\\0' ${shellJoin(argv)}`], { stripFinalNewline: false });
        const back = argv.length === 0 ? [] : r.stdout.split('\0').slice(0, -1);
        // printf with no argument still prints once, with an empty one
        expect(argv.length === 0 ? [] : back).toEqual(argv);
      }),
      { numRuns: 60 },
    );
  });
});
