/** In-memory storage with the host's limits: key ≤ 256 bytes, value ≤ 1 MiB, quota over keys + values. */
import { witError } from './ledger.js';

/** The default storage quota of a TestEnv, bytes (10 MiB). */
export const DEFAULT_QUOTA_BYTES = 10 * 1024 * 1024;
const MAX_KEY_BYTES = 256;
const MAX_PAGE = 1000;
const enc = new TextEncoder();
const keyBytes = (k) => enc.encode(k).length;
const same = (a, b) => a === undefined ? b === undefined : b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
const cmp = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export class MemoryStore {
  constructor() {
    this.map = new Map();
    this.quota = DEFAULT_QUOTA_BYTES;
    this.maxValueBytes = 1024 * 1024;
    this.unavailable = undefined;
  }
  usage() {
    let n = 0;
    for (const [k, v] of this.map) n += keyBytes(k) + v.length;
    return n;
  }
  check(key) {
    if (this.unavailable !== undefined) throw witError('unavailable', this.unavailable);
    if (!key || keyBytes(key) > MAX_KEY_BYTES) throw witError('key-too-large');
  }
  write(key, expected, value, cas) {
    this.check(key);
    if (value !== undefined && value.length > this.maxValueBytes) throw witError('value-too-large');
    const current = this.map.get(key);
    if (cas && !same(current, expected)) throw witError('conflict');
    const old = current === undefined ? 0 : keyBytes(key) + current.length;
    const next = value === undefined ? 0 : keyBytes(key) + value.length;
    if (next > old && this.usage() - old + next > this.quota) throw witError('quota-exceeded');
    if (value === undefined) this.map.delete(key);
    else this.map.set(key, Uint8Array.from(value));
  }
  /** The WIT-shaped storage interface. */
  api() {
    return {
      get: (key) => {
        this.check(key);
        const v = this.map.get(key);
        return v === undefined ? undefined : Uint8Array.from(v);
      },
      set: (key, value) => this.write(key, undefined, value, false),
      delete: (key) => {
        this.check(key);
        const had = this.map.has(key);
        this.map.delete(key);
        return had;
      },
      listKeys: (prefix, cursor, limit) => {
        if (this.unavailable !== undefined) throw witError('unavailable', this.unavailable);
        const all = [...this.map.keys()].filter((k) => k.startsWith(prefix) && (cursor === undefined || cmp(k, cursor) > 0)).sort(cmp);
        const n = Math.max(0, Math.min(limit, MAX_PAGE));
        const keys = all.slice(0, n);
        return { keys, nextCursor: all.length > n && keys.length > 0 ? keys[keys.length - 1] : undefined };
      },
      compareAndSwap: (key, expected, value) => this.write(key, expected, value, true),
      increment: (key, delta) => {
        this.check(key);
        const cur = this.map.get(key);
        let n = 0n;
        if (cur !== undefined) {
          const text = Buffer.from(cur).toString('utf8');
          if (!/^-?[0-9]+$/.test(text)) throw witError('not-a-number');
          n = BigInt(text);
        }
        const next = n + delta;
        if (next > 9223372036854775807n || next < -9223372036854775808n) throw witError('not-a-number');
        this.write(key, undefined, enc.encode(next.toString()), false);
        return next;
      },
    };
  }
}
