//! The guest's answer (status, headers, body) turned into the HTTP
//! response: never a panic; an answer that is not valid HTTP is refused
//! with a typed 502 `plugin_invalid_response`; an accepted one keeps the
//! guest's status and body byte for byte, carries only headers the guest
//! sent (plus the host's own), never a header the host strips, and always
//! `X-Content-Type-Options: nosniff` and the answering version.

use crate::{Mode, block_on, mode};
use arbitrary::{Arbitrary, Unstructured};
use axum::http::StatusCode;
use islet_host::capabilities::{GuestHeader, GuestResponse};
use islet_host::http::fuzzing::{AnswerContext, HeaderLimits, guest_response};
use islet_host::runtime::GuestFault;

/// Headers a guest may never set (cookies are shared by every plugin on
/// the platform origin; the others belong to the host or the connection).
const NEVER_FROM_GUEST: &[&str] = &[
    "set-cookie",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "trailer",
    "te",
    "x-request-id",
    "clear-site-data",
    "strict-transport-security",
    "alt-svc",
    "refresh",
    "link",
    "content-security-policy",
];

#[derive(Debug, Arbitrary)]
struct Answer {
    status: u16,
    headers: Vec<(Name, String)>,
    body: Vec<u8>,
    version: String,
}

/// Header names: mostly the ones that matter, sometimes anything.
#[derive(Debug, Arbitrary)]
enum Name {
    Known(u8),
    Any(String),
}

const KNOWN: &[&str] = &[
    "content-type",
    "Content-Type",
    "cache-control",
    "location",
    "set-cookie",
    "Set-Cookie",
    "content-length",
    "transfer-encoding",
    "connection",
    "x-request-id",
    "x-islet-plugin-version",
    "x-content-type-options",
    "clear-site-data",
    "strict-transport-security",
    "access-control-allow-origin",
    "x-custom",
];

impl Name {
    fn text(&self) -> String {
        match self {
            Name::Known(i) => KNOWN[usize::from(*i) % KNOWN.len()].to_string(),
            Name::Any(s) => s.clone(),
        }
    }
}

/// The property; see the module documentation.
pub fn check(data: &[u8]) {
    let answer = match mode(data) {
        None => return,
        // Raw: "status\nversion\nname: value\n...\n\nbody".
        Some(Mode::Raw(raw)) => match raw_answer(raw) {
            Some(a) => a,
            None => return,
        },
        Some(Mode::Structured(bytes)) => {
            let Ok(a) = Answer::arbitrary_take_rest(Unstructured::new(bytes)) else {
                return;
            };
            let headers = a
                .headers
                .iter()
                .map(|(n, v)| (n.text(), v.clone()))
                .collect();
            (a.status, headers, a.body, a.version)
        }
    };
    convert(answer);
}

type Parts = (u16, Vec<(String, String)>, Vec<u8>, String);

fn raw_answer(raw: &[u8]) -> Option<Parts> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.split('\n');
    let status = lines.next()?.trim().parse().ok()?;
    let version = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Some((status, headers, body.as_bytes().to_vec(), version))
}

fn convert((status, headers, body, version): Parts) {
    let response = GuestResponse {
        status,
        headers: headers
            .iter()
            .map(|(name, value)| GuestHeader {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        body: body.clone(),
    };
    let valid_status = StatusCode::from_u16(status).is_ok_and(|s| !s.is_informational());
    let context = AnswerContext {
        plugin: "fuzz",
        request_path: "/p/fuzz/a/b",
    };
    match guest_response(response, context, &version, &HeaderLimits::default()) {
        Err(e) => assert!(matches!(e, GuestFault::InvalidResponse(_)), "{e:?}"),
        Ok((out, _dropped)) => {
            assert!(valid_status, "status {status} accepted");
            assert_eq!(out.status().as_u16(), status);
            let sent: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect();
            let out_headers = out.headers();
            assert_eq!(
                out_headers
                    .get("x-content-type-options")
                    .map(|v| v.as_bytes()),
                Some(&b"nosniff"[..])
            );
            assert_eq!(
                out_headers.get_all("x-content-type-options").iter().count(),
                1
            );
            let versions: Vec<_> = out_headers
                .get_all("x-islet-plugin-version")
                .iter()
                .collect();
            assert!(versions.len() <= 1, "several version headers: {versions:?}");
            if let Some(v) = versions.first() {
                assert_eq!(v.as_bytes(), version.as_bytes(), "version header forged");
            }
            for (name, value) in out_headers {
                let name = name.as_str();
                assert!(
                    !NEVER_FROM_GUEST.contains(&name),
                    "stripped header {name} passed"
                );
                if matches!(name, "x-content-type-options" | "x-islet-plugin-version") {
                    continue;
                }
                assert!(
                    sent.iter()
                        .any(|(n, v)| n == name && v.as_bytes() == value.as_bytes()),
                    "header {name}: {value:?} was not sent by the guest"
                );
                if name == "location" {
                    let target = value.to_str().unwrap_or("");
                    // Resolved against the request's path, as a browser would.
                    let resolved = if target.starts_with('/') {
                        target.to_string()
                    } else {
                        format!("/p/fuzz/a/{target}")
                    };
                    let leaves = target.starts_with("//")
                        || has_scheme(target)
                        || target.contains('\\')
                        || !within_plugin(&resolved);
                    assert!(!leaves, "location {target:?} may leave the plugin");
                }
            }
            let got = block_on(axum::body::to_bytes(out.into_body(), usize::MAX))
                .expect("an in-memory body");
            assert_eq!(got.as_ref(), body.as_slice(), "body changed");
        }
    }
}

/// Whether `target` starts with a URL scheme (`https:`, `javascript:`).
fn has_scheme(target: &str) -> bool {
    match target.split_once(':') {
        Some((scheme, _)) => {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// The path of `target` with `.` and `..` segments resolved, as a browser
/// resolves them (RFC 3986 5.2.4), query and fragment dropped.
fn remove_dot_segments(target: &str) -> String {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}

/// Whether the absolute path `target` is the plugin's root (`/p/fuzz`, which
/// the host redirects to `/p/fuzz/`) or below it.
fn within_plugin(target: &str) -> bool {
    let target = remove_dot_segments(target);
    match target.strip_prefix("/p/fuzz") {
        Some(rest) => rest.is_empty() || rest.starts_with(['/', '?', '#']),
        None => false,
    }
}
