// The demo app shell: a phone-like home screen listing the catalog
// (/api/v1/catalog) as tiles; a tile opens the mini-service's page
// (/p/{id}/) in a frame. The citizen token lives in localStorage under
// `islet_token`, where the services' pages (same origin) read it.
import { decodeClaims, h } from './common.js';

const TOKEN_KEY = 'islet_token';
const SCREENS = ['home', 'inbox', 'orders', 'me'];
const PALETTE = ['#0a7d5a', '#2563eb', '#c2410c', '#7c3aed', '#0e7490', '#b45309', '#be123c', '#4d7c0f'];

const state = {
  screen: 'home',
  catalog: [],
  open: null, // the catalog entry shown in the frame
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

function showService(id) {
  const entry = state.catalog.find((e) => e.id === id) ?? { id, name: id, url: `/p/${encodeURIComponent(id)}/` };
  state.open = entry;
  $('service-title').textContent = entry.name;
  const frame = $('service-frame');
  if (frame.dataset.src !== entry.url) {
    frame.dataset.src = entry.url;
    frame.src = entry.url;
  }
  $('service').hidden = false;
}

function closeService() {
  state.open = null;
  $('service').hidden = true;
  const frame = $('service-frame');
  delete frame.dataset.src;
  frame.src = 'about:blank';
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
  renderIdentity();
}

// ---------------------------------------------------------------- routing

/** `#home`, `#inbox`, `#orders`, `#me`, `#open/<id>`. */
function route() {
  const [screen, id] = location.hash.replace(/^#/, '').split('/');
  if (screen === 'open' && id) {
    showService(decodeURIComponent(id));
    return;
  }
  closeService();
  state.screen = SCREENS.includes(screen) ? screen : 'home';
  for (const name of SCREENS) $(`screen-${name}`).hidden = name !== state.screen;
  for (const button of document.querySelectorAll('.tabbar button')) {
    button.classList.toggle('active', button.dataset.screen === state.screen);
  }
  if (state.screen === 'home') loadCatalog();
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
  window.addEventListener('hashchange', route);
  window.addEventListener('storage', renderIdentity);
  tick();
  setInterval(tick, 30_000);
  renderIdentity();
  route();
}

start();
