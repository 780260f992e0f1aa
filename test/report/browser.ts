// Real headless Chromium for the page tests and the picture in the README: Debian's chromium
// package driven by playwright-core (which downloads no browser of its own). The flags are those
// that work on a closed network: without the background-networking ones Chromium spends its
// start-up on connections that are refused (docs/observability.md, "The browser check").
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env['SANSHIFT_CHROMIUM'] ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run scripts/setup.sh (it installs Debian's chromium package), or set SANSHIFT_CHROMIUM`);
  }
  // playwright gives every launch a new empty profile of its own (it refuses --user-data-dir)
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}
