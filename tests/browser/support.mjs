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
