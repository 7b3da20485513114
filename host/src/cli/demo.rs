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

fn sample_plugins() -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(plugins_dir()?)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("islet.toml").is_file() && p.join("Cargo.toml").is_file())
        .collect();
    out.sort();
    Ok(out)
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

/// Build, install what changed, serve.
pub fn run(config: ServerConfig) -> anyhow::Result<()> {
    let plugins = sample_plugins()?;
    let mut built = Vec::new();
    for dir in &plugins {
        eprintln!("building {} ...", dir.display());
        let wasm = build_plugin(dir)?;
        let manifest = std::fs::read_to_string(dir.join("islet.toml"))?;
        built.push((wasm, manifest));
    }
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
        tokio::task::spawn_blocking(move || open_demo_merchant(&payments)).await??;
        let server = crate::server::serve(config.listen, state, config.connections).await?;
        print_banner(&config, server.addr())?;
        server.run_until_signal(config.shutdown_grace).await
    })
}

fn print_banner(config: &ServerConfig, addr: std::net::SocketAddr) -> anyhow::Result<()> {
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
         \x20 curl -H \"Authorization: Bearer $ADMIN\" {base}/admin/v1/plugins\n\n\
         Stop with Ctrl-C; data is kept for the next run.\n",
        data = config.data_dir.display()
    );
    Ok(())
}
