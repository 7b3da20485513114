//! The caller's languages: `?lang=`, then the app's `islet_lang` cookie,
//! then `Accept-Language` (by quality). The platform's own pages speak
//! Simplified Chinese first and English second.

use axum::http::{HeaderMap, header};

/// The languages of the platform's pages, the default first.
pub const UI_LANGUAGES: [&str; 2] = ["zh-CN", "en"];

/// Most languages read from one `Accept-Language`.
const MAX_RANGES: usize = 16;

/// The languages the caller asked for, most preferred first: `query_lang`
/// (a `?lang=` value), the `islet_lang` cookie the app shell sets when the
/// citizen picks a language, then the `Accept-Language` ranges by quality
/// (ranges with `q=0` left out). Values that are not plausible tags are
/// skipped.
pub fn wanted(headers: &HeaderMap, query_lang: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |tag: &str| {
        let tag = tag.trim();
        if plausible(tag) && !out.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            out.push(tag.to_string());
        }
    };
    if let Some(lang) = query_lang {
        push(lang);
    }
    if let Some(lang) = cookie(headers, "islet_lang") {
        push(&lang);
    }
    let mut ranges: Vec<(u16, usize, String)> = Vec::new();
    for value in headers.get_all(header::ACCEPT_LANGUAGE) {
        let Ok(value) = value.to_str() else { continue };
        for (i, part) in value.split(',').take(MAX_RANGES).enumerate() {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default().trim();
            let quality = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            if quality > 0.0 {
                ranges.push(((quality * 1000.0) as u16, i, tag.to_string()));
            }
        }
    }
    // Highest quality first; equal qualities keep their order.
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, tag) in &ranges {
        push(tag);
    }
    out
}

/// The platform page language for a caller who wants `wanted`: the first
/// of [`UI_LANGUAGES`] matching, else the default (Simplified Chinese).
pub fn ui_language(wanted: &[String]) -> &'static str {
    crate::manifest::i18n::best_match(wanted, UI_LANGUAGES.iter().copied())
        .unwrap_or(UI_LANGUAGES[0])
}

/// Letters, digits and `-`, at most 35 bytes, or `*`.
fn plausible(tag: &str) -> bool {
    tag == "*"
        || (!tag.is_empty()
            && tag.len() <= 35
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The value of cookie `name` in the request, if any.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn accept_language_is_read_by_quality() {
        let h = headers(&[("accept-language", "en;q=0.5, zh-CN, zh;q=0.9, fr;q=0")]);
        assert_eq!(wanted(&h, None), ["zh-CN", "zh", "en"]);
        assert_eq!(ui_language(&wanted(&h, None)), "zh-CN");
        let h = headers(&[("accept-language", "en-US,en;q=0.9")]);
        assert_eq!(ui_language(&wanted(&h, None)), "en");
        assert_eq!(ui_language(&wanted(&HeaderMap::new(), None)), "zh-CN");
        let h = headers(&[("accept-language", "de-DE, fr")]);
        assert_eq!(ui_language(&wanted(&h, None)), "zh-CN", "the default");
    }

    #[test]
    fn the_query_then_the_cookie_come_first() {
        let h = headers(&[
            ("accept-language", "zh-CN"),
            ("cookie", "a=b; islet_lang=en"),
        ]);
        assert_eq!(wanted(&h, None), ["en", "zh-CN"]);
        assert_eq!(wanted(&h, Some("fr")), ["fr", "en", "zh-CN"]);
        // Nonsense is skipped, not echoed.
        assert_eq!(wanted(&h, Some("<script>")), ["en", "zh-CN"]);
    }
}
