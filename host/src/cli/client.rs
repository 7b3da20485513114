//! The admin client behind `islet plugin install|list|enable|disable`.

use super::ServerArgs;
use super::build::build_plugin;
use anyhow::{Context as _, bail};
use reqwest::blocking::{Client, RequestBuilder, multipart};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// An HTTP client with a long timeout (uploads build and compile).
pub(super) fn client() -> anyhow::Result<Client> {
    Ok(Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?)
}

/// `path` on the host.
pub(super) fn url(server: &ServerArgs, path: &str) -> String {
    format!("{}{path}", server.server.trim_end_matches('/'))
}

/// Send a request and return its JSON body, or fail with the server's error message.
pub(super) fn send(server: &ServerArgs, request: RequestBuilder) -> anyhow::Result<Value> {
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

/// The component and manifest text for a plugin folder (built first) or a
/// .wasm file with its manifest.
fn component_and_manifest(
    path: &Path,
    manifest: Option<&Path>,
) -> anyhow::Result<(Vec<u8>, String)> {
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
    Ok((bytes, manifest_text))
}

fn upload_form(bytes: Vec<u8>, manifest_text: String) -> multipart::Form {
    multipart::Form::new().text("manifest", manifest_text).part(
        "component",
        multipart::Part::bytes(bytes).file_name("component.wasm"),
    )
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Install (admin: upload, approve everything requested, release) a plugin
/// folder (building it) or a .wasm file with its manifest.
pub fn install(server: &ServerArgs, path: &Path, manifest: Option<&Path>) -> anyhow::Result<()> {
    let (bytes, manifest_text) = component_and_manifest(path, manifest)?;
    let body = send(
        server,
        client()?
            .post(url(server, "/admin/v1/plugins"))
            .multipart(upload_form(bytes, manifest_text)),
    )?;
    if body["unchanged"].as_bool() == Some(true) {
        println!(
            "{} {} is already installed with this component; nothing changed",
            body["id"].as_str().unwrap_or("?"),
            body["version"].as_str().unwrap_or("?"),
        );
        return Ok(());
    }
    let replaced = body["replaced_version"]
        .as_str()
        .map(|v| format!(", replacing {v}"))
        .unwrap_or_default();
    println!(
        "installed {} {}{replaced} (sha256 {}, activated in {:.1} ms{})",
        body["id"].as_str().unwrap_or("?"),
        body["version"].as_str().unwrap_or("?"),
        short(body["sha256"].as_str().unwrap_or("?")),
        body["activation"]["ms"].as_f64().unwrap_or(0.0),
        if body["activation"]["from_cache"].as_bool() == Some(true) {
            ", from cache"
        } else {
            ""
        }
    );
    Ok(())
}

/// Upload a version for review.
pub fn publish(server: &ServerArgs, path: &Path, manifest: Option<&Path>) -> anyhow::Result<()> {
    let (bytes, manifest_text) = component_and_manifest(path, manifest)?;
    let id = manifest_text
        .parse::<crate::manifest::Manifest>()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .id;
    let body = send(
        server,
        client()?
            .post(url(server, &format!("/admin/v1/plugins/{id}/versions")))
            .multipart(upload_form(bytes, manifest_text)),
    )?;
    let version = body["uploaded_version"].as_str().unwrap_or("?");
    println!("uploaded {id} {version}; next: islet plugin submit {id} {version}");
    if let Some(checks) = body["history"][0]["checks"].as_array() {
        for c in checks {
            println!(
                "  [{}] {}: {}",
                if c["passed"].as_bool() == Some(true) {
                    "ok"
                } else {
                    "!!"
                },
                c["name"].as_str().unwrap_or("?"),
                c["detail"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

/// Who gets which version now: `serving: everyone gets 0.1.0; gray 0.2.0
/// to 10% and 2 testers`, or that nothing is released yet.
fn serving_text(body: &Value) -> String {
    let released = match body["version"].as_str() {
        Some(v) => format!("everyone gets {v}"),
        None => "nobody yet (no version released)".to_string(),
    };
    let gray = match &body["gray"] {
        Value::Null => String::new(),
        g => {
            let testers = g["testers"].as_array().map_or(0, Vec::len);
            format!(
                "; gray {} to {}% of citizens{}",
                g["version"].as_str().unwrap_or("?"),
                g["percent"],
                if testers > 0 {
                    format!(" and {testers} tester(s)")
                } else {
                    String::new()
                }
            )
        }
    };
    let down = if body["taken_down"].as_bool() == Some(true) {
        "; TAKEN DOWN: nobody is served"
    } else {
        ""
    };
    format!("serving: {released}{gray}{down}")
}

/// A version's grants in one line: capabilities, data items, templates.
fn grants_text(grants: &Value) -> String {
    if grants.is_null() {
        return "none yet".into();
    }
    let list = |key: &str| -> Vec<String> {
        grants[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut parts = list("capabilities");
    parts.extend(
        list("personal_data")
            .into_iter()
            .map(|d| format!("data:{d}")),
    );
    parts.extend(
        list("templates")
            .into_iter()
            .map(|t| format!("template:{t}")),
    );
    if grants["long_term_messages"].as_bool() == Some(true) {
        parts.push("long-term-messages".into());
    }
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join(", ")
    }
}

/// Print `body` as JSON when `--output json` asked for it; whether it did.
fn printed_as_json(server: &ServerArgs, body: &Value) -> bool {
    if server.output != super::Output::Json {
        return false;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string())
    );
    true
}

fn print_state(body: &Value) {
    println!(
        "{}: {}",
        body["id"].as_str().unwrap_or("?"),
        serving_text(body)
    );
}

/// What a version action changed: the version's state and grants, then who
/// is served which version.
fn print_version_change(body: &Value, version: &str, action: &str) {
    let id = body["id"].as_str().unwrap_or("?");
    let entry = body["history"]
        .as_array()
        .and_then(|h| h.iter().find(|v| v["version"].as_str() == Some(version)));
    match entry {
        Some(v) => {
            println!(
                "{id} {version}: {action} -> {}",
                v["state"].as_str().unwrap_or("?")
            );
            println!("  granted: {}", grants_text(&v["grants"]));
            if let Some(reason) = v["review"]["reason"].as_str() {
                println!("  reason: {reason}");
            }
        }
        None => println!("{id} {version}: {action}"),
    }
    println!("  {}", serving_text(body));
}

/// `submit`, `reject`, `release` of one version.
pub fn version_action(
    server: &ServerArgs,
    id: &str,
    version: &str,
    action: &str,
    body: Value,
) -> anyhow::Result<()> {
    let result = send(
        server,
        client()?
            .post(url(
                server,
                &format!("/admin/v1/plugins/{id}/versions/{version}/{action}"),
            ))
            .json(&body),
    )?;
    if !printed_as_json(server, &result) {
        print_version_change(&result, version, action);
    }
    Ok(())
}

/// Approve a version with explicit grants, or everything it requested.
pub fn approve(
    server: &ServerArgs,
    id: &str,
    version: &str,
    grants: &[String],
    requested: bool,
) -> anyhow::Result<()> {
    let body = if requested {
        serde_json::json!({ "all_requested": true })
    } else {
        let (mut capabilities, mut personal_data, mut templates) = (vec![], vec![], vec![]);
        let mut long_term_messages = false;
        for grant in grants {
            match grant.split_once(':') {
                Some(("data", item)) => personal_data.push(item.to_string()),
                Some(("template", t)) => templates.push(t.to_string()),
                None if grant == "long-term-messages" => long_term_messages = true,
                _ => capabilities.push(grant.clone()),
            }
        }
        serde_json::json!({
            "capabilities": capabilities,
            "personal_data": personal_data,
            "templates": templates,
            "long_term_messages": long_term_messages,
        })
    };
    version_action(server, id, version, "approve", body)
}

/// `gray`, `promote`, `revert`, `rollback`, `take-down`, `put-back`.
pub fn plugin_action(
    server: &ServerArgs,
    id: &str,
    action: &str,
    body: Value,
) -> anyhow::Result<()> {
    let result = send(
        server,
        client()?
            .post(url(server, &format!("/admin/v1/plugins/{id}/{action}")))
            .json(&body),
    )?;
    if !printed_as_json(server, &result) {
        print_state(&result);
    }
    Ok(())
}

/// Print a plugin's versions.
pub fn versions(server: &ServerArgs, id: &str) -> anyhow::Result<()> {
    let body = send(
        server,
        client()?.get(url(server, &format!("/admin/v1/plugins/{id}"))),
    )?;
    if printed_as_json(server, &body) {
        return Ok(());
    }
    print_state(&body);
    println!(
        "{:<12} {:<12} {:<14} {:<16} GRANTS",
        "VERSION", "STATE", "SHA256", "UPLOADED BY"
    );
    for v in body["history"].as_array().into_iter().flatten() {
        println!(
            "{:<12} {:<12} {:<14} {:<16} {}",
            v["version"].as_str().unwrap_or("?"),
            v["state"].as_str().unwrap_or("?"),
            short(v["sha256"].as_str().unwrap_or("?")),
            v["uploaded_by"].as_str().unwrap_or("?"),
            grants_text(&v["grants"])
        );
    }
    Ok(())
}

/// Print the review queue.
pub fn queue(server: &ServerArgs) -> anyhow::Result<()> {
    let body = send(server, client()?.get(url(server, "/admin/v1/review-queue")))?;
    if printed_as_json(server, &body) {
        return Ok(());
    }
    let queue = body["queue"].as_array().cloned().unwrap_or_default();
    if queue.is_empty() {
        println!("nothing waits for review");
    }
    for v in queue {
        let requested: Vec<&str> = v["requested"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!(
            "{} {} ({}) by {}, requests: {}",
            v["plugin"].as_str().unwrap_or("?"),
            v["version"].as_str().unwrap_or("?"),
            v["department"].as_str().unwrap_or("?"),
            v["uploaded_by"].as_str().unwrap_or("?"),
            requested.join(", ")
        );
    }
    Ok(())
}

/// Print the installed plugins as a table.
pub fn list(server: &ServerArgs) -> anyhow::Result<()> {
    let body = send(server, client()?.get(url(server, "/admin/v1/plugins")))?;
    if printed_as_json(server, &body) {
        return Ok(());
    }
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
