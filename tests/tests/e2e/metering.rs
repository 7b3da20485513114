//! Usage metering, Prometheus metrics and the audit log move with traffic.

use islet_tests::{TestHost, json_of};
use std::collections::HashMap;

/// Parse Prometheus text exposition into `name{labels}` → value, checking
/// every line is well-formed.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            assert!(
                rest.starts_with("HELP ") || rest.starts_with("TYPE "),
                "bad comment line: {line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unterminated labels: {line}");
        }
        out.insert(series.to_string(), value);
    }
    out
}

fn series_value(metrics: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .iter()
        .filter(|(series, _)| {
            series.starts_with(&format!("{name}{{"))
                && labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
        .sum()
}

async fn metrics(host: &TestHost) -> HashMap<String, f64> {
    let response = host.metrics().await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    parse_prometheus(&response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_matches_the_calls_made() {
    let host = TestHost::start().await;
    host.install_as("probe", "meter-probe").await;
    host.install_as("hostile", "meter-hostile").await;
    let token = host.token("alice", &[]);
    for i in 0..7 {
        let r = host
            .http
            .put(host.url(&format!("/p/meter-probe/kv/k{i}")))
            .bearer_auth(&token)
            .body("v")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for _ in 0..3 {
        assert_eq!(
            host.get("/p/meter-probe/whoami", Some(&token))
                .await
                .status(),
            200
        );
    }
    for _ in 0..2 {
        assert_eq!(host.get("/p/meter-hostile/trap", None).await.status(), 500);
    }
    assert_eq!(host.get("/p/meter-hostile/ok", None).await.status(), 200);

    let (status, report) = host.get_json("/admin/v1/usage", Some(&host.admin())).await;
    assert_eq!(status, 200, "{report}");
    let rows = report["rows"].as_array().unwrap();
    let row = |plugin: &str| {
        rows.iter()
            .find(|r| r["plugin"] == plugin)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {plugin}: {report}"))
    };
    let probe = row("meter-probe");
    assert_eq!(probe["calls"], 10);
    assert_eq!(probe["errors"], 0);
    assert_eq!(probe["storage_calls"], 7);
    assert_eq!(probe["identity_calls"], 3);
    assert_eq!(probe["version"], "0.1.0");
    assert!(probe["cpu_us"].as_u64().unwrap() > 0);
    assert!(probe["peak_memory_bytes"].as_u64().unwrap() > 0);
    let hostile = row("meter-hostile");
    assert_eq!(hostile["calls"], 3);
    assert_eq!(hostile["errors"], 2);

    let department = probe["department"].as_str().unwrap().to_string();
    let (_, by_department) = host
        .get_json(
            &format!("/admin/v1/usage?department={department}"),
            Some(&host.admin()),
        )
        .await;
    assert!(
        by_department["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["department"] == department.as_str())
    );
    assert!(
        by_department["totals_by_department"][&department]["calls"]
            .as_u64()
            .unwrap()
            >= 10
    );

    let (_, yesterday) = host
        .get_json(
            "/admin/v1/usage?from=2000-01-01&to=2000-01-02",
            Some(&host.admin()),
        )
        .await;
    assert_eq!(yesterday["rows"], serde_json::json!([]));
    let (status, body) = host
        .get_json("/admin/v1/usage?from=yesterday", Some(&host.admin()))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    assert_eq!(host.get_json("/admin/v1/usage", Some(&token)).await.0, 403);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_survives_a_restart() {
    let mut host = TestHost::start().await;
    host.install_as("hello", "meter-restart").await;
    for _ in 0..4 {
        assert_eq!(host.get("/p/meter-restart/", None).await.status(), 200);
    }
    host.restart().await;
    assert_eq!(host.get("/p/meter-restart/", None).await.status(), 200);
    let (_, report) = host.get_json("/admin/v1/usage", Some(&host.admin())).await;
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["plugin"] == "meter-restart")
        .cloned()
        .unwrap();
    assert_eq!(row["calls"], 5, "{report}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_with_traffic() {
    let host = TestHost::start().await;
    host.install_as("hello", "metrics-hello").await;
    host.install_as("hostile", "metrics-hostile").await;
    let before = metrics(&host).await;
    let labels = [("plugin", "metrics-hello"), ("status", "200")];
    let count = |m: &HashMap<String, f64>| series_value(m, "islet_requests_total", &labels);
    for _ in 0..5 {
        assert_eq!(host.get("/p/metrics-hello/", None).await.status(), 200);
    }
    assert_eq!(
        host.get("/p/metrics-hostile/panic", None).await.status(),
        500
    );
    let after = metrics(&host).await;
    assert_eq!(count(&after) - count(&before), 5.0);
    assert_eq!(
        series_value(
            &after,
            "islet_guest_faults_total",
            &[("plugin", "metrics-hostile"), ("kind", "plugin_panicked")]
        ),
        1.0
    );
    assert!(
        series_value(
            &after,
            "islet_request_duration_seconds_count",
            &[("plugin", "metrics-hello")]
        ) >= 5.0
    );
    assert!(
        series_value(
            &after,
            "islet_request_duration_seconds_bucket",
            &[("plugin", "metrics-hello"), ("le", "+Inf")]
        ) >= 5.0
    );
    assert!(
        series_value(
            &after,
            "islet_guest_cpu_microseconds_total",
            &[("plugin", "metrics-hello")]
        ) > 0.0
    );
    assert!(
        series_value(
            &after,
            "islet_capability_calls_total",
            &[("plugin", "metrics-hello"), ("capability", "identity")]
        ) >= 5.0
    );
    assert!(
        after
            .keys()
            .any(|k| k.starts_with("islet_installed_plugins"))
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_actions_are_audited() {
    let host = TestHost::start().await;
    host.install("hello").await;
    let admin = host.admin();
    assert_eq!(
        host.post("/admin/v1/plugins/hello/disable", &admin, None)
            .await
            .0,
        200
    );
    let (status, body) = host.get_json("/admin/v1/audit", Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries[0]["action"], "plugin.take-down");
    assert_eq!(entries[0]["target"], "hello");
    assert_eq!(entries[0]["actor"], "admin-1");
    assert_eq!(entries[0]["before"]["enabled"], true);
    assert_eq!(entries[0]["after"]["enabled"], false);
    assert_eq!(entries[1]["action"], "plugin.install");
    assert!(entries[1]["before"].is_null());
    assert_eq!(entries[1]["after"]["version"], "0.1.0");
    let (_, filtered) = host
        .get_json("/admin/v1/audit?action=plugin.install", Some(&admin))
        .await;
    assert_eq!(filtered["entries"].as_array().unwrap().len(), 1);
    let (status, _) = json_of(
        host.get("/admin/v1/audit", Some(&host.token("x", &[])))
            .await,
    )
    .await;
    assert_eq!(status, 403);
    host.stop().await;
}
