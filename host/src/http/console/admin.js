// The Islet admin console: plain DOM, fetch and the admin JSON API of this
// host (/admin/v1). No framework and no build step. The token stays in
// sessionStorage; every element a test clicks carries a data-testid.
import { ApiError, callApi, decodeClaims, h } from './common.js';
import { MONEY_TABS, renderMoney } from './admin_money.js';

const TOKEN_KEY = 'islet_admin_token';
const TABS = ['plugins', 'review', ...MONEY_TABS];
const CAPABILITY_HELP = {
  identity: 'who is calling: a pairwise id, assurance level and roles',
  storage: 'its own key-value storage, within its quota',
  log: 'log lines in the host log',
  payment: 'orders on the merchant accounts it was allowed to charge to',
  notification: 'messages to citizens who consented, with approved templates',
};
const DATA_ITEM_LABEL = {
  'real-name': 'real name',
  'national-id': 'national ID number',
  phone: 'phone number',
  email: 'e-mail address',
  'legal-person': 'company (social credit code)',
};
const TEMPLATE_KIND = { 'one-time': 'one-time', 'long-term': 'long-term' };
const TRAIL_PAGE = 20;

const state = {
  token: null,
  claims: null,
  tab: 'plugins',
  selected: null,
  plugins: [],
  queue: [],
  usage: null, // today's usage report, or null when the roles may not read it
  // The data-access trail of the selected plugin.
  trail: { plugin: null, entries: [], next: null, loading: false, error: null, generation: 0 },
};

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

// ---------------------------------------------------------------- helpers



function roles() {
  return Array.isArray(state.claims?.roles) ? state.claims.roles : [];
}

function canReview() {
  return roles().includes('admin') || roles().includes('reviewer');
}

function canUpload(department) {
  return roles().includes('admin') || roles().includes(`developer:${department}`);
}

function formatBytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function formatTime(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function parseTesters(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

function badge(text, kind, testid) {
  return h('span', { class: `badge ${kind ?? ''}`, testid }, text);
}

/** What a version was granted, in one line: capabilities, data, templates. */
function grantsText(grants) {
  if (!grants) return '—';
  const parts = [(grants.capabilities ?? []).join(', ') || 'nothing'];
  if (grants.personal_data?.length) parts.push(`data ${grants.personal_data.join(', ')}`);
  if (grants.templates?.length) parts.push(`templates ${grants.templates.join(', ')}`);
  if (grants.long_term_messages) parts.push('long-term messages');
  return parts.join('; ');
}

// -------------------------------------------------------------------- API

/** Call the admin API with the signed-in token. */
function api(method, path, body) {
  return callApi(state.token, method, path, body);
}

/** A read the caller's roles may not allow: null instead of a 403. */
async function optional(promise) {
  try {
    return await promise;
  } catch (err) {
    if (err.status === 403) return null;
    throw err;
  }
}

async function reload() {
  const [plugins, queue, usage] = await Promise.all([
    api('GET', '/admin/v1/plugins'),
    api('GET', '/admin/v1/review-queue'),
    optional(api('GET', '/admin/v1/usage')),
  ]);
  state.plugins = plugins.plugins;
  state.queue = queue.queue;
  state.usage = usage;
  render();
}

// ------------------------------------------------------ messages, actions

function showError(err) {
  const el = $('error');
  el.textContent = err instanceof ApiError ? `${err.message} (${err.code})` : String(err);
  el.hidden = false;
  $('notice').hidden = true;
}

function showNotice(text) {
  const el = $('notice');
  el.textContent = text;
  el.hidden = false;
  $('error').hidden = true;
}

function clearMessages() {
  $('error').hidden = true;
  $('notice').hidden = true;
}

function handleError(err) {
  if (err.status === 401) signOut();
  showError(err);
}

/** Run one change through the API, reload, and say what happened. */
async function act(done, method, path, body) {
  const main = document.querySelector('main');
  main.inert = true;
  try {
    await api(method, path, body);
    await reload();
    showNotice(done);
  } catch (err) {
    handleError(err);
  } finally {
    main.inert = false;
  }
}

function pluginAction(p, action, done, body) {
  return act(done, 'POST', `/admin/v1/plugins/${enc(p.id)}/${action}`, body);
}

function versionAction(plugin, version, action, done, body) {
  return act(done, 'POST',
    `/admin/v1/plugins/${enc(plugin)}/versions/${enc(version)}/${action}`, body);
}

// ------------------------------------------------------ sign in and out

async function signIn(token) {
  state.token = token;
  state.claims = decodeClaims(token);
  try {
    await reload();
    sessionStorage.setItem(TOKEN_KEY, token);
    clearMessages();
  } catch (err) {
    signOut();
    showError(err);
  }
}

function signOut() {
  state.token = null;
  state.claims = null;
  state.plugins = [];
  state.queue = [];
  state.trail = { plugin: null, entries: [], next: null, loading: false, error: null, generation: state.trail.generation + 1 };
  sessionStorage.removeItem(TOKEN_KEY);
  render();
}

// ------------------------------------------------------------- rendering

function render() {
  const signedIn = Boolean(state.token);
  $('signin').hidden = signedIn;
  $('tabs').hidden = !signedIn;
  $('whoami').hidden = !signedIn;
  for (const tab of TABS) $(`view-${tab}`).hidden = !signedIn || state.tab !== tab;
  for (const button of document.querySelectorAll('.tab')) {
    button.classList.toggle('active', button.dataset.tab === state.tab);
  }
  // The money, messages, usage and audit screens (admin_money.js).
  renderMoney({
    tab: state.tab, token: state.token, claims: state.claims, api, handleError, showNotice, describeChange,
  });
  if (!signedIn) return;
  renderWhoami();
  renderPlugins();
  renderDetail();
  renderQueue();
}

function renderWhoami() {
  const sub = state.claims?.sub ?? 'unknown';
  $('whoami-sub').textContent = sub;
  const list = roles().length ? roles().map((r) => badge(r, 'role')) : [badge('no roles', 'muted')];
  if (!canReview()) list.push(badge('read only', 'warn'));
  $('whoami-roles').replaceChildren(...list);
  const count = state.queue.length;
  $('review-count').textContent = count ? String(count) : '';
}

// Plugins table ----------------------------------------------------------

/** Today's calls, errors and CPU of a plugin (or one of its versions). */
function usageOf(pluginId, version) {
  if (!state.usage) return null;
  const total = { calls: 0, errors: 0, rejected: 0, cpu_us: 0 };
  for (const row of state.usage.rows) {
    if (row.plugin !== pluginId || (version && row.version !== version)) continue;
    total.calls += row.calls;
    total.errors += row.errors;
    total.rejected += row.rejected;
    total.cpu_us += row.cpu_us;
  }
  return total;
}

function grayText(p) {
  if (!p.gray) return '—';
  const testers = p.gray.testers.length;
  const extra = testers ? ` + ${testers} tester${testers === 1 ? '' : 's'}` : '';
  return `${p.gray.version} · ${p.gray.percent}%${extra}`;
}

function availability(p) {
  const out = [];
  if (p.taken_down) out.push(badge('taken down', 'bad', 'availability'));
  else if (p.status === 'failed') out.push(badge('failed to load', 'bad', 'availability'));
  else if (p.status === 'not-released') out.push(badge('not released', 'muted', 'availability'));
  else out.push(badge('live', 'ok', 'availability'));
  if (p.curation?.hidden) out.push(badge('hidden', 'muted'));
  if (p.curation?.featured) out.push(badge('featured', 'info'));
  return out;
}

function breakerBadge(breaker) {
  if (!breaker) return '—';
  const kind = { closed: 'ok', open: 'bad', 'half-open': 'warn' }[breaker] ?? 'muted';
  return badge(breaker, kind, 'breaker');
}

function pluginRow(p) {
  const traffic = usageOf(p.id);
  const calls = traffic
    ? [String(traffic.calls), traffic.errors ? h('span', { class: 'bad-text' }, ` (${traffic.errors} failed)`) : null]
    : '—';
  return h('tr', { testid: `plugin-row-${p.id}`, class: p.id === state.selected ? 'selected' : null },
    h('td', {},
      h('button', { type: 'button', class: 'link', testid: `plugin-open-${p.id}`, onclick: () => select(p.id) },
        p.name ?? p.id),
      h('div', { class: 'muted small' }, p.id)),
    h('td', {}, p.department),
    h('td', { testid: 'released' }, p.version ?? '—'),
    h('td', { testid: 'gray' }, grayText(p)),
    h('td', {}, availability(p)),
    h('td', {}, breakerBadge(p.breaker)),
    h('td', { class: 'num' }, formatBytes(p.storage_bytes)),
    h('td', { class: 'num', testid: 'calls-today' }, calls));
}

function renderPlugins() {
  const rows = state.plugins.map(pluginRow);
  if (!rows.length) {
    rows.push(h('tr', {}, h('td', { colspan: 8, class: 'muted empty' }, 'No plugins are installed yet.')));
  }
  $('plugins-body').replaceChildren(...rows);
  $('usage-day').textContent = state.usage
    ? `Traffic: ${state.usage.from} (UTC)`
    : 'Traffic figures need the admin, reviewer or operator role.';
}

function select(id) {
  location.hash = `plugins/${id}`;
}

// Plugin detail ----------------------------------------------------------

function renderDetail() {
  const box = $('plugin-detail');
  const p = state.plugins.find((x) => x.id === state.selected);
  if (!p) {
    box.replaceChildren(state.plugins.length
      ? h('p', { class: 'muted hint' }, 'Choose a plugin to manage its versions, releases and catalog entry.')
      : '');
    return;
  }
  box.replaceChildren(h('section', { class: 'detail', testid: 'plugin-detail' },
    h('div', { class: 'section-head' },
      h('h2', {}, p.name ?? p.id, ' ', h('span', { class: 'muted' }, p.id)),
      h('span', { class: 'muted' }, p.description ?? '')),
    h('div', { class: 'cards' }, releaseCard(p), grayCard(p), catalogCard(p)),
    versionsTable(p),
    h('div', { id: 'trail-box' }, trailCard(p))));
  if (state.trail.plugin !== p.id) loadTrail(p.id);
}

// Data-access trail of a plugin ----------------------------------------------

/** Load the first page of `plugin`'s trail (`more`: the next page). */
async function loadTrail(plugin, more = false) {
  const trail = state.trail;
  const generation = more ? trail.generation : ++trail.generation;
  if (!more) Object.assign(trail, { plugin, entries: [], next: null, error: null });
  trail.loading = true;
  renderTrail();
  const query = new URLSearchParams({ limit: String(TRAIL_PAGE) });
  if (more && trail.next) query.set('cursor', trail.next);
  try {
    const page = await api('GET', `/admin/v1/plugins/${enc(plugin)}/data-access?${query}`);
    if (generation !== trail.generation) return;
    trail.entries = trail.entries.concat(page.entries ?? []);
    trail.next = page.next_cursor ?? null;
    trail.error = null;
  } catch (err) {
    if (generation !== trail.generation) return;
    trail.error = err.status === 403 ? 'The trail needs a role that may read this plugin.' : err.message;
  }
  trail.loading = false;
  renderTrail();
}

function renderTrail() {
  const box = $('trail-box');
  const p = state.plugins.find((x) => x.id === state.trail.plugin);
  if (box && p) box.replaceChildren(trailCard(p));
}

function trailCard(p) {
  const trail = state.trail;
  const mine = trail.plugin === p.id;
  const entries = mine ? trail.entries : [];
  const rows = entries.map((e) => h('tr', { testid: 'data-access-row' },
    h('td', { class: 'nowrap' }, formatTime(e.at_ms)),
    h('td', {}, h('code', { title: e.subject }, shortSubject(e.subject))),
    h('td', { class: 'nowrap' }, DATA_ITEM_LABEL[e.item] ?? e.label ?? e.item),
    h('td', {}, e.purpose),
    h('td', { class: 'nowrap' }, e.version),
    h('td', {}, h('code', { class: 'small' }, e.consent_id)),
    h('td', {}, h('code', { class: 'small' }, e.request_id))));
  if (!rows.length) {
    const text = !mine || trail.loading ? 'Loading…' : (trail.error ?? 'No personal data was released to this service.');
    rows.push(h('tr', {}, h('td', { colspan: 7, class: trail.error ? 'bad-text empty' : 'muted empty', testid: 'data-access-empty' }, text)));
  }
  return h('div', { class: 'trail', testid: 'data-access' },
    h('div', { class: 'section-head' },
      h('h3', {}, 'Personal data released'),
      h('span', { class: 'muted small' },
        'Every value identity.claim gave this service, with the purpose and the citizen’s consent. ' +
        'Citizens are shown as the service knows them (pairwise subject).')),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'grid', testid: 'data-access-table' },
        h('thead', {}, h('tr', {},
          h('th', {}, 'When'), h('th', {}, 'Citizen (pairwise)'), h('th', {}, 'Item'), h('th', {}, 'Purpose'),
          h('th', {}, 'Version'), h('th', {}, 'Consent'), h('th', {}, 'Request'))),
        h('tbody', {}, rows))),
    mine && trail.next ? h('div', { class: 'actions' },
      h('button', {
        type: 'button', class: 'small secondary', testid: 'data-access-more', disabled: trail.loading,
        onclick: () => loadTrail(p.id, true),
      }, trail.loading ? 'Loading…' : 'Load more')) : null);
}

function shortSubject(subject) {
  if (!subject) return '—';
  return subject.length > 14 ? `${subject.slice(0, 12)}…` : subject;
}

function releaseCard(p) {
  const previous = p.previous_releases.at(-1);
  const controls = [];
  if (canReview()) {
    controls.push(h('button', {
      type: 'button', class: 'secondary', testid: 'rollback', disabled: !previous,
      title: previous ? null : 'There is no earlier release to go back to.',
      onclick: () => confirm(`Roll ${p.id} back from ${p.version} to ${previous}? Everyone gets ${previous} at once.`) &&
        pluginAction(p, 'rollback', `Rolled ${p.id} back to ${previous}`),
    }, previous ? `Roll back to ${previous}` : 'Roll back'));
    controls.push(p.taken_down
      ? h('button', {
        type: 'button', testid: 'put-back',
        onclick: () => pluginAction(p, 'put-back', `Put ${p.id} back`),
      }, 'Put back')
      : h('button', {
        type: 'button', class: 'danger', testid: 'take-down',
        onclick: () => confirm(`Take ${p.id} down? It stops serving and leaves the catalog at once.`) &&
          pluginAction(p, 'take-down', `Took ${p.id} down`),
      }, 'Take down'));
    if (p.breaker === 'open' || p.breaker === 'half-open') {
      controls.push(h('button', {
        type: 'button', class: 'secondary', testid: 'resume',
        onclick: () => pluginAction(p, 'resume', `Closed the breaker of ${p.id} ${p.version}`),
      }, 'Resume (close breaker)'));
    }
  }
  return h('div', { class: 'card', testid: 'release-card' },
    h('h3', {}, 'Full release'),
    h('div', { class: 'big', testid: 'released-version' }, p.version ?? 'none'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Serving'), h('dd', {}, p.taken_down ? badge('taken down', 'bad') : availability(p)[0]),
      h('dt', {}, 'Granted'), h('dd', { testid: 'released-grants' },
        grantsText(p.history.find((v) => v.version === p.version)?.grants ?? (p.granted ? { capabilities: p.granted } : null))),
      h('dt', {}, 'Earlier'), h('dd', {}, p.previous_releases.length ? p.previous_releases.join(', ') : '—'),
      h('dt', {}, 'Loaded'), h('dd', {}, p.activation?.ms !== undefined
        ? `in ${p.activation.ms.toFixed(1)} ms${p.activation.from_cache ? ' (cached)' : ''}`
        : (p.load_error ?? '—'))),
    h('div', { class: 'actions' }, controls));
}

function grayCard(p) {
  if (!p.gray) {
    return h('div', { class: 'card', testid: 'gray-card' },
      h('h3', {}, 'Gray release'),
      h('p', { class: 'muted' }, 'No version is in gray release. Release an approved version below ' +
        'to a share of citizens and named testers first.'));
  }
  const g = p.gray;
  const output = h('output', { class: 'slider-value', testid: 'gray-percent' }, `${g.percent}%`);
  const slider = h('input', {
    type: 'range', min: 0, max: 100, step: 1, value: String(g.percent), testid: 'gray-slider',
    'aria-label': 'Share of signed-in citizens', disabled: !canReview(),
    oninput: (e) => { output.textContent = `${e.target.value}%`; },
  });
  const testers = h('input', {
    type: 'text', value: g.testers.join(', '), testid: 'gray-testers', disabled: !canReview(),
    placeholder: 'citizen ids, comma separated',
  });
  const apply = () => pluginAction(p, 'gray', `Gray share of ${p.id} ${g.version} set to ${slider.value}%`,
    { percent: Number(slider.value), testers: parseTesters(testers.value) });
  return h('div', { class: 'card', testid: 'gray-card' },
    h('h3', {}, 'Gray release ', badge(g.version, 'gray')),
    h('label', { class: 'field' }, 'Share of signed-in citizens',
      h('div', { class: 'slider-row' }, slider, output)),
    h('label', { class: 'field' }, 'Testers (always get it)', testers),
    canReview() && h('div', { class: 'actions' },
      h('button', { type: 'button', testid: 'gray-apply', onclick: apply }, 'Apply'),
      h('button', {
        type: 'button', class: 'secondary', testid: 'gray-promote',
        onclick: () => confirm(`Release ${p.id} ${g.version} to everyone?`) &&
          pluginAction(p, 'promote', `Promoted ${p.id} ${g.version} to everyone`),
      }, 'Promote to all'),
      h('button', {
        type: 'button', class: 'secondary', testid: 'gray-revert',
        onclick: () => pluginAction(p, 'revert', `Ended the gray release of ${p.id} ${g.version}`),
      }, 'End gray')));
}

function catalogCard(p) {
  const c = p.curation ?? {};
  const hidden = h('input', { type: 'checkbox', checked: c.hidden, testid: 'curation-hidden' });
  const featured = h('input', { type: 'checkbox', checked: c.featured, testid: 'curation-featured' });
  const order = h('input', { type: 'number', value: String(c.order ?? 0), step: 1, testid: 'curation-order' });
  const district = h('input', { type: 'text', value: c.district ?? '', testid: 'curation-district', placeholder: 'whole city' });
  const category = h('input', { type: 'text', value: c.category ?? '', testid: 'curation-category', placeholder: p.category ?? '' });
  const save = () => act(`Saved the catalog entry of ${p.id}`, 'PUT', `/admin/v1/plugins/${enc(p.id)}/catalog`, {
    hidden: hidden.checked,
    featured: featured.checked,
    order: Number.parseInt(order.value, 10) || 0,
    district: district.value.trim() || null,
    category: category.value.trim() || null,
  });
  return h('div', { class: 'card', testid: 'catalog-card' },
    h('h3', {}, 'Catalog'),
    h('div', { class: 'inline-checks' },
      h('label', { class: 'check' }, featured, 'Featured'),
      h('label', { class: 'check' }, hidden, 'Hidden (still reachable by URL)')),
    h('div', { class: 'field-row' },
      h('label', { class: 'field' }, 'Order', order),
      h('label', { class: 'field' }, 'District', district),
      h('label', { class: 'field' }, 'Category', category)),
    canReview() && h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', testid: 'curation-save', onclick: save }, 'Save catalog entry')));
}

function versionsTable(p) {
  const rows = p.history.flatMap((v) => versionRows(p, v));
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'grid versions', testid: 'versions' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Version'), h('th', {}, 'State'), h('th', {}, 'Uploaded'), h('th', {}, 'Granted'),
        h('th', { class: 'num' }, 'Calls today'), h('th', { class: 'num' }, 'Errors'),
        h('th', { class: 'num' }, 'CPU'), h('th', {}, ''))),
      h('tbody', {}, rows)));
}

function versionRows(p, v) {
  const traffic = usageOf(p.id, v.version);
  const uploaded = `${v.uploaded_by}, ${formatTime(v.uploaded_at * 1000)}`;
  const review = v.review?.reason ? h('div', { class: 'muted small' }, `${v.review.by}: ${v.review.reason}`) : null;
  const row = h('tr', { testid: `version-row-${v.version}` },
    h('td', {}, h('strong', {}, v.version)),
    h('td', {}, badge(v.state, `state-${v.state}`, 'version-state'), review),
    h('td', { class: 'small' }, uploaded),
    h('td', { testid: 'version-grants' }, grantsText(v.grants)),
    h('td', { class: 'num', testid: 'version-calls' }, traffic ? traffic.calls : '—'),
    h('td', { class: 'num' }, traffic ? traffic.errors : '—'),
    h('td', { class: 'num' }, traffic ? `${(traffic.cpu_us / 1000).toFixed(1)} ms` : '—'),
    h('td', { class: 'actions-cell' }, versionButtons(p, v)));
  const release = v.allowed_actions.includes('release') && canReview() ? releaseRow(p, v) : null;
  return [row, release].filter(Boolean);
}

function versionButtons(p, v) {
  const out = [];
  if (v.allowed_actions.includes('submit') && canUpload(p.department)) {
    out.push(h('button', {
      type: 'button', class: 'small secondary', testid: `submit-${v.version}`,
      onclick: () => versionAction(p.id, v.version, 'submit', `Submitted ${p.id} ${v.version} for review`),
    }, 'Submit for review'));
  }
  if (v.state === 'in-review') {
    out.push(h('button', {
      type: 'button', class: 'small secondary', testid: `review-${v.version}`,
      onclick: () => { location.hash = 'review'; },
    }, 'Open in review queue'));
  }
  return out;
}

/** Release an approved version: to everyone, or gray to a share and testers. */
function releaseRow(p, v) {
  const percent = h('input', { type: 'number', min: 0, max: 100, value: '10', class: 'narrow-input', testid: `release-percent-${v.version}` });
  const testers = h('input', { type: 'text', placeholder: 'testers, comma separated', testid: `release-testers-${v.version}` });
  const gray = () => versionAction(p.id, v.version, 'release',
    `Released ${p.id} ${v.version} gray to ${percent.value}%`,
    { percent: Number(percent.value), testers: parseTesters(testers.value) });
  const full = () => confirm(`Release ${p.id} ${v.version} to everyone?`) &&
    versionAction(p.id, v.version, 'release', `Released ${p.id} ${v.version} to everyone`, { percent: 100, testers: [] });
  return h('tr', { class: 'subrow', testid: `release-row-${v.version}` },
    h('td', { colspan: 8 },
      h('div', { class: 'release-form' },
        h('span', { class: 'muted' }, `Release ${v.version}:`),
        h('button', { type: 'button', class: 'small', testid: `release-full-${v.version}`, onclick: full }, 'To everyone'),
        h('span', { class: 'muted' }, 'or gray to'),
        percent, h('span', { class: 'muted' }, '% and'), testers,
        h('button', { type: 'button', class: 'small secondary', testid: `release-gray-${v.version}`, onclick: gray }, 'Start gray release'))));
}

// Review queue -----------------------------------------------------------

function renderQueue() {
  const list = $('review-list');
  if (!state.queue.length) {
    list.replaceChildren(h('p', { class: 'card muted empty', testid: 'review-empty' }, 'Nothing is waiting for review.'));
    return;
  }
  list.replaceChildren(...state.queue.map(reviewCard));
}

function reviewCard(item) {
  const locked = !canReview();
  const check = (testid, value, checked) => h('input', { type: 'checkbox', value, checked, testid, disabled: locked });
  const grants = item.requested.map((cap) => h('label', { class: 'check' },
    check(`grant-${cap}`, cap, true),
    h('strong', {}, cap), h('span', { class: 'muted' }, ` — ${CAPABILITY_HELP[cap] ?? ''}`)));
  const data = Object.entries(item.personal_data ?? {}).map(([name, purpose]) => h('label', { class: 'check grant-data' },
    check(`grant-data-${name}`, name, true),
    h('span', {},
      h('strong', {}, DATA_ITEM_LABEL[name] ?? name), ' ', h('code', { class: 'muted' }, name),
      h('span', { class: 'grant-purpose', testid: `purpose-${name}` }, `Purpose: ${purpose}`))));
  const templates = (item.templates ?? []).map((t) => h('label', { class: 'check grant-template' },
    check(`grant-template-${t.id}`, t.id, true),
    h('span', {},
      h('strong', {}, t.title), ' ', h('code', { class: 'muted' }, t.id), ' ',
      badge(TEMPLATE_KIND[t.kind] ?? t.kind, t.kind === 'long-term' ? 'warn' : 'info', `template-kind-${t.id}`),
      h('span', { class: 'grant-purpose' }, `“${t.body}”`))));
  const wantsLongTerm = (item.templates ?? []).some((t) => t.kind === 'long-term');
  const longTerm = wantsLongTerm
    ? h('label', { class: 'check grant-long-term' }, check('grant-long-term', 'long-term', false),
      h('span', {}, h('strong', {}, 'Allow long-term messages'),
        h('span', { class: 'grant-purpose' }, 'Only for public services: citizens may then allow messages until they withdraw.')))
    : null;
  const reason = h('input', { type: 'text', placeholder: 'Why? (required to reject)', testid: 'reject-reason' });
  const chosen = (labels) => labels.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
  const approve = () => {
    const body = {
      capabilities: chosen(grants),
      personal_data: chosen(data),
      templates: chosen(templates),
      long_term_messages: Boolean(longTerm?.querySelector('input').checked),
    };
    versionAction(item.plugin, item.version, 'approve',
      `Approved ${item.plugin} ${item.version}, granting ${grantsText(body)}`, body);
  };
  const reject = () => versionAction(item.plugin, item.version, 'reject',
    `Rejected ${item.plugin} ${item.version}`, { reason: reason.value.trim() });
  const failed = item.checks.filter((c) => !c.passed).length;
  return h('article', { class: 'card review', testid: `review-${item.plugin}-${item.version}` },
    h('div', { class: 'review-head' },
      h('h2', {}, item.name, ' ', h('span', { class: 'muted' }, `${item.plugin} ${item.version}`)),
      badge(failed ? `${failed} check${failed === 1 ? '' : 's'} failed` : 'all checks passed', failed ? 'bad' : 'ok')),
    h('p', { class: 'muted small' },
      `${item.department} · uploaded by ${item.uploaded_by} on ${formatTime(item.uploaded_at * 1000)} · ` +
      `released now: ${item.released ?? 'nothing'}`),
    h('div', { class: 'review-body' },
      h('div', {},
        h('h3', {}, 'Checks'),
        h('ul', { class: 'checks', testid: 'checks' }, item.checks.map(checkItem)),
        h('h3', {}, 'Limits asked for'),
        limitsList(item.limits)),
      h('div', {},
        h('h3', {}, 'Grant capabilities'),
        h('div', { class: 'grants', testid: 'grants-capabilities' }, grants.length ? grants : h('p', { class: 'muted' }, 'It asks for none.')),
        h('h3', {}, 'Personal data (released only with the citizen’s consent)'),
        h('div', { class: 'grants', testid: 'grants-data' }, data.length ? data : h('p', { class: 'muted' }, 'It asks for none.')),
        h('h3', {}, 'Message templates'),
        h('div', { class: 'grants', testid: 'grants-templates' },
          templates.length ? templates : h('p', { class: 'muted' }, 'It sends no messages.'), longTerm),
        canReview() && h('div', { class: 'actions' },
          h('button', { type: 'button', testid: 'approve', onclick: approve }, 'Approve with these grants')),
        canReview() && h('div', { class: 'reject-row' }, reason,
          h('button', { type: 'button', class: 'danger', testid: 'reject', onclick: reject }, 'Reject')))));
}

function checkItem(check) {
  return h('li', { class: check.passed ? 'pass' : 'fail' },
    h('span', { class: 'mark' }, check.passed ? '✓' : '✗'),
    h('strong', {}, check.name), ' ', h('span', { class: 'muted' }, check.detail));
}

function limitsList(limits) {
  const entries = Object.entries(limits ?? {}).filter(([, value]) => value !== null && value !== undefined);
  if (!entries.length) return h('p', { class: 'muted' }, 'Platform defaults.');
  return h('dl', { class: 'facts limits' }, entries.flatMap(([key, value]) => [h('dt', {}, key), h('dd', {}, String(value))]));
}

// Audit log (the screen is in admin_money.js) --------------------------

function grayLabel(p) {
  if (!p.gray) return 'none';
  const testers = p.gray.testers.length ? ` + ${p.gray.testers.join(', ')}` : '';
  return `${p.gray.version} at ${p.gray.percent}%${testers}`;
}

/** A one-line summary of what an audit entry changed. */
function describeChange(before, after) {
  const b = before && typeof before === 'object' ? before : {};
  const a = after && typeof after === 'object' ? after : {};
  if (!('history' in a)) {
    // A breaker transition: {version, breaker}.
    if ('breaker' in a) return `${a.version}: breaker ${b.breaker ?? '—'} → ${a.breaker}`;
    return '—';
  }
  const out = [];
  if (b.version !== a.version) out.push(`released ${b.version ?? 'nothing'} → ${a.version ?? 'nothing'}`);
  if (grayLabel(b) !== grayLabel(a)) out.push(`gray ${grayLabel(b)} → ${grayLabel(a)}`);
  if (Boolean(b.taken_down) !== Boolean(a.taken_down)) out.push(a.taken_down ? 'taken down' : 'put back');
  out.push(...curationChanges(b.curation, a.curation));
  const previous = new Map((b.history ?? []).map((v) => [v.version, v]));
  for (const v of a.history ?? []) {
    const old = previous.get(v.version);
    if (old?.state === v.state) continue;
    const granted = v.grants && !old?.grants ? ` (granted ${grantsText(v.grants)})` : '';
    const reason = v.review?.reason && !old?.review ? ` (${v.review.reason})` : '';
    out.push(`${v.version}: ${old?.state ?? 'new'} → ${v.state}${granted}${reason}`);
  }
  return out.join('; ') || 'no change';
}

function curationChanges(before, after) {
  if (!before || !after) return [];
  return Object.keys(after)
    .filter((key) => JSON.stringify(before[key] ?? null) !== JSON.stringify(after[key] ?? null))
    .map((key) => `${key} ${JSON.stringify(before[key] ?? null)} → ${JSON.stringify(after[key] ?? null)}`);
}

// ---------------------------------------------------------------- routing

/** `#plugins`, `#plugins/<id>`, `#review`, and admin_money.js's tabs (`#orders/<id>`, ...). */
function route() {
  const [tab, id] = location.hash.replace(/^#/, '').split('/');
  state.tab = TABS.includes(tab) ? tab : 'plugins';
  if (state.tab === 'plugins') state.selected = id ? decodeURIComponent(id) : state.selected;
  render();
  if (state.tab === 'plugins' && id) $('plugin-detail').scrollIntoView({ block: 'nearest' });
}

function start() {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('signin-token').value.trim();
    if (token) signIn(token);
  });
  $('signout').addEventListener('click', () => {
    signOut();
    clearMessages();
  });
  $('refresh').addEventListener('click', () => {
    if (state.trail.plugin) state.trail.plugin = null; // loaded again with the detail
    reload().then(clearMessages, handleError);
  });
  for (const button of document.querySelectorAll('.tab')) {
    button.addEventListener('click', () => { location.hash = button.dataset.tab; });
  }
  window.addEventListener('hashchange', route);
  route();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
}

start();
