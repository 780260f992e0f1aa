// Reads the lab captures kept in fixtures/md (test helper, not a test).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'md');

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

export function fixtureNames(pattern: RegExp): string[] {
  return readdirSync(FIXTURES).filter((f) => pattern.test(f)).sort();
}

export interface Capture {
  /** the command line after "$ " */
  command: string;
  argv: string[];
  /** stdout and stderr together, as captured */
  output: string;
  exitCode: number;
}

/** A "$ command / output / [exit N]" capture. Captured argv never hold spaces, so split is exact. */
export function capture(name: string): Capture {
  const text = fixture(name);
  const lines = text.split('\n');
  const first = lines[0]!;
  if (!first.startsWith('$ ')) throw new Error(`${name} is not a command capture`);
  const exitIndex = lines.findIndex((l) => /^\[exit \d+\]$/.test(l));
  const exitCode = Number(/\d+/.exec(lines[exitIndex]!)![0]);
  const body = lines.slice(1, exitIndex);
  return {
    command: first.slice(2),
    argv: first.slice(2).split(' '),
    output: body.length === 0 ? '' : `${body.join('\n')}\n`,
    exitCode,
  };
}
