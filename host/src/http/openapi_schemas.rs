//! The shapes of the JSON answers the handlers build with `json!`, for the
//! API reference only (nothing constructs these types). Request bodies and
//! query strings are described by their own types, next to their handlers.
//!
//! A field is `required` only when every answer carries it; an `Option`
//! field may be absent or `null`. Objects allow further fields, so adding
//! one to an answer keeps the reference true; removing or retyping one
//! breaks the schemathesis run (`tests/openapi/run-schemathesis`).

#![allow(
    dead_code,
    reason = "description-only types: read by utoipa's derive, never built"
)]

use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Every error the host answers (never a plugin's own answer):
/// `{"error": {"code", "message", "request_id"}}`.
#[derive(ToSchema)]
pub struct Error {
    /// The error.
    pub error: ErrorDetail,
}

/// The error's code, message and request id.
#[derive(ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, snake_case (`invalid_token`, `plugin_not_found`, ...).
    #[schema(example = "plugin_not_found")]
    pub code: String,
    /// Human-readable explanation naming the problem (at most 500 characters).
    pub message: String,
    /// The request's id, as in the `X-Request-Id` answer header and the host's log.
    pub request_id: String,
}

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /admin/v1/dev`.
#[derive(ToSchema)]
pub struct DevStatus {
    /// Whether this host is a development host (`islet dev`, `serve --dev`).
    pub dev: bool,
    /// On a production host: why not, and the ways forward.
    pub message: Option<String>,
}

/// `GET /readyz`.
#[derive(ToSchema)]
pub struct Ready {
    /// `ready`, or `store_unavailable` (with 503).
    pub status: String,
    /// Installed plugins.
    pub plugins: u64,
    /// Plugins whose serving versions failed to load.
    pub failed_plugins: Vec<String>,
}

/// `GET /api/v1/platform`.
#[derive(ToSchema)]
pub struct Platform {
    /// The business time zone (IANA name).
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: String,
    /// The page languages, the default first.
    pub languages: Vec<String>,
    /// The default page language.
    pub default_language: String,
    /// The language this caller gets.
    pub language: String,
}

/// `GET /api/v1/catalog`.
#[derive(ToSchema)]
pub struct Catalog {
    /// Serving, listed mini-services: featured first, then by curated order.
    pub plugins: Vec<super::public::CatalogEntry<'static>>,
}

/// `GET /api/v1/catalog/{id}/privacy`.
#[derive(ToSchema)]
pub struct Privacy {
    /// The mini-service.
    pub plugin: String,
    /// Its name in the caller's language.
    pub name: String,
    /// The language of `name`.
    pub language: String,
    /// Personal data items it may ask for (granted by an admin).
    pub personal_data: Vec<PrivacyItem>,
    /// Message templates it may ask consent for.
    pub templates: Vec<PrivacyTemplate>,
}

/// A personal data item a service may ask for.
#[derive(ToSchema)]
pub struct PrivacyItem {
    /// The item.
    pub item: crate::manifest::DataItem,
    /// Its label, in the platform's words.
    pub label: String,
    /// The purpose the manifest states.
    pub purpose: String,
}

/// A message template a service may ask consent for.
#[derive(ToSchema)]
pub struct PrivacyTemplate {
    /// Template id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// One-time or long-term consent.
    pub kind: crate::manifest::TemplateKind,
}

/// A consent as its citizen sees it.
#[derive(ToSchema)]
pub struct ConsentView {
    /// `cns_...`.
    pub id: String,
    /// The mini-service.
    pub plugin: String,
    /// `data-item` or `template`.
    #[schema(rename = "type")]
    pub kind: ConsentKind,
    /// The data item (`data-item`).
    pub item: Option<crate::manifest::DataItem>,
    /// The purpose the citizen saw (`data-item`).
    pub purpose: Option<String>,
    /// The template id (`template`).
    pub template: Option<String>,
    /// The template's title (`template`).
    pub title: Option<String>,
    /// One-time or long-term (`template`).
    pub mode: Option<crate::manifest::TemplateKind>,
    /// One-time consents not yet used (`template`).
    pub remaining: Option<u32>,
    /// When it was (last) given, ms since the epoch.
    pub granted_ms: u64,
    /// The service's name, if it is still installed.
    pub service_name: Option<String>,
    /// The data item's label (`data-item`).
    pub label: Option<String>,
}

/// What a consent allows.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum ConsentKind {
    /// A personal data item.
    DataItem,
    /// Messages of a template.
    Template,
}

/// `GET /api/v1/consents`.
#[derive(ToSchema)]
pub struct ConsentList {
    /// Newest first.
    pub consents: Vec<ConsentView>,
}

/// `DELETE /api/v1/consents/{id}`.
#[derive(ToSchema)]
pub struct Revoked {
    /// The consent withdrawn.
    pub revoked: ConsentView,
}

/// One release of a personal data item to a service.
#[derive(ToSchema)]
pub struct AccessEntry {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// The service.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// The item.
    pub item: crate::manifest::DataItem,
    /// The purpose declared in the manifest.
    pub purpose: String,
    /// The consent that allowed it.
    pub consent_id: String,
    /// The request during which it was released.
    pub request_id: String,
    /// The citizen's pairwise subject (admins only).
    pub subject: Option<String>,
    /// The service's name, if still installed.
    pub service_name: Option<String>,
    /// The item's label.
    pub label: String,
}

/// A page of a data-access trail.
#[derive(ToSchema)]
pub struct AccessPage {
    /// Newest first.
    pub entries: Vec<AccessEntry>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/inbox/{id}/read`.
#[derive(ToSchema)]
pub struct MarkedRead {
    /// The message, now read.
    pub message: crate::notify::Message,
    /// Unread messages left.
    pub unread: u64,
}

/// An order as its citizen sees it.
#[derive(ToSchema)]
pub struct CitizenOrder {
    /// Host order id.
    pub id: String,
    /// The service that created it.
    pub plugin: String,
    /// Its name, if still installed.
    pub service_name: Option<String>,
    /// The merchant account credited.
    pub merchant: String,
    /// The merchant's name.
    pub merchant_name: Option<String>,
    /// Amount, fen.
    pub amount_fen: u64,
    /// Refunded so far, fen.
    pub refunded_fen: u64,
    /// What is paid for.
    pub description: String,
    /// A service fee or a non-tax fee with its item code.
    pub kind: crate::payment::order::OrderKind,
    /// Its status.
    pub status: crate::payment::order::OrderStatus,
    /// Created, seconds since the epoch.
    pub created_at: u64,
    /// When an unpaid order expires, seconds since the epoch.
    pub expires_at: u64,
    /// When payment was confirmed, seconds since the epoch.
    pub paid_at: Option<u64>,
    /// The provider's cashier page for this order.
    pub checkout_url: String,
}

/// `GET /api/v1/orders`.
#[derive(ToSchema)]
pub struct CitizenOrders {
    /// Newest first.
    pub orders: Vec<CitizenOrder>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// `POST /pay/{id}`.
#[derive(ToSchema)]
pub struct CashierAnswer {
    /// The order.
    pub order: CitizenOrder,
    /// The payment started (`pay`): it completes when the provider's
    /// notification is verified.
    pub payment: Option<PaymentStarted>,
}

/// A payment on its way.
#[derive(ToSchema)]
pub struct PaymentStarted {
    /// The provider's transaction id.
    pub txn_id: String,
    /// `processing`.
    pub status: String,
}

/// `POST /api/v1/payments/notify/{provider}`: the notification was applied
/// (or had been already): the provider stops retrying.
#[derive(ToSchema)]
pub struct NoticeAccepted {
    /// `SUCCESS`.
    pub code: String,
    /// The order.
    pub order_id: String,
    /// `applied`, `duplicate` or `late-refunded`.
    pub outcome: String,
}

/// `POST /api/v1/sessions`.
#[derive(ToSchema)]
pub struct Session {
    /// The session token: `Authorization: Bearer` on `/p/{plugin}/...` only.
    pub token: String,
    /// The service it opens.
    pub plugin: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
    /// Seconds left.
    pub expires_in: u64,
    /// Longest life of a session, seconds.
    pub max_lifetime_secs: u64,
}

/// `DELETE /api/v1/sessions`.
#[derive(ToSchema)]
pub struct SessionsClosed {
    /// Sessions ended.
    pub closed: u64,
}

/// A plugin as platform staff see it.
#[derive(ToSchema)]
pub struct PluginView {
    /// Plugin id.
    pub id: String,
    /// Name of the released (else first) version.
    pub name: Option<String>,
    /// The fully released version.
    pub version: Option<String>,
    /// Owning department.
    pub department: String,
    /// Description.
    pub description: Option<String>,
    /// Every language's name and description.
    pub names: Option<BTreeMap<String, crate::manifest::Localized>>,
    /// Category.
    pub category: Option<String>,
    /// Capabilities the released version requests.
    pub capabilities: Option<Vec<crate::manifest::Capability>>,
    /// Capabilities granted to the released version.
    pub granted: Option<Vec<crate::manifest::Capability>>,
    /// Effective limits of the released version.
    #[schema(value_type = Option<Object>)]
    pub limits: Option<Value>,
    /// Served to citizens (not taken down).
    pub enabled: bool,
    /// Taken down.
    pub taken_down: bool,
    /// The gray release, if any.
    #[schema(value_type = Option<Object>)]
    pub gray: Option<Value>,
    /// Earlier full releases (for rollback).
    pub previous_releases: Vec<String>,
    /// Catalog curation.
    #[schema(value_type = Object)]
    pub curation: Value,
    /// The released version's circuit breaker: `closed`, `open`, `half-open`.
    pub breaker: Option<String>,
    /// `active`, `failed` or `not-released`.
    pub status: String,
    /// Why the released version failed to load.
    pub load_error: Option<String>,
    /// How long activation took.
    #[schema(value_type = Option<Object>)]
    pub activation: Option<Value>,
    /// Digest of the shown version's component.
    pub sha256: Option<String>,
    /// Size of the shown version's component, bytes.
    pub size: Option<u64>,
    /// Storage used, bytes.
    pub storage_bytes: Option<u64>,
    /// Every version with its state, checks, grants and allowed actions.
    pub history: Vec<VersionView>,
    /// Install only: the version replaced.
    pub replaced_version: Option<String>,
    /// Install only: the same component was installed already.
    pub unchanged: Option<bool>,
    /// Upload only: the version uploaded.
    pub uploaded_version: Option<String>,
}

/// One version of a plugin.
#[derive(ToSchema)]
pub struct VersionView {
    /// Semantic version.
    pub version: String,
    /// `uploaded`, `in-review`, `approved`, `rejected`, `released`, ...
    pub state: String,
    /// Component digest.
    pub sha256: String,
    /// Component size, bytes.
    pub size: u64,
    /// Allowed next actions.
    pub allowed_actions: Vec<String>,
}

/// `GET /admin/v1/plugins`.
#[derive(ToSchema)]
pub struct PluginList {
    /// Plugins the caller may see.
    pub plugins: Vec<PluginView>,
}

/// `GET /admin/v1/review-queue`.
#[derive(ToSchema)]
pub struct ReviewQueue {
    /// Versions in review.
    pub queue: Vec<ReviewItem>,
}

/// A version waiting for review.
#[derive(ToSchema)]
pub struct ReviewItem {
    /// Plugin id.
    pub plugin: String,
    /// Department.
    pub department: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Requested capabilities.
    pub requested: Vec<crate::manifest::Capability>,
    /// Automatic checks.
    #[schema(value_type = Object)]
    pub checks: Value,
    /// The fully released version, if any.
    pub released: Option<String>,
}

/// `POST /admin/v1/plugins/{id}/resume`.
#[derive(ToSchema)]
pub struct Resumed {
    /// Plugin id.
    pub id: String,
    /// The released version.
    pub version: String,
    /// Breaker state before.
    pub breaker_before: String,
    /// Breaker state now.
    pub breaker: String,
}

/// `GET /admin/v1/merchants`.
#[derive(ToSchema)]
pub struct MerchantList {
    /// Merchants the caller may see.
    pub merchants: Vec<crate::payment::merchants::Merchant>,
}

/// An order as staff see it (`citizen` for platform roles only).
#[derive(ToSchema)]
pub struct AdminOrder {
    /// Host order id.
    pub id: String,
    /// The plugin.
    pub plugin: String,
    /// Platform-wide citizen key (platform roles only).
    pub citizen: Option<String>,
    /// The payer's pairwise subject in the plugin.
    pub payer: String,
    /// What the plugin asked for.
    pub request: crate::payment::order::NewOrder,
    /// Status.
    pub status: crate::payment::order::OrderStatus,
    /// The provider's transaction id once paid.
    pub provider_txn: Option<String>,
    /// Refunds.
    pub refunds: Vec<crate::payment::order::Refund>,
    /// Created, seconds since the epoch.
    pub created_at: u64,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
    /// Paid, seconds since the epoch.
    pub paid_at: Option<u64>,
    /// Payments taken after it closed or expired, each refunded.
    pub late_payments: Option<Vec<crate::payment::order::LatePayment>>,
}

/// `GET /admin/v1/orders`.
#[derive(ToSchema)]
pub struct AdminOrders {
    /// Oldest first.
    pub orders: Vec<AdminOrder>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
    /// The business day asked for.
    pub date: Option<String>,
    /// The business time zone.
    pub time_zone: String,
}

/// `GET /admin/v1/orders/{id}`.
#[derive(ToSchema)]
pub struct OrderDetail {
    /// The order.
    pub order: AdminOrder,
    /// Its journal, oldest first.
    pub journal: Vec<crate::payment::order::JournalEntry>,
    /// Its payment events.
    pub events: Vec<crate::payment::events::EventRecord>,
}

/// `GET /admin/v1/usage`.
#[derive(ToSchema)]
pub struct Usage {
    /// First day.
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// The department asked for.
    pub department: Option<String>,
    /// The business time zone.
    pub time_zone: String,
    /// One row per day, plugin and version.
    pub rows: Vec<crate::usage::UsageRow>,
    /// Totals per department.
    pub totals_by_department: BTreeMap<String, UsageTotals>,
}

/// A department's totals.
#[derive(ToSchema)]
pub struct UsageTotals {
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Refused calls.
    pub rejected: u64,
    /// CPU time, microseconds.
    pub cpu_us: u64,
    /// Wall time, microseconds.
    pub wall_us: u64,
}

/// `POST /admin/v1/plugins`, `POST /admin/v1/plugins/{id}/versions`.
#[derive(ToSchema)]
pub struct Upload {
    /// `islet.toml`, as text.
    pub manifest: String,
    /// The component (`.wasm`).
    #[schema(value_type = String, format = Binary)]
    pub component: Vec<u8>,
}

/// A version action of `POST /admin/v1/plugins/{id}/versions/{version}/{action}`.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum VersionAction {
    /// Send an uploaded version for review (its department's developers).
    Submit,
    /// Approve it with grants (reviewers).
    Approve,
    /// Reject it with a reason (reviewers).
    Reject,
    /// Release it to everyone or to a share (reviewers).
    Release,
}

/// A listing action of `POST /admin/v1/plugins/{id}/{action}`.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum PluginAction {
    /// Change the gray release's share and testers.
    Gray,
    /// Make the gray version the full release.
    Promote,
    /// End the gray release.
    Revert,
    /// Back to the previous full release.
    Rollback,
    /// Stop serving it.
    TakeDown,
    /// Serve it again.
    PutBack,
    /// As `take-down`.
    Disable,
    /// As `put-back`.
    Enable,
}

/// The body of a version action: grants for `approve`, a reason for
/// `reject`, share and testers for `release`, nothing for `submit`.
#[derive(serde::Deserialize, ToSchema)]
#[serde(untagged)]
pub enum VersionActionBody {
    /// `approve`.
    Approve(super::lifecycle::ApproveBody),
    /// `reject`.
    Reject(super::lifecycle::RejectBody),
    /// `release`.
    Release(super::lifecycle::ReleaseBody),
}

/// `GET /admin/v1/reconciliation`: the day's statement per merchant and
/// every mismatch with the provider, and the business time zone.
#[derive(serde::Serialize, ToSchema)]
pub struct ReconciliationAnswer {
    /// The statement.
    #[serde(flatten)]
    pub statement: crate::payment::reconcile::Reconciliation,
    /// The business time zone of `date`.
    pub time_zone: String,
}

/// `GET /admin/v1/notification-deliveries`.
#[derive(ToSchema)]
pub struct Deliveries {
    /// Newest first.
    pub deliveries: Vec<crate::notify::OutboxEntry>,
}
