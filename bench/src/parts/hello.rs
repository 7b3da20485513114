//! Part 1: `hello` through Islet against a native axum handler doing the
//! same work, with the same closed-loop client.

use super::{Bench, fixed};
use crate::host::{IsletServer, component, manifest_as};
use crate::load::{LoadResult, Target};
use crate::native::{GREETING, HELLO_PATH, NativeServer};
use crate::report::{Section, Table, Verdict};
use crate::stats::{micros, ratio};
use anyhow::{Context as _, ensure};

/// Islet's throughput must be at least this share of native's.
const TARGET_SHARE: f64 = 0.5;

/// Run part 1.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let native = NativeServer::start(&bench.server_runtime)?;
    let islet = IsletServer::start(&bench.server_runtime, true)?;
    islet.install(&manifest_as("hello", "hello")?, &component("hello")?)?;
    let targets = [
        Target::new(native.addr(), HELLO_PATH),
        Target::new(islet.addr()?, HELLO_PATH),
    ];
    for target in &targets {
        let (status, body) = bench.client.fetch(target)?;
        ensure!(
            status == 200 && body == GREETING.as_bytes(),
            "{} answered {status} {:?} instead of the greeting",
            target.addr,
            String::from_utf8_lossy(&body)
        );
    }

    let mut table = Table::new(&[
        "concurrency",
        "native req/s",
        "Islet req/s",
        "Islet/native",
        "native p50 µs",
        "Islet p50 µs",
        "native p99 µs",
        "Islet p99 µs",
        "errors native/Islet",
    ]);
    let mut at_target = None;
    for &concurrency in &bench.profile.concurrencies {
        let spec = bench.load_spec(concurrency);
        let n = bench.client.run(&targets[0], spec)?;
        let i = bench.client.run(&targets[1], spec)?;
        ensure!(
            n.completed > 0 && i.completed > 0,
            "no request completed at concurrency {concurrency}"
        );
        table.row(row(&n, &i));
        if concurrency == bench.profile.target_concurrency {
            at_target = Some((n, i));
        }
    }
    islet.stop(&bench.server_runtime)?;
    drop(native);

    let (n, i) = at_target.context("the profile does not measure its target concurrency")?;
    let share = ratio(i.throughput(), n.throughput());
    let c = bench.profile.target_concurrency;
    Ok(Section {
        number: 1,
        title: "hello through Islet vs native axum".into(),
        method: format!(
            "`GET {HELLO_PATH}` answering `{GREETING}`: Islet with the `hello` plugin \
             (fresh instance per request, pooling, epoch interruption) against a \
             plain axum handler formatting the same JSON. One closed-loop client \
             (hyper, one keep-alive HTTP/1 connection per concurrent task, own \
             one-thread Tokio runtime) drives both; {:.1} s warm-up, then {:.1} s \
             measured per point. Servers run on a multi-thread Tokio runtime on \
             the same machine as the client.",
            bench.profile.warmup.as_secs_f64(),
            bench.profile.duration.as_secs_f64()
        ),
        tables: vec![table],
        verdict: Verdict {
            measure: format!("throughput at concurrency {c}, Islet/native"),
            figure: format!("{} req/s", fixed(i.throughput(), 0)),
            baseline: format!("{} req/s native", fixed(n.throughput(), 0)),
            ratio: share,
            target: format!("≥ {TARGET_SHARE:.2} of native"),
            met: share >= TARGET_SHARE,
        },
        note: "Islet pays per request for what axum does not: the plugin lookup, \
               the guest request/response copies, a hop to a Tokio blocking thread \
               (`spawn_blocking`, the guest runs synchronously so a runaway guest \
               never stalls async workers) and a fresh Wasm instance (store, WASI \
               context, instantiation from the pool, teardown; part 2 measures \
               that alone). The native handler is cheap enough that the client \
               and the kernel's loopback TCP take a large share of the 2 cores, \
               so the native figure is partly client-bound."
            .into(),
    })
}

fn row(n: &LoadResult, i: &LoadResult) -> Vec<String> {
    vec![
        n.concurrency.to_string(),
        fixed(n.throughput(), 0),
        fixed(i.throughput(), 0),
        fixed(ratio(i.throughput(), n.throughput()), 2),
        fixed(micros(n.latency.p50), 0),
        fixed(micros(i.latency.p50), 0),
        fixed(micros(n.latency.p99), 0),
        fixed(micros(i.latency.p99), 0),
        format!("{}/{}", n.errors, i.errors),
    ]
}
