//! `islet dev [DIR] --server URL --token T`: the inner loop against a
//! development host that already runs (a team's shared one, a colleague's
//! `islet dev`, `islet serve --dev`). The host is asked first whether it is
//! a development host; then each build is uploaded to its development
//! route, which installs it with the manifest's capabilities granted and
//! releases it. A production host says it is not one, and its route
//! refuses the upload whoever asks, so nothing is released unreviewed.
//! What streams into the terminal is this command's own calls: each
//! build, each install with its version and timings, and the service's
//! answer to a first request with its request id.

use super::client::{client, send, url};
use super::dev::{Watch, build_dev_version, read_manifest, reload_number};
use super::{Output, ServerArgs};
use anyhow::{Context as _, bail};
use reqwest::blocking::multipart;
use std::path::Path;
use std::time::{Duration, Instant};

/// Run the loop against `server` until Ctrl-C.
pub fn run(server: &ServerArgs, dir: &Path, watch: bool) -> anyhow::Result<()> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot find {}", dir.display()))?;
    let (_, manifest) = read_manifest(&dir)?;
    require_dev_host(server)?;
    // Watch before the first build: no save is missed.
    let watch = watch.then(|| Watch::start(&dir)).transpose()?;
    let (version, built, installed) = build_and_upload(server, &dir)
        .context("the first build or install failed; fix it and run islet dev again")?;
    let base = server.server.trim_end_matches('/');
    let id = &manifest.id;
    println!(
        "\nislet dev: {id} {version} is serving on the development host {base}\n\
         \x20 built in {:.1} s, installed and released in {:.0} ms\n\n\
         The app with {id} open: {base}/#open/{id}\n\
         The console:            {base}/admin\n\
         The service directly:   curl -H \"Authorization: Bearer $TOKEN\" {base}/p/{id}/\n\n\
         Saving src/, islet.toml, Cargo.toml or package.json rebuilds and installs it there; Ctrl-C stops.\n",
        built.as_secs_f64(),
        installed.as_secs_f64() * 1e3,
    );
    probe(server, id);
    let Some(watch) = watch else {
        return Ok(());
    };
    watch.reload_on_save(|| {
        let result = build_and_upload(server, &dir);
        if result.is_ok() {
            probe(server, id);
        }
        result
    });
    Ok(())
}

/// Fail unless `server` says it is a development host, naming the fix.
fn require_dev_host(server: &ServerArgs) -> anyhow::Result<()> {
    let body = send(server, client()?.get(url(server, "/admin/v1/dev")))
        .with_context(|| format!("asking {} whether it is a development host", server.server))?;
    if body["dev"].as_bool() != Some(true) {
        bail!(
            "{} is not a development host, so `islet dev --server` cannot install there: {}",
            server.server,
            body["message"]
                .as_str()
                .unwrap_or("it does not grant capabilities without review")
        );
    }
    Ok(())
}

/// Build a new development version and install it on the host: the
/// version, the build's and the install's durations.
fn build_and_upload(
    server: &ServerArgs,
    dir: &Path,
) -> anyhow::Result<(String, Duration, Duration)> {
    let (version, manifest, bytes, built) = build_dev_version(dir, reload_number())?;
    eprintln!(
        "built {version} in {:.1} s; uploading {:.1} MiB to {} ...",
        built.as_secs_f64(),
        bytes.len() as f64 / 1048576.0,
        server.server
    );
    let form = multipart::Form::new().text("manifest", manifest).part(
        "component",
        multipart::Part::bytes(bytes).file_name("component.wasm"),
    );
    let started = Instant::now();
    let body = send(
        server,
        client()?
            .post(url(server, "/admin/v1/dev/plugins"))
            .multipart(form),
    )?;
    let installed = started.elapsed();
    if server.output == Output::Json {
        println!("{body}");
    }
    let merchant = body["merchant"]
        .as_str()
        .map(|m| format!(", merchant account {m} granted"))
        .unwrap_or_default();
    eprintln!(
        "installed {} {version} (activated in {:.1} ms{}){merchant}",
        body["id"].as_str().unwrap_or("?"),
        body["activation"]["ms"].as_f64().unwrap_or(0.0),
        if body["activation"]["from_cache"].as_bool() == Some(true) {
            ", from cache"
        } else {
            ""
        }
    );
    Ok((version, built, installed))
}

/// One request to the service's root, its status and request id printed.
fn probe(server: &ServerArgs, id: &str) {
    let answer = client().and_then(|c| {
        Ok(c.get(url(server, &format!("/p/{id}/")))
            .bearer_auth(&server.token)
            .send()?)
    });
    match answer {
        Ok(r) => eprintln!(
            "GET /p/{id}/ -> {} (request id {})",
            r.status(),
            r.headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
        ),
        Err(e) => eprintln!("GET /p/{id}/ failed: {e:#}"),
    }
}
