//! What a plugin sees of a request: never a credential. The host verifies
//! the caller and hands the guest the result (`identity`); the token
//! itself stays out, whatever carries it: `Authorization`, cookies, a
//! `token` query parameter (how EventSource and app links pass it), or any
//! header or parameter whose value holds a token (a `Referer` with
//! `?token=...`, an `X-Token` header).

use crate::auth::SESSION_PREFIX;
use crate::capabilities::GuestHeader;
use axum::http::HeaderMap;

/// Request headers that carry credentials.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];
/// Query parameters that carry credentials by name.
const CREDENTIAL_PARAMS: &[&str] = &["token", "access_token", "id_token", "session"];

/// The request headers the guest gets.
pub fn headers(headers: &HeaderMap) -> Vec<GuestHeader> {
    headers
        .iter()
        .filter(|(name, _)| !CREDENTIAL_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            (!holds_token(value)).then(|| GuestHeader {
                name: name.as_str().to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

/// The query string the guest gets: the caller's parameters as sent, less
/// any that carries a credential.
pub fn query(raw: &str) -> String {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            form_urlencoded::parse(pair.as_bytes()).all(|(name, value)| {
                !CREDENTIAL_PARAMS
                    .iter()
                    .any(|c| name.eq_ignore_ascii_case(c))
                    && !holds_token(&name)
                    && !holds_token(&value)
            })
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether `text` contains a service session or something shaped like a
/// JWT (`eyJ...` base64url, a dot, base64url, a dot).
pub fn holds_token(text: &str) -> bool {
    if text.contains(SESSION_PREFIX) {
        return true;
    }
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    text.match_indices("eyJ").any(|(start, _)| {
        let rest = &text.as_bytes()[start..];
        let mut dots = 0;
        let mut run = 0;
        for &b in rest {
            if base64url(b) {
                run += 1;
            } else if b == b'.' && run > 0 {
                dots += 1;
                run = 0;
                if dots == 2 {
                    return true;
                }
            } else {
                break;
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjIn0.c2ln";

    #[test]
    fn token_parameters_are_removed_and_the_rest_kept_as_sent() {
        assert_eq!(query(&format!("a=1&token={JWT}&b=x%20y")), "a=1&b=x%20y");
        assert_eq!(query("TOKEN=abc&access_token=z&c"), "c");
        assert_eq!(query(&format!("next=%2Fp%2Fx%3Ft%3D{JWT}")), "");
        assert_eq!(query("q=isl_s_abcdef"), "");
        assert_eq!(query("q=eyJ-not.a-token"), "q=eyJ-not.a-token");
        assert_eq!(query(""), "");
    }

    #[test]
    fn credential_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            format!("Bearer {JWT}").parse().unwrap_or_else(|_| panic!()),
        );
        h.insert("cookie", "a=b".parse().unwrap_or_else(|_| panic!()));
        h.insert(
            "referer",
            format!("http://x/?token={JWT}")
                .parse()
                .unwrap_or_else(|_| panic!()),
        );
        h.insert("x-token", JWT.parse().unwrap_or_else(|_| panic!()));
        h.insert("accept", "text/html".parse().unwrap_or_else(|_| panic!()));
        let names: Vec<_> = headers(&h).into_iter().map(|g| g.name).collect();
        assert_eq!(names, ["accept"]);
    }
}
