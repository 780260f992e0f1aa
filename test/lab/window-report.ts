// Prints the down windows of a lab run, taken apart (harness.ts windowReport): for each VM and
// window, shutdown, boot and sanshift's own overhead. Run on any state folder's journals:
//   npx tsx test/lab/window-report.ts test/lab/work/run-PORT/scenarios/a/.sanshift/runs
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatWindowTable, windowReport, type Rec } from './harness.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: window-report.ts STATE_DIR/runs');
  process.exit(2);
}
const records = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()
  .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Rec));
console.log(formatWindowTable(windowReport(records)));
