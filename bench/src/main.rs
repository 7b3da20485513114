//! `islet-bench`: Islet's performance benchmark. Eleven parts, each measured
//! next to a baseline in the same run on the same machine, printed as a
//! table and written as a markdown report:
//!
//! 1. `hello` through Islet against a native axum handler (throughput, p50, p99);
//! 2. instantiate + call + teardown, pooling on and off, against native;
//! 3. a CPU-heavy guest with epoch, fuel and no metering, against native;
//! 4. plugin activation, compiling against a cached artifact;
//! 5. resident memory with 1, 100 and 1,000 installed plugins;
//! 6. `hello`'s p99 while neighbours burn their CPU and memory limits;
//! 7. the payment path; 8. notification send and personal-data claim;
//! 9. the shared store: PostgreSQL next to sled and a native floor, changes
//!    propagating between hosts, `hello` through nginx with 1-3 hosts
//!    (needs `ISLET_TEST_PG_URL`, as `scripts/test` sets, and nginx);
//! 10. isolation: every hostile kind looping next to `hello` in a host
//!     process of its own, with its memory, disk and log over time;
//! 11. JavaScript mini-services (per request next to Rust and native,
//!     compile and cached activation, memory per plugin) and save → served
//!     through `islet dev` for the Rust and the JS sample.
//!
//! ```sh
//! cargo run --release -p islet-bench                          # writes BENCHMARKS.md
//! cargo run --release -p islet-bench -- --quick --output b.md # seconds
//! cargo run --release -p islet-bench -- --part 1 --part 6     # some parts only
//! cargo run --release -p islet-bench -- soak --minutes 60     # part 10 for an hour
//! ```
//!
//! Targets are reported as met or missed, never asserted.

mod alloc;
mod host;
mod load;
mod machine;
mod native;
mod parts;
mod peer;
mod profile;
mod report;
mod stats;
mod wrk;

/// Counts the servers' allocations (part 1) around the allocator in use.
#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use parts::Bench;
use profile::Profile;
use report::Report;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "islet-bench",
    about = "Islet's benchmark, side by side with native baselines"
)]
struct Cli {
    /// A tiny configuration (seconds) that still runs every part.
    #[arg(long)]
    quick: bool,
    /// Where to write the markdown report [default: BENCHMARKS.md at the
    /// workspace root; target/BENCHMARKS-quick.md with --quick,
    /// target/BENCHMARKS-partial.md with --part].
    #[arg(long)]
    output: Option<PathBuf>,
    /// Run only this part (1-11); repeat for several. The report then holds
    /// only those sections.
    #[arg(long = "part", value_name = "N", value_parser = clap::value_parser!(u8).range(1..=11))]
    parts: Vec<u8>,
    #[command(subcommand)]
    child: Option<Child>,
}

#[derive(Subcommand)]
enum Child {
    /// Part 10 for a long time: every hostile kind next to `hello`, the
    /// host's memory, disk and log sampled (report: target/SOAK.md unless
    /// --output says otherwise).
    Soak {
        /// How long to run.
        #[arg(long, default_value_t = 60)]
        minutes: u64,
        /// Only these hostile kinds (comma-separated: spin, hog, sleepy,
        /// flood, churn, big, trap, panicky) [default: all of them].
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<String>,
    },
    /// Part 10's host process.
    #[command(name = "isolation-child", hide = true)]
    Isolation {
        /// The host's log file (rotated by size).
        #[arg(long)]
        log: PathBuf,
    },
    /// Part 5's child process: one host with N plugins, figures on stdout.
    #[command(name = "memory-child", hide = true)]
    Memory {
        #[arg(long)]
        plugins: usize,
        #[arg(long)]
        component: PathBuf,
        #[arg(long)]
        cache_dir: PathBuf,
    },
}

type Part = fn(&Bench) -> anyhow::Result<report::Section>;

const PARTS: [(&str, Part); 11] = [
    ("hello through Islet vs native", parts::hello::run),
    ("instantiate + call + teardown", parts::instantiate::run),
    ("CPU metering", parts::metering::run),
    ("activation", parts::activation::run),
    ("memory", parts::memory::run),
    ("noisy neighbour", parts::noisy::run),
    ("payment", parts::payment::run),
    ("notification and claim", parts::notification::run),
    ("shared store (PostgreSQL)", parts::shared_store::run),
    ("isolation", parts::isolation::run),
    ("JavaScript and the dev loop", parts::js::run),
];

fn main() -> anyhow::Result<()> {
    // The main thread drives the load generator.
    alloc::not_counted();
    let cli = Cli::parse();
    if let Some(Child::Memory {
        plugins,
        component,
        cache_dir,
    }) = &cli.child
    {
        return parts::memory::child(*plugins, component, cache_dir);
    }
    if let Some(Child::Isolation { log }) = &cli.child {
        return parts::isolation::child(log);
    }
    let soak = match &cli.child {
        Some(Child::Soak { minutes, kinds }) => {
            Some((std::time::Duration::from_secs(minutes * 60), kinds.clone()))
        }
        _ => None,
    };

    let started = Instant::now();
    let date = machine::utc_now();
    let machine = machine::Machine::describe();
    let profile = if cli.quick {
        Profile::quick()
    } else {
        Profile::full()
    };
    let output = cli.output.clone().unwrap_or_else(|| {
        let root = islet_tests::workspace();
        if soak.is_some() {
            root.join("target").join("SOAK.md")
        } else if cli.quick {
            root.join("target").join("BENCHMARKS-quick.md")
        } else if !cli.parts.is_empty() {
            // A partial run never replaces the complete report.
            root.join("target").join("BENCHMARKS-partial.md")
        } else {
            root.join("BENCHMARKS.md")
        }
    });
    let profile_name = profile.name;
    let bench = Bench::new(profile)?;
    let mut sections = Vec::new();
    if let Some((length, kinds)) = &soak {
        eprintln!(
            "soak: hostile kinds next to hello for {} s ...",
            length.as_secs()
        );
        sections.push(parts::isolation::soak(&bench, *length, kinds).context("soak")?);
    }
    for (i, (name, part)) in PARTS.iter().enumerate() {
        if soak.is_some() {
            break;
        }
        if !cli.parts.is_empty() && !cli.parts.iter().any(|&n| usize::from(n) == i + 1) {
            continue;
        }
        eprintln!("[{}/{}] {name} ...", i + 1, PARTS.len());
        let part_started = Instant::now();
        let section = part(&bench).with_context(|| format!("part {}: {name}", i + 1))?;
        eprintln!(
            "[{}/{}] {name}: {} ({:.1} s)",
            i + 1,
            PARTS.len(),
            section.verdict.figure,
            part_started.elapsed().as_secs_f64()
        );
        sections.push(section);
    }
    let report = Report {
        date,
        machine,
        command: command_line(),
        profile: profile_name.to_string(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_string(),
        sections,
        elapsed_secs: started.elapsed().as_secs_f64(),
    };
    print!("{}", report.text());
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&output, report.markdown())
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!("\nReport written to {}", output.display());
    Ok(())
}

/// The `cargo run` line that reproduces this run.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = if cfg!(debug_assertions) {
        ""
    } else {
        " --release"
    };
    if args.is_empty() {
        format!("cargo run{release} -p islet-bench")
    } else {
        format!("cargo run{release} -p islet-bench -- {}", args.join(" "))
    }
}
