// The sandbox provider's cashier (/pay/{id}): shows one of the citizen's
// orders and lets them pay or cancel it. No money moves: Pay asks the
// sandbox to send the host its signed notification, and the order becomes
// paid once the host has verified it, so the page polls the order until
// then. The citizen token comes from `?token=` or localStorage
// (`islet_token`, kept by the app shell); `?return=` is where "Back to the
// service" leads (a path on this host only).
import { callApi, h, kindText, sameOriginPath, tokenProblem } from './common.js';
import {
  dateTime, dateTimeWithZone, errorText as apiErrorText, lang, languagePicker, money, t, translatePage,
} from './i18n.js';

const TOKEN_KEY = 'islet_token';
const POLL_MS = 500;
const POLL_FOR_MS = 20_000;
const RETURN_AFTER_MS = 1500;

/** An order's status on the cashier. */
const statusText = (status) => t(`cashier.status.${status}`);

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
  page.statusText = statusText(order.status);
  page.statusKind = order.status;
}

function errorText(err) {
  if (err.status === 401 || err.code === 'unauthenticated' || err.code === 'invalid_token') {
    return t(err.expired ? 'cashier.expired' : 'cashier.notSignedIn');
  }
  if (err.code === 'order_not_found') return t('cashier.notYours');
  return apiErrorText(err);
}

// ------------------------------------------------------------------ views

function banner() {
  return h('div', { class: 'cashier-banner', testid: 'cashier-sandbox', role: 'note' },
    h('strong', {}, t('cashier.sandbox')), t('cashier.noRealMoney'));
}

function returnLink() {
  if (!page.returnTo) return null;
  return h('a', { class: 'cashier-return', href: page.returnTo, testid: 'cashier-return' }, t('cashier.back'));
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
    fact(t('cashier.fact.service'), page.serviceName ?? order.service_name ?? order.plugin, 'cashier-service'),
    fact(t('cashier.fact.item'), kindText(order.kind), 'cashier-kind'),
    fact(t('cashier.fact.order'), h('code', {}, order.id), 'cashier-order'),
    open ? fact(t('cashier.fact.payBefore'), dateTimeWithZone(order.expires_at), 'cashier-expires') : null,
    order.paid_at ? fact(t('cashier.fact.paidAt'), dateTime(order.paid_at), 'cashier-paid-at') : null,
    order.refunded_fen > 0 ? fact(t('cashier.fact.refunded'), money(order.refunded_fen), 'cashier-refunded') : null,
  ];
  return h('section', { class: 'cashier-card', testid: 'cashier-order-card' },
    h('div', { class: 'cashier-merchant' },
      h('span', { class: 'cashier-merchant-icon', 'aria-hidden': 'true' },
        Array.from(order.merchant_name ?? order.merchant ?? '?')[0]),
      h('span', { class: 'cashier-merchant-name', testid: 'cashier-merchant' }, order.merchant_name ?? order.merchant)),
    h('div', { class: 'cashier-amount', testid: 'cashier-amount' }, money(order.amount_fen)),
    h('div', { class: 'cashier-description', testid: 'cashier-description' }, order.description),
    h('div', {
      class: `cashier-status status-${page.statusKind}`, testid: 'cashier-status', role: 'status', 'aria-live': 'polite',
    }, page.statusText),
    page.note ? h('p', { class: 'cashier-note', testid: 'cashier-note' }, page.note) : null,
    errorBox(),
    h('dl', { class: 'cashier-facts' }, facts),
    open ? h('div', { class: 'cashier-actions' },
      h('button', { type: 'button', class: 'cashier-pay', testid: 'cashier-pay', disabled: page.busy, onclick: pay },
        t('cashier.pay', { amount: money(order.amount_fen) })),
      h('button', { type: 'button', class: 'secondary cashier-cancel', testid: 'cashier-cancel', disabled: page.busy, onclick: cancel },
        t('cashier.cancel'))) : null,
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
        ? [h('div', { class: 'cashier-status status-error', testid: 'cashier-status', role: 'status' }, page.statusText || t('cashier.cannotShow')), errorBox()]
        : h('div', { class: 'cashier-status', testid: 'cashier-status', role: 'status' }, page.statusText || t('cashier.loading')),
      returnLink()));
  }
  main.replaceChildren(
    h('h1', { class: 'visually-hidden' }, t('cashier.heading')),
    banner(),
    ...body,
    h('p', { class: 'cashier-foot' }, t('cashier.foot')),
    h('div', { class: 'cashier-language' }, languagePicker()));
}

// ---------------------------------------------------------------- actions

async function load() {
  if (!page.id) {
    page.statusText = t('cashier.noSuchOrder');
    page.error = t('cashier.noOrderInAddress');
    render();
    return;
  }
  const problem = page.token ? tokenProblem(page.token) : 'missing';
  if (problem) {
    page.statusText = t('cashier.notSignedInStatus');
    page.error = errorText({ status: 401, expired: problem === 'expired' });
    render();
    return;
  }
  render();
  try {
    page.order = await api('GET', orderPath());
    showStatus(page.order);
    page.serviceName = await catalogName(page.order.plugin);
  } catch (err) {
    page.statusText = err.status === 401 ? t('cashier.notSignedInStatus') : t('cashier.cannotShow');
    page.error = errorText(err);
  }
  render();
}

/** The service's name in the page language (the catalog's), or null. */
async function catalogName(plugin) {
  try {
    const catalog = await callApi(null, 'GET', `/api/v1/catalog?lang=${encodeURIComponent(lang)}`);
    return catalog?.plugins?.find((e) => e.id === plugin)?.name ?? null;
  } catch {
    return null;
  }
}

async function pay() {
  if (page.busy) return;
  page.busy = true;
  page.error = null;
  page.note = '';
  page.statusText = t('cashier.processing');
  page.statusKind = 'processing';
  render();
  try {
    const answer = await api('POST', cashierPath(), { action: 'pay' });
    page.order = answer.order;
    page.note = t('cashier.waiting', { txn: answer.payment?.txn_id ?? '' });
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
  page.statusText = t('cashier.processing');
  page.note = t('cashier.notConfirmed');
}

function paid() {
  page.note = page.returnTo ? t('cashier.thanksReturning') : t('cashier.thanksClose');
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
  page.statusText = t('cashier.cancelling');
  page.statusKind = 'processing';
  render();
  try {
    const answer = await api('POST', cashierPath(), { action: 'cancel' });
    page.order = answer.order;
    page.statusText = t('cashier.cancelled');
    page.statusKind = 'closed';
    page.note = t('cashier.nothingPaid');
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

translatePage();
load();
