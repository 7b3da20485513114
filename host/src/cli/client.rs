//! The admin client behind `islet plugin install|list|enable|disable`.

use super::ServerArgs;
use super::build::build_plugin;
use anyhow::{Context as _, bail};
use reqwest::blocking::{Client, RequestBuilder, multipart};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn client() -> anyhow::Result<Client> {
    Ok(Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?)
}

fn url(server: &ServerArgs, path: &str) -> String {
    format!("{}{path}", server.server.trim_end_matches('/'))
}

/// Send a request and return its JSON body, or fail with the server's error message.
fn send(server: &ServerArgs, request: RequestBuilder) -> anyhow::Result<Value> {
    let response = request
        .bearer_auth(&server.token)
        .send()
        .with_context(|| format!("cannot reach the host at {}", server.server))?;
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    if !status.is_success() {
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"].as_str().unwrap_or("no details");
        bail!("the host refused ({status}, {code}): {message}");
    }
    Ok(body)
}

/// Install a plugin folder (building it) or a .wasm file with its manifest.
pub fn install(server: &ServerArgs, path: &Path, manifest: Option<&Path>) -> anyhow::Result<()> {
    let (component, manifest_path) = if path.is_dir() {
        let wasm = build_plugin(path)?;
        let manifest = manifest
            .map(Path::to_path_buf)
            .unwrap_or_else(|| path.join("islet.toml"));
        (wasm, manifest)
    } else if path.is_file() {
        let manifest = match manifest {
            Some(m) => m.to_path_buf(),
            None => path.with_file_name("islet.toml"),
        };
        (path.to_path_buf(), manifest)
    } else {
        bail!(
            "{} is neither a plugin folder nor a .wasm file",
            path.display()
        );
    };
    if !manifest_path.is_file() {
        bail!(
            "no manifest at {}; pass --manifest path/to/islet.toml",
            manifest_path.display()
        );
    }
    let manifest_text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let bytes = std::fs::read(&component)
        .with_context(|| format!("cannot read {}", component.display()))?;
    let form = multipart::Form::new().text("manifest", manifest_text).part(
        "component",
        multipart::Part::bytes(bytes).file_name("component.wasm"),
    );
    let body = send(
        server,
        client()?
            .post(url(server, "/admin/v1/plugins"))
            .multipart(form),
    )?;
    let replaced = body["replaced_version"]
        .as_str()
        .map(|v| format!(", replacing {v}"))
        .unwrap_or_default();
    println!(
        "installed {} {}{replaced} (sha256 {}, activated in {:.1} ms{})",
        body["id"].as_str().unwrap_or("?"),
        body["version"].as_str().unwrap_or("?"),
        &body["sha256"].as_str().unwrap_or("?")
            [..12.min(body["sha256"].as_str().map_or(1, str::len))],
        body["activation"]["ms"].as_f64().unwrap_or(0.0),
        if body["activation"]["from_cache"].as_bool() == Some(true) {
            ", from cache"
        } else {
            ""
        }
    );
    Ok(())
}

/// Print the installed plugins as a table.
pub fn list(server: &ServerArgs) -> anyhow::Result<()> {
    let body = send(server, client()?.get(url(server, "/admin/v1/plugins")))?;
    let plugins = body["plugins"].as_array().cloned().unwrap_or_default();
    println!(
        "{:<24} {:<10} {:<16} {:<8} {:<8}",
        "ID", "VERSION", "DEPARTMENT", "ENABLED", "STATUS"
    );
    for p in plugins {
        println!(
            "{:<24} {:<10} {:<16} {:<8} {:<8}",
            p["id"].as_str().unwrap_or("?"),
            p["version"].as_str().unwrap_or("?"),
            p["department"].as_str().unwrap_or("?"),
            p["enabled"].as_bool().unwrap_or(false),
            p["status"].as_str().unwrap_or("?"),
        );
    }
    Ok(())
}

/// Enable or disable a plugin.
pub fn set_enabled(server: &ServerArgs, id: &str, enabled: bool) -> anyhow::Result<()> {
    let action = if enabled { "enable" } else { "disable" };
    send(
        server,
        client()?.post(url(server, &format!("/admin/v1/plugins/{id}/{action}"))),
    )?;
    println!("{id} {action}d");
    Ok(())
}
