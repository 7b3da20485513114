//! The JSON API under `/api`.

use crate::model::{NewReport, Report, Status, StatusChange};
use crate::notify::{self, Notified};
use crate::store::{self, Page};
use islet_sdk::identity::{self, Caller};
use islet_sdk::{Request, Response};
use serde::Serialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// Handlers answer with a response either way; `?` turns storage and body
/// errors into platform-shaped error responses.
type Reply = Result<Response, Response>;

/// Reports per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 20;
/// Most reports per page.
const MAX_LIMIT: usize = 100;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `GET /api/me`: who the page is talking to.
pub fn me(_req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    Ok(Response::json(&serde_json::json!({
        "subject": caller.subject,
        "staff": caller.is_staff(),
    })))
}

/// `POST /api/reports`: a signed-in resident files a report.
pub fn file(req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    let new: NewReport = req.json()?;
    // Validate before taking an id, so refused input burns no number.
    new.validate(0, &caller.subject, 0)
        .map_err(|e| Response::unprocessable(&e.0))?;
    let id = store::next_id()?;
    let report = new
        .validate(id, &caller.subject, now())
        .map_err(|e| Response::unprocessable(&e.0))?;
    store::insert(&report)?;
    islet_sdk::info!("report {id} filed ({})", report.category.as_str());
    Ok(Response::json(&report)
        .with_status(201)
        .with_header("location", &format!("api/reports/{id}")))
}

/// `GET /api/reports/mine`: the caller's own reports, newest first.
pub fn mine(req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    let (cursor, limit) = paging(req)?;
    Ok(page_response(store::list_owned(
        &caller.subject,
        cursor,
        limit,
    )?))
}

/// `GET /api/reports`: staff see every report, newest first, optionally
/// only those with `?status=`.
pub fn list(req: &Request) -> Reply {
    identity::require_role(identity::STAFF)?;
    let (cursor, limit) = paging(req)?;
    let status = match req.query("status").filter(|s| !s.is_empty()) {
        Some(name) => Some(
            Status::parse(name)
                .ok_or_else(|| Response::bad_request(&format!("unknown status filter {name:?}")))?,
        ),
        None => None,
    };
    let page = store::list_all(cursor, limit, |r| status.is_none_or(|s| r.status == s))?;
    Ok(page_response(page))
}

/// `GET /api/reports/{id}`: one report, for its owner or staff; anyone else
/// learns nothing, not even that it exists.
pub fn show(req: &Request) -> Reply {
    let caller = identity::require_caller()?;
    let report = report_id(req)
        .map(store::load)
        .transpose()?
        .flatten()
        .filter(|r| may_see(&caller, r))
        .ok_or_else(Response::not_found)?;
    Ok(Response::json(&report))
}

/// The answer to a status change: the report, and whether its reporter was
/// told.
#[derive(Serialize)]
struct Changed {
    #[serde(flatten)]
    report: Report,
    notification: Notified,
}

/// `POST /api/reports/{id}/status`: staff move a report along its life
/// cycle. Compare-and-swap makes concurrent changes serialise instead of
/// overwriting each other; an impossible transition is a `409`. The
/// reporter gets a message if they asked for one; if not, the change
/// stands and the answer says so.
pub fn change_status(req: &Request) -> Reply {
    identity::require_role(identity::STAFF)?;
    let id = report_id(req).ok_or_else(Response::not_found)?;
    let change: StatusChange = req.json()?;
    let (status, comment) = change
        .validate()
        .map_err(|e| Response::unprocessable(&e.0))?;
    let at = now();
    let updated = store::update(id, |current: Option<Report>| {
        let mut report = current.ok_or_else(Response::not_found)?;
        report
            .transition(status, comment.clone(), at)
            .map_err(|why| Response::error(409, "invalid_transition", &why))?;
        Ok::<_, Response>(Some(report))
    })?
    .ok_or_else(Response::not_found)?;
    islet_sdk::info!("report {id} is now {status}");
    let notification = notify::tell_reporter(&updated);
    Ok(Response::json(&Changed {
        report: updated,
        notification,
    }))
}

fn may_see(caller: &Caller, report: &Report) -> bool {
    report.owner == caller.subject || caller.is_staff()
}

fn report_id(req: &Request) -> Option<u64> {
    req.param("id")?.parse().ok().filter(|&id| id > 0)
}

fn paging(req: &Request) -> Result<(Option<u64>, usize), Response> {
    let cursor = match req.query("cursor").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| Response::bad_request("cursor must be a report id"))?,
        ),
        None => None,
    };
    let limit = match req.query("limit").filter(|l| !l.is_empty()) {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                Response::bad_request(&format!("limit must be between 1 and {MAX_LIMIT}"))
            })?,
        None => DEFAULT_LIMIT,
    };
    Ok((cursor, limit))
}

#[derive(Serialize)]
struct PageBody {
    reports: Vec<Report>,
    next_cursor: Option<String>,
}

fn page_response(page: Page) -> Response {
    Response::json(&PageBody {
        reports: page.reports,
        next_cursor: page.next_cursor.map(|id| id.to_string()),
    })
}
