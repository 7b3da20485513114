/** The mini-service's answer: status, headers (lower-case names, may repeat) and body bytes. */
import { toBytes, toText } from './sys.js';

export class Response {
  /** An empty answer with `status` (default 200). */
  constructor(status = 200, headers = [], body = new Uint8Array(0)) {
    this.status = status;
    this.headers = headers.map(([n, v]) => [String(n).toLowerCase(), String(v)]);
    this.body = toBytes(body);
  }

  /** `value` as JSON (`application/json`). */
  static json(value, status = 200) {
    return new Response(status, [['content-type', 'application/json']], JSON.stringify(value));
  }
  /** Plain UTF-8 text. */
  static text(body, status = 200) {
    return new Response(status, [['content-type', 'text/plain; charset=utf-8']], String(body));
  }
  /** An HTML page. */
  static html(body, status = 200) {
    return new Response(status, [['content-type', 'text/html; charset=utf-8']], String(body));
  }
  /** Raw bytes with a content type. */
  static bytes(contentType, body, status = 200) {
    return new Response(status, [['content-type', contentType]], body);
  }
  /** 204 without a body. */
  static noContent() {
    return new Response(204);
  }
  /** The platform's error shape `{"error": {"code", "message"}}` with `status`. */
  static error(status, code, message) {
    return Response.json({ error: { code, message } }, status);
  }
  /** 400 `bad_request`. */
  static badRequest(message) {
    return Response.error(400, 'bad_request', message);
  }
  /** 401 `unauthenticated`. */
  static unauthorized() {
    return Response.error(401, 'unauthenticated', 'sign in to use this');
  }
  /** 403 `forbidden`. */
  static forbidden(message) {
    return Response.error(403, 'forbidden', message);
  }
  /** 404 `not_found`. */
  static notFound() {
    return Response.error(404, 'not_found', 'no such resource');
  }
  /** 405 `method_not_allowed` with an `allow` header. */
  static methodNotAllowed(allowed) {
    return Response.error(405, 'method_not_allowed', `allowed: ${allowed.join(', ')}`).withHeader('allow', allowed.join(', '));
  }
  /** 409 `conflict`. */
  static conflict(message) {
    return Response.error(409, 'conflict', message);
  }
  /** 422 `invalid_input`. */
  static unprocessable(message) {
    return Response.error(422, 'invalid_input', message);
  }
  /** 500 `internal_error`. */
  static internalError(message) {
    return Response.error(500, 'internal_error', message);
  }

  /** Set the status. */
  withStatus(status) {
    this.status = status;
    return this;
  }
  /** Set a header, replacing any of that name. */
  withHeader(name, value) {
    const n = name.toLowerCase();
    this.headers = this.headers.filter(([h]) => h !== n);
    this.headers.push([n, String(value)]);
    return this;
  }
  /** Add a header, keeping others of that name. */
  appendHeader(name, value) {
    this.headers.push([name.toLowerCase(), String(value)]);
    return this;
  }
  /** Replace the body (string or bytes). */
  withBody(body) {
    this.body = toBytes(body);
    return this;
  }
  /** The first header `name`. */
  header(name) {
    const n = name.toLowerCase();
    const h = this.headers.find(([k]) => k === n);
    return h ? h[1] : undefined;
  }
  /** The body as text (undefined when not UTF-8). */
  bodyText() {
    return toText(this.body);
  }
  /** The body parsed as JSON (throws on malformed JSON). */
  bodyJson() {
    return JSON.parse(this.bodyText() ?? '');
  }
  /** The `error.code` of an error-shaped JSON body. */
  errorCode() {
    try {
      return this.bodyJson()?.error?.code;
    } catch {
      return undefined;
    }
  }
}

/** Turn what a handler returned into a Response: a Response, a string (text), bytes, or any other value (JSON). */
export function intoResponse(value) {
  if (value instanceof Response) return value;
  if (value === undefined || value === null) return Response.noContent();
  if (typeof value === 'string') return Response.text(value);
  if (value instanceof Uint8Array) return Response.bytes('application/octet-stream', value);
  if (typeof value.toResponse === 'function') return value.toResponse();
  return Response.json(value);
}
