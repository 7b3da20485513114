// Drives the console's money and messages screens (admin_money.js) of a
// running Islet host in headless Chromium: merchants, orders with their
// journal and events (Redeliver), the daily reconciliation, notification
// deliveries (failed first, Redeliver), usage with its SVG chart and the
// audit log with filters. Checks through the API that the clicks reached
// the host, runs axe-core on every screen (no serious or critical
// violation allowed) and takes a screenshot of each, in English and, with
// the money catalogue (i18n/money.zh-CN.json) installed, in Chinese.
// Run by tests/tests/e2e/money_console.rs, which prepares the host:
//
//   payment-probe allowed to charge to merchant `city-fees`; a paid order
//   (¥42.68) and an unpaid one of citizen-1; people-probe sent citizen-1 a
//   message whose webhook delivery failed (nobody listens).
//
// Environment: BASE_URL, ADMIN_TOKEN, OPERATOR_TOKEN, PAID_ORDER,
// UNPAID_ORDER, MESSAGE_ID, TODAY (the business day, YYYY-MM-DD),
// SCREENSHOT_DIR, CHROMIUM. Exits non-zero on the first failed step.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { TIMEOUT_MS, byTestId, env, eventually, runAxe, runSteps } from './support.mjs';

const BASE_URL = env('BASE_URL').replace(/\/$/, '');
const ADMIN_TOKEN = env('ADMIN_TOKEN');
const OPERATOR_TOKEN = env('OPERATOR_TOKEN');
const PAID = env('PAID_ORDER');
const UNPAID = env('UNPAID_ORDER');
const MESSAGE = env('MESSAGE_ID');
const TODAY = env('TODAY');
const SCREENSHOT_DIR = env('SCREENSHOT_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function api(path, token = ADMIN_TOKEN) {
  const response = await fetch(`${BASE_URL}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}


let shots = 0;
async function screenshot(page, name) {
  shots += 1;
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${String(shots).padStart(2, '0')}-${name}.png`), fullPage: true });
}


/** Serious or critical accessibility violations axe-core found, by screen. */
const axeProblems = [];
const axeSummary = [];

/** Run axe-core on `page` (WCAG 2.1 A and AA rules); the last step checks. */
async function accessible(page, name) {
  const { results, serious } = await runAxe(page);
  for (const v of serious) {
    for (const n of v.nodes) axeProblems.push(`${name}: ${v.id} (${v.impact}) ${n.target.join(' ')}: ${n.failureSummary}`);
  }
  const line = `axe ${name}: ${results.passes.length} rules pass, ${results.violations.length} violations ` +
    `(${serious.length} serious or critical)`;
  axeSummary.push(line);
  console.log(line);
}

async function expectNotice(page, pattern) {
  const notice = byTestId(page, 'notice');
  await notice.waitFor({ state: 'visible' });
  await eventually(async () => assert.match(await notice.textContent(), pattern), 'notice');
}

async function openTab(page, tab) {
  await byTestId(page, `tab-${tab}`).click();
  await byTestId(page, `view-${tab}`).waitFor({ state: 'visible' });
}

async function signIn(page, token) {
  await page.goto(`${BASE_URL}/admin`);
  await byTestId(page, 'signin').waitFor({ state: 'visible' });
  await byTestId(page, 'signin-token').fill(token);
  await byTestId(page, 'signin-submit').click();
  await byTestId(page, 'whoami').waitFor({ state: 'visible' });
}

async function auditHas(action, target) {
  const { status, body } = await api(`/admin/v1/audit?action=${action}&target=${encodeURIComponent(target)}`);
  assert.equal(status, 200, JSON.stringify(body));
  return body.entries.length;
}

// ----------------------------------------------------------------- steps

const steps = [];
const step = (name, run) => steps.push({ name, run });

step('sign in as an admin', async (page) => {
  await signIn(page, ADMIN_TOKEN);
  for (const tab of ['merchants', 'orders', 'reconciliation', 'deliveries', 'usage', 'audit']) {
    assert.ok(await byTestId(page, `tab-${tab}`).isVisible(), tab);
  }
});

step('merchants and the services allowed to charge', async (page) => {
  await openTab(page, 'merchants');
  const row = byTestId(page, 'merchant-row-city-fees');
  await row.waitFor();
  assert.match(await byTestId(row, 'merchant-plugins').textContent(), /payment-probe/);
  assert.match(await row.textContent(), /probe/);
  await accessible(page, 'merchants');
  await screenshot(page, 'merchants');
});

step('orders with filters', async (page) => {
  await openTab(page, 'orders');
  await byTestId(page, `order-row-${PAID}`).waitFor();
  await byTestId(page, `order-row-${UNPAID}`).waitFor();
  assert.match(await byTestId(byTestId(page, `order-row-${PAID}`), 'order-status').textContent(), /paid/);
  assert.match(await byTestId(page, `order-row-${PAID}`).textContent(), /¥42\.68/);
  // Only the paid ones.
  await byTestId(page, 'orders-status').selectOption('paid');
  await byTestId(page, 'orders-apply').click();
  await byTestId(page, `order-row-${UNPAID}`).waitFor({ state: 'detached' });
  await byTestId(page, `order-row-${PAID}`).waitFor();
  // Today's, any status.
  await byTestId(page, 'orders-status').selectOption({ index: 0 });
  await byTestId(page, 'orders-date').fill(TODAY);
  await byTestId(page, 'orders-apply').click();
  await byTestId(page, `order-row-${UNPAID}`).waitFor();
  // A day without orders.
  await byTestId(page, 'orders-date').fill('2001-02-03');
  await byTestId(page, 'orders-apply').click();
  await byTestId(page, 'orders-table-empty').waitFor();
  await byTestId(page, 'orders-date').fill(TODAY);
  await byTestId(page, 'orders-apply').click();
  await byTestId(page, `order-row-${PAID}`).waitFor();
  await accessible(page, 'orders');
  await screenshot(page, 'orders');
});

step('an order with its journal and events; Redeliver', async (page) => {
  await byTestId(page, `order-open-${PAID}`).click();
  const detail = byTestId(page, 'order-detail');
  await detail.waitFor();
  await eventually(async () => assert.ok(await byTestId(detail, 'journal-row').count() >= 2), 'journal rows');
  const journal = await byTestId(detail, 'journal-table').textContent();
  assert.match(journal, /created/);
  assert.match(journal, /paid/);
  const redeliver = detail.locator('[data-testid^="event-redeliver-"]').first();
  await redeliver.waitFor();
  const event = (await redeliver.getAttribute('data-testid')).replace('event-redeliver-', '');
  await accessible(page, 'order detail');
  await screenshot(page, 'order-detail');
  await redeliver.click();
  await expectNotice(page, new RegExp(`Queued payment event ${event} again`));
  await eventually(async () => assert.equal(await auditHas('payment-event.redeliver', event), 1), 'audited');
  assert.match(new URL(page.url()).hash, new RegExp(`^#orders/${PAID}$`));
});

step('the daily reconciliation names its time zone', async (page) => {
  await openTab(page, 'reconciliation');
  await byTestId(page, 'recon-summary').waitFor();
  assert.equal(await byTestId(page, 'recon-day').textContent(), TODAY);
  assert.equal(await byTestId(page, 'recon-zone').textContent(), 'Asia/Shanghai');
  const row = byTestId(page, 'recon-merchant-city-fees');
  await row.waitFor();
  assert.equal(await byTestId(row, 'recon-paid').textContent(), '¥42.68');
  const { body } = await api(`/admin/v1/reconciliation?date=${TODAY}`);
  const verdict = await byTestId(page, 'recon-verdict').textContent();
  if (body.mismatches.length) {
    assert.match(verdict, new RegExp(`${body.mismatches.length} mismatches`));
    assert.equal(await byTestId(page, 'recon-mismatch').count(), body.mismatches.length);
  } else {
    assert.equal(verdict, 'The books agree');
  }
  await accessible(page, 'reconciliation');
  await screenshot(page, 'reconciliation');
  await byTestId(page, 'recon-date').fill('2001-02-03');
  await byTestId(page, 'recon-apply').click();
  await eventually(async () => assert.equal(await byTestId(page, 'recon-day').textContent(), '2001-02-03'), 'another day');
  await byTestId(page, 'recon-merchants-empty').waitFor();
});

step('notification deliveries, failed first; Redeliver', async (page) => {
  await openTab(page, 'deliveries');
  const row = byTestId(page, `delivery-row-${MESSAGE}`);
  await row.waitFor();
  assert.match(await byTestId(row, 'delivery-status').textContent(), /failed/);
  const first = page.locator('[data-testid="deliveries-table"] tbody tr').first();
  assert.match(await byTestId(first, 'delivery-status').textContent(), /failed/, 'failed first');
  await accessible(page, 'deliveries');
  await screenshot(page, 'deliveries');
  await byTestId(page, `delivery-redeliver-${MESSAGE}`).click();
  await expectNotice(page, new RegExp(`Queued message ${MESSAGE} again`));
  await eventually(async () => assert.ok(await auditHas('notification.redeliver', `webhook/${MESSAGE}`) >= 1), 'audited');
  await byTestId(page, `delivery-row-${MESSAGE}`).waitFor();
});

step('usage per department and service, with an SVG chart', async (page) => {
  await openTab(page, 'usage');
  const chart = byTestId(page, 'usage-chart');
  await chart.waitFor();
  await byTestId(page, 'usage-department-probe').waitFor();
  await byTestId(page, 'usage-plugin-payment-probe').waitFor();
  await eventually(async () => assert.ok(await chart.locator('svg rect[data-series="probe"]').count() >= 1), 'bars');
  assert.equal(await chart.locator('svg').getAttribute('role'), 'img');
  assert.equal(await byTestId(page, 'usage-to').inputValue(), TODAY);
  await accessible(page, 'usage');
  await screenshot(page, 'usage');
  // One day only: today.
  await byTestId(page, 'usage-from').fill(TODAY);
  await byTestId(page, 'usage-apply').click();
  await eventually(async () => assert.match(await chart.textContent(), new RegExp(`${TODAY} to ${TODAY}`)), 'one day');
});

step('the audit log filters and pages like its API', async (page) => {
  await openTab(page, 'audit');
  await eventually(async () => assert.ok(await byTestId(page, 'audit-row').count() >= 3), 'entries');
  await byTestId(page, 'audit-action').fill('payment-event.redeliver');
  await byTestId(page, 'audit-apply').click();
  await eventually(async () => assert.equal(await byTestId(page, 'audit-row').count(), 1), 'filtered');
  assert.match(await byTestId(page, 'audit-row').textContent(), /admin-1/);
  await byTestId(page, 'audit-action').fill('');
  await byTestId(page, 'audit-apply').click();
  await eventually(async () => assert.ok(await byTestId(page, 'audit-row').count() >= 3), 'unfiltered');
  await accessible(page, 'audit log');
  await screenshot(page, 'audit-log');
});

step('an operator reads every screen but redelivers nothing', async (page) => {
  await byTestId(page, 'signout').click();
  await signIn(page, OPERATOR_TOKEN);
  await openTab(page, 'deliveries');
  await byTestId(page, `delivery-row-${MESSAGE}`).waitFor();
  assert.equal(await page.locator('[data-testid^="delivery-redeliver-"]').count(), 0);
  await page.goto(`${BASE_URL}/admin#orders/${PAID}`);
  await byTestId(page, 'order-detail').waitFor();
  await byTestId(page, 'journal-row').first().waitFor();
  assert.equal(await page.locator('[data-testid^="event-redeliver-"]').count(), 0);
  await byTestId(page, 'signout').click();
});

step('in Chinese, the language the console remembers', async (page) => {
  // The console's own catalogue loader (i18n.js) with Chinese chosen.
  await page.addInitScript(() => { localStorage.setItem('islet_lang', 'zh-CN'); });
  await signIn(page, ADMIN_TOKEN);
  await byTestId(page, 'tab-reconciliation').click();
  await byTestId(page, 'recon-summary').waitFor();
  assert.equal(await byTestId(page, 'tab-reconciliation').textContent(), '对账');
  assert.equal(await byTestId(page, 'view-reconciliation').locator('h1').textContent(), '每日对账');
  assert.match(await byTestId(page, 'recon-summary').textContent(), /时区/);
  await accessible(page, 'reconciliation (zh-CN)');
  await screenshot(page, 'reconciliation-zh-CN');
  for (const tab of ['merchants', 'orders', 'deliveries', 'usage', 'audit']) {
    await openTab(page, tab);
    await page.waitForTimeout(300);
    await accessible(page, `${tab} (zh-CN)`);
    await screenshot(page, `${tab}-zh-CN`);
  }
  assert.match(await byTestId(page, 'view-audit').locator('h1').textContent(), /审计日志/);
});

step('axe-core finds no serious accessibility problem on any screen', async () => {
  assert.deepEqual(axeProblems, []);
});

// ---------------------------------------------------------------- runner

async function main() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'islet-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 900 },
  });
  browser.setDefaultTimeout(TIMEOUT_MS);
  const errors = [];
  const page = await browser.newPage();
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
  page.on('console', (msg) => {
    if (process.env.BROWSER_DEBUG) console.error(`console ${msg.type()}: ${msg.text()}`);
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) {
      errors.push(`${page.url()}: ${msg.text()}`);
    }
  });
  const { passed, failed } = await runSteps(steps, page, errors, {
    screenshotPath: () => join(SCREENSHOT_DIR, 'failed.png'),
  });
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  console.log(`money console: ${passed} of ${steps.length} steps passed; screenshots in ${SCREENSHOT_DIR}`);
  for (const line of axeSummary) console.log(line);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
