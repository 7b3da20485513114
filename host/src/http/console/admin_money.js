// The console's screens for the money and the messages: merchants and the
// plugins they allow to charge, orders with their journal and payment
// events (redeliver), the daily reconciliation, notification deliveries
// (failed first, redeliver), usage per department and plugin with a chart,
// and the audit log with filters and paging. admin.js owns sign-in, the
// tabs and the routing; it calls renderMoney() on every render. Every
// string goes through tr(): the catalogue (window.isletI18n) when there is
// one, else the English text here (keys in i18n/money.*.json).
import { h, yuan } from './common.js';
import { barChart } from './chart.js';

/** The tabs (`#<tab>`) and sections (`view-<tab>`) of this module. */
export const MONEY_TABS = ['merchants', 'orders', 'reconciliation', 'deliveries', 'usage', 'audit'];

const PAGE = 50;
const AUDIT_PAGE = 50;
const ORDER_STATUSES = ['created', 'paid', 'partially-refunded', 'refunded', 'closed', 'expired'];
const DELIVERY_STATUSES = ['failed', 'pending', 'delivered'];
const enc = encodeURIComponent;
const $ = (id) => document.getElementById(id);

/**
 * A UI string: the catalogue's text for `key` when it has one, else
 * `english`; `{name}` placeholders are filled from `params`.
 */
export function tr(key, english, params) {
  let text = null;
  try {
    text = window.isletI18n?.t?.(key, params);
  } catch {
    text = null;
  }
  if (typeof text === 'string' && text && text !== key) return text;
  return english.replace(/\{(\w+)\}/g, (whole, name) =>
    (params && Object.hasOwn(params, name) ? String(params[name]) : whole));
}

// What admin.js handed over on the last render, and each screen's data.
let ctx = null;
let shown = { tab: null, token: null, hash: null };
/** Each screen's filters and data, as before anything was loaded. */
function freshScreens() {
  return {
    merchants: { data: null, error: null, loading: false, generation: 0 },
    orders: {
      filters: { plugin: '', status: '', date: '' },
      list: [], next: null, error: null, loading: false, generation: 0,
      detail: null, detailError: null, detailId: null,
    },
    reconciliation: { date: '', data: null, error: null, loading: false, generation: 0 },
    deliveries: { status: '', list: [], error: null, loading: false, generation: 0 },
    usage: { from: '', to: '', department: '', ranged: false, data: null, error: null, loading: false, generation: 0 },
    audit: {
      filters: { action: '', target: '', actor: '' },
      list: [], next: null, error: null, loading: false, generation: 0,
    },
  };
}
let screens = freshScreens();
// The business time zone, once an answer named it.
let zone = null;

// ---------------------------------------------------------------- helpers

function roles() {
  return Array.isArray(ctx?.claims?.roles) ? ctx.claims.roles : [];
}

/** Admins and reviewers may redeliver; operators only read. */
function canRedeliver() {
  return roles().includes('admin') || roles().includes('reviewer');
}

function lang() {
  return document.documentElement.lang || 'en';
}

/** Milliseconds since the epoch as a date and time in the business zone. */
function at(ms) {
  if (!ms) return '—';
  const options = { dateStyle: 'medium', timeStyle: 'medium' };
  try {
    return new Intl.DateTimeFormat(lang(), zone ? { ...options, timeZone: zone } : options).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}

/** `YYYY-MM-DD` plus `days` (calendar arithmetic, no time zone). */
function addDays(day, days) {
  const date = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return day;
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** Fen that may be negative (a net of refunds). */
function signedYuan(fen) {
  const n = Number(fen);
  return n < 0 ? `−${yuan(-n)}` : yuan(n);
}

function badge(text, kind, testid) {
  return h('span', { class: `badge ${kind ?? ''}`, testid }, text);
}

function count(n) {
  return new Intl.NumberFormat(lang()).format(n ?? 0);
}

function statusText(status) {
  return tr(`money.status.${status}`, {
    created: 'unpaid', paid: 'paid', 'partially-refunded': 'partly refunded', refunded: 'refunded',
    closed: 'closed', expired: 'expired', pending: 'pending', delivered: 'delivered', failed: 'failed',
    'no-handler': 'no handler',
  }[status] ?? status);
}

function statusBadge(status, testid) {
  const kind = {
    paid: 'ok', delivered: 'ok', created: 'info', pending: 'info', 'partially-refunded': 'warn',
    refunded: 'warn', 'no-handler': 'warn', failed: 'bad', closed: 'muted', expired: 'muted',
  }[status] ?? 'muted';
  return badge(statusText(status), kind, testid);
}

/** A table with a caption-less header row; `empty` when there are no rows. */
function table(testid, headers, rows, empty) {
  const body = rows.length ? rows : [h('tr', {}, h('td', { colspan: headers.length, class: 'muted empty', testid: `${testid}-empty` }, empty))];
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'grid', testid },
      h('thead', {}, h('tr', {}, headers.map(([text, cls]) => h('th', { class: cls ?? null, scope: 'col' }, text)))),
      h('tbody', {}, body)));
}

/** The message for a failed read: the roles, or the host's own words. */
function failure(err) {
  if (err?.status === 403) return tr('money.error.forbidden', 'Your roles do not allow this screen (it needs admin, reviewer or operator).');
  return `${err?.message ?? err} (${err?.code ?? 'error'})`;
}

function failureBox(err, retry, testid) {
  return h('div', { class: 'card money-failure', role: 'alert', testid },
    h('p', { class: 'bad-text' }, failure(err)),
    err?.status === 403 ? null : h('button', { type: 'button', class: 'small secondary', onclick: retry },
      tr('money.retry', 'Try again')));
}

function labelled(id, label, control) {
  control.id = id;
  return h('div', { class: 'field money-field' }, h('label', { for: id }, label), control);
}

function head(title, subtitle) {
  return h('div', { class: 'section-head' }, h('h1', {}, title),
    subtitle ? h('span', { class: 'muted' }, subtitle) : null);
}

/** Load with `fn`, keeping only the answer of the latest call per screen. */
async function load(screen, fn) {
  const generation = ++screen.generation;
  screen.loading = true;
  screen.error = null;
  draw();
  try {
    await fn(() => generation === screen.generation);
  } catch (err) {
    if (generation !== screen.generation) return;
    if (err?.status === 401) ctx?.handleError(err);
    screen.error = err;
  }
  if (generation === screen.generation) {
    screen.loading = false;
    draw();
  }
}

/** Run a change (redeliver), say what happened, then reload `after`. */
async function act(done, method, path, after) {
  try {
    await ctx.api(method, path);
    ctx.showNotice(done);
  } catch (err) {
    ctx.handleError(err);
  }
  after();
}

// -------------------------------------------------------------- merchants

function loadMerchants() {
  const s = screens.merchants;
  return load(s, async (current) => {
    const answer = await ctx.api('GET', '/admin/v1/merchants');
    if (current()) s.data = answer.merchants ?? [];
  });
}

function merchantsView() {
  const s = screens.merchants;
  const rows = (s.data ?? []).map((m) => h('tr', { testid: `merchant-row-${m.id}` },
    h('td', {}, h('strong', {}, m.name), h('div', { class: 'muted small' }, h('code', {}, m.id))),
    h('td', {}, m.department),
    h('td', { testid: 'merchant-plugins' }, (m.plugins ?? []).length
      ? m.plugins.map((p) => badge(p, 'info'))
      : h('span', { class: 'muted' }, tr('money.merchants.none', 'none'))),
    h('td', { class: 'nowrap' }, at(m.created_at * 1000))));
  return [
    head(tr('money.merchants.title', 'Merchants'),
      tr('money.merchants.subtitle', 'Merchant accounts and the services allowed to charge to them.')),
    s.error ? failureBox(s.error, loadMerchants, 'merchants-error') : table('merchants-table', [
      [tr('money.merchants.merchant', 'Merchant')], [tr('money.merchants.department', 'Department')],
      [tr('money.merchants.plugins', 'Services allowed to charge')], [tr('money.merchants.opened', 'Opened')],
    ], rows, s.loading ? tr('money.loading', 'Loading…') : tr('money.merchants.empty', 'No merchant account is open yet.')),
  ];
}

// ----------------------------------------------------------------- orders

function ordersQuery(cursor) {
  const f = screens.orders.filters;
  const q = new URLSearchParams({ limit: String(PAGE) });
  for (const key of ['plugin', 'status', 'date']) if (f[key]) q.set(key, f[key]);
  if (cursor) q.set('cursor', cursor);
  return q;
}

function loadOrders(more = false) {
  const s = screens.orders;
  return load(s, async (current) => {
    const page = await ctx.api('GET', `/admin/v1/orders?${ordersQuery(more ? s.next : null)}`);
    if (!current()) return;
    zone = page.time_zone ?? zone;
    s.list = more ? s.list.concat(page.orders ?? []) : (page.orders ?? []);
    s.next = page.next_cursor ?? null;
  });
}

async function loadOrder(id) {
  const s = screens.orders;
  s.detailId = id;
  s.detail = null;
  s.detailError = null;
  draw();
  try {
    const detail = await ctx.api('GET', `/admin/v1/orders/${enc(id)}`);
    if (s.detailId === id) s.detail = detail;
  } catch (err) {
    if (s.detailId === id) s.detailError = err;
  }
  draw();
}

function ordersFilters() {
  const f = screens.orders.filters;
  const plugin = h('input', { type: 'text', value: f.plugin, testid: 'orders-plugin', placeholder: tr('money.orders.any', 'any'), autocomplete: 'off' });
  const status = h('select', { testid: 'orders-status' },
    h('option', { value: '' }, tr('money.orders.anyStatus', 'any status')),
    ORDER_STATUSES.map((st) => h('option', { value: st, selected: st === f.status }, statusText(st))));
  const date = h('input', { type: 'date', value: f.date, testid: 'orders-date' });
  const apply = (event) => {
    event.preventDefault();
    Object.assign(f, { plugin: plugin.value.trim(), status: status.value, date: date.value });
    loadOrders();
  };
  return h('form', { class: 'money-filters', testid: 'orders-filters', onsubmit: apply },
    labelled('orders-plugin', tr('money.orders.plugin', 'Service (plugin id)'), plugin),
    labelled('orders-status', tr('money.orders.status', 'Status'), status),
    labelled('orders-date', tr('money.orders.date', 'Business day'), date),
    h('button', { type: 'submit', testid: 'orders-apply' }, tr('money.filter', 'Show')));
}

function orderRow(o) {
  const open = () => { location.hash = `orders/${o.id}`; };
  return h('tr', { testid: `order-row-${o.id}`, class: o.id === screens.orders.detailId ? 'selected' : null },
    h('td', {}, h('button', { type: 'button', class: 'link', testid: `order-open-${o.id}`, onclick: open }, h('code', {}, o.id))),
    h('td', {}, o.plugin),
    h('td', {}, o.request?.merchant ?? '—'),
    h('td', {}, o.request?.description ?? ''),
    h('td', { class: 'num' }, yuan(o.request?.amount_fen)),
    h('td', {}, statusBadge(o.status, 'order-status')),
    h('td', { class: 'nowrap' }, at(o.created_at * 1000)),
    h('td', { class: 'nowrap' }, o.paid_at ? at(o.paid_at * 1000) : '—'));
}

function ordersView() {
  const s = screens.orders;
  const empty = s.loading ? tr('money.loading', 'Loading…') : tr('money.orders.empty', 'No order matches these filters.');
  return [
    head(tr('money.orders.title', 'Orders'),
      tr('money.orders.subtitle', 'Oldest first. A business day lists the orders created, paid, refunded, closed or expired that day ({zone}).',
        { zone: zone ?? tr('money.zone.unknown', 'the city’s time zone') })),
    ordersFilters(),
    s.error ? failureBox(s.error, () => loadOrders(), 'orders-error') : table('orders-table', [
      [tr('money.orders.id', 'Order')], [tr('money.orders.service', 'Service')], [tr('money.orders.merchant', 'Merchant')],
      [tr('money.orders.description', 'For')], [tr('money.orders.amount', 'Amount'), 'num'],
      [tr('money.orders.status', 'Status')], [tr('money.orders.created', 'Created')], [tr('money.orders.paid', 'Paid')],
    ], s.list.map(orderRow), empty),
    s.next ? h('div', { class: 'actions' }, h('button', {
      type: 'button', class: 'small secondary', testid: 'orders-more', disabled: s.loading, onclick: () => loadOrders(true),
    }, tr('money.more', 'Load more'))) : null,
    orderDetail(),
  ];
}

function orderDetail() {
  const s = screens.orders;
  if (!s.detailId) return h('p', { class: 'muted hint' }, tr('money.orders.choose', 'Choose an order to see its journal and payment events.'));
  if (s.detailError) return failureBox(s.detailError, () => loadOrder(s.detailId), 'order-error');
  if (!s.detail) return h('p', { class: 'muted hint' }, tr('money.loading', 'Loading…'));
  const { order, journal, events } = s.detail;
  const facts = [
    [tr('money.orders.id', 'Order'), h('code', {}, order.id)],
    [tr('money.orders.service', 'Service'), order.plugin],
    [tr('money.orders.merchant', 'Merchant'), order.request?.merchant],
    [tr('money.orders.amount', 'Amount'), yuan(order.request?.amount_fen)],
    [tr('money.orders.status', 'Status'), statusBadge(order.status, 'order-detail-status')],
    [tr('money.orders.txn', 'Provider transaction'), order.provider_txn ?? '—'],
    [tr('money.orders.payer', 'Payer (pairwise)'), h('code', {}, order.payer ?? '—')],
  ];
  const journalRows = (journal ?? []).map((e) => h('tr', { testid: 'journal-row' },
    h('td', { class: 'nowrap' }, at(e.at * 1000)),
    h('td', {}, h('code', {}, e.event)),
    h('td', {}, e.by),
    h('td', { class: 'num' }, yuan(e.amount_fen)),
    h('td', {}, statusBadge(e.status))));
  const eventRows = (events ?? []).map((e) => h('tr', { testid: `event-row-${e.id}` },
    h('td', {}, h('code', { class: 'small' }, e.id)),
    h('td', {}, e.kind),
    h('td', { class: 'num' }, yuan(e.amount_fen)),
    h('td', {}, statusBadge(e.status, 'event-status')),
    h('td', { class: 'num' }, String(e.attempts)),
    h('td', { class: 'small' }, e.last_error ?? '—'),
    h('td', { class: 'nowrap' }, e.delivered_ms ? at(e.delivered_ms) : '—'),
    h('td', { class: 'actions-cell' }, canRedeliver() ? h('button', {
      type: 'button', class: 'small secondary', testid: `event-redeliver-${e.id}`,
      onclick: () => act(tr('money.events.redelivered', 'Queued payment event {id} again', { id: e.id }),
        'POST', `/admin/v1/payment-events/${enc(e.id)}/redeliver`, () => loadOrder(order.id)),
    }, tr('money.redeliver', 'Redeliver')) : null)));
  return h('section', { class: 'detail', testid: 'order-detail', 'aria-labelledby': 'order-detail-title' },
    h('div', { class: 'section-head' },
      h('h2', { id: 'order-detail-title' }, order.request?.description ?? order.id)),
    h('dl', { class: 'facts' }, facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')])),
    h('h2', { class: 'money-sub' }, tr('money.journal.title', 'Journal')),
    table('journal-table', [
      [tr('money.journal.when', 'When')], [tr('money.journal.event', 'What happened')], [tr('money.journal.by', 'By')],
      [tr('money.orders.amount', 'Amount'), 'num'], [tr('money.journal.after', 'Status after')],
    ], journalRows, tr('money.journal.empty', 'The journal is empty.')),
    h('h2', { class: 'money-sub' }, tr('money.events.title', 'Payment events delivered to the service')),
    table('events-table', [
      [tr('money.events.id', 'Event')], [tr('money.events.kind', 'Kind')], [tr('money.orders.amount', 'Amount'), 'num'],
      [tr('money.events.status', 'Delivery')], [tr('money.events.attempts', 'Attempts'), 'num'],
      [tr('money.events.error', 'Last error')], [tr('money.events.delivered', 'Delivered')],
      [tr('money.actions', 'Actions')],
    ], eventRows, tr('money.events.empty', 'No event was raised for this order.')));
}

// --------------------------------------------------------- reconciliation

function loadReconciliation() {
  const s = screens.reconciliation;
  return load(s, async (current) => {
    const q = s.date ? `?date=${enc(s.date)}` : '';
    const answer = await ctx.api('GET', `/admin/v1/reconciliation${q}`);
    if (!current()) return;
    s.data = answer;
    zone = answer.time_zone ?? zone;
    s.date = answer.date;
  });
}

function reconciliationView() {
  const s = screens.reconciliation;
  const date = h('input', { type: 'date', value: s.date, testid: 'recon-date' });
  const form = h('form', {
    class: 'money-filters', testid: 'recon-form',
    onsubmit: (event) => { event.preventDefault(); s.date = date.value; loadReconciliation(); },
  }, labelled('recon-date', tr('money.recon.date', 'Business day'), date),
  h('button', { type: 'submit', testid: 'recon-apply' }, tr('money.filter', 'Show')));
  const out = [
    head(tr('money.recon.title', 'Daily reconciliation'),
      tr('money.recon.subtitle', 'The ledger of one business day checked against the payment provider’s statement.')),
    form,
  ];
  if (s.error) return out.concat(failureBox(s.error, loadReconciliation, 'recon-error'));
  const d = s.data;
  if (!d) return out.concat(h('p', { class: 'muted hint' }, tr('money.loading', 'Loading…')));
  const mismatches = d.mismatches ?? [];
  out.push(h('div', { class: 'card money-summary', testid: 'recon-summary' },
    h('dl', { class: 'facts' },
      h('dt', {}, tr('money.recon.date', 'Business day')), h('dd', { testid: 'recon-day' }, d.date),
      h('dt', {}, tr('money.recon.zone', 'Time zone')), h('dd', { testid: 'recon-zone' }, d.time_zone ?? '—'),
      h('dt', {}, tr('money.recon.provider', 'Provider')), h('dd', {}, d.provider)),
    mismatches.length
      ? badge(tr('money.recon.mismatchCount', '{n} mismatches', { n: mismatches.length }), 'bad', 'recon-verdict')
      : badge(tr('money.recon.agree', 'The books agree'), 'ok', 'recon-verdict')));
  const rows = Object.entries(d.merchants ?? {}).map(([id, m]) => h('tr', { testid: `recon-merchant-${id}` },
    h('td', {}, h('code', {}, id)),
    h('td', { class: 'num' }, count(m.orders)),
    h('td', { class: 'num' }, count(m.paid_count)),
    h('td', { class: 'num', testid: 'recon-paid' }, yuan(m.paid_fen)),
    h('td', { class: 'num' }, count(m.refund_count)),
    h('td', { class: 'num' }, yuan(m.refunded_fen)),
    h('td', { class: 'num' }, count(m.closed_or_expired)),
    h('td', { class: 'num' }, signedYuan(m.net_fen))));
  out.push(h('h2', { class: 'money-sub' }, tr('money.recon.merchants', 'Per merchant')),
    table('recon-merchants', [
      [tr('money.orders.merchant', 'Merchant')], [tr('money.recon.orders', 'Orders created'), 'num'],
      [tr('money.recon.paidCount', 'Payments'), 'num'], [tr('money.recon.paid', 'Paid'), 'num'],
      [tr('money.recon.refundCount', 'Refunds'), 'num'], [tr('money.recon.refunded', 'Refunded'), 'num'],
      [tr('money.recon.closed', 'Closed or expired'), 'num'], [tr('money.recon.net', 'Net'), 'num'],
    ], rows, tr('money.recon.quiet', 'No money moved on this day.')));
  const problems = mismatches.map((m) => h('tr', { testid: 'recon-mismatch' },
    h('td', {}, h('code', {}, m.order_id || '—')),
    h('td', {}, h('code', {}, m.txn_id ?? '—')),
    h('td', {}, m.problem)));
  out.push(h('h2', { class: 'money-sub' }, tr('money.recon.mismatches', 'Mismatches')),
    table('recon-mismatches', [
      [tr('money.orders.id', 'Order')], [tr('money.orders.txn', 'Provider transaction')], [tr('money.recon.problem', 'What differs')],
    ], problems, tr('money.recon.none', 'None: the provider, the notifications and the ledger agree.')));
  return out;
}

// ------------------------------------------------------------- deliveries

function loadDeliveries() {
  const s = screens.deliveries;
  return load(s, async (current) => {
    const q = new URLSearchParams({ limit: '200' });
    if (s.status) q.set('status', s.status);
    const answer = await ctx.api('GET', `/admin/v1/notification-deliveries?${q}`);
    if (!current()) return;
    const order = (e) => (e.status === 'failed' ? 0 : e.status === 'pending' ? 1 : 2);
    // Failed first, then pending, then delivered; newest first in each.
    s.list = (answer.deliveries ?? []).slice()
      .sort((a, b) => order(a) - order(b) || (b.delivery?.at_ms ?? 0) - (a.delivery?.at_ms ?? 0));
  });
}

function deliveriesView() {
  const s = screens.deliveries;
  const status = h('select', { testid: 'deliveries-status' },
    h('option', { value: '' }, tr('money.deliveries.all', 'all (failed first)')),
    DELIVERY_STATUSES.map((st) => h('option', { value: st, selected: st === s.status }, statusText(st))));
  const form = h('form', {
    class: 'money-filters', testid: 'deliveries-form',
    onsubmit: (event) => { event.preventDefault(); s.status = status.value; loadDeliveries(); },
  }, labelled('deliveries-status', tr('money.deliveries.status', 'Status'), status),
  h('button', { type: 'submit', testid: 'deliveries-apply' }, tr('money.filter', 'Show')));
  const rows = s.list.map((e) => {
    const d = e.delivery ?? {};
    return h('tr', { testid: `delivery-row-${d.id}`, class: e.status === 'failed' ? 'money-failed' : null },
      h('td', {}, h('strong', {}, d.title ?? d.template), h('div', { class: 'muted small' }, h('code', {}, d.id))),
      h('td', {}, d.plugin),
      h('td', {}, e.channel),
      h('td', {}, statusBadge(e.status, 'delivery-status')),
      h('td', { class: 'num' }, String(e.attempts)),
      h('td', { class: 'small' }, e.last_error ?? '—'),
      h('td', { class: 'nowrap' }, at(d.at_ms)),
      h('td', { class: 'actions-cell' }, canRedeliver() && e.status !== 'pending' ? h('button', {
        type: 'button', class: 'small secondary', testid: `delivery-redeliver-${d.id}`,
        onclick: () => act(tr('money.deliveries.redelivered', 'Queued message {id} again', { id: d.id }),
          'POST', `/admin/v1/notification-deliveries/${enc(e.channel)}/${enc(d.id)}/redeliver`, loadDeliveries),
      }, tr('money.redeliver', 'Redeliver')) : null));
  });
  return [
    head(tr('money.deliveries.title', 'Notification deliveries'),
      tr('money.deliveries.subtitle', 'Messages on their way through outbound channels (webhook, SMS): failed first.')),
    form,
    s.error ? failureBox(s.error, loadDeliveries, 'deliveries-error') : table('deliveries-table', [
      [tr('money.deliveries.message', 'Message')], [tr('money.orders.service', 'Service')],
      [tr('money.deliveries.channel', 'Channel')], [tr('money.deliveries.status', 'Status')],
      [tr('money.events.attempts', 'Attempts'), 'num'], [tr('money.events.error', 'Last error')],
      [tr('money.deliveries.sent', 'Sent')], [tr('money.actions', 'Actions')],
    ], rows, s.loading ? tr('money.loading', 'Loading…') : tr('money.deliveries.empty', 'No outbound delivery yet.')),
  ];
}

// ------------------------------------------------------------------ usage

function loadUsage() {
  const s = screens.usage;
  return load(s, async (current) => {
    const q = new URLSearchParams();
    if (s.from) q.set('from', s.from);
    if (s.to) q.set('to', s.to);
    if (s.department) q.set('department', s.department);
    const answer = await ctx.api('GET', `/admin/v1/usage?${q}`);
    if (!current()) return;
    s.data = answer;
    zone = answer.time_zone ?? zone;
    s.from = answer.from;
    s.to = answer.to;
  });
}

/** Days from `from` to `to` inclusive (`YYYY-MM-DD`, at most a year). */
function daysBetween(from, to) {
  const out = [];
  const day = new Date(`${from}T00:00:00Z`);
  const last = new Date(`${to}T00:00:00Z`);
  while (day <= last && out.length < 400) {
    out.push(day.toISOString().slice(0, 10));
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return out;
}

function usageView() {
  const s = screens.usage;
  const from = h('input', { type: 'date', value: s.from, testid: 'usage-from' });
  const to = h('input', { type: 'date', value: s.to, testid: 'usage-to' });
  const department = h('input', { type: 'text', value: s.department, testid: 'usage-department', placeholder: tr('money.usage.allDepartments', 'all'), autocomplete: 'off' });
  const form = h('form', {
    class: 'money-filters', testid: 'usage-form',
    onsubmit: (event) => {
      event.preventDefault();
      Object.assign(s, { from: from.value, to: to.value, department: department.value.trim() });
      loadUsage();
    },
  }, labelled('usage-from', tr('money.usage.from', 'From'), from),
  labelled('usage-to', tr('money.usage.to', 'To (inclusive)'), to),
  labelled('usage-department', tr('money.usage.department', 'Department'), department),
  h('button', { type: 'submit', testid: 'usage-apply' }, tr('money.filter', 'Show')));
  const out = [
    head(tr('money.usage.title', 'Usage'),
      tr('money.usage.subtitle', 'Calls, errors and CPU per department and service, by business day.')),
    form,
  ];
  if (s.error) return out.concat(failureBox(s.error, loadUsage, 'usage-error'));
  const d = s.data;
  if (!d) return out.concat(h('p', { class: 'muted hint' }, tr('money.loading', 'Loading…')));
  const rows = d.rows ?? [];
  const days = daysBetween(d.from, d.to);
  const departments = [...new Set(rows.map((r) => r.department))].sort();
  const series = departments.map((dep) => ({
    name: dep,
    values: days.map((day) => rows.filter((r) => r.day === day && r.department === dep)
      .reduce((sum, r) => sum + r.calls, 0)),
  }));
  const title = tr('money.usage.chartTitle', 'Calls per day by department, {from} to {to} ({zone})',
    { from: d.from, to: d.to, zone: d.time_zone ?? '' });
  out.push(h('figure', { class: 'card money-chart', testid: 'usage-chart' },
    barChart({ labels: days, series, title, id: 'usage-chart-svg' }),
    h('figcaption', { class: 'muted small' }, title)));
  const byPlugin = new Map();
  for (const r of rows) {
    const key = `${r.department}\u0000${r.plugin}`;
    const t = byPlugin.get(key) ?? { department: r.department, plugin: r.plugin, calls: 0, errors: 0, rejected: 0, cpu_us: 0 };
    t.calls += r.calls;
    t.errors += r.errors;
    t.rejected += r.rejected;
    t.cpu_us += r.cpu_us;
    byPlugin.set(key, t);
  }
  const numbers = (t) => [
    h('td', { class: 'num' }, count(t.calls)), h('td', { class: 'num' }, count(t.errors)),
    h('td', { class: 'num' }, count(t.rejected)), h('td', { class: 'num' }, `${count(Math.round(t.cpu_us / 1000))} ms`),
  ];
  const headers = (first) => [first, [tr('money.usage.calls', 'Calls'), 'num'], [tr('money.usage.errors', 'Errors'), 'num'],
    [tr('money.usage.rejected', 'Rejected'), 'num'], [tr('money.usage.cpu', 'CPU'), 'num']];
  const empty = tr('money.usage.empty', 'No calls in this range.');
  out.push(h('h2', { class: 'money-sub' }, tr('money.usage.perDepartment', 'Per department')),
    table('usage-departments', headers([tr('money.merchants.department', 'Department')]),
      Object.entries(d.totals_by_department ?? {}).map(([dep, t]) => h('tr', { testid: `usage-department-${dep}` },
        h('td', {}, dep), numbers(t))), empty),
    h('h2', { class: 'money-sub' }, tr('money.usage.perPlugin', 'Per service')),
    table('usage-plugins', [[tr('money.merchants.department', 'Department')], ...headers([tr('money.orders.service', 'Service')])],
      [...byPlugin.values()].map((t) => h('tr', { testid: `usage-plugin-${t.plugin}` },
        h('td', {}, t.department), h('td', {}, t.plugin), numbers(t))), empty));
  return out;
}

// ------------------------------------------------------------------ audit

function loadAudit(more = false) {
  const s = screens.audit;
  return load(s, async (current) => {
    const q = new URLSearchParams({ limit: String(AUDIT_PAGE) });
    for (const key of ['action', 'target', 'actor']) if (s.filters[key]) q.set(key, s.filters[key]);
    if (more && s.next) q.set('cursor', s.next);
    const page = await ctx.api('GET', `/admin/v1/audit?${q}`);
    if (!current()) return;
    s.list = more ? s.list.concat(page.entries ?? []) : (page.entries ?? []);
    s.next = page.next_cursor ?? null;
  });
}

function auditView() {
  const s = screens.audit;
  const input = (key, label) => {
    const el = h('input', { type: 'text', value: s.filters[key], testid: `audit-${key}`, autocomplete: 'off' });
    return [el, labelled(`audit-${key}`, label, el)];
  };
  const [action, actionField] = input('action', tr('money.audit.action', 'Action (e.g. plugin.release)'));
  const [target, targetField] = input('target', tr('money.audit.target', 'Target'));
  const [actor, actorField] = input('actor', tr('money.audit.actor', 'Who'));
  const form = h('form', {
    class: 'money-filters', testid: 'audit-filters',
    onsubmit: (event) => {
      event.preventDefault();
      Object.assign(s.filters, { action: action.value.trim(), target: target.value.trim(), actor: actor.value.trim() });
      loadAudit();
    },
  }, actionField, targetField, actorField, h('button', { type: 'submit', testid: 'audit-apply' }, tr('money.filter', 'Show')));
  const describe = ctx.describeChange ?? (() => '');
  const rows = s.list.map((e) => h('tr', { testid: 'audit-row' },
    h('td', { class: 'nowrap' }, at(e.at_ms)),
    h('td', { class: 'nowrap' }, e.actor),
    h('td', { class: 'nowrap' }, h('code', {}, e.action)),
    h('td', { class: 'nowrap' }, e.target),
    h('td', {}, describe(e.before, e.after))));
  return [
    head(tr('money.audit.title', 'Audit log'),
      tr('money.audit.subtitle', 'Admin actions, breaker changes and redeliveries, newest first.')),
    form,
    s.error ? failureBox(s.error, () => loadAudit(), 'audit-error') : table('audit-table', [
      [tr('money.journal.when', 'When')], [tr('money.audit.actor', 'Who')], [tr('money.audit.actionShort', 'Action')],
      [tr('money.audit.target', 'Target')], [tr('money.audit.change', 'Change')],
    ], rows, s.loading ? tr('money.loading', 'Loading…') : tr('money.audit.empty', 'Nothing matches these filters.')),
    s.next ? h('div', { class: 'actions' }, h('button', {
      type: 'button', class: 'small secondary', testid: 'audit-more', disabled: s.loading, onclick: () => loadAudit(true),
    }, tr('money.more', 'Load more'))) : null,
  ];
}

// ------------------------------------------------------- render and route

const VIEWS = {
  merchants: merchantsView,
  orders: ordersView,
  reconciliation: reconciliationView,
  deliveries: deliveriesView,
  usage: usageView,
  audit: auditView,
};

const LOADERS = {
  merchants: loadMerchants,
  orders: () => loadOrders(),
  reconciliation: loadReconciliation,
  deliveries: loadDeliveries,
  usage: async () => {
    const s = screens.usage;
    await loadUsage();
    // The first time: today in the business time zone (the host's default
    // day), then the week up to it.
    if (s.data && !s.ranged) {
      s.ranged = true;
      Object.assign(s, { from: addDays(s.data.to, -6), to: s.data.to });
      await loadUsage();
    }
  },
  audit: () => loadAudit(),
};

const TAB_LABELS = {
  merchants: ['money.tab.merchants', 'Merchants'],
  orders: ['money.tab.orders', 'Orders'],
  reconciliation: ['money.tab.reconciliation', 'Reconciliation'],
  deliveries: ['money.tab.deliveries', 'Deliveries'],
  usage: ['money.tab.usage', 'Usage'],
};

/** The labels of this module's tabs, in the page's language. */
function labelTabs() {
  for (const [tab, [key, english]] of Object.entries(TAB_LABELS)) {
    const button = document.querySelector(`.tab[data-tab="${tab}"]`);
    if (button) button.textContent = tr(key, english);
  }
}

/** Draw the screen on show (keeping focus where the user was typing). */
function draw() {
  if (!ctx || !MONEY_TABS.includes(ctx.tab)) return;
  const section = $(`view-${ctx.tab}`);
  if (!section) return;
  const focused = document.activeElement?.dataset?.testid;
  section.replaceChildren(...VIEWS[ctx.tab]().flat().filter(Boolean));
  if (focused && section.querySelector(`[data-testid="${focused}"]`)) {
    section.querySelector(`[data-testid="${focused}"]`).focus();
  }
}

/**
 * Called by admin.js on every render with `{tab, token, claims, api,
 * handleError, showNotice, describeChange}`: loads a screen when it is
 * shown (or the token changed) and draws it.
 */
export function renderMoney(next) {
  ctx = next;
  labelTabs();
  if (!ctx.token) {
    // Signed out: nothing of the last reader stays on the page.
    shown = { tab: null, token: null, hash: null };
    screens = freshScreens();
    for (const tab of MONEY_TABS) $(`view-${tab}`)?.replaceChildren();
    return;
  }
  if (!MONEY_TABS.includes(ctx.tab)) {
    shown.tab = ctx.tab;
    return;
  }
  const hash = location.hash;
  const changed = shown.tab !== ctx.tab || shown.token !== ctx.token;
  const hashChanged = shown.hash !== hash;
  shown = { tab: ctx.tab, token: ctx.token, hash };
  if (changed) LOADERS[ctx.tab]();
  if (ctx.tab === 'orders' && (changed || hashChanged)) {
    const id = decodeURIComponent(hash.replace(/^#orders\/?/, ''));
    if (id) loadOrder(id);
    else Object.assign(screens.orders, { detailId: null, detail: null, detailError: null });
  }
  draw();
}

// The console's Refresh button reloads the screen shown.
document.getElementById('refresh')?.addEventListener('click', () => {
  if (ctx?.token && MONEY_TABS.includes(ctx.tab)) {
    LOADERS[ctx.tab]();
    if (ctx.tab === 'orders' && screens.orders.detailId) loadOrder(screens.orders.detailId);
  }
});
