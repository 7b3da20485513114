// Hostile mini-service pages against the demo app shell (/), in headless
// Chromium: each step makes an attack a service page (the page-probe test
// guest) can make and checks the shell refuses it, next to a control that
// shows the same channel works for the page the shell opened. Run by
// tests/tests/e2e/browser.rs, which prepares the host:
//
//   page-probe installed twice (as `page-probe` and `page-probe-b`);
//   water-bill released and allowed to charge; WATER_ORDER is an unpaid
//   water-bill order of the citizen, OTHER_ORDER one of another citizen.
//
// PART selects what runs:
//   bridge           islet.pay, the bridge's answers, the pages' script policy,
//                    accessibility (axe-core) of the shell, cashier and console
//   clear-site-data  a service answer carrying Clear-Site-Data does not sign
//                    the citizen out of the shell
//
// Environment: BASE_URL, CITIZEN_TOKEN, CITIZEN_SUB, ADMIN_TOKEN,
// WATER_ORDER, OTHER_ORDER, PART, SCREENSHOT_DIR, CHROMIUM; KEEP_GOING=1
// runs every step even after one failed.
// Exits non-zero on the first failed step.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { TIMEOUT_MS, byTestId, env, eventually, runAxe, runSteps } from './support.mjs';

const BASE_URL = env('BASE_URL').replace(/\/$/, '');
const CITIZEN_TOKEN = env('CITIZEN_TOKEN');
const CITIZEN_SUB = env('CITIZEN_SUB');
const ADMIN_TOKEN = env('ADMIN_TOKEN');
const PART = env('PART');
const SCREENSHOT_DIR = env('SCREENSHOT_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';


/** Poll `check` until it stops throwing. */

let shots = 0;
async function screenshot(page, name) {
  shots += 1;
  const file = join(SCREENSHOT_DIR, `${String(shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

/** The shell showing page `path` (`/p/...`) of service `id` in its frame. */
async function openInShell(shell, id, path) {
  // Leave the service first, so the frame loads the page afresh.
  await shell.goto(`${BASE_URL}/#home`);
  await byTestId(shell, 'screen-home').waitFor({ state: 'visible' });
  await shell.goto(`${BASE_URL}/#open/${encodeURIComponent(id)}/${encodeURIComponent(path)}`);
  await byTestId(shell, 'service').waitFor({ state: 'visible' });
}

/** The text a probe page shows in `#result`, once it is not `waiting`. */
async function resultOf(frameLocator, pattern) {
  const result = frameLocator.locator('#result');
  return eventually(async () => {
    const text = await result.textContent();
    assert.match(text, pattern);
    return text;
  }, 'the probe page result');
}

const serviceFrame = (shell) => shell.frameLocator('[data-testid="service-frame"]');

/** The citizen is signed in to the shell, with their own token. */
async function assertSignedIn(shell, what) {
  assert.equal(await shell.evaluate(() => localStorage.getItem('islet_token')), CITIZEN_TOKEN, what);
  assert.equal(await byTestId(shell, 'greeting').textContent(), `Hello, ${CITIZEN_SUB}`, what);
}

// ----------------------------------------------------------------- steps

const steps = [];
const step = (part, name, run) => steps.push({ part, name, run });

step('bridge', 'a page may only open the city cashier for an order of its own', async (shell) => {
  const refused = [
    'https://evil.example/phish',
    'http://127.0.0.1:9/pay/1',
    '//evil.example/pay/1',
    'javascript:alert(document.domain)',
    'data:text/html,<h1>pay</h1>',
    '/admin',
    '/pay/',
    `/pay/${process.env.WATER_ORDER}?then=https://evil.example`,
    '/pay/no-such-order',
    // Another service's order of this citizen, and another citizen's order.
    `/pay/${env('WATER_ORDER')}`,
    `${BASE_URL}/pay/${env('WATER_ORDER')}`,
    `/pay/${env('OTHER_ORDER')}`,
  ];
  for (const url of refused) {
    const page = `/p/page-probe/?mode=pay&url=${encodeURIComponent(url)}`;
    await openInShell(shell, 'page-probe', page);
    const text = await resultOf(serviceFrame(shell), /^pay (accepted|refused)/);
    assert.match(text, /^pay refused: the payment page was refused/, url);
    const message = byTestId(shell, 'service-message');
    await message.waitFor({ state: 'visible' });
    assert.match(await message.textContent(), /Page probe tried to open a payment page the app does not trust.*Nothing was opened/, url);
    // Nothing navigated: the shell is still on its own page, the service open.
    const at = new URL(shell.url());
    assert.equal(at.origin + at.pathname, `${BASE_URL}/`, url);
    assert.match(at.hash, /^#open\/page-probe\//, url);
    assert.ok(await byTestId(shell, 'service').isVisible(), url);
  }
  await screenshot(shell, 'pay-refused');
  // Leaving the service clears the warning.
  await byTestId(shell, 'back').click();
  await byTestId(shell, 'screen-home').waitFor({ state: 'visible' });
  assert.equal(await byTestId(shell, 'service-message').isVisible(), false);
});

step('bridge', 'the page the shell opened gets answers (control)', async (shell) => {
  await openInShell(shell, 'page-probe', '/p/page-probe/?mode=session');
  assert.equal(await resultOf(serviceFrame(shell), /^(answered|refused|no answer)/), 'answered with a token');
  // The bridge key, like the session, is gone from the page's address.
  const frame = shell.frames().find((f) => new URL(f.url()).pathname.startsWith('/p/page-probe/'));
  assert.ok(frame && !frame.url().includes('islet-bridge') && !frame.url().includes('islet-session'), frame?.url());
});

step('bridge', 'a page claiming another service gets no answer for it', async (shell) => {
  await openInShell(shell, 'page-probe', '/p/page-probe/?mode=session&claim=page-probe-b');
  assert.equal(await resultOf(serviceFrame(shell), /^(answered|refused|no answer)/),
    'refused: this page does not belong to the service the app opened');
});

step('bridge', 'a page without the key of the load the shell made gets no answer', async (shell) => {
  await openInShell(shell, 'page-probe', '/p/page-probe/?mode=session&key=none');
  assert.equal(await resultOf(serviceFrame(shell), /^(answered|refused|no answer)/),
    'refused: this page was not opened by the app');
});

step('bridge', 'another service\'s page the frame went to gets no answer as the open service', async (shell) => {
  for (const claim of ['page-probe', 'page-probe-b']) {
    const to = `/p/page-probe-b/?mode=session&claim=${claim}`;
    await openInShell(shell, 'page-probe', `/p/page-probe/?mode=navigate&to=${encodeURIComponent(to)}`);
    await eventually(() => assert.ok(shell.frames().some((f) => f.url().includes('/p/page-probe-b/'))),
      'the frame went to page-probe-b');
    const text = await resultOf(serviceFrame(shell), /^(answered|refused|no answer)/);
    assert.match(text, /^refused: /, `page-probe-b claiming ${claim}`);
  }
});

step('bridge', 'a frame nested in the service page gets no answer, even with the key', async (shell) => {
  await openInShell(shell, 'page-probe', '/p/page-probe/?mode=nested');
  const nested = serviceFrame(shell).frameLocator('[data-testid="nested"]');
  assert.equal(await resultOf(nested, /^(answered|refused|no answer)/),
    'refused: the app answers only the service page it opened');
});

/**
 * On `page`, a script from a mini-service (`/p/page-probe/evil.js`, which
 * the host serves) is refused by the policy, as a classic and as a module
 * script, while one of the host's `/assets/` loads.
 */
async function scriptsOnlyFromAssets(page) {
  const outcome = await page.evaluate(async () => {
    const violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      violations.push({ blocked: e.blockedURI, directive: e.effectiveDirective });
    });
    const load = (src, type) => new Promise((resolve) => {
      const s = document.createElement('script');
      if (type) s.type = type;
      s.src = src;
      s.onload = () => resolve('loaded');
      s.onerror = () => resolve('refused');
      document.head.append(s);
    });
    const served = await fetch('/p/page-probe/evil.js').then((r) => r.status);
    const classic = await load('/p/page-probe/evil.js');
    const module = await load('/p/page-probe/evil.js?module', 'module');
    const imported = await import('/p/page-probe/evil.js?import').then(() => 'loaded', () => 'refused');
    const own = await load('/assets/common.js', 'module');
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { served, classic, module, imported, own, pwned: document.documentElement.dataset.pwned ?? null, violations };
  });
  assert.equal(outcome.served, 200, 'the host serves the script (the policy refuses it)');
  assert.deepEqual(
    { classic: outcome.classic, module: outcome.module, imported: outcome.imported, own: outcome.own, pwned: outcome.pwned },
    { classic: 'refused', module: 'refused', imported: 'refused', own: 'loaded', pwned: null },
    JSON.stringify(outcome),
  );
  const blocked = outcome.violations.filter((v) => v.blocked.includes('/p/page-probe/evil.js'));
  assert.ok(blocked.length >= 3, JSON.stringify(outcome.violations));
  for (const v of blocked) assert.match(v.directive, /^script-src/, JSON.stringify(v));
}

/** Serious or critical accessibility violations axe-core found, by page. */
const axeProblems = [];

/** Run axe-core on `page` (WCAG 2.1 A and AA rules); the last step checks. */
async function accessible(page, name) {
  const { results, serious } = await runAxe(page);
  for (const v of serious) {
    for (const n of v.nodes) axeProblems.push(`${name}: ${v.id} (${v.impact}) ${n.target.join(' ')}: ${n.failureSummary}`);
  }
  console.log(`axe ${name}: ${results.passes.length} rules pass, ${results.violations.length} violations ` +
    `(${serious.length} serious or critical)`);
}

step('bridge', 'the shell runs scripts from /assets/ only, and still works', async (shell) => {
  await shell.goto(`${BASE_URL}/#home`);
  await byTestId(shell, 'tile-page-probe').waitFor();
  await scriptsOnlyFromAssets(shell);
  await assertSignedIn(shell, 'the shell works');
  await accessible(shell, 'shell home');
  await openInShell(shell, 'page-probe', '/p/page-probe/');
  await resultOf(serviceFrame(shell), /^ready$/);
  await accessible(shell, 'shell with a service open');
});

step('bridge', 'the cashier runs scripts from /assets/ only, and still works', async (shell) => {
  await shell.goto(`${BASE_URL}/pay/${env('WATER_ORDER')}`);
  await byTestId(shell, 'cashier-pay').waitFor({ state: 'visible' });
  await scriptsOnlyFromAssets(shell);
  await accessible(shell, 'cashier');
});

step('bridge', 'the console runs scripts from /assets/ only, and still works', async (shell) => {
  await shell.goto(`${BASE_URL}/admin`);
  await byTestId(shell, 'signin').waitFor({ state: 'visible' });
  await scriptsOnlyFromAssets(shell);
  await accessible(shell, 'console sign-in');
  await byTestId(shell, 'signin-token').fill(ADMIN_TOKEN);
  await byTestId(shell, 'signin-submit').click();
  await byTestId(shell, 'plugin-row-page-probe').waitFor();
  await accessible(shell, 'console plugins');
  await shell.evaluate(() => sessionStorage.clear());
});

step('bridge', 'axe-core finds no serious accessibility problem on those pages', async () => {
  assert.deepEqual(axeProblems, []);
});

step('clear-site-data', 'a service answer cannot sign the citizen out of the shell', async (shell) => {
  await shell.goto(`${BASE_URL}/#home`);
  await assertSignedIn(shell, 'before');
  await openInShell(shell, 'page-probe', '/p/page-probe/clear-site-data');
  await resultOf(serviceFrame(shell), /^cleared$/);
  // Whatever the browser does with the answer's headers is done by now.
  await shell.waitForTimeout(500);
  await shell.reload();
  await byTestId(shell, 'service').waitFor({ state: 'visible' });
  await byTestId(shell, 'back').click();
  await byTestId(shell, 'screen-home').waitFor({ state: 'visible' });
  await assertSignedIn(shell, 'after the service answered with Clear-Site-Data');
  await screenshot(shell, 'still-signed-in');
});

// ------------------------------------------------------------------ main

async function main() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'islet-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    // These steps read the English texts (tests/browser/i18n.mjs covers both languages).
    locale: 'en-US',
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--lang=en-US'],
    viewport: { width: 1000, height: 940 },
  });
  browser.setDefaultTimeout(TIMEOUT_MS);
  const shell = await browser.newPage();
  const errors = [];
  shell.on('pageerror', (err) => errors.push(`${shell.url()}: ${err.message}`));
  if (process.env.BROWSER_DEBUG) shell.on('console', (msg) => console.error(`console ${msg.type()}: ${msg.text()}`));
  // Sign in the way a citizen does.
  await shell.goto(`${BASE_URL}/#me`);
  await byTestId(shell, 'me-token').fill(CITIZEN_TOKEN);
  await byTestId(shell, 'me-signin').click();
  await byTestId(shell, 'screen-home').waitFor({ state: 'visible' });
  await assertSignedIn(shell, 'signed in');

  const chosen = steps.filter((s) => s.part === PART);
  assert.ok(chosen.length, `no steps for PART=${PART}`);
  // KEEP_GOING=1 runs every step (to see each attack on an older host).
  const { passed, failed } = await runSteps(chosen, shell, errors, {
    screenshotPath: (n) => join(SCREENSHOT_DIR, `failed-${n}.png`),
    keepGoing: Boolean(process.env.KEEP_GOING),
  });
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  console.log(`hostile pages (${PART}): ${passed} of ${chosen.length} steps passed`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
