// A mini-service's answer tries to wipe the platform origin (where the app
// shell keeps the citizen's token): `Clear-Site-Data: "storage"` from
// /p/mirror/clear. Run by tests/tests/e2e/input.rs against a host with the
// `mirror` test guest installed; exits non-zero when the citizen was signed
// out or the header reached the browser.
//
// Environment: BASE_URL, CITIZEN_TOKEN, CHROMIUM (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE_URL = process.env.BASE_URL.replace(/\/$/, '');
const TOKEN = process.env.CITIZEN_TOKEN;
const profile = mkdtempSync(join(tmpdir(), 'islet-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  // These steps read the English texts (tests/browser/i18n.mjs covers both languages).
  locale: 'en-US',
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--lang=en-US'],
});
browser.setDefaultTimeout(15_000);
try {
  const page = await browser.newPage();
  await page.goto(`${BASE_URL}/`);
  await page.evaluate((t) => localStorage.setItem('islet_token', t), TOKEN);
  assert.equal(await page.evaluate(() => window.isSecureContext), true,
    'Clear-Site-Data needs a secure context; the host must be on 127.0.0.1');

  // The service's page, opened at the top level and inside the shell.
  const answer = await page.goto(`${BASE_URL}/p/mirror/clear`);
  assert.equal(answer.status(), 200);
  const headers = await answer.allHeaders();
  assert.equal(headers['clear-site-data'], undefined, 'Clear-Site-Data reached the browser');
  assert.equal(headers['set-cookie'], undefined, 'Set-Cookie reached the browser');
  await page.goto(`${BASE_URL}/`);
  await page.evaluate(() => fetch('/p/mirror/clear').then((r) => r.text()));

  const kept = await page.evaluate(() => localStorage.getItem('islet_token'));
  assert.equal(kept, TOKEN, 'the citizen was signed out by a service');
  console.log('the citizen stays signed in');
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
