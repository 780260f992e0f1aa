// The timeline page in a real browser: Debian's Chromium, headless, driven by playwright-core
// (scripts/setup.sh installs it). The pages are written by the real commands: `report --html`
// after a rehearsal run, and `simulate --html` of a generated 1,200-VM fleet.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { rehearsalCopy } from '../cli/helpers.js';
import { launchChromium } from './browser.js';
import { writeFleetInventory } from './fleet-inventory.js';

const shots = mkdtempSync(join(tmpdir(), 'sanshift-timeline-shots-'));
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
}, 30_000);

afterAll(async () => {
  await browser?.close();
});

/** Opens a page file; every request it makes and every error it logs are kept. */
async function open(file: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1260, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  return { page, requests, errors };
}

function isPng(file: string): boolean {
  return readFileSync(file).subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}

describe('report --html of a rehearsal run, in Chromium', () => {
  const { dir, inventory } = rehearsalCopy();
  const html = join(dir, 'run.html');
  const events = join(dir, 'events.jsonl');
  let shown: Awaited<ReturnType<typeof open>>;

  beforeAll(async () => {
    expect(await main(['run', '-i', inventory, '--yes', '--events', events], new RecordingIo())).toBe(0);
    const io = new RecordingIo();
    expect(await main(['report', '-i', inventory, '--html', html, '--events', events], io)).toBe(0);
    expect(io.stdout).toContain(`timeline: ${html}`);
    shown = await open(html);
  }, 60_000);

  afterAll(async () => {
    await shown?.page.close();
  });

  test('one row per VM, named, in the order their T1 began', async () => {
    const rows = shown.page.locator('g.row');
    expect(await rows.count()).toBe(4);
    // the scheduler stops dependents first: app1, web1, db1, then dns1 (README, the rehearsal)
    expect(await rows.evaluateAll((gs) => gs.map((g) => g.getAttribute('data-vm')))).toEqual(['app1', 'web1', 'db1', 'dns1']);
    expect(await shown.page.locator('g.row text').allTextContents()).toEqual(['app1', 'web1', 'db1', 'dns1']);
  });

  test('the bars are laid out in the plot: every VM has a T1 and a T2 bar, the T2 right of the T1', async () => {
    for (const vm of ['app1', 'web1', 'db1', 'dns1']) {
      const t1 = await shown.page.locator(`g.row[data-vm="${vm}"] rect.t1:not(.sd)`).boundingBox();
      const t2 = await shown.page.locator(`g.row[data-vm="${vm}"] rect.t2:not(.sd)`).boundingBox();
      expect(t1!.width).toBeGreaterThanOrEqual(2);
      expect(t1!.height).toBeGreaterThan(5);
      expect(t2!.x).toBeGreaterThan(t1!.x + t1!.width);
      expect(t2!.x + t2!.width).toBeLessThanOrEqual(1260);
    }
  });

  test('self-contained: the page asked for nothing but itself, and logged no error', () => {
    expect(shown.requests).toEqual([`file://${html}`]);
    expect(shown.errors).toEqual([]);
  });

  test('the rates are the measured ones, from the events file', async () => {
    expect(await shown.page.locator('p.cap').last().textContent()).toContain(`from the run's events (${events})`);
    expect(await shown.page.locator('path.area').count()).toBe(1);
  });

  test('a screenshot shows it', async () => {
    const png = join(shots, 'run.png');
    await shown.page.screenshot({ path: png, fullPage: true });
    expect(isPng(png)).toBe(true);
    expect(statSync(png).size).toBeGreaterThan(20_000);
  });
});

describe('simulate --html of 1,200 VMs, in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sanshift-timeline-fleet-'));
  const html = join(dir, 'fleet.html');
  let shown: Awaited<ReturnType<typeof open>>;

  beforeAll(async () => {
    const inventory = writeFleetInventory(dir, 1200);
    const io = new RecordingIo();
    expect(await main(['simulate', '-i', inventory, '--html', html], io)).toBe(0);
    shown = await open(html);
  }, 60_000);

  afterAll(async () => {
    await shown?.page.close();
  });

  test('every VM has its row in the DOM; the charts show every array and the host spread', async () => {
    expect(await shown.page.locator('g.row').count()).toBe(1200);
    expect(await shown.page.locator('div.rows').getAttribute('data-rows')).toBe('1200');
    expect(await shown.page.locator('section.chart').first().locator('.key').count()).toBeGreaterThanOrEqual(8);
    expect(await shown.page.locator('section.chart h2').nth(1).textContent()).toMatch(/^Resync bandwidth per host: \d+ hosts$/);
    expect(shown.requests).toEqual([`file://${html}`]);
    expect(shown.errors).toEqual([]);
  });

  test('the last row is drawn once scrolled to, and the time axis stays at the top of the window', async () => {
    const last = shown.page.locator('g.row').last();
    await last.scrollIntoViewIfNeeded();
    const box = await last.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.height).toBeGreaterThan(10);
    const axis = await shown.page.locator('div.axis').boundingBox();
    expect(axis!.y).toBe(0);
    const png = join(shots, 'fleet-bottom.png');
    await shown.page.screenshot({ path: png });
    expect(isPng(png)).toBe(true);
  });
});
