//! `islet:platform/notification`: consented messages to a citizen's inbox.
//! Every decision (grant, template approval, parameters, link, recipient,
//! consent, quotas) is made by [`Notifications::send`]; this module only
//! translates between the WIT and the host.

use super::RequestState;
use super::bindings::islet::platform::notification::{self, Error, Param};
use super::identity::PluginScope;
use crate::notify::{Notifications, Outgoing, SendError};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// Notification state of one call.
pub struct NotificationState {
    notifications: Arc<Notifications>,
    scope: PluginScope,
    /// How many notification calls the guest made.
    pub calls: u32,
}

impl NotificationState {
    /// State for a call of the plugin version in `scope` (its grants decide
    /// what it may send).
    pub fn new(notifications: Arc<Notifications>, scope: PluginScope) -> Self {
        NotificationState {
            notifications,
            scope,
            calls: 0,
        }
    }
}

fn to_wit(e: SendError) -> Error {
    match e {
        SendError::NoConsent => Error::NoConsent,
        SendError::TemplateNotApproved(t) => Error::TemplateNotApproved(t),
        SendError::QuotaExceeded => Error::QuotaExceeded,
        SendError::BadParameters(m) => Error::BadParameters(m),
        SendError::UnknownRecipient => Error::UnknownRecipient,
        SendError::Unavailable(m) => Error::Unavailable(m),
    }
}

impl notification::Host for NotificationState {
    fn send(
        &mut self,
        recipient: String,
        template: String,
        params: Vec<Param>,
        link: Option<String>,
    ) -> Result<String, Error> {
        self.calls += 1;
        let params: Vec<(String, String)> = params.into_iter().map(|p| (p.name, p.value)).collect();
        let outgoing = Outgoing {
            plugin: &self.scope.id,
            manifest: &self.scope.manifest,
            grants: &self.scope.grants,
            recipient: &recipient,
            template: &template,
            params: &params,
            link: link.as_deref(),
        };
        self.notifications
            .send(&outgoing)
            .map(|message| message.id)
            .map_err(to_wit)
    }
}

/// Link `islet:platform/notification`.
pub fn add_to_linker(linker: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    notification::add_to_linker::<_, HasSelf<NotificationState>>(linker, |s| &mut s.notification)
}
