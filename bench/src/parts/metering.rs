//! Part 3: a CPU-heavy guest with CPU metering by epoch, by fuel and off,
//! against the same computation done natively.

use super::{Bench, fixed};
use crate::host::{DirectRuntime, cache_dir, component, guest_request, manifest_as};
use crate::report::{Section, Table, Verdict};
use crate::stats::{median, millis, ratio};
use anyhow::{bail, ensure};
use islet_host::runtime::{Interruption, PreparedPlugin, thread_cpu_time};
use std::hint::black_box;
use std::time::Duration;

/// Overhead of the product's mode (epoch) over no metering, percent.
const TARGET_OVERHEAD_PCT: f64 = 15.0;

/// The modes compared; `Unbounded` is the "off" baseline.
const MODES: [(Interruption, &str); 3] = [
    (Interruption::Unbounded, "off"),
    (Interruption::Epoch, "epoch"),
    (Interruption::Fuel, "fuel"),
];

/// One workload: a route, its body, and the native function it runs.
struct Workload {
    name: &'static str,
    path: &'static str,
    rounds: u32,
    body: Vec<u8>,
    native: fn(&[u8], u32) -> String,
}

/// Median CPU time per call of each mode, and natively.
struct Figures {
    modes: [Duration; 3],
    native: Duration,
}

impl Figures {
    fn overhead_pct(&self, mode: usize) -> f64 {
        (ratio(millis(self.modes[mode]), millis(self.modes[0])) - 1.0) * 100.0
    }
}

fn workloads(bench: &Bench) -> anyhow::Result<Vec<Workload>> {
    let p = &bench.profile;
    let hash_body: Vec<u8> = (0..p.hash_bytes).map(|i| (i * 31 % 251) as u8).collect();
    let json_body = serde_json::to_vec(&cpu_heavy::sample_records(p.json_records))?;
    Ok(vec![
        Workload {
            name: "hash (FNV-1a loop)",
            path: "/hash",
            rounds: p.hash_rounds,
            body: hash_body,
            native: |body, rounds| format!("{:016x}", cpu_heavy::iterated_hash(body, rounds)),
        },
        Workload {
            name: "json (parse, transform, serialise)",
            path: "/json",
            rounds: p.json_rounds,
            body: json_body,
            native: |body, rounds| {
                cpu_heavy::transform_json(body, rounds)
                    .map(|s| s.digest)
                    .unwrap_or_default()
            },
        },
    ])
}

/// Run part 3.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let bytes = component("cpu-heavy")?;
    let manifest = manifest_as("cpu-heavy", "cpu-heavy")?;
    let mut runtimes = Vec::new();
    for (mode, _) in MODES {
        let rt = DirectRuntime::new(true, mode, &cache_dir())?;
        let plugin = rt.prepare(&manifest, &bytes)?;
        runtimes.push((rt, plugin));
    }

    let mut table = Table::new(&[
        "workload",
        "native ms",
        "off ms",
        "epoch ms",
        "fuel ms",
        "off/native",
        "epoch overhead %",
        "fuel overhead %",
    ]);
    let mut all = Vec::new();
    for workload in workloads(bench)? {
        let figures = measure(bench, &workload, &runtimes)?;
        let epoch = figures.overhead_pct(1);
        table.row(vec![
            workload.name.to_string(),
            fixed(millis(figures.native), 3),
            fixed(millis(figures.modes[0]), 3),
            fixed(millis(figures.modes[1]), 3),
            fixed(millis(figures.modes[2]), 3),
            fixed(ratio(millis(figures.modes[0]), millis(figures.native)), 2),
            fixed(epoch, 1),
            fixed(figures.overhead_pct(2), 1),
        ]);
        all.push(figures);
    }
    let [hash, json] = &all[..] else {
        bail!("expected two workloads, measured {}", all.len());
    };
    let figures = if json.overhead_pct(1) > hash.overhead_pct(1) {
        json
    } else {
        hash
    };
    let epoch_pct = figures.overhead_pct(1);
    let p = &bench.profile;
    Ok(Section {
        number: 3,
        title: "CPU metering: epoch vs fuel vs off".into(),
        method: format!(
            "The `cpu-heavy` guest (`tests/guests/cpu-heavy`, no host calls) on \
             three engines that differ only in interruption: `Unbounded` (off), \
             `Epoch` (the product's default: epoch deadlines every 2 ms plus a \
             thread-CPU check at each deadline) and `Fuel`; the guest built \
             with the workspace's `guest` profile (release, LTO, one codegen \
             unit; `ISLET_TEST_GUEST_PROFILE=release` measures the plain release \
             build). Workloads: `POST \
             /hash?rounds={}` over a {} KiB body, and `POST /json?rounds={}` over \
             {} records. Figures are the median thread CPU time per call \
             (instantiation included) over {} samples, the modes interleaved \
             call by call; native runs the crate's same functions.",
            p.hash_rounds,
            p.hash_bytes >> 10,
            p.json_rounds,
            p.json_records,
            p.cpu_samples
        ),
        tables: vec![table],
        verdict: Verdict {
            measure: "epoch overhead over metering off (worst workload)".into(),
            figure: format!(
                "{} ms ({}%)",
                fixed(millis(figures.modes[1]), 3),
                fixed(epoch_pct, 1)
            ),
            baseline: format!("{} ms off", fixed(millis(figures.modes[0]), 3)),
            ratio: ratio(millis(figures.modes[1]), millis(figures.modes[0])),
            target: format!("≤ {TARGET_OVERHEAD_PCT}% overhead"),
            met: epoch_pct <= TARGET_OVERHEAD_PCT,
        },
        note: format!(
            "Epoch interruption makes Cranelift load the engine's epoch counter \
             and compare it with the deadline at every function entry and loop \
             header; fuel updates a counter in every basic block and checks it. \
             What that costs depends on the loop body: the hash loop is a chain \
             of dependent multiplies whose latency hides the check (epoch {}%, \
             fuel {}%), while JSON work is made of byte-at-a-time loops (string \
             escaping, UTF-8 validation, case conversion, allocation) where a \
             check per iteration is a large share of a few-instruction body \
             (epoch {}%, fuel {}%). Epoch is the cheaper of the two in every \
             case measured, so it stays the default; the 2 ms tick itself never \
             interrupts these calls (the first deadline is at the CPU budget). \
             Whole-program optimisation (the `guest` profile: LTO, one codegen \
             unit) inlines the small functions of serde, alloc and core and \
             removed their entry checks: it made the JSON guest about 8% faster \
             with metering off (off/native 1.29 in the last full run with the \
             plain release build, 1.11 with LTO on the same machine) but left the \
             epoch share where it was, so the cost is the check at loop \
             headers, which inlining keeps (Cranelift neither hoists nor \
             unrolls it): the epoch counter is reloaded through a pointer and \
             compared with the cached deadline in every iteration. A `perf \
             record` of this part (2026-12-01; each engine's code is its own \
             mapped artifact, so the same guest function can be compared \
             across modes) puts epoch's extra time in loop-heavy functions: \
             serde_json's string serializer +54%, `from_utf8` +59%, sequence \
             access +58%, the transform +38%, `parse_str` +18%, and none in \
             `dlmalloc` and `dlfree` (calls with few loops). Letting LLVM \
             unroll the guest's loops (`-C llvm-args=-unroll-runtime -C \
             llvm-args=-unroll-threshold=400` for the wasm target) or \
             vectorise them (`-C target-feature=+simd128`), both fewer loop \
             headers per byte, left the share where it was (20-41% over \
             three runs each, 26-38% without: this machine's spread). \
             Wasmtime 48 has no cheaper check to offer (its open \
             MMU-based epoch interruption, bytecodealliance/wasmtime#12990, \
             would make it a dead load). Against native code the guest also \
             pays for bounds-checked linear memory and Cranelift's less \
             aggressive optimisation.",
            fixed(hash.overhead_pct(1), 1),
            fixed(hash.overhead_pct(2), 1),
            fixed(json.overhead_pct(1), 1),
            fixed(json.overhead_pct(2), 1),
        ),
    })
}

/// Median CPU time per call for each mode and natively, checking every
/// mode computes what the native code does.
fn measure(
    bench: &Bench,
    workload: &Workload,
    runtimes: &[(DirectRuntime, PreparedPlugin)],
) -> anyhow::Result<Figures> {
    let p = &bench.profile;
    let query = format!("rounds={}", workload.rounds);
    let expected = (workload.native)(&workload.body, workload.rounds);
    ensure!(!expected.is_empty(), "{} failed natively", workload.name);
    let mut samples: [Vec<Duration>; 3] = Default::default();
    let mut native = Vec::new();
    for round in 0..p.cpu_warmup + p.cpu_samples {
        let timed = round >= p.cpu_warmup;
        for (i, (rt, plugin)) in runtimes.iter().enumerate() {
            let request = guest_request("POST", workload.path, &query, workload.body.clone());
            let output = rt.call(plugin, request)?;
            let body = String::from_utf8_lossy(&output.response.body);
            ensure!(
                output.response.status == 200 && body.contains(&expected),
                "{} in mode {} answered {} {body}, expected {expected}",
                workload.name,
                MODES[i].1,
                output.response.status
            );
            if timed {
                samples[i].push(output.cpu);
            }
        }
        let started = thread_cpu_time();
        black_box((workload.native)(
            black_box(&workload.body),
            workload.rounds,
        ));
        if timed {
            native.push(thread_cpu_time().saturating_sub(started));
        }
    }
    let [off, epoch, fuel] = &mut samples;
    Ok(Figures {
        modes: [median(off), median(epoch), median(fuel)],
        native: median(&mut native),
    })
}
