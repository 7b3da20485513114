// The API reference page (/docs/api): renders this host's /openapi.json,
// operations grouped by tag, with their roles, parameters, bodies and
// answers, and the data structures they name. Nothing is fetched from
// elsewhere; the texts are the console's catalogues (api.*).
import { t, has, translatePage, languagePicker } from './i18n.js';
import { h } from './common.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const main = document.getElementById('api');

/** A tag's or a word's text in the page language, else `fallback`. */
const label = (key, fallback) => (has(key) ? t(key) : fallback);

/** Text with `code` spans (the description's Markdown backticks) as elements. */
function inline(text) {
  return String(text ?? '').split('`').map((part, i) => (i % 2 ? h('code', null, part) : part));
}

/** An operation's summary without the route it repeats ("`GET /x`: ...", "`PUT` / `DELETE /x`: ..."). */
function summaryOf(op) {
  const text = (op.summary ?? '').replace(/\s+/g, ' ').trim();
  let rest = text;
  for (;;) {
    const chunk = /^`((?:GET|POST|PUT|DELETE|PATCH|ANY)\b[^`]*)`\s*(?:\/\s*)?/.exec(rest);
    if (!chunk) break;
    rest = rest.slice(chunk[0].length);
  }
  rest = rest.replace(/^:\s*/, '');
  return rest || text;
}

/** The name a `$ref` points to (`#/components/schemas/Name` → `Name`). */
const refName = (ref) => String(ref).split('/').pop();

/** A short type text for `schema`: `string`, `Order[]`, `integer | null`, a link for a reference. */
function typeOf(schema) {
  if (!schema || typeof schema !== 'object') return t('api.any');
  if (schema.$ref) {
    const name = refName(schema.$ref);
    return h('a', { href: `#schema-${name}`, class: 'api-ref' }, name);
  }
  for (const combo of ['oneOf', 'anyOf', 'allOf']) {
    if (Array.isArray(schema[combo])) {
      const parts = schema[combo].map(typeOf);
      return h('span', null, parts.flatMap((p, i) => (i ? [' | ', p] : [p])));
    }
  }
  const types = Array.isArray(schema.type) ? schema.type : [schema.type ?? t('api.any')];
  const parts = types.map((type) => {
    if (type === 'array') return h('span', null, typeOf(schema.items), '[]');
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
    return schema.format ? `${type} (${schema.format})` : String(type);
  });
  return h('span', null, parts.flatMap((p, i) => (i ? [' | ', p] : [p])));
}

/** The properties of an object schema as a table. */
function propertiesTable(schema) {
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties ?? {}).map(([name, prop]) =>
    h('tr', null,
      h('td', null, h('code', null, name)),
      h('td', null, typeOf(prop)),
      h('td', null, required.has(name) ? h('span', { class: 'badge warn' }, t('api.required')) : h('span', { class: 'muted' }, t('api.optional'))),
      h('td', { class: 'muted' }, inline(prop.description))));
  if (!rows.length) return h('p', { class: 'muted small' }, typeOf(schema));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid api-table' },
    h('thead', null, h('tr', null, h('th', null, t('api.name')), h('th', null, t('api.type')), h('th', null, ''), h('th', null, t('api.description')))),
    h('tbody', null, rows)));
}

/** Who may call `op`: its security requirements as role badges. */
function roles(op, doc) {
  const security = op.security ?? doc.security ?? [];
  if (!security.length) return h('span', { class: 'badge' }, t('api.noAuth'));
  return security.map((requirement) => {
    const entries = Object.entries(requirement);
    if (!entries.length) return h('span', { class: 'badge' }, t('api.optionalAuth'));
    return entries.map(([scheme, list]) => {
      if (scheme !== 'bearer') return h('span', { class: 'badge info' }, label(`api.scheme.${scheme}`, scheme));
      if (!list.length) return h('span', { class: 'badge ok' }, t('api.anyCitizen'));
      return list.map((role) => h('span', { class: 'badge role' }, role));
    });
  });
}

/** One operation as a card. */
function operation(path, method, op, doc) {
  const params = op.parameters ?? [];
  const body = op.requestBody;
  const answers = Object.entries(op.responses ?? {});
  return h('details', { class: 'card api-op', 'data-testid': 'api-op', 'data-search': `${method} ${path} ${op.summary ?? ''}`.toLowerCase() },
    h('summary', null,
      h('span', { class: `api-method api-${method}` }, method.toUpperCase()), ' ',
      h('code', { class: 'api-path' }, path), ' ',
      h('span', { class: 'muted' }, inline(summaryOf(op)))),
    op.description ? h('p', { class: 'api-desc' }, inline(op.description)) : null,
    h('p', null, h('strong', null, t('api.roles')), ' ', roles(op, doc)),
    params.length ? [h('h3', null, t('api.parameters')), h('div', { class: 'table-wrap' }, h('table', { class: 'grid api-table' },
      h('thead', null, h('tr', null, h('th', null, t('api.name')), h('th', null, t('api.in')), h('th', null, t('api.type')), h('th', null, t('api.description')))),
      h('tbody', null, params.map((p) => h('tr', null,
        h('td', null, h('code', null, p.name), p.required ? ' *' : ''),
        h('td', null, label(`api.where.${p.in}`, p.in)),
        h('td', null, typeOf(p.schema)),
        h('td', { class: 'muted' }, inline(p.description)))))))] : null,
    body ? [h('h3', null, t('api.requestBody')), body.description ? h('p', { class: 'muted' }, inline(body.description)) : null,
      Object.entries(body.content ?? {}).map(([type, media]) => h('p', null, h('code', null, type), ' ', typeOf(media.schema)))] : null,
    h('h3', null, t('api.responses')),
    h('ul', { class: 'api-answers' }, answers.map(([status, answer]) => h('li', null,
      h('span', { class: `badge ${status.startsWith('2') || status.startsWith('3') ? 'ok' : 'bad'}` }, status), ' ',
      inline(answer.description), ' ',
      Object.entries(answer.content ?? {}).map(([type, media]) => h('span', { class: 'small' }, ' ', h('code', null, type), ' ', media.schema ? typeOf(media.schema) : ''))))),
    op['x-host-errors'] ? [h('h3', null, t('api.hostErrors')), h('ul', { class: 'api-answers' },
      Object.entries(op['x-host-errors']).map(([status, answer]) => h('li', null,
        h('span', { class: 'badge bad' }, status), ' ', inline(answer.description), ' ',
        typeOf(answer.content?.['application/json']?.schema))))] : null);
}

function render(doc) {
  const groups = new Map((doc.tags ?? []).map((tag) => [tag.name, { tag, ops: [] }]));
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const name = op.tags?.[0] ?? 'other';
      if (!groups.has(name)) groups.set(name, { tag: { name }, ops: [] });
      groups.get(name).ops.push(operation(path, method, op, doc));
    }
  }
  const count = [...groups.values()].reduce((n, g) => n + g.ops.length, 0);
  const schemas = Object.entries(doc.components?.schemas ?? {}).sort(([a], [b]) => a.localeCompare(b));
  main.replaceChildren(
    h('section', { class: 'api-intro' },
      h('h1', null, doc.info?.title ?? 'API'),
      h('p', { class: 'muted' }, t('api.summary', { count, version: doc.openapi, own: doc.info?.version ?? '' })),
      h('p', null, t('api.intro')),
      h('div', { class: 'api-info' }, (doc.info?.description ?? '').split('\n\n').map((para) => h('p', null, inline(para))))),
    h('nav', { class: 'api-toc' }, [...groups.values()].map(({ tag, ops }) =>
      h('a', { href: `#tag-${tag.name}` }, label(`api.tag.${tag.name}`, tag.name), ` (${ops.length})`))),
    ...[...groups.values()].map(({ tag, ops }) => h('section', { class: 'api-group', id: `tag-${tag.name}`, 'data-testid': 'api-group' },
      h('h2', null, label(`api.tag.${tag.name}`, tag.name)),
      tag.description ? h('p', { class: 'muted' }, inline(label(`api.tagAbout.${tag.name}`, tag.description))) : null,
      h('div', { class: 'stack' }, ops))),
    h('section', { class: 'api-group', id: 'schemas' },
      h('h2', null, t('api.schemas')),
      h('div', { class: 'stack' }, schemas.map(([name, schema]) => h('div', { class: 'card', id: `schema-${name}` },
        h('h3', null, name), schema.description ? h('p', { class: 'muted' }, inline(schema.description)) : null,
        propertiesTable(schema))))));
  main.removeAttribute('aria-busy');
}

function filter(text) {
  const wanted = text.trim().toLowerCase();
  for (const op of main.querySelectorAll('.api-op')) op.hidden = Boolean(wanted) && !op.dataset.search.includes(wanted);
  for (const group of main.querySelectorAll('.api-group[id^="tag-"]')) {
    group.hidden = ![...group.querySelectorAll('.api-op')].some((op) => !op.hidden);
  }
}

translatePage();
document.getElementById('language-slot').replaceWith(languagePicker());
document.getElementById('api-filter').addEventListener('input', (e) => filter(e.target.value));
try {
  const response = await fetch('/openapi.json', { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  render(await response.json());
} catch (err) {
  main.replaceChildren(h('div', { class: 'banner error', role: 'alert' }, t('api.loadFailed', { reason: err.message })));
  main.removeAttribute('aria-busy');
}
