//! Part 1: `hello` through Islet against a native axum handler doing the
//! same work, with the same closed-loop client. A third server, native with
//! the greeting made on a Tokio blocking thread, isolates the cost of the
//! thread hop Islet makes for every guest call.

use super::{Bench, fixed, median_run};
use crate::host::{IsletServer, component, manifest_as};
use crate::load::{LoadResult, Target};
use crate::native::{BLOCKING_PATH, GREETING, HELLO_PATH, NativeServer};
use crate::report::{Section, Table, Verdict};
use crate::stats::{micros, ratio};
use anyhow::{Context as _, ensure};

/// Islet's throughput must be at least this share of native's.
const TARGET_SHARE: f64 = 0.5;

/// The servers measured, in table order.
const SERVERS: [&str; 3] = ["native", "native + spawn_blocking", "Islet"];

/// Run part 1.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let native = NativeServer::start(&bench.server_runtime)?;
    let islet = IsletServer::start(&bench.server_runtime, true)?;
    islet.install(&manifest_as("hello", "hello")?, &component("hello")?)?;
    let targets = [
        Target::new(native.addr(), HELLO_PATH),
        Target::new(native.addr(), BLOCKING_PATH),
        Target::new(islet.addr()?, HELLO_PATH),
    ];
    for target in &targets {
        let (status, body) = bench.client.fetch(target)?;
        ensure!(
            status == 200 && body == GREETING.as_bytes(),
            "{}{} answered {status} {:?} instead of the greeting",
            target.addr,
            target.path,
            String::from_utf8_lossy(&body)
        );
    }

    let mut table = Table::new(&[
        "concurrency",
        "server",
        "req/s",
        "p50 µs",
        "p99 µs",
        "errors",
        "req/s vs native",
    ]);
    let mut at_target = None;
    for &concurrency in &bench.profile.concurrencies {
        // Interleave the servers so a passing disturbance hits them alike.
        let mut runs: [Vec<LoadResult>; 3] = Default::default();
        for _ in 0..bench.profile.repeats.max(1) {
            for (target, runs) in targets.iter().zip(&mut runs) {
                let result = bench.client.run(target, bench.load_spec(concurrency))?;
                ensure!(
                    result.completed > 0,
                    "no request to {} completed at concurrency {concurrency}",
                    target.path
                );
                runs.push(result);
            }
        }
        let results = runs
            .into_iter()
            .map(|runs| median_run(runs, LoadResult::throughput))
            .collect::<Option<Vec<_>>>()
            .context("no load point was run")?;
        for (server, result) in SERVERS.iter().zip(&results) {
            table.row(row(server, result, &results[0]));
        }
        if concurrency == bench.profile.target_concurrency {
            at_target = Some(results);
        }
    }
    islet.stop(&bench.server_runtime)?;
    drop(native);

    let results = at_target.context("the profile does not measure its target concurrency")?;
    let (n, b, i) = (&results[0], &results[1], &results[2]);
    let share = ratio(i.throughput(), n.throughput());
    let c = bench.profile.target_concurrency;
    Ok(Section {
        number: 1,
        title: "hello through Islet vs native axum".into(),
        method: format!(
            "`GET {HELLO_PATH}` answering `{GREETING}`: Islet with the `hello` plugin \
             (fresh instance per request, pooling, epoch interruption, every \
             quota check, metrics and usage metering on; the per-caller rate and \
             daily quota raised so one client address is not throttled) against \
             a plain axum handler formatting the same JSON, and the same handler \
             behind `spawn_blocking`. One closed-loop client (hyper, one \
             keep-alive HTTP/1 connection per concurrent task, its own \
             one-thread Tokio runtime) drives all three in turn; {:.1} s warm-up, \
             then {:.1} s measured per run; each point is run {} time(s), the \
             servers interleaved, and the run with the median throughput is \
             shown. The servers share a multi-thread Tokio runtime and the \
             machine's cores with the client.",
            bench.profile.warmup.as_secs_f64(),
            bench.profile.duration.as_secs_f64(),
            bench.profile.repeats,
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
        note: format!(
            "A guest call must leave the async worker while it runs, so that a \
             runaway guest cannot stall other requests; the cost of that alone \
             shows in the native + spawn_blocking row ({} to {} req/s at \
             concurrency {c}: a blocking-pool thread is woken per call and the \
             async worker again after it, two futex wake-ups and context \
             switches, expensive on this virtual machine). Islet uses \
             block_in_place instead, which hands the worker's other tasks to \
             another thread and keeps the request on its own, about one \
             hand-off per call; profiles still put much of the server's CPU \
             time in the scheduler and futex calls and a few percent in the \
             guest's code. On top of that Islet pays per request for a fresh \
             instance (part 2), reading the guest's thread CPU clock (a system \
             call), quota checks, metrics and usage metering, and the \
             request/response copies into and out of the guest. Running guests \
             as async calls with epoch yields on the workers would remove the \
             hand-off.",
            fixed(n.throughput(), 0),
            fixed(b.throughput(), 0),
        ),
    })
}

fn row(server: &str, r: &LoadResult, native: &LoadResult) -> Vec<String> {
    vec![
        r.concurrency.to_string(),
        server.to_string(),
        fixed(r.throughput(), 0),
        fixed(micros(r.latency.p50), 0),
        fixed(micros(r.latency.p99), 0),
        r.errors.to_string(),
        fixed(ratio(r.throughput(), native.throughput()), 2),
    ]
}
