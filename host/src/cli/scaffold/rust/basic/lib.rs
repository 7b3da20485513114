//! __NAME__: a page, and a JSON API that greets the signed-in citizen and
//! counts their visits in the service's own storage.
//!
//! | Route | Who | What |
//! | --- | --- | --- |
//! | `GET /` | anyone | the page |
//! | `GET /api/hello` | anyone | `{"message", "visits"}`; `visits` only when signed in |

use islet_sdk::{Request, Response, Router, identity, storage};
use serde::Serialize;

/// Handlers answer with a response either way; `?` turns storage errors
/// into the platform's JSON errors.
type Reply = Result<Response, Response>;

/// The answer of `GET /api/hello`.
#[derive(Debug, Serialize)]
pub struct Hello {
    /// The greeting.
    pub message: String,
    /// How often this citizen called, this call included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visits: Option<i64>,
}

/// The service's routes.
pub fn router() -> Router {
    Router::new()
        .get("/", page)
        .get("/api/hello", hello)
}

fn page(_req: &Request) -> Response {
    Response::html(include_str!("page.html"))
}

fn hello(_req: &Request) -> Reply {
    let Some(caller) = identity::current_caller() else {
        return Ok(Response::json(&Hello {
            message: "Hello, guest!".into(),
            visits: None,
        }));
    };
    // The subject is this service's own pseudonym for the citizen.
    let visits = storage::increment(&format!("visits/{}", caller.subject), 1)?;
    islet_sdk::info!("visit {visits} of a citizen");
    Ok(Response::json(&Hello {
        message: format!("Hello, {}!", caller.subject),
        visits: Some(visits),
    }))
}

islet_sdk::export_service!(router);
