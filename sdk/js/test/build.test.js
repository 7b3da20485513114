import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capabilitiesOf, worldFor, entryFor } from '../src/build.js';

test('the world imports only the declared capabilities', () => {
  const caps = capabilitiesOf('id = "x"\ncapabilities = [\n  "log",\n  "storage",\n]\n[limits]\n');
  assert.deepEqual(caps, ['log', 'storage']);
  const world = worldFor(caps);
  assert.match(world, /import log;/);
  assert.match(world, /import storage;/);
  assert.doesNotMatch(world, /payment/);
  assert.match(worldFor(['payment']), /export payment-events;/);
  const entry = entryFor(['log', 'payment'], '/app.js');
  assert.match(entry, /from 'islet:platform\/log@0\.1\.0'/);
  assert.match(entry, /export const paymentEvents/);
  assert.doesNotMatch(entry, /islet:platform\/storage/);
});
