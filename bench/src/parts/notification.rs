//! Part 8: what a notification costs: a guest request that sends one
//! message (template check, rendering, recipient lookup, consent, both
//! daily counters, inbox, unread count: one atomic batch, flushed), and a
//! guest request that claims a personal data item (grant, consent, trail
//! written and flushed), next to a plain request and the native floor.

use super::{Bench, fixed};
use crate::host::{DirectRuntime, cache_dir, component, guest_request, manifest_as};
use crate::report::{Section, Verdict};
use crate::stats::{Percentiles, micros, ratio};
use anyhow::{Context as _, ensure};
use islet_host::auth::citizen_key;
use islet_host::consent::ConsentFor;
use islet_host::manifest::{DataItem, TemplateKind};
use islet_host::runtime::Interruption;
use std::time::Instant;

/// Longest median send request, ms.
const TARGET_SEND_MS: f64 = 5.0;

/// Run part 8.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let n = bench.profile.payment_orders;
    let rt = DirectRuntime::new(true, Interruption::Epoch, &cache_dir())?;
    let probe = rt.prepare(
        &manifest_as("people-probe", "people-probe")?,
        &component("people-probe")?,
    )?;
    let hello = rt.prepare(&manifest_as("hello", "hello")?, &component("hello")?)?;
    let mut personal_data = std::collections::BTreeMap::new();
    personal_data.insert(DataItem::RealName, "Bench Citizen".to_string());
    let citizen = crate::host::bench_citizen(personal_data);
    let me = rt.call_as(
        &probe,
        guest_request("GET", "/me", "", Vec::new()),
        Some(citizen.clone()),
    )?;
    let me: serde_json::Value = serde_json::from_slice(&me.response.body)?;
    let subject = me["subject"].as_str().context("no subject")?.to_string();
    let key = citizen_key(&citizen);
    rt.consents.grant(
        &key,
        "people-probe",
        ConsentFor::Template {
            template: "alerts".into(),
            title: "Service alerts".into(),
            mode: TemplateKind::LongTerm,
            remaining: 0,
        },
    )?;
    rt.consents.grant(
        &key,
        "people-probe",
        ConsentFor::DataItem {
            item: DataItem::RealName,
            purpose: "Shown on your permit".into(),
        },
    )?;

    let (mut plain, mut send, mut claim) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let started = Instant::now();
        rt.call_as(
            &hello,
            guest_request("GET", "/", "", Vec::new()),
            Some(citizen.clone()),
        )?;
        plain.push(started.elapsed());
        let body = serde_json::json!({
            "recipient": subject, "template": "alerts",
            "params": {"text": format!("Water off on Lane {i} tomorrow 9-12")}, "link": "/alerts",
        });
        let request = guest_request("POST", "/send", "", serde_json::to_vec(&body)?);
        let started = Instant::now();
        let out = rt.call_as(&probe, request, None)?;
        send.push(started.elapsed());
        ensure!(
            out.response.status == 200,
            "send answered {}: {}",
            out.response.status,
            String::from_utf8_lossy(&out.response.body)
        );
        let started = Instant::now();
        let out = rt.call_as(
            &probe,
            guest_request("GET", "/claim/real-name", "", Vec::new()),
            Some(citizen.clone()),
        )?;
        claim.push(started.elapsed());
        ensure!(
            out.response.status == 200,
            "claim answered {}",
            out.response.status
        );
    }
    let mut floor = super::payment::native_floor(n)?;
    let (plain, send, claim, floor) = (
        Percentiles::of(&mut plain),
        Percentiles::of(&mut send),
        Percentiles::of(&mut claim),
        Percentiles::of(&mut floor),
    );
    let table = super::payment::against_floor(
        &floor,
        &[
            ("hello request (no capability)", &plain),
            ("send request (people-probe → inbox)", &send),
            ("claim request (real name, trail written)", &claim),
        ],
    );
    let send_ms = micros(send.p50) / 1000.0;
    Ok(Section {
        number: 8,
        title: "notification send and personal-data claim".into(),
        method: format!(
            "The runtime with its sled store, no HTTP. {n} rounds of: a `hello` \
             request; a `POST /send` of the people-probe guest (long-term \
             template, consent and grant in place: template and parameter \
             checks, recipient lookup, consent, two daily counters, inbox \
             message and unread count in one atomic batch, flushed); a \
             `GET /claim/real-name` (grant and consent checked, the trail \
             entry written and flushed before the value is returned). Native \
             floor: sled batches of 9 small writes, each flushed, in the same run."
        ),
        tables: vec![table],
        verdict: Verdict {
            measure: "send request (median)".into(),
            figure: format!("{} ms", fixed(send_ms, 2)),
            baseline: format!("{} µs native floor", fixed(micros(floor.p50), 0)),
            ratio: ratio(micros(send.p50), micros(floor.p50)),
            target: format!("≤ {TARGET_SEND_MS} ms"),
            met: send_ms <= TARGET_SEND_MS,
        },
        note: "A message and a data release are acknowledged only once durable, \
               so the disk's sync latency bounds both; the rest is the guest \
               instance and the checks."
            .into(),
    })
}
