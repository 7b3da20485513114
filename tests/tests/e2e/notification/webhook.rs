//! The webhook channel: signed in the Standard Webhooks format (checked
//! with the `standardwebhooks` library receivers use), both secrets during
//! a rotation, retried with backoff until the receiver accepts, given up
//! (and kept visible) after the last attempt, a bounded number sent at
//! once. The receiver is a small axum server inside the test.

use super::{PROBE, consented, send, status_params, subject};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use islet_tests::TestHost;
use islet_tests::payments::wait_for;
use serde_json::Value;
use standardwebhooks::Webhook;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver saw: headers and body of every request.
#[derive(Default)]
struct Received {
    requests: Mutex<Vec<(HeaderMap, Bytes)>>,
    /// Answer 500 to this many requests first.
    fail_first: usize,
    /// Take this long to answer.
    delay: Duration,
    /// Requests being answered now, and the most there were at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

async fn hook(State(seen): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(seen.delay).await;
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut requests = seen.requests.lock().expect("lock");
    requests.push((headers, body));
    if requests.len() <= seen.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// Start a receiver failing its first `fail_first` requests; its URL.
async fn receiver(fail_first: usize) -> (String, Arc<Received>) {
    slow_receiver(fail_first, Duration::ZERO).await
}

/// A receiver taking `delay` per request.
async fn slow_receiver(fail_first: usize, delay: Duration) -> (String, Arc<Received>) {
    let seen = Arc::new(Received {
        fail_first,
        delay,
        ..Received::default()
    });
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn host_with_webhook(url: String, max_attempts: u32) -> TestHost {
    let host = TestHost::start_with(move |c| {
        c.notification.webhook_url = Some(url);
        c.notification.webhook_retry_base = Duration::from_millis(100);
        c.notification.max_attempts = max_attempts;
    })
    .await;
    host.install(PROBE).await;
    host
}

async fn send_one(host: &TestHost) -> (String, String) {
    let ann = host.token("ann", &[]);
    let me = subject(host, PROBE, &ann).await;
    consented(host, &ann, PROBE, "status").await;
    let (status, body) = send(
        host,
        PROBE,
        &me,
        "status",
        status_params(),
        Some("/cases/12"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (body["id"].as_str().expect("id").to_string(), me)
}

async fn deliveries(host: &TestHost) -> Value {
    let (status, body) = host
        .get_json("/admin/v1/notification-deliveries", Some(&host.admin()))
        .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_is_signed_and_retried_until_accepted() {
    let (url, seen) = receiver(2).await;
    let host = host_with_webhook(url, 10).await;
    let (id, subject) = send_one(&host).await;

    let requests = wait_for(
        "the third webhook delivery",
        Duration::from_secs(15),
        || async {
            let requests = seen.requests.lock().expect("lock").clone();
            (requests.len() >= 3).then_some(requests)
        },
    )
    .await;
    // The generated secret is in the form receivers configure.
    let secret =
        std::fs::read_to_string(host.config.data_dir.join("webhook-secret")).expect("secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let verifier = Webhook::new(secret.trim()).expect("a Standard Webhooks secret");
    let stranger = Webhook::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("secret");
    for (attempt, (headers, body)) in requests.iter().enumerate() {
        assert_eq!(header(headers, "webhook-id"), id);
        assert_eq!(
            header(headers, "islet-webhook-attempt"),
            (attempt + 1).to_string()
        );
        verifier
            .verify(body, headers)
            .unwrap_or_else(|e| panic!("attempt {attempt}: {e}"));
        assert!(stranger.verify(body, headers).is_err(), "another key fails");
        let mut tampered = body.to_vec();
        tampered[1] ^= 1;
        assert!(verifier.verify(&tampered, headers).is_err());
        let timestamp = header(headers, "webhook-timestamp");
        let age = islet_tests::now().abs_diff(timestamp.parse().expect("seconds"));
        assert!(age < 60, "timestamp {timestamp}");
    }
    let payload: Value = serde_json::from_slice(&requests[2].1).expect("JSON");
    assert_eq!(payload["id"], id.as_str());
    assert_eq!(payload["plugin"], PROBE);
    assert_eq!(payload["template"], "status");
    assert_eq!(payload["title"], "Status update");
    assert_eq!(payload["body"], "Your case 12 is now resolved.");
    assert_eq!(payload["link"], "/p/people-probe/cases/12");
    assert!(payload["at_ms"].as_u64().is_some(), "{payload}");
    let recipient = payload["recipient"].as_str().expect("recipient");
    assert_ne!(
        recipient, subject,
        "the host key, not the plugin's pseudonym"
    );
    assert!(
        recipient.len() == 32 && recipient.bytes().all(|b| b.is_ascii_hexdigit()),
        "{recipient}"
    );

    let list = wait_for("the delivery recorded", Duration::from_secs(5), || async {
        let list = deliveries(&host).await;
        (list[0]["status"] == "delivered").then_some(list)
    })
    .await;
    assert_eq!(list[0]["attempts"], 3, "{list}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        seen.requests.lock().expect("lock").len(),
        3,
        "nothing after acceptance"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_keeps_failing_is_given_up_and_kept_visible() {
    let (url, seen) = receiver(usize::MAX).await;
    let host = host_with_webhook(url, 3).await;
    let (id, _) = send_one(&host).await;
    let list = wait_for("the delivery given up", Duration::from_secs(15), || async {
        let list = deliveries(&host).await;
        (list[0]["status"] == "failed").then_some(list)
    })
    .await;
    assert_eq!(list[0]["delivery"]["id"], id.as_str());
    assert_eq!(list[0]["attempts"], 3);
    assert!(
        list[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("500"),
        "{list}"
    );
    assert_eq!(seen.requests.lock().expect("lock").len(), 3);
    let (status, body) = host
        .get_json(
            "/admin/v1/notification-deliveries",
            Some(&host.token("ann", &[])),
        )
        .await;
    assert_eq!(status, 403, "citizens do not see deliveries: {body}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_redelivers_a_given_up_delivery() {
    // The receiver is down for the first three requests: all attempts fail.
    let (url, seen) = receiver(3).await;
    let host = host_with_webhook(url, 3).await;
    let (id, _) = send_one(&host).await;
    let failed = wait_for("the delivery given up", Duration::from_secs(15), || async {
        let list = deliveries(&host).await;
        (list[0]["status"] == "failed").then_some(list)
    })
    .await;
    let channel = failed[0]["channel"].as_str().expect("channel").to_string();
    let path = format!("/admin/v1/notification-deliveries/{channel}/{id}/redeliver");
    let (status, _) = host
        .post(&path, &host.token("ops", &["operator"]), None)
        .await;
    assert_eq!(status, 403, "operators only read");
    let (status, body) = host.post(&path, &host.admin(), None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("pending")),
        "{body}"
    );
    let delivered = wait_for(
        "the redelivery accepted",
        Duration::from_secs(10),
        || async {
            let list = deliveries(&host).await;
            (list[0]["status"] == "delivered").then_some(list)
        },
    )
    .await;
    assert_eq!(delivered[0]["attempts"], 1, "a fresh count: {delivered}");
    assert_eq!(seen.requests.lock().expect("lock").len(), 4);
    let (status, body) = host
        .post(
            &format!("/admin/v1/notification-deliveries/{channel}/msg-nope/redeliver"),
            &host.admin(),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("delivery_not_found"))
    );
    let (_, audit) = host
        .get_json(
            "/admin/v1/audit?action=notification.redeliver",
            Some(&host.admin()),
        )
        .await;
    assert!(audit.to_string().contains(&id), "{audit}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_send_each_message_to_the_webhook_once() {
    let (url, seen) = receiver(0).await;
    let hook = url.clone();
    let a = TestHost::start_on_with(islet_tests::Backend::Postgres, move |c| {
        c.notification.webhook_url = Some(hook);
        c.notification.webhook_retry_base = Duration::from_millis(100);
    })
    .await;
    let (store, secrets) = (a.config.store_url.clone(), a.config.secrets_dir.clone());
    let b = TestHost::start_with(move |c| {
        c.store_url = store;
        c.secrets_dir = secrets;
        c.notification.webhook_url = Some(url);
        c.notification.webhook_retry_base = Duration::from_millis(100);
    })
    .await;
    a.install(PROBE).await;
    let ann = a.token("ann", &[]);
    let me = subject(&a, PROBE, &ann).await;
    let started = std::time::Instant::now();
    while b.get(&format!("/p/{PROBE}/me"), Some(&ann)).await.status() != 200 {
        assert!(started.elapsed() < Duration::from_secs(5), "B never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut ids = Vec::new();
    for n in 0..8 {
        // A one-time consent each, sent through both hosts in turn; both
        // hosts' workers run.
        let host = if n % 2 == 0 { &a } else { &b };
        consented(host, &ann, PROBE, "status").await;
        let (status, body) = send(host, PROBE, &me, "status", status_params(), None).await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["id"].as_str().expect("id").to_string());
    }
    wait_for(
        "every message at the webhook",
        Duration::from_secs(15),
        || async { (seen.requests.lock().expect("lock").len() >= ids.len()).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = seen.requests.lock().expect("lock").clone();
    let mut sent: Vec<String> = requests
        .iter()
        .map(|(headers, _)| header(headers, "webhook-id").to_string())
        .collect();
    sent.sort();
    ids.sort();
    assert_eq!(sent, ids, "each message once, whichever host sent it");
    b.stop().await;
    a.stop().await;
}

/// Write `whsec_` + base64 of `key` to a file in `dir`; its text.
fn secret_file(dir: &std::path::Path, name: &str, key: u8) -> (std::path::PathBuf, String) {
    use base64::Engine as _;
    let text = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([key; 32])
    );
    let path = dir.join(name);
    std::fs::write(&path, &text).expect("write secret");
    (path, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rotation_both_secrets_verify_and_after_it_only_the_new_one() {
    let dir = tempfile::tempdir().expect("dir");
    let (new_file, new_secret) = secret_file(dir.path(), "new", 1);
    let (old_file, old_secret) = secret_file(dir.path(), "old", 2);
    let new = Webhook::new(&new_secret).expect("new");
    let old = Webhook::new(&old_secret).expect("old");

    for (until, old_verifies) in [(None, true), (Some(islet_tests::now() as i64 - 1), false)] {
        let (url, seen) = receiver(0).await;
        let (n, o) = (new_file.clone(), old_file.clone());
        let host = TestHost::start_with(move |c| {
            c.notification.webhook_url = Some(url);
            c.notification.webhook_secret_file = Some(n);
            c.notification.webhook_previous_secret_file = Some(o);
            c.notification.webhook_previous_secret_until_s = until;
        })
        .await;
        host.install(PROBE).await;
        send_one(&host).await;
        let (headers, body) = wait_for("the delivery", Duration::from_secs(10), || async {
            seen.requests.lock().expect("lock").first().cloned()
        })
        .await;
        new.verify(&body, &headers)
            .expect("the new secret verifies");
        assert_eq!(
            old.verify(&body, &headers).is_ok(),
            old_verifies,
            "the old secret during the overlap only: {:?}",
            headers.get("webhook-signature")
        );
        let signatures = header(&headers, "webhook-signature").split(' ').count();
        assert_eq!(signatures, if old_verifies { 2 } else { 1 });
        host.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_go_out_concurrently_up_to_the_bound() {
    let (url, seen) = slow_receiver(0, Duration::from_millis(400)).await;
    let host = TestHost::start_with(move |c| {
        c.notification.webhook_url = Some(url);
        c.notification.webhook_concurrency = 2;
    })
    .await;
    host.install(PROBE).await;
    let ann = host.token("ann", &[]);
    let me = subject(&host, PROBE, &ann).await;
    for _ in 0..6 {
        consented(&host, &ann, PROBE, "status").await;
    }
    for _ in 0..6 {
        let (status, body) = send(&host, PROBE, &me, "status", status_params(), None).await;
        assert_eq!(status, 200, "{body}");
    }
    wait_for("six deliveries", Duration::from_secs(20), || async {
        (seen.requests.lock().expect("lock").len() >= 6).then_some(())
    })
    .await;
    assert_eq!(
        seen.max_in_flight.load(Ordering::SeqCst),
        2,
        "two at a time, never more"
    );
    host.stop().await;
}

/// Arrivals at a receiver that is slow for one plugin's messages.
struct ByPlugin {
    slow_plugin: String,
    delay: Duration,
    /// The plugin of each request, when it arrived.
    arrivals: Mutex<Vec<(String, std::time::Instant)>>,
}

async fn hook_by_plugin(State(seen): State<Arc<ByPlugin>>, body: Bytes) -> StatusCode {
    let payload: Value = serde_json::from_slice(&body).unwrap_or_default();
    let plugin = payload["plugin"].as_str().unwrap_or_default().to_string();
    let slow = plugin == seen.slow_plugin;
    seen.arrivals
        .lock()
        .expect("lock")
        .push((plugin, std::time::Instant::now()));
    if slow {
        tokio::time::sleep(seen.delay).await;
    }
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_plugins_slow_deliveries_never_delay_another_plugins() {
    const SLOW: &str = "people-slow";
    let seen = Arc::new(ByPlugin {
        slow_plugin: SLOW.into(),
        delay: Duration::from_secs(3),
        arrivals: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/hook", post(hook_by_plugin))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let host = TestHost::start_with(move |c| {
        c.notification.webhook_url = Some(url);
        c.notification.webhook_retry_base = Duration::from_millis(100);
        c.notification.delivery_timeout = Duration::from_millis(1000);
        c.notification.deliveries_per_plugin = 2;
    })
    .await;
    host.install(PROBE).await;
    host.install_as(PROBE, SLOW).await;
    let ann = host.token("ann", &[]);
    let (me_slow, me) = (
        subject(&host, SLOW, &ann).await,
        subject(&host, PROBE, &ann).await,
    );
    for _ in 0..6 {
        consented(&host, &ann, SLOW, "status").await;
    }
    consented(&host, &ann, PROBE, "status").await;
    for _ in 0..6 {
        let (status, body) = send(&host, SLOW, &me_slow, "status", status_params(), None).await;
        assert_eq!(status, 200, "{body}");
    }
    wait_for(
        "the slow plugin's deliveries",
        Duration::from_secs(10),
        || async {
            let arrivals = seen.arrivals.lock().expect("lock");
            arrivals.iter().any(|(p, _)| p == SLOW).then_some(())
        },
    )
    .await;

    let sent = std::time::Instant::now();
    let (status, body) = send(&host, PROBE, &me, "status", status_params(), None).await;
    assert_eq!(status, 200, "{body}");
    let arrived = wait_for(
        "the healthy plugin's delivery",
        Duration::from_secs(20),
        || async {
            let arrivals = seen.arrivals.lock().expect("lock");
            arrivals
                .iter()
                .find(|(p, _)| p == PROBE)
                .map(|(_, at)| at.saturating_duration_since(sent))
        },
    )
    .await;
    println!("people-probe's delivery arrived {arrived:?} after its send, next to a slow plugin");
    assert!(
        arrived < Duration::from_secs(1),
        "the healthy plugin's delivery took {arrived:?}"
    );
    // The slow plugin never had more than its two lanes at once: within
    // the first second (each attempt is cut at 1 s) at most two arrived.
    let arrivals = seen.arrivals.lock().expect("lock").clone();
    let first = arrivals
        .iter()
        .find(|(p, _)| p == SLOW)
        .map(|(_, at)| *at)
        .expect("a slow arrival");
    let early = arrivals
        .iter()
        .filter(|(p, at)| {
            p == SLOW && at.saturating_duration_since(first) < Duration::from_millis(900)
        })
        .count();
    assert!((1..=2).contains(&early), "{early} slow deliveries at once");
    // Cut at the 1 s delivery timeout, and retried.
    let list = wait_for("a cut delivery", Duration::from_secs(10), || async {
        let list = deliveries(&host).await;
        list.as_array()
            .is_some_and(|l| {
                l.iter().any(|d| {
                    d["last_error"]
                        .as_str()
                        .is_some_and(|e| e.contains("within 1000 ms"))
                })
            })
            .then_some(list)
    })
    .await;
    assert!(list.as_array().is_some_and(|l| !l.is_empty()));
    host.stop().await;
}
