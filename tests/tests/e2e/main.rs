//! End-to-end tests: real components built from `plugins/` and
//! `tests/guests/`, real hosts on random ports, real sled, real HTTP.

mod browser;
mod consent;
mod edge;
mod hosts;
mod input;
mod isolation;
mod js;
mod jwks;
mod jwt;
mod language;
mod lifecycle;
mod log_and_disk;
mod metering;
mod money_admin;
mod money_console;
mod notification;
mod openapi;
mod operations;
mod outage;
mod page_sandbox;
mod payment;
mod payment_lanes;
mod payment_orders;
mod pool;
mod protection;
mod registry;
mod rolling;
mod routing;
mod sandbox;
mod std_guest;
mod storage;
mod time_isolation;
