/** Key-value storage private to this mini-service. Values are bytes (strings are stored as UTF-8). Failures throw StorageError. */
import { host, witCall, toBytes, toText } from './sys.js';
import { StorageError } from './errors.js';

const err = (tag, val) => new StorageError(tag, val);
const s = () => host().storage;

/**
 * The value under `key` as bytes, or undefined.
 *
 * @example
 * const raw = storage.get('photo/1');
 */
export function get(key) {
  return witCall(() => s().get(key), err) ?? undefined;
}
/**
 * The value under `key` as UTF-8 text, or undefined.
 *
 * @example
 * const owner = storage.getText(`owner/${id}`);
 */
export function getText(key) {
  const v = get(key);
  return v === undefined ? undefined : toText(v);
}
/**
 * Store `value` (string or bytes) under `key`.
 *
 * @example
 * storage.set(`subscribers/${subject}`, '1');
 */
export function set(key, value) {
  witCall(() => s().set(key, toBytes(value)), err);
}
/**
 * Remove `key`; returns whether it existed.
 *
 * @example
 * storage.del('k');
 */
export function del(key) {
  return witCall(() => s().delete(key), err);
}
export { del as delete };
/**
 * One page `{keys, nextCursor}` of keys starting with `prefix` (at most `limit`, capped at 1000).
 *
 * @example
 * let cursor;
 * do { const page = storage.listKeys('fees/', cursor); page.keys.forEach(visit); cursor = page.nextCursor; } while (cursor);
 */
export function listKeys(prefix, cursor, limit = 100) {
  const page = witCall(() => s().listKeys(prefix, cursor ?? undefined, limit), err);
  return { keys: [...page.keys], nextCursor: page.nextCursor ?? undefined };
}
/**
 * Atomically replace the value under `key` with `next` (undefined deletes)
 * if it currently equals `expected` (undefined = absent); else throws
 * StorageError `conflict` (409).
 *
 * @example
 * storage.compareAndSwap('seat/12', undefined, subject); // claim a free seat
 */
export function compareAndSwap(key, expected, next) {
  const e = expected === undefined || expected === null ? undefined : toBytes(expected);
  const n = next === undefined || next === null ? undefined : toBytes(next);
  witCall(() => s().compareAndSwap(key, e, n), err);
}
/**
 * Atomically add `delta` to the decimal integer under `key` (absent = 0); returns the new value as a Number.
 *
 * @example
 * const n = storage.increment('seq');
 */
export function increment(key, delta = 1) {
  return Number(witCall(() => s().increment(key, BigInt(delta)), err));
}
/**
 * The JSON value under `key`, or undefined; throws StorageError `invalid-json` when it is not JSON.
 *
 * @example
 * const fee = storage.getJson(key);
 */
export function getJson(key) {
  const text = getText(key);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new StorageError('invalid-json', e.message);
  }
}
/**
 * Store `value` as JSON under `key`.
 *
 * @example
 * storage.setJson(key, { status: 'pending' });
 */
export function setJson(key, value) {
  set(key, JSON.stringify(value));
}
/**
 * Read-modify-write the JSON value under `key` with compare-and-swap,
 * retrying up to `attempts` times on conflict: `f(current | undefined)`
 * returns the new value. Returns it.
 *
 * @example
 * storage.updateJson('stats', 5, (s) => ({ n: (s?.n ?? 0) + 1 }));
 */
export function updateJson(key, attempts, f) {
  for (let i = 0; ; i++) {
    const before = get(key);
    let current;
    if (before !== undefined) {
      try {
        current = JSON.parse(toText(before) ?? '');
      } catch (e) {
        throw new StorageError('invalid-json', e.message);
      }
    }
    const next = f(current);
    try {
      compareAndSwap(key, before, JSON.stringify(next));
      return next;
    } catch (e) {
      if (!(e instanceof StorageError && e.kind === 'conflict') || i + 1 >= attempts) throw e;
    }
  }
}
