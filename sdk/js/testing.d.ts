// TypeScript declarations for @islet/sdk/testing: a fake host for `node --test`.
import type { Router, Request, Response, Order, PaymentEvent, PaymentHandler, DataItemName } from './index.js';
export { Request, Response } from './index.js';

/** A fresh TestEnv's storage quota, bytes (10 MiB, the host's default). */
export const DEFAULT_QUOTA_BYTES: number;
/** The purpose a TestEnv puts in a `no-consent` claim error. */
export const TEST_PURPOSE: string;

/** A service module: what `src/index.js` exports. */
export interface ServiceModule {
  router?: Router | (() => Router);
  default?: Router | (() => Router);
  onPayment?: PaymentHandler;
}

/** The Router a service module exports (`router` or default, or a function returning one). @example routerOf(await import('../src/index.js')) */
export function routerOf(app: Router | ServiceModule): Router;

/**
 * Plays the host in `node --test`: the caller, storage with the host's
 * limits, log lines, a payment ledger and cashier, claims and message
 * consents. Each call gets an `x-request-id` (`test-1`, `test-2`, ...).
 *
 * @example
 * import * as app from '../src/index.js';
 * const env = new TestEnv();
 * assert.equal(env.call(app, Request.post('/api/fees')).status, 401);
 * env.grantMerchant('transport-fees').asCaller('alice');
 * const { order } = env.call(app, Request.post('/api/fees')).bodyJson();
 * assert.equal(env.deliver(app, env.pay(order.id)), undefined);
 */
export class TestEnv {
  /** Anonymous caller, empty storage, no logs; installed as the current host. @example const env = new TestEnv(); */
  constructor();
  /** Sign in a caller. @example env.signIn({ subject: 'alice', assuranceLevel: 4, roles: ['inspector'] }) */
  signIn(caller: { subject: string; assuranceLevel?: number; roles?: string[] }): this;
  /** Sign in a citizen. @example env.asCaller('alice') */
  asCaller(subject: string): this;
  /** Sign in department staff (role `staff`). @example env.asStaff('clerk-1') */
  asStaff(subject: string): this;
  /** Make the following calls anonymous. @example env.anonymous() */
  anonymous(): this;
  /** Call a Router or service module as the host does. @example env.call(app, Request.get('/api/card')).bodyJson() */
  call(app: Router | ServiceModule, request: Request): Response;
  /** Run `f` with this env installed (direct capability calls). @example env.run(() => storage.set('k', 'v')) */
  run<T>(f: () => T): T;
  /** A stored value's bytes. @example env.stored('photo/1') */
  stored(key: string): Uint8Array | undefined;
  /** A stored value as text. @example assert.equal(env.storedText('visits/alice'), '2') */
  storedText(key: string): string | undefined;
  /** A stored value as JSON. @example env.storedJson('fees/alice/o1').status */
  storedJson<T = unknown>(key: string): T | undefined;
  /** Seed (or, with undefined, remove) a value, bypassing checks. @example env.put('balance/31000012', '1000') */
  put(key: string, value: string | Uint8Array | undefined): this;
  /** Stored keys with `prefix`, in order. @example assert.deepEqual(env.keys('fees/'), ['fees/alice/o1']) */
  keys(prefix?: string): string[];
  /** Bytes counted against the quota. @example env.storageUsage() */
  storageUsage(): number;
  /** Set the quota. @example env.setStorageQuota(0) // every write: storage_quota_exceeded */
  setStorageQuota(bytes: number): this;
  /** Set the largest value. @example env.setMaxValueBytes(10) */
  setMaxValueBytes(bytes: number): this;
  /** Make storage fail with `unavailable` (or work again without a message). @example env.setStorageUnavailable('maintenance') */
  setStorageUnavailable(message?: string): this;
  /** Captured log lines. @example assert.match(env.logs().at(-1).message, /paid/) */
  logs(): { level: string; message: string }[];
  /** Forget the captured log lines. @example env.clearLogs() */
  clearLogs(): this;
  /** Grant a merchant account to the service. @example env.grantMerchant('transport-fees') */
  grantMerchant(merchant: string): this;
  /** Make payment calls fail with `provider-unavailable`. @example env.setPaymentUnavailable('down') */
  setPaymentUnavailable(message?: string): this;
  /** Every order (ids `o1`, `o2`, ...). @example env.orders().length */
  orders(): Order[];
  /** One order. @example env.order('o1').status */
  order(id: string): Order | undefined;
  /** Every payment event so far. @example env.paymentEvents().map((e) => e.kind) */
  paymentEvents(): PaymentEvent[];
  /** The citizen pays in the cashier: the `paid` event (deliver it). @example env.deliver(app, env.pay('o1')) */
  pay(id: string): PaymentEvent;
  /** The order expires unpaid: the `expired` event. @example env.deliver(app, env.expire('o1')) */
  expire(id: string): PaymentEvent;
  /** Deliver an event to `onPayment`: undefined when accepted, else the error message (the host would redeliver). @example assert.equal(env.deliver(app, paid, 2), undefined) */
  deliver(app: ServiceModule | PaymentHandler, event: PaymentEvent, attempt?: number): string | undefined;
  /** The value `claim(item)` releases once allowed. @example env.setClaim('real-name', 'Li Lei') */
  setClaim(item: DataItemName, value: string): this;
  /** The item is declared, granted and consented to. @example env.allowClaim('real-name') */
  allowClaim(item: DataItemName): this;
  /** Withdraw the consent. @example env.revokeClaim('real-name') */
  revokeClaim(item: DataItemName): this;
  /** Make `claim(item)` fail with `tag` (`not-granted`, ...). @example env.failClaim('phone', 'not-available') */
  failClaim(item: DataItemName, tag?: string): this;
  /** The citizen consents to `n` messages of `template` (Infinity: long-term). @example env.consentMessages('alice', 'news', 1) */
  consentMessages(subject: string, template: string, n: number): this;
  /** Messages of `template` the citizen still allows. @example env.consentsLeft('alice', 'news') */
  consentsLeft(subject: string, template: string): number;
  /** The messages sent. @example env.sent().map((m) => m.recipient) */
  sent(): { id: string; recipient: string; template: string; params: [string, string][]; link?: string }[];
  /** Make `send` fail with `unavailable`. @example env.setNotificationUnavailable('down') */
  setNotificationUnavailable(message?: string): this;
  /** The WIT-shaped host this env plays (imports for a transpiled component, as in test-component/). */
  backend(): Record<string, unknown>;
}
