// TypeScript declarations for @islet/sdk/testing: a fake host for `node --test`.
import type { Router, Request, Response, Order, PaymentEvent, PaymentHandler, DataItemName } from './index.js';
export { Request, Response } from './index.js';

export const DEFAULT_QUOTA_BYTES: number;
export const TEST_PURPOSE: string;

export interface ServiceModule {
  router?: Router | (() => Router);
  default?: Router | (() => Router);
  onPayment?: PaymentHandler;
}

/** The Router a service module exports (`router` or default, or a function returning one). */
export function routerOf(app: Router | ServiceModule): Router;

export class TestEnv {
  constructor();
  signIn(caller: { subject: string; assuranceLevel?: number; roles?: string[] }): this;
  asCaller(subject: string): this;
  asStaff(subject: string): this;
  anonymous(): this;
  call(app: Router | ServiceModule, request: Request): Response;
  run<T>(f: () => T): T;
  stored(key: string): Uint8Array | undefined;
  storedText(key: string): string | undefined;
  storedJson<T = unknown>(key: string): T | undefined;
  put(key: string, value: string | Uint8Array | undefined): this;
  keys(prefix?: string): string[];
  storageUsage(): number;
  setStorageQuota(bytes: number): this;
  setMaxValueBytes(bytes: number): this;
  setStorageUnavailable(message?: string): this;
  logs(): { level: string; message: string }[];
  clearLogs(): this;
  grantMerchant(merchant: string): this;
  setPaymentUnavailable(message?: string): this;
  orders(): Order[];
  order(id: string): Order | undefined;
  paymentEvents(): PaymentEvent[];
  pay(id: string): PaymentEvent;
  expire(id: string): PaymentEvent;
  /** undefined when accepted, else the error message (the host would redeliver). */
  deliver(app: ServiceModule | PaymentHandler, event: PaymentEvent, attempt?: number): string | undefined;
  setClaim(item: DataItemName, value: string): this;
  allowClaim(item: DataItemName): this;
  revokeClaim(item: DataItemName): this;
  failClaim(item: DataItemName, tag?: string): this;
  consentMessages(subject: string, template: string, n: number): this;
  consentsLeft(subject: string, template: string): number;
  sent(): { id: string; recipient: string; template: string; params: [string, string][]; link?: string }[];
  setNotificationUnavailable(message?: string): this;
  /** The WIT-shaped host this env plays (imports for a transpiled component, as in test-component/). */
  backend(): Record<string, unknown>;
}
