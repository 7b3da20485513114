/** A request from the city app, routed to this mini-service. */
import { toBytes, toText } from './sys.js';
import { JsonError } from './errors.js';

export class Request {
  /** `method` and `target` (path with optional `?query`), headers as `[name, value]` pairs, body string or bytes. */
  constructor(method, target, headers = [], body) {
    const [path, query = ''] = String(target).split(/\?(.*)/s);
    this.method = String(method).toUpperCase();
    this.path = path.startsWith('/') ? path : `/${path}`;
    this.queryString = query;
    this.headers = headers.map(([n, v]) => [String(n).toLowerCase(), String(v)]);
    this.body = toBytes(body);
    /** Path parameters set by the router, e.g. `{id: "42"}` for `/reports/{id}`. */
    this.params = {};
  }

  /** A GET request (for tests). */
  static get(target) {
    return new Request('GET', target);
  }
  /** A DELETE request (for tests). */
  static delete(target) {
    return new Request('DELETE', target);
  }
  /** A POST request (for tests). */
  static post(target, body) {
    return new Request('POST', target, [], body);
  }
  /** A PUT request (for tests). */
  static put(target, body) {
    return new Request('PUT', target, [], body);
  }
  /** A POST with a JSON body (for tests). */
  static postJson(target, value) {
    return new Request('POST', target, [['content-type', 'application/json']], JSON.stringify(value));
  }

  /** Add a header (for tests). */
  withHeader(name, value) {
    this.headers.push([name.toLowerCase(), String(value)]);
    return this;
  }
  /** The path parameter `name`. */
  param(name) {
    return this.params[name];
  }
  /** The first query parameter `name`, decoded. */
  query(name) {
    return this.queryAll(name)[0];
  }
  /** Every value of query parameter `name`, decoded. */
  queryAll(name) {
    return this.queryParams().filter(([k]) => k === name).map(([, v]) => v);
  }
  /** All query parameters as decoded `[name, value]` pairs. */
  queryParams() {
    if (!this.queryString) return [];
    return this.queryString.split('&').filter(Boolean).map((pair) => {
      const [k, v = ''] = pair.split(/=(.*)/s);
      return [decode(k), decode(v)];
    });
  }
  /** The first header `name` (case-insensitive). */
  header(name) {
    const n = name.toLowerCase();
    const h = this.headers.find(([k]) => k === n);
    return h ? h[1] : undefined;
  }
  /** The body as text, or undefined when it is not UTF-8. */
  text() {
    return toText(this.body);
  }
  /** The body parsed as JSON; throws a JsonError (400 `invalid_json`) when malformed. */
  json() {
    const text = this.text();
    if (text === undefined) throw new JsonError(true, 'the body is not UTF-8');
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new JsonError(true, e.message);
    }
  }
}

function decode(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
