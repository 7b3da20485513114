//! The admin API behind the console's money screens: orders listed by
//! business day, status and plugin a page at a time, with the roles of
//! `GET /admin/v1/orders/{id}` and clear errors for bad filters; and the
//! audit log paged with a cursor.

use islet_tests::payments::{MERCHANT, created, paid_order, payment_host};
use islet_tests::{Backend, TestHost};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|o| o["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every order of `query` (without `cursor`), following `next_cursor`
/// with pages of `limit`.
async fn all_pages(host: &TestHost, token: &str, query: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut path = format!("/admin/v1/orders?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = host.get_json(&path, Some(token)).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(ids(&page).len() <= limit, "{page}");
        out.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return out,
        }
    }
    panic!("more than 50 pages for {query}");
}

async fn orders_are_listed_by_day_status_and_plugin_a_page_at_a_time(backend: Backend) {
    let host = payment_host(backend).await;
    let admin = host.admin();
    let eve = host.token("eve", &[]);
    let first = paid_order(&host, &eve, "list-1", 1200).await;
    let unpaid = created(&host, &eve, "list-2", 300).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let third = paid_order(&host, &eve, "list-3", 4500).await;
    let today = islet_host::clock::today();

    // The day's orders: each once (a paid order has two journal entries
    // today), oldest first, over pages of one.
    let day = all_pages(&host, &admin, &format!("&date={today}"), 1).await;
    assert_eq!(day, vec![first.clone(), unpaid.clone(), third.clone()]);
    let every = all_pages(&host, &admin, "", 2).await;
    assert_eq!(every, day, "all orders, oldest first");
    let (status, page) = host
        .get_json(&format!("/admin/v1/orders?date={today}"), Some(&admin))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["date"], &*today);
    assert_eq!(page["time_zone"], "Asia/Shanghai");
    assert_eq!(page["next_cursor"], Value::Null);
    let listed = &page["orders"][0];
    assert_eq!(
        (
            &listed["request"]["merchant"],
            &listed["request"]["amount_fen"]
        ),
        (&json!(MERCHANT), &json!(1200)),
        "{listed}"
    );
    assert!(listed["citizen"].is_string(), "platform staff see it");

    // Filters.
    let paid = all_pages(&host, &admin, "&status=paid&plugin=payment-probe", 10).await;
    assert_eq!(paid, vec![first.clone(), third.clone()]);
    let open = all_pages(&host, &admin, &format!("&status=created&date={today}"), 10).await;
    assert_eq!(open, vec![unpaid.clone()]);
    assert!(
        all_pages(&host, &admin, "&plugin=hello", 10)
            .await
            .is_empty()
    );
    assert!(
        all_pages(&host, &admin, "&date=2001-02-03", 10)
            .await
            .is_empty()
    );
    // Empty filters are no filters (what a form sends).
    let (status, page) = host
        .get_json("/admin/v1/orders?plugin=&status=&date=", Some(&admin))
        .await;
    assert_eq!((status, ids(&page).len()), (200, 3), "{page}");

    // Bad filters: 400 with the reason, never a partial list.
    for (query, says) in [
        ("status=bogus", "status"),
        ("date=2026-13-01", "date"),
        ("date=yesterday", "date"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=many", "query string"),
        ("cursor=o/1", "cursor"),
        ("cursor=dj%2F2026-01-01%2Fx", "cursor"),
        ("colour=red", "colour"),
    ] {
        let (status, body) = host
            .get_json(&format!("/admin/v1/orders?{query}"), Some(&admin))
            .await;
        assert_eq!(
            (status, code(&body)),
            (400, "invalid_query"),
            "{query}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
            "{query}: {body}"
        );
        assert!(body["error"]["request_id"].is_string(), "{body}");
    }

    // Roles: as for one order. Operators read everything; a developer of
    // the plugin's department sees its orders without the platform-wide
    // citizen key; another department sees none; citizens are refused.
    let operator = host.token("ops", &["operator"]);
    assert_eq!(all_pages(&host, &operator, "", 10).await.len(), 3);
    let own = host.token("dev-probe", &["developer:probe"]);
    let (status, page) = host.get_json("/admin/v1/orders", Some(&own)).await;
    assert_eq!((status, ids(&page).len()), (200, 3), "{page}");
    assert!(
        page["orders"]
            .as_array()
            .is_some_and(|l| l.iter().all(|o| o.get("citizen").is_none())),
        "{page}"
    );
    let other = host.token("dev-water", &["developer:water"]);
    assert!(all_pages(&host, &other, "", 10).await.is_empty());
    let (status, body) = host.get_json("/admin/v1/orders", Some(&eve)).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = host.get_json("/admin/v1/orders", None).await;
    assert_eq!(status, 401, "{body}");
    host.stop().await;
}

async fn the_audit_log_pages_with_a_cursor_and_filters(backend: Backend) {
    let host = TestHost::start_on(backend).await;
    let admin = host.admin();
    for n in 0..5 {
        let (status, body) = host
            .post(
                "/admin/v1/merchants",
                &admin,
                Some(json!({"id": format!("office-{n}"), "department": "probe", "name": format!("Office {n}")})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/admin/v1/audit?action=merchant.create&limit=2".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = host.get_json(&path, Some(&admin)).await;
        assert_eq!(status, 200, "{page}");
        let entries = page["entries"].as_array().expect("entries");
        assert!(entries.len() <= 2, "{page}");
        seen.extend(
            entries
                .iter()
                .map(|e| (e["target"].clone(), e["at_ms"].clone())),
        );
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 10, "no end to the pages");
    }
    assert_eq!(pages, 3, "2 + 2 + 1");
    let targets: Vec<_> = seen.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(
        targets,
        (0..5)
            .rev()
            .map(|n| json!(format!("office-{n}")))
            .collect::<Vec<_>>(),
        "newest first, each once"
    );
    let (_, one) = host
        .get_json(
            "/admin/v1/audit?target=office-3&actor=&action=",
            Some(&admin),
        )
        .await;
    assert_eq!(one["entries"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one["next_cursor"], Value::Null);
    let (_, nobody) = host
        .get_json("/admin/v1/audit?actor=somebody-else", Some(&admin))
        .await;
    assert_eq!(nobody["entries"], json!([]), "{nobody}");
    let distinct: BTreeSet<_> = targets.iter().map(Value::to_string).collect();
    assert_eq!(distinct.len(), 5);

    for query in [
        "cursor=x",
        "cursor=00000000000000000000-00000000000000000000-zz",
        "limit=0",
        "limit=1001",
        "before=1",
    ] {
        let (status, body) = host
            .get_json(&format!("/admin/v1/audit?{query}"), Some(&admin))
            .await;
        assert_eq!(
            (status, code(&body)),
            (400, "invalid_query"),
            "{query}: {body}"
        );
    }
    let (status, _) = host
        .get_json("/admin/v1/audit", Some(&host.token("ops", &["operator"])))
        .await;
    assert_eq!(status, 200, "operators read the audit log");
    let (status, _) = host
        .get_json(
            "/admin/v1/audit",
            Some(&host.token("dev", &["developer:probe"])),
        )
        .await;
    assert_eq!(status, 403, "a department does not");
    host.stop().await;
}

islet_tests::on_every_backend!(
    orders_are_listed_by_day_status_and_plugin_a_page_at_a_time,
    the_audit_log_pages_with_a_cursor_and_filters,
);
