//! The citizen's inbox: pages of messages with the unread count, the read
//! flag, and a live Server-Sent Events stream. Admins see the outbound
//! deliveries.

use super::error::ApiError;
use super::openapi_schemas as schema;
use super::{AppState, blocking, caller};
use crate::auth::citizen_key;
use crate::notify::{DeliveryStatus, InboxError, InboxEvent, Message, Notifications};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt as _};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

fn inbox_error(e: InboxError) -> ApiError {
    match e {
        InboxError::NotFound => {
            ApiError::not_found("message_not_found", "your inbox has no such message")
        }
        InboxError::BadCursor => ApiError::bad_request(
            "invalid_query",
            "cursor must be a next_cursor this API returned",
        ),
        InboxError::Store(m) => ApiError::store_unavailable(m),
    }
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

/// Paging of the inbox.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// `GET /api/v1/inbox?cursor=&limit=`: the citizen's messages, newest
/// first (`limit` 1 to 100, default 20), the unread count and the cursor of
/// the next page.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "citizen", operation_id = "list_inbox",
    security(("bearer" = [])),
    params(InboxQuery),
    responses((status = 200, description = "A page of the inbox, newest first, with the unread count.", body = crate::notify::InboxPage)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "read your inbox")?;
    let params = query(params)?;
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be 1 to 100",
        ));
    }
    blocking(move || {
        let page = state
            .notifications
            .inbox(&citizen_key(&citizen), params.cursor.as_deref(), limit)
            .map_err(inbox_error)?;
        Ok(Json(json!(page)))
    })
    .await
}

/// `POST /api/v1/inbox/{id}/read`: mark one of the citizen's messages read
/// (again: no change). Another citizen's message is a 404.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/read", tag = "citizen",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The message (`msg...`).")),
    responses((status = 200, description = "The message, read, and the unread count.", body = schema::MarkedRead)))]
pub async fn mark_read(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let citizen = caller::signed_in(&state, &headers, "read your inbox")?;
    blocking(move || {
        let (message, unread) = state
            .notifications
            .mark_read(&citizen_key(&citizen), &id)
            .map_err(inbox_error)?;
        Ok(Json(json!({ "message": message, "unread": unread })))
    })
    .await
}

/// The stream's token and resume point, for clients that cannot set
/// headers.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    token: Option<String>,
    last_event_id: Option<String>,
}

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Most messages replayed to a stream that resumes; further back the client
/// gets `resync` and reloads the inbox.
const MAX_REPLAY: usize = 100;

/// What a resumed stream sends first: the messages after `last` (oldest
/// first), or `resync` when `last` is not among the newest [`MAX_REPLAY`].
fn replay(
    notifications: &Notifications,
    citizen: &str,
    last: &str,
) -> Result<(Vec<Event>, HashSet<String>), ApiError> {
    let page = notifications
        .inbox(citizen, None, MAX_REPLAY)
        .map_err(inbox_error)?;
    let Some(seen) = page.messages.iter().position(|m| m.id == last) else {
        return Ok((vec![resync_event()], HashSet::new()));
    };
    let missed = &page.messages[..seen];
    let events = missed.iter().rev().map(message_event).collect();
    Ok((events, missed.iter().map(|m| m.id.clone()).collect()))
}

/// `GET /api/v1/inbox/stream`: Server-Sent Events for the citizen. First an
/// `unread` event (`{"unread": n}`), then per new message a `message`
/// event (the message) followed by an `unread` event; marking a message
/// read sends an `unread` event; `resync` means events were missed (reload
/// the inbox). Authenticated by the `Authorization` header or, for
/// `EventSource`, `?token=<jwt>`. A client that reconnects with
/// `Last-Event-ID` (as `EventSource` does; or `?last_event_id=`) first gets
/// the messages it missed, oldest first, each once.
#[utoipa::path(get, path = "/api/v1/inbox/stream", tag = "citizen",
    security(("bearer" = []), ()),
    params(StreamQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this message (as `EventSource` sends it).")),
    responses(
        (status = 200, description = "Server-Sent Events: `unread` (`{\"unread\": n}`), `message` (a message), `resync` (reload the inbox).", content_type = "text/event-stream", body = String),
        (status = 401, description = "No valid token in the header or `?token=`.", body = schema::Error),
        (status = 429, description = "Too many open streams of this citizen (`too_many_streams`).", body = schema::Error),
    ))]
pub async fn stream(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let params = query(params)?;
    let citizen = match (caller::caller(&state, &headers)?, params.token) {
        (Some(citizen), _) => citizen,
        (None, Some(token)) => caller::verify(&state, token.trim())?,
        (None, None) => {
            return Err(ApiError::unauthorized(
                "unauthenticated",
                "sign in (Authorization header or ?token=) to follow your inbox",
            ));
        }
    };
    let key: Arc<str> = citizen_key(&citizen).into();
    let slot = state.streams.take(&key).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!(
                "you already follow your inbox in {} places; close one first",
                state.streams.per_citizen()
            ),
        )
        .retry_after(15)
    })?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(params.last_event_id)
        .filter(|id| !id.trim().is_empty());
    // Subscribe before reading the inbox, so nothing falls in between.
    let events = state.notifications.subscribe();
    let closing = state.notifications.closing();
    let notifications = state.notifications.clone();
    let citizen = key.clone();
    let (unread, missed, replayed) = blocking(move || {
        let unread = notifications.unread(&citizen).map_err(inbox_error)?;
        let (missed, replayed) = match last {
            Some(last) => replay(&notifications, &citizen, last.trim())?,
            None => (Vec::new(), HashSet::new()),
        };
        Ok((unread, missed, replayed))
    })
    .await?;
    let first = stream::iter(
        std::iter::once(unread_event(unread))
            .chain(missed)
            .map(Ok::<Event, Infallible>),
    );
    Ok(
        Sse::new(first.chain(live(events, closing, key, replayed, slot)))
            .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")),
    )
}

/// A new message; its id lets `EventSource` resume after it.
fn message_event(message: &Message) -> Event {
    let data = serde_json::to_string(message).unwrap_or_default();
    Event::default().event("message").id(&message.id).data(data)
}

/// Events were missed: the client reloads the inbox.
fn resync_event() -> Event {
    Event::default().event("resync").data("{}")
}

fn unread_event(unread: u64) -> Event {
    Event::default()
        .event("unread")
        .data(json!({ "unread": unread }).to_string())
}

struct Live {
    events: broadcast::Receiver<InboxEvent>,
    closing: watch::Receiver<bool>,
    citizen: Arc<str>,
    queued: VecDeque<Event>,
    /// Messages already sent by the replay; the live feed skips them.
    replayed: HashSet<String>,
    /// This stream's place among the citizen's; freed with the stream.
    _slot: super::streams::StreamSlot,
}

/// The citizen's inbox events until the host shuts down.
fn live(
    events: broadcast::Receiver<InboxEvent>,
    closing: watch::Receiver<bool>,
    citizen: Arc<str>,
    replayed: HashSet<String>,
    slot: super::streams::StreamSlot,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let start = Live {
        events,
        closing,
        citizen,
        queued: VecDeque::new(),
        replayed,
        _slot: slot,
    };
    stream::unfold(start, |mut live| async move {
        loop {
            if let Some(event) = live.queued.pop_front() {
                return Some((Ok(event), live));
            }
            tokio::select! {
                _ = live.closing.wait_for(|closing| *closing) => return None,
                received = live.events.recv() => match received {
                    Ok(event) if event.citizen == live.citizen => {
                        if let Some(message) = &event.message
                            && !live.replayed.remove(&message.id)
                        {
                            live.queued.push_back(message_event(message));
                        }
                        live.queued.push_back(unread_event(event.unread));
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        live.queued.push_back(resync_event());
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    })
}

/// Filter of the admin delivery list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    status: Option<DeliveryStatus>,
    limit: Option<usize>,
}

/// `GET /admin/v1/notification-deliveries?status=&limit=`: outbound
/// deliveries (webhook, …), newest first, with attempts and the last error.
#[utoipa::path(get, path = "/admin/v1/notification-deliveries", tag = "admin-operations",
    security(("bearer" = ["admin", "reviewer", "operator"])),
    params(DeliveriesQuery),
    responses((status = 200, description = "Outbound deliveries, newest first.", body = schema::Deliveries)))]
pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    who.require(who.can_read_all(), "reading notification deliveries")?;
    let params = query(params)?;
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let notifications: Arc<Notifications> = state.notifications.clone();
    blocking(move || {
        let entries = notifications.deliveries(params.status, limit)?;
        Ok(Json(json!({ "deliveries": entries })))
    })
    .await
}

/// `POST /admin/v1/notification-deliveries/{channel}/{id}/redeliver`:
/// queue an outbound delivery again with a fresh count of attempts.
#[utoipa::path(post, path = "/admin/v1/notification-deliveries/{channel}/{id}/redeliver", tag = "admin-operations", operation_id = "redeliver_notification",
    security(("bearer" = ["admin", "reviewer"])),
    params(("channel" = String, Path, description = "The channel (e.g. `webhook`)."), ("id" = String, Path, description = "The message id.")),
    responses((status = 200, description = "The delivery, queued again.", body = crate::notify::OutboxEntry)))]
pub async fn redeliver(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((channel, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let who = caller::staff(&state, &headers)?;
    who.require(who.can_review(), "redelivering notifications")?;
    if !crate::notify::keys::valid_message_id(&id) {
        return Err(ApiError::not_found(
            "delivery_not_found",
            format!("no delivery {id:?}"),
        ));
    }
    let notifications: Arc<Notifications> = state.notifications.clone();
    blocking(move || {
        let entry = notifications.redeliver(&channel, &id)?.ok_or_else(|| {
            ApiError::not_found(
                "delivery_not_found",
                format!("no delivery {id:?} through {channel:?}"),
            )
        })?;
        state.audit.record(
            who.actor(),
            "notification.redeliver",
            &format!("{channel}/{id}"),
            Value::Null,
            json!(entry),
        )?;
        Ok(Json(json!(entry)))
    })
    .await
}
