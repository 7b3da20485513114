// A TypeScript service checked against index.d.ts (test/types.test.js).
import { Router, Response, identity, storage, payment, type PaymentEvent, type Order } from '@islet/sdk';
import { TestEnv, Request } from '@islet/sdk/testing';

export const router = new Router()
  .get('/', () => Response.text('hi'))
  .post('/pay', () => {
    const { subject } = identity.requireCaller();
    const order: Order = payment.createOrder({ merchant: 'm', amountFen: 100, description: 'd', orderKey: `k-${subject}` });
    return { checkout: order.checkoutUrl, n: storage.increment('n', 1) };
  });

export function onPayment(event: PaymentEvent): void {
  if (event.kind === 'paid') storage.set(`paid/${event.order.id}`, '1');
}

const env = new TestEnv();
env.asCaller('a').grantMerchant('m');
const status: number = env.call({ router, onPayment }, Request.post('/pay')).status;
export { status };
