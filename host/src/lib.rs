//! Islet: the host that runs a city app's mini-services as sandboxed
//! WebAssembly components.
//!
//! - [`runtime`] loads, checks, caches and runs components under limits;
//! - [`capabilities`] are what a component may import (`identity`,
//!   `storage`, `log`, `payment`, `notification`, plus a WASI subset with
//!   an empty context);
//! - [`registry`] keeps installed plugins and swaps versions without downtime;
//! - [`http`] routes the app's calls, the catalog and the admin API;
//! - [`auth`] verifies citizens' tokens and derives pairwise subjects;
//! - [`consent`] keeps citizens' consents and data-access trails,
//!   [`payment`] the money path, [`notify`] inboxes and outbound channels;
//! - [`store`] is the storage trait and its embedded sled backend;
//! - [`protect`] holds quotas, rate limits and circuit breakers, [`usage`]
//!   meters what each plugin costs, [`audit`] records admin actions and
//!   [`metrics`] exports Prometheus figures;
//! - [`conn`] is the connection edge (timeouts, connection caps);
//! - [`server`] assembles them; [`cli`] is the `islet` command.

pub mod audit;
pub mod auth;
pub mod blocking;
pub mod capabilities;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conn;
pub mod consent;
pub mod deadline;
pub mod devhost;
pub mod http;
pub mod lanes;
pub mod limits;
pub mod logging;
pub mod malloc;
pub mod manifest;
pub mod metrics;
pub mod notify;
pub mod payment;
pub mod pool;
pub mod private;
pub mod protect;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod store;
pub mod usage;

pub use config::ServerConfig;
pub use server::{RunningServer, start};
