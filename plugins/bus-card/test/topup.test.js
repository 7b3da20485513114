import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, Request } from '@islet/sdk/testing';
import * as app from '../src/index.js';

function ready() {
  const env = new TestEnv();
  env.grantMerchant('transport-fees').asCaller('alice');
  assert.equal(env.call(app, new Request('PUT', '/api/card', [], JSON.stringify({ number: '31000012' }))).status, 200);
  return env;
}

test('a top-up is credited once when paid, and the citizen is told', () => {
  const env = ready();
  env.consentMessages('alice', 'topup-credited', 1);
  const started = env.call(app, Request.postJson('/api/topups', { amount_fen: 5000 }));
  assert.equal(started.status, 201);
  assert.deepEqual(started.bodyJson(), { order_id: 'o1', checkout_url: '/pay/o1' });
  assert.equal(env.order('o1').merchant, 'transport-fees');
  const paid = env.pay('o1');
  assert.equal(env.deliver(app, paid), undefined);
  assert.equal(env.deliver(app, paid, 2), undefined); // a repeated delivery
  const card = env.call(app, Request.get('/api/card')).bodyJson();
  assert.equal(card.card.balance_fen, 5000);
  assert.equal(card.topups[0].status, 'credited');
  assert.deepEqual(env.sent().map((m) => [m.recipient, m.template, m.params]), [
    ['alice', 'topup-credited', [['card', '31000012'], ['amount', '50.00'], ['balance', '50.00']]],
  ]);
});

test('without consent the card is still credited, with a warning', () => {
  const env = ready();
  env.call(app, Request.postJson('/api/topups', { amount_fen: 1000 }));
  assert.equal(env.deliver(app, env.pay('o1')), undefined);
  assert.equal(env.storedText('balance/31000012'), '1000');
  assert.equal(env.sent().length, 0);
  assert.match(env.logs().at(-1).message, /no message sent \(no-consent\)/);
});

test('an expired top-up credits nothing', () => {
  const env = ready();
  env.call(app, Request.postJson('/api/topups', { amount_fen: 2000 }));
  env.deliver(app, env.expire('o1'));
  const card = env.call(app, Request.get('/api/card')).bodyJson();
  assert.equal(card.card.balance_fen, 0);
  assert.equal(card.topups[0].status, 'expired');
});

test('refusals: anonymous, no card, odd amounts, bad card numbers, merchant not granted', () => {
  const env = new TestEnv();
  assert.equal(env.call(app, Request.get('/api/card')).status, 401);
  env.asCaller('bob');
  assert.equal(env.call(app, Request.postJson('/api/topups', { amount_fen: 1000 })).errorCode(), 'no_card');
  assert.equal(env.call(app, new Request('PUT', '/api/card', [], '{"number":"12ab"}')).errorCode(), 'invalid_card');
  env.call(app, new Request('PUT', '/api/card', [], '{"number":"31000099"}'));
  assert.equal(env.call(app, Request.postJson('/api/topups', { amount_fen: 1 })).errorCode(), 'invalid_amount');
  const refused = env.call(app, Request.postJson('/api/topups', { amount_fen: 1000 }));
  assert.equal(refused.status, 403);
  assert.equal(refused.errorCode(), 'payment_merchant_not_granted');
});

test('the page is served with a strict policy, Chinese first', () => {
  const env = new TestEnv();
  const page = env.call(app, Request.get('/'));
  assert.match(page.header('content-security-policy'), /script-src 'self'/);
  assert.match(page.bodyText(), /<html lang="zh-CN">/);
  assert.match(page.bodyText(), /公交卡充值/);
  assert.equal(env.call(app, Request.get('/page.js')).header('content-type'), 'text/javascript; charset=utf-8');
});
