// The city app in the citizen's language, in headless Chromium: the app
// shell, the cashier, the consent prompt, the inbox, privacy and the admin
// console, launched with a browser locale (LOCALE=zh-CN or en-US, which sets
// navigator.languages and Accept-Language). Each screen is checked for its
// language (`lang`, texts, dates in the city's zone, money) and with
// axe-core (no serious or critical WCAG 2.1 AA violation); sign-in with an
// expired, a forged and a non-token; a failed list shows the failure and a
// retry, never an empty state; a service taken down while its page is open
// and an unknown service show the friendly page in the frame; the consent
// prompt works by keyboard only; the console works 390 px wide. Run by
// tests/tests/e2e/browser.rs, which prepares the host:
//
//   hello, community-report and water-bill released; water-bill allowed to
//   charge; WATER_ORDER an unpaid water-bill order of the citizen.
//
// Environment: BASE_URL, LOCALE, CITIZEN_TOKEN, CITIZEN_SUB, EXPIRED_TOKEN
// (the citizen's, expired), FORGED_TOKEN (unexpired, bad signature),
// ADMIN_TOKEN, WATER_ORDER, SCREENSHOT_DIR, CHROMIUM.
// Exits non-zero on the first failed step.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { TIMEOUT_MS, byTestId, env, eventually, runAxe, runSteps } from './support.mjs';

const BASE_URL = env('BASE_URL').replace(/\/$/, '');
const LOCALE = env('LOCALE');
const CITIZEN_TOKEN = env('CITIZEN_TOKEN');
const CITIZEN_SUB = env('CITIZEN_SUB');
const EXPIRED_TOKEN = env('EXPIRED_TOKEN');
const FORGED_TOKEN = env('FORGED_TOKEN');
const ADMIN_TOKEN = env('ADMIN_TOKEN');
const WATER_ORDER = env('WATER_ORDER');
const SCREENSHOT_DIR = env('SCREENSHOT_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ZH = LOCALE.startsWith('zh');
/** The page language the app must pick for this browser. */
const LANG = ZH ? 'zh-CN' : 'en';

/** What the screens must say, per language (a few texts of each screen). */
const TEXT = ZH ? {
  welcome: '欢迎 · 尚未登录',
  hello: `您好，${CITIZEN_SUB}`,
  homeHeading: '城市服务',
  waterBill: '水费缴纳',
  utilities: '生活缴费',
  reports: '社区报事',
  notAToken: /这不是登录令牌/,
  pastedExpired: /已经过期/,
  expired: '您的登录已过期，请重新登录。',
  rejected: /您的登录未被接受/,
  inboxEmpty: '暂无消息。',
  ordersHeading: '订单',
  ordersFailed: /您的订单加载失败/,
  retry: '重试',
  consentWhat: '想要向您发送一条消息：“Your report has news”（一次）。',
  privacyHeading: '隐私',
  withdraw: '撤回',
  consentsEmpty: /您还没有允许任何服务/,
  cashierStatus: '待支付',
  zoneName: '中国标准时间',
  payBefore: '支付截止',
  takenDownTitle: '这项服务已暂停',
  missingTitle: '找不到这项服务',
  back: '‹ 返回',
  consoleSignIn: '登录',
  consolePlugins: '插件',
  consoleReview: '审核队列',
  consoleAudit: '审计日志',
  live: '运行中',
  switchTo: 'en',
  switchedHeading: 'City services',
} : {
  welcome: 'Welcome · not signed in',
  hello: `Hello, ${CITIZEN_SUB}`,
  homeHeading: 'City services',
  waterBill: 'Water bill',
  utilities: 'Utilities',
  reports: 'Community reports',
  notAToken: /This is not a sign-in token/,
  pastedExpired: /already expired/,
  expired: 'Your sign-in expired. Please sign in again.',
  rejected: /Your sign-in was not accepted/,
  inboxEmpty: 'No messages yet.',
  ordersHeading: 'Orders',
  ordersFailed: /Your orders could not be loaded/,
  retry: 'Try again',
  consentWhat: 'wants to send you a message: “Your report has news” (once).',
  privacyHeading: 'Privacy',
  withdraw: 'Withdraw',
  consentsEmpty: /You have not allowed any service/,
  cashierStatus: 'Awaiting payment',
  zoneName: 'China Standard Time',
  payBefore: 'Pay before',
  takenDownTitle: 'This service is paused',
  missingTitle: 'This service does not exist',
  back: '‹ Back',
  consoleSignIn: 'Sign in',
  consolePlugins: 'Plugins',
  consoleReview: 'Review queue',
  consoleAudit: 'Audit log',
  live: 'live',
  switchTo: 'zh-CN',
  switchedHeading: '城市服务',
};

const serviceFrame = (shell) => shell.frameLocator('[data-testid="service-frame"]');

/** Poll `check` until it stops throwing. */

async function api(path, { token = ADMIN_TOKEN, method = 'GET', body } = {}) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${BASE_URL}${path}`, init);
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body: parsed };
}

async function screenshot(page, name) {
  // From the top: a sticky bar is drawn where the page was scrolled to.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${LANG}-${name}.png`), fullPage: true });
}

/** Serious or critical accessibility violations axe-core found, by screen. */
const axeProblems = [];
const axeSummary = [];

/** Run axe-core (WCAG 2.1 A and AA) on `page`; the last step checks. */
async function accessible(page, name) {
  const { results, serious } = await runAxe(page);
  for (const v of serious) {
    for (const n of v.nodes) console.log(`  ${v.id}: ${n.target.join(' ')}: ${n.failureSummary}`.replace(/\n/g, ' '));
    for (const n of v.nodes) axeProblems.push(`${name}: ${v.id} (${v.impact}) ${n.target.join(' ')}: ${n.failureSummary}`);
  }
  const line = `axe ${LANG} ${name}: ${results.passes.length} rules pass, ${results.violations.length} violations ` +
    `(${serious.length} serious or critical)`;
  axeSummary.push(line);
  console.log(line);
}

/** One `main` landmark and one visible `h1`, and the page's language. */
async function structure(page, what) {
  const facts = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    mains: document.querySelectorAll('main, [role=main]').length,
    h1s: [...document.querySelectorAll('h1')].filter((el) => el.getClientRects().length > 0).length,
  }));
  assert.deepEqual(facts, { lang: LANG, mains: 1, h1s: 1 }, what);
}

/**
 * The contrast between the focus ring of the focused element and what is
 * around it (the nearest opaque background of its parents), and the ring's
 * width: WCAG 2.2 AA asks at least 3:1 for focus indicators.
 */
async function focusRing(page) {
  return page.evaluate(() => {
    const rgb = (value) => (value.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r, g, b]) => {
      const lin = (c) => { const v = c / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const el = document.activeElement;
    const style = getComputedStyle(el);
    let around = el.parentElement;
    let background = [255, 255, 255];
    while (around) {
      const [r, g, b, a = 1] = rgb(getComputedStyle(around).backgroundColor);
      if (a >= 1) { background = [r, g, b]; break; }
      around = around.parentElement;
    }
    const ring = luminance(rgb(style.outlineColor));
    const back = luminance(background);
    const ratio = (Math.max(ring, back) + 0.05) / (Math.min(ring, back) + 0.05);
    return { ratio: Math.round(ratio * 100) / 100, width: parseFloat(style.outlineWidth), style: style.outlineStyle,
      testid: el.dataset?.testid ?? el.tagName };
  });
}

function assertVisibleRing(ring, what) {
  assert.ok(ring.style !== 'none' && ring.width >= 2 && ring.ratio >= 3, `${what}: ${JSON.stringify(ring)}`);
}

async function text(locator) {
  return (await locator.textContent()).trim();
}

// ----------------------------------------------------------------- steps

const steps = [];
const step = (name, run) => steps.push({ name, run });

step('the shell follows the browser language, signed out', async (shell) => {
  await shell.goto(`${BASE_URL}/#home`);
  await byTestId(shell, `tile-water-bill`).waitFor();
  await structure(shell, 'shell home');
  assert.equal(await text(byTestId(shell, 'greeting')), TEXT.welcome);
  assert.equal(await text(shell.locator('#screen-home h1')), TEXT.homeHeading);
  assert.match(await text(byTestId(shell, 'tile-water-bill')), new RegExp(TEXT.waterBill));
  assert.match(await text(byTestId(shell, 'tile-community-report')), new RegExp(TEXT.reports));
  // Categories in the language; no message over a working list.
  assert.ok(await shell.locator('.row-title', { hasText: TEXT.utilities }).count() === 1);
  assert.equal(await byTestId(shell, 'home-message').isHidden(), true);
  // The font stack names Chinese fonts for Simplified Chinese.
  const font = await shell.evaluate(() => getComputedStyle(document.body).fontFamily);
  if (ZH) assert.match(font, /PingFang SC.*Noto Sans CJK SC/, font);
  await accessible(shell, 'shell home (signed out)');
  await screenshot(shell, 'app-shell-signed-out');
});

step('a pasted non-token and an expired token are refused with a message', async (shell) => {
  await shell.goto(`${BASE_URL}/#me`);
  await byTestId(shell, 'me-token').fill('hello, this is my password');
  await byTestId(shell, 'me-signin').click();
  const error = byTestId(shell, 'me-token-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await text(error), TEXT.notAToken);
  assert.equal(await shell.evaluate(() => localStorage.getItem('islet_token')), null, 'not stored');
  assert.equal(await byTestId(shell, 'me-token').getAttribute('aria-invalid'), 'true');
  await accessible(shell, 'sign-in refusing a non-token');
  await screenshot(shell, 'app-sign-in-not-a-token');
  await byTestId(shell, 'me-token').fill(EXPIRED_TOKEN);
  await byTestId(shell, 'me-signin').click();
  await eventually(async () => assert.match(await text(error), TEXT.pastedExpired), 'expired refused');
  assert.equal(await shell.evaluate(() => localStorage.getItem('islet_token')), null, 'not stored');
});

step('an expired token in storage is cleared on load, with the reason', async (shell) => {
  await shell.goto(`${BASE_URL}/#home`);
  await shell.evaluate((t) => localStorage.setItem('islet_token', t), EXPIRED_TOKEN);
  await shell.reload();
  const reason = byTestId(shell, 'me-reason');
  await reason.waitFor({ state: 'visible' });
  assert.equal(await text(reason), TEXT.expired);
  await byTestId(shell, 'me-form').waitFor({ state: 'visible' });
  assert.equal(await shell.evaluate(() => localStorage.getItem('islet_token')), null, 'cleared');
  assert.equal(await text(byTestId(shell, 'greeting')), TEXT.welcome, 'nobody is greeted');
  await accessible(shell, 'sign-in after expiry');
  await screenshot(shell, 'app-sign-in-expired');
});

step('a token the host refuses (401) signs the citizen out, with the reason', async (shell) => {
  await shell.goto(`${BASE_URL}/#home`);
  await shell.evaluate((t) => localStorage.setItem('islet_token', t), FORGED_TOKEN);
  await shell.reload();
  // Well-formed and not expired: the shell cannot tell until the host answers.
  await eventually(async () => assert.equal(await text(byTestId(shell, 'greeting')), TEXT.hello), 'greeted');
  await byTestId(shell, 'nav-orders').click();
  const reason = byTestId(shell, 'me-reason');
  await reason.waitFor({ state: 'visible' });
  assert.match(await text(reason), TEXT.rejected);
  assert.equal(await shell.evaluate(() => localStorage.getItem('islet_token')), null, 'cleared');
  // No screen pretends the citizen has no orders.
  assert.equal(await byTestId(shell, 'orders-empty').isHidden(), true);
});

step('sign in; home, inbox, orders and privacy speak the language', async (shell) => {
  await shell.goto(`${BASE_URL}/#me`);
  await byTestId(shell, 'me-token').fill(CITIZEN_TOKEN);
  await byTestId(shell, 'me-signin').click();
  await byTestId(shell, 'screen-home').waitFor({ state: 'visible' });
  assert.equal(await text(byTestId(shell, 'greeting')), TEXT.hello);
  await accessible(shell, 'shell home');
  await screenshot(shell, 'app-shell');
  await byTestId(shell, 'nav-inbox').click();
  await byTestId(shell, 'inbox-empty').waitFor({ state: 'visible' });
  assert.equal(await text(byTestId(shell, 'inbox-empty').locator('strong')), TEXT.inboxEmpty);
  await structure(shell, 'inbox');
  await accessible(shell, 'inbox');
  await screenshot(shell, 'app-inbox');
  await byTestId(shell, 'nav-orders').click();
  const row = byTestId(shell, 'order-row').first();
  await row.waitFor();
  assert.equal(await text(shell.locator('#screen-orders h1')), TEXT.ordersHeading);
  // Money in yuan, the date in the city's zone, in the page language.
  assert.equal(await text(byTestId(row, 'order-amount')), '¥42.68');
  assert.equal(await text(byTestId(row, 'order-service')), TEXT.waterBill);
  const date = await text(byTestId(row, 'order-date'));
  assert.match(date, ZH ? /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}/ : /^\d{2}\/\d{2}\/\d{4}, \d{2}:\d{2}/, date);
  await accessible(shell, 'orders');
  await screenshot(shell, 'app-orders');
  await byTestId(shell, 'nav-me').click();
  await byTestId(shell, 'privacy').waitFor({ state: 'visible' });
  await byTestId(shell, 'consents-empty').waitFor({ state: 'visible' });
  assert.match(await text(byTestId(shell, 'consents-empty')), TEXT.consentsEmpty);
  assert.equal(await text(shell.locator('#privacy h2')), TEXT.privacyHeading);
  await accessible(shell, 'me and privacy');
  await screenshot(shell, 'app-privacy-empty');
});

step('a list that failed shows the failure and a retry, never an empty state', async (shell) => {
  let failing = true;
  await shell.route('**/api/v1/orders?*', (route) => (failing
    ? route.fulfill({
      status: 503, contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'store_unavailable', message: 'the store is unavailable; try again shortly' } }),
    })
    : route.continue()));
  await byTestId(shell, 'nav-home').click();
  await byTestId(shell, 'nav-orders').click();
  const message = byTestId(shell, 'orders-message');
  await eventually(async () => assert.match(await text(message), TEXT.ordersFailed), 'failure shown');
  assert.equal(await byTestId(shell, 'orders-empty').isHidden(), true, 'no false empty state');
  const retry = byTestId(shell, 'orders-message-retry');
  assert.equal(await text(retry), TEXT.retry);
  await accessible(shell, 'orders failed');
  await screenshot(shell, 'app-orders-failed');
  failing = false;
  await retry.click();
  await byTestId(shell, 'order-row').first().waitFor();
  assert.equal(await message.isHidden(), true);
  await shell.unroute('**/api/v1/orders?*');
  // The privacy lists too.
  await shell.route('**/api/v1/consents', (route) => route.fulfill({
    status: 500, contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'internal_error', message: 'the host failed' } }),
  }));
  await byTestId(shell, 'nav-me').click();
  await byTestId(shell, 'privacy-message-retry').waitFor({ state: 'visible' });
  assert.equal(await byTestId(shell, 'consents-empty').isHidden(), true, 'no false "you allowed nothing"');
  assert.equal(await byTestId(shell, 'access-empty').isHidden(), true);
  await shell.unroute('**/api/v1/consents');
  await byTestId(shell, 'privacy-message-retry').click();
  await byTestId(shell, 'consents-empty').waitFor({ state: 'visible' });
});

step('the consent prompt works by keyboard only', async (shell) => {
  await shell.goto(`${BASE_URL}/#home`);
  await byTestId(shell, 'tile-community-report').click();
  await byTestId(shell, 'service').waitFor({ state: 'visible' });
  assert.equal(await text(byTestId(shell, 'service-title')), TEXT.reports);
  assert.equal(await text(byTestId(shell, 'back')), TEXT.back);
  const frame = serviceFrame(shell);
  await frame.locator('#signin').waitFor({ state: 'hidden' });
  const sheet = byTestId(shell, 'consent-sheet');
  const report = async (what) => {
    await frame.locator('#description').fill(what);
    await frame.locator('#location').fill('Lane 5');
    await frame.locator('#report-form button[type=submit]').click();
    await byTestId(frame, 'notify-prompt').waitFor({ state: 'visible' });
    await byTestId(frame, 'notify-yes').click();
    await sheet.waitFor({ state: 'visible' });
  };
  const focused = () => shell.evaluate(() => document.activeElement?.dataset?.testid ?? document.activeElement?.tagName);
  await report('Lamp 7 is out');
  assert.equal(await text(byTestId(sheet, 'consent-what')), TEXT.consentWhat);
  // The dialog takes focus and keeps Tab inside.
  await eventually(async () => assert.equal(await focused(), 'consent-deny'), 'focus in the dialog');
  await shell.keyboard.press('Tab');
  assert.equal(await focused(), 'consent-allow');
  await shell.keyboard.press('Tab');
  assert.equal(await focused(), 'consent-deny', 'Tab wraps inside the dialog');
  await shell.keyboard.press('Shift+Tab');
  assert.equal(await focused(), 'consent-allow', 'Shift+Tab wraps too');
  // The focus ring stands out from the white sheet (3:1 at least).
  assertVisibleRing(await focusRing(shell), 'Allow');
  await shell.keyboard.press('Tab');
  assertVisibleRing(await focusRing(shell), 'Not now');
  await shell.keyboard.press('Tab');
  await accessible(shell, 'consent prompt');
  await screenshot(shell, 'consent-prompt');
  // Escape says no and gives focus back to the service page.
  await shell.keyboard.press('Escape');
  await sheet.waitFor({ state: 'hidden' });
  assert.equal(await focused(), 'service-frame', 'focus returns to the page');
  assert.deepEqual((await api('/api/v1/consents', { token: CITIZEN_TOKEN })).body.consents, [], 'nothing given');
  // Again: Tab to Allow, Enter.
  await report('Lamp 8 is out');
  await eventually(async () => assert.equal(await focused(), 'consent-deny'), 'focus in the dialog again');
  await shell.keyboard.press('Tab');
  await shell.keyboard.press('Enter');
  await sheet.waitFor({ state: 'hidden' });
  await eventually(async () => {
    const { body } = await api('/api/v1/consents', { token: CITIZEN_TOKEN });
    assert.equal(body.consents.length, 1, JSON.stringify(body));
    assert.equal(body.consents[0].template, 'report-status');
  }, 'consent given by keyboard');
  // Me → Privacy lists it, in the language.
  await byTestId(shell, 'back').click();
  await shell.goto(`${BASE_URL}/#me`);
  await byTestId(shell, 'consent-row').first().waitFor();
  assert.equal(await text(byTestId(byTestId(shell, 'consent-row').first(), 'consent-withdraw')), TEXT.withdraw);
  await accessible(shell, 'privacy with a consent');
  await screenshot(shell, 'app-privacy');
});

step('a service taken down while its page is open shows the friendly page', async (shell) => {
  await shell.goto(`${BASE_URL}/#home`);
  await byTestId(shell, 'tile-hello').click();
  await byTestId(shell, 'service').waitFor({ state: 'visible' });
  const inFrame = () => shell.frames().find((f) => f.url().includes('/p/hello/'));
  await eventually(async () => assert.ok(inFrame(), 'hello loaded'), 'hello in the frame');
  const down = await api('/admin/v1/plugins/hello/take-down', { method: 'POST' });
  assert.equal(down.status, 200, JSON.stringify(down.body));
  try {
    await inFrame().evaluate(() => location.reload());
    const page = serviceFrame(shell).locator('[data-testid="service-error"]');
    await page.waitFor();
    assert.equal(await page.getAttribute('data-code'), 'plugin_disabled');
    assert.equal(await text(page.locator('h1')), TEXT.takenDownTitle);
    assert.equal(await serviceFrame(shell).locator('html').getAttribute('lang'), LANG);
    assert.match(await text(page.locator('[data-testid="service-error-back"]')), new RegExp(TEXT.back));
    await accessible(shell, 'service taken down');
    await screenshot(shell, 'service-taken-down');
    // The way back works.
    await byTestId(shell, 'back').click();
    await byTestId(shell, 'screen-home').waitFor({ state: 'visible' });
  } finally {
    const up = await api('/admin/v1/plugins/hello/put-back', { method: 'POST' });
    assert.equal(up.status, 200, JSON.stringify(up.body));
  }
  // An unknown service.
  await shell.goto(`${BASE_URL}/#open/no-such-service`);
  const missing = serviceFrame(shell).locator('[data-testid="service-error"]');
  await missing.waitFor();
  assert.equal(await missing.getAttribute('data-code'), 'plugin_not_found');
  assert.equal(await text(missing.locator('h1')), TEXT.missingTitle);
  await screenshot(shell, 'service-unknown');
  await byTestId(shell, 'back').click();
});

step('the cashier shows the order in the language, "Pay before" with the zone', async (shell) => {
  await shell.goto(`${BASE_URL}/pay/${encodeURIComponent(WATER_ORDER)}`);
  await byTestId(shell, 'cashier-pay').waitFor({ state: 'visible' });
  await structure(shell, 'cashier');
  assert.equal(await text(byTestId(shell, 'cashier-status')), TEXT.cashierStatus);
  assert.equal(await text(byTestId(shell, 'cashier-amount')), '¥42.68');
  await eventually(async () => assert.equal(await text(byTestId(shell, 'cashier-service')), TEXT.waterBill), 'service name');
  const expires = await text(byTestId(shell, 'cashier-expires'));
  assert.ok(expires.includes(TEXT.zoneName), expires);
  assert.ok(await shell.locator('dt', { hasText: TEXT.payBefore }).count() === 1);
  await accessible(shell, 'cashier');
  await screenshot(shell, 'cashier');
});

step('the console speaks the language; every tab passes axe', async (shell) => {
  await shell.goto(`${BASE_URL}/admin`);
  await byTestId(shell, 'signin').waitFor({ state: 'visible' });
  await structure(shell, 'console sign-in');
  assert.equal(await text(byTestId(shell, 'signin').locator('h1')), TEXT.consoleSignIn);
  await accessible(shell, 'console sign-in');
  await byTestId(shell, 'signin-token').focus();
  assertVisibleRing(await focusRing(shell), 'console token field');
  await byTestId(shell, 'language').focus();
  assertVisibleRing(await focusRing(shell), 'language picker on the dark top bar');
  await byTestId(shell, 'signin-token').fill('not a token at all');
  await byTestId(shell, 'signin-submit').click();
  await byTestId(shell, 'signin-reason').waitFor({ state: 'visible' });
  assert.equal(await shell.evaluate(() => sessionStorage.getItem('islet_admin_token')), null);
  await byTestId(shell, 'signin-token').fill(ADMIN_TOKEN);
  await byTestId(shell, 'signin-submit').click();
  await byTestId(shell, 'plugin-row-water-bill').waitFor();
  assert.equal(await byTestId(shell, 'signin-reason').isHidden(), true);
  await structure(shell, 'console plugins');
  assert.equal(await text(shell.locator('#view-plugins h1')), TEXT.consolePlugins);
  assert.equal(await text(byTestId(byTestId(shell, 'plugin-row-water-bill'), 'availability')), TEXT.live);
  assert.equal(await text(byTestId(shell, 'plugin-open-water-bill')), TEXT.waterBill);
  await byTestId(shell, 'plugin-open-water-bill').click();
  await byTestId(shell, 'plugin-detail').waitFor();
  await accessible(shell, 'console plugins');
  await screenshot(shell, 'console');
  await byTestId(shell, 'tab-review').click();
  await byTestId(shell, 'view-review').waitFor({ state: 'visible' });
  assert.equal(await text(shell.locator('#view-review h1')), TEXT.consoleReview);
  // The reviewer sees the catalog texts in every language the manifest gives.
  const names = byTestId(byTestId(shell, 'review-water-bill-0.2.0'), 'review-names');
  assert.match(await text(names.locator('[data-language="zh-CN"]')), /水费缴纳/);
  assert.match(await text(names.locator('[data-language="en"]')), /Water bill/);
  await screenshot(shell, 'console-review');
  await structure(shell, 'console review');
  await accessible(shell, 'console review queue');
  await byTestId(shell, 'tab-audit').click();
  await byTestId(shell, 'view-audit').waitFor({ state: 'visible' });
  assert.equal(await text(shell.locator('#view-audit h1')), TEXT.consoleAudit);
  await byTestId(shell, 'audit-row').first().waitFor();
  await accessible(shell, 'console audit log');
  await screenshot(shell, 'console-audit');
});

step('the console works 390 px wide: the top bar wraps, tables scroll in their card', async (shell) => {
  await shell.setViewportSize({ width: 390, height: 844 });
  await shell.goto(`${BASE_URL}/admin#plugins/water-bill`);
  await byTestId(shell, 'plugin-detail').waitFor();
  const layout = await shell.evaluate(() => {
    const wraps = [...document.querySelectorAll('.table-wrap')].map((w) => ({
      scrolls: w.scrollWidth > w.clientWidth, inside: w.getBoundingClientRect().right <= window.innerWidth + 1,
    }));
    // The elements sticking out, to say what overflows.
    const over = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
      .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}.${e.className}`);
    return {
      over,
      pageWidth: document.documentElement.scrollWidth,
      topbarRight: Math.max(...[...document.querySelectorAll('.topbar > *')].map((e) => e.getBoundingClientRect().right)),
      wraps,
    };
  });
  assert.ok(layout.pageWidth <= 390, `the page scrolls sideways: ${JSON.stringify(layout)}`);
  assert.ok(layout.topbarRight <= 390, `the top bar overflows: ${JSON.stringify(layout)}`);
  assert.ok(layout.wraps.length > 0 && layout.wraps.every((w) => w.inside), JSON.stringify(layout));
  assert.ok(layout.wraps.some((w) => w.scrolls), `a wide table scrolls in its card: ${JSON.stringify(layout)}`);
  await accessible(shell, 'console at 390 px');
  await screenshot(shell, 'console-phone');
  await shell.evaluate(() => sessionStorage.clear());
  await shell.setViewportSize({ width: 1000, height: 940 });
});

step('the language can be switched and is remembered', async (shell) => {
  await shell.goto(`${BASE_URL}/#me`);
  const picker = byTestId(shell, 'language');
  await picker.waitFor();
  await Promise.all([shell.waitForEvent('load'), picker.selectOption(TEXT.switchTo)]);
  // The page's static text is English until the catalogue is applied, so
  // the heading alone proves nothing: the document's language must follow.
  const speaks = async () => {
    assert.equal(await shell.evaluate(() => document.documentElement.lang), TEXT.switchTo);
    assert.equal(await text(shell.locator('#screen-home h1')), TEXT.switchedHeading);
  };
  await eventually(speaks, 'switched');
  await shell.reload();
  await eventually(speaks, 'remembered');
  // The catalog follows the pick, too.
  await shell.goto(`${BASE_URL}/#home`);
  await eventually(async () => assert.match(await text(byTestId(shell, 'tile-water-bill')),
    new RegExp(ZH ? 'Water bill' : '水费缴纳')), 'tiles in the picked language');
  await shell.evaluate(() => localStorage.removeItem('islet_lang'));
  await shell.context().clearCookies();
});

step('axe-core finds no serious accessibility problem on any screen', async () => {
  assert.deepEqual(axeProblems, []);
});

// ------------------------------------------------------------------ main

async function main() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'islet-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale: LOCALE,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', `--lang=${LOCALE}`],
    viewport: { width: 1000, height: 940 },
  });
  browser.setDefaultTimeout(TIMEOUT_MS);
  const shell = await browser.newPage();
  shell.on('dialog', (dialog) => dialog.accept());
  const errors = [];
  shell.on('pageerror', (err) => errors.push(`${shell.url()}: ${err.message}`));
  if (process.env.BROWSER_DEBUG) shell.on('console', (msg) => console.error(`console ${msg.type()}: ${msg.text()}`));
  const { passed, failed } = await runSteps(steps, shell, errors, {
    screenshotPath: () => join(SCREENSHOT_DIR, `${LANG}-failed.png`),
  });
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  for (const line of axeSummary) console.log(line);
  console.log(`i18n (${LOCALE}): ${passed} of ${steps.length} steps passed`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
