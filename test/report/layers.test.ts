// report/ is a pure leaf (DESIGN.md, STYLE.md): it renders values, so it reads no file, runs no
// command and knows nothing of the CLI; from the engine it takes only the event and journal
// types. The saved plan's format is pure too. The CLI does the I/O.
import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repo } from '../cli/helpers.js';

const importsOf = (file: string): string[] => [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);

describe('layers', () => {
  const reportFiles = readdirSync(join(repo, 'src/report')).filter((f) => f.endsWith('.ts')).map((f) => join(repo, 'src/report', f));
  const pure = [...reportFiles, join(repo, 'src/plan/plan-file.ts')];

  test.each(pure.map((f) => [f.slice(repo.length + 1), f]))('%s does no I/O and imports no CLI', (_name, file) => {
    for (const spec of importsOf(file)) {
      expect(spec).not.toMatch(/^node:(fs|child_process|net|http|https)(\/|$)/);
      expect(spec).not.toMatch(/\/cli\//);
    }
  });

  test('report/ takes only types from the engine: events and journal records', () => {
    for (const file of reportFiles) {
      for (const spec of importsOf(file).filter((s) => s.includes('/engine/'))) expect(['../engine/events.js', '../engine/journal.js']).toContain(spec);
      for (const line of readFileSync(file, 'utf8').split('\n').filter((l) => /from '\.\.\/engine\//.test(l))) expect(line).toMatch(/^import type /);
    }
  });
});
