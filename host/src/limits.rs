//! Per-plugin resource limits: platform defaults, platform maxima, and the
//! values a manifest asks for.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Declares every limit once: its field, manifest key, doc, platform
/// default and platform maximum.
macro_rules! limits {
    ($( $(#[doc = $doc:literal])* $field:ident : $key:literal = $default:expr, max $max:expr; )*) => {
        /// Limits as written in a manifest's `[limits]` table or the host
        /// config: every value is optional, missing ones fall back to the
        /// platform default.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case", deny_unknown_fields)]
        pub struct LimitOverrides {
            $( $(#[doc = $doc])* pub $field: Option<u64>, )*
        }

        /// A complete set of limits.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case", deny_unknown_fields)]
        pub struct Limits {
            $( $(#[doc = $doc])* pub $field: u64, )*
        }

        impl Limits {
            /// The platform defaults a plugin gets when its manifest is silent.
            pub const DEFAULT: Limits = Limits { $( $field: $default, )* };

            /// The largest values a manifest may ask for unless the host
            /// config says otherwise.
            pub const MAX: Limits = Limits { $( $field: $max, )* };

            fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![ $( ($key, self.$field), )* ]
            }

            /// Apply `overrides` on top of `self`.
            pub fn with(&self, overrides: &LimitOverrides) -> Limits {
                Limits { $( $field: overrides.$field.unwrap_or(self.$field), )* }
            }
        }
    };
}

limits! {
    /// Guest CPU time per request, in milliseconds.
    cpu_ms: "cpu-ms" = 100, max 2_000;
    /// All of one instance's linear memories together, in MiB.
    memory_mib: "memory-mib" = 64, max 512;
    /// Wall-clock time around the whole call, in milliseconds.
    timeout_ms: "timeout-ms" = 2_000, max 30_000;
    /// Largest request body the plugin accepts, in KiB.
    request_body_kib: "request-body-kib" = 1024, max 10 * 1024;
    /// Largest response body the plugin may return, in KiB.
    response_body_kib: "response-body-kib" = 1024, max 10 * 1024;
    /// Total size of the plugin's stored keys and values, in MiB.
    storage_mib: "storage-mib" = 10, max 1024;
    /// Requests of this plugin running at once; more get 503 at once.
    concurrency: "concurrency" = 32, max 256;
    /// Requests per minute one citizen (or one anonymous address) may make
    /// to this plugin; more get 429.
    rate_per_minute: "rate-per-minute" = 600, max 60_000;
    /// Calls per business day to this plugin; more get 429 until local midnight.
    daily_calls: "daily-calls" = 1_000_000, max 100_000_000;
    /// Share of recent calls (percent) that may fail before the version is
    /// suspended by the circuit breaker.
    breaker_failure_percent: "breaker-failure-percent" = 50, max 100;
    /// Recent calls the breaker looks at (and needs before it judges).
    breaker_window: "breaker-window" = 20, max 1_000;
    /// Seconds a suspended version waits before a probe call may test it.
    breaker_cooldown_s: "breaker-cooldown-s" = 30, max 3_600;
    /// Distinct callers (citizens, or anonymous client addresses) whose
    /// calls must have failed before the breaker opens; each caller's
    /// failures also count for at most `breaker-window / breaker-min-callers`
    /// of the window, so one caller cannot suspend a plugin for everyone.
    breaker_min_callers: "breaker-min-callers" = 3, max 1_000;
}

impl Limits {
    /// CPU budget as a duration.
    pub fn cpu(&self) -> Duration {
        Duration::from_millis(self.cpu_ms)
    }

    /// Wall-clock budget as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// Request body cap in bytes.
    pub fn request_body_bytes(&self) -> usize {
        usize::try_from(self.request_body_kib.saturating_mul(1024)).unwrap_or(usize::MAX)
    }

    /// Response body cap in bytes.
    pub fn response_body_bytes(&self) -> usize {
        usize::try_from(self.response_body_kib.saturating_mul(1024)).unwrap_or(usize::MAX)
    }

    /// Storage quota in bytes.
    pub fn storage_bytes(&self) -> u64 {
        self.storage_mib.saturating_mul(1 << 20)
    }

    /// Check every value is positive and at most `max`; the error names each
    /// offending field.
    pub fn check_within(&self, max: &Limits) -> Result<(), String> {
        let problems: Vec<String> = self
            .fields()
            .iter()
            .zip(max.fields())
            .filter_map(|((name, value), (_, cap))| {
                if *value == 0 {
                    Some(format!("limits.{name} must be greater than 0"))
                } else if *value > cap {
                    Some(format!(
                        "limits.{name} = {value} is above the platform maximum of {cap}"
                    ))
                } else {
                    None
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The platform's limit policy: defaults plus maxima.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitPolicy {
    /// Used for every value a manifest leaves out.
    pub default: Limits,
    /// No manifest may ask for more than this.
    pub max: Limits,
}

impl Default for LimitPolicy {
    fn default() -> Self {
        LimitPolicy {
            default: Limits::DEFAULT,
            max: Limits::MAX,
        }
    }
}

impl LimitPolicy {
    /// Resolve a manifest's overrides into effective limits, refusing values
    /// above the maxima.
    pub fn resolve(&self, overrides: &LimitOverrides) -> Result<Limits, String> {
        let limits = self.default.with(overrides);
        limits.check_within(&self.max)?;
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_take_defaults_and_maxima_are_enforced() {
        let policy = LimitPolicy::default();
        let limits = policy
            .resolve(&LimitOverrides {
                cpu_ms: Some(50),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(limits.cpu_ms, 50);
        assert_eq!(limits.memory_mib, Limits::DEFAULT.memory_mib);

        let err = policy
            .resolve(&LimitOverrides {
                memory_mib: Some(100_000),
                timeout_ms: Some(0),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.contains("limits.memory-mib = 100000"), "{err}");
        assert!(
            err.contains("limits.timeout-ms must be greater than 0"),
            "{err}"
        );
    }
}
