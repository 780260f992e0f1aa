// The one place the inventory touches the file system: read the file (and the mapping CSV
// it may name), then hand the text to the pure parser.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError, InputErrorCode } from '../util/errors.js';
import { parseInventory } from './parse.js';
import type { Inventory } from './types.js';

/** Read, parse and validate an inventory file (YAML or JSON). Throws InputError (exit code 2) listing every problem. */
export async function loadInventory(file: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(path.resolve(file), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw InputError.one({
      code: InputErrorCode.notFound,
      message: code === 'ENOENT' ? 'the inventory file does not exist' : `cannot read the inventory file: ${(err as Error).message}`,
      hint: 'pass the path of an inventory with -i (see docs/inventory.md)',
      at: { file },
    });
  }
  // a mapping CSV is small and read at most once, so a synchronous read keeps the parser simple
  return parseInventory(text, file, { readFile: (absolutePath) => readFileSync(absolutePath, 'utf8'), exists: existsSync });
}
