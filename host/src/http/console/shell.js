// The demo app shell: a phone-like home screen listing the catalog
// (/api/v1/catalog) as tiles; a tile opens the mini-service's page
// (/p/{id}/) in a frame. The citizen's app token lives in localStorage
// under `islet_token`, out of the services' reach: their pages run
// sandboxed in origins of their own and get only a service session
// (/api/v1/sessions) that works on their own routes. A page asks the shell
// by message (/assets/islet.js) to show the platform's consent prompt or to
// open the cashier; the shell answers only the page it loaded in its frame
// for the service it opened (a fresh key in that page's fragment), and opens
// only the city cashier for an order of that service. The Orders tab lists the citizen's orders
// (/api/v1/orders). Checkout pages (the sandbox cashier at /pay/{id})
// refuse to be framed, so the shell opens them full screen and has them
// come back to the service.
//
// The Inbox tab lists the messages services sent with the citizen's
// consent (/api/v1/inbox) and stays live through Server-Sent Events
// (/api/v1/inbox/stream): a new message and the unread count arrive as they
// happen. Me → Privacy lists the citizen's consents by service, each with
// Withdraw (/api/v1/consents), and the data-access trail: which service
// read which personal data, when and why (/api/v1/me/data-access).
import { callApi, decodeClaims, h, kindText, sameOriginPath, tokenProblem } from './common.js';
import {
  clockNow, collator, dateTime, dateTimeMs, errorText, lang, languagePicker, money, since, t, translatePage,
} from './i18n.js';

const TOKEN_KEY = 'islet_token';
const SCREENS = ['home', 'inbox', 'orders', 'me'];
const ORDERS_PAGE = 20;
const INBOX_PAGE = 20;
const ACCESS_PAGE = 20;
/** Wait before opening the inbox stream again after it failed for good. */
const STREAM_RETRY_MS = 5_000;
/** An order's status for the citizen. */
const statusText = (status) => t(`shell.orders.status.${status}`);
const PALETTE = ['#0a7d5a', '#2563eb', '#c2410c', '#7c3aed', '#0e7490', '#b45309', '#be123c', '#4d7c0f'];

const state = {
  screen: 'home',
  catalog: [],
  open: null, // the catalog entry shown in the frame
  // What the shell answers in the frame: the page it loaded there for
  // service `id`, which got `key` in its fragment (null between pages).
  bridge: null,
  orders: { list: [], next: null, loading: false, generation: 0 },
  inbox: { list: [], next: null, loading: false, loaded: false, generation: 0, unread: 0 },
  stream: { source: null, token: '', retry: null },
  privacy: { consents: [], access: [], next: null, loading: false, generation: 0 },
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
    const data = await callApi(null, 'GET', `/api/v1/catalog?lang=${encodeURIComponent(lang)}`);
    state.catalog = Array.isArray(data?.plugins) ? data.plugins : [];
    say(state.catalog.length ? '' : t('shell.home.noServices'));
  } catch (err) {
    state.catalog = [];
    say(t('shell.home.loadFailed', { reason: errorText(err) }), loadCatalog);
  }
  renderHome();
  // Lists already shown name their services in the page language now.
  if (state.orders.list.length) renderOrders();
  if (state.inbox.list.length) renderInbox();
  if (state.privacy.consents.length || state.privacy.access.length) renderPrivacy();
  if (state.open) {
    const entry = state.catalog.find((e) => e.id === state.open.id);
    if (entry) $('service-title').textContent = entry.name;
  }
}

/**
 * Show `text` in the message area `id` ('' hides it); with `retry`, a
 * failure: the text and a button that tries again.
 */
function showMessage(id, text, retry) {
  const el = $(id);
  el.classList.toggle('failure', Boolean(retry));
  const parts = text ? [h('span', {}, text)] : [];
  if (text && retry) {
    parts.push(h('button', { type: 'button', class: 'small secondary retry', testid: `${id}-retry`, onclick: retry }, t('common.retry')));
  }
  el.replaceChildren(...parts);
  el.hidden = !text;
}

/**
 * The name of the service of `item` (an order, message, consent...) in the
 * page language: the catalog's, else the name the host gave.
 */
function serviceName(item) {
  return state.catalog.find((e) => e.id === item.plugin)?.name ?? item.service_name ?? item.plugin;
}

function say(text, retry) {
  showMessage('home-message', text, retry);
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

/** A catalog category in the page language (as the manifest says it when the catalogue has no name for it). */
function categoryName(category) {
  const key = `shell.category.${category}`;
  const text = t(key);
  return text === key ? category : text;
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
    h('h2', { class: 'row-title' }, categoryName(category)),
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

/**
 * A service session for `id`: a token that works on the service's own
 * routes only, for its sandboxed page (never the citizen's app token).
 */
async function openSession(id) {
  const session = await request('POST', '/api/v1/sessions', { plugin: id });
  return session.token;
}

/** Show service `id` in the frame, at `path` when it is one of its pages. */
async function showService(id, path) {
  const entry = state.catalog.find((e) => e.id === id) ?? { id, name: id, url: serviceRoot(id) };
  state.open = entry;
  $('service-title').textContent = entry.name;
  const url = servicePath(id, path) ?? entry.url;
  const frame = $('service-frame');
  $('service').hidden = false;
  if (!state.catalog.length) loadCatalog();
  if (frame.dataset.src === url) return;
  frame.dataset.src = url;
  serviceSay('');
  // The page still in the frame is no longer answered.
  state.bridge = null;
  const opening = (state.opening = (state.opening ?? 0) + 1);
  let session = '';
  if (token()) {
    try {
      session = await openSession(id);
    } catch (err) {
      if (err.status !== 401) serviceSay(failure(err, t('shell.what.service')));
    }
  }
  if (opening !== state.opening) return; // another service was opened meanwhile
  // The page takes the session and the bridge key from the fragment: they
  // never reach a server.
  const target = new URL(url, location.origin);
  const key = bridgeKey();
  const own = target.hash.replace(/^#/, '');
  const ours = `islet-bridge=${key}&islet-lang=${encodeURIComponent(lang)}`
    + `${session ? `&islet-session=${encodeURIComponent(session)}` : ''}`;
  target.hash = own ? `${own}&${ours}` : ours;
  state.bridge = { id, key };
  frame.src = target.pathname + target.search + target.hash;
}

/** A fresh random key binding the shell's answers to one page load. */
function bridgeKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Say `text` above the service's page ('' hides it). */
function serviceSay(text) {
  const el = $('service-message');
  el.textContent = text;
  el.hidden = !text;
}

function closeService() {
  state.open = null;
  state.bridge = null;
  serviceSay('');
  state.opening = (state.opening ?? 0) + 1;
  finishConsent({ ok: false, declined: true });
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
  if (url.origin === location.origin && !url.pathname.startsWith('/pay/')) return false;
  if (url.origin === location.origin) url.searchParams.set('return', back);
  location.assign(url.origin === location.origin ? url.pathname + url.search : url.href);
  return true;
}

// ------------------------------------------------------- the page bridge

/**
 * The consent prompt is the platform's: its words come from the service's
 * privacy notice (/api/v1/catalog/{id}/privacy), never from the page.
 */
const consent = { done: null, returnFocus: null };

function finishConsent(answer) {
  const done = consent.done;
  consent.done = null;
  const sheet = $('consent-sheet');
  const wasOpen = !sheet.hidden;
  sheet.hidden = true;
  // Focus goes back where it was (the service page) when the prompt closes.
  const back = consent.returnFocus;
  consent.returnFocus = null;
  if (wasOpen && back && document.contains(back) && !$('service').hidden) back.focus();
  if (done) done(answer);
}

/** The prompt's controls Tab moves between. */
function consentFocusables() {
  return [...$('consent-sheet').querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')]
    .filter((el) => !el.disabled && !el.hidden);
}

/** Open the prompt: it takes focus, keeps Tab inside, Escape says no. */
function openConsentSheet() {
  consent.returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  $('consent-sheet').hidden = false;
  $('consent-allow').disabled = false;
  $('consent-deny').focus();
}

function onConsentKey(event) {
  if ($('consent-sheet').hidden) return;
  if (event.key === 'Escape') {
    event.preventDefault();
    finishConsent({ ok: false, declined: true });
    return;
  }
  if (event.key !== 'Tab') return;
  const items = consentFocusables();
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  const inside = $('consent-sheet').contains(document.activeElement);
  if (event.shiftKey && (document.activeElement === first || !inside)) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
    event.preventDefault();
    first.focus();
  }
}

async function askConsent(entry, message) {
  if (!token()) return { ok: false, error: 'sign in to the city app first' };
  if (consent.done) return { ok: false, error: 'another question is already open' };
  const want = typeof message.item === 'string' ? { item: message.item }
    : typeof message.template === 'string' ? { template: message.template } : null;
  if (!want) return { ok: false, error: 'ask for an item or a template' };
  let notice;
  try {
    notice = await getJson(`/api/v1/catalog/${encodeURIComponent(entry.id)}/privacy`);
  } catch (err) {
    return { ok: false, error: err.message };
  }
  const asked = want.item
    ? notice.personal_data.find((d) => d.item === want.item)
    : notice.templates.find((t) => t.id === want.template);
  if (!asked) return { ok: false, error: `${notice.name} may not ask for that` };
  if (state.open !== entry || consent.done) return { ok: false, declined: true };
  $('consent-service').textContent = notice.name;
  $('consent-what').textContent = want.item
    ? t('consent.wantsItem', { item: itemLabel(asked.item, asked.label) })
    : t(asked.kind === 'long-term' ? 'consent.wantsMessagesLongTerm' : 'consent.wantsMessageOnce', { title: asked.title });
  $('consent-purpose').textContent = want.item ? t('consent.usedFor', { purpose: asked.purpose }) : '';
  openConsentSheet();
  const choice = await new Promise((resolve) => { consent.done = resolve; });
  if (!choice.ok) return choice;
  try {
    const given = await request('POST', '/api/v1/consents', { plugin: entry.id, ...want });
    return { ok: true, consent: given.id };
  } catch (err) {
    return { ok: false, error: err.message };
  }
}

/**
 * Why the shell will not answer bridge message `m` (or '' when it will):
 * only the page it loaded in its frame, for the service it opened, may ask.
 * That page runs sandboxed (origin `null`, its address unreadable from
 * here), so it proves where it was loaded with the key the shell put in
 * its fragment; a page it navigated to, a frame nested in it or another
 * window has no key, or is not the frame.
 */
function bridgeRefusal(event, m) {
  const entry = state.open;
  const bridge = state.bridge;
  if (!entry || !bridge || bridge.id !== entry.id) return 'no service page is open in the app';
  if (event.source !== $('service-frame').contentWindow || event.origin !== 'null') {
    return 'the app answers only the service page it opened';
  }
  if (m.service !== entry.id) return 'this page does not belong to the service the app opened';
  if (typeof m.bridge !== 'string' || m.bridge !== bridge.key) {
    return 'this page was not opened by the app';
  }
  return '';
}

/**
 * Requests of the service page in the frame. It runs sandboxed (origin
 * `null`), so it asks here for what only the platform may do.
 */
async function onFrameMessage(event) {
  const m = event.data;
  if (!m || typeof m !== 'object' || typeof m.id !== 'string' || typeof m.type !== 'string') return;
  if (!m.type.startsWith('islet:')) return;
  const source = event.source;
  if (!source || source === window) return;
  const reply = (answer) => source.postMessage({ ...answer, id: m.id }, '*');
  const refusal = bridgeRefusal(event, m);
  if (refusal) {
    reply({ ok: false, error: refusal });
    return;
  }
  const entry = state.open;
  const { key } = state.bridge;
  // Answers that took a while go only to the page that is still open.
  const still = () => state.open === entry && state.bridge?.key === key;
  if (m.type === 'islet:consent') {
    const answer = await askConsent(entry, m);
    reply(still() ? answer : { ok: false, declined: true });
  } else if (m.type === 'islet:session') {
    try {
      const session = await openSession(entry.id);
      reply(still() ? { ok: true, token: session } : { ok: false, error: 'the service was closed' });
    } catch (err) {
      reply({ ok: false, error: err.message });
    }
  } else if (m.type === 'islet:pay') {
    const back = servicePath(entry.id, typeof m.back === 'string' ? m.back : '');
    const inside = back ? `/${encodeURIComponent(back)}` : '';
    reply(await pay(entry, m.checkout_url, `/#open/${encodeURIComponent(entry.id)}${inside}`, still));
  }
}

/** The order of a cashier address of this host (`/pay/{order}`), or null. */
function cashierOrder(address) {
  if (typeof address !== 'string' || /[\u0000-\u0020\u007f\\]/.test(address)) return null;
  let url;
  try {
    url = new URL(address, location.origin);
  } catch {
    return null;
  }
  const found = /^\/pay\/([^/]+)$/.exec(url.pathname);
  if (url.origin !== location.origin || !found || url.search || url.hash) return null;
  try {
    return decodeURIComponent(found[1]);
  } catch {
    return null;
  }
}

/**
 * `islet.pay`: open the cashier for an order of service `entry`, coming
 * back to `back`. The page may only name the platform's own cashier
 * (`/pay/{order}` on this host) for one of the citizen's orders of this
 * very service; the shell then opens the checkout the platform gives for
 * that order, never an address of the page's. Anything else is refused
 * where the citizen sees it, and nothing opens.
 */
async function pay(entry, checkoutUrl, back, still) {
  const refuse = (why) => {
    if (still()) serviceSay(t('shell.service.payRefused', { service: entry.name, reason: why }));
    return { ok: false, error: `the payment page was refused: ${why}` };
  };
  const id = cashierOrder(checkoutUrl);
  if (!id) return refuse('it is not the city cashier');
  if (!token()) return refuse('sign in to the city app first');
  let order;
  try {
    order = await getJson(`/api/v1/orders/${encodeURIComponent(id)}`);
  } catch (err) {
    return refuse(err.status === 404 ? 'you have no such order' : err.message);
  }
  if (!still()) return { ok: false, error: 'the service was closed' };
  if (order?.plugin !== entry.id) return refuse('the order is not one of this service');
  return openCheckout(order.checkout_url, back) ? { ok: true } : refuse('the order has no checkout');
}

function watchFrame() {
  window.addEventListener('message', onFrameMessage);
  $('consent-allow').addEventListener('click', () => {
    $('consent-allow').disabled = true;
    finishConsent({ ok: true });
  });
  $('consent-deny').addEventListener('click', () => finishConsent({ ok: false, declined: true }));
  document.addEventListener('keydown', onConsentKey);
}

// ----------------------------------------------------------------- orders

/**
 * Call the JSON API with the citizen's token; a non-2xx answer throws. A
 * 401 means the token is no longer usable: the citizen is signed out and
 * told why.
 */
async function request(method, path, body) {
  const sent = token();
  try {
    return await callApi(sent, method, path, body);
  } catch (err) {
    if (err.status === 401 && sent && sent === token()) {
      const problem = tokenProblem(sent);
      endSignIn(problem === 'expired' ? t('shell.signin.expired') : t('shell.signin.rejected', { reason: errorText(err) }));
    }
    throw err;
  }
}

const getJson = (path) => request('GET', path);

/** What to say when a list of the citizen's own could not be loaded. */
function failure(err, what) {
  return err.status === 401
    ? t('shell.signin.notAccepted', { reason: errorText(err) })
    : t('common.loadFailed', { what, reason: errorText(err) });
}

function ordersSay(text, retry) {
  showMessage('orders-message', text, retry);
}

function orderRow(order) {
  const unpaid = order.status === 'created';
  const content = [
    h('span', { class: 'order-top' },
      h('span', { class: 'order-service', testid: 'order-service' }, serviceName(order)),
      h('span', { class: 'order-amount', testid: 'order-amount' }, money(order.amount_fen))),
    h('span', { class: 'order-desc', testid: 'order-description' }, order.description),
    h('span', { class: 'order-bottom' },
      h('span', { class: 'order-date', testid: 'order-date' },
        order.paid_at ? t('shell.orders.paidAt', { time: dateTime(order.paid_at) }) : dateTime(order.created_at),
        order.merchant_name ? ` · ${order.merchant_name}` : '',
        kindText(order.kind) ? ` · ${kindText(order.kind)}` : ''),
      h('span', { class: `badge status-${order.status}`, testid: 'order-status' }, statusText(order.status))),
    order.refunded_fen > 0
      ? h('span', { class: 'order-refund', testid: 'order-refunded' }, t('shell.orders.refunded', { amount: money(order.refunded_fen) }))
      : null,
  ];
  const card = unpaid
    ? h('button', {
      type: 'button', class: 'order-card', testid: 'order-open',
      onclick: () => openCheckout(order.checkout_url, '/#orders'),
    }, content, h('span', { class: 'order-cta' }, t('shell.orders.pay', { amount: money(order.amount_fen) })))
    : h('div', { class: 'order-card' }, content);
  return h('li', { testid: 'order-row', 'data-order': order.id, 'data-status': order.status }, card);
}

function renderOrders() {
  const { list, next, loading, failed } = state.orders;
  const signedIn = Boolean(token());
  $('orders-signin').hidden = signedIn;
  $('orders-empty').hidden = !signedIn || loading || failed || list.length > 0 || !$('orders-message').hidden;
  $('orders-list').replaceChildren(...list.map(orderRow));
  const more = $('orders-more');
  more.hidden = !signedIn || !next;
  more.disabled = loading;
  more.textContent = loading && list.length ? t('common.loading') : t('common.loadMore');
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
  orders.failed = false;
  ordersSay(more ? '' : t('shell.orders.loading'));
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
    orders.failed = true;
    ordersSay(failure(err, t('shell.what.orders')), err.status === 401 ? null : () => loadOrders(more));
  }
  orders.loading = false;
  renderOrders();
}

// ------------------------------------------------------------------ inbox

function inboxSay(text, retry) {
  showMessage('inbox-message', text, retry);
}

/**
 * The service page a message opens: its `link` is a path of the service
 * that sent it (`/p/{plugin}/…`, or `/…` below the service's root); null
 * when it has none or points anywhere else.
 */
function messagePath(message) {
  const link = sameOriginPath(message.link);
  if (!link || !message.plugin) return null;
  const path = link.startsWith(serviceRoot(message.plugin)) ? link : `/p/${encodeURIComponent(message.plugin)}${link}`;
  return servicePath(message.plugin, path);
}

function renderBadge() {
  const unread = token() ? state.inbox.unread : 0;
  const badge = $('inbox-badge');
  badge.textContent = unread > 99 ? '99+' : String(unread);
  badge.hidden = unread <= 0;
  const nav = document.querySelector('[data-testid="nav-inbox"]');
  nav.setAttribute('aria-label', unread > 0 ? t('shell.inbox.unreadLabel', { count: unread }) : t('shell.tabs.inbox'));
  document.title = unread > 0 ? `(${unread}) ${t('shell.title')}` : t('shell.title');
}

function messageRow(message) {
  const path = messagePath(message);
  const classes = ['message'];
  if (!message.read) classes.push('unread');
  if (message.fresh) classes.push('fresh');
  return h('li', {
    class: classes.join(' '), testid: 'inbox-row', 'data-message': message.id, 'data-read': String(Boolean(message.read)),
  },
  h('button', { type: 'button', class: 'message-card', testid: 'inbox-open', onclick: () => openMessage(message) },
    h('span', { class: 'message-top' },
      h('span', { class: 'message-service', testid: 'inbox-service' }, serviceName(message)),
      h('span', { class: 'message-time', testid: 'inbox-time', title: dateTimeMs(message.at_ms) },
        since(message.at_ms))),
    h('span', { class: 'message-title', testid: 'inbox-title' }, message.title),
    h('span', { class: 'message-body', testid: 'inbox-body' }, message.body),
    path ? h('span', { class: 'message-cta' }, t('shell.inbox.open')) : null));
}

function renderInbox() {
  const { list, next, loading, failed } = state.inbox;
  const signedIn = Boolean(token());
  $('inbox-signin').hidden = signedIn;
  $('inbox-empty').hidden = !signedIn || loading || failed || list.length > 0 || !$('inbox-message').hidden;
  $('inbox-list').replaceChildren(...(signedIn ? list.map(messageRow) : []));
  const more = $('inbox-more');
  more.hidden = !signedIn || !next;
  more.disabled = loading;
  more.textContent = loading && list.length ? t('common.loading') : t('common.loadMore');
}

/** Load the first page of messages again (`more`: the next page). */
async function loadInbox(more = false) {
  const inbox = state.inbox;
  const generation = more ? inbox.generation : ++inbox.generation;
  if (!token()) {
    inbox.loading = false;
    inboxSay('');
    renderInbox();
    return;
  }
  inbox.loading = true;
  inbox.failed = false;
  if (!more && !inbox.loaded) inboxSay(t('shell.inbox.loading'));
  renderInbox();
  const query = new URLSearchParams({ limit: String(INBOX_PAGE) });
  if (more && inbox.next) query.set('cursor', inbox.next);
  try {
    const page = await getJson(`/api/v1/inbox?${query}`);
    if (generation !== inbox.generation) return;
    const messages = Array.isArray(page.messages) ? page.messages : [];
    if (more) {
      const known = new Set(inbox.list.map((m) => m.id));
      inbox.list = inbox.list.concat(messages.filter((m) => !known.has(m.id)));
    } else {
      // Messages the stream brought while the page was on its way stay.
      const listed = new Set(messages.map((m) => m.id));
      inbox.list = inbox.list.filter((m) => m.live && !listed.has(m.id)).concat(messages);
    }
    inbox.next = page.next_cursor ?? null;
    if (Number.isSafeInteger(page.unread)) inbox.unread = page.unread;
    inbox.loaded = true;
    inboxSay('');
  } catch (err) {
    if (generation !== inbox.generation) return;
    inbox.failed = true;
    inboxSay(failure(err, t('shell.what.messages')), err.status === 401 ? null : () => loadInbox(more));
  }
  inbox.loading = false;
  renderInbox();
  renderBadge();
}

/** Mark `message` read (once) and open the service page it links to. */
function openMessage(message) {
  if (!message.read) {
    message.read = true;
    message.fresh = false;
    state.inbox.unread = Math.max(0, state.inbox.unread - 1);
    renderInbox();
    renderBadge();
    request('POST', `/api/v1/inbox/${encodeURIComponent(message.id)}/read`).then((answer) => {
      if (Number.isSafeInteger(answer?.unread)) {
        state.inbox.unread = answer.unread;
        renderBadge();
      }
    }, (err) => {
      message.read = false;
      state.inbox.unread += 1;
      renderInbox();
      renderBadge();
      inboxSay(t('shell.inbox.markFailed', { reason: errorText(err) }));
    });
  }
  const path = messagePath(message);
  if (path) location.hash = `open/${encodeURIComponent(message.plugin)}/${encodeURIComponent(path)}`;
}

/** A message the stream delivered: first in the list, counted unread. */
function receive(message) {
  const inbox = state.inbox;
  if (!message?.id || inbox.list.some((m) => m.id === message.id)) return;
  const entry = { ...message, live: true, fresh: !message.read };
  inbox.list.unshift(entry);
  if (!message.read) inbox.unread += 1;
  // Highlighted when it comes in, not again on every later render.
  setTimeout(() => { entry.fresh = false; }, 1500);
  renderInbox();
  renderBadge();
}

function parseData(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

function setLive(live) {
  $('inbox-live').hidden = !live;
}

/**
 * Keep the inbox live: an EventSource on the stream for the current token
 * (`unread` on connect and whenever the count changes, `message` for each
 * new message, `resync` when events were missed). The browser
 * reconnects by itself after a dropped connection; when the host refuses
 * the stream (closed for good), try again later with a longer wait.
 */
function connectStream() {
  const stream = state.stream;
  const current = token();
  if (stream.source && stream.token === current) return;
  disconnectStream();
  if (!current) return;
  const source = new EventSource(`/api/v1/inbox/stream?token=${encodeURIComponent(current)}`);
  stream.source = source;
  stream.token = current;
  stream.wait = stream.wait ?? STREAM_RETRY_MS;
  let opened = false;
  source.addEventListener('open', () => {
    stream.wait = STREAM_RETRY_MS;
    setLive(true);
    // Messages may have come while the connection was down.
    if (opened && state.inbox.loaded) loadInbox();
    opened = true;
  });
  source.addEventListener('unread', (event) => {
    const data = parseData(event);
    if (Number.isSafeInteger(data?.unread)) {
      state.inbox.unread = data.unread;
      renderBadge();
    }
  });
  source.addEventListener('message', (event) => receive(parseData(event)));
  // The host dropped events for this stream (it fell behind): reload.
  source.addEventListener('resync', () => {
    if (state.inbox.loaded) loadInbox();
  });
  source.addEventListener('error', () => {
    setLive(false);
    if (source.readyState !== EventSource.CLOSED || stream.source !== source) return;
    stream.source = null;
    stream.retry = setTimeout(() => {
      stream.retry = null;
      connectStream();
    }, stream.wait);
    stream.wait = Math.min(stream.wait * 2, 60_000);
  });
}

function disconnectStream() {
  const stream = state.stream;
  if (stream.retry) clearTimeout(stream.retry);
  stream.retry = null;
  stream.source?.close();
  stream.source = null;
  stream.token = '';
  setLive(false);
}

// ---------------------------------------------------------------- privacy

function privacySay(text, retry) {
  showMessage('privacy-message', text, retry);
}

/** A personal data item in the page language ("real name", "实名"). */
function itemLabel(item, label) {
  const key = `data.${item}`;
  const text = t(key);
  return text === key ? (label ?? item) : text;
}

function consentText(c) {
  if (c.type === 'data-item') {
    return {
      what: t('shell.privacy.yourItem', { item: itemLabel(c.item, c.label) }),
      detail: c.purpose ? t('consent.usedFor', { purpose: c.purpose }) : '',
    };
  }
  const left = c.remaining ?? 0;
  let mode = t('shell.privacy.untilWithdrawn');
  if (c.mode !== 'long-term') {
    mode = left > 0 ? t('shell.privacy.oneTimeLeft', { count: left }) : t('shell.privacy.oneTimeUsed');
  }
  return { what: t('shell.privacy.messages', { title: c.title ?? c.template }), detail: mode };
}

function consentRow(c) {
  const { what, detail } = consentText(c);
  const withdraw = h('button', {
    type: 'button', class: 'small danger', testid: 'consent-withdraw',
    onclick: () => withdrawConsent(c, withdraw),
  }, t('shell.privacy.withdraw'));
  return h('li', {
    class: 'consent-row', testid: 'consent-row', 'data-consent': c.id, 'data-type': c.type,
    'data-item': c.item ?? null, 'data-template': c.template ?? null,
  },
  h('span', { class: 'consent-text' },
    h('span', { class: 'consent-what', testid: 'consent-what' }, what),
    detail ? h('span', { class: 'consent-detail', testid: 'consent-detail' }, detail) : null,
    h('span', { class: 'consent-when' }, t('shell.privacy.allowedAt', { time: dateTimeMs(c.granted_ms) }))),
  withdraw);
}

function renderConsents() {
  const groups = new Map();
  for (const c of state.privacy.consents) {
    if (!groups.has(c.plugin)) groups.set(c.plugin, { name: serviceName(c), list: [] });
    groups.get(c.plugin).list.push(c);
  }
  const sorted = [...groups].sort(([, a], [, b]) => collator.compare(a.name, b.name));
  $('consents').replaceChildren(...sorted.map(([plugin, group]) => h('section', {
    class: 'consent-group', testid: 'consent-group', 'data-plugin': plugin,
  },
  h('div', { class: 'consent-service' }, icon({ name: group.name, category: plugin }, false), group.name),
  h('ul', { class: 'consent-list' }, group.list.map(consentRow)))));
  $('consents-empty').hidden = state.privacy.loading || state.privacy.failed || groups.size > 0;
}

function accessRow(entry) {
  return h('li', { class: 'access-row', testid: 'access-row', 'data-plugin': entry.plugin, 'data-item': entry.item },
    h('span', { class: 'access-top' },
      h('span', { class: 'access-service', testid: 'access-service' }, serviceName(entry)),
      h('span', { class: 'access-time', testid: 'access-time' }, dateTimeMs(entry.at_ms))),
    h('span', { class: 'access-what', testid: 'access-what' }, t('shell.privacy.read', { item: itemLabel(entry.item, entry.label) })),
    entry.purpose ? h('span', { class: 'access-purpose', testid: 'access-purpose' }, t('shell.privacy.why', { purpose: entry.purpose })) : null,
    h('span', { class: 'access-meta' }, t('shell.privacy.meta', { version: entry.version, request: entry.request_id })));
}

function renderPrivacy() {
  const signedIn = Boolean(token());
  $('privacy').hidden = !signedIn;
  if (!signedIn) return;
  renderConsents();
  const { access, next, loading, failed } = state.privacy;
  $('access-list').replaceChildren(...access.map(accessRow));
  $('access-empty').hidden = loading || failed || access.length > 0;
  const more = $('access-more');
  more.hidden = !next;
  more.disabled = loading;
  more.textContent = loading && access.length ? t('common.loading') : t('common.loadMore');
}

/** Load the consents and the first page of the trail (`more`: the next page of the trail). */
async function loadPrivacy(more = false) {
  const privacy = state.privacy;
  const generation = more ? privacy.generation : ++privacy.generation;
  if (!token()) {
    privacy.loading = false;
    renderPrivacy();
    return;
  }
  privacy.loading = true;
  privacy.failed = false;
  renderPrivacy();
  const query = new URLSearchParams({ limit: String(ACCESS_PAGE) });
  if (more && privacy.next) query.set('cursor', privacy.next);
  try {
    const [consents, trail] = await Promise.all([
      more ? null : getJson('/api/v1/consents'),
      getJson(`/api/v1/me/data-access?${query}`),
    ]);
    if (generation !== privacy.generation) return;
    if (consents) privacy.consents = Array.isArray(consents.consents) ? consents.consents : [];
    const entries = Array.isArray(trail.entries) ? trail.entries : [];
    privacy.access = more ? privacy.access.concat(entries) : entries;
    privacy.next = trail.next_cursor ?? null;
    if (!more) privacySay('');
  } catch (err) {
    if (generation !== privacy.generation) return;
    privacy.failed = !more;
    privacySay(failure(err, t('shell.what.privacy')), err.status === 401 ? null : () => loadPrivacy(more));
  }
  privacy.loading = false;
  renderPrivacy();
}

async function withdrawConsent(consent, button) {
  button.disabled = true;
  button.textContent = t('shell.privacy.withdrawing');
  try {
    await request('DELETE', `/api/v1/consents/${encodeURIComponent(consent.id)}`);
    state.privacy.consents = state.privacy.consents.filter((c) => c.id !== consent.id);
    const service = serviceName(consent);
    privacySay(consent.type === 'data-item'
      ? t('shell.privacy.withdrawnItem', { service, item: itemLabel(consent.item, consent.label) })
      : t('shell.privacy.withdrawnMessages', { service, title: consent.title ?? consent.template }));
    renderPrivacy();
  } catch (err) {
    button.disabled = false;
    button.textContent = t('shell.privacy.withdraw');
    privacySay(t('shell.privacy.withdrawFailed', { reason: errorText(err) }));
  }
}

// -------------------------------------------------------------- identity

function renderIdentity() {
  const claims = decodeClaims(token());
  const signedIn = Boolean(claims?.sub);
  const sub = claims?.sub ?? '';
  $('avatar').textContent = signedIn ? initial(sub) : '?';
  $('greeting').textContent = signedIn ? t('shell.greeting.hello', { name: sub }) : t('shell.greeting.welcome');
  $('me-signed-in').hidden = !signedIn;
  $('privacy').hidden = !signedIn;
  $('me-form').hidden = signedIn;
  $('me-signout').hidden = !signedIn;
  $('me-avatar').textContent = initial(sub);
  $('me-sub').textContent = sub;
  const expires = claims?.exp ? dateTime(claims.exp) : t('common.unknown');
  $('me-detail').textContent = signedIn
    ? t('shell.me.detail', { level: claims.assurance_level ?? 0, expires })
    : '';
  if (state.stream.token !== token()) {
    // Someone else's messages must not stay on screen.
    resetInbox();
    connectStream();
  }
  renderBadge();
}

function resetInbox() {
  state.inbox = { list: [], next: null, loading: false, loaded: false, generation: state.inbox.generation + 1, unread: 0 };
  state.privacy = { consents: [], access: [], next: null, loading: false, generation: state.privacy.generation + 1 };
  renderInbox();
}

/** Why a sign-in problem `kind` stops the token, for the citizen. */
function problemText(kind) {
  return t(kind === 'expired' ? 'shell.signin.expired' : 'shell.signin.unusable');
}

function signIn(value) {
  const problem = tokenProblem(value);
  const error = $('me-token-error');
  if (problem) {
    // Not stored: a citizen who pasted the wrong thing stays signed out.
    error.textContent = t(problem === 'expired' ? 'shell.signin.pastedExpired' : 'shell.signin.notAToken');
    error.hidden = false;
    $('me-token').setAttribute('aria-invalid', 'true');
    $('me-token').focus();
    return;
  }
  error.hidden = true;
  $('me-token').removeAttribute('aria-invalid');
  showReason('');
  localStorage.setItem(TOKEN_KEY, value);
  renderIdentity();
  location.hash = 'home';
}

function showReason(text) {
  const el = $('me-reason');
  el.textContent = text;
  el.hidden = !text;
}

/**
 * The token can no longer be used: forget it (and what was shown for it),
 * and show the sign-in form saying why.
 */
function endSignIn(reason) {
  localStorage.removeItem(TOKEN_KEY);
  state.orders = { list: [], next: null, loading: false, generation: state.orders.generation + 1 };
  privacySay('');
  renderIdentity();
  showReason(reason);
  $('me-token').value = '';
  if (!state.open) location.hash = 'me';
}

/** On load and when another tab changes it: a stored token must be usable. */
function checkStoredToken() {
  const stored = token();
  const problem = stored ? tokenProblem(stored) : null;
  if (problem) endSignIn(problemText(problem));
}

function signOut() {
  // End the services' sessions too (best effort: they expire anyway).
  if (token()) request('DELETE', '/api/v1/sessions').catch(() => {});
  localStorage.removeItem(TOKEN_KEY);
  showReason('');
  state.orders = { list: [], next: null, loading: false, generation: state.orders.generation + 1 };
  privacySay('');
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
  checkStoredToken();
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
  if (state.screen === 'inbox') loadInbox();
  if (state.screen === 'me') loadPrivacy();
}

function tick() {
  $('clock').textContent = clockNow();
  if (state.screen === 'inbox') renderInbox(); // "5 min ago" moves on
}

function start() {
  translatePage();
  $('language-slot').replaceWith(languagePicker());
  for (const button of document.querySelectorAll('.tabbar button')) {
    button.addEventListener('click', () => { location.hash = button.dataset.screen; });
  }
  $('avatar').addEventListener('click', () => { location.hash = 'me'; });
  $('back').addEventListener('click', () => { location.hash = state.screen; });
  $('me-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('me-token').value.trim();
    if (value) signIn(value);
    else {
      $('me-token-error').textContent = t('shell.signin.empty');
      $('me-token-error').hidden = false;
    }
  });
  $('me-signout').addEventListener('click', signOut);
  $('orders-more').addEventListener('click', () => loadOrders(true));
  $('orders-signin-go').addEventListener('click', () => { location.hash = 'me'; });
  $('inbox-more').addEventListener('click', () => loadInbox(true));
  $('inbox-signin-go').addEventListener('click', () => { location.hash = 'me'; });
  $('access-more').addEventListener('click', () => loadPrivacy(true));
  watchFrame();
  window.addEventListener('hashchange', route);
  window.addEventListener('storage', () => {
    checkStoredToken();
    renderIdentity();
  });
  tick();
  setInterval(tick, 30_000);
  checkStoredToken();
  renderIdentity();
  route();
  // Every screen names services as the catalog does.
  if (state.screen !== 'home' || state.open) loadCatalog();
}

start();
