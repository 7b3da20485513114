//! The host-owned money path (issue 5, in progress): the order state
//! machine lives here as plain functions so it can be tested without a
//! guest, a provider or a store. Not yet wired to the WIT contract, the
//! store or HTTP.

pub mod order;
