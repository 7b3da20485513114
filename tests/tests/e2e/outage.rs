//! PostgreSQL stopped for 5 s under load: requests that need the store get
//! a clear 503 at once, calls that do not keep working, the host recovers
//! by itself, and no write it acknowledged is lost.

use islet_tests::postgres::PrivatePostgres;
use islet_tests::{TestHost, component, json_of, manifest};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Seen {
    /// Writes answered `{"ok": true}`: key → value.
    acknowledged: BTreeMap<String, String>,
    /// (status, error code) of every write not acknowledged.
    refused: Vec<(u16, String)>,
    /// Statuses of `hello` calls.
    hello: Vec<u16>,
    /// Slowest answer to a write.
    slowest: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_down_for_five_seconds_under_load_loses_nothing() {
    let pg = tokio::task::spawn_blocking(PrivatePostgres::start)
        .await
        .unwrap();
    let url = pg.url();
    let host = TestHost::start_with(move |c| c.store_url = Some(url)).await;
    let probe = format!("{}\n[limits]\nrate-per-minute = 60000\n", manifest("probe"));
    let response = host.upload(&probe, component("probe")).await;
    assert!(response.status().is_success());
    let hello = manifest("hello").replace("[limits]", "[limits]\nrate-per-minute = 60000");
    let response = host.upload(&hello, component("hello")).await;
    assert!(response.status().is_success());

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (http, base, seen, stop) = (
            host.http.clone(),
            host.base.clone(),
            seen.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let (key, value) = (format!("w{worker}-{n}"), format!("v{n}"));
                let started = Instant::now();
                let response = http
                    .put(format!("{base}/p/probe/kv/{key}"))
                    .body(value.clone())
                    .send()
                    .await
                    .unwrap();
                let took = started.elapsed();
                let (status, body) = json_of(response).await;
                let hello = http.get(format!("{base}/p/hello/")).send().await.unwrap();
                {
                    let mut record = seen.lock().unwrap();
                    record.hello.push(hello.status().as_u16());
                    record.slowest = record.slowest.max(took);
                    if status == 200 && body["ok"] == true {
                        record.acknowledged.insert(key, value);
                    } else {
                        let code = body["error"]["code"]
                            .as_str()
                            .or(body["error"].as_str())
                            .unwrap_or("")
                            .to_string();
                        record.refused.push((status, code));
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = seen.lock().unwrap().acknowledged.len();
    assert!(before > 10, "the load runs: {before} writes");
    let pg = Arc::new(pg);
    let down = pg.clone();
    tokio::task::spawn_blocking(move || down.down())
        .await
        .unwrap();
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, ready) = host.get_json("/readyz", None).await;
    assert_eq!(
        (status, ready["status"].as_str()),
        (503, Some("store_unavailable"))
    );
    let during = seen.lock().unwrap().acknowledged.len();
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(stopped.elapsed())).await;
    let up = pg.clone();
    tokio::task::spawn_blocking(move || up.up()).await.unwrap();

    // Full service again, without a restart of the host.
    let back = Instant::now();
    loop {
        let (status, _) = host.get_json("/readyz", None).await;
        if status == 200 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(10), "not ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = back.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let seen = Arc::try_unwrap(seen)
        .ok()
        .expect("load stopped")
        .into_inner()
        .unwrap();
    assert!(
        seen.acknowledged.len() > during + 10,
        "writes are acknowledged again after the outage ({} then {})",
        during,
        seen.acknowledged.len()
    );
    eprintln!(
        "outage: {} writes acknowledged ({} before, {} up to 0.5 s into the outage), {} refused, \
         {} hello calls, slowest write {:?}, ready again {:?} after PostgreSQL came back",
        seen.acknowledged.len(),
        before,
        during,
        seen.refused.len(),
        seen.hello.len(),
        seen.slowest,
        recovered
    );
    assert!(!seen.refused.is_empty(), "the outage was seen");
    for (status, code) in &seen.refused {
        assert!(
            (*status == 503 && code == "store_unavailable")
                || (*status == 200 && code == "unavailable"),
            "a clear refusal, not {status} {code:?}"
        );
    }
    assert!(
        seen.hello.iter().all(|s| *s == 200),
        "hello needs no store and kept answering"
    );
    assert!(
        seen.slowest < Duration::from_secs(6),
        "refusals come fast, not after long waits: {:?}",
        seen.slowest
    );
    // Every acknowledged write is there.
    for (key, value) in &seen.acknowledged {
        let got = host.get(&format!("/p/probe/kv/{key}"), None).await;
        assert_eq!(got.status(), 200, "{key} lost");
        assert_eq!(&got.text().await.unwrap(), value, "{key}");
    }
    host.stop().await;
}
