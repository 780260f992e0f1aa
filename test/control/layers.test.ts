// src/control is the engine's toolbox: it may import util and inventory types, node builtins and
// execa, never the engine, the plan, the CLI or the hosts (the lead's engine imports it).
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const folder = join(process.cwd(), 'src/control');

describe('src/control imports downward only', () => {
  const files = readdirSync(folder).filter((f) => f.endsWith('.ts'));
  it('holds the five modules', () => {
    expect(files.sort()).toEqual(['budget.ts', 'health.ts', 'hooks.ts', 'pause.ts', 'windows.ts']);
  });
  for (const file of files) {
    it(`${file}`, () => {
      const text = readFileSync(join(folder, file), 'utf8');
      const imports = [...text.matchAll(/^import\s+(type\s+)?[^'"]*from\s+'([^']+)'/gm)].map((m) => ({ type: m[1] !== undefined, from: m[2]! }));
      for (const i of imports) {
        const allowed = i.from.startsWith('node:') || i.from === 'execa' || i.from.startsWith('../util/') || i.from.startsWith('./') || (i.type && i.from === '../inventory/types.js');
        expect({ file, from: i.from, allowed }).toEqual({ file, from: i.from, allowed: true });
      }
    });
  }
});
