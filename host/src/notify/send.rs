//! `send`: every check, then one atomic batch that consumes the consent,
//! counts against both quotas, lands the message in the inbox, bumps the
//! unread count and queues the outbound deliveries.

use super::channel::Delivery;
use super::keys::{self, Message};
use super::outbox::OutboxEntry;
use super::quota::Counter;
use super::{InboxEvent, Notifications};
use crate::clock::{date_of, now_ms};
use crate::consent::{Consent, ConsentError, ConsentFor, NAMESPACE, template_key};
use crate::manifest::{Capability, Grants, Manifest, Template, TemplateKind};
use crate::store::{Batch, StoreError, WriteError};
use std::sync::Arc;

/// Why a message was not sent (the WIT `notification.error` cases).
/// Nothing was delivered and no consent was used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No (remaining) consent of the recipient for this template.
    #[error("the recipient has not consented to this template")]
    NoConsent,
    /// Not declared, not approved, or the capability was not granted.
    #[error("template not approved: {0}")]
    TemplateNotApproved(String),
    /// The plugin's daily quota or the recipient's daily cap is reached.
    #[error("the daily message quota is reached")]
    QuotaExceeded,
    /// Parameters or link are wrong; says which.
    #[error("bad parameters: {0}")]
    BadParameters(String),
    /// The recipient is not a subject of this plugin.
    #[error("unknown recipient")]
    UnknownRecipient,
    /// The store failed; safe to retry.
    #[error("notifications are unavailable: {0}")]
    Unavailable(String),
}

impl SendError {
    /// A short kebab-case name for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SendError::NoConsent => "no-consent",
            SendError::TemplateNotApproved(_) => "template-not-approved",
            SendError::QuotaExceeded => "quota-exceeded",
            SendError::BadParameters(_) => "bad-parameters",
            SendError::UnknownRecipient => "unknown-recipient",
            SendError::Unavailable(_) => "unavailable",
        }
    }
}

impl From<StoreError> for SendError {
    fn from(e: StoreError) -> Self {
        SendError::Unavailable(e.0)
    }
}

impl From<ConsentError> for SendError {
    fn from(e: ConsentError) -> Self {
        SendError::Unavailable(e.to_string())
    }
}

/// One message a plugin version asks to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The sending plugin.
    pub plugin: &'a str,
    /// Its version's manifest.
    pub manifest: &'a Manifest,
    /// What a reviewer granted the version.
    pub grants: &'a Grants,
    /// A pairwise subject of the plugin.
    pub recipient: &'a str,
    /// The template id.
    pub template: &'a str,
    /// Values for the template's placeholders.
    pub params: &'a [(String, String)],
    /// A path inside the plugin the message opens.
    pub link: Option<&'a str>,
}

/// Longest link a plugin may give, characters.
pub const MAX_LINK_CHARS: usize = 200;
/// Longest pairwise subject looked up.
const MAX_SUBJECT_CHARS: usize = 128;
/// Commits tried before a contended send gives up.
const MAX_TRIES: usize = 200;

/// The template `id` if the manifest declares it and it was approved.
fn approved<'m>(
    manifest: &'m Manifest,
    grants: &Grants,
    id: &str,
) -> Result<&'m Template, SendError> {
    if !grants.capabilities.contains(&Capability::Notification) {
        return Err(SendError::TemplateNotApproved(
            "the notification capability was not granted".into(),
        ));
    }
    let shown: String = id.chars().take(64).collect();
    match manifest.template(id) {
        Some(t) if grants.templates.contains(id) => Ok(t),
        _ => Err(SendError::TemplateNotApproved(shown)),
    }
}

/// The app path of `link` inside `plugin`: `/p/{plugin}{link}`. The link
/// must start with `/`, hold no `//`, no `..`, only visible ASCII, and be
/// at most [`MAX_LINK_CHARS`] long.
pub fn plugin_link(plugin: &str, link: &str) -> Result<String, SendError> {
    let bad = |why: &str| Err(SendError::BadParameters(format!("link: {why}")));
    if link.chars().count() > MAX_LINK_CHARS {
        return bad(&format!("longer than {MAX_LINK_CHARS} characters"));
    }
    if !link.starts_with('/') {
        return bad("must be a path inside the mini-service, starting with /");
    }
    if link.contains("//") || link.contains("..") || link.contains('\\') {
        return bad("must not contain //, .. or \\");
    }
    if !link.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("only visible ASCII characters (percent-encode the rest)");
    }
    Ok(format!("/p/{plugin}{link}"))
}

/// What sending under `consent` leaves behind: `Ok(Some(c))` the one-time
/// consent with one use less, `Ok(None)` an unchanged long-term consent,
/// `Err(NoConsent)` when it does not allow a message of `kind`.
pub fn consume(
    consent: &Consent,
    kind: TemplateKind,
    long_term_allowed: bool,
) -> Result<Option<Consent>, SendError> {
    match (&consent.what, kind) {
        (
            ConsentFor::Template {
                template,
                title,
                mode: TemplateKind::OneTime,
                remaining,
            },
            TemplateKind::OneTime,
        ) if *remaining >= 1 => Ok(Some(Consent {
            what: ConsentFor::Template {
                template: template.clone(),
                title: title.clone(),
                mode: TemplateKind::OneTime,
                remaining: remaining - 1,
            },
            ..consent.clone()
        })),
        (
            ConsentFor::Template {
                mode: TemplateKind::LongTerm,
                ..
            },
            TemplateKind::LongTerm,
        ) if long_term_allowed => Ok(None),
        _ => Err(SendError::NoConsent),
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, SendError> {
    serde_json::to_vec(value).map_err(|e| SendError::Unavailable(e.to_string()))
}

/// A checked send, ready to be committed.
struct Prepared<'a> {
    out: &'a Outgoing<'a>,
    template: &'a Template,
    body: String,
    link: Option<String>,
    citizen: String,
}

impl Notifications {
    /// Send one message; returns it as it landed in the inbox. Refusals
    /// change nothing.
    pub fn send(&self, out: &Outgoing<'_>) -> Result<Message, SendError> {
        let result = self.checked(out).and_then(|p| self.commit_send(&p));
        let outcome = match &result {
            Ok(_) => "sent",
            Err(e) => e.kind(),
        };
        metrics::counter!("islet_notifications_total", "plugin" => out.plugin.to_string(), "outcome" => outcome).increment(1);
        result
    }

    fn checked<'a>(&self, out: &'a Outgoing<'a>) -> Result<Prepared<'a>, SendError> {
        let template = approved(out.manifest, out.grants, out.template)?;
        let body = template
            .render(out.params)
            .map_err(SendError::BadParameters)?;
        let link = out.link.map(|l| plugin_link(out.plugin, l)).transpose()?;
        if out.recipient.is_empty() || out.recipient.chars().count() > MAX_SUBJECT_CHARS {
            return Err(SendError::UnknownRecipient);
        }
        let citizen = self
            .consents
            .citizen_of(out.plugin, out.recipient)?
            .ok_or(SendError::UnknownRecipient)?;
        Ok(Prepared {
            out,
            template,
            body,
            link,
            citizen,
        })
    }

    fn commit_send(&self, p: &Prepared<'_>) -> Result<Message, SendError> {
        for _ in 0..MAX_TRIES {
            if let Some(sent) = self.try_commit(p)? {
                self.store.flush()?;
                let (message, unread) = sent;
                let message = Arc::new(message);
                self.publish(InboxEvent {
                    citizen: p.citizen.as_str().into(),
                    message: Some(message.clone()),
                    unread,
                });
                if !self.channels.is_empty() {
                    self.wake.notify_one();
                }
                return Ok(Message::clone(&message));
            }
        }
        Err(SendError::Unavailable(
            "too many concurrent sends; retry".into(),
        ))
    }

    /// One attempt: `Ok(None)` when a concurrent change got in first.
    fn try_commit(&self, p: &Prepared<'_>) -> Result<Option<(Message, u64)>, SendError> {
        let (plugin, citizen) = (p.out.plugin, p.citizen.as_str());
        let consent_key = template_key(citizen, plugin, &p.template.id);
        let (consent_raw, consent) = self
            .consents
            .read(&consent_key)?
            .ok_or(SendError::NoConsent)?;
        let used = consume(&consent, p.template.kind, p.out.grants.long_term_messages)?;
        let now = now_ms();
        let date = date_of(now / 1000);
        let store = self.store.as_ref();
        let plugin_day = Counter::read(store, keys::plugin_day(&date, plugin))?;
        let citizen_day = Counter::read(store, keys::citizen_day(&date, citizen, plugin))?;
        if plugin_day.value >= self.config.plugin_daily_quota
            || citizen_day.value >= self.config.citizen_daily_cap
        {
            return Err(SendError::QuotaExceeded);
        }
        let unread = Counter::read(store, keys::unread(citizen))?;
        let message = Message {
            id: keys::new_message_id(now),
            plugin: plugin.to_string(),
            service_name: p.out.manifest.name.clone(),
            template: p.template.id.clone(),
            title: p.template.title.clone(),
            body: p.body.clone(),
            link: p.link.clone(),
            at_ms: now,
            read: false,
        };
        let mut batch = Batch::new().expect(consent_key.clone(), Some(consent_raw));
        if let Some(used) = used {
            batch = batch.put(consent_key, encode(&used)?);
        }
        batch = plugin_day.set(batch, plugin_day.value + 1);
        batch = citizen_day.set(batch, citizen_day.value + 1);
        batch = unread.set(batch, unread.value + 1);
        batch = batch.put(keys::message(citizen, &message.id), encode(&message)?);
        for channel in &self.channels {
            let entry = OutboxEntry::new(channel.name(), delivery_of(&message, citizen));
            batch = batch
                .put(keys::outbox(channel.name(), &message.id), encode(&entry)?)
                .put(
                    keys::pending(channel.name(), &message.id),
                    crate::lanes::hint(entry.next_attempt_ms, plugin),
                );
        }
        match self.store.commit(NAMESPACE, &batch) {
            Ok(()) => Ok(Some((message, unread.value + 1))),
            Err(WriteError::Conflict) => Ok(None),
            Err(e) => Err(SendError::Unavailable(e.to_string())),
        }
    }
}

fn delivery_of(message: &Message, citizen: &str) -> Delivery {
    Delivery {
        id: message.id.clone(),
        plugin: message.plugin.clone(),
        template: message.template.clone(),
        title: message.title.clone(),
        body: message.body.clone(),
        link: message.link.clone(),
        at_ms: message.at_ms,
        recipient: citizen.to_string(),
    }
}
