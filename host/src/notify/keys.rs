//! The inbox message and the key layout of notifications in the `consent`
//! namespace (next to consents, so one batch covers a whole send).

use serde::{Deserialize, Serialize};

/// One message in a citizen's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// `msg…`: time-ordered (newest sorts first) and unguessable.
    pub id: String,
    /// The plugin that sent it.
    pub plugin: String,
    /// The plugin's name when it was sent.
    pub service_name: String,
    /// The template id.
    pub template: String,
    /// The template's title.
    pub title: String,
    /// The rendered body.
    pub body: String,
    /// Where it opens: `/p/{plugin}/…`, if anywhere.
    pub link: Option<String>,
    /// When it was sent, ms since the epoch.
    pub at_ms: u64,
    /// Whether the citizen read it.
    pub read: bool,
}

/// Hex digits of the random part of a message id.
const RANDOM_HEX: usize = 10;
/// Length of a message id: `msg`, 16 hex digits of inverted time, random.
const ID_LEN: usize = 3 + 16 + RANDOM_HEX;

/// A new message id for a message sent at `now_ms`.
pub fn new_message_id(now_ms: u64) -> String {
    format!(
        "msg{:016x}{}",
        u64::MAX - now_ms,
        hex::encode(rand::random::<[u8; RANDOM_HEX / 2]>())
    )
}

/// Whether `id` has the shape of a message id (checked before it becomes
/// part of a key).
pub fn valid_message_id(id: &str) -> bool {
    id.len() == ID_LEN
        && id.starts_with("msg")
        && id[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A message: `m/{citizen}/{id}`.
pub fn message(citizen: &str, id: &str) -> String {
    format!("m/{citizen}/{id}")
}

/// Prefix of a citizen's messages (newest first).
pub fn inbox_prefix(citizen: &str) -> String {
    format!("m/{citizen}/")
}

/// A citizen's unread count: `u/{citizen}` (decimal).
pub fn unread(citizen: &str) -> String {
    format!("u/{citizen}")
}

/// Prefix of the per-plugin daily counters.
pub const PLUGIN_DAY_PREFIX: &str = "nq/";
/// Prefix of the per-citizen-per-plugin daily counters.
pub const CITIZEN_DAY_PREFIX: &str = "nc/";

/// Messages `plugin` sent on `date`: `nq/{date}/{plugin}` (decimal).
pub fn plugin_day(date: &str, plugin: &str) -> String {
    format!("{PLUGIN_DAY_PREFIX}{date}/{plugin}")
}

/// Messages `plugin` sent `citizen` on `date`: `nc/{date}/{citizen}/{plugin}`.
pub fn citizen_day(date: &str, citizen: &str, plugin: &str) -> String {
    format!("{CITIZEN_DAY_PREFIX}{date}/{citizen}/{plugin}")
}

/// An outbound delivery: `wo/{channel}/{message id}`.
pub fn outbox(channel: &str, id: &str) -> String {
    format!("wo/{channel}/{id}")
}

/// Prefix of every outbound delivery.
pub const OUTBOX_PREFIX: &str = "wo/";

/// An outbound delivery still to make: `wq/{channel}/{message id}`.
pub fn pending(channel: &str, id: &str) -> String {
    format!("wq/{channel}/{id}")
}

/// Prefix of the deliveries still to make.
pub const PENDING_PREFIX: &str = "wq/";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_newest_first_and_are_checked() {
        let older = new_message_id(1_000);
        let newer = new_message_id(2_000);
        assert!(newer < older);
        assert!(valid_message_id(&older), "{older}");
        for bad in [
            "",
            "msg",
            "msg../../x",
            &older.to_uppercase(),
            &format!("{older}0"),
        ] {
            assert!(!valid_message_id(bad), "{bad}");
        }
    }
}
