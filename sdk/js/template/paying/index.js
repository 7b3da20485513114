// {{name}}: a citizen pays a fee in the city's cashier.
//
// The service creates an order on its merchant account and sends the
// citizen to the order's `checkout_url`. The fee is paid when the host
// delivers the `paid` payment event to `onPayment` — never when the page
// comes back from the cashier. Events arrive at least once, so each one is
// handled once per event id.
//
// | route | who | what |
// | --- | --- | --- |
// | `GET /` | anyone | the page |
// | `POST /api/fees` | signed in | `{"order", "checkout_url"}`: a new order for the fee |
// | `GET /api/fees` | signed in | the caller's fees and their status |
import { Router, Response, identity, storage, payment, log } from '@islet/sdk';

/** The merchant account the fee is paid to (granted by an admin). */
export const MERCHANT = '{{merchant}}';
/** The fee, in fen (1 yuan = 100 fen). */
export const FEE_FEN = 1000;
/** An unpaid order expires after this many seconds. */
export const EXPIRES_IN_S = 30 * 60;

const PAGE = `<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{name}}</title></head>
<body><main><h1>{{name}}</h1>
<p>POST <code>/api/fees</code> creates an order; open its <code>checkout_url</code> to pay in the city's cashier.</p></main></body>
</html>
`;

const feeKey = (subject, orderId) => `fees/${subject}/${orderId}`;

export const router = new Router()
  .get('/', () => Response.html(PAGE))
  .post('/api/fees', () => {
    const { subject } = identity.requireCaller(); // 401 when anonymous
    // The order key makes a retried request return the same order.
    const number = storage.increment(`fee-count/${subject}`, 1);
    const order = payment.createOrder({
      merchant: MERCHANT,
      amountFen: FEE_FEN,
      description: '{{name}} fee',
      orderKey: `${subject}-${number}`,
      expiresInS: EXPIRES_IN_S,
    }); // PaymentError → 403 merchant not granted, 503 unavailable, ...
    storage.setJson(feeKey(subject, order.id), { order_id: order.id, amount_fen: order.amountFen, status: 'pending' });
    // The order remembers whose it is, for the payment event.
    storage.set(`owner/${order.id}`, subject);
    return { checkout_url: order.checkoutUrl, order: { id: order.id, amount_fen: order.amountFen, status: order.status } };
  })
  .get('/api/fees', () => {
    const { subject } = identity.requireCaller();
    const { keys } = storage.listKeys(`fees/${subject}/`, undefined, 100);
    return { fees: keys.map((key) => storage.getJson(key)).filter(Boolean) };
  });

const STATUS = { paid: 'paid', expired: 'expired', closed: 'closed', refunded: 'refunded' };

/**
 * The payment-event handler: a paid order makes its fee paid; an expired or
 * closed one ends it unpaid. Throwing makes the host deliver it again later.
 */
export function onPayment(event) {
  const seen = `event/${event.id}`;
  if (storage.get(seen) !== undefined) return; // a repeated delivery
  const status = STATUS[event.kind] ?? event.kind;
  const owner = storage.getText(`owner/${event.order.id}`);
  if (owner !== undefined) {
    const key = feeKey(owner, event.order.id);
    const fee = storage.getJson(key);
    if (fee) storage.setJson(key, { ...fee, status });
  }
  storage.set(seen, status);
  log.info(`order ${event.order.id} ${status}`);
}
