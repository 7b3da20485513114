//! `islet demo`: build the sample mini-services and serve them with a
//! development key on an embedded store, ready to try.

use super::build::build_plugin;
use super::token::dev_claims;
use crate::auth::{read_secret, sign_hs256};
use crate::config::{DEV_KEY_FILE, ServerConfig};
use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};

/// Find the `plugins/` folder: from the current folder upwards, else the
/// source tree this binary was built from.
fn plugins_dir() -> anyhow::Result<PathBuf> {
    let mut dir = std::env::current_dir()?;
    loop {
        let candidate = dir.join("plugins");
        if candidate.join("hello").join("islet.toml").is_file() {
            return Ok(candidate);
        }
        if !dir.pop() {
            break;
        }
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    if built_from.is_dir() {
        return Ok(built_from);
    }
    bail!("cannot find the sample plugins; run `islet demo` from the Islet source folder")
}

/// A sample's language, from its build file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    /// `Cargo.toml`: built with cargo.
    Rust,
    /// `package.json`: built with the JS SDK (Node.js and npm).
    Js,
}

/// The sample plugin folders and their languages, sorted.
fn sample_plugins(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Lang)>> {
    let mut out: Vec<(PathBuf, Lang)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("islet.toml").is_file())
        .filter_map(|p| {
            if p.join("Cargo.toml").is_file() {
                Some((p, Lang::Rust))
            } else if p.join("package.json").is_file() {
                Some((p, Lang::Js))
            } else {
                None
            }
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// What is missing to build the JavaScript samples, if anything: Node.js
/// 18 or later with npm on the PATH.
fn js_toolchain_missing() -> Option<String> {
    let version = |tool: &str| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(node) = version("node") else {
        return Some("node is not on the PATH (or does not run)".into());
    };
    let major = node
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_some_and(|m| m < 18) {
        return Some(format!("node is {node}, older than 18"));
    }
    if version("npm").is_none() {
        return Some("npm is not on the PATH (or does not run)".into());
    }
    None
}

/// The JS SDK's own packages (componentize-js, the bundler), installed
/// once with `npm ci` in `sdk/js`: a sample links the SDK from the source
/// tree, whose packages its own `npm ci` does not install.
fn prepare_js_sdk(plugins: &Path) -> anyhow::Result<()> {
    let sdk = plugins.join("..").join("sdk").join("js");
    if !sdk.join("package.json").is_file()
        || sdk
            .join("node_modules")
            .join("@bytecodealliance")
            .join("componentize-js")
            .is_dir()
    {
        return Ok(());
    }
    eprintln!(
        "installing the JS SDK's packages (npm ci in {}) ...",
        sdk.display()
    );
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&sdk)
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .context("cannot run npm")?;
    if !status.success() {
        bail!("`npm ci` in {} failed", sdk.display());
    }
    Ok(())
}

/// Build the samples: the Rust ones always, the JavaScript ones when
/// Node.js and npm are there (otherwise one line says what to install and
/// the demo goes on without them). A JS sample that fails to build is
/// left out with its error; a Rust one stops the demo.
fn build_samples() -> anyhow::Result<Vec<(PathBuf, String)>> {
    let dir = plugins_dir()?;
    let plugins = sample_plugins(&dir)?;
    let js: Vec<String> = plugins
        .iter()
        .filter(|(_, lang)| *lang == Lang::Js)
        .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let js_ready = if js.is_empty() {
        false
    } else if let Some(missing) = js_toolchain_missing() {
        eprintln!(
            "skipping the JavaScript sample(s) {}: {missing}. Install Node.js 18 or later \
             with npm (https://nodejs.org, or your system's nodejs and npm packages) \
             and run islet demo again; the Rust samples start now.",
            js.join(", ")
        );
        false
    } else {
        match prepare_js_sdk(&dir) {
            Ok(()) => true,
            Err(e) => {
                eprintln!(
                    "skipping the JavaScript sample(s) {}: {e:#}; the Rust samples start now.",
                    js.join(", ")
                );
                false
            }
        }
    };
    let mut built = Vec::new();
    for (dir, lang) in &plugins {
        if *lang == Lang::Js && !js_ready {
            continue;
        }
        eprintln!("building {} ...", dir.display());
        let wasm = match (build_plugin(dir), lang) {
            (Ok(wasm), _) => wasm,
            (Err(e), Lang::Js) => {
                eprintln!("skipping {}: {e:#}", dir.display());
                continue;
            }
            (Err(e), Lang::Rust) => return Err(e),
        };
        let manifest = std::fs::read_to_string(dir.join("islet.toml"))?;
        built.push((wasm, manifest));
    }
    Ok(built)
}

/// The water company's merchant account, granted to the `water-bill`
/// sample (created once; an admin may later revoke it).
fn open_demo_merchant(payments: &crate::payment::Payments) -> anyhow::Result<()> {
    let ledger = payments.ledger();
    if ledger.merchant(DEMO_MERCHANT)?.is_some() {
        return Ok(());
    }
    let now = crate::clock::now_ms() / 1000;
    ledger.create_merchant(DEMO_MERCHANT, "water", "Islet City Water Supply Co.", now)?;
    ledger.grant_merchant(DEMO_MERCHANT, "water-bill", true)?;
    eprintln!("opened merchant account {DEMO_MERCHANT} for water-bill");
    Ok(())
}

/// The demo's merchant account.
const DEMO_MERCHANT: &str = "water-supply";

/// The water company's account, and the development account
/// (`<department>-fees`) of every other paying sample (the bus card's
/// `transport-fees`).
fn open_demo_merchants(
    payments: &crate::payment::Payments,
    manifests: &[String],
) -> anyhow::Result<()> {
    open_demo_merchant(payments)?;
    for text in manifests {
        let Ok(manifest) = text.parse::<crate::manifest::Manifest>() else {
            continue;
        };
        if manifest.id == "water-bill" {
            continue;
        }
        let opened = crate::devhost::open_dev_merchant(payments, &manifest)?;
        if let Some(merchant) = opened {
            eprintln!("merchant account {merchant} is open for {}", manifest.id);
        }
    }
    Ok(())
}

/// Build, install what changed, serve.
pub fn run(config: ServerConfig) -> anyhow::Result<()> {
    let built = build_samples()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let build_config = config.clone();
        let state = tokio::task::spawn_blocking(move || crate::server::build_state(&build_config))
            .await??;
        for (wasm, manifest) in &built {
            let bytes =
                std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            let id = manifest
                .parse::<crate::manifest::Manifest>()
                .map(|m| m.id)
                .unwrap_or_default();
            let registry = state.registry.clone();
            let manifest = manifest.clone();
            let installed = tokio::task::spawn_blocking(move || {
                registry.install(&manifest, &bytes, "islet-demo")
            })
            .await?;
            match installed {
                Ok(i) if i.unchanged => {}
                Ok(i) => eprintln!(
                    "installed {id} {}",
                    i.plugin
                        .record
                        .released
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
                // The data folder holds this version with other content
                // (sample code edited without a version bump): keep serving it.
                Err(crate::registry::RegistryError::Conflict(why)) => {
                    eprintln!("keeping the installed {id}: {why}")
                }
                Err(e) => return Err(e).with_context(|| format!("installing {}", wasm.display())),
            }
        }
        let payments = state.payments.clone();
        let manifests: Vec<String> = built.iter().map(|(_, m)| m.clone()).collect();
        tokio::task::spawn_blocking(move || open_demo_merchants(&payments, &manifests)).await??;
        let with_bus_card = built.iter().any(|(_, m)| {
            m.parse::<crate::manifest::Manifest>()
                .is_ok_and(|m| m.id == "bus-card")
        });
        let server = crate::server::serve(config.listen, state, config.connections).await?;
        print_banner(&config, server.addr(), with_bus_card)?;
        server.run_until_signal(config.shutdown_grace).await
    })
}

fn print_banner(
    config: &ServerConfig,
    addr: std::net::SocketAddr,
    with_bus_card: bool,
) -> anyhow::Result<()> {
    let secret = read_secret(&config.secrets_dir.join(DEV_KEY_FILE))?;
    let token = |sub: &str, roles: &[&str]| {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        let mut claims = dev_claims(sub, &roles, 3, 24 * 3600, &config.issuer, &config.audience);
        // A demo identity with the personal data a real-name check yields
        // (released to a service only with grant and consent).
        claims.name = Some(format!("Demo Citizen {sub}"));
        claims.phone_number = Some("13800000000".into());
        sign_hs256(&claims, &secret)
    };
    let citizen = token("citizen-1", &[])?;
    let staff = token("staff-1", &["staff:community"])?;
    let admin = token("admin-1", &["admin"])?;
    let base = format!("http://{addr}");
    let bus_card = if with_bus_card {
        format!(
            "\x20 open {base}/#open/bus-card (the JavaScript sample: a top-up paid in the cashier)\n"
        )
    } else {
        String::new()
    };
    println!(
        "\nIslet demo is serving on {base}  (data in {data})\n\n\
         Tokens (valid 24 h; more with `islet token --data-dir {data} --sub ID [--role ROLE]`):\n\
         \x20 CITIZEN={citizen}\n\
         \x20 STAFF={staff}\n\
         \x20 ADMIN={admin}\n\n\
         In a browser: {base}/ (the app; paste CITIZEN) and {base}/admin (the console; paste ADMIN)\n\n\
         Try:\n\
         \x20 curl {base}/api/v1/catalog\n\
         \x20 curl -H \"Authorization: Bearer $CITIZEN\" {base}/p/hello/\n\
         \x20 open {base}/#open/community-report in the app, signed in as CITIZEN\n\
         {bus_card}\
         \x20 curl -H \"Authorization: Bearer $ADMIN\" {base}/admin/v1/plugins\n\n\
         Stop with Ctrl-C; data is kept for the next run.\n",
        data = config.data_dir.display()
    );
    Ok(())
}
