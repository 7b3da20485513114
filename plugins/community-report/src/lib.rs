//! `community-report`: neighbourhood co-governance, in the spirit of
//! i厦门's "report it, and see it handled".
//!
//! Signed-in residents file reports about their neighbourhood (a dark street
//! light, a pothole, overflowing bins) and follow them; the department's
//! staff see every report and move it along its life cycle:
//! submitted → accepted → in-progress → resolved, or rejected.
//!
//! When a resident files a report the page asks whether to be told when it
//! moves on; "yes" has the app show the platform's own consent prompt
//! (`islet.askConsent`) for one message of the one-time template
//! `report-status`: the consent is given to the platform. When staff change the status the service sends that
//! message to the reporter's pairwise subject, linking to `/reports/{id}`.
//! Without a consent nobody is told, and the staff change still succeeds:
//! its answer says whether the reporter was notified.
//!
//! | Route | Who | What |
//! | --- | --- | --- |
//! | `GET /`, `GET /index.html`, `GET /reports/{id}` | anyone | the mobile page (`page.js`, `page.css` beside it); at `/reports/{id}` it shows that report first |
//! | `GET /api/me` | signed in | `{subject, staff}` |
//! | `POST /api/reports` | signed in | file `{category, description, location}` → `201` report |
//! | `GET /api/reports/mine` | signed in | own reports, newest first, `?cursor=&limit=` |
//! | `GET /api/reports/{id}` | owner or staff | one report with its history (else `404`) |
//! | `GET /api/reports` | staff | all reports, newest first, `?status=&cursor=&limit=` |
//! | `POST /api/reports/{id}/status` | staff | `{status, comment}` → report with `notification: {sent, message?, reason?, note?}`, `409` if not allowed |
//!
//! Anonymous callers get `401`, signed-in non-staff `403` on staff routes;
//! malformed JSON is `400`, invalid content `422`. Lists answer
//! `{"reports": [..], "next_cursor": "<id>" | null}`.

mod api;
pub mod model;
pub mod notify;
mod store;

use islet_sdk::{Request, Response, Router};

/// The service's routes.
pub fn router() -> Router {
    Router::new()
        .get("/", page)
        .get("/index.html", page)
        .get("/reports/{id}", report_page)
        .get("/page.js", script)
        .get("/page.css", style)
        .get("/api/me", api::me)
        .post("/api/reports", api::file)
        .get("/api/reports", api::list)
        .get("/api/reports/mine", api::mine)
        .get("/api/reports/{id}", api::show)
        .post("/api/reports/{id}/status", api::change_status)
}

/// The page loads its script and style from this service, never inline,
/// so it works under a `script-src 'self'` policy (which also admits the
/// platform's bridge, `/assets/islet.js`); the host adds its sandbox.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'self'";

fn asset(content_type: &str, body: impl Into<Vec<u8>>) -> Response {
    Response::bytes(content_type, body)
        .with_header("cache-control", "no-cache")
        .with_header("x-content-type-options", "nosniff")
}

/// The page, with its script and style `root` away (`""` or `"../"`).
fn page_at(root: &str) -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("page.html").replace("{{root}}", root),
    )
    .with_header("content-security-policy", PAGE_POLICY)
}

fn page(_req: &Request) -> Response {
    page_at("")
}

/// `/reports/{id}`: what a status message opens; the page shows the report.
fn report_page(_req: &Request) -> Response {
    page_at("../")
}

fn script(_req: &Request) -> Response {
    asset("text/javascript; charset=utf-8", include_str!("page.js"))
}

fn style(_req: &Request) -> Response {
    asset("text/css; charset=utf-8", include_str!("page.css"))
}

islet_sdk::export_service!(router);
