//! Part 9: the shared store. Storage and create-order requests on
//! PostgreSQL next to sled and to the native floor (the same statements
//! issued directly by a client of their own); how fast a change made on
//! one host reaches another (an install; an inbox message); `hello`
//! through nginx with 1, 2 and 3 hosts.

use super::{Bench, fixed};
use crate::host::{DirectRuntime, IsletServer, cache_dir, component, guest_request, manifest_as};
use crate::load::Target;
use crate::report::{Section, Table, Verdict};
use crate::stats::{Percentiles, micros, millis, ratio};
use anyhow::{Context as _, anyhow, ensure};
use islet_host::runtime::Interruption;
use islet_host::store::{KvStore, PgStore, SledStore, scratch};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Store-bound request p50 over the native PostgreSQL floor, at most.
const TARGET_RATIO: f64 = 1.5;
/// Cross-host propagation p99, at most.
const TARGET_PROPAGATION: Duration = Duration::from_secs(1);

/// A fresh PostgreSQL schema in the test database (`ISLET_TEST_PG_URL`).
fn fresh_schema(label: &str) -> anyhow::Result<String> {
    scratch::test_url()
        .and_then(|base| scratch::schema_url(&base, label))
        .map_err(|e| anyhow!("{}", e.0))
}

/// Latencies of `n` storage writes, reads and order creations through
/// guests on `store`.
struct Requests {
    put: Vec<Duration>,
    get: Vec<Duration>,
    create: Vec<Duration>,
}

fn requests(n: usize, store: Arc<dyn KvStore>) -> anyhow::Result<Requests> {
    let data = tempfile::tempdir().context("cannot create a data folder")?;
    let rt = DirectRuntime::on_store(true, Interruption::Epoch, &cache_dir(), store, data)?;
    let probe = rt.prepare(&manifest_as("probe", "probe")?, &component("probe")?)?;
    let payments = rt.prepare(
        &manifest_as("payment-probe", "payment-probe")?,
        &component("payment-probe")?,
    )?;
    rt.open_city_fees()?;
    let citizen = crate::host::bench_citizen(Default::default());
    let mut out = Requests {
        put: Vec::with_capacity(n),
        get: Vec::with_capacity(n),
        create: Vec::with_capacity(n),
    };
    for i in 0..n {
        let value = vec![b'v'; 100];
        let started = Instant::now();
        let put = rt.call(
            &probe,
            guest_request("PUT", &format!("/kv/k{i}"), "", value.clone()),
        )?;
        out.put.push(started.elapsed());
        ensure!(
            put.response.body.starts_with(b"{\"ok\":true"),
            "PUT answered {}",
            String::from_utf8_lossy(&put.response.body)
        );
        let started = Instant::now();
        let got = rt.call(
            &probe,
            guest_request("GET", &format!("/kv/k{i}"), "", Vec::new()),
        )?;
        out.get.push(started.elapsed());
        ensure!(got.response.body == value, "GET read something else");
        let body = serde_json::json!({
            "merchant": "city-fees", "amount_fen": 100 + i, "description": "Bench fee",
            "kind": "service-fee", "order_key": format!("bench-{i}"), "expires_in_s": 3600,
        });
        let started = Instant::now();
        let created = rt.call_as(
            &payments,
            guest_request("POST", "/orders", "", serde_json::to_vec(&body)?),
            Some(citizen.clone()),
        )?;
        out.create.push(started.elapsed());
        ensure!(created.response.status == 200, "create-order failed");
    }
    Ok(out)
}

/// The native floor: the store's own statements (one write function call,
/// one read) from a plain tokio-postgres client, no host in between.
fn native_floor(n: usize, url: &str) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    // Migrates the schema the statements need.
    drop(PgStore::connect(url, 1)?);
    let config: tokio_postgres::Config = url.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client.batch_execute("SET synchronous_commit = on").await?;
        let write = client
            .prepare("SELECT islet_kv_write($1, $2, $3, $4, $5, $6, $7)")
            .await?;
        let read = client
            .prepare("SELECT v FROM islet_kv WHERE ns = $1 AND k = $2")
            .await?;
        let (mut writes, mut reads) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let value = vec![b'v'; 100];
        for i in 0..n {
            let key = format!("k{i}").into_bytes();
            let none: Option<Vec<u8>> = None;
            let started = Instant::now();
            client
                .execute(
                    &write,
                    &[
                        &"floor",
                        &key,
                        &false,
                        &none,
                        &Some(value.clone()),
                        &Some(10i64 << 20),
                        &1i16,
                    ],
                )
                .await?;
            writes.push(started.elapsed());
            let started = Instant::now();
            let row = client.query_one(&read, &[&"floor", &key]).await?;
            reads.push(started.elapsed());
            let got: Vec<u8> = row.try_get(0)?;
            anyhow::ensure!(got == value, "the floor read something else");
        }
        Ok((writes, reads))
    })
}

/// The same write + flush and read on sled, directly.
fn sled_floor(n: usize) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let dir = tempfile::tempdir()?;
    let store = SledStore::open(&dir.path().join("db"))?;
    let (mut writes, mut reads) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let key = format!("k{i}");
        let started = Instant::now();
        store
            .write(
                "floor",
                key.as_bytes(),
                islet_host::store::Expect::Anything,
                Some(&[b'v'; 100]),
                Some(10 << 20),
            )
            .map_err(|e| anyhow!("{e}"))?;
        store.flush()?;
        writes.push(started.elapsed());
        let started = Instant::now();
        ensure!(store.get("floor", key.as_bytes())?.is_some());
        reads.push(started.elapsed());
    }
    Ok((writes, reads))
}

/// `count` hosts on one fresh schema, sharing their secrets (the folder
/// lives as long as they do).
fn deployment(
    bench: &Bench,
    count: usize,
) -> anyhow::Result<(Vec<IsletServer>, tempfile::TempDir)> {
    let url = fresh_schema("bench_hosts")?;
    let secrets = tempfile::tempdir()?;
    let mut hosts = Vec::with_capacity(count);
    for _ in 0..count {
        let (url, dir) = (url.clone(), secrets.path().to_path_buf());
        hosts.push(IsletServer::start_with(
            &bench.server_runtime,
            true,
            move |c| {
                c.store_url = Some(url);
                c.secrets_dir = dir;
            },
        )?);
    }
    Ok((hosts, secrets))
}

/// Install on A, time until B serves it; `n` times.
fn install_propagation(
    a: &IsletServer,
    b: &IsletServer,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let hello = component("hello")?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("prop-{i}");
        a.install(&manifest_as("hello", &id)?, &hello)?;
        let installed = Instant::now();
        let registry = &b.running()?.state().registry;
        while !registry
            .get(&id)
            .is_some_and(|p| matches!(p.released(), Some(Ok(_))))
        {
            ensure!(
                installed.elapsed() < Duration::from_secs(10),
                "{id} never served on the other host"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        samples.push(installed.elapsed());
    }
    Ok(samples)
}

/// An inbox message stored and announced by A, timed until B's streams
/// get it; `n` times.
fn message_propagation(
    bench: &Bench,
    a: &IsletServer,
    b: &IsletServer,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    use islet_host::notify::{Message, keys};
    let store = a.running()?.state().registry.store().clone();
    let mut streams = b.running()?.state().notifications.subscribe();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let citizen = "bench-citizen";
        let id = keys::new_message_id(islet_host::clock::now_ms());
        let message = Message {
            id: id.clone(),
            plugin: "bench".into(),
            service_name: "Bench".into(),
            template: "t".into(),
            title: "Bench".into(),
            body: format!("message {i}"),
            link: None,
            at_ms: islet_host::clock::now_ms(),
            read: false,
        };
        store
            .write(
                islet_host::consent::NAMESPACE,
                keys::message(citizen, &id).as_bytes(),
                islet_host::store::Expect::Anything,
                Some(&serde_json::to_vec(&message)?),
                None,
            )
            .map_err(|e| anyhow!("{e}"))?;
        let started = Instant::now();
        store.announce("inbox", &format!("{}\n{id}\n{citizen}", i + 1))?;
        let got = bench.server_runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match streams.recv().await {
                        Ok(event) if event.message.as_ref().is_some_and(|m| m.id == id) => {
                            return Ok(());
                        }
                        Ok(_) => continue,
                        Err(e) => return Err(anyhow!("{e}")),
                    }
                }
            })
            .await
        });
        ensure!(
            matches!(got, Ok(Ok(()))),
            "message {i} never reached B's streams"
        );
        samples.push(started.elapsed());
    }
    Ok(samples)
}

/// `hello` throughput through nginx in front of the first 1, 2, 3 hosts.
fn through_nginx(bench: &Bench, hosts: &[IsletServer]) -> anyhow::Result<Vec<(String, f64, u64)>> {
    let mut rows = Vec::new();
    let direct = Target::new(hosts[0].addr()?, "/p/hello/");
    let spec = bench.load_spec(bench.profile.target_concurrency);
    let result = bench.client.run(&direct, spec)?;
    rows.push((
        "1 host, direct".to_string(),
        result.throughput(),
        result.errors,
    ));
    for k in 1..=hosts.len() {
        let upstreams = hosts[..k]
            .iter()
            .map(|h| h.addr().map(|a| a.to_string()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let nginx = std::panic::catch_unwind(|| islet_tests::nginx::Nginx::start(&upstreams))
            .map_err(|_| anyhow!("nginx did not start (apt-get install nginx)"))?;
        let addr = nginx
            .base
            .trim_start_matches("http://")
            .parse()
            .context("nginx address")?;
        let result = bench.client.run(&Target::new(addr, "/p/hello/"), spec)?;
        rows.push((
            format!("{k} host{} behind nginx", if k == 1 { "" } else { "s" }),
            result.throughput(),
            result.errors,
        ));
    }
    Ok(rows)
}

/// Run part 9.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let n = bench.profile.store_requests;
    let dir = tempfile::tempdir()?;
    let sled: Arc<dyn KvStore> = Arc::new(SledStore::open(&dir.path().join("db"))?);
    let on_sled = requests(n, sled)?;
    let url = fresh_schema("bench_store")?;
    let postgres: Arc<dyn KvStore> = Arc::new(PgStore::connect(&url, 16)?);
    let on_pg = requests(n, postgres)?;
    let (mut floor_write, mut floor_read) = native_floor(n, &url)?;
    let (mut sled_write, mut sled_read) = sled_floor(n)?;

    let p = |mut v: Vec<Duration>| Percentiles::of(&mut v);
    let (pg_put, pg_get, pg_create) = (p(on_pg.put), p(on_pg.get), p(on_pg.create));
    let (sl_put, sl_get, sl_create) = (p(on_sled.put), p(on_sled.get), p(on_sled.create));
    let (fw, fr) = (
        Percentiles::of(&mut floor_write),
        Percentiles::of(&mut floor_read),
    );
    let (sw, sr) = (
        Percentiles::of(&mut sled_write),
        Percentiles::of(&mut sled_read),
    );
    let mut requests_table = Table::new(&[
        "operation",
        "PostgreSQL p50 µs",
        "p99 µs",
        "sled p50 µs",
        "p99 µs",
        "PostgreSQL p50 / native PostgreSQL floor",
    ]);
    for (name, pg, sl, floor) in [
        ("native floor: one write (+ flush on sled)", &fw, &sw, &fw),
        ("native floor: one read", &fr, &sr, &fr),
        ("storage write through a guest (PUT)", &pg_put, &sl_put, &fw),
        ("storage read through a guest (GET)", &pg_get, &sl_get, &fr),
        ("create-order through a guest", &pg_create, &sl_create, &fw),
    ] {
        requests_table.row(vec![
            name.to_string(),
            fixed(micros(pg.p50), 0),
            fixed(micros(pg.p99), 0),
            fixed(micros(sl.p50), 0),
            fixed(micros(sl.p99), 0),
            fixed(ratio(micros(pg.p50), micros(floor.p50)), 2),
        ]);
    }

    let (hosts, _secrets) = deployment(bench, 3)?;
    let (a, b) = (&hosts[0], &hosts[1]);
    let m = bench.profile.propagations;
    let mut installs = install_propagation(a, b, m)?;
    hosts[0].install(&manifest_as("hello", "hello")?, &component("hello")?)?;
    let mut messages = message_propagation(bench, a, b, m.max(5) * 4)?;
    let (installs, messages) = (
        Percentiles::of(&mut installs),
        Percentiles::of(&mut messages),
    );
    let mut propagation = Table::new(&["from host A to host B", "p50 ms", "p99 ms", "samples"]);
    for (name, p) in [
        ("install → served", &installs),
        ("inbox message → B's streams", &messages),
    ] {
        propagation.row(vec![
            name.to_string(),
            fixed(millis(p.p50), 2),
            fixed(millis(p.p99), 2),
            p.count.to_string(),
        ]);
    }

    let mut nginx_table = Table::new(&["hello, concurrency", "req/s", "errors"]);
    for (name, rps, errors) in through_nginx(bench, &hosts)? {
        nginx_table.row(vec![name, fixed(rps, 0), errors.to_string()]);
    }

    let store_ratio = ratio(micros(pg_put.p50), micros(fw.p50));
    let propagation_ok = installs.p99 <= TARGET_PROPAGATION && messages.p99 <= TARGET_PROPAGATION;
    Ok(Section {
        number: 9,
        title: "shared store: PostgreSQL next to sled, across hosts".into(),
        method: format!(
            "{n} storage writes, reads and order creations through guests (a fresh \
             instance each, the runtime without HTTP) on a PostgreSQL schema and on \
             sled, next to the native floor: the store's own statements from a plain \
             tokio-postgres client (`SELECT islet_kv_write(...)`, the row read), and \
             sled's write + flush and read. Then two hosts on one schema: an install \
             on A timed until B serves it, and an inbox message stored and announced \
             by A timed until B's live streams get it ({m} and {} samples). Last, \
             `hello` at concurrency {} directly and through nginx (Debian's, a new \
             upstream connection per request) in front of 1, 2 and 3 hosts.",
            m.max(5) * 4,
            bench.profile.target_concurrency
        ),
        tables: vec![requests_table, propagation, nginx_table],
        verdict: Verdict {
            measure: "storage write through a guest on PostgreSQL (median)".into(),
            figure: format!("{} µs", fixed(micros(pg_put.p50), 0)),
            baseline: format!("{} µs native PostgreSQL write", fixed(micros(fw.p50), 0)),
            ratio: store_ratio,
            target: format!("≤ {TARGET_RATIO}× the floor; propagation p99 ≤ 1 s"),
            met: store_ratio <= TARGET_RATIO && propagation_ok,
        },
        note: "PostgreSQL's synchronous commit (a WAL flush per write) bounds the \
               write figures, as sled's fdatasync does on sled. The hosts, nginx, \
               the load generator and PostgreSQL share 2 cores, so the nginx rows \
               show the proxy's overhead, not scale."
            .into(),
    })
}
