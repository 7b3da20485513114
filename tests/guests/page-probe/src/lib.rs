//! `page-probe`: service pages that attack the app shell, for the shell's
//! Chromium tests (`tests/browser/hostile_pages.mjs`).
//!
//! | Route | Behaviour |
//! | --- | --- |
//! | `/?mode=...` | a page loading `/assets/islet.js` that, by `mode`: calls `islet.pay(url)` (`pay`), asks the shell for a session with a message of its own making, as service `claim`, with or without its bridge key (`session`), goes to another page in the same frame (`navigate`, `to`), or opens a nested frame that gets the bridge key and asks the shell itself (`nested`); the outcome is in `#result` |
//! | `/evil.js` | a script that marks the page that ran it (`data-pwned`) |
//! | `/clear-site-data` | a page answered with `Clear-Site-Data` for the whole origin |

use islet_sdk::{Request, Response, Router};

const PAGE: &str = include_str!("page.html");

/// Marks the document that ran it, so a test can tell it ran.
const EVIL_JS: &str = "document.documentElement.dataset.pwned = 'yes';\n\
                       window.pwned = (window.pwned || 0) + 1;\n";

fn router() -> Router {
    Router::new()
        .get("/", |_: &Request| Response::html(PAGE))
        .get("/evil.js", |_: &Request| {
            Response::bytes("text/javascript; charset=utf-8", EVIL_JS)
        })
        .get("/clear-site-data", |_: &Request| {
            Response::html("<!doctype html><title>Bye</title><p id=\"result\">cleared</p>")
                .with_header("clear-site-data", "\"cache\", \"cookies\", \"storage\"")
        })
}

islet_sdk::export_service!(router);
