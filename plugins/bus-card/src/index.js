// Bus card top-up (公交卡充值): the JavaScript sample mini-service.
//
// | route | who | what |
// | --- | --- | --- |
// | `GET /` | anyone | the page (`/page.js`, `/page.css` beside it) |
// | `GET /api/card` | citizen | the registered card, its balance, top-ups and the amounts offered |
// | `PUT /api/card` | citizen | register the card `{"number"}` |
// | `POST /api/topups` | citizen | start a top-up `{"amount_fen"}`: `{"order_id", "checkout_url"}` |
//
// The card is credited when the platform delivers the `paid` event to
// `onPayment`, not when the page comes back from the cashier.
import { Router, Response, identity } from '@islet/sdk';
import { AMOUNTS_FEN, cardOf, registerCard, balanceOf, startTopup, topupsOf, onPayment } from './topup.js';
import { PAGE_HTML, PAGE_JS, PAGE_CSS } from './page.js';

const POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";
const asset = (type, body) => Response.bytes(type, body).withHeader('cache-control', 'no-cache').withHeader('x-content-type-options', 'nosniff');

export const router = new Router()
  .get('/', () => asset('text/html; charset=utf-8', PAGE_HTML).withHeader('content-security-policy', POLICY))
  .get('/page.js', () => asset('text/javascript; charset=utf-8', PAGE_JS))
  .get('/page.css', () => asset('text/css; charset=utf-8', PAGE_CSS))
  .get('/api/card', () => {
    const { subject } = identity.requireCaller();
    const card = cardOf(subject);
    return {
      card: card ? { number: card.number, balance_fen: balanceOf(card.number) } : null,
      amounts_fen: AMOUNTS_FEN,
      topups: topupsOf(subject).map((t) => ({ id: t.id, amount_fen: t.amountFen, status: t.status, card: t.card })),
    };
  })
  .put('/api/card', (req) => {
    const { subject } = identity.requireCaller();
    const card = registerCard(subject, req.json()?.number);
    return { number: card.number, balance_fen: card.balanceFen };
  })
  .post('/api/topups', (req) => {
    const { subject } = identity.requireCaller();
    const { orderId, checkoutUrl } = startTopup(subject, Number(req.json()?.amount_fen));
    return Response.json({ order_id: orderId, checkout_url: checkoutUrl }, 201);
  });

export { onPayment };
