/**
 * Test a JS mini-service under `node --test`, without wasm or a host. A
 * TestEnv plays the host like the Rust SDK's TestEnv: who is calling
 * (`asCaller`, `asStaff`, `anonymous`), in-memory storage with quota and
 * limits, captured log lines, a fake payment ledger (`grantMerchant`, `pay`,
 * `expire`, `deliver`), personal data claims (`allowClaim`, `setClaim`) and a
 * fake inbox with per-template consents (`consentMessages`, `sent`).
 *
 *   const env = new TestEnv();
 *   env.asCaller('alice');
 *   const r = env.call(router, Request.post('/count'));
 */
import { install } from '../sys.js';
import { Request } from '../request.js';
import { Response } from '../response.js';
import { serve, deliver as deliverWire, routerOf } from '../guest.js';
import { eventFromWit, orderFromWit } from '../payment-wire.js';
import { MemoryStore, DEFAULT_QUOTA_BYTES } from './store.js';
import { Ledger, witError } from './ledger.js';

export { DEFAULT_QUOTA_BYTES };
/**
 * The purpose a TestEnv puts in a `no-consent` claim error.
 *
 * @example
 * assert.equal(r.bodyJson().error.consent.purpose, TEST_PURPOSE);
 */
export const TEST_PURPOSE = 'testing';
const enc = new TextEncoder();

/**
 * Plays the host in `node --test`: caller, storage, logs, payments, claims,
 * message consents; each call gets an `x-request-id` `test-N`.
 *
 * @example
 * import * as app from '../src/index.js';
 * const env = new TestEnv();
 * env.grantMerchant('transport-fees').asCaller('alice');
 * const { order } = env.call(app, Request.post('/api/fees')).bodyJson();
 * assert.equal(env.deliver(app, env.pay(order.id)), undefined);
 */
export class TestEnv {
  /** A fresh env: anonymous caller, empty storage with a 10 MiB quota, no logs. It becomes the installed host. */
  constructor() {
    this.caller = undefined;
    this.store = new MemoryStore();
    this.logLines = [];
    this.clock = 1_700_000_000;
    this.ledger = new Ledger(() => this.clock);
    this.claims = new Map();
    this.allowed = new Set();
    this.failures = new Map();
    this.consents = new Map();
    this.messages = [];
    this.notifyUnavailable = undefined;
    install(this.backend());
  }

  /**
   * Sign in `caller` `{subject, assuranceLevel?, roles?}`.
   *
   * @example
   * env.signIn({ subject: 'alice', assuranceLevel: 4, roles: ['inspector'] })
   */
  signIn(caller) {
    this.caller = { subject: caller.subject, assuranceLevel: caller.assuranceLevel ?? 3, roles: [...(caller.roles ?? [])] };
    return this;
  }
  /**
   * Sign in a citizen with pairwise subject `subject`.
   *
   * @example
   * env.asCaller('alice')
   */
  asCaller(subject) {
    return this.signIn({ subject });
  }
  /**
   * Sign in `subject` with the `staff` role.
   *
   * @example
   * env.asStaff('clerk-1')
   */
  asStaff(subject) {
    return this.signIn({ subject, roles: ['staff'] });
  }
  /**
   * Make requests anonymous.
   *
   * @example
   * env.anonymous()
   */
  anonymous() {
    this.caller = undefined;
    return this;
  }

  /**
   * Call `app` — a Router, or a service module `{router, onPayment}` — with
   * `request` as the host does (header names lower-cased, `authorization`
   * and `cookie` removed, an `x-request-id` `test-N` added unless set).
   * Returns the Response.
   *
   * @example
   * env.call(app, Request.get('/api/card')).bodyJson()
   */
  call(app, request) {
    install(this.backend());
    const mod = app && typeof app.handle === 'function' ? { router: app } : app;
    const headers = request.headers.filter(([n]) => n !== 'authorization' && n !== 'cookie').map(([name, value]) => ({ name, value }));
    // The host gives every request an id: `test-1`, `test-2`, ...
    this.calls = (this.calls ?? 0) + 1;
    if (!headers.some((h) => h.name === 'x-request-id')) headers.push({ name: 'x-request-id', value: `test-${this.calls}` });
    const wire = serve(mod, { method: request.method, path: request.path, query: request.queryString, headers, body: request.body });
    return new Response(wire.status, wire.headers.map((h) => [h.name, h.value]), wire.body);
  }
  /**
   * Run `f` with this env installed (for direct capability calls in a test).
   *
   * @example
   * env.run(() => storage.set('k', 'v'))
   */
  run(f) {
    install(this.backend());
    return f();
  }

  /**
   * The stored bytes under `key`, or undefined.
   *
   * @example
   * env.stored('photo/1')
   */
  stored(key) {
    return this.store.map.get(key);
  }
  /**
   * The stored text under `key`, or undefined.
   *
   * @example
   * assert.equal(env.storedText('visits/alice'), '2')
   */
  storedText(key) {
    const v = this.stored(key);
    return v === undefined ? undefined : Buffer.from(v).toString('utf8');
  }
  /**
   * The stored JSON under `key`, or undefined.
   *
   * @example
   * env.storedJson('fees/alice/o1').status
   */
  storedJson(key) {
    const t = this.storedText(key);
    return t === undefined ? undefined : JSON.parse(t);
  }
  /**
   * Put (or, with undefined, remove) a value directly, bypassing limits.
   *
   * @example
   * env.put('balance/31000012', '1000')
   */
  put(key, value) {
    if (value === undefined) this.store.map.delete(key);
    else this.store.map.set(key, typeof value === 'string' ? enc.encode(value) : Uint8Array.from(value));
    return this;
  }
  /**
   * Stored keys starting with `prefix`, sorted.
   *
   * @example
   * assert.deepEqual(env.keys('fees/'), ['fees/alice/o1'])
   */
  keys(prefix = '') {
    return [...this.store.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  /**
   * Bytes used (keys + values).
   *
   * @example
   * env.storageUsage()
   */
  storageUsage() {
    return this.store.usage();
  }
  /**
   * Set the storage quota, bytes.
   *
   * @example
   * env.setStorageQuota(0) // every write: storage_quota_exceeded
   */
  setStorageQuota(bytes) {
    this.store.quota = bytes;
    return this;
  }
  /**
   * Set the largest value, bytes.
   *
   * @example
   * env.setMaxValueBytes(10)
   */
  setMaxValueBytes(bytes) {
    this.store.maxValueBytes = bytes;
    return this;
  }
  /**
   * Make storage fail with `unavailable(message)` (undefined restores it).
   *
   * @example
   * env.setStorageUnavailable('maintenance')
   */
  setStorageUnavailable(message) {
    this.store.unavailable = message ?? undefined;
    return this;
  }
  /**
   * Captured log lines `{level, message}`.
   *
   * @example
   * assert.match(env.logs().at(-1).message, /paid/)
   */
  logs() {
    return [...this.logLines];
  }
  /**
   * Forget captured log lines.
   *
   * @example
   * env.clearLogs()
   */
  clearLogs() {
    this.logLines = [];
    return this;
  }

  /**
   * Grant merchant account `merchant` (as an admin would).
   *
   * @example
   * env.grantMerchant('transport-fees')
   */
  grantMerchant(merchant) {
    this.ledger.merchants.add(merchant);
    return this;
  }
  /**
   * Make payment calls fail with `provider-unavailable(message)` (undefined restores them).
   *
   * @example
   * env.setPaymentUnavailable('down')
   */
  setPaymentUnavailable(message) {
    this.ledger.unavailable = message ?? undefined;
    return this;
  }
  /**
   * Every order, as the SDK shows them.
   *
   * @example
   * env.orders().length
   */
  orders() {
    return this.ledger.orders.map(orderFromWit);
  }
  /**
   * The order `id`, or undefined.
   *
   * @example
   * env.order('o1').status
   */
  order(id) {
    const o = this.ledger.orders.find((x) => x.id === id);
    return o ? orderFromWit(o) : undefined;
  }
  /**
   * Every payment event the host would have announced, in order.
   *
   * @example
   * env.paymentEvents().map((e) => e.kind)
   */
  paymentEvents() {
    return this.ledger.events.map(eventFromWit);
  }
  /**
   * The cashier: mark created order `id` paid; returns the `paid` event (deliver it with `deliver`).
   *
   * @example
   * env.deliver(app, env.pay('o1'))
   */
  pay(id) {
    return eventFromWit(this.ledger.pay(id));
  }
  /**
   * The clock: expire created order `id`; returns the `expired` event.
   *
   * @example
   * env.deliver(app, env.expire('o1'))
   */
  expire(id) {
    return eventFromWit(this.ledger.expire(id));
  }
  /**
   * Deliver `event` to `app.onPayment` (`app` is the service module or the
   * handler function) as the host does; returns `undefined` when accepted or
   * the error message when the host would deliver it again. Pass `attempt`
   * to simulate a redelivery.
   *
   * @example
   * assert.equal(env.deliver(app, env.pay('o1')), undefined);
   */
  deliver(app, event, attempt) {
    install(this.backend());
    const mod = typeof app === 'function' ? { onPayment: app } : app;
    const raw = this.ledger.events.find((e) => e.id === event.id);
    if (!raw) throw new Error(`no payment event ${event.id}`);
    try {
      deliverWire(mod, { ...raw, attempt: attempt ?? event.attempt ?? 1 });
      return undefined;
    } catch (e) {
      return typeof e === 'string' ? e : String(e?.message ?? e);
    }
  }

  /**
   * The value identity.claim(item) releases once allowed.
   *
   * @example
   * env.setClaim('real-name', 'Li Lei')
   */
  setClaim(item, value) {
    this.claims.set(item, value);
    return this;
  }
  /**
   * The citizen consents to (and an admin granted) `item`.
   *
   * @example
   * env.allowClaim('real-name')
   */
  allowClaim(item) {
    this.allowed.add(item);
    return this;
  }
  /**
   * Revoke consent to `item`.
   *
   * @example
   * env.revokeClaim('real-name')
   */
  revokeClaim(item) {
    this.allowed.delete(item);
    return this;
  }
  /**
   * Make claim(item) fail with the WIT error `tag` (e.g. `not-granted`); undefined clears it.
   *
   * @example
   * env.failClaim('phone', 'not-available')
   */
  failClaim(item, tag) {
    if (tag === undefined) this.failures.delete(item);
    else this.failures.set(item, tag);
    return this;
  }
  /**
   * `subject` gives `n` one-time consents to messages of `template`.
   *
   * @example
   * env.consentMessages('alice', 'news', 1)
   */
  consentMessages(subject, template, n) {
    this.consents.set(`${subject}\n${template}`, (this.consents.get(`${subject}\n${template}`) ?? 0) + n);
    return this;
  }
  /**
   * Consents `subject` has left for `template`.
   *
   * @example
   * env.consentsLeft('alice', 'news')
   */
  consentsLeft(subject, template) {
    return this.consents.get(`${subject}\n${template}`) ?? 0;
  }
  /**
   * Messages sent `{id, recipient, template, params: [[name, value]], link}`.
   *
   * @example
   * env.sent().map((m) => m.recipient)
   */
  sent() {
    return this.messages.map((m) => ({ ...m, params: m.params.map((p) => [...p]) }));
  }
  /**
   * Make send fail with `unavailable(message)` (undefined restores it).
   *
   * @example
   * env.setNotificationUnavailable('down')
   */
  setNotificationUnavailable(message) {
    this.notifyUnavailable = message ?? undefined;
    return this;
  }

  /**
   * The WIT-shaped host this env plays.
   *
   * @example
   * const imports = { 'islet:platform/storage': env.backend().storage };
   */
  backend() {
    const env = this;
    return {
      identity: {
        currentCaller: () => (env.caller ? { ...env.caller, roles: [...env.caller.roles] } : undefined),
        claim(item) {
          if (!env.caller) throw witError('no-caller');
          if (env.failures.has(item)) throw witError(env.failures.get(item));
          if (!env.allowed.has(item)) throw witError('no-consent', { item, purpose: TEST_PURPOSE });
          if (!env.claims.has(item)) throw witError('not-available');
          return env.claims.get(item);
        },
        departmentSubject: () => (env.caller ? `dept-${env.caller.subject}` : undefined),
      },
      storage: env.store.api(),
      log: { write: (level, message) => env.logLines.push({ level, message }) },
      payment: {
        createOrder: (n) => env.ledger.create(n, env.caller?.subject),
        getOrder: (id) => env.ledger.get(id),
        findOrder: (key) => env.ledger.find(key),
        closeOrder: (id) => env.ledger.close(id),
        refund: (id, amount, reason, key) => env.ledger.refund(id, amount, reason, key),
      },
      notification: {
        send(recipient, template, params, link) {
          if (env.notifyUnavailable !== undefined) throw witError('unavailable', env.notifyUnavailable);
          if (link !== undefined && !link.startsWith('/')) throw witError('bad-parameters', 'the link must be a path inside this mini-service');
          const key = `${recipient}\n${template}`;
          if (!(env.consents.get(key) > 0)) throw witError('no-consent');
          env.consents.set(key, env.consents.get(key) - 1);
          const id = `m${env.messages.length + 1}`;
          env.messages.push({ id, recipient, template, params: params.map((p) => [p.name, p.value]), link });
          return id;
        },
      },
    };
  }
}

export { Request, Response, routerOf };
