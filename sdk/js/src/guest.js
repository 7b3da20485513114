/** The component's two exports, given the service module (`router` / default export, optional `onPayment`). */
import { Request } from './request.js';
import { Router } from './router.js';
import { eventFromWit } from './payment-wire.js';
import { host } from './sys.js';

/** The service's Router: its `router` or default export, a Router or a function returning one. */
export function routerOf(app) {
  const r = app.router ?? app.default;
  const router = typeof r === 'function' && !(r instanceof Router) ? r() : r;
  if (!router || typeof router.handle !== 'function') {
    throw new Error('the service module must export a Router as `router` or default (or a function returning one)');
  }
  return router;
}

/** Handle one wire request: build the Request, dispatch, return the wire response. */
export function serve(app, wire) {
  const req = new Request(wire.method, wire.query ? `${wire.path}?${wire.query}` : wire.path, wire.headers.map((h) => [h.name, h.value]), wire.body);
  let res;
  try {
    res = routerOf(app).handle(req);
  } catch (e) {
    // The host answers 500 plugin_trapped; leave the why in the plugin's
    // log (when it has the capability), as stderr is not wired for JS.
    try {
      host().log?.write('error', `uncaught exception: ${e}${e?.stack ? `\n${e.stack}` : ''}`);
    } catch {
      // nothing more to do
    }
    throw e;
  }
  if (res && typeof res.then === 'function') throw new Error('handlers must be synchronous');
  return { status: res.status, headers: res.headers.map(([name, value]) => ({ name, value })), body: res.body };
}

/** Deliver one wire payment event to `app.onPayment`; a thrown error or a returned string has it delivered again later. */
export function deliver(app, wire) {
  if (typeof app.onPayment !== 'function') return;
  let outcome;
  try {
    outcome = app.onPayment(eventFromWit(wire));
  } catch (e) {
    throw e instanceof Error ? e.message : String(e);
  }
  if (typeof outcome === 'string') throw outcome;
}
