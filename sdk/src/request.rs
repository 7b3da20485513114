//! The incoming side of a call: method, path, query, headers, body and the
//! path parameters the [`Router`](crate::Router) extracted.

use crate::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;

/// One request from the city app, routed to this mini-service.
///
/// The host has already checked the citizen's token and removed the
/// `authorization` and `cookie` headers; ask [`identity`](crate::identity)
/// who is calling. Header names are lower-case.
///
/// ```
/// use islet_sdk::Request;
///
/// let req = Request::get("/reports?status=open&page=2").with_header("Accept", "application/json");
/// assert_eq!(req.method(), "GET");
/// assert_eq!(req.path(), "/reports");
/// assert_eq!(req.query("status"), Some("open"));
/// assert_eq!(req.header("accept"), Some("application/json"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    path: String,
    query: String,
    query_params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    params: Vec<(String, String)>,
}

impl Request {
    /// A request with `method` for `target`, a path with an optional
    /// `?query`, without headers or body. The method is upper-cased and a
    /// missing leading `/` is added, as the host does.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let req = Request::new("options", "/api?x=1");
    /// assert_eq!((req.method(), req.path(), req.query("x")), ("OPTIONS", "/api", Some("1")));
    /// ```
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Request::from_parts(method, path, query, Vec::new(), Vec::new())
    }

    /// A `GET` request for `target`.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::get("/api/fees").method(), "GET");
    /// ```
    pub fn get(target: &str) -> Self {
        Request::new("GET", target)
    }

    /// A `DELETE` request for `target`.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::delete("/api/subscription").method(), "DELETE");
    /// ```
    pub fn delete(target: &str) -> Self {
        Request::new("DELETE", target)
    }

    /// A `POST` request for `target` with a raw body.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::post("/api/notes", "hi").body_text(), Some("hi"));
    /// ```
    pub fn post(target: &str, body: impl Into<Vec<u8>>) -> Self {
        Request::new("POST", target).with_body(body)
    }

    /// A `PUT` request for `target` with a raw body.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::put("/api/notes/1", "text").method(), "PUT");
    /// ```
    pub fn put(target: &str, body: impl Into<Vec<u8>>) -> Self {
        Request::new("PUT", target).with_body(body)
    }

    /// A `PATCH` request for `target` with a raw body.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::patch("/api/notes/1", "{}").method(), "PATCH");
    /// ```
    pub fn patch(target: &str, body: impl Into<Vec<u8>>) -> Self {
        Request::new("PATCH", target).with_body(body)
    }

    /// A `POST` request for `target` whose body is `value` as JSON.
    ///
    /// # Panics
    ///
    /// If `value` cannot be serialised (e.g. a map with non-string keys);
    /// this constructor is meant for tests.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let req = Request::post_json("/api/news", &serde_json::json!({"text": "hi"}));
    /// assert_eq!(req.header("content-type"), Some("application/json"));
    /// ```
    pub fn post_json<T: Serialize + ?Sized>(target: &str, value: &T) -> Self {
        Request::new("POST", target).with_json(value)
    }

    /// A `PUT` request for `target` whose body is `value` as JSON.
    ///
    /// # Panics
    ///
    /// As [`Request::post_json`].
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let req = Request::put_json("/api/card", &serde_json::json!({"number": "31000012"}));
    /// assert_eq!(req.body_text(), Some(r#"{"number":"31000012"}"#));
    /// ```
    pub fn put_json<T: Serialize + ?Sized>(target: &str, value: &T) -> Self {
        Request::new("PUT", target).with_json(value)
    }

    /// This request with `name: value` added (the name is lower-cased).
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let req = Request::get("/").with_header("Accept-Language", "zh-CN");
    /// assert_eq!(req.header("accept-language"), Some("zh-CN"));
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// This request with `body` as its body.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let req = Request::new("POST", "/upload").with_body(vec![1, 2, 3]);
    /// assert_eq!(req.body(), &[1, 2, 3]);
    /// ```
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// This request with `value` as its JSON body and a JSON `content-type`.
    ///
    /// # Panics
    ///
    /// As [`Request::post_json`].
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let req = Request::new("PATCH", "/api/report/1").with_json(&serde_json::json!({"status": "fixed"}));
    /// assert_eq!(req.header("content-type"), Some("application/json"));
    /// ```
    pub fn with_json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.body = serde_json::to_vec(value)
            .unwrap_or_else(|e| panic!("cannot serialise the request body as JSON: {e}"));
        self.headers.retain(|(n, _)| n != "content-type");
        self.with_header("content-type", "application/json")
    }

    /// Build a request from what the host delivers.
    pub(crate) fn from_parts(
        method: &str,
        path: &str,
        query: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Request {
            method: method.to_ascii_uppercase(),
            path,
            query: query.to_owned(),
            query_params: parse_query(query),
            headers,
            body,
            params: Vec::new(),
        }
    }

    /// What the host does before a request reaches the guest.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn strip_credentials(&mut self) {
        for (name, _) in &mut self.headers {
            name.make_ascii_lowercase();
        }
        self.headers
            .retain(|(name, _)| name != "authorization" && name != "cookie");
    }

    pub(crate) fn set_params(&mut self, params: Vec<(String, String)>) {
        self.params = params;
    }

    /// The upper-case HTTP method, e.g. `GET`.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::new("post", "/").method(), "POST");
    /// ```
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path below the mini-service's prefix, always starting with `/`:
    /// for `/p/hello/greet/x` this is `/greet/x`.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::get("/reports/7?full=1").path(), "/reports/7");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string without the `?`, possibly empty.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::get("/search?q=a%20b&page=2").query_string(), "q=a%20b&page=2");
    /// ```
    pub fn query_string(&self) -> &str {
        &self.query
    }

    /// The first value of query parameter `name`, decoded (`+` and `%XX`).
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::get("/search?q=a%20b").query("q"), Some("a b"));
    /// ```
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of query parameter `name`, in order.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let req = Request::get("/?tag=a&tag=b");
    /// assert_eq!(req.query_all("tag").collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn query_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query_params
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All decoded query parameters, in order.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::get("/?a=1&b=2").query_params().len(), 2);
    /// ```
    pub fn query_params(&self) -> &[(String, String)] {
        &self.query_params
    }

    /// The first value of header `name`, compared case-insensitively.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let req = Request::get("/").with_header("X-Request-Id", "req-7");
    /// assert_eq!(req.header("x-request-id"), Some("req-7"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers as `(lower-case name, value)` pairs; a name may repeat.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let req = Request::get("/").with_header("A", "1");
    /// assert_eq!(req.headers(), &[("a".to_string(), "1".to_string())]);
    /// ```
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The raw body.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::post("/", "abc").body(), b"abc");
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text, if it is valid UTF-8.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// assert_eq!(Request::post("/", vec![0xff]).body_text(), None); // not UTF-8
    /// ```
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The body parsed as JSON into `T`.
    ///
    /// The error turns into a `400 invalid_json` response (malformed JSON) or
    /// a `422 invalid_body` response (valid JSON of the wrong shape), so a
    /// handler returning `Result<Response, Response>` can use `?`:
    ///
    /// ```
    /// use islet_sdk::{Request, Response};
    /// #[derive(serde::Deserialize)]
    /// struct Note { text: String }
    ///
    /// fn create(req: &Request) -> Result<Response, Response> {
    ///     let note: Note = req.json()?;
    ///     Ok(Response::text(note.text))
    /// }
    /// let bad = create(&Request::post("/", "{not json")).unwrap_err();
    /// assert_eq!(bad.status(), 400);
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, JsonError> {
        parse_json(&self.body)
    }

    /// The path parameter `name` captured by the route's pattern, decoded:
    /// for pattern `/reports/{id}` and path `/reports/42`, `param("id")` is `Some("42")`.
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new().get("/reports/{id}", |req: &Request| {
    ///     Response::text(req.param("id").unwrap_or("?").to_owned())
    /// });
    /// assert_eq!(router.handle(Request::get("/reports/42")).body_text(), Some("42"));
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All path parameters as `(name, value)` pairs.
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new().get("/{a}/{b}", |req: &Request| Response::text(req.params().len().to_string()));
    /// assert_eq!(router.handle(Request::get("/x/y")).body_text(), Some("2"));
    /// ```
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }
}

/// A body that is not the JSON a handler expected.
///
/// ```
/// use islet_sdk::Request;
/// let err = Request::post("/", "{oops").json::<serde_json::Value>().unwrap_err();
/// assert_eq!(err.status(), 400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    malformed: bool,
    message: String,
}

impl JsonError {
    /// The HTTP status this error answers with: 400 for malformed JSON, 422
    /// for well-formed JSON of the wrong shape.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// #[derive(serde::Deserialize, Debug)]
    /// struct Note { text: String }
    /// assert_eq!(Request::post("/", r#"{"txt": 1}"#).json::<Note>().unwrap_err().status(), 422);
    /// ```
    pub fn status(&self) -> u16 {
        if self.malformed { 400 } else { 422 }
    }

    /// What was wrong, from the JSON parser.
    ///
    /// ```
    /// use islet_sdk::Request;
    /// let err = Request::post("/", "{oops").json::<serde_json::Value>().unwrap_err();
    /// assert!(!err.message().is_empty());
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.malformed {
            write!(f, "the body is not valid JSON: {}", self.message)
        } else {
            write!(f, "the JSON body has the wrong shape: {}", self.message)
        }
    }
}

impl std::error::Error for JsonError {}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let code = if self.malformed {
            "invalid_json"
        } else {
            "invalid_body"
        };
        Response::error(self.status(), code, &self.to_string())
    }
}

/// Lets `?` turn a body error into an error response in a handler returning
/// `Result<_, Response>`.
impl From<JsonError> for Response {
    fn from(error: JsonError) -> Response {
        error.into_response()
    }
}

/// Parse `bytes` as JSON into `T`, classifying the failure.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(JsonError {
            malformed: true,
            message: "the body is empty".into(),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| JsonError {
        malformed: !e.is_data(),
        message: e.to_string(),
    })
}

/// Split an `application/x-www-form-urlencoded` query into decoded pairs.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_form(name), decode_form(value))
        })
        .collect()
}

fn decode_form(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// Decode `%XX` escapes; invalid escapes stay as they are and invalid UTF-8
/// is replaced, so any input decodes to something.
pub(crate) fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'%'), Some(&h), Some(&l)) => hex_value(h).zip(hex_value(l)),
            _ => None,
        };
        match escaped {
            Some((h, l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_decodes_and_keeps_order() {
        let req = Request::get("/x?a=1&b=hello+world&a=2&c=%E5%8E%A6%E9%97%A8&flag&bad=%zz");
        assert_eq!(req.path(), "/x");
        assert_eq!(req.query("a"), Some("1"));
        assert_eq!(req.query_all("a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(req.query("b"), Some("hello world"));
        assert_eq!(req.query("c"), Some("厦门"));
        assert_eq!(req.query("flag"), Some(""));
        assert_eq!(req.query("bad"), Some("%zz"));
        assert_eq!(req.query("missing"), None);
    }

    #[test]
    fn headers_are_case_insensitive() {
        let req = Request::get("/").with_header("X-Trace", "abc");
        assert_eq!(req.header("x-trace"), Some("abc"));
        assert_eq!(req.header("X-TRACE"), Some("abc"));
        assert_eq!(req.headers()[0].0, "x-trace");
    }

    #[test]
    fn json_errors_are_classified() {
        #[derive(serde::Deserialize, Debug)]
        struct Body {
            #[allow(dead_code, reason = "only the parse result matters")]
            n: u32,
        }
        let err = Request::post("/", "").json::<Body>().unwrap_err();
        assert_eq!(err.status(), 400);
        let err = Request::post("/", "{").json::<Body>().unwrap_err();
        assert_eq!(err.status(), 400);
        let err = Request::post("/", r#"{"n":"x"}"#)
            .json::<Body>()
            .unwrap_err();
        assert_eq!(err.status(), 422);
        let resp = err.into_response();
        assert_eq!(resp.status(), 422);
        assert!(resp.body_text().unwrap().contains("invalid_body"));
        assert!(Request::post("/", r#"{"n":3}"#).json::<Body>().is_ok());
    }

    #[test]
    fn method_and_path_are_normalised() {
        let req = Request::new("post", "api");
        assert_eq!(req.method(), "POST");
        assert_eq!(req.path(), "/api");
        assert_eq!(req.query_string(), "");
    }
}
