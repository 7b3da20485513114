//! What citizens allow each mini-service: personal data items (for the
//! purpose the manifest states) and message templates (one-time consents
//! that accumulate, or long-term). Also the trail of every personal-data
//! release, and which citizen stands behind a plugin's pairwise subject.
//!
//! Everything lives in one store namespace, so a notification can consume
//! a one-time consent, count against quotas and land in the inbox in one
//! atomic batch.

mod ledger;
mod subjects;
mod trail;

pub use ledger::{Consent, ConsentError, ConsentFor, Consents, template_key};
pub use trail::AccessRecord;

/// The store namespace of consents, the data-access trail, subjects and
/// inboxes.
pub const NAMESPACE: &str = "consent";
