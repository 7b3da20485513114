// TypeScript declarations for @islet/sdk: write Islet mini-services in JavaScript or TypeScript.

/** A request from the city app, routed to this mini-service. */
export class Request {
  constructor(method: string, target: string, headers?: [string, string][], body?: string | Uint8Array);
  static get(target: string): Request;
  static delete(target: string): Request;
  static post(target: string, body?: string | Uint8Array): Request;
  static put(target: string, body?: string | Uint8Array): Request;
  static postJson(target: string, value: unknown): Request;
  /** Upper-case method. */
  readonly method: string;
  /** The path below the plugin's prefix, starting with `/`. */
  readonly path: string;
  /** The raw query string without `?`. */
  readonly queryString: string;
  /** Lower-case `[name, value]` pairs. */
  readonly headers: [string, string][];
  readonly body: Uint8Array;
  /** Path parameters set by the router. */
  params: Record<string, string>;
  withHeader(name: string, value: string): this;
  param(name: string): string | undefined;
  query(name: string): string | undefined;
  queryAll(name: string): string[];
  queryParams(): [string, string][];
  header(name: string): string | undefined;
  /** The body as UTF-8 text, or undefined. */
  text(): string | undefined;
  /** The body as JSON; throws JsonError (400 `invalid_json`). */
  json<T = unknown>(): T;
}

/** The mini-service's answer. */
export class Response {
  constructor(status?: number, headers?: [string, string][], body?: string | Uint8Array);
  status: number;
  headers: [string, string][];
  body: Uint8Array;
  static json(value: unknown, status?: number): Response;
  static text(body: string, status?: number): Response;
  static html(body: string, status?: number): Response;
  static bytes(contentType: string, body: Uint8Array | string, status?: number): Response;
  static noContent(): Response;
  /** `{"error": {"code", "message"}}` with `status`. */
  static error(status: number, code: string, message: string): Response;
  static badRequest(message: string): Response;
  static unauthorized(): Response;
  static forbidden(message: string): Response;
  static notFound(): Response;
  static methodNotAllowed(allowed: string[]): Response;
  static conflict(message: string): Response;
  static unprocessable(message: string): Response;
  static internalError(message: string): Response;
  withStatus(status: number): this;
  withHeader(name: string, value: string): this;
  appendHeader(name: string, value: string): this;
  withBody(body: string | Uint8Array): this;
  header(name: string): string | undefined;
  bodyText(): string | undefined;
  bodyJson<T = unknown>(): T;
  errorCode(): string | undefined;
}

/** What a handler may return: a Response, text, bytes, a JSON value, or nothing (204). Must be synchronous. */
export type HandlerResult = Response | string | Uint8Array | object | number | boolean | null | undefined;
export type Handler = (request: Request) => HandlerResult;

/** Routes by method and pattern (`{name}` one segment, last `{*name}` the rest); most specific wins. */
export class Router {
  route(method: string | null, pattern: string, handler: Handler): this;
  any(pattern: string, handler: Handler): this;
  get(pattern: string, handler: Handler): this;
  post(pattern: string, handler: Handler): this;
  put(pattern: string, handler: Handler): this;
  patch(pattern: string, handler: Handler): this;
  delete(pattern: string, handler: Handler): this;
  fallback(handler: Handler): this;
  handle(request: Request): Response;
}

/** An error with a status and code; thrown from a handler it becomes that answer. */
export class IsletError extends Error {
  constructor(status: number, code: string, message: string, extra?: object);
  status: number;
  code: string;
  toResponse(): Response;
}
/** `kind`: quota-exceeded (507), key-too-large (500), value-too-large (413), conflict (409), not-a-number (500), unavailable (503), invalid-json (500). */
export class StorageError extends IsletError {
  constructor(kind: string, detail?: string);
  kind: 'quota-exceeded' | 'key-too-large' | 'value-too-large' | 'conflict' | 'not-a-number' | 'unavailable' | 'invalid-json';
}
/** `kind`: no-caller (401), not-declared (500), not-granted (403), no-consent (403, with `consent`), not-available (404). */
export class ClaimError extends IsletError {
  kind: 'no-caller' | 'not-declared' | 'not-granted' | 'no-consent' | 'not-available';
  consent?: { item: DataItemName; purpose: string };
}
/** `kind`: invalid-amount/invalid-argument (400), no-citizen (401), merchant-not-granted (403), not-found (404), key-reused/invalid-state (409), quota-exceeded (429), provider-unavailable (503). */
export class PaymentError extends IsletError {
  kind: 'invalid-amount' | 'merchant-not-granted' | 'key-reused' | 'not-found' | 'invalid-state' | 'provider-unavailable' | 'quota-exceeded' | 'no-citizen' | 'invalid-argument';
  detail?: string;
}
/** `kind`: bad-parameters (400), template-not-approved (403), unknown-recipient (404), no-consent (409), quota-exceeded (429), unavailable (503). */
export class NotifyError extends IsletError {
  kind: 'no-consent' | 'template-not-approved' | 'quota-exceeded' | 'bad-parameters' | 'unknown-recipient' | 'unavailable';
}
/** 400 `invalid_json` or 422 `invalid_body`. */
export class JsonError extends IsletError {
  malformed: boolean;
}

export type DataItemName = 'real-name' | 'national-id' | 'phone' | 'email' | 'legal-person';
export const DataItem: { RealName: 'real-name'; NationalId: 'national-id'; Phone: 'phone'; Email: 'email'; LegalPerson: 'legal-person' };

export interface Caller {
  /** Pairwise pseudonymous subject. */
  subject: string;
  /** 0 unknown … 5 certificate or in person. */
  assuranceLevel: number;
  roles: string[];
  hasRole(role: string): boolean;
  isStaff(): boolean;
}

export namespace identity {
  /** The personal data items (also exported as `DataItem`). */
  const DataItem: { RealName: 'real-name'; NationalId: 'national-id'; Phone: 'phone'; Email: 'email'; LegalPerson: 'legal-person' };
  function currentCaller(): Caller | undefined;
  /** Throws a 401 Response when anonymous. */
  function requireCaller(): Caller;
  /** Throws 401 when anonymous, 403 without the role. */
  function requireRole(role: string): Caller;
  /** Throws ClaimError. */
  function claim(item: DataItemName): string;
  function departmentSubject(): string | undefined;
}

/** Key-value storage private to this mini-service; failures throw StorageError. */
export const storage: {
  get(key: string): Uint8Array | undefined;
  getText(key: string): string | undefined;
  set(key: string, value: string | Uint8Array): void;
  /** Whether the key existed. */
  delete(key: string): boolean;
  del(key: string): boolean;
  listKeys(prefix: string, cursor?: string, limit?: number): { keys: string[]; nextCursor?: string };
  /** Throws StorageError `conflict` when the current value is not `expected` (undefined = absent); `next` undefined deletes. */
  compareAndSwap(key: string, expected: string | Uint8Array | undefined, next: string | Uint8Array | undefined): void;
  increment(key: string, delta?: number | bigint): number;
  getJson<T = unknown>(key: string): T | undefined;
  setJson(key: string, value: unknown): void;
  updateJson<T>(key: string, attempts: number, f: (current: T | undefined) => T): T;
};

export namespace log {
  function write(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string): void;
  function trace(message: string): void;
  function debug(message: string): void;
  function info(message: string): void;
  function warn(message: string): void;
  function error(message: string): void;
}

export type OrderKind = { type: 'service-fee' } | { type: 'non-tax'; code: string };
export type OrderStatus = 'created' | 'paid' | 'partially-refunded' | 'refunded' | 'closed' | 'expired';
export interface Order {
  id: string;
  orderKey: string;
  merchant: string;
  amountFen: number;
  refundedFen: number;
  description: string;
  kind: OrderKind;
  status: OrderStatus;
  payer: string;
  checkoutUrl: string;
  createdAt: number;
  expiresAt: number;
  paidAt?: number;
}
export interface NewOrder {
  merchant: string;
  amountFen: number;
  description: string;
  orderKey: string;
  kind?: OrderKind;
  /** Default 1800. */
  expiresInS?: number;
}
export interface PaymentEvent {
  /** Same on redelivery: handle idempotently. */
  id: string;
  kind: 'paid' | 'closed' | 'expired' | 'refunded';
  order: Order;
  amountFen: number;
  refundKey?: string;
  attempt: number;
}
/** Export as `onPayment` from the service module; throw or return a string to have the event delivered again later. */
export type PaymentHandler = (event: PaymentEvent) => void | string;

export namespace payment {
  function createOrder(order: NewOrder): Order;
  function getOrder(id: string): Order;
  function findOrder(orderKey: string): Order;
  function closeOrder(id: string): Order;
  function refund(id: string, amountFen: number, reason: string, refundKey: string): Order;
}

export namespace notification {
  /** Returns the message id; throws NotifyError. */
  function send(recipient: string, template: string, params?: Record<string, string> | [string, string][], link?: string): string;
}

export const PLATFORM_VERSION: '0.1.0';
