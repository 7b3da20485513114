//! `hello`: the smallest useful Islet mini-service, and the benchmark target.
//!
//! Every `GET` answers `{"message":"Hello, <subject>!"}` for a signed-in
//! caller and `{"message":"Hello, guest!"}` otherwise. It touches no storage
//! and writes no log line, so a call costs one identity lookup.

use islet_sdk::{Request, Response, Router, identity};
use serde::Serialize;

/// The greeting's JSON body.
#[derive(Debug, Serialize)]
struct Greeting {
    message: String,
}

/// Answer `GET /` and every other path with a greeting.
pub fn router() -> Router {
    Router::new().get("/{*path}", greet)
}

fn greet(_req: &Request) -> Response {
    let name = identity::current_caller().map(|c| c.subject);
    Response::json(&Greeting {
        message: format!("Hello, {}!", name.as_deref().unwrap_or("guest")),
    })
}

islet_sdk::export_service!(router);

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use islet_sdk::testing::TestEnv;

    fn message(r: &Response) -> String {
        let v: serde_json::Value = r.body_json().unwrap();
        v["message"].as_str().unwrap().to_owned()
    }

    #[test]
    fn greets_guests_and_callers_on_any_path() {
        let mut env = TestEnv::new();
        let r = env.call(&router(), Request::get("/"));
        assert_eq!(r.status(), 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(message(&r), "Hello, guest!");

        env.as_caller("pw-3f9a");
        assert_eq!(
            message(&env.call(&router(), Request::get("/"))),
            "Hello, pw-3f9a!"
        );
        assert_eq!(
            message(&env.call(&router(), Request::get("/a/b?c=d"))),
            "Hello, pw-3f9a!"
        );
    }

    #[test]
    fn other_methods_are_refused_and_nothing_is_stored() {
        let env = TestEnv::new();
        let r = env.call(&router(), Request::post("/", "x"));
        assert_eq!(r.status(), 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
        assert!(env.keys("").is_empty());
        assert!(env.logs().is_empty());
    }
}
