//! Time as the host records it, and the city's business day.
//!
//! Instants are seconds or milliseconds since the Unix epoch. Days (daily
//! quotas, usage reports, notification caps, order statistics,
//! reconciliation dates, retention) are dates in one **business time
//! zone**, `Asia/Shanghai` unless `[clock] time-zone` says otherwise, so the
//! city's day starts at its own midnight, not at 08:00. The zone is set once
//! per process when the host starts ([`set_business_zone`]); a day already
//! recorded keeps its date when the zone later moves, so nothing is counted
//! twice or lost (the day of the move is longer or shorter instead).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use std::sync::{Arc, Mutex, RwLock};

/// The default business time zone.
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";

/// A business time zone: an IANA name (`Asia/Shanghai`) or a fixed UTC
/// offset (`+08:00`, `-05:30:15`), with the text it was given as.
#[derive(Debug, Clone)]
pub struct BusinessZone {
    name: String,
    zone: TimeZone,
}

impl BusinessZone {
    /// Parse `text`: an IANA time zone name or a fixed offset `±HH:MM[:SS]`.
    pub fn parse(text: &str) -> Result<BusinessZone, String> {
        let text = text.trim();
        let zone = if text.starts_with(['+', '-']) {
            parse_offset(text).map(TimeZone::fixed)?
        } else {
            TimeZone::get(text).map_err(|_| {
                format!(
                    "{text:?} is not a time zone: use an IANA name such as \"Asia/Shanghai\" \
                     or a fixed offset such as \"+08:00\""
                )
            })?
        };
        Ok(BusinessZone {
            name: text.to_string(),
            zone,
        })
    }

    /// The zone as configured (`Asia/Shanghai`, `+08:00`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The date (`YYYY-MM-DD`) in this zone of `secs` since the epoch.
    pub fn date_of(&self, secs: u64) -> String {
        let at = i64::try_from(secs)
            .ok()
            .and_then(|s| Timestamp::from_second(s).ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        at.to_zoned(self.zone.clone()).date().to_string()
    }

    /// Seconds from `secs` since the epoch to the next midnight in this zone.
    pub fn seconds_to_midnight(&self, secs: u64) -> u64 {
        let at = i64::try_from(secs)
            .ok()
            .and_then(|s| Timestamp::from_second(s).ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let zoned = at.to_zoned(self.zone.clone());
        let next = zoned
            .date()
            .tomorrow()
            .ok()
            .and_then(|d| d.to_zoned(self.zone.clone()).ok());
        match next {
            Some(next) => u64::try_from(next.timestamp().as_second() - at.as_second()).unwrap_or(1),
            None => 86_400,
        }
        .max(1)
    }

    /// The instants (seconds since the epoch) `[start, end)` of `date` in
    /// this zone.
    pub fn day_bounds(&self, date: &str) -> Result<(i64, i64), String> {
        let day: Date = date
            .parse()
            .map_err(|_| format!("{date:?} is not a date of the form YYYY-MM-DD"))?;
        let start = day
            .to_zoned(self.zone.clone())
            .map_err(|e| format!("{date}: {e}"))?;
        let end = day
            .tomorrow()
            .and_then(|d| d.to_zoned(self.zone.clone()))
            .map_err(|e| format!("{date}: {e}"))?;
        Ok((start.timestamp().as_second(), end.timestamp().as_second()))
    }
}

impl Default for BusinessZone {
    /// [`DEFAULT_ZONE`].
    fn default() -> Self {
        BusinessZone {
            name: DEFAULT_ZONE.into(),
            zone: TimeZone::get(DEFAULT_ZONE)
                .unwrap_or_else(|_| TimeZone::fixed(Offset::constant(8))),
        }
    }
}

fn parse_offset(text: &str) -> Result<Offset, String> {
    let bad = || format!("{text:?} is not a UTC offset: use ±HH:MM or ±HH:MM:SS, e.g. \"+08:00\"");
    let (sign, rest) = match text.split_at_checked(1) {
        Some(("+", rest)) => (1, rest),
        Some(("-", rest)) => (-1, rest),
        _ => return Err(bad()),
    };
    let parts: Vec<i32> = rest
        .split(':')
        .map(|p| {
            (p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let (h, m, s) = match parts[..] {
        [h, m] => (h, m, 0),
        [h, m, s] => (h, m, s),
        _ => return Err(bad()),
    };
    if h > 25 || m > 59 || s > 59 {
        return Err(bad());
    }
    Offset::from_seconds(sign * (h * 3600 + m * 60 + s)).map_err(|_| bad())
}

static ZONE: RwLock<Option<BusinessZone>> = RwLock::new(None);

/// A date as last formatted, `(from, until, date)`: valid for the seconds
/// `from..until` (until the next midnight in its zone).
#[derive(Default)]
struct DayCache(Option<(u64, u64, Arc<str>)>);

impl DayCache {
    /// The date at `now` in the zone `zone` gives, formatted only when
    /// `now` is outside the cached day.
    fn day_at(&mut self, now: u64, zone: impl FnOnce() -> BusinessZone) -> Arc<str> {
        if let Some((from, until, day)) = &self.0
            && (*from..*until).contains(&now)
        {
            return day.clone();
        }
        let zone = zone();
        let day: Arc<str> = Arc::from(zone.date_of(now));
        self.0 = Some((now, now + zone.seconds_to_midnight(now), day.clone()));
        day
    }
}

/// Today's date in the business zone, as last formatted.
static TODAY: Mutex<DayCache> = Mutex::new(DayCache(None));

/// Make `zone` the process's business time zone (the host does at start).
pub fn set_business_zone(zone: BusinessZone) {
    *ZONE.write().unwrap_or_else(|e| e.into_inner()) = Some(zone);
    // After the zone (never both locks at once: `today` takes them in the
    // other order); a date formatted meanwhile in the old zone is dropped.
    *TODAY.lock().unwrap_or_else(|e| e.into_inner()) = DayCache::default();
}

/// The process's business time zone.
pub fn business() -> BusinessZone {
    ZONE.read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// The business time zone's name, for answers and pages.
pub fn business_zone() -> String {
    business().name
}

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

/// The business date (`YYYY-MM-DD`) of `secs` since the epoch.
pub fn date_of(secs: u64) -> String {
    business().date_of(secs)
}

/// Today's business date, `YYYY-MM-DD`: formatted once a day and shared
/// (every guest call is counted under it).
pub fn today() -> Arc<str> {
    TODAY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .day_at(now_secs(), business)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T16:00:00Z: midnight of 2026-12-01 in Shanghai.
    const SHANGHAI_MIDNIGHT: u64 = 1_796_054_400;

    #[test]
    fn the_business_day_turns_at_local_midnight() {
        let zone = BusinessZone::parse("Asia/Shanghai").unwrap();
        assert_eq!(zone.date_of(SHANGHAI_MIDNIGHT - 1), "2026-11-30");
        assert_eq!(zone.date_of(SHANGHAI_MIDNIGHT), "2026-12-01");
        // At 08:00 in Shanghai the UTC date turns; the business date does not.
        let utc = BusinessZone::parse("UTC").unwrap();
        assert_eq!(utc.date_of(SHANGHAI_MIDNIGHT), "2026-11-30");
        assert_eq!(zone.date_of(SHANGHAI_MIDNIGHT + 8 * 3600), "2026-12-01");
        assert_eq!(zone.seconds_to_midnight(SHANGHAI_MIDNIGHT - 5), 5);
        assert_eq!(zone.seconds_to_midnight(SHANGHAI_MIDNIGHT), 86_400);
        let (start, end) = zone.day_bounds("2026-12-01").unwrap();
        assert_eq!((start, end - start), (SHANGHAI_MIDNIGHT as i64, 86_400));
    }

    #[test]
    fn the_cached_date_turns_at_local_midnight_and_is_formatted_once_a_day() {
        let shanghai = || BusinessZone::parse("Asia/Shanghai").expect("zone");
        let mut cache = DayCache::default();
        let evening = cache.day_at(SHANGHAI_MIDNIGHT - 3600, shanghai);
        assert_eq!(&*evening, "2026-11-30");
        let later = cache.day_at(SHANGHAI_MIDNIGHT - 1, || panic!("formatted again"));
        assert!(Arc::ptr_eq(&evening, &later), "the same day is shared");
        assert_eq!(&*cache.day_at(SHANGHAI_MIDNIGHT, shanghai), "2026-12-01");
        // A clock set back is outside the cached day: formatted again.
        assert_eq!(
            &*cache.day_at(SHANGHAI_MIDNIGHT - 60, shanghai),
            "2026-11-30"
        );
    }

    #[test]
    fn a_day_with_a_daylight_saving_change_is_not_24_hours() {
        let ny = BusinessZone::parse("America/New_York").unwrap();
        let (start, end) = ny.day_bounds("2026-11-01").unwrap();
        assert_eq!(end - start, 25 * 3600);
        let (start, end) = ny.day_bounds("2026-03-08").unwrap();
        assert_eq!(end - start, 23 * 3600);
    }

    #[test]
    fn fixed_offsets_and_names_are_parsed_and_bad_ones_refused() {
        let plus = BusinessZone::parse("+08:00").unwrap();
        assert_eq!(plus.date_of(SHANGHAI_MIDNIGHT), "2026-12-01");
        let odd = BusinessZone::parse("-05:30:15").unwrap();
        assert_eq!(odd.name(), "-05:30:15");
        for bad in [
            "Mars/Olympus",
            "+8",
            "+08:60",
            "08:00",
            "+26:00",
            "",
            "+08:00:00:00",
        ] {
            let err = BusinessZone::parse(bad).unwrap_err();
            assert!(
                err.contains("time zone") || err.contains("UTC offset"),
                "{bad}: {err}"
            );
        }
    }
}
