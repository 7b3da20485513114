//! Part 4: activating a plugin version, compiling it against loading the
//! compiled artifact from the cache.

use super::{Bench, fixed};
use crate::host::{DirectRuntime, component, manifest_as};
use crate::report::{Section, Table, Verdict};
use crate::stats::{median, millis, ratio};
use anyhow::{Context as _, ensure};
use islet_host::runtime::Interruption;
use std::path::Path;
use std::time::{Duration, Instant};

/// Longest a cached activation may take, ms.
const TARGET_MILLIS: f64 = 10.0;

/// Run part 4.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let p = &bench.profile;
    let mut table = Table::new(&[
        "component",
        "size KiB",
        "compile ms (median)",
        "cached ms (median)",
        "cached/compile",
    ]);
    let mut worst: Option<(Duration, Duration)> = None;
    for name in &p.activation_components {
        let bytes = component(name)?;
        let manifest = manifest_as(name, name)?;
        let cache = tempfile::tempdir().context("cannot create a cache folder")?;
        let rt = DirectRuntime::new(true, Interruption::Epoch, cache.path())?;
        let mut compiled = Vec::new();
        for _ in 0..p.activation_compiles {
            empty(cache.path())?;
            let started = Instant::now();
            let plugin = rt.prepare(&manifest, &bytes)?;
            compiled.push(started.elapsed());
            ensure!(!plugin.from_cache, "{name} came from an empty cache");
        }
        let mut cached = Vec::new();
        for _ in 0..p.activation_cached {
            let started = Instant::now();
            let plugin = rt.prepare(&manifest, &bytes)?;
            cached.push(started.elapsed());
            ensure!(plugin.from_cache, "{name} was compiled again");
        }
        let (compile, cache_hit) = (median(&mut compiled), median(&mut cached));
        table.row(vec![
            name.to_string(),
            fixed(bytes.len() as f64 / 1024.0, 0),
            fixed(millis(compile), 1),
            fixed(millis(cache_hit), 2),
            fixed(ratio(millis(cache_hit), millis(compile)), 3),
        ]);
        if worst.is_none_or(|(_, c)| cache_hit > c) {
            worst = Some((compile, cache_hit));
        }
    }
    let (compile, cache_hit) = worst.context("no component was activated")?;
    Ok(Section {
        number: 4,
        title: "plugin activation: compile vs cached artifact".into(),
        method: format!(
            "`Runtime::prepare` (format checks, compile or cache load, import \
             checks against the manifest, linking exactly the declared \
             capabilities, `InstancePre`) timed from the outside. Compile: {} \
             activation(s) with the cache folder emptied before each (the \
             artifact is written back, fsync included). Cached: {} activations \
             from the warm folder. Medians.",
            p.activation_compiles, p.activation_cached
        ),
        tables: vec![table],
        verdict: Verdict {
            measure: "cached activation (slowest component)".into(),
            figure: format!("{} ms", fixed(millis(cache_hit), 2)),
            baseline: format!("{} ms compiling", fixed(millis(compile), 1)),
            ratio: ratio(millis(cache_hit), millis(compile)),
            target: format!("≤ {TARGET_MILLIS} ms"),
            met: millis(cache_hit) <= TARGET_MILLIS,
        },
        note: "Compiling is Cranelift code generation for every function of the \
               component (in parallel on the available cores) plus serialising \
               and fsyncing the artifact. A cached activation maps the artifact \
               file, checks the engine's compatibility, and then walks the \
               component's imports and builds the linker and `InstancePre`, \
               work proportional to the number of imports, not to code size."
            .into(),
    })
}

/// Remove every file in `dir`.
fn empty(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}
