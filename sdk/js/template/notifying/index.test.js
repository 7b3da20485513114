// The service through the SDK's TestEnv: it plays the host's consents and
// the Inbox (`env.consentMessages` is a citizen saying yes in the app).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, Request } from '@islet/sdk/testing';
import * as app from '../src/index.js';

const news = (text) => Request.postJson('/api/news', { text });

test('subscribing needs a signed-in citizen and names the template to consent to', () => {
  const env = new TestEnv();
  assert.equal(env.call(app, Request.post('/api/subscription')).status, 401);
  env.asCaller('pw-alice');
  const r = env.call(app, Request.post('/api/subscription'));
  assert.deepEqual(r.bodyJson(), { subscribed: true, consent: { template: app.TEMPLATE } });
});

test('news reaches the subscribers who consented; the others are skipped', () => {
  const env = new TestEnv();
  for (const who of ['pw-alice', 'pw-bob']) {
    env.asCaller(who);
    env.call(app, Request.post('/api/subscription'));
  }
  env.consentMessages('pw-alice', app.TEMPLATE, 1);
  env.asStaff('staff-1');
  const r = env.call(app, news('The pool opens at 8'));
  assert.deepEqual(r.bodyJson(), { sent: 1, skipped: 1 });
  assert.deepEqual(env.sent().map((m) => [m.recipient, m.template, m.params]), [
    ['pw-alice', 'news', [['text', 'The pool opens at 8']]],
  ]);
  // One-time consent: used up by that message.
  assert.deepEqual(env.call(app, news('Again')).bodyJson(), { sent: 0, skipped: 2 });
});

test('only staff post news, and the text is checked', () => {
  const env = new TestEnv();
  env.asCaller('pw-alice');
  assert.equal(env.call(app, news('hi')).status, 403);
  env.asStaff('staff-1');
  assert.equal(env.call(app, news('')).status, 400);
  assert.equal(env.call(app, news('x'.repeat(201))).status, 400);
});

test('unsubscribing stops the messages', () => {
  const env = new TestEnv();
  env.asCaller('pw-alice');
  env.call(app, Request.post('/api/subscription'));
  env.call(app, Request.delete('/api/subscription'));
  env.consentMessages('pw-alice', app.TEMPLATE, 1);
  env.asStaff('staff-1');
  assert.deepEqual(env.call(app, news('hi')).bodyJson(), { sent: 0, skipped: 0 });
});
