import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { Router, Request, identity, storage, log, payment, notification, DataItem, StorageError, PaymentError } from '../src/index.js';
import { TestEnv, TEST_PURPOSE } from '../src/testing/index.js';

test('storage: set/get, compare-and-swap, increment, list pages, quota', () => {
  const env = new TestEnv();
  env.run(() => {
    storage.set('a', 'one');
    assert.equal(storage.getText('a'), 'one');
    assert.throws(() => storage.compareAndSwap('a', 'two', 'three'), (e) => e instanceof StorageError && e.kind === 'conflict' && e.status === 409);
    storage.compareAndSwap('a', 'one', 'two');
    assert.equal(storage.getText('a'), 'two');
    storage.compareAndSwap('b', undefined, 'new');
    storage.compareAndSwap('b', 'new', undefined);
    assert.equal(storage.get('b'), undefined);
    assert.equal(storage.increment('n', 5), 5);
    assert.equal(storage.increment('n', -2), 3);
    assert.throws(() => storage.increment('a', 1), (e) => e.kind === 'not-a-number');
    for (const k of ['k/1', 'k/2', 'k/3']) storage.set(k, '');
    const p1 = storage.listKeys('k/', undefined, 2);
    assert.deepEqual(p1.keys, ['k/1', 'k/2']);
    assert.deepEqual(storage.listKeys('k/', p1.nextCursor, 2), { keys: ['k/3'], nextCursor: undefined });
    assert.equal(storage.delete('k/1'), true);
    assert.equal(storage.delete('k/1'), false);
    assert.deepEqual(storage.updateJson('j', 3, (v) => (v ?? 0) + 1), 1);
    assert.equal(storage.getJson('j'), 1);
    assert.throws(() => storage.set('', 'x'), (e) => e.kind === 'key-too-large');
  });
  env.setStorageQuota(env.storageUsage());
  const r = env.call(new Router().post('/x', () => storage.set('big', 'x'.repeat(10))), Request.post('/x'));
  assert.equal(r.status, 507);
  assert.equal(r.errorCode(), 'storage_quota_exceeded');
  env.setStorageUnavailable('down');
  assert.throws(() => env.run(() => storage.get('a')), (e) => e.status === 503 && e.code === 'storage_unavailable');
});

test('identity: callers, staff, claims with consent prompts', () => {
  const env = new TestEnv();
  const router = new Router()
    .get('/me', () => identity.requireCaller().subject)
    .get('/staff', () => identity.requireRole('staff').subject)
    .get('/name', () => ({ name: identity.claim(DataItem.RealName) }));
  assert.equal(env.call(router, Request.get('/me')).status, 401);
  env.asCaller('alice');
  assert.equal(env.call(router, Request.get('/me')).bodyText(), 'alice');
  assert.equal(env.call(router, Request.get('/staff')).status, 403);
  const prompt = env.call(router, Request.get('/name'));
  assert.equal(prompt.status, 403);
  assert.deepEqual(prompt.bodyJson().error.consent, { item: 'real-name', purpose: TEST_PURPOSE });
  assert.equal(prompt.errorCode(), 'claim_no_consent');
  env.allowClaim(DataItem.RealName).setClaim(DataItem.RealName, '李雷');
  assert.deepEqual(env.call(router, Request.get('/name')).bodyJson(), { name: '李雷' });
  env.failClaim(DataItem.RealName, 'not-granted');
  assert.equal(env.call(router, Request.get('/name')).errorCode(), 'claim_not_granted');
  env.asStaff('bob');
  assert.equal(env.call(router, Request.get('/staff')).bodyText(), 'bob');
  assert.equal(env.run(() => identity.currentCaller().isStaff()), true);
  assert.equal(env.run(() => identity.departmentSubject()), 'dept-bob');
});

test('log lines are captured', () => {
  const env = new TestEnv();
  env.run(() => {
    log.info('hello');
    log.warn('careful');
  });
  assert.deepEqual(env.logs(), [{ level: 'info', message: 'hello' }, { level: 'warn', message: 'careful' }]);
});

test('payment: create idempotently, pay, deliver, refund, close, errors', () => {
  const env = new TestEnv();
  const seen = [];
  const app = {
    router: new Router().post('/pay', () => {
      const o = payment.createOrder({ merchant: 'water-supply', amountFen: 4268, description: '水费 2026-10', orderKey: 'bill-1' });
      return { id: o.id, checkout: o.checkoutUrl };
    }),
    onPayment(event) {
      if (event.kind === 'paid' && event.attempt === 1) seen.push(event.order.id);
      if (event.attempt === 9) return 'try again';
    },
  };
  assert.equal(env.call(app, Request.post('/pay')).errorCode(), 'payment_no_citizen');
  env.asCaller('alice');
  assert.equal(env.call(app, Request.post('/pay')).errorCode(), 'payment_merchant_not_granted');
  env.grantMerchant('water-supply');
  assert.deepEqual(env.call(app, Request.post('/pay')).bodyJson(), { id: 'o1', checkout: '/pay/o1' });
  assert.deepEqual(env.call(app, Request.post('/pay')).bodyJson(), { id: 'o1', checkout: '/pay/o1' });
  const paid = env.pay('o1');
  assert.equal(paid.kind, 'paid');
  assert.equal(paid.amountFen, 4268);
  assert.equal(env.deliver(app, paid), undefined);
  assert.deepEqual(seen, ['o1']);
  assert.equal(env.deliver(app, paid, 9), 'try again');
  env.run(() => {
    assert.equal(payment.findOrder('bill-1').status, 'paid');
    assert.throws(() => payment.closeOrder('o1'), (e) => e instanceof PaymentError && e.kind === 'invalid-state');
    const r = payment.refund('o1', 1000, '多收', 'r1');
    assert.equal(r.status, 'partially-refunded');
    assert.equal(payment.refund('o1', 1000, '多收', 'r1').refundedFen, 1000);
    assert.throws(() => payment.refund('o1', 1, '多收', 'r1'), (e) => e.kind === 'key-reused');
    assert.throws(() => payment.refund('o1', 999999, '多收', 'r2'), (e) => e.kind === 'invalid-amount');
    assert.throws(() => payment.getOrder('nope'), (e) => e.status === 404 && e.code === 'payment_not_found');
    assert.throws(() => payment.createOrder({ merchant: 'water-supply', amountFen: 0, description: 'x', orderKey: 'k2' }), (e) => e.kind === 'invalid-amount');
    assert.throws(() => payment.createOrder({ merchant: 'water-supply', amountFen: 1, description: 'x', orderKey: 'bad key' }), (e) => e.kind === 'invalid-argument');
    const o2 = payment.createOrder({ merchant: 'water-supply', amountFen: 5, description: 'x', orderKey: 'k3', kind: { type: 'non-tax', code: 'FS-01' } });
    assert.deepEqual(o2.kind, { type: 'non-tax', code: 'FS-01' });
    assert.equal(payment.closeOrder(o2.id).status, 'closed');
  });
  assert.deepEqual(env.paymentEvents().map((e) => e.kind), ['paid', 'refunded', 'closed']);
  env.setPaymentUnavailable('down');
  assert.equal(env.call(app, Request.post('/pay')).status, 503);
});

test('notification: consent per template is used up; errors map to statuses', () => {
  const env = new TestEnv();
  const router = new Router().post('/ready', () => {
    const c = identity.requireCaller();
    return { id: notification.send(c.subject, 'status', { case: '12' }, '/cases/12') };
  });
  env.asCaller('alice');
  const none = env.call(router, Request.post('/ready'));
  assert.equal(none.status, 409);
  assert.equal(none.errorCode(), 'notification_no_consent');
  env.consentMessages('alice', 'status', 1);
  assert.deepEqual(env.call(router, Request.post('/ready')).bodyJson(), { id: 'm1' });
  assert.equal(env.consentsLeft('alice', 'status'), 0);
  assert.deepEqual(env.sent(), [{ id: 'm1', recipient: 'alice', template: 'status', params: [['case', '12']], link: '/cases/12' }]);
  env.consentMessages('alice', 'status', 1).setNotificationUnavailable('down');
  assert.equal(env.call(router, Request.post('/ready')).status, 503);
});

test("the SDK's WIT copy matches the platform's", { skip: !existsSync(new URL('../../../wit/platform.wit', import.meta.url)) }, () => {
  const ours = readFileSync(new URL('../wit/platform.wit', import.meta.url), 'utf8');
  const theirs = readFileSync(new URL('../../../wit/platform.wit', import.meta.url), 'utf8');
  assert.equal(ours, theirs, 'copy wit/platform.wit to sdk/js/wit/ after changing it');
});
