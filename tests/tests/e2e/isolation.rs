//! What one plugin may know about citizens and other plugins.

use islet_tests::TestHost;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairwise_subjects_differ_across_plugins_and_survive_restart() {
    let mut host = TestHost::start().await;
    host.install_as("probe", "probe-a").await;
    host.install_as("probe", "probe-b").await;
    let alice = host.token("alice", &[]);
    let bob = host.token("bob", &[]);

    let subject = |body: serde_json::Value| body["subject"].as_str().unwrap().to_string();
    let a_alice = subject(host.get_json("/p/probe-a/whoami", Some(&alice)).await.1);
    let b_alice = subject(host.get_json("/p/probe-b/whoami", Some(&alice)).await.1);
    let a_bob = subject(host.get_json("/p/probe-a/whoami", Some(&bob)).await.1);
    assert_ne!(
        a_alice, b_alice,
        "the same citizen must look different to two plugins"
    );
    assert_ne!(a_alice, a_bob);
    assert!(!a_alice.contains("alice"));
    assert_eq!(
        a_alice,
        subject(host.get_json("/p/probe-a/whoami", Some(&alice)).await.1)
    );

    host.restart().await;
    let alice = host.token("alice", &[]);
    assert_eq!(
        a_alice,
        subject(host.get_json("/p/probe-a/whoami", Some(&alice)).await.1)
    );
    assert_eq!(
        b_alice,
        subject(host.get_json("/p/probe-b/whoami", Some(&alice)).await.1)
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_scoped_to_the_plugin_department() {
    let host = TestHost::start().await;
    host.install("probe").await;
    let department = islet_tests::manifest("probe")
        .lines()
        .find_map(|l| {
            l.strip_prefix("department = ")
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap();
    let staff_here = format!("staff:{department}");
    let token = host.token(
        "carol",
        &[
            &staff_here,
            "staff:elsewhere",
            "admin",
            "plugin:probe:reviewer",
            "plugin:other:x",
        ],
    );
    let (status, body) = host.get_json("/p/probe/whoami", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let mut roles: Vec<&str> = body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    roles.sort();
    assert_eq!(roles, vec!["reviewer", "staff"]);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_plugin_cannot_read_another_plugins_storage() {
    let host = TestHost::start().await;
    host.install_as("probe", "probe-a").await;
    host.install_as("probe", "probe-b").await;
    let put = host
        .http
        .put(host.url("/p/probe-a/kv/secret"))
        .body("a's data")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let own = host.get("/p/probe-a/kv/secret", None).await;
    assert_eq!(own.status(), 200);
    assert_eq!(own.text().await.unwrap(), "a's data");
    assert_eq!(host.get("/p/probe-b/kv/secret", None).await.status(), 404);
    let (_, listing) = host.get_json("/p/probe-b/kv?prefix=", None).await;
    assert_eq!(listing["keys"], serde_json::json!([]));
    host.stop().await;
}
