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
    // (name, spinners, hoggers): quiet, each kind of noise alone, both.
    let phases = [
        ("quiet", 0, 0),
        ("noisy: spin only", p.spinners, 0),
        ("noisy: hog only", 0, p.hoggers),
        ("noisy: spin + hog", p.spinners, p.hoggers),
    ];
    let mut runs: Vec<Vec<LoadResult>> = vec![Vec::new(); phases.len()];
    let (mut spun, mut hogged) = (NoiseStats::default(), NoiseStats::default());
    // Alternate the phases so a passing disturbance hits them alike.
    for _ in 0..p.repeats.max(1) {
        for ((_, spinners, hoggers), runs) in phases.iter().zip(&mut runs) {
            let spinning = bench.client.start_noise(&spin, *spinners);
            let hogging = bench.client.start_noise(&hog, *hoggers);
            if spinners + hoggers > 0 {
                // Let the noise reach its steady state before measuring.
                std::thread::sleep(Duration::from_millis(200));
            }
            let result = bench.client.run(&hello, spec);
            spun.merge(bench.client.stop_noise(spinning)?);
            hogged.merge(bench.client.stop_noise(hogging)?);
            let result = result?;
            ensure!(result.completed > 0, "hello completed no request");
            runs.push(result);
        }
    }
    islet.stop(&bench.server_runtime)?;
    ensure!(
        spun.answered() > 0 && hogged.answered() > 0,
        "the noisy plugins were never answered"
    );
    let p99 = |r: &LoadResult| micros(r.latency.p99);
    let medians = runs
        .into_iter()
        .map(|runs| median_run(runs, p99))
        .collect::<Option<Vec<_>>>()
        .context("a phase was never run")?;
    let (quiet, noisy) = (&medians[0], &medians[phases.len() - 1]);

    let mut table = Table::new(&[
        "phase",
        "hello req/s",
        "p50 µs",
        "p99 µs",
        "errors",
        "p99/quiet p99",
    ]);
    for ((name, _, _), r) in phases.iter().zip(&medians) {
        table.row(vec![
            name.to_string(),
            fixed(r.throughput(), 0),
            fixed(micros(r.latency.p50), 0),
            fixed(micros(r.latency.p99), 0),
            r.errors.to_string(),
            fixed(ratio(p99(r), p99(quiet)), 2),
        ]);
    }
    let mut noise = Table::new(&["noisy caller", "callers", "answers by status", "no answer"]);
    for (name, callers, stats) in [
        ("`/p/hostile/spin` (CPU limit)", p.spinners, &spun),
        ("`/p/hostile-hog/hog` (memory cap)", p.hoggers, &hogged),
    ] {
        noise.row(vec![
            name.to_string(),
            callers.to_string(),
            statuses(stats),
            stats.no_answer_summary(),
        ]);
    }

    let factor = ratio(micros(noisy.latency.p99), micros(quiet.latency.p99));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Section {
        number: 6,
        title: "noisy neighbour".into(),
        method: format!(
            "One Islet server with `hello`, `hostile` and `hostile` again as \
             `hostile-hog` (16 MiB memory cap). Quiet: `hello` alone at \
             concurrency {c}. Noisy: the same load while {} caller(s) loop on \
             `/p/hostile/spin` (each call burns its 100 ms CPU limit, then 504), \
             while {} caller(s) loop on `/p/hostile-hog/hog` (allocates until \
             the cap, then 500), and while both do; the target is checked on \
             both. Same client and durations as part 1; the phases alternate \
             {} time(s) and the run with the median p99 of each is shown. The circuit breaker is off on this server: it would \
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
                "hello p99 at concurrency {}, spin + hog/quiet",
                p.target_concurrency
            ),
            figure: format!("{} µs", fixed(micros(noisy.latency.p99), 0)),
            baseline: format!("{} µs quiet", fixed(micros(quiet.latency.p99), 0)),
            ratio: factor,
            target: format!("≤ {TARGET_FACTOR}× quiet p99"),
            met: factor <= TARGET_FACTOR,
        },
        note: format!(
            "Limits confine a bad guest's failures to its own requests, not the \
             machine time it uses while it runs, and the phases show which \
             kind hurts: spinners alone ×{} of the quiet p99, the memory hog \
             alone ×{}, both ×{}. A spinning call ({} spins ended in 504) \
             runs on the async worker that took it; past 4 ms of CPU it counts \
             as long and needs one of the long-call lane's turns (cores − 1, \
             so at most {} at once on these {} cores), giving it back at every \
             2 ms epoch tick; while short calls are in flight the lane is \
             paced to `long-call-share-percent` (25 %) of the workers' CPU. \
             Each hog call ({} ended in 500) faults in up to 16 MiB of fresh \
             pages, which the pool releases again at teardown: its calls are \
             long on average and all fault, so each starts on the lane and its \
             teardown is charged to the lane too. What is left is the tick a \
             long call holds a worker for (`hello`'s requests queued on that \
             worker wait for it) and the kernel's page work that IPIs reach \
             other cores with. In production the circuit breaker (off here) \
             also bounds both in time.",
            fixed(ratio(p99(&medians[1]), p99(quiet)), 2),
            fixed(ratio(p99(&medians[2]), p99(quiet)), 2),
            fixed(factor, 2),
            spun.by_status.get(&504).copied().unwrap_or(0),
            cores.saturating_sub(1).max(1),
            cores,
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
