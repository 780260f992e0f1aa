// The timeline page at fleet scale: `npx tsx bench/timeline-page.ts [sizes...]` (default 1000
// 10000). For each size, a generated fleet (src/plan/fleet-gen.ts) is written as an inventory
// of real-looking hosts, `sanshift simulate --html` writes its page through the real CLI code
// (the scheduler's model: no host is contacted), and Debian's Chromium opens it. Prints, per
// size: the CLI's time, the page's size, the browser's load and first paint, the time to
// scroll to the last row and paint it, and the rows the DOM holds. The last line is one JSON
// object. Figures, not a test (docs/observability.md quotes them).
//
// With --readme it also writes docs/img/timeline.png from the 30-VM example fleet.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { RecordingIo } from '../src/cli/io.js';
import { launchChromium } from '../test/report/browser.js';
import { hostsFor, writeFleetInventory } from '../test/report/fleet-inventory.js';

const args = process.argv.slice(2);
const readme = args.includes('--readme');
const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number);
const SIZES = sizes.length > 0 ? sizes : [1_000, 10_000];
const dir = mkdtempSync(join(tmpdir(), 'sanshift-timeline-bench-'));

interface Figures {
  vms: number;
  hosts: number;
  cliMs: number;
  /** the same simulate without --html: the page's own cost is the difference */
  cliNoPageMs: number;
  pageBytes: number;
  loadMs: number;
  firstPaintMs: number | null;
  scrollToEndMs: number;
  domRows: number;
}

const browser = await launchChromium();
const out: Figures[] = [];
try {
  for (const vms of SIZES) {
    const inventory = writeFleetInventory(dir, vms);
    const html = join(dir, `fleet-${vms}.html`);
    const tNoPage = performance.now();
    if ((await main(['simulate', '-i', inventory], new RecordingIo())) !== 0) throw new Error('simulate failed');
    const cliNoPageMs = performance.now() - tNoPage;
    const io = new RecordingIo();
    const t0 = performance.now();
    const code = await main(['simulate', '-i', inventory, '--html', html], io);
    const cliMs = performance.now() - t0;
    if (code !== 0) throw new Error(`simulate exited ${code}: ${io.stderr}`);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`file://${html}`, { waitUntil: 'load' });
    // strings, not functions: they run in the page, and this file is compiled without the DOM's types
    const timing = (await page.evaluate(`(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      return { loadMs: nav.loadEventEnd - nav.startTime, firstPaintMs: paint === undefined ? null : paint.startTime };
    })()`)) as { loadMs: number; firstPaintMs: number | null };
    // the last block of rows is laid out only when it comes on screen (content-visibility)
    const scrollToEndMs = (await page.evaluate(`new Promise((resolve) => {
      const t = performance.now();
      window.scrollTo(0, document.body.scrollHeight);
      requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t)));
    })`)) as number;
    const domRows = await page.locator('g.row').count();
    await page.close();
    const hosts = hostsFor(vms);
    const f: Figures = { vms, hosts, cliMs: Math.round(cliMs), cliNoPageMs: Math.round(cliNoPageMs), pageBytes: statSync(html).size, loadMs: Math.round(timing.loadMs), firstPaintMs: timing.firstPaintMs === null ? null : Math.round(timing.firstPaintMs), scrollToEndMs: Math.round(scrollToEndMs), domRows };
    out.push(f);
    console.log(`${vms} VMs on ${hosts} hosts: simulate --html ${f.cliMs} ms (without --html ${f.cliNoPageMs} ms); page ${(f.pageBytes / 1024 / 1024).toFixed(2)} MiB; Chromium load ${f.loadMs} ms, first paint ${f.firstPaintMs} ms, scroll to the last row ${f.scrollToEndMs} ms; ${f.domRows} rows in the DOM`);
  }
  if (readme) {
    const html = join(dir, 'example-fleet.html');
    const code = await main(['simulate', '-i', 'examples/fleet/inventory.yaml', '--html', html], new RecordingIo());
    if (code !== 0) throw new Error(`simulate of the example fleet exited ${code}`);
    const page = await browser.newPage({ viewport: { width: 1260, height: 1180 } });
    await page.goto(`file://${html}`, { waitUntil: 'load' });
    await page.screenshot({ path: 'docs/img/timeline.png' });
    await page.close();
    console.log('wrote docs/img/timeline.png');
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ timelinePage: out }));
