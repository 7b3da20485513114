// The service through the SDK's TestEnv: it plays the host's payment
// platform (`env.pay` is the citizen paying in the cashier, `env.deliver`
// the host delivering the event).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, Request } from '@islet/sdk/testing';
import * as app from '../src/index.js';

function citizen() {
  const env = new TestEnv();
  env.grantMerchant(app.MERCHANT).asCaller('pw-alice');
  return env;
}

function create(env) {
  const r = env.call(app, Request.post('/api/fees'));
  assert.equal(r.status, 200, r.bodyText());
  return r.bodyJson();
}

const fees = (env) => env.call(app, Request.get('/api/fees')).bodyJson().fees;

test('anonymous callers cannot pay', () => {
  const env = new TestEnv();
  assert.equal(env.call(app, Request.post('/api/fees')).status, 401);
});

test('a fee is paid only when the paid event arrives, once', () => {
  const env = citizen();
  const created = create(env);
  assert.equal(created.checkout_url, `/pay/${created.order.id}`);
  assert.equal(fees(env)[0].status, 'pending');

  const paid = env.pay(created.order.id);
  assert.equal(env.deliver(app, paid), undefined);
  assert.equal(fees(env)[0].status, 'paid');
  // Delivered again (at least once): nothing changes.
  assert.equal(env.deliver(app, paid, 2), undefined);
  assert.equal(fees(env).length, 1);
});

test('an order that expires unpaid ends the fee', () => {
  const env = citizen();
  const { order } = create(env);
  env.deliver(app, env.expire(order.id));
  assert.equal(fees(env)[0].status, 'expired');
});

test('without the merchant grant the order is refused', () => {
  const env = new TestEnv();
  env.asCaller('pw-bob');
  const r = env.call(app, Request.post('/api/fees'));
  assert.equal(r.status, 403);
  assert.equal(r.errorCode(), 'payment_merchant_not_granted');
});
