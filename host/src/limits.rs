//! Per-plugin resource limits: platform defaults, platform maxima, and the
//! values a manifest asks for.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Limits as written in a manifest's `[limits]` table or the host config:
/// every value is optional, missing ones fall back to the platform default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LimitOverrides {
    /// Guest CPU time per request, in milliseconds.
    pub cpu_ms: Option<u64>,
    /// All of one instance's linear memories together, in MiB.
    pub memory_mib: Option<u64>,
    /// Wall-clock time around the whole call, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Largest request body the plugin accepts, in KiB.
    pub request_body_kib: Option<u64>,
    /// Largest response body the plugin may return, in KiB.
    pub response_body_kib: Option<u64>,
    /// Total size of the plugin's stored keys and values, in MiB.
    pub storage_mib: Option<u64>,
}

/// A complete set of limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    /// Guest CPU time per request, in milliseconds.
    pub cpu_ms: u64,
    /// All of one instance's linear memories together, in MiB.
    pub memory_mib: u64,
    /// Wall-clock time around the whole call, in milliseconds.
    pub timeout_ms: u64,
    /// Largest request body, in KiB.
    pub request_body_kib: u64,
    /// Largest response body, in KiB.
    pub response_body_kib: u64,
    /// Total stored bytes, in MiB.
    pub storage_mib: u64,
}

impl Limits {
    /// The platform defaults a plugin gets when its manifest is silent.
    pub const DEFAULT: Limits = Limits {
        cpu_ms: 100,
        memory_mib: 64,
        timeout_ms: 2_000,
        request_body_kib: 1024,
        response_body_kib: 1024,
        storage_mib: 10,
    };

    /// The largest values a manifest may ask for unless the host config says otherwise.
    pub const MAX: Limits = Limits {
        cpu_ms: 2_000,
        memory_mib: 512,
        timeout_ms: 30_000,
        request_body_kib: 10 * 1024,
        response_body_kib: 10 * 1024,
        storage_mib: 1024,
    };

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

    fn fields(&self) -> [(&'static str, u64); 6] {
        [
            ("cpu-ms", self.cpu_ms),
            ("memory-mib", self.memory_mib),
            ("timeout-ms", self.timeout_ms),
            ("request-body-kib", self.request_body_kib),
            ("response-body-kib", self.response_body_kib),
            ("storage-mib", self.storage_mib),
        ]
    }

    /// Apply `overrides` on top of `self`.
    pub fn with(&self, overrides: &LimitOverrides) -> Limits {
        Limits {
            cpu_ms: overrides.cpu_ms.unwrap_or(self.cpu_ms),
            memory_mib: overrides.memory_mib.unwrap_or(self.memory_mib),
            timeout_ms: overrides.timeout_ms.unwrap_or(self.timeout_ms),
            request_body_kib: overrides.request_body_kib.unwrap_or(self.request_body_kib),
            response_body_kib: overrides
                .response_body_kib
                .unwrap_or(self.response_body_kib),
            storage_mib: overrides.storage_mib.unwrap_or(self.storage_mib),
        }
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
