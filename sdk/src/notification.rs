//! Messages to a citizen's inbox: the `islet:platform/notification`
//! capability.
//!
//! Needs `notification` in the manifest's `capabilities` and the templates
//! under `[[templates]]` (id, title, body with `{placeholders}`, kind
//! `one-time` or `long-term`), approved by an admin. The citizen consents
//! per template in the app: a `one-time` consent allows one message, a
//! `long-term` one allows messages until revoked. Every failure is a
//! [`NotifyError`] value, never a trap, and nothing was delivered.
//!
//! ```no_run
//! use islet_sdk::notification;
//! use islet_sdk::{Request, Response};
//!
//! fn resolve(_req: &Request) -> Result<Response, Response> {
//!     let reporter = "pairwise-subject-of-the-reporter";
//!     let id = notification::send(
//!         reporter,
//!         "status",
//!         &[("case", "12"), ("status", "resolved")],
//!         Some("/reports/12"),
//!     )?; // errors become JSON responses
//!     Ok(Response::json(&serde_json::json!({ "message": id })))
//! }
//! ```

use crate::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a message was not sent (nothing was delivered): one variant per case
/// of the WIT `notification.error` variant. Serialises like the WIT names,
/// e.g. `"no-consent"` or `{"bad-parameters": "..."}`.
///
/// ```
/// use islet_sdk::notification::{self, NotifyError};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// let sent = notification::send("pw-alice", "news", &[("text", "hi")], None);
/// assert_eq!(sent, Err(NotifyError::NoConsent)); // the citizen has not said yes
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyError {
    /// The recipient has no (remaining) consent for this template.
    NoConsent,
    /// The template is not declared in the manifest or not approved by an
    /// admin; the value names it.
    TemplateNotApproved(String),
    /// This mini-service's daily quota or the recipient's daily cap is
    /// reached.
    QuotaExceeded,
    /// Missing, unknown or too long parameters, or a link outside this
    /// mini-service; the value says which.
    BadParameters(String),
    /// The recipient is not a subject of this mini-service.
    UnknownRecipient,
    /// The host could not store the message; safe to retry.
    Unavailable(String),
}

impl NotifyError {
    /// The kebab-case name of the variant, as in the WIT, e.g.
    /// `template-not-approved`. Error responses use it in snake case after
    /// `notification_`, e.g. `notification_no_consent`.
    ///
    /// ```
    /// assert_eq!(islet_sdk::notification::NotifyError::QuotaExceeded.code(), "quota-exceeded");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            NotifyError::NoConsent => "no-consent",
            NotifyError::TemplateNotApproved(_) => "template-not-approved",
            NotifyError::QuotaExceeded => "quota-exceeded",
            NotifyError::BadParameters(_) => "bad-parameters",
            NotifyError::UnknownRecipient => "unknown-recipient",
            NotifyError::Unavailable(_) => "unavailable",
        }
    }

    /// The HTTP status a handler answers with when it gives up on this
    /// error: 400 for bad parameters, 403 for a template not approved, 404
    /// for an unknown recipient, 409 without consent, 429 over quota, 503
    /// when the host is unavailable.
    ///
    /// ```
    /// assert_eq!(islet_sdk::notification::NotifyError::NoConsent.status(), 409);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            NotifyError::BadParameters(_) => 400,
            NotifyError::TemplateNotApproved(_) => 403,
            NotifyError::UnknownRecipient => 404,
            NotifyError::NoConsent => 409,
            NotifyError::QuotaExceeded => 429,
            NotifyError::Unavailable(_) => 503,
        }
    }
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::NoConsent => {
                f.write_str("the recipient has not consented to this template")
            }
            NotifyError::TemplateNotApproved(template) => {
                write!(f, "template not declared or not approved: {template}")
            }
            NotifyError::QuotaExceeded => f.write_str("too many messages today"),
            NotifyError::BadParameters(why) => write!(f, "bad parameters: {why}"),
            NotifyError::UnknownRecipient => {
                f.write_str("the recipient is not a subject of this mini-service")
            }
            NotifyError::Unavailable(why) => {
                write!(f, "the message could not be stored: {why}")
            }
        }
    }
}

impl std::error::Error for NotifyError {}

impl IntoResponse for NotifyError {
    fn into_response(self) -> Response {
        Response::error(
            self.status(),
            &format!("notification_{}", self.code().replace('-', "_")),
            &self.to_string(),
        )
    }
}

/// Lets `?` turn a failed send into an error response in a handler
/// returning `Result<_, Response>`.
impl From<NotifyError> for Response {
    fn from(error: NotifyError) -> Response {
        error.into_response()
    }
}

/// Send template `template` with `params` (`(placeholder, value)` pairs) to
/// `recipient`, a pairwise subject of this mini-service as
/// [`identity`](crate::identity) gives it. `link` is a path inside this
/// mini-service (e.g. `/reports/12`) the message opens. Returns the
/// message id.
///
/// Each message uses up one of the recipient's `one-time` consents for the
/// template; without one it fails with [`NotifyError::NoConsent`].
///
/// On a native target (tests) the [`TestEnv`](crate::testing::TestEnv)
/// answers: see
/// [`TestEnv::consent_messages`](crate::testing::TestEnv::consent_messages)
/// and [`TestEnv::sent`](crate::testing::TestEnv::sent).
///
/// ```
/// use islet_sdk::notification;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// env.consent_messages("pw-alice", "status", 1);
/// let id = notification::send("pw-alice", "status", &[("case", "12")], Some("/cases/12")).unwrap();
/// assert_eq!(env.sent()[0].id, id);
/// ```
pub fn send(
    recipient: &str,
    template: &str,
    params: &[(&str, &str)],
    link: Option<&str>,
) -> Result<String, NotifyError> {
    crate::sys::notification_send(recipient, template, params, link)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;

    #[test]
    fn errors_become_platform_shaped_responses() {
        let cases = [
            (
                NotifyError::BadParameters("x".into()),
                400,
                "bad-parameters",
            ),
            (
                NotifyError::TemplateNotApproved("t".into()),
                403,
                "template-not-approved",
            ),
            (NotifyError::UnknownRecipient, 404, "unknown-recipient"),
            (NotifyError::NoConsent, 409, "no-consent"),
            (NotifyError::QuotaExceeded, 429, "quota-exceeded"),
            (NotifyError::Unavailable("x".into()), 503, "unavailable"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.code(), code);
            let r: Response = error.clone().into();
            assert_eq!(r.status(), status, "{error}");
            let expected = format!("notification_{}", code.replace('-', "_"));
            assert_eq!(r.error_code().as_deref(), Some(expected.as_str()));
        }
        assert_eq!(
            serde_json::to_value(NotifyError::NoConsent).unwrap(),
            "no-consent"
        );
        assert_eq!(
            serde_json::to_value(NotifyError::BadParameters("p".into())).unwrap(),
            serde_json::json!({"bad-parameters": "p"})
        );
    }
}
