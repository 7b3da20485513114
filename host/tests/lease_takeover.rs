//! `kill -9` of the host holding a payment event's delivery lease: another
//! host of the deployment (same PostgreSQL store, same secrets) finds the
//! event due when the lease ends and delivers it, with the same event id,
//! once.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn a_killed_hosts_delivery_is_finished_by_another_host() {
    let url = islet_host::store::scratch::test_url()
        .and_then(|base| islet_host::store::scratch::schema_url(&base, "takeover"))
        .unwrap_or_else(|e| panic!("{}", e.0));
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    let config = dir.path().join("islet.toml");
    std::fs::write(&config, "[payment]\nretry-base-ms = 200\nlease-ms = 3000\n").unwrap();
    let (config, secrets_dir) = (config.to_str().unwrap(), secrets.to_str().unwrap());
    let serve = |name: &str| {
        let data = dir.path().join(name);
        spawn_until(
            &[
                "--config",
                config,
                "serve",
                "--dev",
                "--listen",
                "127.0.0.1:0",
                "--store",
                &url,
                "--secrets-dir",
                secrets_dir,
                "--data-dir",
                data.to_str().unwrap(),
            ],
            "islet listening on ",
            Duration::from_secs(60),
        )
    };
    let (host_a, a) = serve("a");
    let token = |sub: &str, roles: &[&str]| {
        let mut args = vec!["token", "--secrets-dir", secrets_dir, "--sub", sub];
        for role in roles {
            args.extend_from_slice(&["--role", role]);
        }
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    let (admin, citizen) = (token("ops-1", &["admin"]), token("resident-7", &[]));

    // The probe with room for its slow handler (3 s) inside its wall limit.
    let built = run(&["plugin", "build", "tests/guests/payment-probe"]);
    assert!(built.status.success(), "{}", stderr(&built));
    let wasm = stdout(&built).trim().to_string();
    let manifest = dir.path().join("islet.toml.probe");
    let text =
        std::fs::read_to_string(workspace().join("tests/guests/payment-probe/islet.toml")).unwrap();
    std::fs::write(&manifest, format!("{text}\n[limits]\ntimeout-ms = 10000\n")).unwrap();
    let cli = ["--server", a.as_str(), "--token", admin.as_str()];
    let with_server = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&cli);
        run(&all)
    };
    let out = with_server(&[
        "plugin",
        "install",
        &wasm,
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    open_probe_merchant(&cli);
    let (status, _) = send(
        reqwest::Method::POST,
        &format!("{a}/p/payment-probe/fail-events"),
        &citizen,
        None,
        Some("slow"),
    );
    assert_eq!(status, 200);

    // Paid: A's worker takes the event and is inside the (slow) handler.
    let (status, order) = send(
        reqwest::Method::POST,
        &format!("{a}/p/payment-probe/orders"),
        &citizen,
        Some(
            json!({"merchant": "city-fees", "amount_fen": 1999, "description": "Permit fee",
                    "kind": "service-fee", "order_key": "takeover-1", "expires_in_s": 3600}),
        ),
        None,
    );
    assert_eq!(status, 200, "{order}");
    let id = order["id"].as_str().unwrap().to_string();
    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{a}/pay/{id}"),
        &citizen,
        Some(json!({"action": "pay"})),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let event = format!("evt-{id}-2");
    wait_for(
        "A inside the event handler",
        Duration::from_secs(20),
        || {
            let (_, d) = get(&format!("{a}/p/payment-probe/delivering"), Some(&citizen));
            d["delivering"]
                .as_array()
                .is_some_and(|l| l.iter().any(|e| e == event.as_str()))
                .then_some(())
        },
    );
    let killed = Instant::now();
    host_a.crash();

    // B, started after the crash, finishes the delivery once A's lease ends.
    let (_host_b, b) = serve("b");
    let (status, _) = send(
        reqwest::Method::POST,
        &format!("{b}/p/payment-probe/fail-events"),
        &citizen,
        None,
        Some(""),
    );
    assert_eq!(status, 200);
    let events = wait_for("the event delivered by B", Duration::from_secs(30), || {
        let (_, e) = get(&format!("{b}/p/payment-probe/events"), Some(&citizen));
        // The probe records an event in three writes; wait for the last.
        let recorded = e["attempts"].as_object().is_some_and(|a| !a.is_empty());
        (e["deliveries"].as_u64() >= Some(1) && recorded).then_some(e)
    });
    let took = killed.elapsed();
    assert_eq!(events["events"][0]["id"], event.as_str(), "{events}");
    assert_eq!(events["attempts"][&event], 1, "delivered once: {events}");
    assert!(took < Duration::from_secs(15), "taken over after {took:?}");
    let (_, detail) = get(&format!("{b}/admin/v1/orders/{id}"), Some(&admin));
    assert_eq!(detail["events"][0]["status"], "delivered", "{detail}");
    assert_eq!(detail["events"][0]["id"], event.as_str());
    std::thread::sleep(Duration::from_secs(1));
    let (_, again) = get(&format!("{b}/p/payment-probe/events"), Some(&citizen));
    assert_eq!(again["deliveries"], 1, "not delivered twice: {again}");
}
