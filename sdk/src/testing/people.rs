//! The people side of [`TestEnv`]: personal data claims with a fake consent
//! check, the department subject, and a fake inbox with per-template
//! message consents.

use super::TestEnv;
use crate::identity::{Caller, ClaimError, DataItem};
use crate::notification::NotifyError;
use std::collections::{BTreeMap, BTreeSet};

/// The purpose a [`TestEnv`] puts in the [`ClaimError::NoConsent`] of an
/// item not allowed with [`TestEnv::allow_claim`].
///
/// ```
/// use islet_sdk::identity::{self, ClaimError, DataItem};
/// use islet_sdk::testing::TestEnv;
/// let mut env = TestEnv::new();
/// env.as_caller("pw-alice");
/// let asked = identity::claim(DataItem::Phone).unwrap_err().consent_request().unwrap();
/// assert_eq!(asked.purpose, islet_sdk::testing::TEST_PURPOSE);
/// ```
pub const TEST_PURPOSE: &str = "(test)";

/// One message a service sent through a [`TestEnv`].
///
/// ```
/// use islet_sdk::testing::TestEnv;
/// let mut env = TestEnv::new();
/// env.consent_messages("pw-alice", "status", 1);
/// islet_sdk::notification::send("pw-alice", "status", &[("case", "12")], Some("/cases/12")).unwrap();
/// let m = &env.sent()[0];
/// assert_eq!((m.id.as_str(), m.link.as_deref()), ("m1", Some("/cases/12")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The id [`notification::send`](crate::notification::send) returned:
    /// `m1`, `m2`, ...
    pub id: String,
    /// The recipient's subject.
    pub recipient: String,
    /// The template id.
    pub template: String,
    /// The `(placeholder, value)` pairs, in the order given.
    pub params: Vec<(String, String)>,
    /// The path inside the mini-service the message opens, if any.
    pub link: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct People {
    values: BTreeMap<DataItem, String>,
    allowed: BTreeSet<DataItem>,
    failures: BTreeMap<DataItem, ClaimError>,
    consents: BTreeMap<(String, String), u32>,
    sent: Vec<SentMessage>,
    unavailable: Option<String>,
}

impl People {
    pub(crate) fn claim(
        &self,
        caller: Option<&Caller>,
        item: DataItem,
    ) -> Result<String, ClaimError> {
        if caller.is_none() {
            return Err(ClaimError::NoCaller);
        }
        if let Some(error) = self.failures.get(&item) {
            return Err(error.clone());
        }
        if !self.allowed.contains(&item) {
            return Err(ClaimError::NoConsent {
                item,
                purpose: TEST_PURPOSE.to_owned(),
            });
        }
        self.values
            .get(&item)
            .cloned()
            .ok_or(ClaimError::NotAvailable)
    }

    pub(crate) fn send(
        &mut self,
        recipient: &str,
        template: &str,
        params: &[(&str, &str)],
        link: Option<&str>,
    ) -> Result<String, NotifyError> {
        if let Some(why) = &self.unavailable {
            return Err(NotifyError::Unavailable(why.clone()));
        }
        if let Some(link) = link
            && (!link.starts_with('/') || link.starts_with("//"))
        {
            return Err(NotifyError::BadParameters(format!(
                "link {link:?} is not a path inside this mini-service"
            )));
        }
        let key = (recipient.to_owned(), template.to_owned());
        match self.consents.get_mut(&key) {
            Some(left) if *left > 0 => *left -= 1,
            _ => return Err(NotifyError::NoConsent),
        }
        let id = format!("m{}", self.sent.len() + 1);
        self.sent.push(SentMessage {
            id: id.clone(),
            recipient: recipient.to_owned(),
            template: template.to_owned(),
            params: params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            link: link.map(str::to_owned),
        });
        Ok(id)
    }
}

impl TestEnv {
    /// Put `value` for `item` in the identity token of the signed-in caller
    /// (whoever is signed in). An allowed item without a value fails with
    /// [`ClaimError::NotAvailable`].
    ///
    /// ```
    /// use islet_sdk::identity::{self, ClaimError, DataItem};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.as_caller("pw-alice");
    /// env.set_claim(DataItem::RealName, "Li Lei").allow_claim(DataItem::RealName);
    /// assert_eq!(identity::claim(DataItem::RealName).unwrap(), "Li Lei");
    /// ```
    pub fn set_claim(&mut self, item: DataItem, value: &str) -> &mut Self {
        self.state
            .borrow_mut()
            .people
            .values
            .insert(item, value.to_owned());
        self
    }

    /// Let [`identity::claim`](crate::identity::claim) release `item`, as if
    /// the manifest declared it, an admin granted it and the citizen
    /// consented. Without this a claim fails with
    /// [`ClaimError::NoConsent`] and purpose [`TEST_PURPOSE`].
    ///
    /// ```
    /// use islet_sdk::identity::{self, ClaimError, DataItem};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.as_caller("pw-alice");
    /// env.allow_claim(DataItem::Email).set_claim(DataItem::Email, "li@example.cn");
    /// assert!(identity::claim(DataItem::Email).is_ok());
    /// ```
    pub fn allow_claim(&mut self, item: DataItem) -> &mut Self {
        self.state.borrow_mut().people.allowed.insert(item);
        self
    }

    /// Withdraw [`TestEnv::allow_claim`]: the citizen revoked consent.
    ///
    /// ```
    /// use islet_sdk::identity::{self, ClaimError, DataItem};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.as_caller("pw-alice");
    /// env.set_claim(DataItem::Phone, "13800000000").allow_claim(DataItem::Phone).revoke_claim(DataItem::Phone);
    /// assert!(matches!(identity::claim(DataItem::Phone), Err(ClaimError::NoConsent { .. })));
    /// ```
    pub fn revoke_claim(&mut self, item: DataItem) -> &mut Self {
        self.state.borrow_mut().people.allowed.remove(&item);
        self
    }

    /// Make claims of `item` by a signed-in caller fail with `error` (e.g.
    /// [`ClaimError::NotGranted`]), or behave normally again with `None`.
    ///
    /// ```
    /// use islet_sdk::identity::{self, ClaimError, DataItem};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.as_caller("pw-alice");
    /// env.fail_claim(DataItem::Phone, Some(ClaimError::NotGranted));
    /// assert_eq!(identity::claim(DataItem::Phone), Err(ClaimError::NotGranted));
    /// ```
    pub fn fail_claim(&mut self, item: DataItem, error: Option<ClaimError>) -> &mut Self {
        {
            let failures = &mut self.state.borrow_mut().people.failures;
            match error {
                Some(error) => failures.insert(item, error),
                None => failures.remove(&item),
            };
        }
        self
    }

    /// The citizen `subject` consents to `n` more messages of template
    /// `template` (one-time consents; pass `u32::MAX` for a long-term one).
    /// Each [`notification::send`](crate::notification::send) uses one up;
    /// without one it fails with [`NotifyError::NoConsent`].
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.consent_messages("pw-alice", "news", 1); // one message; u32::MAX: long-term
    /// assert!(islet_sdk::notification::send("pw-alice", "news", &[("text", "a")], None).is_ok());
    /// assert!(islet_sdk::notification::send("pw-alice", "news", &[("text", "b")], None).is_err());
    /// ```
    pub fn consent_messages(&mut self, subject: &str, template: &str, n: u32) -> &mut Self {
        {
            let key = (subject.to_owned(), template.to_owned());
            let consents = &mut self.state.borrow_mut().people.consents;
            let left = consents.entry(key).or_insert(0);
            *left = left.saturating_add(n);
        }
        self
    }

    /// How many more messages of `template` `subject` has consented to.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.consent_messages("pw-alice", "news", 2);
    /// assert_eq!(env.consents_left("pw-alice", "news"), 2);
    /// ```
    pub fn consents_left(&self, subject: &str, template: &str) -> u32 {
        let key = (subject.to_owned(), template.to_owned());
        self.state
            .borrow()
            .people
            .consents
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// Every message sent so far, oldest first.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.consent_messages("pw-alice", "news", 1);
    /// islet_sdk::notification::send("pw-alice", "news", &[("text", "hi")], None).unwrap();
    /// assert_eq!(env.sent()[0].params, [("text".to_string(), "hi".to_string())]);
    /// ```
    pub fn sent(&self) -> Vec<SentMessage> {
        self.state.borrow().people.sent.clone()
    }

    /// Make every send fail with `unavailable(message)`, or work again with
    /// `None`.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.consent_messages("pw-alice", "news", 1).set_notification_unavailable(Some("down"));
    /// assert_eq!(islet_sdk::notification::send("pw-alice", "news", &[("text", "x")], None).unwrap_err().status(), 503);
    /// ```
    pub fn set_notification_unavailable(&mut self, message: Option<&str>) -> &mut Self {
        self.state.borrow_mut().people.unavailable = message.map(str::to_owned);
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use crate::request::Request;
    use crate::response::Response;
    use crate::router::Router;
    use crate::{identity, notification};

    fn router() -> Router {
        Router::new()
            .get("/name", |_: &Request| -> Result<Response, Response> {
                let name = identity::claim(DataItem::RealName)?;
                Ok(Response::text(name))
            })
            .post(
                "/notify/{to}",
                |req: &Request| -> Result<Response, Response> {
                    let to = req.param("to").unwrap_or_default();
                    let id = notification::send(to, "status", &[("case", "7")], Some("/cases/7"))?;
                    Ok(Response::text(id))
                },
            )
    }

    #[test]
    fn claims_need_a_caller_and_an_allowed_item() {
        let mut env = TestEnv::new();
        assert_eq!(identity::claim(DataItem::Phone), Err(ClaimError::NoCaller));
        assert_eq!(env.call(&router(), Request::get("/name")).status(), 401);
        env.as_caller("alice");
        let r = env.call(&router(), Request::get("/name"));
        assert_eq!(r.status(), 403);
        let body: serde_json::Value = r.body_json().unwrap();
        assert_eq!(body["error"]["code"], "claim_no_consent");
        assert_eq!(
            body["error"]["consent"],
            serde_json::json!({"item": "real-name", "purpose": TEST_PURPOSE})
        );
        env.allow_claim(DataItem::RealName);
        assert_eq!(
            identity::claim(DataItem::RealName),
            Err(ClaimError::NotAvailable)
        );
        env.set_claim(DataItem::RealName, "Li Lei");
        let r = env.call(&router(), Request::get("/name"));
        assert_eq!(r.body_text(), Some("Li Lei"));
        env.fail_claim(DataItem::RealName, Some(ClaimError::NotGranted));
        assert_eq!(env.call(&router(), Request::get("/name")).status(), 403);
        env.fail_claim(DataItem::RealName, None);
        assert_eq!(identity::claim(DataItem::RealName).unwrap(), "Li Lei");
        env.revoke_claim(DataItem::RealName);
        assert!(matches!(
            identity::claim(DataItem::RealName),
            Err(ClaimError::NoConsent { .. })
        ));
    }

    #[test]
    fn department_subject_follows_the_caller() {
        let mut env = TestEnv::new();
        assert_eq!(identity::department_subject(), None);
        env.as_caller("alice");
        assert_eq!(
            identity::department_subject().as_deref(),
            Some("dept-alice")
        );
    }

    #[test]
    fn sends_use_up_one_time_consents() {
        let mut env = TestEnv::new();
        let r = env.call(&router(), Request::post("/notify/alice", ""));
        assert_eq!(r.status(), 409);
        assert_eq!(r.error_code().as_deref(), Some("notification_no_consent"));
        env.consent_messages("alice", "status", 2);
        assert_eq!(env.consents_left("alice", "status"), 2);
        let r = env.call(&router(), Request::post("/notify/alice", ""));
        assert_eq!(r.body_text(), Some("m1"));
        assert_eq!(
            notification::send("alice", "status", &[], None),
            Ok("m2".into())
        );
        assert_eq!(
            notification::send("alice", "status", &[], None),
            Err(NotifyError::NoConsent)
        );
        assert_eq!(
            notification::send("bob", "status", &[], None),
            Err(NotifyError::NoConsent)
        );
        let sent = env.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            sent[0],
            SentMessage {
                id: "m1".into(),
                recipient: "alice".into(),
                template: "status".into(),
                params: vec![("case".into(), "7".into())],
                link: Some("/cases/7".into()),
            }
        );
        assert_eq!(sent[1].link, None);
    }

    #[test]
    fn bad_links_and_outages_fail_without_using_consent() {
        let mut env = TestEnv::new();
        env.consent_messages("alice", "alerts", u32::MAX);
        for link in ["https://evil.example/", "//evil.example/x", "x"] {
            assert!(matches!(
                notification::send("alice", "alerts", &[], Some(link)),
                Err(NotifyError::BadParameters(_))
            ));
        }
        env.set_notification_unavailable(Some("down"));
        assert_eq!(
            notification::send("alice", "alerts", &[], None),
            Err(NotifyError::Unavailable("down".into()))
        );
        env.set_notification_unavailable(None);
        assert!(notification::send("alice", "alerts", &[], Some("/")).is_ok());
        assert_eq!(env.consents_left("alice", "alerts"), u32::MAX - 1);
        assert!(env.sent().len() == 1);
    }

    #[test]
    fn outside_an_env_calls_fail_softly() {
        assert_eq!(identity::claim(DataItem::Email), Err(ClaimError::NoCaller));
        assert_eq!(identity::department_subject(), None);
        assert!(matches!(
            notification::send("a", "t", &[], None),
            Err(NotifyError::Unavailable(_))
        ));
    }
}
