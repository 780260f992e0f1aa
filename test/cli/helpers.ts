// A copy of the rehearsal example in a temp folder, so CLI tests run as a user would.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function rehearsalCopy(): { dir: string; inventory: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sanshift-cli-'));
  copyFileSync(join(repo, 'fixtures/testdriver/node.xml'), join(dir, 'node.xml'));
  const text = readFileSync(join(repo, 'examples/testdriver/inventory.yaml'), 'utf8').replace(/testDriverNode: \S+/, 'testDriverNode: node.xml');
  const inventory = join(dir, 'inventory.yaml');
  writeFileSync(inventory, text);
  return { dir, inventory };
}
