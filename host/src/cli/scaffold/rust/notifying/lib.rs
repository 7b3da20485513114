//! __NAME__: citizens subscribe, the department's staff post news, and
//! every subscriber who consented gets one Inbox message per news item.
//!
//! A message needs the citizen's consent to the `news` template (one-time:
//! one message per "yes"); the page asks for it with the app's consent
//! prompt (`islet.askConsent`). A subscriber without a consent left is
//! skipped, never an error for the staff member.
//!
//! | Route | Who | What |
//! | --- | --- | --- |
//! | `GET /` | anyone | the page |
//! | `POST /api/subscription` | signed in | subscribe; `{"subscribed": true, "consent": {"template"}}` |
//! | `DELETE /api/subscription` | signed in | unsubscribe |
//! | `POST /api/news` `{"text"}` | department staff | send to every subscriber: `{"sent", "skipped"}` |

use islet_sdk::notification::{self, NotifyError};
use islet_sdk::{Request, Response, Router, identity, storage};
use serde::Deserialize;

/// Handlers answer with a response either way; `?` turns storage errors
/// into the platform's JSON errors.
type Reply = Result<Response, Response>;

/// The template declared in `islet.toml`.
pub const TEMPLATE: &str = "news";
/// Longest news text, characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// The body of `POST /api/news`.
#[derive(Debug, Deserialize)]
pub struct News {
    /// What subscribers are told.
    pub text: String,
}

/// The service's routes.
pub fn router() -> Router {
    Router::new()
        .get("/", page)
        .post("/api/subscription", subscribe)
        .delete("/api/subscription", unsubscribe)
        .post("/api/news", post_news)
}

fn page(_req: &Request) -> Response {
    Response::html(include_str!("page.html"))
}

fn subscribe(_req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    storage::set(&format!("subscribers/{}", caller.subject), b"1")?;
    Ok(Response::json(&serde_json::json!({
        "subscribed": true,
        "consent": { "template": TEMPLATE },
    })))
}

fn unsubscribe(_req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    storage::delete(&format!("subscribers/{}", caller.subject))?;
    Ok(Response::json(&serde_json::json!({ "subscribed": false })))
}

fn post_news(req: &Request) -> Reply {
    identity::require_role(identity::STAFF)?;
    let news: News = req.json()?;
    let text = news.text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(Response::bad_request(&format!(
            "text must be 1 to {MAX_TEXT_CHARS} characters"
        )));
    }
    let (mut sent, mut skipped) = (0, 0);
    let mut cursor = None;
    loop {
        let page = storage::list_keys("subscribers/", cursor.as_deref(), 100)?;
        for key in &page.keys {
            let subject = key.trim_start_matches("subscribers/");
            match notification::send(subject, TEMPLATE, &[("text", text)], Some("/")) {
                Ok(_) => sent += 1,
                Err(NotifyError::NoConsent | NotifyError::UnknownRecipient) => skipped += 1,
                // Quota or an outage: stop and say so; nothing is half-sent.
                Err(e) => return Err(e.into()),
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    islet_sdk::info!("news sent to {sent} subscriber(s), {skipped} skipped");
    Ok(Response::json(&serde_json::json!({ "sent": sent, "skipped": skipped })))
}

islet_sdk::export_service!(router);
