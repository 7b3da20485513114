/** Payments' wire shapes (u64 fields as BigInt, variants as tags) as the SDK's objects; internal, not part of the API. */

/** An order from the wire shape: u64 fields as Numbers, `kind` as `{type: 'service-fee'}` or `{type: 'non-tax', code}`. */
export function orderFromWit(o) {
  return {
    id: o.id,
    orderKey: o.orderKey,
    merchant: o.merchant,
    amountFen: Number(o.amountFen),
    refundedFen: Number(o.refundedFen),
    description: o.description,
    kind: o.kind.tag === 'non-tax' ? { type: 'non-tax', code: o.kind.val } : { type: 'service-fee' },
    status: o.status,
    payer: o.payer,
    checkoutUrl: o.checkoutUrl,
    createdAt: Number(o.createdAt),
    expiresAt: Number(o.expiresAt),
    paidAt: o.paidAt === undefined || o.paidAt === null ? undefined : Number(o.paidAt),
  };
}

/** A payment event from the wire shape: `{id, kind, order, amountFen, refundKey, attempt}`. */
export function eventFromWit(e) {
  return {
    id: e.id,
    kind: e.kind,
    order: orderFromWit(e.order),
    amountFen: Number(e.amountFen),
    refundKey: e.refundKey ?? undefined,
    attempt: e.attempt,
  };
}
