// The JavaScript sample's own page (plugins/bus-card) in the demo app shell,
// in headless Chromium: a citizen signs in, opens the bus card from the home
// screen, registers a card, tops it up (allowing the message, paying in the
// sandbox cashier), comes back to the service and sees the card credited
// and the message in the Inbox. axe-core runs on the service page (inside
// its frame) and on the shell around it: no serious or critical violation.
// Run by tests/tests/e2e/js.rs, which releases bus-card through review and
// opens the transport department's merchant account.
//
// Environment: BASE_URL, CITIZEN_TOKEN (subject citizen-1), SCREENSHOT_DIR,
// CHROMIUM. Exits non-zero on the first failed step.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { TIMEOUT_MS, byTestId, env, eventually, runAxe, runSteps } from './support.mjs';

const BASE_URL = env('BASE_URL').replace(/\/$/, '');
const CITIZEN_TOKEN = env('CITIZEN_TOKEN');
const SCREENSHOT_DIR = env('SCREENSHOT_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CARD = '31000012';

let shots = 0;
async function screenshot(page, name) {
  shots += 1;
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${String(shots).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function api(path) {
  const response = await fetch(`${BASE_URL}${path}`, { headers: { authorization: `Bearer ${CITIZEN_TOKEN}` } });
  return { status: response.status, body: await response.json() };
}

/** The bus card's frame (a Frame, for evaluate) and its locator. */
function serviceFrame(shell) {
  const frame = shell.frames().find((f) => f.url().includes('/p/bus-card/'));
  assert.ok(frame, `the bus card's frame: ${shell.frames().map((f) => f.url())}`);
  return frame;
}
const frameOf = (shell) => shell.frameLocator('[data-testid="service-frame"]');

/** axe-core on `target` (a page or a frame); fails on serious or critical violations. */
async function accessible(target, name) {
  const { results, serious } = await runAxe(target);
  console.log(`axe ${name}: ${results.passes.length} rules pass, ${results.violations.length} violations ` +
    `(${serious.length} serious or critical)`);
  const problems = serious.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}) ${n.target.join(' ')}: ${n.failureSummary}`));
  assert.deepEqual(problems, [], `${name}: serious accessibility problems`);
}

const steps = [];
const step = (name, run) => steps.push({ name, run });

step('sign in to the app shell as a citizen', async (shell) => {
  await shell.goto(`${BASE_URL}/`);
  await byTestId(shell, 'nav-me').click();
  await byTestId(shell, 'me-token').fill(CITIZEN_TOKEN);
  await byTestId(shell, 'me-signin').click();
  await byTestId(shell, 'screen-home').waitFor({ state: 'visible' });
  await byTestId(shell, 'tile-bus-card').waitFor();
});

step('open the bus card from the home screen: its own page, signed in', async (shell) => {
  await byTestId(shell, 'tile-bus-card').click();
  await byTestId(shell, 'service').waitFor({ state: 'visible' });
  await eventually(async () => assert.equal(await byTestId(shell, 'service-title').textContent(), 'Bus card top-up'),
    'service title');
  const frame = frameOf(shell);
  await frame.locator('h1').waitFor();
  assert.match(await frame.locator('h1').textContent(), /公交卡充值/);
  // The shell handed the page a session: no sign-in form, the register form instead.
  await byTestId(frame, 'card-number').waitFor({ state: 'visible' });
  assert.equal(await frame.locator('#signin').isHidden(), true);
  // The page runs in an opaque origin, away from the shell's token.
  assert.equal(await serviceFrame(shell).evaluate(() => window.origin), 'null');
  await accessible(serviceFrame(shell), 'bus card: register');
  await accessible(shell, 'shell with the bus card open');
  await screenshot(shell, 'bus-card-register');
});

step('register a card', async (shell) => {
  const frame = frameOf(shell);
  await byTestId(frame, 'card-number').fill(CARD);
  await byTestId(frame, 'save-card').click();
  await eventually(async () => assert.equal(await byTestId(frame, 'balance').textContent(), '¥0.00'), 'balance shown');
  assert.match(await frame.locator('#card-number').textContent(), new RegExp(CARD));
  await byTestId(frame, 'topup-5000').waitFor();
  await accessible(serviceFrame(shell), 'bus card: the card');
  await screenshot(shell, 'bus-card-registered');
});

step('top up ¥50: allow the message, pay in the cashier, come back credited', async (shell) => {
  const frame = frameOf(shell);
  await byTestId(frame, 'topup-5000').click();
  // The platform asks, in its own words, before the service may write.
  const sheet = byTestId(shell, 'consent-sheet');
  await sheet.waitFor({ state: 'visible' });
  assert.equal(await byTestId(sheet, 'consent-service').textContent(), 'Bus card top-up');
  await accessible(shell, 'consent sheet');
  await byTestId(sheet, 'consent-allow').click();
  await sheet.waitFor({ state: 'hidden' });
  // The cashier opens full screen with the order.
  await shell.waitForURL((url) => url.pathname.startsWith('/pay/'));
  await eventually(async () => assert.equal(await byTestId(shell, 'cashier-status').textContent(), 'Awaiting payment'),
    'the cashier shows the order');
  assert.equal(await byTestId(shell, 'cashier-amount').textContent(), '¥50.00');
  assert.equal(await byTestId(shell, 'cashier-service').textContent(), 'Bus card top-up');
  await accessible(shell, 'cashier');
  await screenshot(shell, 'bus-card-cashier');
  await byTestId(shell, 'cashier-pay').click();
  await eventually(async () => assert.equal(await byTestId(shell, 'cashier-status').textContent(), 'Paid'),
    'the cashier sees the order paid');
  // Back to the service; the card is credited once the paid event is delivered.
  await shell.waitForURL((url) => url.pathname === '/' && url.hash.startsWith('#open/bus-card'), { timeout: TIMEOUT_MS });
  await byTestId(shell, 'service').waitFor({ state: 'visible' });
  await eventually(async () => {
    const balance = await byTestId(frameOf(shell), 'balance').textContent();
    if (balance !== '¥50.00') {
      // The page may have loaded before the delivery: reopen it.
      await shell.evaluate(() => { location.hash = '#home'; });
      await shell.evaluate(() => { location.hash = '#open/bus-card'; });
    }
    assert.equal(balance, '¥50.00');
  }, 'the card credited');
  await frameOf(shell).locator('li[data-status="credited"]').first().waitFor();
  const { status, body } = await api('/p/bus-card/api/card');
  assert.equal(status, 200);
  assert.equal(body.card.balance_fen, 5000, JSON.stringify(body));
  await accessible(serviceFrame(shell), 'bus card: credited');
  await screenshot(shell, 'bus-card-credited');
});

step('the message is in the Inbox', async (shell) => {
  await byTestId(shell, 'back').click();
  await byTestId(shell, 'nav-inbox').click();
  await eventually(async () => assert.ok(await byTestId(shell, 'inbox-row').count() >= 1), 'an inbox row');
  assert.match(await byTestId(shell, 'inbox-row').first().textContent(), /公交卡充值到账/);
  await accessible(shell, 'inbox');
  await screenshot(shell, 'bus-card-inbox');
});

async function main() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'islet-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    locale: 'en-US',
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--lang=en-US'],
    viewport: { width: 420, height: 900 },
  });
  browser.setDefaultTimeout(TIMEOUT_MS);
  const shell = await browser.newPage();
  const errors = [];
  shell.on('pageerror', (err) => errors.push(`${shell.url()}: ${err.message}`));
  shell.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) errors.push(msg.text());
  });
  const started = Date.now();
  const { passed, failed } = await runSteps(steps, shell, errors, {
    screenshotPath: (n) => join(SCREENSHOT_DIR, `failed-${n}.png`),
  });
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  console.log(`bus card: ${passed} of ${steps.length} steps passed in ${Date.now() - started} ms`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
