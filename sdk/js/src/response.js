/** The mini-service's answer: status, headers (lower-case names, may repeat) and body bytes. */
import { toBytes, toText } from './sys.js';

/**
 * An answer; errors use `{"error": {"code", "message", "request_id"}}`.
 *
 * @example
 * return Response.json({ id: 7 }, 201).withHeader('cache-control', 'no-store');
 */
export class Response {
  /** An empty answer with `status` (default 200). */
  constructor(status = 200, headers = [], body = new Uint8Array(0)) {
    this.status = status;
    this.headers = headers.map(([n, v]) => [String(n).toLowerCase(), String(v)]);
    this.body = toBytes(body);
  }

  /**
   * `value` as JSON (`application/json`).
   *
   * @example
   * Response.json({ visits: 3 })
   */
  static json(value, status = 200) {
    return new Response(status, [['content-type', 'application/json']], JSON.stringify(value));
  }
  /**
   * Plain UTF-8 text.
   *
   * @example
   * Response.text('ok')
   */
  static text(body, status = 200) {
    return new Response(status, [['content-type', 'text/plain; charset=utf-8']], String(body));
  }
  /**
   * An HTML page.
   *
   * @example
   * Response.html('<h1>你好</h1>')
   */
  static html(body, status = 200) {
    return new Response(status, [['content-type', 'text/html; charset=utf-8']], String(body));
  }
  /**
   * Raw bytes with a content type.
   *
   * @example
   * Response.bytes('text/css; charset=utf-8', CSS)
   */
  static bytes(contentType, body, status = 200) {
    return new Response(status, [['content-type', contentType]], body);
  }
  /**
   * 204 without a body.
   *
   * @example
   * Response.noContent()
   */
  static noContent() {
    return new Response(204);
  }
  /**
   * The platform's error shape `{"error": {"code", "message"}}` with `status`
   * (the router adds `request_id` when it answers a request).
   *
   * @example
   * Response.error(409, 'already_paid', 'this fee is paid')
   */
  static error(status, code, message) {
    return Response.json({ error: { code, message } }, status);
  }
  /**
   * 400 `bad_request`.
   *
   * @example
   * Response.badRequest('text must be 1 to 200 characters')
   */
  static badRequest(message) {
    return Response.error(400, 'bad_request', message);
  }
  /**
   * 401 `unauthenticated`.
   *
   * @example
   * if (!identity.currentCaller()) return Response.unauthorized();
   */
  static unauthorized() {
    return Response.error(401, 'unauthenticated', 'sign in to use this');
  }
  /**
   * 403 `forbidden`.
   *
   * @example
   * Response.forbidden('staff only')
   */
  static forbidden(message) {
    return Response.error(403, 'forbidden', message);
  }
  /**
   * 404 `not_found`.
   *
   * @example
   * return storage.getJson(key) ?? Response.notFound();
   */
  static notFound() {
    return Response.error(404, 'not_found', 'no such resource');
  }
  /**
   * 405 `method_not_allowed` with an `allow` header.
   *
   * @example
   * Response.methodNotAllowed(['GET', 'HEAD'])
   */
  static methodNotAllowed(allowed) {
    return Response.error(405, 'method_not_allowed', `allowed: ${allowed.join(', ')}`).withHeader('allow', allowed.join(', '));
  }
  /**
   * 409 `conflict`.
   *
   * @example
   * Response.conflict('already registered')
   */
  static conflict(message) {
    return Response.error(409, 'conflict', message);
  }
  /**
   * 422 `invalid_input`.
   *
   * @example
   * Response.unprocessable('amount_fen must be one of 1000, 5000')
   */
  static unprocessable(message) {
    return Response.error(422, 'invalid_input', message);
  }
  /**
   * 500 `internal_error`.
   *
   * @example
   * Response.internalError('the ledger is inconsistent')
   */
  static internalError(message) {
    return Response.error(500, 'internal_error', message);
  }

  /**
   * Set the status.
   *
   * @example
   * Response.json(card).withStatus(201)
   */
  withStatus(status) {
    this.status = status;
    return this;
  }
  /**
   * Set a header, replacing any of that name.
   *
   * @example
   * res.withHeader('cache-control', 'no-store')
   */
  withHeader(name, value) {
    const n = name.toLowerCase();
    this.headers = this.headers.filter(([h]) => h !== n);
    this.headers.push([n, String(value)]);
    return this;
  }
  /**
   * Add a header, keeping others of that name.
   *
   * @example
   * res.appendHeader('link', '</page.css>; rel=preload')
   */
  appendHeader(name, value) {
    this.headers.push([name.toLowerCase(), String(value)]);
    return this;
  }
  /**
   * Replace the body (string or bytes).
   *
   * @example
   * res.withBody('')
   */
  withBody(body) {
    this.body = toBytes(body);
    return this;
  }
  /**
   * The first header `name`.
   *
   * @example
   * assert.equal(r.header('content-type'), 'application/json')
   */
  header(name) {
    const n = name.toLowerCase();
    const h = this.headers.find(([k]) => k === n);
    return h ? h[1] : undefined;
  }
  /**
   * The body as text (undefined when not UTF-8).
   *
   * @example
   * assert.match(r.bodyText(), /<h1>/)
   */
  bodyText() {
    return toText(this.body);
  }
  /**
   * The body parsed as JSON (throws on malformed JSON).
   *
   * @example
   * assert.deepEqual(r.bodyJson(), { visits: 1 })
   */
  bodyJson() {
    return JSON.parse(this.bodyText() ?? '');
  }
  /**
   * The `error.code` of an error-shaped JSON body.
   *
   * @example
   * assert.equal(r.errorCode(), 'unauthenticated')
   */
  errorCode() {
    try {
      return this.bodyJson()?.error?.code;
    } catch {
      return undefined;
    }
  }
}

/**
 * Turn what a handler returned into a Response: a Response, a string (text), bytes, or any other value (JSON).
 *
 * @example
 * intoResponse({ ok: true }).header('content-type') // 'application/json'
 */
export function intoResponse(value) {
  if (value instanceof Response) return value;
  if (value === undefined || value === null) return Response.noContent();
  if (typeof value === 'string') return Response.text(value);
  if (value instanceof Uint8Array) return Response.bytes('application/octet-stream', value);
  if (typeof value.toResponse === 'function') return value.toResponse();
  return Response.json(value);
}
