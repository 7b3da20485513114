//! Helpers for the payment tests: a host with the `payment-probe` guest and
//! a granted merchant, order calls through the guest, the sandbox cashier,
//! and notifications signed the way the sandbox provider signs them
//! (computed here independently of the host's code).

use crate::{TestHost, json_of};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::future::Future;
use std::time::{Duration, Instant};

/// The merchant account the probe is granted.
pub const MERCHANT: &str = "city-fees";

/// A host with short payment timings (100 ms retry base, 1 s minimum
/// expiry), `payment-probe` installed and merchant [`MERCHANT`] granted
/// to it.
pub async fn payment_host(backend: crate::Backend) -> TestHost {
    let host = TestHost::start_on_with(backend, |c| {
        c.payment.retry_base = Duration::from_millis(100);
        c.payment.min_expiry_s = 1;
    })
    .await;
    host.install("payment-probe").await;
    open_merchant(&host, MERCHANT, "probe", "payment-probe").await;
    host
}

/// Open merchant `id` of `department` and grant it to `plugin`.
pub async fn open_merchant(host: &TestHost, id: &str, department: &str, plugin: &str) {
    let admin = host.admin();
    let (status, body) = host
        .post(
            "/admin/v1/merchants",
            &admin,
            Some(json!({"id": id, "department": department, "name": format!("{id} account")})),
        )
        .await;
    assert!(status == 201 || status == 409, "{status} {body}");
    let response = host
        .http
        .put(host.url(&format!("/admin/v1/merchants/{id}/plugins/{plugin}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("grant");
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
}

/// The JSON of a new order for the probe.
pub fn new_order(key: &str, amount_fen: u64) -> Value {
    json!({
        "merchant": MERCHANT,
        "amount_fen": amount_fen,
        "description": "Parking permit",
        "kind": {"non-tax": "FEE-0101"},
        "order_key": key,
        "expires_in_s": 3600,
    })
}

/// `POST /p/{plugin}/orders` as `token`.
pub async fn create_order(host: &TestHost, plugin: &str, token: &str, body: Value) -> (u16, Value) {
    host.post(&format!("/p/{plugin}/orders"), token, Some(body))
        .await
}

/// Create an order through the probe and assert success.
pub async fn created(host: &TestHost, token: &str, key: &str, amount_fen: u64) -> Value {
    let (status, order) =
        create_order(host, "payment-probe", token, new_order(key, amount_fen)).await;
    assert_eq!(status, 200, "{order}");
    order
}

/// The citizen pays `order_id` in the sandbox cashier with `options`
/// (`{"notify_times": 3}`, ...).
pub async fn pay(host: &TestHost, token: &str, order_id: &str, options: Value) -> (u16, Value) {
    let mut body = json!({"action": "pay"});
    if let (Some(b), Some(o)) = (body.as_object_mut(), options.as_object()) {
        b.extend(o.clone());
    }
    host.post(&format!("/pay/{order_id}"), token, Some(body))
        .await
}

/// Create an order of `payment-probe` as `token`, pay it in the sandbox
/// cashier and wait (up to 20 s) until the plugin sees it paid; its id.
pub async fn paid_order(host: &TestHost, token: &str, key: &str, amount_fen: u64) -> String {
    let order = created(host, token, key, amount_fen).await;
    let id = order["id"].as_str().unwrap_or_default().to_string();
    let (status, body) = pay(host, token, &id, json!({})).await;
    assert_eq!(status, 200, "{body}");
    wait_for("payment", std::time::Duration::from_secs(20), || async {
        let (_, o) = host
            .get_json(&format!("/p/payment-probe/orders/{id}"), Some(token))
            .await;
        (o["status"] == "paid").then_some(())
    })
    .await;
    id
}

/// The admin view of an order: `{order, journal, events}`.
pub async fn admin_order(host: &TestHost, id: &str) -> Value {
    let (status, body) = host
        .get_json(&format!("/admin/v1/orders/{id}"), Some(&host.admin()))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Journal event names of an order, oldest first.
pub async fn journal(host: &TestHost, id: &str) -> Vec<String> {
    admin_order(host, id).await["journal"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["event"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Poll `probe` every 50 ms until it returns `Some`, or panic after
/// `timeout` naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until the probe recorded the events; returns `GET /events`.
pub async fn probe_events(host: &TestHost, plugin: &str, at_least: usize) -> Value {
    let token = host.token("probe-reader", &[]);
    wait_for(
        "events recorded by the probe",
        Duration::from_secs(20),
        || async {
            let (status, body) = host
                .get_json(&format!("/p/{plugin}/events"), Some(&token))
                .await;
            (status == 200
                && body["events"]
                    .as_array()
                    .is_some_and(|e| e.len() >= at_least))
            .then_some(body)
        },
    )
    .await
}

/// The sandbox provider's signing secret, from the host's data folder.
pub fn sandbox_secret(host: &TestHost) -> Vec<u8> {
    std::fs::read_to_string(host.config.secrets_dir.join("sandbox-pay-secret"))
        .expect("sandbox secret")
        .trim()
        .as_bytes()
        .to_vec()
}

/// `hex(HMAC-SHA256(secret, "{timestamp}\n{nonce}\n{body}"))`.
pub fn sign(secret: &[u8], timestamp: u64, nonce: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac key");
    mac.update(format!("{timestamp}\n{nonce}\n").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A notification as the provider would send it.
pub struct Notice {
    /// The JSON body.
    pub body: Vec<u8>,
    /// Signed at, seconds.
    pub timestamp: u64,
    /// One-time nonce.
    pub nonce: String,
    /// The signature header.
    pub signature: String,
}

impl Notice {
    /// A correctly signed notice that `order_id` was paid `amount_fen` CNY
    /// in transaction `txn`.
    pub fn paid(secret: &[u8], order_id: &str, txn: &str, amount_fen: u64) -> Notice {
        Self::signed(
            secret,
            json!({"order_id": order_id, "txn_id": txn, "amount_fen": amount_fen, "currency": "CNY"}),
            crate::now(),
        )
    }

    /// `body` signed at `timestamp` with a fresh nonce.
    pub fn signed(secret: &[u8], body: Value, timestamp: u64) -> Notice {
        let body = serde_json::to_vec(&body).expect("json");
        let nonce = hex::encode(rand_bytes());
        Notice {
            signature: sign(secret, timestamp, &nonce, &body),
            body,
            timestamp,
            nonce,
        }
    }

    /// Send it to the host's sandbox notification endpoint.
    pub async fn send(&self, host: &TestHost) -> (u16, Value) {
        self.send_to(&host.http, &host.url("/api/v1/payments/notify/sandbox"))
            .await
    }

    /// Send it to `url` with `client`.
    pub async fn send_to(&self, client: &reqwest::Client, url: &str) -> (u16, Value) {
        let response = client
            .post(url)
            .header("islet-sandbox-timestamp", self.timestamp.to_string())
            .header("islet-sandbox-nonce", &self.nonce)
            .header("islet-sandbox-signature", &self.signature)
            .header("content-type", "application/json")
            .body(self.body.clone())
            .send()
            .await
            .expect("notify");
        json_of(response).await
    }
}

fn rand_bytes() -> [u8; 12] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&(t ^ n.rotate_left(32)).to_be_bytes());
    out[8..].copy_from_slice(&(n as u32).to_be_bytes());
    out
}
