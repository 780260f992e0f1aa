// The file side of a saved plan: the inventory's digest (its text and the mapping CSV it
// names), reading a plan file, and the version that writes one. The format and the comparison
// are pure (src/plan/plan-file.ts).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseInventory } from '../inventory/parse.js';
import { parsePlanFile, sha256, type InventoryDigest, type PlanFile } from '../plan/plan-file.js';
import { InputError, InputErrorCode } from '../util/errors.js';

/** sha256 over the inventory's text and every file it names (a mapping CSV): what the plan was made from. */
export function inventoryDigest(file: string): InventoryDigest {
  const absolute = resolve(file);
  const text = readFileSync(absolute, 'utf8');
  const parts = [text];
  // the parser names the files it reads; parsing again is cheap next to reading a fleet's domains
  parseInventory(text, file, {
    readFile: (path) => {
      const content = readFileSync(path, 'utf8');
      parts.push(`\0${path}\0${content}`);
      return content;
    },
  });
  return { file: absolute, sha256: sha256(parts.join('')) };
}

export function readPlanFile(file: string): PlanFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw InputError.one({ code: InputErrorCode.notFound, message: `cannot read the plan ${file}: ${(err as Error).message}`, hint: `make one first: sanshift plan -i INVENTORY -o ${file}`, at: { file } });
  }
  return parsePlanFile(text, file);
}

/** "sanshift 0.1.0", from the package.json beside src/ and dist/. */
export function sanshiftVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return `sanshift ${pkg.version ?? 'unknown'}`;
  } catch {
    return 'sanshift (version unknown)';
  }
}
