/** A request from the city app, routed to this mini-service. */
import { toBytes, toText } from './sys.js';
import { JsonError } from './errors.js';

/**
 * A request: method, path (below `/p/{id}`), query, lower-case headers,
 * body; `params` set by the router.
 *
 * @example
 * router.get('/reports/{id}', (req) => ({ id: req.param('id'), page: req.query('page') ?? '1' }));
 */
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

  /**
   * A GET request (for tests).
   *
   * @example
   * env.call(app, Request.get('/api/fees'))
   */
  static get(target) {
    return new Request('GET', target);
  }
  /**
   * A DELETE request (for tests).
   *
   * @example
   * env.call(app, Request.delete('/api/subscription'))
   */
  static delete(target) {
    return new Request('DELETE', target);
  }
  /**
   * A POST request (for tests).
   *
   * @example
   * env.call(app, Request.post('/api/fees'))
   */
  static post(target, body) {
    return new Request('POST', target, [], body);
  }
  /**
   * A PUT request (for tests).
   *
   * @example
   * env.call(app, Request.put('/api/note', 'text'))
   */
  static put(target, body) {
    return new Request('PUT', target, [], body);
  }
  /**
   * A POST with a JSON body (for tests).
   *
   * @example
   * env.call(app, Request.postJson('/api/news', { text: 'hi' }))
   */
  static postJson(target, value) {
    return new Request('POST', target, [['content-type', 'application/json']], JSON.stringify(value));
  }

  /**
   * Add a header (for tests).
   *
   * @example
   * Request.get('/').withHeader('accept-language', 'zh-CN')
   */
  withHeader(name, value) {
    this.headers.push([name.toLowerCase(), String(value)]);
    return this;
  }
  /**
   * The path parameter `name`.
   *
   * @example
   * req.param('id') // '42' for /reports/42
   */
  param(name) {
    return this.params[name];
  }
  /**
   * The first query parameter `name`, decoded.
   *
   * @example
   * req.query('q') // 'x y' for ?q=x%20y
   */
  query(name) {
    return this.queryAll(name)[0];
  }
  /**
   * Every value of query parameter `name`, decoded.
   *
   * @example
   * req.queryAll('tag') // ['a', 'b'] for ?tag=a&tag=b
   */
  queryAll(name) {
    return this.queryParams().filter(([k]) => k === name).map(([, v]) => v);
  }
  /**
   * All query parameters as decoded `[name, value]` pairs.
   *
   * @example
   * req.queryParams() // [['a', '1'], ['b', '2']]
   */
  queryParams() {
    if (!this.queryString) return [];
    return this.queryString.split('&').filter(Boolean).map((pair) => {
      const [k, v = ''] = pair.split(/=(.*)/s);
      return [decode(k), decode(v)];
    });
  }
  /**
   * The first header `name` (case-insensitive).
   *
   * @example
   * req.header('x-request-id')
   */
  header(name) {
    const n = name.toLowerCase();
    const h = this.headers.find(([k]) => k === n);
    return h ? h[1] : undefined;
  }
  /**
   * The body as text, or undefined when it is not UTF-8.
   *
   * @example
   * const note = req.text() ?? '';
   */
  text() {
    return toText(this.body);
  }
  /**
   * The body parsed as JSON; throws a JsonError (400 `invalid_json`) when malformed.
   *
   * @example
   * const { amount_fen } = req.json<{ amount_fen: number }>();
   */
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
