//! Part 7: the money path. What `create-order` costs a guest request, and
//! what a provider notification costs until the plugin has acknowledged
//! the event, against the native floor of the same durable writes.

use super::{Bench, fixed};
use crate::host::{DirectRuntime, SANDBOX_SECRET, cache_dir, component, guest_request};
use crate::report::{Section, Table, Verdict};
use crate::stats::{Percentiles, micros, ratio};
use anyhow::{Context as _, anyhow, ensure};
use islet_host::capabilities::payment::to_wit;
use islet_host::capabilities::{GuestEvent, GuestEventKind};
use islet_host::payment::delivery::{EventTarget, sweep};
use islet_host::payment::events::EventRecord;
use islet_host::payment::order::Order;
use islet_host::payment::sandbox::{NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use islet_host::payment::{NoticeOutcome, Payments};
use islet_host::runtime::{Interruption, PreparedPlugin};
use islet_host::store::{Batch, KvStore, SledStore};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest median `create-order` request, ms.
const TARGET_CREATE_MS: f64 = 5.0;

struct ProbeTarget<'a> {
    runtime: &'a DirectRuntime,
    plugin: &'a PreparedPlugin,
    payments: &'a Payments,
}

impl EventTarget for ProbeTarget<'_> {
    fn deliver(&self, event: &EventRecord, order: &Order) -> Result<Option<String>, String> {
        let guest_event = GuestEvent {
            id: event.id.clone(),
            kind: GuestEventKind::Paid,
            order: to_wit(order, self.payments.provider().checkout_url(order)),
            amount_fen: event.amount_fen,
            refund_key: None,
            attempt: event.attempts + 1,
        };
        match self.runtime.block_on(self.runtime.runtime.deliver_event(
            self.plugin,
            &guest_event,
            Arc::from("bench"),
            self.payments.config().event_timeout,
        )) {
            Ok(Some(Ok(()))) => Ok(Some("bench".into())),
            Ok(Some(Err(why))) => Err(why),
            Ok(None) => Ok(None),
            Err(fault) => Err(fault.to_string()),
        }
    }
}

/// Run part 7.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let n = bench.profile.payment_orders;
    let rt = DirectRuntime::new(true, Interruption::Epoch, &cache_dir())?;
    let manifest = crate::host::manifest_as("payment-probe", "payment-probe")?;
    let probe = rt.prepare(&manifest, &component("payment-probe")?)?;
    let hello = rt.prepare(
        &crate::host::manifest_as("hello", "hello")?,
        &component("hello")?,
    )?;
    rt.open_city_fees()?;
    let citizen = crate::host::bench_citizen(Default::default());

    let mut plain = Vec::with_capacity(n);
    let mut create = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        rt.call_as(
            &hello,
            guest_request("GET", "/", "", Vec::new()),
            Some(citizen.clone()),
        )?;
        plain.push(started.elapsed());
        let body = serde_json::json!({
            "merchant": "city-fees", "amount_fen": 100 + i, "description": "Bench fee",
            "kind": "service-fee", "order_key": format!("bench-{i}"), "expires_in_s": 3600,
        });
        let request = guest_request("POST", "/orders", "", serde_json::to_vec(&body)?);
        let started = Instant::now();
        let out = rt.call_as(&probe, request, Some(citizen.clone()))?;
        create.push(started.elapsed());
        ensure!(
            out.response.status == 200,
            "create-order answered {}",
            out.response.status
        );
        let order: serde_json::Value = serde_json::from_slice(&out.response.body)?;
        ids.push(order["id"].as_str().context("no order id")?.to_string());
    }

    let target = ProbeTarget {
        runtime: &rt,
        plugin: &probe,
        payments: &rt.payments,
    };
    let (mut notify, mut round_trip) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (i, id) in ids.iter().enumerate() {
        let body = serde_json::to_vec(&serde_json::json!({
            "order_id": id, "txn_id": format!("bench-txn-{i}"), "amount_fen": 100 + i, "currency": "CNY",
        }))?;
        let timestamp = islet_host::clock::now_ms() / 1000;
        let nonce = format!("benchnonce{i:08}");
        let signed = signature(SANDBOX_SECRET, timestamp, &nonce, &body);
        let headers = |name: &str| match name {
            TIMESTAMP_HEADER => Some(timestamp.to_string()),
            NONCE_HEADER => Some(nonce.clone()),
            SIGNATURE_HEADER => Some(signed.clone()),
            _ => None,
        };
        let started = Instant::now();
        let outcome = rt
            .payments
            .handle_notice("sandbox", &headers, &body)
            .map_err(|e| anyhow!("notification refused: {e}"))?;
        notify.push(started.elapsed());
        ensure!(
            matches!(outcome, NoticeOutcome::Applied(_)),
            "not applied: {outcome:?}"
        );
        let delivered = sweep(&rt.payments, &target);
        round_trip.push(started.elapsed());
        ensure!(delivered == 1, "{delivered} events delivered instead of 1");
    }

    let mut floor = native_floor(n)?;
    let (plain, create, notify, round_trip, floor) = (
        Percentiles::of(&mut plain),
        Percentiles::of(&mut create),
        Percentiles::of(&mut notify),
        Percentiles::of(&mut round_trip),
        Percentiles::of(&mut floor),
    );
    let table = against_floor(
        &floor,
        &[
            ("hello request (no payment)", &plain),
            ("create-order request (payment-probe)", &create),
            ("notification: verify + apply + flush", &notify),
            (
                "notification → event acknowledged by the plugin",
                &round_trip,
            ),
        ],
    );
    let create_ms = micros(create.p50) / 1000.0;
    Ok(Section {
        number: 7,
        title: "payment: create-order and the notification round trip".into(),
        method: format!(
            "The runtime with its sled store and the sandbox provider, no HTTP. \
             {n} orders: each `POST /orders` of the payment-probe guest (a fresh \
             instance calling `create-order`: grant check, idempotency key, \
             atomic batch of order, indexes, journal and daily count, flush), \
             next to a `hello` request as the guest-call baseline. Then per \
             order a signed sandbox notification through `handle_notice` \
             (HMAC, window, nonce, amount, atomic paid + journal + outbox, \
             flush) and one delivery sweep (a fresh instance runs \
             `on-payment`, which writes to storage; the delivery is \
             recorded and flushed). Native floor: the same number of sled \
             batches of 9 small writes, each flushed, in the same run."
        ),
        tables: vec![table],
        verdict: Verdict {
            measure: "create-order request (median)".into(),
            figure: format!("{} ms", fixed(create_ms, 2)),
            baseline: format!("{} µs native floor", fixed(micros(floor.p50), 0)),
            ratio: ratio(micros(create.p50), micros(floor.p50)),
            target: format!("≤ {TARGET_CREATE_MS} ms"),
            met: create_ms <= TARGET_CREATE_MS,
        },
        note: "Both paths end in a flush of the sled log (an fsync): a payment \
               is acknowledged only once it is durable, so the disk's sync \
               latency bounds both figures; the rest is the guest instance \
               and the ledger's checks."
            .into(),
    })
}

/// A table of p50, p99 and the p50 ratio to the native `floor`, the floor
/// itself first.
pub(super) fn against_floor(floor: &Percentiles, rows: &[(&str, &Percentiles)]) -> Table {
    let mut table = Table::new(&["operation", "p50 µs", "p99 µs", "p50 / native floor"]);
    let all = std::iter::once(("native floor: sled batch of 9 writes + flush", floor));
    for (name, p) in all.chain(rows.iter().copied()) {
        table.row(vec![
            name.to_string(),
            fixed(micros(p.p50), 0),
            fixed(micros(p.p99), 0),
            fixed(ratio(micros(p.p50), micros(floor.p50)), 2),
        ]);
    }
    table
}

/// Sled batches of the size a created order writes, each flushed.
pub(super) fn native_floor(n: usize) -> anyhow::Result<Vec<Duration>> {
    let dir = tempfile::tempdir().context("cannot create a data folder")?;
    let store = SledStore::open(&dir.path().join("db"))?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let mut batch = Batch::new().expect(format!("k/{i}"), None);
        for part in ["o", "k", "c", "j", "dj", "x", "daily", "e", "q"] {
            batch = batch.put(format!("{part}/{i}"), vec![b'x'; 200]);
        }
        let started = Instant::now();
        store.commit("floor", &batch).map_err(|e| anyhow!("{e}"))?;
        store.flush()?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}
