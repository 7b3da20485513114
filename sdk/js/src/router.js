/**
 * Routes requests to handlers by method and path pattern, like the Rust
 * SDK's Router: `{name}` matches one non-empty segment, a last `{*name}`
 * the rest of the path; the most specific pattern wins (literal beats
 * parameter beats catch-all); HEAD falls back to GET without body; no
 * match is 404 `not_found`, a match for other methods 405 with `allow`.
 *
 * A handler gets the Request and returns a Response, a string, bytes, a
 * JSON value or nothing (204). Throwing an IsletError (storage, payment,
 * claim, ... errors) or a Response answers with it; any other exception
 * is a crash of the mini-service (the host answers 500).
 */
import { Response, intoResponse } from './response.js';
import { IsletError } from './errors.js';

function parsePattern(source) {
  const segs = source.split('/').filter(Boolean).map((s, i, all) => {
    const m = /^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(s);
    if (!m) {
      if (s.includes('{') || s.includes('}')) throw new Error(`invalid route pattern ${source}: bad segment ${s}`);
      return { lit: s };
    }
    if (m[1] && i !== all.length - 1) throw new Error(`invalid route pattern ${source}: {*${m[2]}} must be last`);
    return m[1] ? { rest: m[2] } : { param: m[2] };
  });
  return { source, segs };
}

function match(pattern, segments) {
  const params = {};
  const rank = [];
  let i = 0;
  for (const seg of pattern.segs) {
    if (seg.rest !== undefined) {
      params[seg.rest] = segments.slice(i).map(decodeSegment).join('/');
      rank.push(1);
      return { params, rank };
    }
    if (i >= segments.length) return null;
    if (seg.lit !== undefined) {
      if (seg.lit !== segments[i]) return null;
      rank.push(3);
    } else {
      params[seg.param] = decodeSegment(segments[i]);
      rank.push(2);
    }
    i += 1;
  }
  if (i !== segments.length) return null;
  rank.push(4); // a pattern that ends beats one expecting a catch-all
  return { params, rank };
}

function decodeSegment(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function better(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return false;
}

/**
 * A router: routes by method and pattern, error answers with the request id.
 *
 * @example
 * export const router = new Router()
 *   .get('/', () => Response.html('<h1>Parking</h1>'))
 *   .get('/api/fees/{id}', (req) => storage.getJson(`fees/${req.param('id')}`) ?? Response.notFound())
 *   .any('/legacy/{*rest}', () => Response.error(410, 'gone', 'use /api'))
 *   .fallback(() => Response.html('<p>Not here</p>').withStatus(404));
 */
export class Router {
  constructor() {
    this.routes = [];
    this.fallbackHandler = null;
  }
  /**
   * A route for `method` (any case) and `pattern`.
   *
   * @example
   * router.route('OPTIONS', '/api', () => Response.noContent())
   */
  route(method, pattern, handler) {
    this.routes.push({ method: method ? method.toUpperCase() : null, pattern: parsePattern(pattern), handler });
    return this;
  }
  /**
   * A route for every method.
   *
   * @example
   * router.any('/echo', (req) => ({ method: req.method }))
   */
  any(pattern, handler) {
    return this.route(null, pattern, handler);
  }
  /**
   * A GET route.
   *
   * @example
   * router.get('/api/card', () => cardOf(subject))
   */
  get(pattern, handler) {
    return this.route('GET', pattern, handler);
  }
  /**
   * A POST route.
   *
   * @example
   * router.post('/api/fees', createFee)
   */
  post(pattern, handler) {
    return this.route('POST', pattern, handler);
  }
  /**
   * A PUT route.
   *
   * @example
   * router.put('/api/card', registerCard)
   */
  put(pattern, handler) {
    return this.route('PUT', pattern, handler);
  }
  /**
   * A PATCH route.
   *
   * @example
   * router.patch('/api/reports/{id}', update)
   */
  patch(pattern, handler) {
    return this.route('PATCH', pattern, handler);
  }
  /**
   * A DELETE route.
   *
   * @example
   * router.delete('/api/subscription', unsubscribe)
   */
  delete(pattern, handler) {
    return this.route('DELETE', pattern, handler);
  }
  /**
   * The handler for paths no pattern matches (instead of 404).
   *
   * @example
   * router.fallback(() => Response.html(PAGE))
   */
  fallback(handler) {
    this.fallbackHandler = handler;
    return this;
  }

  /**
   * Dispatch `request` to the best matching route and return its Response.
   * An error answer in the platform's shape (`{"error": {...}}`: thrown
   * errors, `Response.error`, the router's own 404/405) gets the request's
   * id, from the `x-request-id` header the host sets, as `error.request_id`.
   *
   * @example
   * const r = new Router().handle(new Request('GET', '/nowhere', [['x-request-id', 'req-7']]));
   * r.bodyJson().error.request_id; // 'req-7'
   */
  handle(request) {
    const id = request.header('x-request-id');
    const response = this.#dispatch(request);
    return id ? withRequestId(response, id) : response;
  }

  // Dispatch without stamping the request id (see `handle`).
  #dispatch(request) {
    const segments = request.path.split('/').filter(Boolean);
    const isHead = request.method === 'HEAD';
    let best = this.#best(segments, request.method);
    if (!best && isHead) best = this.#best(segments, 'GET');
    if (best) {
      request.params = best.params;
      const response = run(best.route.handler, request);
      return isHead && best.route.method !== 'HEAD' ? response.withBody('') : response;
    }
    const allowed = new Set(this.routes.filter((r) => r.method && match(r.pattern, segments)).map((r) => r.method));
    if (allowed.has('GET')) allowed.add('HEAD');
    if (allowed.size > 0) return Response.methodNotAllowed([...allowed].sort());
    return this.fallbackHandler ? run(this.fallbackHandler, request) : Response.notFound();
  }

  #best(segments, method) {
    let best = null;
    for (const route of this.routes) {
      if (route.method && route.method !== method) continue;
      const found = match(route.pattern, segments);
      if (found && (!best || better(found.rank, best.rank))) best = { route, ...found };
    }
    return best;
  }
}

/** `response` with `requestId` in its platform-shaped error body, if it has one without an id. */
function withRequestId(response, requestId) {
  const type = response.header('content-type') ?? '';
  if (response.status < 400 || !type.startsWith('application/json')) return response;
  let body;
  try {
    body = response.bodyJson();
  } catch {
    return response;
  }
  const error = body?.error;
  if (!error || typeof error !== 'object' || Array.isArray(error) || 'request_id' in error) return response;
  error.request_id = requestId;
  return response.withBody(JSON.stringify(body));
}

function run(handler, request) {
  try {
    return intoResponse(handler(request));
  } catch (e) {
    if (e instanceof Response) return e;
    if (e instanceof IsletError) return e.toResponse();
    throw e;
  }
}
