//! Part 6: `hello`'s tail latency while other plugins burn their CPU limit
//! and hit their memory cap, against the quiet tail in the same run.

use super::{Bench, fixed, median_run};
use crate::host::{IsletServer, component, manifest_as};
use crate::load::{LoadResult, NoiseStats, Target};
use crate::native::HELLO_PATH;
use crate::report::{Section, Table, Verdict};
use crate::stats::{micros, ratio};
use anyhow::{Context as _, ensure};
use std::time::Duration;

/// Noisy p99 may be at most this multiple of the quiet p99.
const TARGET_FACTOR: f64 = 2.0;

/// Run part 6.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let p = &bench.profile;
    let islet = IsletServer::start(&bench.server_runtime, false)?;
    let hostile = component("hostile")?;
    islet.install(&manifest_as("hello", "hello")?, &component("hello")?)?;
    islet.install(&manifest_as("hostile", "hostile")?, &hostile)?;
    islet.install(&manifest_as("hostile", "hostile-hog")?, &hostile)?;
    let addr = islet.addr()?;
    let hello = Target::new(addr, HELLO_PATH);
    let spin = Target::new(addr, "/p/hostile/spin");
    let hog = Target::new(addr, "/p/hostile-hog/hog");

    let spec = bench.load_spec(p.target_concurrency);
    let (mut quiet_runs, mut noisy_runs) = (Vec::new(), Vec::new());
    let (mut spun, mut hogged) = (NoiseStats::default(), NoiseStats::default());
    // Alternate quiet and noisy runs so a passing disturbance hits both.
    for _ in 0..p.repeats.max(1) {
        quiet_runs.push(bench.client.run(&hello, spec)?);
        let spinners = bench.client.start_noise(&spin, p.spinners);
        let hoggers = bench.client.start_noise(&hog, p.hoggers);
        // Let the noise reach its steady state before measuring.
        std::thread::sleep(Duration::from_millis(200));
        let noisy = bench.client.run(&hello, spec);
        spun.merge(bench.client.stop_noise(spinners)?);
        hogged.merge(bench.client.stop_noise(hoggers)?);
        noisy_runs.push(noisy?);
    }
    islet.stop(&bench.server_runtime)?;
    let p99 = |r: &LoadResult| micros(r.latency.p99);
    let quiet = median_run(quiet_runs, p99).context("no quiet run")?;
    let noisy = median_run(noisy_runs, p99).context("no noisy run")?;
    ensure!(
        quiet.completed > 0 && noisy.completed > 0,
        "hello completed no request"
    );
    ensure!(
        spun.answered() > 0 && hogged.answered() > 0,
        "the noisy plugins were never answered"
    );

    let mut table = Table::new(&[
        "phase",
        "hello req/s",
        "p50 µs",
        "p99 µs",
        "errors",
        "p99/quiet p99",
    ]);
    let row = |name: &str, r: &LoadResult| {
        vec![
            name.to_string(),
            fixed(r.throughput(), 0),
            fixed(micros(r.latency.p50), 0),
            fixed(micros(r.latency.p99), 0),
            r.errors.to_string(),
            fixed(ratio(micros(r.latency.p99), micros(quiet.latency.p99)), 2),
        ]
    };
    table.row(row("quiet", &quiet));
    table.row(row("noisy", &noisy));
    let mut noise = Table::new(&["noisy caller", "callers", "answers by status", "no answer"]);
    for (name, callers, stats) in [
        ("`/p/hostile/spin` (CPU limit)", p.spinners, &spun),
        ("`/p/hostile-hog/hog` (memory cap)", p.hoggers, &hogged),
    ] {
        noise.row(vec![
            name.to_string(),
            callers.to_string(),
            statuses(stats),
            stats.failed.to_string(),
        ]);
    }

    let factor = ratio(micros(noisy.latency.p99), micros(quiet.latency.p99));
    Ok(Section {
        number: 6,
        title: "noisy neighbour".into(),
        method: format!(
            "One Islet server with `hello`, `hostile` and `hostile` again as \
             `hostile-hog` (16 MiB memory cap). Quiet: `hello` alone at \
             concurrency {c}. Noisy: the same load while {} caller(s) loop on \
             `/p/hostile/spin` (each call burns its 100 ms CPU limit, then 504) \
             and {} caller(s) loop on `/p/hostile-hog/hog` (allocates until the \
             cap, then 500). Same client and durations as part 1; quiet and \
             noisy runs alternate {} time(s) and the runs with the median p99 \
             are shown. The circuit breaker is off on this server: it would \
             otherwise suspend the failing neighbours after 20 calls, and this \
             part measures a neighbour that keeps burning its limits.",
            p.spinners,
            p.hoggers,
            p.repeats,
            c = p.target_concurrency
        ),
        tables: vec![table, noise],
        verdict: Verdict {
            measure: format!(
                "hello p99 at concurrency {}, noisy/quiet",
                p.target_concurrency
            ),
            figure: format!("{} µs", fixed(micros(noisy.latency.p99), 0)),
            baseline: format!("{} µs quiet", fixed(micros(quiet.latency.p99), 0)),
            ratio: factor,
            target: format!("≤ {TARGET_FACTOR}× quiet p99"),
            met: factor <= TARGET_FACTOR,
        },
        note: format!(
            "Limits confine a bad guest's failures to its own requests, not its \
             CPU use while it runs: each spinning caller keeps one blocking \
             thread busy for its whole 100 ms budget ({} spins ended in 504 \
             during the noisy runs), so {} guest thread(s) compete for the {} \
             cores with the threads serving `hello`, and the kernel shares the \
             cores fairly between them: `hello`'s requests wait behind full \
             scheduler time slices. The memory hog is cheap by comparison (a few \
             MiB of page faults per call; {} ended in 500). Keeping one plugin's \
             running guests below the number of cores, or lowering the \
             scheduling priority of a call once it has run for a few \
             milliseconds, would bound this; the circuit breaker (off here) \
             bounds it in time.",
            spun.by_status.get(&504).copied().unwrap_or(0),
            p.spinners,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            hogged.by_status.get(&500).copied().unwrap_or(0),
        ),
    })
}

fn statuses(stats: &NoiseStats) -> String {
    stats
        .by_status
        .iter()
        .map(|(status, n)| format!("{status}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
