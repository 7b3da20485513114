// The sandbox provider's cashier (/pay/{id}): shows one of the citizen's
// orders and lets them pay or cancel it. No money moves: Pay asks the
// sandbox to send the host its signed notification, and the order becomes
// paid once the host has verified it, so the page polls the order until
// then. The citizen token comes from `?token=` or localStorage
// (`islet_token`, kept by the app shell); `?return=` is where "Back to the
// service" leads (a path on this host only).
import { callApi, h, kindText, sameOriginPath, when, yuan } from './common.js';

const TOKEN_KEY = 'islet_token';
const POLL_MS = 500;
const POLL_FOR_MS = 20_000;
const RETURN_AFTER_MS = 1500;

const STATUS_TEXT = {
  created: 'Awaiting payment',
  paid: 'Paid',
  'partially-refunded': 'Paid · partially refunded',
  refunded: 'Refunded',
  closed: 'Closed',
  expired: 'Expired',
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- helpers

function orderIdFromPath() {
  const match = /^\/pay\/([^/]+)\/?$/.exec(location.pathname);
  if (!match) return '';
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return '';
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// -------------------------------------------------------------------- API

function api(method, path, body) {
  return callApi(page.token, method, path, body);
}

const orderPath = () => `/api/v1/orders/${encodeURIComponent(page.id)}`;
const cashierPath = () => `/pay/${encodeURIComponent(page.id)}`;

// ------------------------------------------------------------------ state

const params = new URLSearchParams(location.search);
const page = {
  id: orderIdFromPath(),
  token: params.get('token') || localStorage.getItem(TOKEN_KEY) || '',
  returnTo: sameOriginPath(params.get('return')),
  order: null,
  busy: false,
  // What the page says about the order: its status, or the step under way.
  statusText: '',
  statusKind: '',
  note: '',
  error: null,
  returning: false,
};

// A token in the address would linger in the history: keep only `return`.
if (params.has('token')) {
  const kept = new URLSearchParams();
  if (params.has('return')) kept.set('return', params.get('return'));
  const query = kept.toString();
  history.replaceState(null, '', location.pathname + (query ? `?${query}` : ''));
}

function showStatus(order) {
  page.statusText = STATUS_TEXT[order.status] ?? order.status;
  page.statusKind = order.status;
}

function errorText(err) {
  if (err.status === 401 || err.code === 'unauthenticated' || err.code === 'invalid_token') {
    return 'You are not signed in. Open the Islet City app, sign in (Me tab), then start the payment again from the service.';
  }
  if (err.code === 'order_not_found') return `This order is not one of yours: ${err.message}`;
  return err.message;
}

// ------------------------------------------------------------------ views

function banner() {
  return h('div', { class: 'cashier-banner', testid: 'cashier-sandbox', role: 'note' },
    h('strong', {}, 'Islet sandbox payment'), ' — no real money moves');
}

function returnLink() {
  if (!page.returnTo) return null;
  return h('a', { class: 'cashier-return', href: page.returnTo, testid: 'cashier-return' }, 'Back to the service');
}

function errorBox() {
  if (!page.error) return null;
  return h('p', { class: 'cashier-error', testid: 'cashier-error', role: 'alert' }, page.error);
}

function fact(label, value, testid) {
  return [h('dt', {}, label), h('dd', { testid }, value)];
}

function orderCard(order) {
  const open = order.status === 'created';
  const facts = [
    fact('Service', order.service_name ?? order.plugin, 'cashier-service'),
    fact('Item', kindText(order.kind), 'cashier-kind'),
    fact('Order', h('code', {}, order.id), 'cashier-order'),
    open ? fact('Pay before', when(order.expires_at), 'cashier-expires') : null,
    order.paid_at ? fact('Paid at', when(order.paid_at), 'cashier-paid-at') : null,
    order.refunded_fen > 0 ? fact('Refunded', yuan(order.refunded_fen), 'cashier-refunded') : null,
  ];
  return h('section', { class: 'cashier-card', testid: 'cashier-order-card' },
    h('div', { class: 'cashier-merchant' },
      h('span', { class: 'cashier-merchant-icon', 'aria-hidden': 'true' },
        Array.from(order.merchant_name ?? order.merchant ?? '?')[0]),
      h('span', { class: 'cashier-merchant-name', testid: 'cashier-merchant' }, order.merchant_name ?? order.merchant)),
    h('div', { class: 'cashier-amount', testid: 'cashier-amount' }, yuan(order.amount_fen)),
    h('div', { class: 'cashier-description', testid: 'cashier-description' }, order.description),
    h('div', {
      class: `cashier-status status-${page.statusKind}`, testid: 'cashier-status', role: 'status', 'aria-live': 'polite',
    }, page.statusText),
    page.note ? h('p', { class: 'cashier-note', testid: 'cashier-note' }, page.note) : null,
    errorBox(),
    h('dl', { class: 'cashier-facts' }, facts),
    open ? h('div', { class: 'cashier-actions' },
      h('button', { type: 'button', class: 'cashier-pay', testid: 'cashier-pay', disabled: page.busy, onclick: pay },
        `Pay ${yuan(order.amount_fen)}`),
      h('button', { type: 'button', class: 'secondary cashier-cancel', testid: 'cashier-cancel', disabled: page.busy, onclick: cancel },
        'Cancel')) : null,
    open && page.busy ? null : returnLink());
}

function render() {
  const main = $('cashier');
  const body = [];
  if (page.order) {
    body.push(orderCard(page.order));
  } else {
    body.push(h('section', { class: 'cashier-card' },
      page.error
        ? [h('div', { class: 'cashier-status status-error', testid: 'cashier-status', role: 'status' }, page.statusText || 'Cannot show this order'), errorBox()]
        : h('div', { class: 'cashier-status', testid: 'cashier-status', role: 'status' }, page.statusText || 'Loading the order…'),
      returnLink()));
  }
  main.replaceChildren(
    banner(),
    ...body,
    h('p', { class: 'cashier-foot' },
      'Sandbox cashier of this Islet host. Paying here only tells the host the order was paid; ',
      'the service learns it from the host, never from this page.'));
}

// ---------------------------------------------------------------- actions

async function load() {
  if (!page.id) {
    page.statusText = 'No such order';
    page.error = 'This address does not name an order.';
    render();
    return;
  }
  if (!page.token) {
    page.statusText = 'Not signed in';
    page.error = errorText({ status: 401 });
    render();
    return;
  }
  render();
  try {
    page.order = await api('GET', orderPath());
    showStatus(page.order);
  } catch (err) {
    page.statusText = err.status === 401 ? 'Not signed in' : 'Cannot show this order';
    page.error = errorText(err);
  }
  render();
}

async function pay() {
  if (page.busy) return;
  page.busy = true;
  page.error = null;
  page.note = '';
  page.statusText = 'Payment processing…';
  page.statusKind = 'processing';
  render();
  try {
    const answer = await api('POST', cashierPath(), { action: 'pay' });
    page.order = answer.order;
    page.note = `Sandbox transaction ${answer.payment?.txn_id ?? ''}: waiting for the host to confirm it.`;
    render();
    await waitUntilSettled();
  } catch (err) {
    page.error = errorText(err);
    await refresh();
  }
  page.busy = false;
  render();
}

/** Poll the order until the host has applied the provider's notification. */
async function waitUntilSettled() {
  const deadline = Date.now() + POLL_FOR_MS;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    let order;
    try {
      order = await api('GET', orderPath());
    } catch (err) {
      if (err.status === 401 || err.status === 404) throw err;
      continue; // a passing failure: look again
    }
    page.order = order;
    if (order.status !== 'created') {
      showStatus(order);
      if (order.status === 'paid') paid();
      else page.note = '';
      return;
    }
  }
  page.statusText = 'Payment processing…';
  page.note = 'The payment was taken but the host has not confirmed it yet. '
    + 'It is not charged twice: the service shows it as paid once the confirmation arrives.';
}

function paid() {
  page.note = page.returnTo ? 'Thank you! Returning to the service…' : 'Thank you! You can close this page.';
  if (page.returnTo && !page.returning) {
    page.returning = true;
    setTimeout(() => location.assign(page.returnTo), RETURN_AFTER_MS);
  }
}

async function cancel() {
  if (page.busy) return;
  page.busy = true;
  page.error = null;
  page.note = '';
  page.statusText = 'Cancelling…';
  page.statusKind = 'processing';
  render();
  try {
    const answer = await api('POST', cashierPath(), { action: 'cancel' });
    page.order = answer.order;
    page.statusText = 'Cancelled';
    page.statusKind = 'closed';
    page.note = 'Nothing was paid. You can start again from the service.';
  } catch (err) {
    page.error = errorText(err);
    await refresh();
  }
  page.busy = false;
  render();
}

/** Reload the order after a refused action, keeping the error shown. */
async function refresh() {
  try {
    page.order = await api('GET', orderPath());
  } catch {
    // keep what we had
  }
  if (page.order) showStatus(page.order);
}

load();
