// Shared by the admin console, the app shell and the cashier.
import { dateTime, money, t } from './i18n.js';

/** The claims of a JWT, decoded for display only (the host verifies it). */
export function decodeClaims(token) {
  return decodePart(token?.split('.')[1]);
}

/**
 * Why `token` cannot sign anyone in, as far as the page can tell without
 * the keys (the host still verifies it): `'format'` when it is not a JWT
 * (three base64url parts, a JSON header naming its algorithm, JSON claims
 * with a subject), `'expired'` when its `exp` has passed; null when usable.
 */
export function tokenProblem(token, nowSecs = Date.now() / 1000) {
  const value = typeof token === 'string' ? token.trim() : '';
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value)) return 'format';
  const header = decodePart(value.split('.')[0]);
  const claims = decodePart(value.split('.')[1]);
  if (typeof header?.alg !== 'string' || typeof claims?.sub !== 'string' || !claims.sub) return 'format';
  if (claims.exp !== undefined && (typeof claims.exp !== 'number' || claims.exp <= nowSecs)) return 'expired';
  return null;
}

/** One base64url JSON part of a JWT, or null. */
function decodePart(payload) {
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Create an element: props are attributes, `on*` listeners, `testid`. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'testid') el.dataset.testid = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'disabled') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Integer fen as yuan in the page language: 4268 → "¥42.68". */
export const yuan = money;

/** Seconds since the epoch as date and time in the city's zone ('' for none). */
export const when = dateTime;

/** A path on this host (`/…`, never `//host` or a backslash trick), or null. */
export function sameOriginPath(value) {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return null;
  // Browsers drop tabs and newlines from URLs ("/\t/evil" → "//evil").
  if (value.includes('\\') || /[\u0000-\u0020\u007f]/.test(value)) return null;
  try {
    return new URL(value, location.origin).origin === location.origin ? value : null;
  } catch {
    return null;
  }
}

/** What an order is for: `"service-fee"` or `{"non-tax": code}`. */
export function kindText(kind) {
  if (kind === 'service-fee') return t('common.kind.serviceFee');
  if (kind && typeof kind === 'object' && 'non-tax' in kind) return t('common.kind.nonTax', { code: kind['non-tax'] });
  return '';
}

/** An error answer of the JSON API (status 0: the host was not reached). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Call the JSON API with `token` (if any); a non-2xx answer throws its
 * `{"error": {"code", "message"}}` as an ApiError.
 */
export async function callApi(token, method, path, body) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'network', `The host cannot be reached (${err.message}).`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(response.status, error.code ?? `http_${response.status}`,
      error.message ?? (text.slice(0, 200) || `${response.status} ${response.statusText}`));
  }
  return data;
}
