//! `islet:platform/identity`: the current caller as a pairwise subject, a
//! department-wide subject, and personal data items released only with
//! declaration, grant and consent, each release recorded.

use super::RequestState;
use super::bindings::islet::platform::identity::{
    self, Caller, ClaimError, ConsentRequest, DataItem as WitItem,
};
use crate::auth::{Citizen, PairwiseSubjects, citizen_key};
use crate::consent::{AccessRecord, Consents};
use crate::manifest::{DataItem, Grants, Manifest};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// The plugin version a call runs, as capabilities need it.
#[derive(Clone)]
pub struct PluginScope {
    /// Plugin id.
    pub id: Arc<str>,
    /// Owning department.
    pub department: Arc<str>,
    /// Version.
    pub version: Arc<str>,
    /// Its manifest.
    pub manifest: Arc<Manifest>,
    /// What a reviewer granted it.
    pub grants: Arc<Grants>,
}

/// Identity state of one request.
pub struct IdentityState {
    citizen: Option<Arc<Citizen>>,
    scope: PluginScope,
    pairwise: Arc<PairwiseSubjects>,
    consents: Arc<Consents>,
    request_id: Arc<str>,
    granted: bool,
    /// How many identity calls the guest made.
    pub calls: u32,
}

impl IdentityState {
    /// State for a request by `citizen` (none: anonymous) to the plugin in
    /// `scope`; when not `granted`, every caller looks anonymous.
    pub fn new(
        citizen: Option<Arc<Citizen>>,
        scope: PluginScope,
        pairwise: Arc<PairwiseSubjects>,
        consents: Arc<Consents>,
        request_id: Arc<str>,
        granted: bool,
    ) -> Self {
        IdentityState {
            citizen,
            scope,
            pairwise,
            consents,
            request_id,
            granted,
            calls: 0,
        }
    }

    fn caller(&self) -> Option<&Arc<Citizen>> {
        self.citizen.as_ref().filter(|_| self.granted)
    }

    fn subject(&self, citizen: &Citizen) -> String {
        let subject = self
            .pairwise
            .subject_for(&self.scope.id, &citizen.issuer, &citizen.subject);
        if let Err(e) = self
            .consents
            .remember_subject_with(&self.scope.id, &subject, || citizen_key(citizen))
        {
            tracing::warn!(error = %e, "cannot remember a pairwise subject");
        }
        subject
    }
}

fn item_of(item: WitItem) -> DataItem {
    match item {
        WitItem::RealName => DataItem::RealName,
        WitItem::NationalId => DataItem::NationalId,
        WitItem::Phone => DataItem::Phone,
        WitItem::Email => DataItem::Email,
        WitItem::LegalPerson => DataItem::LegalPerson,
    }
}

impl identity::Host for IdentityState {
    fn current_caller(&mut self) -> Option<Caller> {
        self.calls += 1;
        let citizen = self.caller()?.clone();
        Some(Caller {
            subject: self.subject(&citizen),
            assurance_level: citizen.assurance_level,
            roles: citizen.roles_for_plugin(&self.scope.id, &self.scope.department),
        })
    }

    fn claim(&mut self, wit_item: WitItem) -> Result<String, ClaimError> {
        self.calls += 1;
        let item = item_of(wit_item);
        let citizen = self.caller().ok_or(ClaimError::NoCaller)?.clone();
        let purpose = self
            .scope
            .manifest
            .personal_data
            .get(&item)
            .ok_or(ClaimError::NotDeclared)?
            .clone();
        if !self.scope.grants.personal_data.contains(&item) {
            return Err(ClaimError::NotGranted);
        }
        let key = citizen_key(&citizen);
        let no_consent = || {
            ClaimError::NoConsent(ConsentRequest {
                item: wit_item,
                purpose: purpose.clone(),
            })
        };
        let consent = match self.consents.data_consent(&key, &self.scope.id, item) {
            Ok(Some(c)) => c,
            Ok(None) => return Err(no_consent()),
            Err(e) => {
                // Without a readable consent there is no release.
                tracing::warn!(error = %e, "consent ledger unavailable");
                return Err(no_consent());
            }
        };
        let value = citizen
            .personal_data
            .get(&item)
            .cloned()
            .ok_or(ClaimError::NotAvailable)?;
        let record = AccessRecord {
            at_ms: crate::clock::now_ms(),
            plugin: self.scope.id.to_string(),
            version: self.scope.version.to_string(),
            item,
            purpose,
            consent_id: consent.id,
            request_id: self.request_id.to_string(),
            subject: self.subject(&citizen),
        };
        // No trail, no release.
        if let Err(e) = self.consents.record_access(&key, &record) {
            tracing::warn!(error = %e, "cannot record a data access; the claim is refused");
            return Err(ClaimError::NotAvailable);
        }
        metrics::counter!("islet_personal_data_releases_total", "plugin" => self.scope.id.to_string(), "item" => item.name()).increment(1);
        Ok(value)
    }

    fn department_subject(&mut self) -> Option<String> {
        self.calls += 1;
        let citizen = self.caller()?;
        Some(self.pairwise.subject_for(
            &format!("department:{}", self.scope.department),
            &citizen.issuer,
            &citizen.subject,
        ))
    }
}

/// Link `islet:platform/identity`.
pub fn add_to_linker(linker: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    identity::add_to_linker::<_, HasSelf<IdentityState>>(linker, |s| &mut s.identity)
}
