/** A fake payment ledger with the host's rules (same checks and error kinds as the Rust TestEnv's). */
const MAX_AMOUNT_FEN = 100_000_000n;
const KEY = /^[A-Za-z0-9\-_.:]{1,64}$/;

/** A WIT-shaped error thrown like componentize-js does: `{payload: {tag, val}}`. */
export function witError(tag, val) {
  const e = new Error(tag);
  e.payload = val === undefined ? { tag } : { tag, val };
  return e;
}

function checkText(what, text, max) {
  if (!text || !text.trim() || [...text].length > max) throw witError('invalid-argument', `the ${what} must be 1 to ${max} characters`);
}

export class Ledger {
  constructor(now) {
    this.orders = [];
    this.refunds = [];
    this.events = [];
    this.merchants = new Set();
    this.unavailable = undefined;
    this.now = now;
  }

  available() {
    if (this.unavailable !== undefined) throw witError('provider-unavailable', this.unavailable);
  }

  index(id) {
    this.available();
    const i = this.orders.findIndex((o) => o.id === id);
    if (i < 0) throw witError('not-found');
    return i;
  }

  announce(i, kind, amountFen, refundKey) {
    const event = { id: `e${this.events.length + 1}`, kind, order: structuredClone(this.orders[i]), amountFen, refundKey, attempt: 1 };
    this.events.push(event);
    return event;
  }

  create(n, payer) {
    this.available();
    if (!payer) throw witError('no-citizen');
    if (!this.merchants.has(n.merchant)) throw witError('merchant-not-granted', n.merchant);
    const existing = this.orders.find((o) => o.orderKey === n.orderKey);
    if (existing) {
      const same = existing.merchant === n.merchant && existing.amountFen === n.amountFen && existing.description === n.description &&
        JSON.stringify(existing.kind) === JSON.stringify(n.kind) && existing.payer === payer &&
        existing.expiresAt - existing.createdAt === BigInt(n.expiresInS);
      if (!same) throw witError('key-reused', n.orderKey);
      return structuredClone(existing);
    }
    if (n.amountFen <= 0n || n.amountFen > MAX_AMOUNT_FEN) throw witError('invalid-amount', `${n.amountFen} fen is not between 1 and ${MAX_AMOUNT_FEN}`);
    checkText('description', n.description, 128);
    if (!KEY.test(n.orderKey)) throw witError('invalid-argument', 'the order key must be 1 to 64 characters of A-Z a-z 0-9 - _ . :');
    if (n.kind.tag === 'non-tax' && !KEY.test(n.kind.val)) throw witError('invalid-argument', 'the non-tax fee item code must be 1 to 64 characters of A-Z a-z 0-9 - _ . :');
    if (n.expiresInS < 60 || n.expiresInS > 604800) throw witError('invalid-argument', 'expires_in_s must be between 60 and 604800');
    const id = `o${this.orders.length + 1}`;
    const now = BigInt(this.now());
    const order = {
      id, orderKey: n.orderKey, merchant: n.merchant, amountFen: n.amountFen, refundedFen: 0n, description: n.description,
      kind: n.kind, status: 'created', payer, checkoutUrl: `/pay/${id}`, createdAt: now, expiresAt: now + BigInt(n.expiresInS), paidAt: undefined,
    };
    this.orders.push(order);
    return structuredClone(order);
  }

  get(id) {
    return structuredClone(this.orders[this.index(id)]);
  }

  find(key) {
    this.available();
    const o = this.orders.find((x) => x.orderKey === key);
    if (!o) throw witError('not-found');
    return structuredClone(o);
  }

  close(id) {
    const i = this.index(id);
    const o = this.orders[i];
    if (o.status === 'closed') return structuredClone(o);
    if (o.status !== 'created') throw witError('invalid-state', `the order is ${o.status}`);
    o.status = 'closed';
    this.announce(i, 'closed', 0n);
    return structuredClone(o);
  }

  refund(id, amountFen, reason, refundKey) {
    const i = this.index(id);
    const o = this.orders[i];
    if (!KEY.test(refundKey)) throw witError('invalid-argument', 'the refund key must be 1 to 64 characters of A-Z a-z 0-9 - _ . :');
    checkText('reason', reason, 80);
    const previous = this.refunds.find((r) => r.order === id && r.key === refundKey);
    if (previous) {
      if (previous.amountFen !== amountFen) throw witError('key-reused', refundKey);
      return structuredClone(o);
    }
    if (!['paid', 'partially-refunded'].includes(o.status)) throw witError('invalid-state', `the order is ${o.status}`);
    if (amountFen <= 0n || amountFen > o.amountFen - o.refundedFen) throw witError('invalid-amount', `${amountFen} fen is more than the ${o.amountFen - o.refundedFen} fen left`);
    o.refundedFen += amountFen;
    o.status = o.refundedFen === o.amountFen ? 'refunded' : 'partially-refunded';
    this.refunds.push({ order: id, key: refundKey, amountFen });
    this.announce(i, 'refunded', amountFen, refundKey);
    return structuredClone(o);
  }

  /** The cashier: mark a created order paid. */
  pay(id) {
    const i = this.orders.findIndex((o) => o.id === id);
    if (i < 0) throw new Error(`no order ${id}`);
    const o = this.orders[i];
    if (o.status !== 'created') throw new Error(`order ${id} is ${o.status}, not payable`);
    o.status = 'paid';
    o.paidAt = BigInt(this.now());
    return this.announce(i, 'paid', o.amountFen);
  }

  /** The clock: expire a created order. */
  expire(id) {
    const i = this.orders.findIndex((o) => o.id === id);
    if (i < 0) throw new Error(`no order ${id}`);
    const o = this.orders[i];
    if (o.status !== 'created') throw new Error(`order ${id} is ${o.status}, cannot expire`);
    o.status = 'expired';
    return this.announce(i, 'expired', 0n);
  }
}
