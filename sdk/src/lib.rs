//! Write Islet mini-services in Rust.
//!
//! A mini-service is a WebAssembly component of the `paying-service` world
//! of the `islet:platform@0.1.0` WIT package: it exports the `handler` and
//! `payment-events` interfaces and may import the `identity`, `storage`,
//! `log`, `payment` and `notification` capabilities its manifest declares.
//! This crate hides the generated bindings behind:
//!
//! - [`Request`], [`Response`] and a [`Router`] with path parameters;
//! - [`identity`], [`storage`], [`log`], [`payment`] and [`notification`]:
//!   typed capability wrappers;
//! - [`export_service!`]: one line that makes the component answer requests
//!   (and, optionally, hear about its payments);
//! - `testing` (native targets only): a [`TestEnv`](crate::testing::TestEnv)
//!   that plays the host, so services are tested with plain `cargo test`.
//!
//! Each request runs in a fresh instance: nothing kept in memory survives to
//! the next one, so state lives in [`storage`].
//!
//! # Example
//!
//! A service that counts a signed-in citizen's visits, and its test:
//!
//! ```
//! use islet_sdk::{identity, storage, Request, Response, Router};
//!
//! fn router() -> Router {
//!     Router::new()
//!         .get("/", |_: &Request| Response::html("<h1>Visits</h1>"))
//!         .post("/visits", visit)
//!         .get("/visits/{subject}", show)
//! }
//!
//! fn visit(_req: &Request) -> Result<Response, Response> {
//!     let caller = identity::require_caller()?; // 401 when anonymous
//!     let n = storage::increment(&format!("visits/{}", caller.subject), 1)?;
//!     islet_sdk::info!("{} visited {n} times", caller.subject);
//!     Ok(Response::json(&serde_json::json!({ "visits": n })))
//! }
//!
//! fn show(req: &Request) -> Result<Response, Response> {
//!     let subject = req.param("subject").unwrap_or_default();
//!     match storage::get(&format!("visits/{subject}"))? {
//!         Some(n) => Ok(Response::bytes("application/json", n)),
//!         None => Err(Response::not_found()),
//!     }
//! }
//!
//! // Makes the component export `islet:platform/handler` (inert natively).
//! islet_sdk::export_service!(router);
//!
//! // In `#[cfg(test)] mod tests`:
//! use islet_sdk::testing::TestEnv;
//!
//! let mut env = TestEnv::new();
//! assert_eq!(env.call(&router(), Request::post("/visits", "")).status(), 401);
//!
//! env.as_caller("alice");
//! let r = env.call(&router(), Request::post("/visits", ""));
//! assert_eq!(r.body_text(), Some(r#"{"visits":1}"#));
//! assert_eq!(env.call(&router(), Request::get("/visits/alice")).body(), b"1");
//! assert_eq!(env.call(&router(), Request::get("/visits/bob")).status(), 404);
//! assert_eq!(env.call(&router(), Request::delete("/visits")).status(), 405);
//! assert_eq!(env.logs()[0].message, "alice visited 1 times");
//! ```
//!
//! # Payments
//!
//! A service charges the signed-in citizen by creating an order with
//! [`payment::create_order`] and sending the citizen to its
//! [`checkout_url`](payment::Order::checkout_url); the host's cashier takes
//! the money, and the service learns that the order is paid from a
//! [`payment::PaymentEvent`] delivered to its `on_payment` handler — at
//! least once, so handle events idempotently by their `id`:
//!
//! ```
//! use islet_sdk::payment::{self, EventKind, NewOrder, PaymentEvent};
//! use islet_sdk::{storage, Request, Response, Router};
//!
//! fn router() -> Router {
//!     Router::new().post("/pay", |_: &Request| -> Result<Response, Response> {
//!         let new = NewOrder::new("water-supply", 4268, "Water bill 2026-10", "bill-2026-10-1");
//!         let order = payment::create_order(&new)?; // same key again → same order
//!         Ok(Response::json(&serde_json::json!({ "checkout_url": order.checkout_url })))
//!     })
//! }
//!
//! fn on_payment(event: &PaymentEvent) -> Result<(), String> {
//!     let seen = format!("event/{}", event.id);
//!     if storage::get(&seen).map_err(|e| e.to_string())?.is_some() {
//!         return Ok(()); // a repeated delivery
//!     }
//!     if event.kind == EventKind::Paid {
//!         storage::set(&format!("paid/{}", event.order.order_key), b"1")
//!             .map_err(|e| e.to_string())?;
//!     }
//!     storage::set(&seen, b"").map_err(|e| e.to_string()) // Err → delivered again later
//! }
//!
//! islet_sdk::export_service!(router, on_payment = on_payment);
//!
//! // In a test: the env's fake ledger plays the host and the cashier.
//! let mut env = islet_sdk::testing::TestEnv::new();
//! env.grant_merchant("water-supply").as_caller("alice");
//! let r = env.call(&router(), Request::post("/pay", ""));
//! assert_eq!(r.body_text(), Some(r#"{"checkout_url":"/pay/o1"}"#));
//! let paid = env.pay("o1");
//! assert_eq!(env.deliver(on_payment, &paid), Ok(()));
//! assert_eq!(env.deliver(on_payment, &paid), Ok(())); // idempotent
//! assert!(env.stored("paid/bill-2026-10-1").is_some());
//! ```
//!
//! # Personal data and notifications
//!
//! A service sees a citizen only as a pairwise subject. To use a personal
//! data item (real name, phone, ...) it declares the item with a purpose
//! under the manifest's `[personal-data]`, an admin grants it, and the
//! citizen consents. [`identity::claim`] returns the value, or an
//! [`identity::ClaimError`]: on `NoConsent` return it (`?` makes it a `403`
//! whose error carries `"consent": {"item", "purpose"}`) — the app shows
//! the citizen a consent prompt and retries the request.
//!
//! Messages to a citizen's inbox use a template declared under
//! `[[templates]]` and approved by an admin; [`notification::send`] uses up
//! one of the recipient's consents to that template (a `one-time` consent
//! allows one message, a `long-term` one many):
//!
//! ```
//! use islet_sdk::identity::{self, DataItem};
//! use islet_sdk::{notification, Request, Response, Router};
//!
//! fn router() -> Router {
//!     Router::new()
//!         .get("/permit", |_: &Request| -> Result<Response, Response> {
//!             let name = identity::claim(DataItem::RealName)?; // 403 + consent to ask
//!             Ok(Response::json(&serde_json::json!({ "holder": name })))
//!         })
//!         .post("/ready", |_: &Request| -> Result<Response, Response> {
//!             let caller = identity::require_caller()?;
//!             let params = [("case", "12"), ("status", "ready")];
//!             let id = notification::send(&caller.subject, "status", &params, Some("/permit"))?;
//!             Ok(Response::json(&serde_json::json!({ "message": id })))
//!         })
//! }
//!
//! // In a test: the env releases only the items you allow.
//! let mut env = islet_sdk::testing::TestEnv::new();
//! env.as_caller("alice");
//! let r = env.call(&router(), Request::get("/permit"));
//! assert_eq!(r.status(), 403); // the app would prompt for consent
//! env.allow_claim(DataItem::RealName).set_claim(DataItem::RealName, "Li Lei");
//! assert_eq!(env.call(&router(), Request::get("/permit")).status(), 200);
//!
//! assert_eq!(env.call(&router(), Request::post("/ready", "")).status(), 409); // no consent
//! env.consent_messages("alice", "status", 1);
//! assert_eq!(env.call(&router(), Request::post("/ready", "")).status(), 200);
//! assert_eq!(env.sent()[0].params[1], ("status".into(), "ready".into()));
//! ```
//!
//! Build the component with `cargo build --target wasm32-wasip2 --release`
//! from a crate with `crate-type = ["cdylib"]` (add `"rlib"` to also run
//! integration tests); see the README for the manifest.

#[doc(hidden)]
#[allow(
    missing_docs,
    unsafe_code,
    clippy::all,
    reason = "generated by wit-bindgen: its ABI glue is unsafe and undocumented"
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "paying-service",
        pub_export_macro: true,
        default_bindings_module: "islet_sdk::bindings",
    });
}

pub mod identity;
pub mod log;
pub mod notification;
pub mod payment;
mod request;
mod response;
mod router;
pub mod storage;
mod sys;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use identity::Caller;
pub use request::{JsonError, Request};
pub use response::{IntoResponse, Response};
pub use router::Router;

/// The version of the `islet:platform` WIT package this SDK implements.
///
/// ```
/// assert_eq!(islet_sdk::PLATFORM_VERSION, "0.1.0");
/// ```
pub const PLATFORM_VERSION: &str = "0.1.0";

/// Export the mini-service: `islet_sdk::export_service!(router);` where
/// `router` is a `fn() -> islet_sdk::Router` (or a closure that captures
/// nothing), optionally with a payment event handler:
/// `islet_sdk::export_service!(router, on_payment = handler);` where
/// `handler` is a `fn(&islet_sdk::payment::PaymentEvent) -> Result<(), String>`.
///
/// On wasm32 this implements the `islet:platform/handler` export — each
/// request builds the router, converts the request, dispatches it and
/// returns the answer — and the `islet:platform/payment-events` export:
/// each event goes to `handler`, or is acknowledged with `Ok(())` when there
/// is none. An `Err` (or a panic) has the host deliver the event again
/// later. On other targets it only checks the types, so the crate still
/// builds and tests natively (deliver events there with
/// [`TestEnv::deliver`](crate::testing::TestEnv::deliver)). Use it once per
/// component.
///
/// ```
/// use islet_sdk::payment::{EventKind, PaymentEvent};
/// use islet_sdk::{Request, Router};
///
/// fn router() -> Router {
///     Router::new().get("/", |_: &Request| "hi")
/// }
///
/// fn on_payment(event: &PaymentEvent) -> Result<(), String> {
///     if event.kind == EventKind::Paid {
///         islet_sdk::info!("order {} paid", event.order.id);
///     }
///     Ok(())
/// }
///
/// islet_sdk::export_service!(router, on_payment = on_payment);
/// ```
#[macro_export]
macro_rules! export_service {
    (@export $router:expr, $handler:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct IsletService;

            impl $crate::bindings::exports::islet::platform::handler::Guest for IsletService {
                fn handle(
                    request: $crate::bindings::islet::platform::types::Request,
                ) -> $crate::bindings::islet::platform::types::Response {
                    $crate::__private::serve($router, request)
                }
            }

            impl $crate::bindings::exports::islet::platform::payment_events::Guest
                for IsletService
            {
                fn on_payment(
                    event: $crate::bindings::exports::islet::platform::payment_events::Event,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::on_payment($handler, event)
                }
            }

            $crate::bindings::export!(IsletService with_types_in $crate::bindings);
        };

        #[cfg(not(target_arch = "wasm32"))]
        const _: (
            fn() -> $crate::Router,
            fn(
                &$crate::payment::PaymentEvent,
            ) -> ::core::result::Result<(), ::std::string::String>,
        ) = ($router, $handler);
    };
    ($router:expr, on_payment = $handler:expr $(,)?) => {
        $crate::export_service!(@export $router, $handler);
    };
    ($router:expr $(,)?) => {
        $crate::export_service!(@export $router, $crate::__private::acknowledge);
    };
}

/// Support for [`export_service!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    use crate::bindings::islet::platform::types;
    use crate::payment::PaymentEvent;
    use crate::{Request, Router};

    /// The payment event handler of a service that names none: every event
    /// is acknowledged.
    pub fn acknowledge(_event: &PaymentEvent) -> Result<(), String> {
        Ok(())
    }

    /// Hand one event the host delivered to `handler`.
    #[cfg(target_arch = "wasm32")]
    pub fn on_payment(
        handler: impl FnOnce(&PaymentEvent) -> Result<(), String>,
        event: crate::bindings::exports::islet::platform::payment_events::Event,
    ) -> Result<(), String> {
        handler(&crate::sys::payment_event(event))
    }

    /// Answer one host request with the router `make_router` builds.
    pub fn serve(make_router: impl FnOnce() -> Router, request: types::Request) -> types::Response {
        let headers = request
            .headers
            .into_iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value))
            .collect();
        let request = Request::from_parts(
            &request.method,
            &request.path,
            &request.query,
            headers,
            request.body,
        );
        let (status, headers, body) = make_router().handle(request).into_parts();
        types::Response {
            status,
            headers: headers
                .into_iter()
                .map(|(name, value)| types::Header { name, value })
                .collect(),
            body,
        }
    }
}
