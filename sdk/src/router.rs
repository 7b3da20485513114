//! Dispatch requests to handlers by method and path pattern.

use crate::request::{Request, percent_decode};
use crate::response::{IntoResponse, Response};
use std::cmp::Ordering;
use std::fmt;

type Handler = Box<dyn Fn(&Request) -> Response>;

/// Routes requests to handlers by method and path pattern.
///
/// A pattern is a path whose segments are literal text, a parameter
/// `{name}` matching exactly one non-empty segment, or — as the last segment
/// only — a catch-all `{*name}` matching the rest of the path (possibly
/// nothing). Empty segments are ignored, so `/a/b/` matches `/a/b`.
///
/// When several routes match, the most specific wins: segment by segment,
/// literal beats parameter beats catch-all, and a pattern that ends beats one
/// still expecting a catch-all; ties go to the route added first. A `HEAD`
/// request without a `HEAD` route is answered by the `GET` route, without
/// body. A path that matches no pattern gets a `404 not_found` JSON error
/// (or the [`fallback`](Router::fallback)); a path that matches only for
/// other methods gets `405 method_not_allowed` with an `allow` header.
///
/// ```
/// use islet_sdk::{Request, Response, Router};
///
/// fn show(req: &Request) -> Response {
///     Response::text(format!("report {}", req.param("id").unwrap_or("?")))
/// }
///
/// let router = Router::new()
///     .get("/reports/mine", |_: &Request| Response::text("mine"))
///     .get("/reports/{id}", show)
///     .get("/files/{*path}", |req: &Request| Response::text(req.param("path").unwrap_or("").to_owned()));
///
/// assert_eq!(router.handle(Request::get("/reports/42")).body_text(), Some("report 42"));
/// assert_eq!(router.handle(Request::get("/reports/mine")).body_text(), Some("mine"));
/// assert_eq!(router.handle(Request::get("/files/a/b.txt")).body_text(), Some("a/b.txt"));
/// assert_eq!(router.handle(Request::delete("/reports/42")).status(), 405);
/// assert_eq!(router.handle(Request::get("/nope")).status(), 404);
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    fallback: Option<Handler>,
}

struct Route {
    /// Upper-case method, or `None` for any method.
    method: Option<String>,
    pattern: Pattern,
    handler: Handler,
}

impl Router {
    /// A router without routes: every request gets `404`.
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// assert_eq!(Router::new().handle(Request::get("/")).status(), 404);
    /// ```
    pub fn new() -> Self {
        Router::default()
    }

    /// Add a route for `method` (any case) and `pattern`.
    ///
    /// # Panics
    ///
    /// If `pattern` is malformed: a catch-all `{*name}` that is not the last
    /// segment, or a parameter without a name. Patterns are written by the
    /// plugin author, so this shows up in the first test.
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new().route("options", "/api", |_: &Request| Response::no_content());
    /// assert_eq!(router.handle(Request::new("OPTIONS", "/api")).status(), 204);
    /// ```
    pub fn route<R: IntoResponse>(
        self,
        method: &str,
        pattern: &str,
        handler: impl Fn(&Request) -> R + 'static,
    ) -> Self {
        self.add(Some(method.to_ascii_uppercase()), pattern, handler)
    }

    /// Add a route for `pattern` that accepts every method.
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new().any("/echo", |req: &Request| Response::text(req.method().to_owned()));
    /// assert_eq!(router.handle(Request::delete("/echo")).body_text(), Some("DELETE"));
    /// ```
    pub fn any<R: IntoResponse>(
        self,
        pattern: &str,
        handler: impl Fn(&Request) -> R + 'static,
    ) -> Self {
        self.add(None, pattern, handler)
    }

    /// Add a `GET` route (which also answers `HEAD`).
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new().get("/x", |_: &Request| "done");
    /// assert_eq!(router.handle(Request::get("/x")).body_text(), Some("done"));
    /// ```
    pub fn get<R: IntoResponse>(
        self,
        pattern: &str,
        handler: impl Fn(&Request) -> R + 'static,
    ) -> Self {
        self.route("GET", pattern, handler)
    }

    /// Add a `POST` route.
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new().post("/x", |_: &Request| "done");
    /// assert_eq!(router.handle(Request::post("/x", "")).body_text(), Some("done"));
    /// ```
    pub fn post<R: IntoResponse>(
        self,
        pattern: &str,
        handler: impl Fn(&Request) -> R + 'static,
    ) -> Self {
        self.route("POST", pattern, handler)
    }

    /// Add a `PUT` route.
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new().put("/x", |_: &Request| "done");
    /// assert_eq!(router.handle(Request::put("/x", "")).body_text(), Some("done"));
    /// ```
    pub fn put<R: IntoResponse>(
        self,
        pattern: &str,
        handler: impl Fn(&Request) -> R + 'static,
    ) -> Self {
        self.route("PUT", pattern, handler)
    }

    /// Add a `PATCH` route.
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new().patch("/x", |_: &Request| "done");
    /// assert_eq!(router.handle(Request::patch("/x", "")).body_text(), Some("done"));
    /// ```
    pub fn patch<R: IntoResponse>(
        self,
        pattern: &str,
        handler: impl Fn(&Request) -> R + 'static,
    ) -> Self {
        self.route("PATCH", pattern, handler)
    }

    /// Add a `DELETE` route.
    ///
    /// # Panics
    ///
    /// As [`Router::route`].
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new().delete("/x", |_: &Request| "done");
    /// assert_eq!(router.handle(Request::delete("/x")).body_text(), Some("done"));
    /// ```
    pub fn delete<R: IntoResponse>(
        self,
        pattern: &str,
        handler: impl Fn(&Request) -> R + 'static,
    ) -> Self {
        self.route("DELETE", pattern, handler)
    }

    /// Answer requests whose path matches no route with `handler` instead
    /// of the default `404`.
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    /// let router = Router::new()
    ///     .get("/api/hello", |_: &Request| "hello")
    ///     .fallback(|_: &Request| Response::html("<p>page</p>")); // e.g. a single-page app
    /// assert_eq!(router.handle(Request::get("/any/where")).status(), 200);
    /// assert_eq!(router.handle(Request::post("/api/hello", "")).status(), 405); // still 405
    /// ```
    pub fn fallback<R: IntoResponse>(mut self, handler: impl Fn(&Request) -> R + 'static) -> Self {
        self.fallback = Some(Box::new(move |req| handler(req).into_response()));
        self
    }

    fn add<R: IntoResponse>(
        mut self,
        method: Option<String>,
        pattern: &str,
        handler: impl Fn(&Request) -> R + 'static,
    ) -> Self {
        let pattern = match Pattern::parse(pattern) {
            Ok(p) => p,
            Err(e) => panic!("invalid route pattern {pattern:?}: {e}"),
        };
        self.routes.push(Route {
            method,
            pattern,
            handler: Box::new(move |req| handler(req).into_response()),
        });
        self
    }

    /// Dispatch `request` to the best matching route and return its answer.
    ///
    /// An error answer in the platform's shape (`{"error": {...}}`, from
    /// [`Response::error`], a capability error or the router itself) gets
    /// the request's id as `error.request_id`: the id the host passes in
    /// the `x-request-id` header and returns to the caller, so a citizen's
    /// report names the request in the host's logs.
    ///
    /// ```
    /// use islet_sdk::{Request, Response, Router};
    ///
    /// let router = Router::new().get("/", |_: &Request| Response::conflict("busy"));
    /// let r = router.handle(Request::get("/").with_header("x-request-id", "req-7"));
    /// let body: serde_json::Value = r.body_json().unwrap();
    /// assert_eq!(body["error"]["request_id"], "req-7");
    /// assert_eq!(body["error"]["code"], "conflict");
    /// ```
    pub fn handle(&self, request: Request) -> Response {
        let request_id = request.header("x-request-id").map(str::to_owned);
        let response = self.dispatch(request);
        match request_id {
            Some(id) => with_request_id(response, &id),
            None => response,
        }
    }

    fn dispatch(&self, mut request: Request) -> Response {
        let segments: Vec<&str> = split(request.path()).collect();
        let is_head = request.method() == "HEAD";
        let mut best = self.best_match(&segments, request.method());
        if best.is_none() && is_head {
            best = self.best_match(&segments, "GET");
        }
        if let Some((route, params)) = best {
            request.set_params(params);
            let response = (route.handler)(&request);
            return if is_head && route.method.as_deref() != Some("HEAD") {
                response.with_body(Vec::new())
            } else {
                response
            };
        }
        let mut allowed: Vec<&str> = self
            .routes
            .iter()
            .filter(|r| r.pattern.matches(&segments).is_some())
            .filter_map(|r| r.method.as_deref())
            .collect();
        if allowed.contains(&"GET") {
            allowed.push("HEAD");
        }
        allowed.sort_unstable();
        allowed.dedup();
        if !allowed.is_empty() {
            return Response::method_not_allowed(&allowed);
        }
        match &self.fallback {
            Some(fallback) => fallback(&request),
            None => Response::not_found(),
        }
    }

    fn best_match(
        &self,
        segments: &[&str],
        method: &str,
    ) -> Option<(&Route, Vec<(String, String)>)> {
        let mut best: Option<(&Route, Match)> = None;
        for route in &self.routes {
            if route.method.as_deref().is_some_and(|m| m != method) {
                continue;
            }
            let Some(found) = route.pattern.matches(segments) else {
                continue;
            };
            let better = match &best {
                None => true,
                Some((_, current)) => found.rank.cmp(&current.rank) == Ordering::Greater,
            };
            if better {
                best = Some((route, found));
            }
        }
        best.map(|(route, found)| (route, found.params))
    }
}

/// `response` with `request_id` added to its platform-shaped error body,
/// if it has one without a request id (any other answer is unchanged).
fn with_request_id(response: Response, request_id: &str) -> Response {
    let is_json = response
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"));
    if response.status() < 400 || !is_json {
        return response;
    }
    let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(response.body()) else {
        return response;
    };
    let Some(error) = body.get_mut("error").and_then(|e| e.as_object_mut()) else {
        return response;
    };
    if error.contains_key("request_id") {
        return response;
    }
    error.insert("request_id".into(), request_id.into());
    match serde_json::to_vec(&body) {
        Ok(bytes) => response.with_body(bytes),
        Err(_) => response,
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for route in &self.routes {
            list.entry(&format_args!(
                "{} {}",
                route.method.as_deref().unwrap_or("*"),
                route.pattern.source
            ));
        }
        list.finish()
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    CatchAll(String),
}

#[derive(Debug, Clone)]
struct Pattern {
    source: String,
    segments: Vec<Segment>,
}

struct Match {
    /// Compared lexicographically: higher is more specific.
    rank: Vec<u8>,
    params: Vec<(String, String)>,
}

const RANK_CATCH_ALL: u8 = 1;
const RANK_PARAM: u8 = 2;
const RANK_LITERAL: u8 = 3;
/// Appended when a pattern without catch-all matched the whole path, so
/// `/a` beats `/a/{*rest}` for the path `/a`.
const RANK_END: u8 = 4;

impl Pattern {
    fn parse(source: &str) -> Result<Pattern, String> {
        let parts: Vec<&str> = split(source).collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(inner) => match inner.strip_prefix('*') {
                    Some(name) if i + 1 != parts.len() => {
                        return Err(format!("catch-all {{*{name}}} must be the last segment"));
                    }
                    Some("") => return Err("a catch-all needs a name: {*name}".into()),
                    Some(name) => Segment::CatchAll(name.to_owned()),
                    None if inner.is_empty() => {
                        return Err("a parameter needs a name: {name}".into());
                    }
                    None => Segment::Param(inner.to_owned()),
                },
                None => Segment::Literal((*part).to_owned()),
            };
            segments.push(segment);
        }
        Ok(Pattern {
            source: source.to_owned(),
            segments,
        })
    }

    fn matches(&self, path: &[&str]) -> Option<Match> {
        let mut rank = Vec::with_capacity(self.segments.len() + 1);
        let mut params = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::CatchAll(name) => {
                    let rest = path.get(i..).unwrap_or_default().join("/");
                    params.push((name.clone(), percent_decode(&rest)));
                    rank.push(RANK_CATCH_ALL);
                    return Some(Match { rank, params });
                }
                Segment::Literal(text) => {
                    if path.get(i)? != text {
                        return None;
                    }
                    rank.push(RANK_LITERAL);
                }
                Segment::Param(name) => {
                    params.push((name.clone(), percent_decode(path.get(i)?)));
                    rank.push(RANK_PARAM);
                }
            }
        }
        if path.len() != self.segments.len() {
            return None;
        }
        rank.push(RANK_END);
        Some(Match { rank, params })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;

    fn body(r: Response) -> String {
        r.body_text().unwrap_or("<binary>").to_owned()
    }

    fn named(name: &'static str) -> impl Fn(&Request) -> Response {
        move |req: &Request| {
            let params: Vec<String> = req
                .params()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            Response::text(format!("{name} {}", params.join(",")))
        }
    }

    #[test]
    fn error_answers_carry_the_request_id_and_others_are_untouched() {
        let router = Router::new()
            .get("/ok", |_: &Request| {
                Response::json(&serde_json::json!({"error": "x"}))
            })
            .get("/own", |_: &Request| {
                Response::json(&serde_json::json!({"error": {"code": "c", "request_id": "mine"}}))
                    .with_status(400)
            })
            .get("/text", |_: &Request| Response::text("no").with_status(500))
            .get("/err", |_: &Request| {
                Err::<Response, _>(crate::storage::StorageError::QuotaExceeded)
            });
        let id = |path: &str| {
            let r = router.handle(Request::get(path).with_header("X-Request-Id", "r-9"));
            let v: serde_json::Value = r.body_json().unwrap_or_default();
            v["error"]["request_id"].clone()
        };
        assert_eq!(id("/nowhere"), "r-9"); // the router's 404
        assert_eq!(id("/err"), "r-9"); // a capability error through `?`
        assert_eq!(id("/own"), "mine"); // an id the service set itself
        assert_eq!(id("/ok"), serde_json::Value::Null); // 200: not an error
        let r = router.handle(Request::post("/ok", "").with_header("x-request-id", "r-9"));
        assert_eq!(r.error_code().as_deref(), Some("method_not_allowed"));
        assert!(r.body_text().unwrap().contains(r#""request_id":"r-9""#));
        let text = router.handle(Request::get("/text").with_header("x-request-id", "r-9"));
        assert_eq!(text.body_text(), Some("no"));
        // Without an id (not from the host) errors are as built.
        let bare = router.handle(Request::get("/nowhere"));
        assert!(!bare.body_text().unwrap().contains("request_id"));
    }

    #[test]
    fn literal_beats_param_beats_catch_all_regardless_of_order() {
        let router = Router::new()
            .get("/{*rest}", named("catch"))
            .get("/reports/{id}", named("param"))
            .get("/reports/mine", named("literal"))
            .get("/", named("root"));
        assert_eq!(
            body(router.handle(Request::get("/reports/mine"))),
            "literal "
        );
        assert_eq!(
            body(router.handle(Request::get("/reports/7"))),
            "param id=7"
        );
        assert_eq!(
            body(router.handle(Request::get("/reports/7/x"))),
            "catch rest=reports/7/x"
        );
        assert_eq!(body(router.handle(Request::get("/"))), "root ");
        assert_eq!(
            body(router.handle(Request::get("/other"))),
            "catch rest=other"
        );
    }

    #[test]
    fn pattern_end_beats_empty_catch_all() {
        let router = Router::new()
            .get("/a/{*rest}", named("catch"))
            .get("/a", named("exact"));
        assert_eq!(body(router.handle(Request::get("/a"))), "exact ");
        assert_eq!(body(router.handle(Request::get("/a/"))), "exact ");
        assert_eq!(body(router.handle(Request::get("/a/b"))), "catch rest=b");
        let only_catch = Router::new().get("/a/{*rest}", named("catch"));
        assert_eq!(body(only_catch.handle(Request::get("/a"))), "catch rest=");
    }

    #[test]
    fn params_are_decoded_and_need_a_segment() {
        let router = Router::new().post("/r/{id}/status", named("status"));
        assert_eq!(
            body(router.handle(Request::post("/r/a%20b/status", ""))),
            "status id=a b"
        );
        assert_eq!(router.handle(Request::post("/r//status", "")).status(), 404);
        assert_eq!(
            router.handle(Request::post("/r/1/status/x", "")).status(),
            404
        );
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let router = Router::new()
            .get("/items", named("list"))
            .post("/items", named("create"))
            .delete("/items/{id}", named("delete"));
        let r = router.handle(Request::put("/items", ""));
        assert_eq!(r.status(), 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
        assert_eq!(r.error_code().as_deref(), Some("method_not_allowed"));
        let r = router.handle(Request::get("/items/3"));
        assert_eq!(r.header("allow"), Some("DELETE"));
    }

    #[test]
    fn no_route_is_404_json_or_fallback() {
        let router = Router::new().get("/a", named("a"));
        let r = router.handle(Request::get("/b"));
        assert_eq!(r.status(), 404);
        assert_eq!(r.error_code().as_deref(), Some("not_found"));
        let router = router.fallback(|_: &Request| Response::text("fallback"));
        assert_eq!(body(router.handle(Request::get("/b"))), "fallback");
        assert_eq!(Router::new().handle(Request::get("/")).status(), 404);
    }

    #[test]
    fn any_and_head() {
        let router = Router::new()
            .any("/echo", |req: &Request| {
                Response::text(req.method().to_owned())
            })
            .get("/page", named("page"));
        assert_eq!(body(router.handle(Request::patch("/echo", ""))), "PATCH");
        let head = router.handle(Request::new("HEAD", "/page"));
        assert_eq!(head.status(), 200);
        assert!(head.body().is_empty());
        assert_eq!(
            head.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn method_routes_with_lower_case_names_match() {
        let router = Router::new().route("get", "/x", named("x"));
        assert_eq!(router.handle(Request::get("/x")).status(), 200);
        assert_eq!(format!("{router:?}"), "[GET /x]");
    }

    #[test]
    #[should_panic(expected = "must be the last segment")]
    fn catch_all_must_be_last() {
        let _ = Router::new().get("/{*rest}/x", named("bad"));
    }

    #[test]
    fn handlers_may_return_results_and_text() {
        fn fallible(req: &Request) -> Result<Response, Response> {
            let n: u32 = req
                .param("n")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Response::bad_request("n must be a number"))?;
            Ok(Response::json(&n))
        }
        let router = Router::new()
            .get("/n/{n}", fallible)
            .get("/ok", |_: &Request| "ok");
        assert_eq!(router.handle(Request::get("/n/5")).body(), b"5");
        assert_eq!(router.handle(Request::get("/n/x")).status(), 400);
        assert_eq!(body(router.handle(Request::get("/ok"))), "ok");
    }
}
