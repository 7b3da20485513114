//! The inbox over HTTP: paging, unread count, read flag, the live stream,
//! and one citizen never seeing another's messages.

use super::{PROBE, consented, inbox, send, subject};
use islet_tests::TestHost;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A Server-Sent Events stream read with reqwest.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// Open `/api/v1/inbox/stream` with `?token=` (as `EventSource` must).
    pub async fn open(host: &TestHost, token: &str) -> EventStream {
        EventStream::resume(host, token, None).await
    }

    /// Open it again after the event `last` (`Last-Event-ID`, as
    /// `EventSource` sends when it reconnects).
    pub async fn resume(host: &TestHost, token: &str, last: Option<&str>) -> EventStream {
        let mut request = host
            .http
            .get(host.url(&format!("/api/v1/inbox/stream?token={token}")));
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        let response = request.send().await.expect("stream");
        assert_eq!(response.status(), 200);
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_string();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (name, JSON data), or `None` after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<(String, Value)> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !data.is_empty() {
                    return Some((name, serde_json::from_str(&data).expect("JSON data")));
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// The next event, which must be named `name`.
    pub async fn expect(&mut self, name: &str, timeout: Duration) -> Value {
        let (got, data) = self
            .next(timeout)
            .await
            .unwrap_or_else(|| panic!("no {name} event within {timeout:?}"));
        assert_eq!(got, name, "{data}");
        data
    }
}

async fn long_term_host() -> (TestHost, String, String) {
    let host = TestHost::start().await;
    host.install(PROBE).await;
    let ann = host.token("ann", &[]);
    let me = subject(&host, PROBE, &ann).await;
    consented(&host, &ann, PROBE, "alerts").await;
    (host, ann, me)
}

async fn alert(host: &TestHost, to: &str, text: &str) -> String {
    let (status, body) = send(
        host,
        PROBE,
        to,
        "alerts",
        json!({"text": text}),
        Some("/alerts"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_pages_newest_first_with_unread_count_and_read_flag() {
    let (host, ann, me) = long_term_host().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(alert(&host, &me, &format!("n{i}")).await);
    }
    let mut bodies = Vec::new();
    let mut query = "?limit=2".to_string();
    loop {
        let page = inbox(&host, &ann, &query).await;
        assert_eq!(page["unread"], 5);
        for m in page["messages"].as_array().expect("messages") {
            bodies.push(m["body"].as_str().unwrap_or_default().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(bodies, ["n4", "n3", "n2", "n1", "n0"]);

    for bad in [
        "?limit=0",
        "?limit=101",
        "?limit=x",
        "?cursor=zz",
        "?colour=red",
    ] {
        let (status, body) = host
            .get_json(&format!("/api/v1/inbox{bad}"), Some(&ann))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_query")),
            "{bad}: {body}"
        );
    }
    let (status, body) = host.get_json("/api/v1/inbox", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated")),
        "{body}"
    );

    let read = format!("/api/v1/inbox/{}/read", ids[1]);
    for _ in 0..2 {
        let (status, body) = host.post(&read, &ann, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["unread"].as_u64(), body["message"]["read"].as_bool()),
            (Some(4), Some(true)),
            "idempotent: {body}"
        );
    }
    let page = inbox(&host, &ann, "").await;
    let flags: Vec<bool> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["read"] == true)
        .collect();
    assert_eq!(flags, [false, false, false, true, false]);
    let (status, body) = host.post("/api/v1/inbox/msg-nope/read", &ann, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("message_not_found")),
        "{body}"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_a_new_message_within_a_second() {
    let (host, ann, me) = long_term_host().await;
    let mut stream = EventStream::open(&host, &ann).await;
    assert_eq!(
        stream.expect("unread", Duration::from_secs(5)).await,
        json!({"unread": 0})
    );

    let started = Instant::now();
    let id = alert(&host, &me, "Road closed").await;
    let message = stream.expect("message", Duration::from_secs(1)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        (message["id"].as_str(), message["body"].as_str()),
        (Some(id.as_str()), Some("Road closed"))
    );
    assert_eq!(
        stream.expect("unread", Duration::from_secs(1)).await,
        json!({"unread": 1})
    );

    let (status, _) = host
        .post(&format!("/api/v1/inbox/{id}/read"), &ann, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        stream.expect("unread", Duration::from_secs(1)).await,
        json!({"unread": 0}),
        "read elsewhere"
    );

    let (status, body) = host.get_json("/api/v1/inbox/stream", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated")),
        "{body}"
    );
    let (status, body) = host
        .get_json("/api/v1/inbox/stream?token=forged", None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_citizen_never_sees_another_citizens_inbox() {
    let (host, ann, me) = long_term_host().await;
    let bob = host.token("bob", &[]);
    let mut bobs_stream = EventStream::open(&host, &bob).await;
    assert_eq!(
        bobs_stream.expect("unread", Duration::from_secs(5)).await,
        json!({"unread": 0})
    );
    let mut anns_stream = EventStream::open(&host, &ann).await;
    anns_stream.expect("unread", Duration::from_secs(5)).await;

    let id = alert(&host, &me, "for Ann only").await;
    assert_eq!(
        anns_stream.expect("message", Duration::from_secs(1)).await["id"],
        id.as_str()
    );
    assert_eq!(
        bobs_stream.next(Duration::from_millis(1500)).await,
        None,
        "Bob's stream stays quiet"
    );

    let page = inbox(&host, &bob, "").await;
    assert_eq!(
        (page["messages"].clone(), page["unread"].clone()),
        (json!([]), json!(0))
    );
    let (status, body) = host
        .post(&format!("/api/v1/inbox/{id}/read"), &bob, None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("message_not_found")),
        "{body}"
    );
    assert_eq!(
        inbox(&host, &ann, "").await["messages"][0]["read"],
        false,
        "Bob's attempt changed nothing"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_reconnects_gets_what_it_missed_once() {
    let (host, ann, me) = long_term_host().await;
    let first = alert(&host, &me, "one").await;
    let second = alert(&host, &me, "two").await;
    let third = alert(&host, &me, "three").await;

    // Disconnected after `first`: the two it missed, oldest first, then live.
    let mut stream = EventStream::resume(&host, &ann, Some(&first)).await;
    assert_eq!(
        stream.expect("unread", Duration::from_secs(5)).await,
        json!({"unread": 3})
    );
    for (id, body) in [(&second, "two"), (&third, "three")] {
        let message = stream.expect("message", Duration::from_secs(1)).await;
        assert_eq!(
            (message["id"].as_str(), message["body"].as_str()),
            (Some(id.as_str()), Some(body))
        );
    }
    let fourth = alert(&host, &me, "four").await;
    assert_eq!(
        stream.expect("message", Duration::from_secs(1)).await["id"],
        fourth.as_str()
    );
    assert_eq!(
        stream.expect("unread", Duration::from_secs(1)).await,
        json!({"unread": 4})
    );
    assert_eq!(
        stream.next(Duration::from_millis(500)).await,
        None,
        "each once"
    );

    // Up to date: nothing replayed. Unknown resume point: resync.
    let mut current = EventStream::resume(&host, &ann, Some(&fourth)).await;
    current.expect("unread", Duration::from_secs(5)).await;
    assert_eq!(current.next(Duration::from_millis(500)).await, None);
    let mut lost = EventStream::resume(&host, &ann, Some("msg-not-in-this-inbox")).await;
    lost.expect("unread", Duration::from_secs(5)).await;
    assert_eq!(
        lost.expect("resync", Duration::from_secs(1)).await,
        json!({})
    );

    // Another citizen's message id replays nothing of Ann's to Bob.
    let bob = host.token("bob", &[]);
    let mut bobs = EventStream::resume(&host, &bob, Some(&first)).await;
    bobs.expect("unread", Duration::from_secs(5)).await;
    assert_eq!(
        bobs.expect("resync", Duration::from_secs(1)).await,
        json!({})
    );
    assert_eq!(bobs.next(Duration::from_millis(500)).await, None);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_through_one_host_reaches_a_stream_held_on_another() {
    let a = TestHost::start_on(islet_tests::Backend::Postgres).await;
    let b = a.peer().await;
    a.install(PROBE).await;
    let ann = a.token("ann", &[]);
    let started = Instant::now();
    while b.get(&format!("/p/{PROBE}/me"), Some(&ann)).await.status() != 200 {
        assert!(started.elapsed() < Duration::from_secs(5), "B never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let me = subject(&a, PROBE, &ann).await;
    consented(&a, &ann, PROBE, "alerts").await;

    let mut on_b = EventStream::open(&b, &ann).await;
    assert_eq!(
        on_b.expect("unread", Duration::from_secs(5)).await,
        json!({"unread": 0})
    );
    let sent = Instant::now();
    let first = alert(&a, &me, "sent through A").await;
    let message = on_b.expect("message", Duration::from_secs(1)).await;
    let took = sent.elapsed();
    assert_eq!(
        (message["id"].as_str(), message["body"].as_str()),
        (Some(first.as_str()), Some("sent through A"))
    );
    assert!(took < Duration::from_secs(1), "arrived after {took:?}");
    assert_eq!(
        on_b.expect("unread", Duration::from_secs(1)).await,
        json!({"unread": 1})
    );

    // Read on A: B's stream hears the new count.
    let (status, _) = a
        .post(&format!("/api/v1/inbox/{first}/read"), &ann, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        on_b.expect("unread", Duration::from_secs(1)).await,
        json!({"unread": 0})
    );

    // A stream reconnecting to A after `first` gets what B's saw next.
    let second = alert(&b, &me, "sent through B").await;
    let mut on_a = EventStream::resume(&a, &ann, Some(&first)).await;
    on_a.expect("unread", Duration::from_secs(5)).await;
    assert_eq!(
        on_a.expect("message", Duration::from_secs(1)).await["id"],
        second.as_str()
    );
    drop((on_a, on_b));
    b.stop().await;
    a.stop().await;
}
