//! Who is calling: the `islet:platform/identity` capability.
//!
//! Needs `identity` in the manifest's `capabilities`.

use crate::response::Response;
use serde::{Deserialize, Serialize};

/// The role the host gives callers who work for the mini-service's department.
pub const STAFF: &str = "staff";

/// The signed-in citizen behind the current request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// Pairwise pseudonymous subject: stable for one citizen within this
    /// mini-service, different in every other one.
    pub subject: String,
    /// Real-name assurance level: 0 unknown, 1 self-asserted, 2 verified
    /// phone, 3 two-factor real-name check, 4 verified person, 5 certificate
    /// or in person.
    pub assurance_level: u8,
    /// The caller's roles that concern this mini-service, e.g. [`STAFF`].
    pub roles: Vec<String>,
}

impl Caller {
    /// A caller with `subject`, assurance level 0 and no roles.
    pub fn new(subject: impl Into<String>) -> Self {
        Caller {
            subject: subject.into(),
            assurance_level: 0,
            roles: Vec::new(),
        }
    }

    /// This caller with `role` added.
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// This caller with assurance level `level`.
    pub fn with_assurance_level(mut self, level: u8) -> Self {
        self.assurance_level = level;
        self
    }

    /// Whether the caller has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the caller works for the mini-service's department.
    pub fn is_staff(&self) -> bool {
        self.has_role(STAFF)
    }
}

/// The current caller, or `None` for an anonymous request.
///
/// On a native target (tests) this is the caller of the current
/// [`TestEnv`](crate::testing::TestEnv), or `None` outside one.
pub fn current_caller() -> Option<Caller> {
    crate::sys::current_caller()
}

/// The current caller, or a `401 unauthenticated` response to return.
///
/// ```no_run
/// use islet_sdk::{identity, Request, Response};
///
/// fn mine(_req: &Request) -> Result<Response, Response> {
///     let caller = identity::require_caller()?;
///     Ok(Response::text(format!("hello {}", caller.subject)))
/// }
/// ```
pub fn require_caller() -> Result<Caller, Response> {
    current_caller().ok_or_else(Response::unauthorized)
}

/// The current caller if they have `role`; otherwise a `401` response for
/// an anonymous request or a `403 forbidden` one for a caller without it.
pub fn require_role(role: &str) -> Result<Caller, Response> {
    let caller = require_caller()?;
    if caller.has_role(role) {
        Ok(caller)
    } else {
        Err(Response::forbidden(&format!("this needs the {role} role")))
    }
}
