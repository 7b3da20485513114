//! Wall-clock time as the host records it: seconds or milliseconds since
//! the Unix epoch, and UTC dates for daily counters and reports.

use time::OffsetDateTime;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    now_ms() / 1000
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The UTC date (`YYYY-MM-DD`) of `secs` since the epoch.
pub fn date_of(secs: u64) -> String {
    OffsetDateTime::from_unix_timestamp(secs as i64)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "1970-01-01".into())
}

/// The city's business time zone (an IANA name): the zone the citizen-facing
/// pages show times in. `Asia/Shanghai` until the zone becomes a setting.
pub fn business_zone() -> &'static str {
    "Asia/Shanghai"
}
