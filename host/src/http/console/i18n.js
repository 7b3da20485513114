// The pages' languages: Simplified Chinese first, English second. The texts
// live in one catalogue per language (/assets/i18n/zh-CN.json, en.json) that
// a translator edits without reading code; `t(key, params)` looks a text up
// ("shell.greeting.hello") and fills its `{name}` parameters. Dates, times
// and money are formatted with `Intl`, in the page language and the city's
// time zone (GET /api/v1/platform).
//
// The language follows the browser (`navigator.languages`) until the user
// picks one; the pick is kept in localStorage (`islet_lang`) and in a cookie
// of the same name, so the host's own pages (a service's error page in the
// frame) and the catalog speak it too.

export const LANGUAGES = ['zh-CN', 'en'];
const DEFAULT = 'zh-CN';
const LANG_KEY = 'islet_lang';
/** Each language in its own words, for the switcher. */
const NATIVE = { 'zh-CN': '中文', en: 'English' };

const primary = (tag) => String(tag).toLowerCase().split(/[-_]/)[0];

/** The language to use: the saved pick, else the browser's first we speak. */
function choose() {
  let saved = null;
  try {
    saved = localStorage.getItem(LANG_KEY);
  } catch {
    saved = null;
  }
  if (LANGUAGES.includes(saved)) return saved;
  for (const wanted of navigator.languages ?? [navigator.language]) {
    const exact = LANGUAGES.find((l) => l.toLowerCase() === String(wanted).toLowerCase());
    if (exact) return exact;
    const same = LANGUAGES.find((l) => primary(l) === primary(wanted));
    if (same) return same;
  }
  return DEFAULT;
}

/** The page language (a BCP 47 tag). */
export const lang = choose();

let texts = {};
let english = {};
/** The city's business time zone (an IANA name). */
export let zone = 'Asia/Shanghai';

async function loadJson(path) {
  try {
    const response = await fetch(path, { headers: { accept: 'application/json' } });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

const [own, fallback, platform] = await Promise.all([
  loadJson(`/assets/i18n/${lang}.json`),
  lang === 'en' ? null : loadJson('/assets/i18n/en.json'),
  loadJson('/api/v1/platform'),
]);
texts = own ?? {};
english = lang === 'en' ? texts : (fallback ?? {});
if (typeof platform?.time_zone === 'string') zone = platform.time_zone;
document.documentElement.lang = lang;
document.cookie = `${LANG_KEY}=${lang}; path=/; max-age=31536000; SameSite=Lax`;

function lookup(catalogue, key) {
  let node = catalogue;
  for (const part of key.split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = node[part];
  }
  return typeof node === 'string' ? node : undefined;
}

/** Whether the catalogue (or the English one) has a text for `key`. */
export function has(key) {
  return lookup(texts, key) !== undefined || lookup(english, key) !== undefined;
}

/**
 * The text for `key` in the page language (English when it is missing
 * there, the key itself when missing everywhere), with each `{name}`
 * replaced by `params.name`.
 */
export function t(key, params) {
  const text = lookup(texts, key) ?? lookup(english, key) ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/**
 * Translate the static page: `data-i18n="key"` sets the text,
 * `data-i18n-attr="attr:key attr2:key2"` sets attributes.
 */
export function translatePage(root = document) {
  // A text no catalogue has (one failed to load) keeps the page's own words.
  for (const el of root.querySelectorAll('[data-i18n]')) {
    if (has(el.dataset.i18n)) el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(/\s+/).filter(Boolean)) {
      const [attr, key] = pair.split(':');
      if (attr && key && has(key)) el.setAttribute(attr, t(key));
    }
  }
}

/** Switch to `language` for good (kept in this browser) and reload. */
export function setLanguage(language) {
  if (!LANGUAGES.includes(language) || language === lang) return;
  try {
    localStorage.setItem(LANG_KEY, language);
  } catch {
    // private mode: the cookie still carries it
  }
  document.cookie = `${LANG_KEY}=${language}; path=/; max-age=31536000; SameSite=Lax`;
  location.reload();
}

/** A labelled language picker (`data-testid="language"`). */
export function languagePicker(extraClass = '') {
  const select = document.createElement('select');
  select.className = `language-picker ${extraClass}`.trim();
  select.dataset.testid = 'language';
  select.setAttribute('aria-label', t('common.language'));
  for (const language of LANGUAGES) {
    const option = document.createElement('option');
    option.value = language;
    option.lang = language;
    option.textContent = NATIVE[language];
    option.selected = language === lang;
    select.append(option);
  }
  select.addEventListener('change', () => setLanguage(select.value));
  return select;
}

// ------------------------------------------------------------ formatting

const dateTimeFormat = new Intl.DateTimeFormat(lang, {
  timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});
const dateTimeSecondsFormat = new Intl.DateTimeFormat(lang, {
  timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});
const clockFormat = new Intl.DateTimeFormat(lang, { timeZone: zone, hour: 'numeric', minute: '2-digit', hourCycle: 'h23' });
const moneyFormat = new Intl.NumberFormat(lang, { style: 'currency', currency: 'CNY', currencyDisplay: 'narrowSymbol' });
const relative = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });

/** Milliseconds since the epoch as date and time in the city's zone ('' for none). */
export function dateTimeMs(ms, { seconds = false } = {}) {
  if (!Number.isFinite(ms) || ms <= 0) return '';
  return (seconds ? dateTimeSecondsFormat : dateTimeFormat).format(new Date(ms));
}

/** Seconds since the epoch as date and time in the city's zone ('' for none). */
export function dateTime(secs) {
  return secs ? dateTimeMs(secs * 1000) : '';
}

/** The city zone's name in the page language ("中国标准时间"). */
export function zoneName(ms = Date.now()) {
  const parts = new Intl.DateTimeFormat(lang, { timeZone: zone, timeZoneName: 'long' }).formatToParts(new Date(ms));
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? zone;
}

/** Seconds since the epoch with the zone named: "2026/11/30 18:00（中国标准时间）". */
export function dateTimeWithZone(secs) {
  if (!secs) return '';
  return t('common.timeInZone', { time: dateTime(secs), zone: zoneName(secs * 1000) });
}

/** The time of day now, in the city's zone. */
export function clockNow() {
  return clockFormat.format(new Date());
}

/** Integer fen as yuan, in the page language: 4268 → "¥42.68". */
export function money(fen) {
  if (!Number.isSafeInteger(fen) || fen < 0) return '—';
  return moneyFormat.format(fen / 100);
}

/** Milliseconds since the epoch as "just now", "5 minutes ago" or a date. */
export function since(ms) {
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 60) return t('common.justNow');
  if (seconds < 3600) return relative.format(-Math.floor(seconds / 60), 'minute');
  if (seconds < 86_400) return relative.format(-Math.floor(seconds / 3600), 'hour');
  return dateTimeMs(ms);
}

/** Sort texts the way the page language does. */
export const collator = new Intl.Collator(lang);

/**
 * What to show for an error of the JSON API: the catalogue's text for its
 * `code` (`errors.<code>`), else the host's (English) message.
 */
export function errorText(err) {
  const code = err?.code;
  if (code && has(`errors.${code}`)) return t(`errors.${code}`);
  return err?.message ?? String(err);
}

// Screens in modules of their own (admin_money.js) look texts up here.
window.isletI18n = { t, has };
