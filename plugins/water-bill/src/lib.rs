//! `water-bill`: see the household water bills and pay them in the city's
//! cashier — the sample of the `payment` capability.
//!
//! A signed-in citizen's account (number, address, three monthly bills) is
//! seeded from their pairwise subject on first access. Paying a bill creates
//! an order on the water company's merchant account (`water-supply`) with
//! the order key `<account>-<period>-<attempt>`; the page sends the citizen
//! to the order's `checkout_url`, and the bill becomes paid when the host
//! delivers the `paid` event — not when the page comes back.
//!
//! | Route | Who | What |
//! | --- | --- | --- |
//! | `GET /`, `GET /index.html` | anyone | the mobile page (`page.js`, `page.css` beside it) |
//! | `GET /api/account` | signed in | `{number, address, bills: [{period, amount_fen, due_date, status, order_id, attempt, paid_at}]}` |
//! | `POST /api/bills/{period}/pay` | signed in | `{order, checkout_url}`; `404` unknown period, `409` already paid |
//! | `GET /api/bills/{period}/receipt` | signed in | the receipt of a paid bill with `payer_name` (the real name, with consent) or `consent: {item, purpose}` to ask for; `409` before it is paid |
//!
//! Bill statuses: `unpaid`, `pending` (an order waits for payment), `paid`,
//! `refunded`. Payment events: `paid` → paid (a second paid order for a paid
//! bill is refunded), `refunded` in full → refunded, `closed` / `expired`
//! of the pending order → unpaid.
//!
//! The receipt prints the payer's real name, personal data declared under
//! `[personal-data]` with its purpose: `identity.claim` releases it only
//! when the citizen consented. Without consent the receipt comes without the
//! name and the page offers "Show my name on the receipt", which has the
//! app show the platform's consent prompt (`islet.askConsent`) and asks
//! again once the citizen allowed it.

mod account;
mod api;
mod events;
mod receipt;

pub use account::{Account, Bill, BillStatus};
pub use api::{MERCHANT, ORDER_EXPIRES_IN_S};
pub use events::on_payment;
pub use receipt::Receipt;

use islet_sdk::{Request, Response, Router};

/// The service's routes.
pub fn router() -> Router {
    Router::new()
        .get("/", page)
        .get("/index.html", page)
        .get("/page.js", script)
        .get("/page.css", style)
        .get("/api/account", api::account)
        .post("/api/bills/{period}/pay", api::pay)
        .get("/api/bills/{period}/receipt", receipt::receipt)
}

/// The page loads its script and style from this service, never inline,
/// so it works under a `script-src 'self'` policy like the host's.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'self'";

fn asset(content_type: &str, body: &str) -> Response {
    Response::bytes(content_type, body)
        .with_header("cache-control", "no-cache")
        .with_header("x-content-type-options", "nosniff")
}

fn page(_req: &Request) -> Response {
    asset("text/html; charset=utf-8", include_str!("page.html"))
        .with_header("content-security-policy", PAGE_POLICY)
}

fn script(_req: &Request) -> Response {
    asset("text/javascript; charset=utf-8", include_str!("page.js"))
}

fn style(_req: &Request) -> Response {
    asset("text/css; charset=utf-8", include_str!("page.css"))
}

islet_sdk::export_service!(router, on_payment = on_payment);
