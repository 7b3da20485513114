/**
 * Charge the signed-in citizen through the city's payment platform.
 * Amounts are integers in fen (Numbers here; BigInt on the wire). Failures
 * throw PaymentError.
 */
import { host, witCall } from './sys.js';
import { PaymentError } from './errors.js';
import { orderFromWit } from './payment-wire.js';

const err = (t, v) => new PaymentError(t, v);
const p = () => host().payment;


function amount(n, what) {
  if (typeof n === 'bigint') return n;
  if (!Number.isSafeInteger(n) || n < 0) throw new PaymentError('invalid-amount', `${what} must be a whole number of fen, not ${n}`);
  return BigInt(n);
}

/**
 * Create an order for the current citizen (or return the existing one for a
 * repeated `orderKey` with the same parameters):
 * `{merchant, amountFen, description, orderKey, kind?: {type:'non-tax', code}, expiresInS?: 1800}`.
 *
 * @example
 * const o = payment.createOrder({ merchant: 'transport-fees', amountFen: 5000, description: '公交卡充值', orderKey: `topup-${n}` });
 * return { checkout_url: o.checkoutUrl };
 */
export function createOrder(order) {
  const kind = order.kind && order.kind.type === 'non-tax' ? { tag: 'non-tax', val: order.kind.code } : { tag: 'service-fee' };
  const wire = {
    merchant: order.merchant,
    amountFen: amount(order.amountFen, 'amountFen'),
    description: order.description,
    kind,
    orderKey: order.orderKey,
    expiresInS: order.expiresInS ?? 1800,
  };
  return orderFromWit(witCall(() => p().createOrder(wire), err));
}
/**
 * The order `id`, if it belongs to this mini-service (else PaymentError `not-found`).
 *
 * @example
 * payment.getOrder('o12').status
 */
export function getOrder(id) {
  return orderFromWit(witCall(() => p().getOrder(id), err));
}
/**
 * The order created with `orderKey` (else PaymentError `not-found`).
 *
 * @example
 * payment.findOrder(`topup-${n}`)
 */
export function findOrder(orderKey) {
  return orderFromWit(witCall(() => p().findOrder(orderKey), err));
}
/**
 * Close an unpaid order.
 *
 * @example
 * payment.closeOrder(id)
 */
export function closeOrder(id) {
  return orderFromWit(witCall(() => p().closeOrder(id), err));
}
/**
 * Refund `amountFen` of a paid order, idempotent per `refundKey`.
 *
 * @example
 * payment.refund(id, 500, 'overcharged', `refund-${id}-1`)
 */
export function refund(id, amountFen, reason, refundKey) {
  return orderFromWit(witCall(() => p().refund(id, amount(amountFen, 'amountFen'), reason, refundKey), err));
}
