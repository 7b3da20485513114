//! Part 10: isolation under every hostile kind at once. One host runs in a
//! process of its own with `hello` and the `hostile` guest installed under
//! one id per kind of misbehaviour; callers loop on each kind while `hello`
//! is measured, in noisy windows and in quiet windows between them (the
//! noise stopped). The host process's resident memory, its store on disk and
//! its log are sampled every second. `islet-bench soak --minutes 60` runs
//! the same part for an hour.

use super::{Bench, fixed};
use crate::host::{IsletServer, component, manifest_as};
use crate::load::{LoadResult, NoiseStats, Target};
use crate::native::HELLO_PATH;
use crate::report::{Section, Table, Verdict};
use crate::stats::{micros, ratio};
use anyhow::{Context as _, bail, ensure};
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The child process's subcommand.
pub const CHILD_COMMAND: &str = "isolation-child";

/// Noisy p99 may be at most this multiple of the quiet p99.
const TARGET_FACTOR: f64 = 2.0;
/// Noisy windows per quiet window.
const NOISY_PER_QUIET: usize = 4;

/// One kind of misbehaviour: `hostile` installed as `id` with `limits`,
/// called on `path`.
struct Kind {
    id: &'static str,
    path: &'static str,
    limits: &'static str,
    what: &'static str,
}

const KINDS: [Kind; 8] = [
    Kind {
        id: "spin",
        path: "/p/spin/spin",
        limits: "",
        what: "loops until its 100 ms CPU limit",
    },
    Kind {
        id: "hog",
        path: "/p/hog/hog",
        limits: "memory-mib = 16",
        what: "allocates until its 16 MiB memory limit",
    },
    Kind {
        id: "sleepy",
        path: "/p/sleepy/sleep?ms=10000",
        limits: "timeout-ms = 2000",
        what: "sleeps 10 s in a host call under a 2 s timeout",
    },
    Kind {
        id: "flood",
        path: "/p/flood/log-flood?lines=100000&bytes=4096",
        limits: "",
        what: "writes 100,000 log lines of 4 KiB",
    },
    Kind {
        id: "churn",
        path: "/p/churn/churn?keys=36&chunk=262144",
        limits: "storage-mib = 10",
        what: "deletes and rewrites 9 MiB under a 10 MiB quota",
    },
    Kind {
        id: "big",
        path: "/p/big/big?bytes=8388608",
        limits: "",
        what: "answers 8 MiB over its 1 MiB response limit",
    },
    Kind {
        id: "trap",
        path: "/p/trap/trap",
        limits: "",
        what: "traps",
    },
    Kind {
        id: "panicky",
        path: "/p/panicky/panic",
        limits: "",
        what: "panics",
    },
];

/// Size at which the host's log file is rotated in this part.
const LOG_FILE_BYTES: usize = 32 << 20;
/// Rotated log files kept.
const LOG_FILES_KEPT: usize = 3;

/// The child: a host on a random port with `hello` and every kind
/// installed, its log in `log` rotated by size as `islet --log-file` does.
/// Prints `{"addr", "data"}` on stdout and serves until stdin closes.
pub fn child(log: &std::path::Path) -> anyhow::Result<()> {
    let file = islet_host::logging::LogFile {
        path: log.to_path_buf(),
        max_bytes: LOG_FILE_BYTES,
        keep: LOG_FILES_KEPT,
    };
    islet_host::logging::init_with(false, "info", Some(&file));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the host's runtime")?;
    let islet = IsletServer::start(&runtime, false)?;
    islet.install(&manifest_as("hello", "hello")?, &component("hello")?)?;
    let hostile = component("hostile")?;
    for kind in &KINDS {
        let base = manifest_as("hostile", kind.id)?;
        let head = base.split("[limits]").next().unwrap_or_default();
        islet.install(&format!("{head}\n[limits]\n{}\n", kind.limits), &hostile)?;
    }
    let ready = serde_json::json!({
        "addr": islet.addr()?.to_string(),
        "data": islet.data_dir().display().to_string(),
    });
    println!("{ready}");
    // Serve until the parent closes our stdin (or dies).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    islet.stop(&runtime)
}

/// The host process of this part.
struct HostProcess {
    child: Child,
    addr: SocketAddr,
    data: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl HostProcess {
    fn start() -> anyhow::Result<HostProcess> {
        let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).context("cannot create the host's log folder")?;
        let log = logs.join("host.log");
        let stderr = std::fs::File::create(dir.path().join("stderr.log"))
            .context("cannot create the host's stderr file")?;
        let exe = std::env::current_exe().context("cannot find the benchmark binary")?;
        let mut child = Command::new(exe)
            .arg(CHILD_COMMAND)
            .arg("--log")
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("cannot start the host process")?;
        let stdout = child.stdout.take().context("no stdout of the host")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("cannot read the host's address")?;
        let ready: serde_json::Value = match serde_json::from_str(&line) {
            Ok(ready) => ready,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                bail!("the host process did not start: {line}{log}");
            }
        };
        Ok(HostProcess {
            addr: ready["addr"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .context("the host printed no address")?,
            data: PathBuf::from(ready["data"].as_str().unwrap_or_default()),
            child,
            log: logs,
            _dir: dir,
        })
    }

    fn probe(&self) -> Probe {
        Probe {
            pid: self.child.id(),
            data: self.data.clone(),
            log: self.log.clone(),
        }
    }

    fn stop(mut self) -> anyhow::Result<()> {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill().context("cannot stop the host process")
    }
}

/// Where the host process's figures are read.
#[derive(Clone)]
struct Probe {
    pid: u32,
    data: PathBuf,
    log: PathBuf,
}

impl Probe {
    fn sample(&self) -> Sample {
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        Sample {
            rss_mib: rss_mib(self.pid),
            pool_mib: pool_rss_mib(self.pid),
            store_mib: mib(dir_bytes(&self.data)),
            log_mib: mib(dir_bytes(&self.log)),
        }
    }
}

/// The host process's figures at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    rss_mib: f64,
    /// The part of `rss_mib` in the instance pool's reservation of guest
    /// memories (kept resident in their slots between calls).
    pool_mib: f64,
    store_mib: f64,
    log_mib: f64,
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Address ranges at least this large are the instance pool's reservation
/// of guest memories (the host reserves nothing else of that size).
const POOL_RESERVATION_BYTES: u64 = 64 << 30;

/// Resident MiB of the instance pool's guest memories: the mappings of the
/// process are merged where they touch (a slot's accessible pages, its
/// guard pages and the next slot are separate mappings of one
/// reservation), and the resident pages of ranges of at least
/// `POOL_RESERVATION_BYTES` are counted.
fn pool_rss_mib(pid: u32) -> f64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    // (start, end, resident KiB) of each run of touching mappings.
    let mut runs: Vec<(u64, u64, u64)> = Vec::new();
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        {
            match runs.last_mut() {
                Some(run) if run.1 == start => run.1 = end,
                _ => runs.push((start, end, 0)),
            }
        } else if first == "Rss:"
            && let Some(run) = runs.last_mut()
        {
            run.2 += words.next().and_then(|k| k.parse().ok()).unwrap_or(0);
        }
    }
    let kib: u64 = runs
        .iter()
        .filter(|(start, end, _)| end - start >= POOL_RESERVATION_BYTES)
        .map(|run| run.2)
        .sum();
    kib as f64 / 1024.0
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Samples every second from a thread of its own until dropped.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<(Duration, Sample)>>>,
}

impl Sampler {
    fn start(probe: Probe) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.push((started.elapsed(), probe.sample()));
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        });
        Sampler {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<(Duration, Sample)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

/// One period of the run: a quiet window, then noisy ones.
struct Period {
    ended: Duration,
    /// The host's figures at the end of the quiet window, the noise stopped
    /// since the previous period (a whole window): what the host keeps.
    settled: Sample,
    quiet: LoadResult,
    noisy: Vec<LoadResult>,
}

/// Run part 10 for the profile's duration.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    soak(bench, bench.profile.isolation, &[])
}

/// The kinds named in `only` (every kind when empty), or which name is
/// unknown.
fn chosen(only: &[String]) -> anyhow::Result<Vec<&'static Kind>> {
    if let Some(unknown) = only.iter().find(|n| !KINDS.iter().any(|k| k.id == *n)) {
        let known: Vec<_> = KINDS.iter().map(|k| k.id).collect();
        bail!(
            "no hostile kind `{unknown}`; the kinds are {}",
            known.join(", ")
        );
    }
    Ok(KINDS
        .iter()
        .filter(|k| only.is_empty() || only.iter().any(|n| n == k.id))
        .collect())
}

/// Run part 10 for `length` with the kinds named in `only` (all when empty).
pub fn soak(bench: &Bench, length: Duration, only: &[String]) -> anyhow::Result<Section> {
    let p = &bench.profile;
    let kinds = chosen(only)?;
    let host = HostProcess::start()?;
    let before = host.probe().sample();
    let hello = Target::new(host.addr, HELLO_PATH);
    let targets: Vec<Target> = kinds
        .iter()
        .map(|k| Target::new(host.addr, k.path))
        .collect();
    let spec = bench.load_spec(p.target_concurrency);
    let sampler = Sampler::start(host.probe());
    let started = Instant::now();
    let mut periods = Vec::new();
    let mut noise_seen: Vec<NoiseStats> = kinds.iter().map(|_| NoiseStats::default()).collect();
    while periods.is_empty() || started.elapsed() < length {
        let quiet = bench.client.run(&hello, spec)?;
        let settled = host.probe().sample();
        let noise: Vec<_> = targets
            .iter()
            .map(|t| bench.client.start_noise(t, p.isolation_callers))
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let mut noisy = Vec::new();
        for _ in 0..NOISY_PER_QUIET {
            noisy.push(bench.client.run(&hello, spec)?);
        }
        for (noise, seen) in noise.into_iter().zip(&mut noise_seen) {
            seen.merge(bench.client.stop_noise(noise)?);
        }
        periods.push(Period {
            ended: started.elapsed(),
            settled,
            quiet,
            noisy,
        });
        eprintln!(
            "  isolation: {:.0} s of {:.0} s (settled RSS {:.1} MiB, {:.1} in the instance pool)",
            started.elapsed().as_secs_f64(),
            length.as_secs_f64(),
            settled.rss_mib,
            settled.pool_mib
        );
    }
    let samples = sampler.finish();
    // Let the host settle, then one last look.
    std::thread::sleep(Duration::from_secs(3));
    let after = host.probe().sample();
    host.stop()?;
    for (kind, seen) in kinds.iter().zip(&noise_seen) {
        ensure!(seen.answered() > 0, "{} was never answered", kind.id);
    }
    report(
        bench,
        &kinds,
        length,
        &periods,
        &samples,
        (before, after),
        &noise_seen,
    )
}

/// The median of the last tenth of `values` minus that of the second tenth
/// (zero with fewer than ten values).
fn tenths(values: Vec<f64>) -> f64 {
    let n = values.len();
    if n < 10 {
        return 0.0;
    }
    let tenth = |i: usize| median(values[n * i / 10..n * (i + 1) / 10].to_vec());
    tenth(9) - tenth(1)
}

/// Least-squares slope of `(seconds, MiB)` points, in MiB per hour (zero
/// with fewer than two points or no spread in time).
fn slope_per_hour(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let spread: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    if spread == 0.0 {
        return 0.0;
    }
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_t) * (p.1 - mean_y)).sum();
    covariance / spread * 3600.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn report(
    bench: &Bench,
    kinds: &[&Kind],
    length: Duration,
    periods: &[Period],
    samples: &[(Duration, Sample)],
    (before, after): (Sample, Sample),
    noise: &[NoiseStats],
) -> anyhow::Result<Section> {
    let p = &bench.profile;
    let p99 = |r: &LoadResult| micros(r.latency.p99);
    let quiet = median(periods.iter().map(|x| p99(&x.quiet)).collect());
    let noisy = median(
        periods
            .iter()
            .flat_map(|x| x.noisy.iter().map(p99))
            .collect(),
    );
    let errors: u64 = periods
        .iter()
        .flat_map(|x| std::iter::once(&x.quiet).chain(&x.noisy))
        .map(|r| r.errors)
        .sum();
    let mut error_kinds = std::collections::BTreeMap::new();
    for r in periods
        .iter()
        .flat_map(|x| std::iter::once(&x.quiet).chain(&x.noisy))
    {
        crate::load::add_error_kinds(&mut error_kinds, &r.error_kinds);
    }
    let error_kinds = if error_kinds.is_empty() {
        String::new()
    } else {
        let kinds: Vec<_> = error_kinds
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        format!(" ({})", kinds.join(", "))
    };
    let factor = ratio(noisy, quiet);

    // Up to ten rows over the run.
    let mut over_time = Table::new(&[
        "at",
        "host RSS MiB",
        "settled RSS MiB",
        "of which instance pool",
        "store on disk MiB",
        "log MiB",
        "hello p99 quiet µs",
        "hello p99 noisy µs (median)",
        "hello errors",
    ]);
    let step = periods.len().div_ceil(10).max(1);
    for chunk in periods.chunks(step) {
        let Some(last) = chunk.last() else { continue };
        let at = samples
            .iter()
            .rev()
            .find(|(t, _)| *t <= last.ended)
            .map(|(_, s)| *s)
            .unwrap_or_default();
        let chunk_errors: u64 = chunk
            .iter()
            .flat_map(|x| std::iter::once(&x.quiet).chain(&x.noisy))
            .map(|r| r.errors)
            .sum();
        over_time.row(vec![
            format!("{:.0} s", last.ended.as_secs_f64()),
            fixed(at.rss_mib, 0),
            fixed(median(chunk.iter().map(|x| x.settled.rss_mib).collect()), 0),
            fixed(
                median(chunk.iter().map(|x| x.settled.pool_mib).collect()),
                0,
            ),
            fixed(at.store_mib, 1),
            fixed(at.log_mib, 1),
            fixed(median(chunk.iter().map(|x| p99(&x.quiet)).collect()), 0),
            fixed(
                median(chunk.iter().flat_map(|x| x.noisy.iter().map(p99)).collect()),
                0,
            ),
            chunk_errors.to_string(),
        ]);
    }
    let peak = |f: fn(&Sample) -> f64| samples.iter().map(|(_, s)| f(s)).fold(0.0, f64::max);
    let mut resources = Table::new(&["", "before", "peak", "after (3 s idle)"]);
    for (name, f) in [
        (
            "host RSS MiB",
            (|s: &Sample| s.rss_mib) as fn(&Sample) -> f64,
        ),
        ("of which instance pool MiB", |s: &Sample| s.pool_mib),
        ("store on disk MiB", |s: &Sample| s.store_mib),
        ("log MiB", |s: &Sample| s.log_mib),
    ] {
        resources.row(vec![
            name.to_string(),
            fixed(f(&before), 1),
            fixed(peak(f), 1),
            fixed(f(&after), 1),
        ]);
    }
    let mut by_kind = Table::new(&[
        "plugin",
        "misbehaviour",
        "answers by status and code",
        "no answer",
    ]);
    for (kind, seen) in kinds.iter().zip(noise) {
        by_kind.row(vec![
            format!("`{}` (`{}`)", kind.id, kind.path),
            kind.what.to_string(),
            seen.by_answer
                .iter()
                .map(|(s, n)| format!("{s}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            seen.no_answer_summary(),
        ]);
    }
    // Resident memory under load, last tenth of the run against the second
    // (after warm-up), and what the host keeps once the noise has stopped:
    // growth of the second, and its slope over the run, is a leak; the
    // first moves with what happens to be in flight.
    let working = tenths(samples.iter().map(|(_, s)| s.rss_mib).collect());
    let settled: Vec<(f64, f64)> = periods
        .iter()
        .map(|x| (x.ended.as_secs_f64(), x.settled.rss_mib))
        .collect();
    let kept = tenths(settled.iter().map(|(_, rss)| *rss).collect());
    let slope = slope_per_hour(&settled[settled.len() / 10..]);
    let log_cap = ((LOG_FILES_KEPT + 1) * LOG_FILE_BYTES) as f64 / (1 << 20) as f64;
    Ok(Section {
        number: 10,
        title: "isolation under every hostile kind".into(),
        method: format!(
            "One host in a process of its own (release build, production defaults except \
             the per-caller rate, daily quota and breaker, as in part 6) with `hello` and the \
             `hostile` guest installed as {} plugins, one per kind of misbehaviour. For {:.0} s, \
             in periods of one quiet window (`hello` alone at concurrency {c}) and {NOISY_PER_QUIET} \
             noisy windows ({} caller(s) looping on each of {} at once, next to `hello` \
             at concurrency {c}), each window {:.1} s after {:.1} s of warm-up. The host \
             process's resident memory, its data folder on disk and its log files (written as \
             `islet --log-file` writes them: rotated at {log_mib} MiB, {LOG_FILES_KEPT} kept) are \
             sampled every second. `cargo run --release -p islet-bench -- soak --minutes 60` runs the \
             same for an hour.",
            KINDS.len(),
            length.as_secs_f64(),
            p.isolation_callers,
            kinds
                .iter()
                .map(|k| format!("`{}`", k.id))
                .collect::<Vec<_>>()
                .join(", "),
            p.duration.as_secs_f64(),
            p.warmup.as_secs_f64(),
            c = p.target_concurrency,
            log_mib = LOG_FILE_BYTES >> 20,
        ),
        tables: vec![over_time, resources, by_kind],
        verdict: Verdict {
            measure: format!(
                "hello p99 at concurrency {} next to {} hostile kinds/quiet",
                p.target_concurrency,
                kinds.len()
            ),
            figure: format!("{} µs", fixed(noisy, 0)),
            baseline: format!("{} µs quiet", fixed(quiet, 0)),
            ratio: factor,
            target: format!("≤ {TARGET_FACTOR}× quiet p99, no hello error"),
            met: factor <= TARGET_FACTOR && errors == 0,
        },
        note: format!(
            "`hello` errors: {errors}{error_kinds}. Resident memory once the noise had stopped for a \
             window (settled) moved {kept:+.1} MiB from the second to the last tenth of the run \
             (least-squares slope after the first tenth: {slope:+.1} MiB per hour); under load \
             it moved {working:+.1} MiB (median of the samples of each tenth; it follows what \
             is in flight). Peak {:.0} MiB, {:.0} MiB 3 s after the noise stopped, {:.0} MiB \
             before. The store on disk peaked at {:.1} MiB with a 10 MiB \
             quota being deleted and rewritten. The log files peaked at {:.1} MiB (their cap: \
             {log_cap:.0} MiB; every request's access line, every fault line the fault log lets \
             through and the guest lines the log caps let through, rotated by size).",
            peak(|s| s.rss_mib),
            after.rss_mib,
            before.rss_mib,
            peak(|s| s.store_mib),
            peak(|s| s.log_mib),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::{slope_per_hour, tenths};

    #[test]
    fn a_steady_climb_has_its_slope_and_a_flat_line_none() {
        let climbing: Vec<(f64, f64)> = (0..60)
            .map(|i| (i as f64 * 60.0, 100.0 + i as f64))
            .collect();
        assert!((slope_per_hour(&climbing) - 60.0).abs() < 1e-9);
        let flat: Vec<(f64, f64)> = (0..60).map(|i| (i as f64, 42.0)).collect();
        assert_eq!(slope_per_hour(&flat), 0.0);
        assert_eq!(slope_per_hour(&[(1.0, 5.0)]), 0.0);
    }

    #[test]
    fn tenths_compare_the_last_tenth_with_the_second() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(tenths(values), 80.0);
        assert_eq!(tenths(vec![1.0; 9]), 0.0);
    }
}
