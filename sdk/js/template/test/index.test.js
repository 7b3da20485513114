import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, Request } from '@islet/sdk/testing';
import * as app from '../src/index.js';

test('counts a signed-in citizen’s visits', () => {
  const env = new TestEnv();
  assert.equal(env.call(app, Request.post('/api/visits')).status, 401);
  env.asCaller('alice');
  assert.deepEqual(env.call(app, Request.post('/api/visits')).bodyJson(), { visits: 1 });
  assert.equal(env.storedText('visits/alice'), '1');
});
