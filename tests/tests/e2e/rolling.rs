//! A rolling restart: three hosts on one PostgreSQL store behind nginx,
//! under a steady load of signed-in calls (hello, storage writes, order
//! creation), each host in turn drained at nginx (marked down, reloaded),
//! stopped gracefully (SIGTERM's path), started again and put back: no
//! request fails, and every acknowledged write is there exactly once.

use islet_tests::nginx::Nginx;
use islet_tests::payments::{MERCHANT, new_order, open_merchant};
use islet_tests::{Backend, TestHost, component, json_of, manifest};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

fn unlimited(name: &str) -> String {
    let text = manifest(name);
    if text.contains("[limits]") {
        text.replace("[limits]", "[limits]\nrate-per-minute = 60000")
    } else {
        format!("{text}\n[limits]\nrate-per-minute = 60000\n")
    }
}

#[derive(Default)]
struct Tally {
    ok: usize,
    failed: Vec<String>,
    /// Acknowledged storage writes: key → value.
    written: Vec<(String, String)>,
    /// Acknowledged orders: key → id.
    orders: Vec<(String, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_restarted_in_turn_under_load_fail_no_request() {
    let first = free_addr();
    let mut hosts = vec![TestHost::start_on_with(Backend::Postgres, |c| c.listen = first).await];
    for _ in 0..2 {
        let (url, secrets, listen) = (
            hosts[0].config.store_url.clone(),
            hosts[0].config.secrets_dir.clone(),
            free_addr(),
        );
        hosts.push(
            TestHost::start_with(move |c| {
                c.store_url = url;
                c.secrets_dir = secrets;
                c.listen = listen;
            })
            .await,
        );
    }
    let a = &hosts[0];
    for name in ["hello", "probe", "payment-probe"] {
        let response = a.upload(&unlimited(name), component(name)).await;
        assert!(response.status().is_success(), "{name}");
    }
    open_merchant(a, MERCHANT, "probe", "payment-probe").await;
    let citizen = a.token("rolling-1", &[]);
    for host in &hosts {
        let started = std::time::Instant::now();
        while host
            .get("/p/payment-probe/orders/by-key/none", Some(&citizen))
            .await
            .status()
            == 404
            && host.get("/p/hello/", Some(&citizen)).await.status() != 200
        {
            assert!(started.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let upstreams: Vec<String> = hosts.iter().map(|h| h.config.listen.to_string()).collect();
    let nginx = tokio::task::spawn_blocking(move || Nginx::start(&upstreams))
        .await
        .unwrap();
    let base = nginx.base.clone();

    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A connection per request: a client's kept-alive connection that nginx
    // closes as it reloads is the client's to retry, not Islet's concern.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut load = Vec::new();
    for worker in 0..4 {
        let (http, base, token, tally, stop) = (
            client.clone(),
            base.clone(),
            citizen.clone(),
            tally.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let key = format!("w{worker}-{n}");
                let (what, result) = match n % 3 {
                    0 => (
                        "hello",
                        http.get(format!("{base}/p/hello/"))
                            .bearer_auth(&token)
                            .send()
                            .await,
                    ),
                    1 => (
                        "write",
                        http.put(format!("{base}/p/probe/kv/{key}"))
                            .bearer_auth(&token)
                            .body(format!("value of {key}"))
                            .send()
                            .await,
                    ),
                    _ => (
                        "order",
                        http.post(format!("{base}/p/payment-probe/orders"))
                            .bearer_auth(&token)
                            .json(&new_order(&key, 100))
                            .send()
                            .await,
                    ),
                };
                let outcome = match result {
                    Ok(response) => json_of(response).await,
                    Err(e) => (0, serde_json::json!(e.to_string())),
                };
                let mut t = tally.lock().unwrap();
                match (what, outcome) {
                    ("hello", (200, _)) => t.ok += 1,
                    ("write", (200, body)) if body["ok"] == true => {
                        t.ok += 1;
                        t.written.push((key.clone(), format!("value of {key}")));
                    }
                    ("order", (200, body)) if body["id"].is_string() => {
                        t.ok += 1;
                        t.orders
                            .push((key, body["id"].as_str().unwrap().to_string()));
                    }
                    (what, (status, body)) => t.failed.push(format!("{what}: {status} {body}")),
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    let began = std::time::Instant::now();
    let nginx = Arc::new(nginx);
    for (index, host) in hosts.iter_mut().enumerate() {
        let lb = nginx.clone();
        tokio::task::spawn_blocking(move || lb.drain(Some(index)))
            .await
            .unwrap();
        eprintln!("{:?} restarting {}", began.elapsed(), host.base);
        tokio::time::timeout(Duration::from_secs(20), host.restart())
            .await
            .expect("a host restarts within 20 s");
        let lb = nginx.clone();
        tokio::task::spawn_blocking(move || lb.drain(None))
            .await
            .unwrap();
        eprintln!(
            "{:?} restarted {} ({} failed so far)",
            began.elapsed(),
            host.base,
            tally.lock().unwrap().failed.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let tally = Arc::try_unwrap(tally)
        .ok()
        .expect("load stopped")
        .into_inner()
        .unwrap();
    eprintln!(
        "rolling restart: {} requests answered, {} failed, {} writes, {} orders",
        tally.ok,
        tally.failed.len(),
        tally.written.len(),
        tally.orders.len()
    );
    assert!(
        tally.failed.is_empty(),
        "failed requests: {:?}",
        tally.failed
    );
    assert!(tally.ok > 100, "the load ran: {}", tally.ok);

    // Counted afterwards, through another host than wrote them: nothing
    // lost, nothing doubled.
    let reader = &hosts[1];
    for (key, value) in &tally.written {
        let got = reader
            .get(&format!("/p/probe/kv/{key}"), Some(&citizen))
            .await;
        assert_eq!(got.status(), 200, "{key} lost");
        assert_eq!(&got.text().await.unwrap(), value);
    }
    for (key, id) in &tally.orders {
        let (status, order) = reader
            .get_json(
                &format!("/p/payment-probe/orders/by-key/{key}"),
                Some(&citizen),
            )
            .await;
        assert_eq!(
            (status, order["id"].as_str()),
            (200, Some(id.as_str())),
            "{key}"
        );
    }
    drop(nginx);
    for host in hosts {
        host.stop().await;
    }
}
