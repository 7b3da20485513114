//! `islet:platform/identity`: the current caller, as a pairwise subject.

use super::RequestState;
use super::bindings::islet::platform::identity::{self, Caller};
use crate::auth::{Citizen, PairwiseSubjects};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// Identity state of one request.
pub struct IdentityState {
    citizen: Option<Arc<Citizen>>,
    plugin_id: Arc<str>,
    department: Arc<str>,
    pairwise: Arc<PairwiseSubjects>,
    granted: bool,
    /// How many identity calls the guest made.
    pub calls: u32,
}

impl IdentityState {
    /// State for a request by `citizen` (none: anonymous) to `plugin_id`;
    /// when not `granted`, every caller looks anonymous.
    pub fn new(
        citizen: Option<Arc<Citizen>>,
        plugin_id: Arc<str>,
        department: Arc<str>,
        pairwise: Arc<PairwiseSubjects>,
        granted: bool,
    ) -> Self {
        IdentityState {
            citizen,
            plugin_id,
            department,
            pairwise,
            granted,
            calls: 0,
        }
    }
}

impl identity::Host for IdentityState {
    fn current_caller(&mut self) -> Option<Caller> {
        self.calls += 1;
        if !self.granted {
            return None;
        }
        let citizen = self.citizen.as_ref()?;
        Some(Caller {
            subject: self
                .pairwise
                .subject_for(&self.plugin_id, &citizen.issuer, &citizen.subject),
            assurance_level: citizen.assurance_level,
            roles: citizen.roles_for_plugin(&self.plugin_id, &self.department),
        })
    }
}

/// Link `islet:platform/identity`.
pub fn add_to_linker(linker: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    identity::add_to_linker::<_, HasSelf<IdentityState>>(linker, |s| &mut s.identity)
}
