// The demo app shell: a phone-like home screen listing the catalog
// (/api/v1/catalog) as tiles; a tile opens the mini-service's page
// (/p/{id}/) in a frame. The citizen token lives in localStorage under
// `islet_token`, where the services' pages (same origin) read it. The
// Orders tab lists the citizen's orders (/api/v1/orders). Checkout pages
// (the sandbox cashier at /pay/{id}) refuse to be framed, so the shell
// opens them full screen and has them come back to the service.
import { decodeClaims, h, kindText, sameOriginPath, when, yuan } from './common.js';

const TOKEN_KEY = 'islet_token';
const SCREENS = ['home', 'inbox', 'orders', 'me'];
const ORDERS_PAGE = 20;
const STATUS_TEXT = {
  created: 'Unpaid',
  paid: 'Paid',
  'partially-refunded': 'Partly refunded',
  refunded: 'Refunded',
  closed: 'Closed',
  expired: 'Expired',
};
const PALETTE = ['#0a7d5a', '#2563eb', '#c2410c', '#7c3aed', '#0e7490', '#b45309', '#be123c', '#4d7c0f'];

const state = {
  screen: 'home',
  catalog: [],
  open: null, // the catalog entry shown in the frame
  orders: { list: [], next: null, loading: false, generation: 0 },
};

const $ = (id) => document.getElementById(id);

function token() {
  return localStorage.getItem(TOKEN_KEY) || '';
}

/** A stable colour per category. */
function colour(category) {
  let hash = 0;
  for (const c of category ?? '') hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

function initial(name) {
  return Array.from((name ?? '?').trim())[0]?.toUpperCase() ?? '?';
}

// ---------------------------------------------------------------- catalog

async function loadCatalog() {
  try {
    const response = await fetch('/api/v1/catalog', { headers: { accept: 'application/json' } });
    const data = await response.json();
    if (!response.ok) throw new Error(data?.error?.message ?? response.statusText);
    state.catalog = data.plugins;
    say(state.catalog.length ? '' : 'No services are available right now.');
  } catch (err) {
    state.catalog = [];
    say(`The service list could not be loaded: ${err.message}`);
  }
  renderHome();
  if (state.open) {
    const entry = state.catalog.find((e) => e.id === state.open.id);
    if (entry) $('service-title').textContent = entry.name;
  }
}

function say(text) {
  const el = $('home-message');
  el.textContent = text;
  el.hidden = !text;
}

function icon(entry, large) {
  const el = h('span', { class: large ? 'tile-icon large' : 'tile-icon', 'aria-hidden': 'true' }, initial(entry.name));
  el.style.backgroundColor = colour(entry.category);
  return el;
}

function featuredCard(entry) {
  return h('button', { type: 'button', class: 'feature', testid: `tile-${entry.id}`, onclick: () => openService(entry.id) },
    icon(entry, true),
    h('span', { class: 'feature-text' },
      h('span', { class: 'tile-name' }, entry.name),
      h('span', { class: 'feature-desc' }, entry.description),
      h('span', { class: 'feature-meta' }, entry.district ? `${entry.department} · ${entry.district}` : entry.department)));
}

function tile(entry) {
  return h('button', { type: 'button', class: 'tile', testid: `tile-${entry.id}`, title: entry.description, onclick: () => openService(entry.id) },
    icon(entry, false),
    h('span', { class: 'tile-name' }, entry.name));
}

/** Featured services first, as cards; then every other one by category. */
function renderHome() {
  const featured = state.catalog.filter((e) => e.featured);
  $('featured-block').hidden = !featured.length;
  $('featured').replaceChildren(...featured.map(featuredCard));
  const groups = new Map();
  for (const entry of state.catalog.filter((e) => !e.featured)) {
    if (!groups.has(entry.category)) groups.set(entry.category, []);
    groups.get(entry.category).push(entry);
  }
  $('groups').replaceChildren(...[...groups].map(([category, entries]) => h('div', { class: 'group' },
    h('h2', { class: 'row-title' }, category),
    h('div', { class: 'tiles' }, entries.map(tile)))));
}

// --------------------------------------------------------------- services

function openService(id) {
  location.hash = `open/${encodeURIComponent(id)}`;
}

/** The service's own URL prefix, `/p/{id}/`. */
const serviceRoot = (id) => `/p/${encodeURIComponent(id)}/`;

/** `path` when it is a page of service `id` (after resolving `..`), or null. */
function servicePath(id, path) {
  const inside = sameOriginPath(path);
  if (!inside) return null;
  const url = new URL(inside, location.origin);
  return url.pathname.startsWith(serviceRoot(id)) ? url.pathname + url.search + url.hash : null;
}

/** Show service `id` in the frame, at `path` when it is one of its pages. */
function showService(id, path) {
  const entry = state.catalog.find((e) => e.id === id) ?? { id, name: id, url: serviceRoot(id) };
  state.open = entry;
  $('service-title').textContent = entry.name;
  const url = servicePath(id, path) ?? entry.url;
  const frame = $('service-frame');
  if (frame.dataset.src !== url) {
    frame.dataset.src = url;
    frame.src = url;
  }
  $('service').hidden = false;
  if (!state.catalog.length) loadCatalog();
}

function closeService() {
  state.open = null;
  $('service').hidden = true;
  const frame = $('service-frame');
  delete frame.dataset.src;
  frame.src = 'about:blank';
}

/**
 * Open a checkout page full screen, coming back to `back` (a shell address
 * such as `/#orders`) afterwards. Checkouts on this host get `return`; one
 * elsewhere (a real provider) is opened as it is.
 */
function openCheckout(checkoutUrl, back) {
  let url;
  try {
    url = new URL(checkoutUrl, location.origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.origin === location.origin) url.searchParams.set('return', back);
  location.assign(url.origin === location.origin ? url.pathname + url.search : url.href);
  return true;
}

const isCashier = (url) => url.origin === location.origin && url.pathname.startsWith('/pay/');

/**
 * A service page sends the citizen to the cashier by navigating its frame,
 * but the cashier may not be framed: take such navigations over (Navigation
 * API) and open the cashier full screen, returning to the page the service
 * asked for inside the shell.
 */
function watchFrame() {
  const frame = $('service-frame');
  frame.addEventListener('load', () => {
    let navigation;
    try {
      navigation = frame.contentWindow?.navigation;
    } catch {
      return; // not a page of this host
    }
    if (!navigation || navigation.isletWatched) return;
    navigation.isletWatched = true;
    navigation.addEventListener('navigate', (event) => {
      const open = state.open;
      if (!open || !event.cancelable || event.hashChange || event.downloadRequest) return;
      let url;
      try {
        url = new URL(event.destination.url);
      } catch {
        return;
      }
      if (!isCashier(url)) return;
      event.preventDefault();
      const asked = servicePath(open.id, url.searchParams.get('return'));
      const inside = asked ? `/${encodeURIComponent(asked)}` : '';
      openCheckout(url.href, `/#open/${encodeURIComponent(open.id)}${inside}`);
    });
  });
}

// ----------------------------------------------------------------- orders

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function getJson(path) {
  const headers = { accept: 'application/json' };
  if (token()) headers.authorization = `Bearer ${token()}`;
  const response = await fetch(path, { headers });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error?.code,
      data?.error?.message ?? `${response.status} ${response.statusText}`);
  }
  return data;
}

function ordersSay(text) {
  const el = $('orders-message');
  el.textContent = text;
  el.hidden = !text;
}

function orderRow(order) {
  const unpaid = order.status === 'created';
  const content = [
    h('span', { class: 'order-top' },
      h('span', { class: 'order-service', testid: 'order-service' }, order.service_name ?? order.plugin),
      h('span', { class: 'order-amount', testid: 'order-amount' }, yuan(order.amount_fen))),
    h('span', { class: 'order-desc', testid: 'order-description' }, order.description),
    h('span', { class: 'order-bottom' },
      h('span', { class: 'order-date', testid: 'order-date' },
        order.paid_at ? `Paid ${when(order.paid_at)}` : when(order.created_at),
        order.merchant_name ? ` · ${order.merchant_name}` : '',
        kindText(order.kind) ? ` · ${kindText(order.kind)}` : ''),
      h('span', { class: `badge status-${order.status}`, testid: 'order-status' }, STATUS_TEXT[order.status] ?? order.status)),
    order.refunded_fen > 0
      ? h('span', { class: 'order-refund', testid: 'order-refunded' }, `Refunded ${yuan(order.refunded_fen)}`)
      : null,
  ];
  const card = unpaid
    ? h('button', {
      type: 'button', class: 'order-card', testid: 'order-open',
      onclick: () => openCheckout(order.checkout_url, '/#orders'),
    }, content, h('span', { class: 'order-cta' }, `Pay ${yuan(order.amount_fen)} ›`))
    : h('div', { class: 'order-card' }, content);
  return h('li', { testid: 'order-row', 'data-order': order.id, 'data-status': order.status }, card);
}

function renderOrders() {
  const { list, next, loading } = state.orders;
  const signedIn = Boolean(token());
  $('orders-signin').hidden = signedIn;
  $('orders-empty').hidden = !signedIn || loading || list.length > 0 || !$('orders-message').hidden;
  $('orders-list').replaceChildren(...list.map(orderRow));
  const more = $('orders-more');
  more.hidden = !signedIn || !next;
  more.disabled = loading;
  more.textContent = loading && list.length ? 'Loading…' : 'Load more';
}

/** Load the first page again (`more`: the next page after the list). */
async function loadOrders(more = false) {
  const orders = state.orders;
  const generation = more ? orders.generation : ++orders.generation;
  if (!more) {
    orders.list = [];
    orders.next = null;
  }
  if (!token()) {
    orders.loading = false;
    ordersSay('');
    renderOrders();
    return;
  }
  orders.loading = true;
  ordersSay(more ? '' : 'Loading your orders…');
  renderOrders();
  const query = new URLSearchParams({ limit: String(ORDERS_PAGE) });
  if (more && orders.next) query.set('cursor', orders.next);
  try {
    const page = await getJson(`/api/v1/orders?${query}`);
    if (generation !== orders.generation) return;
    orders.list = orders.list.concat(page.orders);
    orders.next = page.next_cursor ?? null;
    ordersSay('');
  } catch (err) {
    if (generation !== orders.generation) return;
    ordersSay(err.status === 401
      ? `Your sign-in was not accepted (${err.message}). Sign in again in Me.`
      : `Your orders could not be loaded: ${err.message}`);
  }
  orders.loading = false;
  renderOrders();
}

// -------------------------------------------------------------- identity

function renderIdentity() {
  const claims = decodeClaims(token());
  const signedIn = Boolean(claims?.sub);
  const sub = claims?.sub ?? '';
  $('avatar').textContent = signedIn ? initial(sub) : '?';
  $('greeting').textContent = signedIn ? `Hello, ${sub}` : 'Welcome · not signed in';
  $('me-signed-in').hidden = !signedIn;
  $('me-form').hidden = signedIn;
  $('me-signout').hidden = !signedIn;
  $('me-avatar').textContent = initial(sub);
  $('me-sub').textContent = sub;
  const expires = claims?.exp ? new Date(claims.exp * 1000).toLocaleString() : 'unknown';
  $('me-detail').textContent = signedIn
    ? `Real-name level ${claims.assurance_level ?? 0} · token expires ${expires}`
    : '';
}

function signIn(value) {
  localStorage.setItem(TOKEN_KEY, value);
  renderIdentity();
  location.hash = 'home';
}

function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  state.orders = { list: [], next: null, loading: false, generation: state.orders.generation + 1 };
  renderIdentity();
}

// ---------------------------------------------------------------- routing

const decode = (part) => {
  try {
    return decodeURIComponent(part);
  } catch {
    return '';
  }
};

/** `#home`, `#inbox`, `#orders`, `#me`, `#open/<id>[/<encoded page path>]`. */
function route() {
  const [screen, id, path] = location.hash.replace(/^#/, '').split('/');
  if (screen === 'open' && id) {
    showService(decode(id), path ? decode(path) : null);
    return;
  }
  closeService();
  state.screen = SCREENS.includes(screen) ? screen : 'home';
  for (const name of SCREENS) $(`screen-${name}`).hidden = name !== state.screen;
  for (const button of document.querySelectorAll('.tabbar button')) {
    button.classList.toggle('active', button.dataset.screen === state.screen);
  }
  if (state.screen === 'home') loadCatalog();
  if (state.screen === 'orders') loadOrders();
}

function tick() {
  const now = new Date();
  $('clock').textContent = `${now.getHours()}:${String(now.getMinutes()).padStart(2, '0')}`;
}

function start() {
  for (const button of document.querySelectorAll('.tabbar button')) {
    button.addEventListener('click', () => { location.hash = button.dataset.screen; });
  }
  $('avatar').addEventListener('click', () => { location.hash = 'me'; });
  $('back').addEventListener('click', () => { location.hash = state.screen; });
  $('me-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('me-token').value.trim();
    if (value) signIn(value);
  });
  $('me-signout').addEventListener('click', signOut);
  $('orders-more').addEventListener('click', () => loadOrders(true));
  $('orders-signin-go').addEventListener('click', () => { location.hash = 'me'; });
  watchFrame();
  window.addEventListener('hashchange', route);
  window.addEventListener('storage', renderIdentity);
  tick();
  setInterval(tick, 30_000);
  renderIdentity();
  route();
}

start();
