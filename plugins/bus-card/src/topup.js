// Bus card top-ups: the card a citizen registered, their top-ups, and
// crediting a top-up once its payment is confirmed.
import { storage, payment, notification, log, IsletError, NotifyError } from '@islet/sdk';

/** The amounts a card may be topped up with, fen (¥10, ¥20, ¥50, ¥100). */
export const AMOUNTS_FEN = [1000, 2000, 5000, 10000];
/** The merchant account of the transport department. */
export const MERCHANT = 'transport-fees';
/** The message template sent when a top-up is credited. */
export const TEMPLATE = 'topup-credited';

const CARD = /^[0-9]{8,12}$/;

/** "12.34" from 1234 fen, without floating point. */
export function yuan(fen) {
  const cents = String(fen % 100).padStart(2, '0');
  return `${Math.floor(fen / 100)}.${cents}`;
}

/** The card registered by `subject`, or undefined. */
export function cardOf(subject) {
  return storage.getJson(`card/${subject}`);
}

/** Register card `number` for `subject`. */
export function registerCard(subject, number) {
  if (typeof number !== 'string' || !CARD.test(number)) {
    throw new IsletError(422, 'invalid_card', '卡号应为 8 到 12 位数字 (the card number is 8 to 12 digits)');
  }
  storage.setJson(`card/${subject}`, { number });
  return { number, balanceFen: balanceOf(number) };
}

/** The balance of card `number`, fen. */
export function balanceOf(number) {
  const text = storage.getText(`balance/${number}`);
  return text === undefined ? 0 : Number(text);
}

/** Start a top-up of `amountFen` for `subject`'s card: an order to pay in the cashier. */
export function startTopup(subject, amountFen) {
  const card = cardOf(subject);
  if (!card) throw new IsletError(409, 'no_card', '请先绑定公交卡 (register your card first)');
  if (!AMOUNTS_FEN.includes(amountFen)) {
    throw new IsletError(422, 'invalid_amount', `充值金额只能是 ${AMOUNTS_FEN.map(yuan).join('、')} 元`);
  }
  const n = storage.increment('seq/topup', 1);
  const order = payment.createOrder({
    merchant: MERCHANT,
    amountFen,
    description: `公交卡充值 ${card.number}`,
    orderKey: `topup-${n}`,
    expiresInS: 900,
  });
  storage.setJson(`topup/${order.id}`, { card: card.number, subject, amountFen, status: 'pending', createdAt: order.createdAt });
  storage.set(`mine/${subject}/${String(n).padStart(10, '0')}`, order.id);
  log.info(`top-up ${order.id} of ${amountFen} fen for card ${card.number} started`);
  return { orderId: order.id, checkoutUrl: order.checkoutUrl };
}

/** `subject`'s top-ups, newest first. */
export function topupsOf(subject) {
  const { keys } = storage.listKeys(`mine/${subject}/`, undefined, 100);
  return keys.reverse().map((k) => {
    const id = storage.getText(k);
    return { id, ...storage.getJson(`topup/${id}`) };
  });
}

/**
 * The payment event handler: on `paid`, credit the card once (a
 * compare-and-swap from pending to credited makes repeated deliveries
 * harmless) and tell the citizen; on `expired`/`closed`, mark it failed.
 */
export function onPayment(event) {
  const key = `topup/${event.order.id}`;
  const before = storage.get(key);
  if (before === undefined) return; // not a top-up of ours
  const topup = JSON.parse(new TextDecoder().decode(before));
  if (topup.status !== 'pending') return; // already handled: a repeated delivery
  if (event.kind === 'paid') {
    storage.compareAndSwap(key, before, JSON.stringify({ ...topup, status: 'credited', paidAt: event.order.paidAt }));
    const balance = storage.increment(`balance/${topup.card}`, event.order.amountFen);
    log.info(`top-up ${event.order.id}: card ${topup.card} credited ${event.order.amountFen} fen`);
    try {
      notification.send(event.order.payer, TEMPLATE, { card: topup.card, amount: yuan(event.order.amountFen), balance: yuan(balance) }, '/');
    } catch (e) {
      // No consent, quota...: the top-up is credited all the same.
      if (!(e instanceof NotifyError)) throw e;
      log.warn(`top-up ${event.order.id}: no message sent (${e.kind})`);
    }
  } else if (event.kind === 'expired' || event.kind === 'closed') {
    storage.compareAndSwap(key, before, JSON.stringify({ ...topup, status: event.kind }));
  }
}
