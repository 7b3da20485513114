// The Islet admin console: plain DOM, fetch and the admin JSON API of this
// host (/admin/v1). No framework and no build step. The token stays in
// sessionStorage; every element a test clicks carries a data-testid.
import { ApiError, callApi, decodeClaims, h, tokenProblem } from './common.js';
import { MONEY_TABS, renderMoney } from './admin_money.js';
import { dateTimeMs, errorText, lang, languagePicker, t, translatePage } from './i18n.js';

const TOKEN_KEY = 'islet_admin_token';
const TABS = ['plugins', 'review', ...MONEY_TABS];
/** What a capability lets a service do ('' for one the console does not know). */
const capabilityHelp = (cap) => (['identity', 'storage', 'log', 'payment', 'notification'].includes(cap)
  ? t(`admin.capability.${cap}`) : '');
/** A personal data item's name. */
const dataItemLabel = (item) => (t(`data.${item}`) === `data.${item}` ? null : t(`data.${item}`));
/** A message template's kind. */
const templateKind = (kind) => (kind === 'one-time' || kind === 'long-term' ? t(`admin.templateKind.${kind}`) : kind);
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

/** Milliseconds since the epoch in the city's time zone, to the second. */
function formatTime(ms) {
  return dateTimeMs(ms, { seconds: true });
}

/** A plugin's (or review item's) name in the page language, else its own. */
function displayName(p) {
  return p.names?.[lang]?.name ?? p.name ?? p.id ?? p.plugin;
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
  const parts = [(grants.capabilities ?? []).join(', ') || t('admin.grants.nothing')];
  if (grants.personal_data?.length) parts.push(t('admin.grants.data', { list: grants.personal_data.join(', ') }));
  if (grants.templates?.length) parts.push(t('admin.grants.templates', { list: grants.templates.join(', ') }));
  if (grants.long_term_messages) parts.push(t('admin.grants.longTerm'));
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
  // Staff get the host's own words too: they name the exact problem.
  let text = String(err);
  if (err?.code) {
    const translated = errorText(err);
    text = lang === 'en' || translated === err.message ? err.message : `${translated} ${err.message}`;
    text = `${text} (${err.code})`;
  }
  el.textContent = text;
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
  if (err.status === 401) {
    const expired = tokenProblem(state.token) === 'expired';
    signOut(expired ? t('admin.signin.expired') : t('admin.signin.rejected', { reason: errorText(err) }));
  }
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
  const problem = tokenProblem(token);
  if (problem) {
    signOut(t(problem === 'expired' ? 'admin.signin.pastedExpired' : 'admin.signin.notAToken'));
    return;
  }
  state.token = token;
  state.claims = decodeClaims(token);
  try {
    await reload();
    sessionStorage.setItem(TOKEN_KEY, token);
    clearMessages();
  } catch (err) {
    signOut(err.status === 401 ? t('admin.signin.rejected', { reason: errorText(err) }) : '');
    showError(err);
  }
}

/** Forget the token; `reason` (if any) is shown on the sign-in form. */
function signOut(reason = '') {
  $('signin-reason').textContent = reason;
  $('signin-reason').hidden = !reason;
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
  const sub = state.claims?.sub ?? t('common.unknown');
  $('whoami-sub').textContent = sub;
  const list = roles().length ? roles().map((r) => badge(r, 'role')) : [badge(t('admin.noRoles'), 'muted')];
  if (!canReview()) list.push(badge(t('admin.readOnly'), 'warn'));
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
  const extra = testers ? t('admin.gray.plusTesters', { count: testers }) : '';
  return `${p.gray.version} · ${p.gray.percent}%${extra}`;
}

function availability(p) {
  const out = [];
  if (p.taken_down) out.push(badge(t('admin.availability.takenDown'), 'bad', 'availability'));
  else if (p.status === 'failed') out.push(badge(t('admin.availability.failed'), 'bad', 'availability'));
  else if (p.status === 'not-released') out.push(badge(t('admin.availability.notReleased'), 'muted', 'availability'));
  else out.push(badge(t('admin.availability.live'), 'ok', 'availability'));
  if (p.curation?.hidden) out.push(badge(t('admin.availability.hidden'), 'muted'));
  if (p.curation?.featured) out.push(badge(t('admin.availability.featured'), 'info'));
  return out;
}

function breakerBadge(breaker) {
  if (!breaker) return '—';
  const kind = { closed: 'ok', open: 'bad', 'half-open': 'warn' }[breaker] ?? 'muted';
  return badge(t(`admin.breaker.${breaker}`), kind, 'breaker');
}

function pluginRow(p) {
  const traffic = usageOf(p.id);
  const calls = traffic
    ? [String(traffic.calls), traffic.errors ? h('span', { class: 'bad-text' }, t('admin.plugins.failedCalls', { count: traffic.errors })) : null]
    : '—';
  return h('tr', { testid: `plugin-row-${p.id}`, class: p.id === state.selected ? 'selected' : null },
    h('td', {},
      h('button', { type: 'button', class: 'link', testid: `plugin-open-${p.id}`, onclick: () => select(p.id) },
        displayName(p)),
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
    rows.push(h('tr', {}, h('td', { colspan: 8, class: 'muted empty' }, t('admin.plugins.none'))));
  }
  $('plugins-body').replaceChildren(...rows);
  $('usage-day').textContent = state.usage
    ? t('admin.plugins.traffic', { day: state.usage.from, zone: state.usage.time_zone ?? 'UTC' })
    : t('admin.plugins.trafficNeedsRole');
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
      ? h('p', { class: 'muted hint' }, t('admin.plugins.choose'))
      : '');
    return;
  }
  box.replaceChildren(h('section', { class: 'detail', testid: 'plugin-detail' },
    h('div', { class: 'section-head' },
      h('h2', {}, displayName(p), ' ', h('span', { class: 'muted' }, p.id)),
      h('span', { class: 'muted' }, p.names?.[lang]?.description ?? p.description ?? '')),
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
    trail.error = err.status === 403 ? t('admin.trail.needsRole') : errorText(err);
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
    h('td', { class: 'nowrap' }, dataItemLabel(e.item) ?? e.label ?? e.item),
    h('td', {}, e.purpose),
    h('td', { class: 'nowrap' }, e.version),
    h('td', {}, h('code', { class: 'small' }, e.consent_id)),
    h('td', {}, h('code', { class: 'small' }, e.request_id))));
  if (!rows.length) {
    const text = !mine || trail.loading ? t('common.loading') : (trail.error ?? t('admin.trail.empty'));
    rows.push(h('tr', {}, h('td', { colspan: 7, class: trail.error ? 'bad-text empty' : 'muted empty', testid: 'data-access-empty' }, text)));
  }
  return h('div', { class: 'trail', testid: 'data-access' },
    h('div', { class: 'section-head' },
      h('h3', {}, t('admin.trail.heading')),
      h('span', { class: 'muted small' }, t('admin.trail.text'))),
    h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t('admin.trail.heading') },
      h('table', { class: 'grid', testid: 'data-access-table' },
        h('thead', {}, h('tr', {},
          h('th', {}, t('admin.trail.col.when')), h('th', {}, t('admin.trail.col.citizen')), h('th', {}, t('admin.trail.col.item')),
          h('th', {}, t('admin.trail.col.purpose')), h('th', {}, t('admin.trail.col.version')), h('th', {}, t('admin.trail.col.consent')),
          h('th', {}, t('admin.trail.col.request')))),
        h('tbody', {}, rows))),
    mine && trail.next ? h('div', { class: 'actions' },
      h('button', {
        type: 'button', class: 'small secondary', testid: 'data-access-more', disabled: trail.loading,
        onclick: () => loadTrail(p.id, true),
      }, trail.loading ? t('common.loading') : t('common.loadMore'))) : null);
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
      title: previous ? null : t('admin.release.noEarlier'),
      onclick: () => confirm(t('admin.release.confirmRollback', { id: p.id, version: p.version, previous })) &&
        pluginAction(p, 'rollback', t('admin.release.rolledBack', { id: p.id, previous })),
    }, previous ? t('admin.release.rollbackTo', { previous }) : t('admin.release.rollback')));
    controls.push(p.taken_down
      ? h('button', {
        type: 'button', testid: 'put-back',
        onclick: () => pluginAction(p, 'put-back', t('admin.release.putBackDone', { id: p.id })),
      }, t('admin.release.putBack'))
      : h('button', {
        type: 'button', class: 'danger', testid: 'take-down',
        onclick: () => confirm(t('admin.release.confirmTakeDown', { id: p.id })) &&
          pluginAction(p, 'take-down', t('admin.release.tookDown', { id: p.id })),
      }, t('admin.release.takeDown')));
    if (p.breaker === 'open' || p.breaker === 'half-open') {
      controls.push(h('button', {
        type: 'button', class: 'secondary', testid: 'resume',
        onclick: () => pluginAction(p, 'resume', t('admin.release.resumed', { id: p.id, version: p.version })),
      }, t('admin.release.resume')));
    }
  }
  return h('div', { class: 'card', testid: 'release-card' },
    h('h3', {}, t('admin.release.heading')),
    h('div', { class: 'big', testid: 'released-version' }, p.version ?? t('admin.release.none')),
    h('dl', { class: 'facts' },
      h('dt', {}, t('admin.release.serving')), h('dd', {}, p.taken_down ? badge(t('admin.availability.takenDown'), 'bad') : availability(p)[0]),
      h('dt', {}, t('admin.release.granted')), h('dd', { testid: 'released-grants' },
        grantsText(p.history.find((v) => v.version === p.version)?.grants ?? (p.granted ? { capabilities: p.granted } : null))),
      h('dt', {}, t('admin.release.earlier')), h('dd', {}, p.previous_releases.length ? p.previous_releases.join(', ') : '—'),
      h('dt', {}, t('admin.release.loaded')), h('dd', {}, p.activation?.ms !== undefined
        ? t(p.activation.from_cache ? 'admin.release.loadedInCached' : 'admin.release.loadedIn', { ms: p.activation.ms.toFixed(1) })
        : (p.load_error ?? '—'))),
    h('div', { class: 'actions' }, controls));
}

function grayCard(p) {
  if (!p.gray) {
    return h('div', { class: 'card', testid: 'gray-card' },
      h('h3', {}, t('admin.gray.heading')),
      h('p', { class: 'muted' }, t('admin.gray.none')));
  }
  const g = p.gray;
  const output = h('output', { class: 'slider-value', testid: 'gray-percent' }, `${g.percent}%`);
  const slider = h('input', {
    type: 'range', min: 0, max: 100, step: 1, value: String(g.percent), testid: 'gray-slider',
    'aria-label': t('admin.gray.share'), disabled: !canReview(),
    oninput: (e) => { output.textContent = `${e.target.value}%`; },
  });
  const testers = h('input', {
    type: 'text', value: g.testers.join(', '), testid: 'gray-testers', disabled: !canReview(),
    placeholder: t('admin.gray.testersPlaceholder'),
  });
  const apply = () => pluginAction(p, 'gray', t('admin.gray.applied', { id: p.id, version: g.version, percent: slider.value }),
    { percent: Number(slider.value), testers: parseTesters(testers.value) });
  return h('div', { class: 'card', testid: 'gray-card' },
    h('h3', {}, t('admin.gray.heading'), ' ', badge(g.version, 'gray')),
    h('label', { class: 'field' }, t('admin.gray.share'),
      h('div', { class: 'slider-row' }, slider, output)),
    h('label', { class: 'field' }, t('admin.gray.testers'), testers),
    canReview() && h('div', { class: 'actions' },
      h('button', { type: 'button', testid: 'gray-apply', onclick: apply }, t('admin.gray.apply')),
      h('button', {
        type: 'button', class: 'secondary', testid: 'gray-promote',
        onclick: () => confirm(t('admin.release.confirmEveryone', { id: p.id, version: g.version })) &&
          pluginAction(p, 'promote', t('admin.gray.promoted', { id: p.id, version: g.version })),
      }, t('admin.gray.promote')),
      h('button', {
        type: 'button', class: 'secondary', testid: 'gray-revert',
        onclick: () => pluginAction(p, 'revert', t('admin.gray.ended', { id: p.id, version: g.version })),
      }, t('admin.gray.end'))));
}

function catalogCard(p) {
  const c = p.curation ?? {};
  const hidden = h('input', { type: 'checkbox', checked: c.hidden, testid: 'curation-hidden' });
  const featured = h('input', { type: 'checkbox', checked: c.featured, testid: 'curation-featured' });
  const order = h('input', { type: 'number', value: String(c.order ?? 0), step: 1, testid: 'curation-order' });
  const district = h('input', { type: 'text', value: c.district ?? '', testid: 'curation-district', placeholder: t('admin.catalog.wholeCity') });
  const category = h('input', { type: 'text', value: c.category ?? '', testid: 'curation-category', placeholder: p.category ?? '' });
  const save = () => act(t('admin.catalog.saved', { id: p.id }), 'PUT', `/admin/v1/plugins/${enc(p.id)}/catalog`, {
    hidden: hidden.checked,
    featured: featured.checked,
    order: Number.parseInt(order.value, 10) || 0,
    district: district.value.trim() || null,
    category: category.value.trim() || null,
  });
  return h('div', { class: 'card', testid: 'catalog-card' },
    h('h3', {}, t('admin.catalog.heading')),
    h('div', { class: 'inline-checks' },
      h('label', { class: 'check' }, featured, t('admin.catalog.featured')),
      h('label', { class: 'check' }, hidden, t('admin.catalog.hidden'))),
    h('div', { class: 'field-row' },
      h('label', { class: 'field' }, t('admin.catalog.order'), order),
      h('label', { class: 'field' }, t('admin.catalog.district'), district),
      h('label', { class: 'field' }, t('admin.catalog.category'), category)),
    canReview() && h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', testid: 'curation-save', onclick: save }, t('admin.catalog.save'))));
}

function versionsTable(p) {
  const rows = p.history.flatMap((v) => versionRows(p, v));
  return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t('admin.versions.label', { id: p.id }) },
    h('table', { class: 'grid versions', testid: 'versions' },
      h('thead', {}, h('tr', {},
        h('th', {}, t('admin.versions.col.version')), h('th', {}, t('admin.versions.col.state')),
        h('th', {}, t('admin.versions.col.uploaded')), h('th', {}, t('admin.versions.col.granted')),
        h('th', { class: 'num' }, t('admin.plugins.col.callsToday')), h('th', { class: 'num' }, t('admin.versions.col.errors')),
        h('th', { class: 'num' }, t('admin.versions.col.cpu')), h('th', {}, h('span', { class: 'visually-hidden' }, t('admin.versions.col.actions'))))),
      h('tbody', {}, rows)));
}

function versionRows(p, v) {
  const traffic = usageOf(p.id, v.version);
  const uploaded = t('admin.versions.uploaded', { who: v.uploaded_by, time: formatTime(v.uploaded_at * 1000) });
  const review = v.review?.reason ? h('div', { class: 'muted small' }, `${v.review.by}: ${v.review.reason}`) : null;
  const row = h('tr', { testid: `version-row-${v.version}` },
    h('td', {}, h('strong', {}, v.version)),
    h('td', {}, badge(t(`admin.versions.state.${v.state}`), `state-${v.state}`, 'version-state'), review),
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
      onclick: () => versionAction(p.id, v.version, 'submit', t('admin.versions.submitted', { id: p.id, version: v.version })),
    }, t('admin.versions.submit')));
  }
  if (v.state === 'in-review') {
    out.push(h('button', {
      type: 'button', class: 'small secondary', testid: `review-${v.version}`,
      onclick: () => { location.hash = 'review'; },
    }, t('admin.versions.openReview')));
  }
  return out;
}

/** Release an approved version: to everyone, or gray to a share and testers. */
function releaseRow(p, v) {
  const percent = h('input', { type: 'number', min: 0, max: 100, value: '10', class: 'narrow-input', testid: `release-percent-${v.version}` });
  const testers = h('input', {
    type: 'text', placeholder: t('admin.versions.testersPlaceholder'), testid: `release-testers-${v.version}`,
    'aria-label': t('admin.gray.testers'),
  });
  percent.setAttribute('aria-label', t('admin.gray.share'));
  const gray = () => versionAction(p.id, v.version, 'release',
    t('admin.versions.releasedGray', { id: p.id, version: v.version, percent: percent.value }),
    { percent: Number(percent.value), testers: parseTesters(testers.value) });
  const full = () => confirm(t('admin.release.confirmEveryone', { id: p.id, version: v.version })) &&
    versionAction(p.id, v.version, 'release', t('admin.versions.releasedAll', { id: p.id, version: v.version }), { percent: 100, testers: [] });
  return h('tr', { class: 'subrow', testid: `release-row-${v.version}` },
    h('td', { colspan: 8 },
      h('div', { class: 'release-form' },
        h('span', { class: 'muted' }, t('admin.versions.releaseLabel', { version: v.version })),
        h('button', { type: 'button', class: 'small', testid: `release-full-${v.version}`, onclick: full }, t('admin.versions.toEveryone')),
        h('span', { class: 'muted' }, t('admin.versions.orGrayTo')),
        percent, h('span', { class: 'muted' }, t('admin.versions.percentAnd')), testers,
        h('button', { type: 'button', class: 'small secondary', testid: `release-gray-${v.version}`, onclick: gray }, t('admin.versions.startGray')))));
}

// Review queue -----------------------------------------------------------

function renderQueue() {
  const list = $('review-list');
  if (!state.queue.length) {
    list.replaceChildren(h('p', { class: 'card muted empty', testid: 'review-empty' }, t('admin.review.empty')));
    return;
  }
  list.replaceChildren(...state.queue.map(reviewCard));
}

function reviewCard(item) {
  const locked = !canReview();
  const check = (testid, value, checked) => h('input', { type: 'checkbox', value, checked, testid, disabled: locked });
  const grants = item.requested.map((cap) => h('label', { class: 'check' },
    check(`grant-${cap}`, cap, true),
    h('strong', {}, cap), h('span', { class: 'muted' }, ` — ${capabilityHelp(cap)}`)));
  const data = Object.entries(item.personal_data ?? {}).map(([name, purpose]) => h('label', { class: 'check grant-data' },
    check(`grant-data-${name}`, name, true),
    h('span', {},
      h('strong', {}, dataItemLabel(name) ?? name), ' ', h('code', { class: 'muted' }, name),
      h('span', { class: 'grant-purpose', testid: `purpose-${name}` }, t('admin.review.purpose', { purpose })))));
  const templates = (item.templates ?? []).map((tpl) => h('label', { class: 'check grant-template' },
    check(`grant-template-${tpl.id}`, tpl.id, true),
    h('span', {},
      h('strong', {}, tpl.title), ' ', h('code', { class: 'muted' }, tpl.id), ' ',
      badge(templateKind(tpl.kind), tpl.kind === 'long-term' ? 'warn' : 'info', `template-kind-${tpl.id}`),
      h('span', { class: 'grant-purpose' }, `“${tpl.body}”`))));
  const wantsLongTerm = (item.templates ?? []).some((tpl) => tpl.kind === 'long-term');
  const longTerm = wantsLongTerm
    ? h('label', { class: 'check grant-long-term' }, check('grant-long-term', 'long-term', false),
      h('span', {}, h('strong', {}, t('admin.review.allowLongTerm')),
        h('span', { class: 'grant-purpose' }, t('admin.review.allowLongTermText'))))
    : null;
  const reason = h('input', {
    type: 'text', placeholder: t('admin.review.why'), 'aria-label': t('admin.review.why'), testid: 'reject-reason',
  });
  const chosen = (labels) => labels.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
  const approve = () => {
    const body = {
      capabilities: chosen(grants),
      personal_data: chosen(data),
      templates: chosen(templates),
      long_term_messages: Boolean(longTerm?.querySelector('input').checked),
    };
    versionAction(item.plugin, item.version, 'approve',
      t('admin.review.approved', { id: item.plugin, version: item.version, grants: grantsText(body) }), body);
  };
  const reject = () => versionAction(item.plugin, item.version, 'reject',
    t('admin.review.rejected', { id: item.plugin, version: item.version }), { reason: reason.value.trim() });
  const failed = item.checks.filter((c) => !c.passed).length;
  return h('article', { class: 'card review', testid: `review-${item.plugin}-${item.version}` },
    h('div', { class: 'review-head' },
      h('h2', {}, displayName(item), ' ', h('span', { class: 'muted' }, `${item.plugin} ${item.version}`)),
      badge(failed ? t('admin.review.checksFailed', { count: failed }) : t('admin.review.checksPassed'), failed ? 'bad' : 'ok')),
    h('p', { class: 'muted small' }, t('admin.review.meta', {
      department: item.department, who: item.uploaded_by, time: formatTime(item.uploaded_at * 1000),
      released: item.released ?? t('admin.grants.nothing'),
    })),
    // The catalog texts in every language the manifest gives, for review.
    h('ul', { class: 'review-names', testid: 'review-names' }, Object.entries(item.names ?? {}).map(([language, texts]) =>
      h('li', { lang: language, 'data-language': language },
        h('code', { class: 'muted' }, language), ' ', h('strong', {}, texts.name), ' — ', texts.description))),
    h('div', { class: 'review-body' },
      h('div', {},
        h('h3', {}, t('admin.review.checks')),
        h('ul', { class: 'checks', testid: 'checks' }, item.checks.map(checkItem)),
        h('h3', {}, t('admin.review.limits')),
        limitsList(item.limits)),
      h('div', {},
        h('h3', {}, t('admin.review.grantCapabilities')),
        h('div', { class: 'grants', testid: 'grants-capabilities' }, grants.length ? grants : h('p', { class: 'muted' }, t('admin.review.asksNone'))),
        h('h3', {}, t('admin.review.personalData')),
        h('div', { class: 'grants', testid: 'grants-data' }, data.length ? data : h('p', { class: 'muted' }, t('admin.review.asksNone'))),
        h('h3', {}, t('admin.review.templates')),
        h('div', { class: 'grants', testid: 'grants-templates' },
          templates.length ? templates : h('p', { class: 'muted' }, t('admin.review.noMessages')), longTerm),
        canReview() && h('div', { class: 'actions' },
          h('button', { type: 'button', testid: 'approve', onclick: approve }, t('admin.review.approve'))),
        canReview() && h('div', { class: 'reject-row' }, reason,
          h('button', { type: 'button', class: 'danger', testid: 'reject', onclick: reject }, t('admin.review.reject'))))));
}

function checkItem(check) {
  return h('li', { class: check.passed ? 'pass' : 'fail' },
    h('span', { class: 'mark' }, check.passed ? '✓' : '✗'),
    h('strong', {}, check.name), ' ', h('span', { class: 'muted' }, check.detail));
}

function limitsList(limits) {
  const entries = Object.entries(limits ?? {}).filter(([, value]) => value !== null && value !== undefined);
  if (!entries.length) return h('p', { class: 'muted' }, t('admin.review.defaults'));
  return h('dl', { class: 'facts limits' }, entries.flatMap(([key, value]) => [h('dt', {}, key), h('dd', {}, String(value))]));
}

// Audit log (the screen is in admin_money.js) --------------------------

function grayLabel(p) {
  if (!p.gray) return t('admin.change.none');
  const testers = p.gray.testers.length ? ` + ${p.gray.testers.join(', ')}` : '';
  return t('admin.change.grayAt', { version: p.gray.version, percent: p.gray.percent, testers });
}

/** A one-line summary of what an audit entry changed. */
function describeChange(before, after) {
  const b = before && typeof before === 'object' ? before : {};
  const a = after && typeof after === 'object' ? after : {};
  if (!('history' in a)) {
    // A breaker transition: {version, breaker}.
    if ('breaker' in a) return t('admin.change.breaker', { version: a.version, before: b.breaker ?? '—', after: a.breaker });
    return '—';
  }
  const out = [];
  const nothing = t('admin.grants.nothing');
  if (b.version !== a.version) out.push(t('admin.change.released', { before: b.version ?? nothing, after: a.version ?? nothing }));
  if (grayLabel(b) !== grayLabel(a)) out.push(t('admin.change.gray', { before: grayLabel(b), after: grayLabel(a) }));
  if (Boolean(b.taken_down) !== Boolean(a.taken_down)) out.push(t(a.taken_down ? 'admin.change.takenDown' : 'admin.change.putBack'));
  out.push(...curationChanges(b.curation, a.curation));
  const previous = new Map((b.history ?? []).map((v) => [v.version, v]));
  for (const v of a.history ?? []) {
    const old = previous.get(v.version);
    if (old?.state === v.state) continue;
    const granted = v.grants && !old?.grants ? t('admin.change.granted', { grants: grantsText(v.grants) }) : '';
    const reason = v.review?.reason && !old?.review ? ` (${v.review.reason})` : '';
    const state = (name) => t(`admin.versions.state.${name}`);
    out.push(t('admin.change.version', {
      version: v.version, before: old?.state ? state(old.state) : t('admin.change.new'), after: state(v.state), granted, reason,
    }));
  }
  return out.join('; ') || t('admin.change.noChange');
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
  translatePage();
  $('language-slot').replaceWith(languagePicker('topbar-language'));
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('signin-token').value.trim();
    if (token) signIn(token);
  });
  $('signout').addEventListener('click', () => {
    signOut('');
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
