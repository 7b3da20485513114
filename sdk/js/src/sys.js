/**
 * The host behind the SDK: the `islet:platform` imports inside a component,
 * or a TestEnv's fake under `node --test`. Both have the WIT's shapes
 * (u64 as BigInt, bytes as Uint8Array, errors thrown with a `payload`
 * `{tag, val}`), so the SDK converts in one place.
 */
let backend = null;

/** Install the host (done by the generated component entry or a TestEnv). */
export function install(b) {
  const previous = backend;
  backend = b;
  return previous;
}

/** The installed host; throws when there is none (outside a component or a TestEnv). */
export function host() {
  if (!backend) {
    throw new Error('no Islet host: run inside a component, or in a test through TestEnv.call()');
  }
  return backend;
}

/** Call `f`, turning a WIT error (thrown `{payload: {tag, val}}`) into `make(tag, val)`. */
export function witCall(f, make) {
  try {
    return f();
  } catch (e) {
    const p = e && typeof e === 'object' && 'payload' in e ? e.payload : undefined;
    if (p && typeof p === 'object' && typeof p.tag === 'string') throw make(p.tag, p.val);
    throw e;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string; Uint8Array and ArrayBuffer pass through. */
export function toBytes(v) {
  if (v === undefined || v === null) return new Uint8Array(0);
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return encoder.encode(String(v));
}

/** The bytes as UTF-8 text, or undefined when they are not valid UTF-8. */
export function toText(bytes) {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}
