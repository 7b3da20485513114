// What the browser test scripts share: their settings from the
// environment, waiting for a condition, finding elements by test id, and
// axe-core runs.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The environment variable `name`, which the Rust test must set. */
export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
};

/** How long a condition may take to come true. */
export const TIMEOUT_MS = 15_000;

/** Retry `check` every 100 ms until it passes or TIMEOUT_MS ran out. */
export async function eventually(check, what) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) {
        err.message = `${what}: ${err.message}`;
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The element(s) in `scope` with `data-testid="id"`. */
export const byTestId = (scope, id) => scope.locator(`[data-testid="${id}"]`);

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Run axe-core (WCAG 2.1 A and AA) on `page`: its results and the
 * violations of serious or critical impact.
 */
export async function runAxe(page) {
  await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  return { results, serious };
}

/**
 * Run `steps` ({name, run}) in order on `page`, each followed by a check
 * that `errors` (the page's uncaught errors, collected by the caller) is
 * empty. Prints `ok - name` / `not ok - name`; on a failure takes a
 * screenshot (`screenshotPath(failed)`) and stops, unless `keepGoing`
 * (then the errors are cleared and the next step runs). Returns the counts.
 */
export async function runSteps(steps, page, errors, { screenshotPath, keepGoing = false } = {}) {
  let failed = 0;
  let passed = 0;
  for (const { name, run } of steps) {
    const t0 = Date.now();
    try {
      await run(page);
      if (errors.length) throw new Error(`uncaught script errors or policy violations: ${errors.join('; ')}`);
      passed += 1;
      console.log(`ok - ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      failed += 1;
      console.log(`not ok - ${name}`);
      console.error(err);
      if (screenshotPath) {
        await page.screenshot({ path: screenshotPath(failed), fullPage: true }).catch(() => {});
      }
      errors.length = 0;
      if (!keepGoing) break;
    }
  }
  return { passed, failed };
}
