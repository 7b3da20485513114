//! Part 5: resident memory of a host with many installed plugins. Each size
//! runs in a child process (the benchmark binary re-executed with a hidden
//! subcommand) so sizes do not inherit each other's allocations.

use super::{Bench, fixed};
use crate::host::{cache_dir, component, manifest_as};
use crate::report::{Section, Table, Verdict};
use crate::stats::ratio;
use anyhow::{Context as _, bail};
use islet_host::ServerConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Resident size allowed for the target number of plugins, MiB.
const TARGET_MIB: f64 = 1024.0;

/// The hidden subcommand that runs one size.
pub const CHILD_COMMAND: &str = "memory-child";

/// What one child measured (printed by the child as one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryFigures {
    /// Plugins installed.
    pub plugins: usize,
    /// VmRSS before the host was built, KiB.
    pub bare_kib: u64,
    /// VmRSS of the host with no plugin, KiB.
    pub empty_host_kib: u64,
    /// VmRSS with every plugin installed, KiB.
    pub loaded_kib: u64,
    /// Of `loaded_kib`, anonymous memory (heap), KiB.
    pub loaded_anon_kib: u64,
    /// Of `loaded_kib`, file-backed pages (binary, mapped artifacts), KiB.
    pub loaded_file_kib: u64,
    /// RssAnon of the host with no plugin, KiB.
    pub empty_anon_kib: u64,
    /// Time to install them all, ms.
    pub install_ms: f64,
    /// Whether the first install loaded the compiled artifact from the cache.
    pub first_from_cache: bool,
}

impl MemoryFigures {
    /// Anonymous (heap) memory added per plugin, KiB.
    pub fn per_plugin_anon_kib(&self) -> f64 {
        ratio(
            self.loaded_anon_kib.saturating_sub(self.empty_anon_kib) as f64,
            self.plugins as f64,
        )
    }

    /// Resident memory added per plugin, KiB.
    pub fn per_plugin_kib(&self) -> f64 {
        ratio(
            self.loaded_kib.saturating_sub(self.empty_host_kib) as f64,
            self.plugins as f64,
        )
    }
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `RssAnon`, `RssFile`).
pub fn status_kib(field: &str) -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}

/// `VmRSS` of this process, KiB.
pub fn rss_kib() -> anyhow::Result<u64> {
    status_kib("VmRSS")
}

/// The child: build a host, install `component` as `hello` under `plugins`
/// different ids, print a [`MemoryFigures`] JSON line.
pub fn child(plugins: usize, component: &Path, cache: &Path) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    let bare_kib = rss_kib()?;
    let data = tempfile::tempdir().context("cannot create a data folder")?;
    let mut config = ServerConfig::new(data.path().to_path_buf());
    config.dev = true;
    config.cache_dir = cache.to_path_buf();
    let state = islet_host::server::build_state(&config)?;
    let empty_host_kib = rss_kib()?;
    let empty_anon_kib = status_kib("RssAnon")?;
    let started = Instant::now();
    let mut first_from_cache = false;
    for i in 0..plugins {
        let manifest = manifest_as("hello", &format!("hello-{i:04}"))?;
        let installed = state
            .registry
            .install(&manifest, &bytes, "bench")
            .with_context(|| format!("installing plugin {i}"))?;
        if i == 0 {
            first_from_cache = installed
                .plugin
                .released()
                .is_some_and(|p| p.as_ref().is_ok_and(|p| p.from_cache));
        }
    }
    let figures = MemoryFigures {
        plugins,
        bare_kib,
        empty_host_kib,
        loaded_kib: rss_kib()?,
        loaded_anon_kib: status_kib("RssAnon")?,
        loaded_file_kib: status_kib("RssFile")?,
        empty_anon_kib,
        install_ms: started.elapsed().as_secs_f64() * 1e3,
        first_from_cache,
    };
    println!("{}", serde_json::to_string(&figures)?);
    drop(state);
    Ok(())
}

fn run_child(plugins: usize, component: &Path) -> anyhow::Result<MemoryFigures> {
    let exe = std::env::current_exe().context("cannot find the benchmark binary")?;
    let output = Command::new(exe)
        .arg(CHILD_COMMAND)
        .arg("--plugins")
        .arg(plugins.to_string())
        .arg("--component")
        .arg(component)
        .arg("--cache-dir")
        .arg(cache_dir())
        .output()
        .context("cannot run the memory child")?;
    if !output.status.success() {
        bail!(
            "the memory child for {plugins} plugins failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the memory child printed no figures")?;
    serde_json::from_str(line).context("cannot parse the memory child's figures")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Run part 5.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let p = &bench.profile;
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let path = dir.path().join("hello.wasm");
    std::fs::write(&path, component("hello")?).context("cannot write the component")?;

    let mut table = Table::new(&[
        "plugins",
        "RSS MiB",
        "empty host MiB",
        "bare process MiB",
        "per plugin KiB",
        "of which heap KiB",
        "file-backed MiB",
        "RSS/empty host",
        "install ms/plugin",
        "first from cache",
    ]);
    let mut all = Vec::new();
    for &plugins in &p.memory_sizes {
        let f = run_child(plugins, &path)?;
        table.row(vec![
            f.plugins.to_string(),
            fixed(mib(f.loaded_kib), 1),
            fixed(mib(f.empty_host_kib), 1),
            fixed(mib(f.bare_kib), 1),
            fixed(f.per_plugin_kib(), 1),
            fixed(f.per_plugin_anon_kib(), 1),
            fixed(mib(f.loaded_file_kib), 1),
            fixed(ratio(f.loaded_kib as f64, f.empty_host_kib as f64), 2),
            fixed(ratio(f.install_ms, f.plugins as f64), 2),
            if f.first_from_cache { "yes" } else { "no" }.to_string(),
        ]);
        all.push(f);
    }
    let largest = all
        .iter()
        .max_by_key(|f| f.plugins)
        .context("no size was measured")?;
    let n = p.memory_target_plugins;
    let (figure_mib, how) = if largest.plugins == n {
        (mib(largest.loaded_kib), "measured")
    } else {
        let projected = largest.empty_host_kib as f64 + largest.per_plugin_kib() * n as f64;
        (projected / 1024.0, "projected from the largest size")
    };
    Ok(Section {
        number: 5,
        title: "memory with many installed plugins".into(),
        method: format!(
            "For each size, a child process builds a host (`build_state`: sled \
             store, engine with a pooling allocator of 256 slots, registry) and \
             installs the `hello` component under that many ids through \
             `Registry::install`. VmRSS from `/proc/self/status` before the host \
             exists (bare), with the host and no plugin (the baseline), and with \
             every plugin installed. Sizes: {:?}.",
            p.memory_sizes
        ),
        tables: vec![table],
        verdict: Verdict {
            measure: format!("RSS with {n} plugins ({how})"),
            figure: format!("{} MiB", fixed(figure_mib, 1)),
            baseline: format!("{} MiB empty host", fixed(mib(largest.empty_host_kib), 1)),
            ratio: ratio(figure_mib, mib(largest.empty_host_kib)),
            target: format!("≤ {TARGET_MIB} MiB"),
            met: figure_mib <= TARGET_MIB,
        },
        note: format!(
            "Of the {} KiB each plugin adds at the largest size, {} KiB is heap: \
             the `Component`'s metadata and type information, a linker with the \
             plugin's capabilities, the `InstancePre` and the registry record. \
             The rest is file-backed: every \
             activation maps its compiled artifact file again, and the pages \
             read while loading count in RSS once per mapping even though the \
             page cache holds one copy (here all the ids share one artifact; \
             distinct plugins would each have their own). No instance memory is \
             resident until a request runs: the pool's slots are reserved \
             address space, not RSS. A small host's per-plugin figure also \
             carries one-off costs of the first install, so the largest size \
             gives the marginal cost.",
            fixed(largest.per_plugin_kib(), 0),
            fixed(largest.per_plugin_anon_kib(), 0),
        ),
    })
}
