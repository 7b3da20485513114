// The API reference page (/docs/api) in headless Chromium: it renders every
// operation of /openapi.json grouped by tag, in the browser's language
// (LOCALE=zh-CN: Chinese labels), with no script error or policy
// violation, a working filter, the roles of an admin operation, the host's
// refusals on mini-service routes, and no serious axe-core problem.
// Run by tests/tests/e2e/openapi.rs.
//
// Environment: BASE_URL, LOCALE, OPERATIONS (how many operations the
// description has), SCREENSHOT_DIR, CHROMIUM. Exits non-zero on the first
// failed step.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { TIMEOUT_MS, byTestId, env, eventually, runAxe, runSteps } from './support.mjs';

const BASE_URL = env('BASE_URL').replace(/\/$/, '');
const LOCALE = env('LOCALE');
const OPERATIONS = Number(env('OPERATIONS'));
const SCREENSHOT_DIR = env('SCREENSHOT_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ZH = LOCALE.startsWith('zh');

const steps = [
  {
    name: 'every operation of the description is on the page',
    run: async (page) => {
      await page.goto(`${BASE_URL}/docs/api`);
      await eventually(async () => assert.equal(await byTestId(page, 'api-op').count(), OPERATIONS), 'operations');
      assert.equal(await page.getAttribute('html', 'lang'), ZH ? 'zh-CN' : 'en');
      const groups = await byTestId(page, 'api-group').allInnerTexts();
      assert.ok(groups.length >= 8, `${groups.length} groups`);
      const heading = ZH ? '管理 · 微服务' : 'Admin · mini-services';
      assert.ok(groups.some((g) => g.startsWith(heading)), `no "${heading}" group`);
    },
  },
  {
    name: 'an admin operation shows its roles, parameters and answers',
    run: async (page) => {
      const install = byTestId(page, 'api-op').filter({ hasText: '/admin/v1/plugins/{id}/versions/{version}/{action}' }).first();
      await install.locator('summary').click();
      const text = await install.textContent();
      for (const word of ['admin', 'reviewer', 'developer:{department}', '409', 'Error', 'submit']) {
        assert.ok(text.includes(word), `the card lacks ${word}: ${text}`);
      }
      assert.ok(text.includes(ZH ? '参数' : 'Parameters'), text);
      await install.scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SCREENSHOT_DIR, `api-reference-${LOCALE}-operation.png`) });
    },
  },
  {
    name: 'a mini-service route lists the host\'s own refusals',
    run: async (page) => {
      const route = byTestId(page, 'api-op').filter({ hasText: '/p/{plugin}/{path}' }).first();
      await route.locator('summary').click();
      const text = await route.textContent();
      assert.ok(text.includes(ZH ? '主机自身的拒绝' : "The host's own refusals"), text);
      assert.ok(text.includes('502') && text.includes('429'), text);
    },
  },
  {
    name: 'the filter keeps only matching operations',
    run: async (page) => {
      await byTestId(page, 'api-filter').fill('/api/v1/orders');
      await eventually(async () => {
        const shown = page.locator('[data-testid="api-op"]:visible');
        const count = await shown.count();
        assert.ok(count >= 2 && count < OPERATIONS / 4, `${count} shown`);
        for (const search of await shown.evaluateAll((ops) => ops.map((op) => op.dataset.search))) {
          assert.ok(search.includes('/api/v1/orders'), search);
        }
      }, 'filtered');
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(SCREENSHOT_DIR, `api-reference-${LOCALE}.png`) });
      await byTestId(page, 'api-filter').fill('');
    },
  },
  {
    name: 'axe-core finds no serious accessibility problem',
    run: async (page) => {
      const { serious } = await runAxe(page);
      assert.deepEqual(serious.map((v) => `${v.id}: ${v.help}`), []);
    },
  },
];

async function main() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'islet-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale: LOCALE,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', `--lang=${LOCALE}`],
    viewport: { width: 1100, height: 900 },
  });
  browser.setDefaultTimeout(TIMEOUT_MS);
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
  // Every resource the page loads answers (the browser's own favicon probe aside).
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) {
      errors.push(`${response.status()} ${response.url()}`);
    }
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(`console: ${msg.text()}`);
  });
  const { passed, failed } = await runSteps(steps, page, errors, {
    screenshotPath: () => join(SCREENSHOT_DIR, `api-reference-${LOCALE}-failed.png`),
  });
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  console.log(`api reference (${LOCALE}): ${passed} of ${steps.length} steps passed`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
