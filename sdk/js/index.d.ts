// TypeScript declarations for @islet/sdk: write Islet mini-services in JavaScript or TypeScript.
// Every declaration has an example; `test/exports.test.js` holds them to the runtime exports.

/**
 * A request from the city app, routed to this mini-service. The path is the
 * part below `/p/{id}`; `authorization` and `cookie` never reach a service,
 * and `x-request-id` carries the host's request id.
 *
 * @example
 * router.get('/reports/{id}', (req) => ({ id: req.param('id'), page: req.query('page') ?? '1' }));
 */
export class Request {
  /**
   * `method` and `target` (path with optional `?query`), headers as `[name, value]` pairs, body string or bytes.
   * @example
   * const req = new Request('PUT', '/api/card?x=1', [['content-type', 'application/json']], '{"number":"31000012"}');
   */
  constructor(method: string, target: string, headers?: [string, string][], body?: string | Uint8Array);
  /** A GET request (for tests). @example env.call(app, Request.get('/api/fees')) */
  static get(target: string): Request;
  /** A DELETE request (for tests). @example env.call(app, Request.delete('/api/subscription')) */
  static delete(target: string): Request;
  /** A POST request (for tests). @example env.call(app, Request.post('/api/fees')) */
  static post(target: string, body?: string | Uint8Array): Request;
  /** A PUT request (for tests). @example env.call(app, Request.put('/api/note', 'text')) */
  static put(target: string, body?: string | Uint8Array): Request;
  /** A POST with a JSON body (for tests). @example env.call(app, Request.postJson('/api/news', { text: 'hi' })) */
  static postJson(target: string, value: unknown): Request;
  /** Upper-case method. */
  readonly method: string;
  /** The path below the plugin's prefix, starting with `/`. */
  readonly path: string;
  /** The raw query string without `?`. */
  readonly queryString: string;
  /** Lower-case `[name, value]` pairs. */
  readonly headers: [string, string][];
  /** The raw body. */
  readonly body: Uint8Array;
  /** Path parameters set by the router: `{id: '42'}` for `/reports/{id}`. */
  params: Record<string, string>;
  /** Add a header (for tests). @example Request.get('/').withHeader('accept-language', 'zh-CN') */
  withHeader(name: string, value: string): this;
  /** The path parameter `name` (percent-decoded). @example req.param('id') // '42' for /reports/42 */
  param(name: string): string | undefined;
  /** The first query parameter `name`, decoded. @example req.query('q') // 'x y' for ?q=x%20y */
  query(name: string): string | undefined;
  /** Every value of query parameter `name`. @example req.queryAll('tag') // ['a', 'b'] for ?tag=a&tag=b */
  queryAll(name: string): string[];
  /** All query parameters as decoded pairs. @example req.queryParams() // [['a', '1'], ['b', '2']] */
  queryParams(): [string, string][];
  /** The first header `name` (case-insensitive). @example req.header('x-request-id') */
  header(name: string): string | undefined;
  /** The body as UTF-8 text, or undefined. @example const note = req.text() ?? ''; */
  text(): string | undefined;
  /** The body as JSON; throws JsonError (400 `invalid_json`). @example const { amount_fen } = req.json<{ amount_fen: number }>(); */
  json<T = unknown>(): T;
}

/**
 * The mini-service's answer. Errors use the platform's shape
 * `{"error": {"code", "message", "request_id"}}` (the router adds the request id).
 *
 * @example
 * return Response.json({ id: 7 }, 201).withHeader('cache-control', 'no-store');
 */
export class Response {
  /** An answer with `status` (default 200). @example new Response(204) */
  constructor(status?: number, headers?: [string, string][], body?: string | Uint8Array);
  /** The HTTP status. */
  status: number;
  /** Lower-case `[name, value]` pairs. */
  headers: [string, string][];
  /** The body bytes. */
  body: Uint8Array;
  /** `value` as JSON. @example Response.json({ visits: 3 }) */
  static json(value: unknown, status?: number): Response;
  /** Plain UTF-8 text. @example Response.text('ok') */
  static text(body: string, status?: number): Response;
  /** An HTML page. @example Response.html('<h1>你好</h1>') */
  static html(body: string, status?: number): Response;
  /** Bytes of a content type. @example Response.bytes('text/css; charset=utf-8', CSS) */
  static bytes(contentType: string, body: Uint8Array | string, status?: number): Response;
  /** 204 without a body. @example Response.noContent() */
  static noContent(): Response;
  /** `{"error": {"code", "message"}}` with `status` (the router adds `request_id`). @example Response.error(409, 'already_paid', 'this fee is paid') */
  static error(status: number, code: string, message: string): Response;
  /** 400 `bad_request`. @example Response.badRequest('text must be 1 to 200 characters') */
  static badRequest(message: string): Response;
  /** 401 `unauthenticated`. @example if (!identity.currentCaller()) return Response.unauthorized(); */
  static unauthorized(): Response;
  /** 403 `forbidden`. @example Response.forbidden('staff only') */
  static forbidden(message: string): Response;
  /** 404 `not_found`. @example return storage.getJson(key) ?? Response.notFound(); */
  static notFound(): Response;
  /** 405 `method_not_allowed` with `allow`. @example Response.methodNotAllowed(['GET', 'HEAD']) */
  static methodNotAllowed(allowed: string[]): Response;
  /** 409 `conflict`. @example Response.conflict('already registered') */
  static conflict(message: string): Response;
  /** 422 `invalid_input`. @example Response.unprocessable('amount_fen must be one of 1000, 5000') */
  static unprocessable(message: string): Response;
  /** 500 `internal_error`. @example Response.internalError('the ledger is inconsistent') */
  static internalError(message: string): Response;
  /** Set the status. @example Response.json(card).withStatus(201) */
  withStatus(status: number): this;
  /** Set a header, replacing any of that name. @example res.withHeader('cache-control', 'no-store') */
  withHeader(name: string, value: string): this;
  /** Add a header, keeping others of that name. @example res.appendHeader('link', '</page.css>; rel=preload') */
  appendHeader(name: string, value: string): this;
  /** Replace the body. @example res.withBody('') */
  withBody(body: string | Uint8Array): this;
  /** The first header `name`. @example assert.equal(r.header('content-type'), 'application/json') */
  header(name: string): string | undefined;
  /** The body as text. @example assert.match(r.bodyText(), /<h1>/) */
  bodyText(): string | undefined;
  /** The body as JSON. @example assert.deepEqual(r.bodyJson(), { visits: 1 }) */
  bodyJson<T = unknown>(): T;
  /** The `error.code` of an error answer. @example assert.equal(r.errorCode(), 'unauthenticated') */
  errorCode(): string | undefined;
}

/** What a handler may return: a Response, text, bytes, a JSON value, or nothing (204). Must be synchronous. */
export type HandlerResult = Response | string | Uint8Array | object | number | boolean | null | undefined;
/** A route's handler. */
export type Handler = (request: Request) => HandlerResult;

/**
 * Routes by method and pattern: `{name}` one segment, a last `{*name}` the
 * rest; the most specific wins (literal > parameter > catch-all); HEAD falls
 * back to GET; no match 404 `not_found`, other methods 405 with `allow`.
 *
 * @example
 * export const router = new Router()
 *   .get('/', () => Response.html('<h1>Parking</h1>'))
 *   .get('/api/fees/{id}', (req) => storage.getJson(`fees/${req.param('id')}`) ?? Response.notFound())
 *   .any('/legacy/{*rest}', () => Response.error(410, 'gone', 'use /api'))
 *   .fallback(() => Response.html('<p>Not here</p>').withStatus(404));
 */
export class Router {
  /** A route for `method` (any case; null = every method). @example router.route('OPTIONS', '/api', () => Response.noContent()) */
  route(method: string | null, pattern: string, handler: Handler): this;
  /** A route for every method. @example router.any('/echo', (req) => ({ method: req.method })) */
  any(pattern: string, handler: Handler): this;
  /** A GET route (answers HEAD too). @example router.get('/api/card', () => cardOf(subject)) */
  get(pattern: string, handler: Handler): this;
  /** A POST route. @example router.post('/api/fees', createFee) */
  post(pattern: string, handler: Handler): this;
  /** A PUT route. @example router.put('/api/card', registerCard) */
  put(pattern: string, handler: Handler): this;
  /** A PATCH route. @example router.patch('/api/reports/{id}', update) */
  patch(pattern: string, handler: Handler): this;
  /** A DELETE route. @example router.delete('/api/subscription', unsubscribe) */
  delete(pattern: string, handler: Handler): this;
  /** The answer for paths no pattern matches (instead of 404). @example router.fallback(() => Response.html(PAGE)) */
  fallback(handler: Handler): this;
  /** Dispatch a request; error answers get the request id. @example router.handle(Request.get('/')).status */
  handle(request: Request): Response;
}

/**
 * An error with a status and code; thrown from a handler it becomes that answer.
 * @example throw new IsletError(422, 'invalid_card', 'a card number has 8 to 12 digits');
 */
export class IsletError extends Error {
  constructor(status: number, code: string, message: string, extra?: object);
  /** The HTTP status of the answer. */
  status: number;
  /** The error code of the answer. */
  code: string;
  /** The answer. @example e.toResponse().status */
  toResponse(): Response;
}
/**
 * A storage call failed. `kind`: quota-exceeded (507), key-too-large (500), value-too-large (413),
 * conflict (409), not-a-number (500), unavailable (503), invalid-json (500); code `storage_<kind>`.
 * @example
 * try { storage.compareAndSwap(key, before, after); } catch (e) { if (e instanceof StorageError && e.kind === 'conflict') retry(); else throw e; }
 */
export class StorageError extends IsletError {
  constructor(kind: string, detail?: string);
  kind: 'quota-exceeded' | 'key-too-large' | 'value-too-large' | 'conflict' | 'not-a-number' | 'unavailable' | 'invalid-json';
}
/**
 * `identity.claim` released nothing. `kind`: no-caller (401), not-declared (500), not-granted (403),
 * no-consent (403, with `consent` for the app's prompt), not-available (404); code `claim_<kind>`.
 * @example
 * try { return { holder: identity.claim(DataItem.RealName) }; } catch (e) { if (e instanceof ClaimError && e.consent) log.info('asking'); throw e; }
 */
export class ClaimError extends IsletError {
  kind: 'no-caller' | 'not-declared' | 'not-granted' | 'no-consent' | 'not-available';
  consent?: { item: DataItemName; purpose: string };
}
/**
 * A payment call failed. `kind`: invalid-amount/invalid-argument (400), no-citizen (401), merchant-not-granted (403),
 * not-found (404), key-reused/invalid-state (409), quota-exceeded (429), provider-unavailable (503); code `payment_<kind>`.
 * @example
 * try { payment.closeOrder(id); } catch (e) { if (!(e instanceof PaymentError && e.kind === 'invalid-state')) throw e; }
 */
export class PaymentError extends IsletError {
  kind: 'invalid-amount' | 'merchant-not-granted' | 'key-reused' | 'not-found' | 'invalid-state' | 'provider-unavailable' | 'quota-exceeded' | 'no-citizen' | 'invalid-argument';
  detail?: string;
}
/**
 * A message was not sent. `kind`: bad-parameters (400), template-not-approved (403), unknown-recipient (404),
 * no-consent (409), quota-exceeded (429), unavailable (503); code `notification_<kind>`.
 * @example
 * try { notification.send(subject, 'news', { text }); } catch (e) { if (!(e instanceof NotifyError && e.kind === 'no-consent')) throw e; }
 */
export class NotifyError extends IsletError {
  kind: 'no-consent' | 'template-not-approved' | 'quota-exceeded' | 'bad-parameters' | 'unknown-recipient' | 'unavailable';
}
/**
 * A body that is not the JSON expected: 400 `invalid_json` (malformed) or 422 `invalid_body`.
 * @example const body = req.json(); // throws JsonError on `{oops`
 */
export class JsonError extends IsletError {
  malformed: boolean;
}

/** A personal data item's name. */
export type DataItemName = 'real-name' | 'national-id' | 'phone' | 'email' | 'legal-person';
/** The personal data items `identity.claim` may release. @example identity.claim(DataItem.Phone) */
export const DataItem: { RealName: 'real-name'; NationalId: 'national-id'; Phone: 'phone'; Email: 'email'; LegalPerson: 'legal-person' };

/** The signed-in citizen. */
export interface Caller {
  /** Pairwise pseudonymous subject: differs per mini-service. */
  subject: string;
  /** 0 unknown … 5 certificate or in person. */
  assuranceLevel: number;
  /** Roles, e.g. `staff` for the owning department's staff. */
  roles: string[];
  /** Whether the caller has `role`. */
  hasRole(role: string): boolean;
  /** Whether the caller is staff of the owning department. */
  isStaff(): boolean;
}

/** Who is calling. */
export namespace identity {
  /** The personal data items (also exported as `DataItem`). @example identity.claim(identity.DataItem.Email) */
  const DataItem: { RealName: 'real-name'; NationalId: 'national-id'; Phone: 'phone'; Email: 'email'; LegalPerson: 'legal-person' };
  /** The caller, or undefined when anonymous. @example const who = identity.currentCaller()?.subject ?? 'anonymous'; */
  function currentCaller(): Caller | undefined;
  /** The caller; throws a 401 Response when anonymous. @example const { subject } = identity.requireCaller(); */
  function requireCaller(): Caller;
  /** The caller with `role`; throws 401 when anonymous, 403 without the role. @example identity.requireRole('staff'); */
  function requireRole(role: string): Caller;
  /** A personal data item, with the citizen's consent; throws ClaimError. @example const name = identity.claim(DataItem.RealName); */
  function claim(item: DataItemName): string;
  /** A subject shared by the department's services, or undefined when anonymous. @example const shared = identity.departmentSubject(); */
  function departmentSubject(): string | undefined;
}

/**
 * Key-value storage private to this mini-service; failures throw StorageError.
 * Keys 1–256 bytes, values ≤ 1 MiB, a quota (`storage-mib`) on keys plus values.
 */
export const storage: {
  /** The value as bytes, or undefined. @example const raw = storage.get('photo/1'); */
  get(key: string): Uint8Array | undefined;
  /** The value as UTF-8 text, or undefined. @example const owner = storage.getText(`owner/${id}`); */
  getText(key: string): string | undefined;
  /** Store a value. @example storage.set(`subscribers/${subject}`, '1'); */
  set(key: string, value: string | Uint8Array): void;
  /** Remove a key; whether it existed. @example storage.delete(`subscribers/${subject}`); */
  delete(key: string): boolean;
  /** `delete` under a name that is not a keyword. @example storage.del('k'); */
  del(key: string): boolean;
  /**
   * One page of keys starting with `prefix`, in byte order (at most `limit`, default 100, capped at 1000);
   * pass `nextCursor` back until it is undefined.
   * @example
   * let cursor;
   * do { const page = storage.listKeys('fees/', cursor); page.keys.forEach(visit); cursor = page.nextCursor; } while (cursor);
   */
  listKeys(prefix: string, cursor?: string, limit?: number): { keys: string[]; nextCursor?: string };
  /**
   * Atomically replace the value if it is `expected` (undefined = absent; `next` undefined deletes);
   * throws StorageError `conflict` (409) otherwise.
   * @example storage.compareAndSwap('seat/12', undefined, subject); // claim a free seat
   */
  compareAndSwap(key: string, expected: string | Uint8Array | undefined, next: string | Uint8Array | undefined): void;
  /** Atomically add `delta` (default 1) to a decimal integer (absent = 0); the new value. @example const n = storage.increment('seq'); */
  increment(key: string, delta?: number | bigint): number;
  /** The JSON value, or undefined; StorageError `invalid-json` when it is not JSON. @example const fee = storage.getJson(key); */
  getJson<T = unknown>(key: string): T | undefined;
  /** Store a value as JSON. @example storage.setJson(key, { status: 'pending' }); */
  setJson(key: string, value: unknown): void;
  /** Read-modify-write JSON with compare-and-swap, `attempts` tries. @example storage.updateJson('stats', 5, (s) => ({ n: (s?.n ?? 0) + 1 })); */
  updateJson<T>(key: string, attempts: number, f: (current: T | undefined) => T): T;
};

/** Log lines, attached to the request (its id); `islet dev` shows them. */
export namespace log {
  /** A line at `level`. @example log.write('info', 'started'); */
  function write(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string): void;
  /** A trace line. @example log.trace(`params ${JSON.stringify(req.params)}`); */
  function trace(message: string): void;
  /** A debug line. @example log.debug('cache miss'); */
  function debug(message: string): void;
  /** An info line. @example log.info(`order ${id} paid`); */
  function info(message: string): void;
  /** A warning. @example log.warn('no message sent (no-consent)'); */
  function warn(message: string): void;
  /** An error line. @example log.error(`cannot credit ${card}`); */
  function error(message: string): void;
}

/** What an order is for: a service fee, or a non-tax revenue item with its code. */
export type OrderKind = { type: 'service-fee' } | { type: 'non-tax'; code: string };
/** An order's status. */
export type OrderStatus = 'created' | 'paid' | 'partially-refunded' | 'refunded' | 'closed' | 'expired';
/** An order of this mini-service. Amounts in fen. */
export interface Order {
  id: string;
  orderKey: string;
  merchant: string;
  amountFen: number;
  refundedFen: number;
  description: string;
  kind: OrderKind;
  status: OrderStatus;
  /** The citizen's pairwise subject. */
  payer: string;
  /** Where the citizen pays: `/pay/{id}`. */
  checkoutUrl: string;
  createdAt: number;
  expiresAt: number;
  paidAt?: number;
}
/** What `payment.createOrder` takes. */
export interface NewOrder {
  /** A merchant account granted to this service. */
  merchant: string;
  /** 1 to 100,000,000 fen. */
  amountFen: number;
  description: string;
  /** Yours: the same key and parameters return the same order. */
  orderKey: string;
  kind?: OrderKind;
  /** Default 1800. */
  expiresInS?: number;
}
/** A change of an order, delivered to `onPayment` at least once. */
export interface PaymentEvent {
  /** Same on redelivery: handle idempotently. */
  id: string;
  kind: 'paid' | 'closed' | 'expired' | 'refunded';
  order: Order;
  amountFen: number;
  refundKey?: string;
  attempt: number;
}
/**
 * Export as `onPayment` from the service module; throw or return a string to have the event delivered again later.
 * @example
 * export function onPayment(event) { if (event.kind === 'paid') markPaid(event.order.id); }
 */
export type PaymentHandler = (event: PaymentEvent) => void | string;

/** Charge the signed-in citizen; failures throw PaymentError. */
export namespace payment {
  /**
   * An order for the signed-in citizen (the same `orderKey` and parameters return the same order).
   * @example
   * const o = payment.createOrder({ merchant: 'transport-fees', amountFen: 5000, description: '公交卡充值', orderKey: `topup-${n}` });
   * return { checkout_url: o.checkoutUrl };
   */
  function createOrder(order: NewOrder): Order;
  /** An order of this service by id; PaymentError `not-found`. @example payment.getOrder('o12').status */
  function getOrder(id: string): Order;
  /** An order by your key; PaymentError `not-found`. @example payment.findOrder(`topup-${n}`) */
  function findOrder(orderKey: string): Order;
  /** Close an unpaid order; PaymentError `invalid-state` once paid. @example payment.closeOrder(id) */
  function closeOrder(id: string): Order;
  /** Refund part or all of a paid order, idempotent per `refundKey`. @example payment.refund(id, 500, 'overcharged', `refund-${id}-1`) */
  function refund(id: string, amountFen: number, reason: string, refundKey: string): Order;
}

/** Inbox messages from approved templates, with the citizen's consent. */
export namespace notification {
  /**
   * Send `template` to `recipient` (a pairwise subject); `link` a path inside this service. Returns the message id; throws NotifyError.
   * @example notification.send(subject, 'topup-credited', { card, amount: '50.00' }, '/');
   */
  function send(recipient: string, template: string, params?: Record<string, string> | [string, string][], link?: string): string;
}

/** The version of the `islet:platform` WIT package this SDK implements. @example PLATFORM_VERSION // '0.1.0' */
export const PLATFORM_VERSION: '0.1.0';
