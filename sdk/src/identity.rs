//! Who is calling: the `islet:platform/identity` capability.
//!
//! Needs `identity` in the manifest's `capabilities`. Personal data items
//! ([`claim`]) also need a purpose per item under the manifest's
//! `[personal-data]`, an admin's grant and the citizen's consent.
//!
//! ```
//! use islet_sdk::identity::{self, DataItem};
//! use islet_sdk::{Request, Response, Router};
//!
//! let router = Router::new().get("/permit", |_: &Request| -> Result<Response, Response> {
//!     let caller = identity::require_caller()?; // 401 when anonymous
//!     let name = identity::claim(DataItem::RealName)?; // 403 + consent prompt
//!     Ok(Response::json(&serde_json::json!({ "subject": caller.subject, "holder": name })))
//! });
//!
//! let mut env = islet_sdk::testing::TestEnv::new();
//! env.as_caller("pw-alice").allow_claim(DataItem::RealName).set_claim(DataItem::RealName, "Li Lei");
//! let r = env.call(&router, Request::get("/permit"));
//! assert_eq!(r.body_text(), Some(r#"{"holder":"Li Lei","subject":"pw-alice"}"#));
//! ```

use crate::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The role the host gives callers who work for the mini-service's department.
///
/// ```
/// use islet_sdk::identity::{self, STAFF};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// # env.as_staff("clerk-1");
/// let clerk = identity::require_role(STAFF).unwrap();
/// assert!(clerk.is_staff());
/// ```
pub const STAFF: &str = "staff";

/// The signed-in citizen behind the current request.
///
/// ```
/// use islet_sdk::identity;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// # env.as_caller("pw-alice");
/// if let Some(caller) = identity::current_caller() {
///     islet_sdk::info!("{} (level {})", caller.subject, caller.assurance_level);
/// }
/// ```
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
    ///
    /// ```
    /// use islet_sdk::Caller;
    /// let alice = Caller::new("pw-alice");
    /// assert!(alice.roles.is_empty());
    /// ```
    pub fn new(subject: impl Into<String>) -> Self {
        Caller {
            subject: subject.into(),
            assurance_level: 0,
            roles: Vec::new(),
        }
    }

    /// This caller with `role` added.
    ///
    /// ```
    /// use islet_sdk::Caller;
    /// let inspector = Caller::new("pw-bob").with_role("inspector");
    /// assert!(inspector.has_role("inspector"));
    /// ```
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// This caller with assurance level `level`.
    ///
    /// ```
    /// use islet_sdk::Caller;
    /// let verified = Caller::new("pw-alice").with_assurance_level(4);
    /// assert_eq!(verified.assurance_level, 4);
    /// ```
    pub fn with_assurance_level(mut self, level: u8) -> Self {
        self.assurance_level = level;
        self
    }

    /// Whether the caller has `role`.
    ///
    /// ```
    /// use islet_sdk::Caller;
    /// assert!(!Caller::new("pw-alice").has_role("staff"));
    /// ```
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the caller works for the mini-service's department.
    ///
    /// ```
    /// use islet_sdk::{identity::STAFF, Caller};
    /// assert!(Caller::new("clerk-1").with_role(STAFF).is_staff());
    /// ```
    pub fn is_staff(&self) -> bool {
        self.has_role(STAFF)
    }
}

/// The current caller, or `None` for an anonymous request.
///
/// On a native target (tests) this is the caller of the current
/// [`TestEnv`](crate::testing::TestEnv), or `None` outside one.
///
/// ```
/// use islet_sdk::identity;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// assert!(identity::current_caller().is_none()); // anonymous
/// env.as_caller("pw-alice");
/// assert_eq!(identity::current_caller().unwrap().subject, "pw-alice");
/// ```
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
///
/// ```
/// use islet_sdk::identity;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// env.as_caller("pw-alice");
/// assert_eq!(identity::require_role("staff").unwrap_err().status(), 403);
/// ```
pub fn require_role(role: &str) -> Result<Caller, Response> {
    let caller = require_caller()?;
    if caller.has_role(role) {
        Ok(caller)
    } else {
        Err(Response::forbidden(&format!("this needs the {role} role")))
    }
}

/// A personal data item the citizen's identity token may carry, released to
/// a mini-service by [`claim`]. Serialises in kebab case, e.g. `"real-name"`,
/// as in the WIT and in the manifest's `[personal-data]` table.
///
/// ```
/// use islet_sdk::identity::DataItem;
/// assert_eq!("real-name".parse::<DataItem>(), Ok(DataItem::RealName));
/// assert_eq!(DataItem::Phone.to_string(), "phone");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataItem {
    /// The citizen's real (legal) name.
    RealName,
    /// The national ID number (居民身份证号).
    NationalId,
    /// The mobile phone number.
    Phone,
    /// The e-mail address.
    Email,
    /// The unified social credit code of the legal person the citizen acts
    /// for, if any.
    LegalPerson,
}

impl DataItem {
    /// Every data item, in the WIT's order.
    ///
    /// ```
    /// use islet_sdk::identity::DataItem;
    /// assert_eq!(DataItem::ALL.len(), 5);
    /// ```
    pub const ALL: [DataItem; 5] = [
        DataItem::RealName,
        DataItem::NationalId,
        DataItem::Phone,
        DataItem::Email,
        DataItem::LegalPerson,
    ];

    /// The kebab-case name, as in the WIT and the manifest, e.g. `real-name`.
    ///
    /// ```
    /// use islet_sdk::identity::DataItem;
    /// assert_eq!(DataItem::NationalId.as_str(), "national-id");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            DataItem::RealName => "real-name",
            DataItem::NationalId => "national-id",
            DataItem::Phone => "phone",
            DataItem::Email => "email",
            DataItem::LegalPerson => "legal-person",
        }
    }
}

impl fmt::Display for DataItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not the kebab-case name of a [`DataItem`].
///
/// ```
/// use islet_sdk::identity::{DataItem, UnknownDataItem};
/// assert_eq!("shoe-size".parse::<DataItem>(), Err(UnknownDataItem("shoe-size".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDataItem(pub String);

impl fmt::Display for UnknownDataItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no such personal data item: {:?}", self.0)
    }
}

impl std::error::Error for UnknownDataItem {}

impl FromStr for DataItem {
    type Err = UnknownDataItem;

    /// Parse the kebab-case name, e.g. `"real-name"`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        DataItem::ALL
            .into_iter()
            .find(|item| item.as_str() == name)
            .ok_or_else(|| UnknownDataItem(name.to_owned()))
    }
}

/// What the app should ask the citizen before a [`claim`] can succeed: the
/// item and the purpose the manifest gives for it. After the citizen agreed
/// the app records the consent with the platform and retries.
///
/// ```
/// use islet_sdk::identity::{self, DataItem};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// env.as_caller("pw-alice");
/// let ask = identity::claim(DataItem::RealName).unwrap_err().consent_request().unwrap();
/// assert_eq!((ask.item, ask.purpose.as_str()), (DataItem::RealName, islet_sdk::testing::TEST_PURPOSE));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRequest {
    /// The data item asked for.
    pub item: DataItem,
    /// The purpose from the manifest's `[personal-data]`, shown to the citizen.
    pub purpose: String,
}

/// Why [`claim`] did not release a data item: one variant per case of the
/// WIT `identity.claim-error` variant.
///
/// ```
/// use islet_sdk::identity::{self, ClaimError, DataItem};
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// assert_eq!(identity::claim(DataItem::Phone), Err(ClaimError::NoCaller));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimError {
    /// Anonymous request: nobody to ask.
    NoCaller,
    /// The manifest does not declare the item with a purpose under
    /// `[personal-data]`: a bug in the mini-service.
    NotDeclared,
    /// An admin did not grant the item to this mini-service.
    NotGranted,
    /// The citizen has not consented (or revoked consent). The app should
    /// show a consent prompt for `item` and `purpose`, then retry.
    NoConsent {
        /// The data item asked for.
        item: DataItem,
        /// The purpose from the manifest, shown to the citizen.
        purpose: String,
    },
    /// The citizen's identity provider did not supply the item.
    NotAvailable,
}

impl ClaimError {
    /// The kebab-case name of the variant, as in the WIT, e.g. `no-consent`.
    /// Error responses use it in snake case after `claim_`, e.g.
    /// `claim_no_consent`.
    ///
    /// ```
    /// use islet_sdk::identity::ClaimError;
    /// assert_eq!(ClaimError::NotGranted.code(), "not-granted");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            ClaimError::NoCaller => "no-caller",
            ClaimError::NotDeclared => "not-declared",
            ClaimError::NotGranted => "not-granted",
            ClaimError::NoConsent { .. } => "no-consent",
            ClaimError::NotAvailable => "not-available",
        }
    }

    /// The HTTP status a handler answers with when it gives up on this
    /// error: 401 without a caller, 500 for an undeclared item (a bug in the
    /// service), 403 when not granted or not consented, 404 when the
    /// identity provider did not supply the item.
    ///
    /// ```
    /// use islet_sdk::identity::ClaimError;
    /// assert_eq!(ClaimError::NoCaller.status(), 401);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            ClaimError::NoCaller => 401,
            ClaimError::NotDeclared => 500,
            ClaimError::NotGranted | ClaimError::NoConsent { .. } => 403,
            ClaimError::NotAvailable => 404,
        }
    }

    /// What to ask the citizen, for [`ClaimError::NoConsent`].
    ///
    /// ```
    /// use islet_sdk::identity::ClaimError;
    /// assert!(ClaimError::NotAvailable.consent_request().is_none());
    /// ```
    pub fn consent_request(&self) -> Option<ConsentRequest> {
        match self {
            ClaimError::NoConsent { item, purpose } => Some(ConsentRequest {
                item: *item,
                purpose: purpose.clone(),
            }),
            _ => None,
        }
    }
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimError::NoCaller => f.write_str("this needs a signed-in citizen"),
            ClaimError::NotDeclared => f.write_str(
                "the mini-service does not declare this data item under [personal-data]",
            ),
            ClaimError::NotGranted => {
                f.write_str("this data item was not granted to the mini-service")
            }
            ClaimError::NoConsent { item, purpose } => write!(
                f,
                "the citizen has not consented to share {item} (purpose: {purpose})"
            ),
            ClaimError::NotAvailable => {
                f.write_str("the identity provider did not supply this data item")
            }
        }
    }
}

impl std::error::Error for ClaimError {}

impl IntoResponse for ClaimError {
    /// The platform's error shape with code `claim_<variant>`; for
    /// [`ClaimError::NoConsent`] the error also carries
    /// `"consent": {"item", "purpose"}` so the app can prompt the citizen.
    fn into_response(self) -> Response {
        let code = format!("claim_{}", self.code().replace('-', "_"));
        let mut error = serde_json::json!({ "code": code, "message": self.to_string() });
        if let Some(consent) = self.consent_request() {
            error["consent"] = serde_json::json!(consent);
        }
        Response::new(self.status())
            .with_header("content-type", "application/json")
            .with_body(serde_json::json!({ "error": error }).to_string())
    }
}

/// Lets `?` turn a refused claim into an error response in a handler
/// returning `Result<_, Response>`.
impl From<ClaimError> for Response {
    fn from(error: ClaimError) -> Response {
        error.into_response()
    }
}

/// The value of personal data item `item` of the current caller, released
/// only when the manifest declares it with a purpose under
/// `[personal-data]`, an admin granted it and the citizen consented. Every
/// release is recorded in the citizen's data-access trail.
///
/// On [`ClaimError::NoConsent`] return the error (`?` makes it a `403` whose
/// body carries `"consent": {"item", "purpose"}`): the app shows the citizen
/// a consent prompt and retries the request.
///
/// ```no_run
/// use islet_sdk::identity::{self, DataItem};
/// use islet_sdk::{Request, Response};
///
/// fn permit(_req: &Request) -> Result<Response, Response> {
///     let name = identity::claim(DataItem::RealName)?;
///     Ok(Response::json(&serde_json::json!({ "holder": name })))
/// }
/// ```
///
/// On a native target (tests) the [`TestEnv`](crate::testing::TestEnv)
/// answers: see [`TestEnv::allow_claim`](crate::testing::TestEnv::allow_claim).
pub fn claim(item: DataItem) -> Result<String, ClaimError> {
    crate::sys::identity_claim(item)
}

/// A subject for the current caller shared by all mini-services of this
/// department (like a WeChat `unionid`), or `None` for an anonymous request.
///
/// On a native target (tests) this is `dept-` followed by the
/// [`TestEnv`](crate::testing::TestEnv) caller's subject.
///
/// ```
/// use islet_sdk::identity;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// env.as_caller("pw-alice");
/// let shared = identity::department_subject().unwrap(); // "dept-pw-alice" in a TestEnv
/// assert_ne!(shared, "pw-alice");
/// ```
pub fn department_subject() -> Option<String> {
    crate::sys::department_subject()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_items_use_kebab_case_names() {
        for item in DataItem::ALL {
            assert_eq!(serde_json::to_value(item).unwrap(), item.as_str());
            assert_eq!(item.as_str().parse::<DataItem>(), Ok(item));
            assert_eq!(item.to_string(), item.as_str());
        }
        assert_eq!(
            serde_json::to_value(DataItem::LegalPerson).unwrap(),
            "legal-person"
        );
        assert_eq!(
            "RealName".parse::<DataItem>(),
            Err(UnknownDataItem("RealName".into()))
        );
    }

    #[test]
    fn claim_errors_become_responses() {
        let no_consent = ClaimError::NoConsent {
            item: DataItem::RealName,
            purpose: "Shown on your permit".into(),
        };
        let cases = [
            (ClaimError::NoCaller, 401, "no-caller"),
            (ClaimError::NotDeclared, 500, "not-declared"),
            (ClaimError::NotGranted, 403, "not-granted"),
            (no_consent.clone(), 403, "no-consent"),
            (ClaimError::NotAvailable, 404, "not-available"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.code(), code);
            let r: Response = error.clone().into();
            assert_eq!(r.status(), status, "{error}");
            let expected = format!("claim_{}", code.replace('-', "_"));
            assert_eq!(r.error_code().as_deref(), Some(expected.as_str()));
            let body: serde_json::Value = r.body_json().unwrap();
            assert_eq!(body["error"].get("consent").is_some(), code == "no-consent");
        }
        let body: serde_json::Value = Response::from(no_consent.clone()).body_json().unwrap();
        assert_eq!(
            body["error"]["consent"],
            json!({"item": "real-name", "purpose": "Shown on your permit"})
        );
        assert_eq!(
            no_consent.consent_request(),
            Some(ConsentRequest {
                item: DataItem::RealName,
                purpose: "Shown on your permit".into()
            })
        );
        assert_eq!(ClaimError::NotGranted.consent_request(), None);
    }
}
