//! Part 2: the raw per-request cost of instantiate + call + teardown, with
//! the pooling allocator on and off, against the same work done natively.

use super::{Bench, fixed};
use crate::host::{DirectRuntime, cache_dir, component, guest_request, manifest_as};
use crate::native::{GREETING, hello_call};
use crate::report::{Section, Table, Verdict};
use crate::stats::{Percentiles, micros, ratio};
use anyhow::ensure;
use islet_host::runtime::Interruption;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Per-request cost the pooled runtime must stay under, µs.
const TARGET_MICROS: f64 = 15.0;

/// Run part 2.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let hello = component("hello")?;
    let manifest = manifest_as("hello", "hello")?;
    let profile = &bench.profile;

    let mut figures = Vec::new();
    for pooling in [true, false] {
        let rt = DirectRuntime::new(pooling, Interruption::Epoch, &cache_dir())?;
        let plugin = rt.prepare(&manifest, &hello)?;
        let mut samples = Vec::with_capacity(profile.instantiate_calls);
        for i in 0..profile.instantiate_warmup + profile.instantiate_calls {
            let request = guest_request("GET", "/", "", Vec::new());
            let started = Instant::now();
            let output = rt.call(&plugin, request)?;
            let elapsed = started.elapsed();
            if i == 0 {
                ensure!(
                    output.response.status == 200 && output.response.body == GREETING.as_bytes(),
                    "hello answered {} {:?}",
                    output.response.status,
                    String::from_utf8_lossy(&output.response.body)
                );
            }
            if i >= profile.instantiate_warmup {
                samples.push(elapsed);
            }
            black_box(output);
        }
        figures.push((pooling, Percentiles::of(&mut samples)));
    }

    let env = islet_sdk::testing::TestEnv::new();
    let mut samples = Vec::with_capacity(profile.instantiate_calls);
    for i in 0..profile.instantiate_warmup + profile.instantiate_calls {
        let started = Instant::now();
        let len = black_box(hello_call(&env));
        let elapsed = started.elapsed();
        if i == 0 {
            ensure!(len == GREETING.len(), "native hello answered {len} bytes");
        }
        if i >= profile.instantiate_warmup {
            samples.push(elapsed);
        }
    }
    let native = Percentiles::of(&mut samples);

    let mut table = Table::new(&[
        "configuration",
        "median µs",
        "p99 µs",
        "mean µs",
        "calls",
        "ratio to native",
    ]);
    let row = |name: &str, p: &Percentiles| {
        vec![
            name.to_string(),
            fixed(micros(p.p50), 2),
            fixed(micros(p.p99), 2),
            fixed(micros(p.mean), 2),
            p.count.to_string(),
            fixed(ratio(micros(p.p50), micros(native.p50)), 1),
        ]
    };
    for (pooling, p) in &figures {
        let name = if *pooling {
            "Islet, pooling allocator"
        } else {
            "Islet, on-demand allocator"
        };
        table.row(row(name, p));
    }
    table.row(row("native hello router (SDK TestEnv)", &native));

    let pooled = figures
        .iter()
        .find(|(pooling, _)| *pooling)
        .map(|(_, p)| p.p50)
        .unwrap_or(Duration::ZERO);
    ensure!(pooled > Duration::ZERO, "no pooled call was timed");
    Ok(Section {
        number: 2,
        title: "instantiate + call + teardown".into(),
        method: format!(
            "`Runtime::call` on the prepared `hello` plugin, timed per call on one \
             thread: a fresh `Store` (empty WASI context, capability state, memory \
             limiter, CPU meter, epoch deadline), instantiation from the \
             `InstancePre`, the handler call (`GET /`, anonymous, one identity \
             lookup) and teardown. {} warm-up calls, then {} timed calls per \
             configuration. Native: the plugin's own `hello::router()` built and \
             called per request through `islet_sdk::testing::TestEnv`.",
            profile.instantiate_warmup, profile.instantiate_calls
        ),
        tables: vec![table],
        verdict: Verdict {
            measure: "median per-request cost, pooling on".into(),
            figure: format!("{} µs", fixed(micros(pooled), 2)),
            baseline: format!("{} µs native", fixed(micros(native.p50), 2)),
            ratio: ratio(micros(pooled), micros(native.p50)),
            target: format!("≤ {TARGET_MICROS} µs"),
            met: micros(pooled) <= TARGET_MICROS,
        },
        note: "Instantiation dominates: a Rust wasm32-wasip2 component is several \
               core instances (the module plus the WASI adapter shims), each with \
               tables and a linear memory to set up from the pool and to reset on \
               teardown (copy-on-write memory image, `keep_resident` limits the \
               page faults). Without pooling every instance maps and unmaps its \
               memory, which costs system calls and page faults per request. The \
               native call only builds a router and formats JSON."
            .into(),
    })
}
