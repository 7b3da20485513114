//! `community-report`: neighbourhood co-governance, in the spirit of
//! i厦门's "report it, and see it handled".
//!
//! Signed-in residents file reports about their neighbourhood (a dark street
//! light, a pothole, overflowing bins) and follow them; the department's
//! staff see every report and move it along its life cycle:
//! submitted → accepted → in-progress → resolved, or rejected.
//!
//! | Route | Who | What |
//! | --- | --- | --- |
//! | `GET /`, `GET /index.html` | anyone | the mobile page |
//! | `GET /api/me` | signed in | `{subject, staff}` |
//! | `POST /api/reports` | signed in | file `{category, description, location}` → `201` report |
//! | `GET /api/reports/mine` | signed in | own reports, newest first, `?cursor=&limit=` |
//! | `GET /api/reports/{id}` | owner or staff | one report with its history (else `404`) |
//! | `GET /api/reports` | staff | all reports, newest first, `?status=&cursor=&limit=` |
//! | `POST /api/reports/{id}/status` | staff | `{status, comment}` → report, `409` if not allowed |
//!
//! Anonymous callers get `401`, signed-in non-staff `403` on staff routes;
//! malformed JSON is `400`, invalid content `422`. Lists answer
//! `{"reports": [..], "next_cursor": "<id>" | null}`.

mod api;
pub mod model;
mod store;

use islet_sdk::{Request, Response, Router};

/// The service's routes.
pub fn router() -> Router {
    Router::new()
        .get("/", page)
        .get("/index.html", page)
        .get("/api/me", api::me)
        .post("/api/reports", api::file)
        .get("/api/reports", api::list)
        .get("/api/reports/mine", api::mine)
        .get("/api/reports/{id}", api::show)
        .post("/api/reports/{id}/status", api::change_status)
}

fn page(_req: &Request) -> Response {
    Response::html(include_str!("page.html"))
        .with_header("cache-control", "no-cache")
        .with_header("x-content-type-options", "nosniff")
}

islet_sdk::export_service!(router);
