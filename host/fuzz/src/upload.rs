//! The multipart install upload (`POST /admin/v1/plugins`, and a new
//! version of one): never a panic; any body is either read into exactly
//! the `manifest` text and `component` bytes it carried, or refused with a
//! 400 and a typed code (`invalid_upload`, `invalid_manifest`) or a 413
//! `upload_too_large` over the component limit; what it
//! yields then goes through the manifest parser (the next step of an
//! install) without a panic.

use crate::{Mode, block_on, mode};
use arbitrary::{Arbitrary, Unstructured};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{Request, StatusCode, header};
use islet_host::http::error::ApiError;
use islet_host::http::fuzzing::read_upload;
use islet_host::manifest::Manifest;

/// The component size limit the upload is read under.
const UPLOAD_LIMIT: usize = 64 << 10;

#[derive(Debug, Arbitrary)]
struct Recipe {
    boundary: String,
    parts: Vec<Part>,
}

#[derive(Debug, Arbitrary)]
struct Part {
    name: PartName,
    filename: Option<String>,
    content_type: Option<u8>,
    bytes: Vec<u8>,
}

const CONTENT_TYPES: &[&str] = &[
    "application/wasm",
    "application/octet-stream",
    "text/plain; charset=utf-8",
    "application/toml",
];

#[derive(Debug, Arbitrary)]
enum PartName {
    Manifest,
    Component,
    Other(String),
}

/// The property; see the module documentation.
pub fn check(data: &[u8]) {
    match mode(data) {
        None => {}
        // Raw: "boundary\r\nbody".
        Some(Mode::Raw(raw)) => {
            let text_end = raw
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or(raw.len());
            let boundary = String::from_utf8_lossy(&raw[..text_end]).into_owned();
            let body = raw.get(text_end + 2..).unwrap_or_default().to_vec();
            if let Some(Ok((manifest, _))) = read(&boundary, body) {
                let _ = manifest.parse::<Manifest>();
            }
        }
        Some(Mode::Structured(bytes)) => {
            if let Ok(recipe) = Recipe::arbitrary_take_rest(Unstructured::new(bytes)) {
                well_formed(recipe);
            }
        }
    }
}

/// Read `body` as a multipart upload with `boundary`; `None` when the
/// request is refused before the handler (no usable boundary).
///
/// The component limit is small so that large inputs reach the 413 path.
fn read(boundary: &str, body: Vec<u8>) -> Option<Result<(String, Vec<u8>), ApiError>> {
    let request = Request::builder()
        .method("POST")
        .uri("/admin/v1/plugins")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .ok()?;
    block_on(async {
        let multipart = Multipart::from_request(request, &()).await.ok()?;
        let result = read_upload(multipart, UPLOAD_LIMIT).await;
        if let Err(e) = &result {
            let expected = match e.code {
                "invalid_upload" | "invalid_manifest" => StatusCode::BAD_REQUEST,
                "upload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
                other => panic!("unexpected refusal {other}: {e:?}"),
            };
            assert_eq!(e.status, expected, "{e:?}");
        }
        Some(result.map(|(m, c)| (m, c.to_vec())))
    })
}

/// A boundary `multer` accepts that occurs in no part.
fn usable_boundary(wanted: &str, parts: &[Part]) -> String {
    let mut boundary: String = wanted
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(60)
        .collect();
    boundary.insert_str(0, "fz");
    let clash = |b: &str| {
        let needle = format!("--{b}");
        parts.iter().any(|p| {
            p.bytes
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
    };
    while clash(&boundary) {
        boundary.push('x');
    }
    boundary
}

/// A header value without line breaks or quotes.
fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' && *c != ';')
        .collect()
}

fn well_formed(r: Recipe) {
    let boundary = usable_boundary(&r.boundary, &r.parts);
    let mut body = Vec::new();
    let mut names = Vec::new();
    for part in &r.parts {
        let name = match &part.name {
            PartName::Manifest => "manifest".to_string(),
            PartName::Component => "component".to_string(),
            PartName::Other(name) => plain(name),
        };
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(filename) = &part.filename {
            disposition.push_str(&format!("; filename=\"{}\"", plain(filename)));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(i) = part.content_type {
            let content_type = CONTENT_TYPES[usize::from(i) % CONTENT_TYPES.len()];
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&part.bytes);
        body.extend_from_slice(b"\r\n");
        names.push(name);
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());

    let Some(result) = read(&boundary, body) else {
        panic!("a well-formed upload refused before the handler (boundary {boundary:?})");
    };
    let first_other = names
        .iter()
        .position(|n| n != "manifest" && n != "component");
    // The handler reads parts in order and stops at the first problem.
    let upto = first_other.unwrap_or(names.len());
    let bad_text = r.parts[..upto]
        .iter()
        .zip(&names)
        .any(|(p, n)| n == "manifest" && std::str::from_utf8(&p.bytes).is_err());
    let last = |wanted: &str| {
        r.parts[..upto]
            .iter()
            .zip(&names)
            .rev()
            .find(|(_, n)| n.as_str() == wanted)
            .map(|(p, _)| p.bytes.clone())
    };
    match result {
        Ok((manifest, component)) => {
            assert!(
                first_other.is_none(),
                "an unexpected part was accepted: {names:?}"
            );
            assert!(!bad_text, "a manifest that is not UTF-8 was accepted");
            assert_eq!(Some(manifest.clone().into_bytes()), last("manifest"));
            assert_eq!(Some(component), last("component"));
            let _ = manifest.parse::<Manifest>();
        }
        Err(e) => {
            let complete = last("manifest").is_some() && last("component").is_some();
            assert!(
                first_other.is_some() || bad_text || !complete,
                "a complete upload refused: {e:?} ({names:?})"
            );
        }
    }
}
