//! The outgoing side of a call: status, headers and body, with builders for
//! JSON, text, HTML and the platform's error shape.

use crate::request::{JsonError, parse_json};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The mini-service's answer to one request.
///
/// Errors use the platform's shape, `{"error":{"code":..,"message":..}}`
/// (the [`Router`](crate::Router) adds `request_id` when it answers a request):
///
/// ```
/// use islet_sdk::Response;
///
/// let ok = Response::json(&serde_json::json!({"id": 7})).with_status(201);
/// assert_eq!(ok.status(), 201);
/// assert_eq!(ok.header("content-type"), Some("application/json"));
///
/// let err = Response::error(409, "invalid_transition", "already resolved");
/// assert_eq!(err.body_text(), Some(r#"{"error":{"code":"invalid_transition","message":"already resolved"}}"#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::new(202).status(), 202);
    /// ```
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `200` with `value` as JSON. If `value` cannot be serialised the
    /// answer is a `500 internal_error` instead.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// let r = Response::json(&serde_json::json!({"visits": 3}));
    /// assert_eq!(r.body_text(), Some(r#"{"visits":3}"#));
    /// ```
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Response::new(200)
                .with_header("content-type", "application/json")
                .with_body(body),
            Err(e) => Response::internal_error(&format!("cannot serialise the response: {e}")),
        }
    }

    /// `200` with a UTF-8 plain-text body.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::text("ok").header("content-type"), Some("text/plain; charset=utf-8"));
    /// ```
    pub fn text(body: impl Into<String>) -> Self {
        Response::new(200)
            .with_header("content-type", "text/plain; charset=utf-8")
            .with_body(body.into())
    }

    /// `200` with a UTF-8 HTML body.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::html("<h1>你好</h1>").status(), 200);
    /// ```
    pub fn html(body: impl Into<String>) -> Self {
        Response::new(200)
            .with_header("content-type", "text/html; charset=utf-8")
            .with_body(body.into())
    }

    /// `200` with raw bytes of `content_type`.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// let css = Response::bytes("text/css; charset=utf-8", "main { margin: 0 }");
    /// assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    /// ```
    pub fn bytes(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response::new(200)
            .with_header("content-type", content_type)
            .with_body(body)
    }

    /// `204 No Content`.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert!(Response::no_content().body().is_empty());
    /// ```
    pub fn no_content() -> Self {
        Response::new(204)
    }

    /// An error in the platform's shape: `status` with
    /// `{"error":{"code":code,"message":message}}`. `code` is a stable
    /// snake_case word for programs, like the host's own (`not_found`,
    /// `plugin_timeout`); `message` is for people.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// let r = Response::error(409, "already_paid", "this fee is paid");
    /// assert_eq!(r.error_code().as_deref(), Some("already_paid"));
    /// ```
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        let body = serde_json::json!({ "error": { "code": code, "message": message } });
        Response::new(status)
            .with_header("content-type", "application/json")
            .with_body(body.to_string())
    }

    /// `400 bad_request` with `message`.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::bad_request("text is empty").status(), 400);
    /// ```
    pub fn bad_request(message: &str) -> Self {
        Response::error(400, "bad_request", message)
    }

    /// `401 unauthenticated`: the request needs a signed-in citizen.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::unauthorized().error_code().as_deref(), Some("unauthenticated"));
    /// ```
    pub fn unauthorized() -> Self {
        Response::error(401, "unauthenticated", "sign in to use this")
    }

    /// `403 forbidden` with `message`.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::forbidden("staff only").status(), 403);
    /// ```
    pub fn forbidden(message: &str) -> Self {
        Response::error(403, "forbidden", message)
    }

    /// `404 not_found`.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::not_found().status(), 404);
    /// ```
    pub fn not_found() -> Self {
        Response::error(404, "not_found", "no such resource")
    }

    /// `405 method_not_allowed` with an `allow` header listing `allowed`.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::method_not_allowed(&["GET"]).header("allow"), Some("GET"));
    /// ```
    pub fn method_not_allowed(allowed: &[&str]) -> Self {
        Response::error(
            405,
            "method_not_allowed",
            "this resource does not accept that method",
        )
        .with_header("allow", &allowed.join(", "))
    }

    /// `409 conflict` with `message`.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::conflict("already registered").status(), 409);
    /// ```
    pub fn conflict(message: &str) -> Self {
        Response::error(409, "conflict", message)
    }

    /// `422 invalid_input` with `message`, for a well-formed request whose
    /// content is not acceptable.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::unprocessable("amount_fen must be positive").error_code().as_deref(), Some("invalid_input"));
    /// ```
    pub fn unprocessable(message: &str) -> Self {
        Response::error(422, "invalid_input", message)
    }

    /// `500 internal_error` with `message`.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::internal_error("ledger mismatch").status(), 500);
    /// ```
    pub fn internal_error(message: &str) -> Self {
        Response::error(500, "internal_error", message)
    }

    /// This response with `status` instead.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::json(&1).with_status(201).status(), 201);
    /// ```
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// This response with header `name` set to `value`, replacing any header
    /// of that name (compared case-insensitively; names are stored lower-case).
    ///
    /// ```
    /// use islet_sdk::Response;
    /// let r = Response::text("x").with_header("Cache-Control", "no-store");
    /// assert_eq!(r.header("cache-control"), Some("no-store"));
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_owned()));
        self
    }

    /// This response with one more `name: value` header, keeping any existing
    /// header of that name (e.g. for several `set-cookie`-like values).
    ///
    /// ```
    /// use islet_sdk::Response;
    /// let r = Response::new(200).append_header("link", "<a.css>").append_header("link", "<b.css>");
    /// assert_eq!(r.headers().len(), 2);
    /// ```
    pub fn append_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// This response with `body` as its body.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::new(200).with_body("hi").body(), b"hi");
    /// ```
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The HTTP status.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::not_found().status(), 404);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name`, compared case-insensitively.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::json(&1).header("Content-Type"), Some("application/json"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers as `(lower-case name, value)` pairs.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::text("x").headers()[0].0, "content-type");
    /// ```
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The raw body.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::text("hi").body(), b"hi");
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text, if it is valid UTF-8.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::text("hi").body_text(), Some("hi"));
    /// ```
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The body parsed as JSON into `T`; handy in tests.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// let v: serde_json::Value = Response::json(&serde_json::json!({"a": 1})).body_json().unwrap();
    /// assert_eq!(v["a"], 1);
    /// ```
    pub fn body_json<T: DeserializeOwned>(&self) -> Result<T, JsonError> {
        parse_json(&self.body)
    }

    /// The `code` of a platform-shaped error body, if this is one.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// assert_eq!(Response::text("fine").error_code(), None);
    /// ```
    pub fn error_code(&self) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        Some(value.get("error")?.get("code")?.as_str()?.to_owned())
    }

    /// Status, headers and body, taking the response apart.
    ///
    /// ```
    /// use islet_sdk::Response;
    /// let (status, headers, body) = Response::text("hi").into_parts();
    /// assert_eq!((status, headers.len(), body), (200, 1, b"hi".to_vec()));
    /// ```
    pub fn into_parts(self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        (self.status, self.headers, self.body)
    }
}

/// Anything a handler may return.
///
/// Implemented for [`Response`], for text (`&'static str`, `String`: a
/// `200 text/plain` answer), for the SDK's error types, and for
/// `Result<T, E>` where both sides are responses, so handlers can use `?`.
///
/// ```
/// use islet_sdk::{IntoResponse, Response};
/// assert_eq!("hello".into_response().status(), 200);
/// let failed: Result<Response, Response> = Err(Response::not_found());
/// assert_eq!(failed.into_response().status(), 404);
/// ```
pub trait IntoResponse {
    /// Turn `self` into the response sent to the citizen.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(ok) => ok.into_response(),
            Err(err) => err.into_response(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;

    #[test]
    fn builders_set_content_type_and_status() {
        assert_eq!(
            Response::text("hi").header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(
            Response::html("<p>").header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let r = Response::json(&[1, 2]).with_status(201);
        assert_eq!((r.status(), r.body()), (201, &b"[1,2]"[..]));
        assert_eq!(Response::no_content().status(), 204);
    }

    #[test]
    fn with_header_replaces_and_append_keeps() {
        let r = Response::new(200)
            .with_header("X-A", "1")
            .with_header("x-a", "2")
            .append_header("x-b", "1")
            .append_header("x-b", "2");
        assert_eq!(r.header("x-a"), Some("2"));
        assert_eq!(r.headers().len(), 3);
    }

    #[test]
    fn errors_have_the_platform_shape() {
        let r = Response::method_not_allowed(&["GET", "POST"]);
        assert_eq!(r.status(), 405);
        assert_eq!(r.header("allow"), Some("GET, POST"));
        assert_eq!(r.error_code().as_deref(), Some("method_not_allowed"));
        let v: serde_json::Value = Response::not_found().body_json().unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert!(v["error"]["message"].is_string());
    }

    #[test]
    fn results_turn_into_responses() {
        let ok: Result<Response, Response> = Ok(Response::text("a"));
        assert_eq!(ok.into_response().status(), 200);
        let err: Result<&'static str, Response> = Err(Response::not_found());
        assert_eq!(err.into_response().status(), 404);
    }
}
