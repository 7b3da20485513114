// The service through the SDK's TestEnv, which plays the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, Request } from '@islet/sdk/testing';
import * as app from '../src/index.js';

test('anonymous callers are asked to sign in', () => {
  const env = new TestEnv();
  const r = env.call(app, Request.get('/api/hello'));
  assert.equal(r.status, 401);
  assert.equal(r.errorCode(), 'unauthenticated');
});

test('a signed-in citizen is greeted and each visit counted', () => {
  const env = new TestEnv();
  env.asCaller('pw-alice');
  const first = env.call(app, Request.get('/api/hello')).bodyJson();
  assert.deepEqual(first, { message: 'Hello, pw-alice!', visits: 1 });
  assert.equal(env.call(app, Request.get('/api/hello')).bodyJson().visits, 2);
  assert.equal(env.storedText('visits/pw-alice'), '2');
  assert.equal(env.logs().at(-1).message, 'visit 2 of a citizen');
});

test('the page is served to anyone', () => {
  const env = new TestEnv();
  const r = env.call(app, Request.get('/'));
  assert.equal(r.status, 200);
  assert.match(r.bodyText(), /<h1>/);
});
