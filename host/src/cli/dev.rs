//! `islet dev [DIR]`: the department developer's inner loop. Builds the
//! plugin in DIR, starts a development host with it installed and released
//! (capabilities granted, a merchant account opened for a paying service),
//! prints tokens and URLs, then watches the sources: on save it rebuilds and
//! swaps the new version in while the host keeps serving and keeps the
//! plugin's data; a build error is shown and the last good version keeps
//! serving. The plugin's log lines, faults and each request's status stream
//! into the terminal with request ids.

use super::build::build_plugin;
use super::token::dev_claims;
use crate::auth::{read_secret, sign_hs256};
use crate::config::{DEV_KEY_FILE, ServerConfig};
use crate::http::AppState;
use crate::manifest::Manifest;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Changes closer together than this are one save.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// The `log` filter `islet dev` uses unless `RUST_LOG` says otherwise: the
/// plugin's own lines, faults and access lines, the host's warnings.
pub const DEV_LOG_FILTER: &str = "warn,islet::guest=trace,islet::access=info,islet_host::cli=info";

/// The plugin folder's manifest.
pub(super) fn read_manifest(dir: &Path) -> anyhow::Result<(String, Manifest)> {
    let path = dir.join("islet.toml");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: is {} a plugin folder?",
            path.display(),
            dir.display()
        )
    })?;
    let manifest = text
        .parse::<Manifest>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((text, manifest))
}

/// `text` with its top-level `version` set to `version`.
fn with_version(text: &str, version: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut top_level = true;
    for line in text.lines() {
        top_level &= !line.trim_start().starts_with('[');
        if top_level
            && line
                .split('=')
                .next()
                .is_some_and(|k| k.trim() == "version")
        {
            out.push_str(&format!("version = \"{version}\"\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Build, then install as a new development version and release it.
/// Returns the version and how long the build and the swap took.
fn build_and_swap(
    dir: &Path,
    state: &AppState,
    reload: u64,
) -> anyhow::Result<(String, Duration, Duration)> {
    let (version, text, bytes, built) = build_dev_version(dir, reload)?;
    let swapped = Instant::now();
    crate::devhost::install(&state.registry, &state.payments, &text, &bytes, "islet-dev")
        .map_err(|e| anyhow::anyhow!("installing {version}: {e}"))?;
    Ok((version, built, swapped.elapsed()))
}

/// Build the plugin in `dir` as development version `reload`: the
/// version, its manifest text, the component and how long the build took.
pub(super) fn build_dev_version(
    dir: &Path,
    reload: u64,
) -> anyhow::Result<(String, String, Vec<u8>, Duration)> {
    let started = Instant::now();
    eprintln!("building {} ...", dir.display());
    let wasm = build_plugin(dir)?;
    let built = started.elapsed();
    let (text, manifest) = read_manifest(dir)?;
    let version = format!("{}-dev.{reload}", manifest.version);
    let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    Ok((version.clone(), with_version(&text, &version), bytes, built))
}

/// Run the loop until Ctrl-C.
pub fn run(mut config: ServerConfig, dir: &Path, watch: bool) -> anyhow::Result<()> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot find {}", dir.display()))?;
    let (_, manifest) = read_manifest(&dir)?;
    // A development host only: its own signing key, test options allowed.
    config.dev = true;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Watch before the first build: no save is missed.
    let watch = watch.then(|| Watch::start(&dir)).transpose()?;
    rt.block_on(async move {
        let build_config = config.clone();
        let state = tokio::task::spawn_blocking(move || crate::server::build_state(&build_config))
            .await??;
        let first = {
            let (state, dir) = (state.clone(), dir.clone());
            tokio::task::spawn_blocking(move || build_and_swap(&dir, &state, reload_number()))
                .await?
        };
        let (version, built, _) =
            first.context("the first build failed; fix it and run islet dev again")?;
        let merchant = crate::devhost::dev_merchant_id(&manifest);
        let server = crate::server::serve(config.listen, state.clone(), config.connections).await?;
        print_banner(&config, server.addr(), &manifest, merchant.as_deref())?;
        tracing::info!(plugin = %manifest.id, %version, build_s = built.as_secs_f64(), "serving");
        if let Some(watch) = watch {
            let watcher_state = state.clone();
            let watched = dir.clone();
            std::thread::Builder::new()
                .name("islet-dev-watch".into())
                .spawn(move || {
                    watch.reload_on_save(|| {
                        build_and_swap(&watched, &watcher_state, reload_number())
                    });
                })?;
        }
        server.run_until_signal(config.shutdown_grace).await
    })
}

/// A number for the next development version, increasing across runs.
pub(super) fn reload_number() -> u64 {
    crate::clock::now_ms()
}

/// A plugin's sources being watched. Saves made from [`Watch::start`] on
/// are kept, so a save during the first build, or right after the banner,
/// is never missed.
pub(super) struct Watch {
    _watcher: notify::RecommendedWatcher,
    saves: std::sync::mpsc::Receiver<notify::Result<notify::Event>>,
    dir: PathBuf,
}

impl Watch {
    /// Start watching the sources of the plugin in `dir`.
    pub(super) fn start(dir: &Path) -> anyhow::Result<Watch> {
        use notify::{RecursiveMode, Watcher as _};
        let (tx, saves) = std::sync::mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = tx.send(event);
        })
        .context("cannot watch the plugin's files")?;
        for path in watched_paths(dir) {
            watcher
                .watch(&path, RecursiveMode::Recursive)
                .with_context(|| format!("cannot watch {}", path.display()))?;
        }
        Ok(Watch {
            _watcher: watcher,
            saves,
            dir: dir.to_path_buf(),
        })
    }

    /// Block; on every save run `swap` (rebuild and install), which answers
    /// the new version and how long its build and install took.
    pub(super) fn reload_on_save(
        self,
        mut swap: impl FnMut() -> anyhow::Result<(String, Duration, Duration)>,
    ) {
        tracing::info!(folder = %self.dir.display(), "watching for changes");
        while let Ok(first) = self.saves.recv() {
            if !relevant(&first) {
                continue;
            }
            // One save writes several events: take them all.
            while self.saves.recv_timeout(DEBOUNCE).is_ok() {}
            let saved = Instant::now();
            match swap() {
                Ok((version, built, swapped)) => tracing::info!(
                    %version,
                    build_s = format!("{:.2}", built.as_secs_f64()),
                    swap_ms = format!("{:.1}", swapped.as_secs_f64() * 1e3),
                    save_to_served_s = format!("{:.2}", saved.elapsed().as_secs_f64()),
                    "reloaded"
                ),
                Err(e) => tracing::error!(
                    error = %format!("{e:#}"),
                    "build failed; the last good version keeps serving"
                ),
            }
        }
    }
}

/// What a plugin's sources are: its manifest, its code, its Cargo files.
fn watched_paths(dir: &Path) -> Vec<PathBuf> {
    [
        "src",
        "islet.toml",
        "Cargo.toml",
        "Cargo.lock",
        "package.json",
    ]
    .iter()
    .map(|p| dir.join(p))
    .filter(|p| p.exists())
    .collect()
}

fn relevant(event: &notify::Result<notify::Event>) -> bool {
    match event {
        Ok(event) => {
            use notify::EventKind;
            matches!(
                event.kind,
                EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
            ) && event.paths.iter().all(|p| {
                // Editors' swap and backup files.
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                !(name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp"))
            })
        }
        Err(_) => false,
    }
}

fn print_banner(
    config: &ServerConfig,
    addr: std::net::SocketAddr,
    manifest: &Manifest,
    merchant: Option<&str>,
) -> anyhow::Result<()> {
    let secret = read_secret(&config.secrets_dir.join(DEV_KEY_FILE))?;
    let token = |sub: &str, roles: &[String]| {
        let claims = dev_claims(sub, roles, 3, 24 * 3600, &config.issuer, &config.audience);
        sign_hs256(&claims, &secret)
    };
    let dept = &manifest.department;
    let id = &manifest.id;
    let base = format!("http://{addr}");
    let citizen = token("citizen-1", &[])?;
    let staff = token("staff-1", &[format!("staff:{dept}")])?;
    let developer = token("developer-1", &[format!("developer:{dept}")])?;
    let reviewer = token("reviewer-1", &["reviewer".into()])?;
    let admin = token("admin-1", &["admin".into()])?;
    let merchant = merchant
        .map(|m| format!("Merchant account {m} is open and granted to {id}.\n\n"))
        .unwrap_or_default();
    println!(
        "\nislet dev: {id} is serving on {base}  (data in {data})\n\n\
         Tokens (valid 24 h):\n\
         \x20 CITIZEN={citizen}\n\
         \x20 STAFF={staff}\n\
         \x20 DEVELOPER={developer}\n\
         \x20 REVIEWER={reviewer}\n\
         \x20 ADMIN={admin}\n\n\
         {merchant}\
         The app with {id} open: {base}/#open/{id}  (sign in with CITIZEN)\n\
         The console:            {base}/admin       (sign in with ADMIN)\n\
         The service directly:   curl -H \"Authorization: Bearer $CITIZEN\" {base}/p/{id}/\n\n\
         Saving src/, islet.toml or Cargo.toml rebuilds and swaps the service in; Ctrl-C stops.\n",
        data = config.data_dir.display(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_version_replaces_only_the_top_level_version() {
        let text = "id = \"x\"\nversion = \"0.1.0\"\n[limits]\nversion = 3\n";
        let out = with_version(text, "0.1.0-dev.7");
        assert_eq!(
            out,
            "id = \"x\"\nversion = \"0.1.0-dev.7\"\n[limits]\nversion = 3\n"
        );
    }
}
