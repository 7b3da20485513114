//! Send policy without wasm: grants, templates, links, recipients,
//! consents, quotas and the race on one one-time consent.

use super::*;
use crate::consent::ConsentFor;
use crate::manifest::{Capability, Grants, Manifest, TemplateKind};
use crate::store::SledStore;

const MANIFEST: &str = r#"
id = "probe"
name = "Probe"
version = "0.1.0"
department = "probe"
description = "Sends messages."
category = "test"
capabilities = ["identity", "notification"]
[[templates]]
id = "status"
title = "Case status"
body = "Your case {case} is now {status}."
kind = "one-time"
[[templates]]
id = "alerts"
title = "Alerts"
body = "{text}"
kind = "long-term"
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    consents: Arc<Consents>,
    notifications: Arc<Notifications>,
    manifest: Manifest,
    grants: Grants,
}

fn fixture(config: NotificationConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn KvStore> = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
    let consents = Arc::new(Consents::new(store));
    consents
        .remember_subject("probe", "subj-ann", "ann")
        .unwrap();
    consents
        .remember_subject("probe", "subj-bob", "bob")
        .unwrap();
    let manifest: Manifest = MANIFEST.parse().unwrap();
    Fixture {
        _dir: dir,
        notifications: Arc::new(Notifications::new(consents.clone(), config, Vec::new())),
        consents,
        grants: Grants::everything_requested(&manifest),
        manifest,
    }
}

impl Fixture {
    fn consent(&self, citizen: &str, template: &str, mode: TemplateKind) {
        let what = ConsentFor::Template {
            template: template.into(),
            title: "t".into(),
            mode,
            remaining: 0,
        };
        self.consents.grant(citizen, "probe", what).unwrap();
    }

    fn send(
        &self,
        recipient: &str,
        params: &[(&str, &str)],
        link: Option<&str>,
    ) -> Result<Message, SendError> {
        self.send_as(&self.grants, recipient, "status", params, link)
    }

    fn send_as(
        &self,
        grants: &Grants,
        recipient: &str,
        template: &str,
        params: &[(&str, &str)],
        link: Option<&str>,
    ) -> Result<Message, SendError> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.notifications.send(&Outgoing {
            plugin: "probe",
            manifest: &self.manifest,
            grants,
            recipient,
            template,
            params: &params,
            link,
        })
    }
}

const PARAMS: &[(&str, &str)] = &[("case", "12"), ("status", "closed")];

#[test]
fn every_check_refuses_with_its_error_and_changes_nothing() {
    let f = fixture(NotificationConfig::default());
    assert_eq!(f.send("subj-ann", PARAMS, None), Err(SendError::NoConsent));
    f.consent("ann", "status", TemplateKind::OneTime);

    let mut no_cap = f.grants.clone();
    no_cap.capabilities.remove(&Capability::Notification);
    assert!(matches!(
        f.send_as(&no_cap, "subj-ann", "status", PARAMS, None),
        Err(SendError::TemplateNotApproved(m)) if m.contains("capability")
    ));
    let mut no_template = f.grants.clone();
    no_template.templates.remove("status");
    assert_eq!(
        f.send_as(&no_template, "subj-ann", "status", PARAMS, None),
        Err(SendError::TemplateNotApproved("status".into()))
    );
    assert_eq!(
        f.send_as(&f.grants, "subj-ann", "nope", PARAMS, None),
        Err(SendError::TemplateNotApproved("nope".into()))
    );
    assert!(matches!(
        f.send("subj-ann", &PARAMS[..1], None),
        Err(SendError::BadParameters(_))
    ));
    for link in [
        "reports/1",
        "//evil.example",
        "/a/../b",
        "/a b",
        &format!("/{}", "x".repeat(200)),
    ] {
        assert!(
            matches!(
                f.send("subj-ann", PARAMS, Some(link)),
                Err(SendError::BadParameters(_))
            ),
            "{link}"
        );
    }
    assert_eq!(
        f.send("subj-zed", PARAMS, None),
        Err(SendError::UnknownRecipient)
    );
    assert_eq!(
        f.send("ann", PARAMS, None),
        Err(SendError::UnknownRecipient),
        "a host key is not a subject"
    );
    assert_eq!(
        f.notifications
            .inbox("ann", None, 10)
            .unwrap()
            .messages
            .len(),
        0
    );

    let sent = f.send("subj-ann", PARAMS, Some("/cases/12")).unwrap();
    assert_eq!(sent.body, "Your case 12 is now closed.");
    assert_eq!(sent.link.as_deref(), Some("/p/probe/cases/12"));
    assert_eq!(
        f.send("subj-ann", PARAMS, None),
        Err(SendError::NoConsent),
        "used up"
    );
}

#[test]
fn long_term_needs_the_grant_and_a_long_term_consent() {
    let f = fixture(NotificationConfig::default());
    let text = &[("text", "Road closed")][..];
    f.consent("ann", "alerts", TemplateKind::LongTerm);
    let mut not_allowed = f.grants.clone();
    not_allowed.long_term_messages = false;
    assert_eq!(
        f.send_as(&not_allowed, "subj-ann", "alerts", text, None),
        Err(SendError::NoConsent)
    );
    for _ in 0..3 {
        f.send_as(&f.grants, "subj-ann", "alerts", text, None)
            .unwrap();
    }
    assert_eq!(f.notifications.unread("ann").unwrap(), 3);
}

#[test]
fn quotas_count_per_plugin_and_per_citizen() {
    let f = fixture(NotificationConfig {
        plugin_daily_quota: 3,
        citizen_daily_cap: 2,
        ..NotificationConfig::default()
    });
    for _ in 0..3 {
        f.consent("ann", "status", TemplateKind::OneTime);
        f.consent("bob", "status", TemplateKind::OneTime);
    }
    f.send("subj-ann", PARAMS, None).unwrap();
    f.send("subj-ann", PARAMS, None).unwrap();
    assert_eq!(
        f.send("subj-ann", PARAMS, None),
        Err(SendError::QuotaExceeded),
        "citizen cap"
    );
    f.send("subj-bob", PARAMS, None).unwrap();
    assert_eq!(
        f.send("subj-bob", PARAMS, None),
        Err(SendError::QuotaExceeded),
        "plugin quota"
    );
    let (_, consent) = f
        .consents
        .read(&crate::consent::template_key("bob", "probe", "status"))
        .unwrap()
        .unwrap();
    assert!(
        matches!(consent.what, ConsentFor::Template { remaining: 2, .. }),
        "a refused send keeps the consent"
    );
    assert_eq!(f.notifications.prune_counters("9999-01-01").unwrap(), 3);
}

#[test]
fn racing_sends_use_one_one_time_consent_once() {
    let f = fixture(NotificationConfig::default());
    f.consent("ann", "status", TemplateKind::OneTime);
    f.consent("ann", "status", TemplateKind::OneTime);
    let f = Arc::new(f);
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || f.send("subj-ann", PARAMS, None))
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let sent = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(sent, 2, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(SendError::NoConsent))
    );
    let page = f.notifications.inbox("ann", None, 10).unwrap();
    assert_eq!((page.messages.len(), page.unread), (2, 2));
}

#[test]
fn inbox_pages_newest_first_and_reads_once() {
    let f = fixture(NotificationConfig::default());
    f.consent("ann", "alerts", TemplateKind::LongTerm);
    let mut ids = Vec::new();
    for i in 0..5 {
        let text = format!("n{i}");
        ids.push(
            f.send_as(&f.grants, "subj-ann", "alerts", &[("text", &text)], None)
                .unwrap()
                .id,
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let first = f.notifications.inbox("ann", None, 3).unwrap();
    assert_eq!(
        first
            .messages
            .iter()
            .map(|m| m.body.as_str())
            .collect::<Vec<_>>(),
        ["n4", "n3", "n2"]
    );
    let cursor = first.next_cursor.unwrap();
    let second = f.notifications.inbox("ann", Some(&cursor), 3).unwrap();
    assert_eq!(second.messages.len(), 2);
    assert_eq!(second.next_cursor, None);
    assert!(matches!(
        f.notifications.inbox("ann", Some("x/../"), 3),
        Err(InboxError::BadCursor)
    ));

    assert_eq!(f.notifications.mark_read("ann", &ids[0]).unwrap().1, 4);
    assert_eq!(
        f.notifications.mark_read("ann", &ids[0]).unwrap().1,
        4,
        "idempotent"
    );
    assert!(matches!(
        f.notifications.mark_read("bob", &ids[1]),
        Err(InboxError::NotFound)
    ));
    assert!(f.notifications.inbox("ann", None, 10).unwrap().messages[4].read);
}

#[test]
fn old_messages_are_pruned_and_unread_counts_follow() {
    let f = fixture(NotificationConfig::default());
    for _ in 0..3 {
        f.consent("ann", "status", TemplateKind::OneTime);
    }
    let first = f.send("subj-ann", PARAMS, None).unwrap();
    f.send("subj-ann", PARAMS, None).unwrap();
    f.notifications.mark_read("ann", &first.id).unwrap();
    assert_eq!(f.notifications.unread("ann").unwrap(), 1);
    assert_eq!(
        f.notifications.prune_before(first.at_ms).unwrap(),
        0,
        "nothing is that old"
    );
    let later = crate::clock::now_ms() + 1;
    assert_eq!(f.notifications.prune_before(later).unwrap(), 2);
    assert_eq!(
        f.notifications.unread("ann").unwrap(),
        0,
        "the unread one went too"
    );
    let page = f.notifications.inbox("ann", None, 10).unwrap();
    assert!(page.messages.is_empty());
    let kept = f.send("subj-ann", PARAMS, None).unwrap();
    assert_eq!(
        f.notifications.prune_before(kept.at_ms).unwrap(),
        0,
        "not older than the cutoff"
    );
    assert_eq!(
        f.notifications.inbox("ann", None, 10).unwrap().messages[0].id,
        kept.id
    );
}

#[test]
fn delivery_listing_merges_channels_newest_first() {
    let f = fixture(NotificationConfig::default());
    let store = f.notifications.store.clone();
    let mut batch = crate::store::Batch::default();
    for (channel, at_ms, status) in [
        ("sms", 1_000, DeliveryStatus::Delivered),
        ("webhook", 2_000, DeliveryStatus::Failed),
        ("sms", 3_000, DeliveryStatus::Failed),
        ("webhook", 4_000, DeliveryStatus::Delivered),
    ] {
        let id = super::keys::new_message_id(at_ms);
        let mut entry = OutboxEntry::new(
            channel,
            Delivery {
                id: id.clone(),
                plugin: "probe".into(),
                template: "status".into(),
                title: "t".into(),
                body: "b".into(),
                link: None,
                at_ms,
                recipient: "ann".into(),
            },
        );
        entry.status = status;
        batch = batch.put(
            super::keys::outbox(channel, &id),
            serde_json::to_vec(&entry).unwrap(),
        );
    }
    store.commit(crate::consent::NAMESPACE, &batch).unwrap();
    let at =
        |list: Vec<OutboxEntry>| -> Vec<u64> { list.iter().map(|e| e.delivery.at_ms).collect() };
    assert_eq!(
        at(f.notifications.deliveries(None, 10).unwrap()),
        [4_000, 3_000, 2_000, 1_000]
    );
    assert_eq!(
        at(f.notifications.deliveries(None, 2).unwrap()),
        [4_000, 3_000]
    );
    assert_eq!(
        at(f.notifications
            .deliveries(Some(DeliveryStatus::Failed), 10)
            .unwrap()),
        [3_000, 2_000]
    );
}
