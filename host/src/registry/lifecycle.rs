//! The listing life cycle as plain functions on a [`PluginRecord`]:
//! uploaded → in review → approved | rejected → released (gray or full) →
//! superseded; rollback; take down and put back. Every refused transition
//! names the ones that are allowed.

use super::record::{
    Grants, GrayRelease, PluginRecord, Review, VersionRecord, VersionState, now_secs,
};
use semver::Version;
use sha2::{Digest, Sha256};

/// A change to a plugin's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an uploaded version to review.
    Submit(Version),
    /// Approve a version in review with these grants.
    Approve(Version, Grants),
    /// Reject a version in review, with a reason.
    Reject(Version, String),
    /// Release an approved version: fully (percent 100, no testers) or gray.
    Release {
        /// The version.
        version: Version,
        /// Share of citizens, percent.
        percent: u8,
        /// Citizens who always get it.
        testers: Vec<String>,
    },
    /// Change the gray share and testers.
    SetGray {
        /// Share of citizens, percent.
        percent: u8,
        /// Citizens who always get it.
        testers: Vec<String>,
    },
    /// Make the gray version the full release.
    Promote,
    /// End the gray release; the version goes back to approved.
    Revert,
    /// Go back to the previous full release.
    Rollback,
    /// Hide and stop serving at once.
    TakeDown,
    /// Undo a take-down.
    PutBack,
}

impl Action {
    /// The action's name in the API and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Submit(_) => "submit",
            Action::Approve(..) => "approve",
            Action::Reject(..) => "reject",
            Action::Release { .. } => "release",
            Action::SetGray { .. } => "gray",
            Action::Promote => "promote",
            Action::Revert => "revert",
            Action::Rollback => "rollback",
            Action::TakeDown => "take-down",
            Action::PutBack => "put-back",
        }
    }
}

/// A refused transition (HTTP 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}; allowed now: {}", if allowed.is_empty() { "nothing".to_string() } else { allowed.join(", ") })]
pub struct TransitionError {
    /// What is wrong.
    pub message: String,
    /// The actions allowed in the current state.
    pub allowed: Vec<&'static str>,
}

/// Actions allowed on a version in `state`.
pub fn allowed_for_version(state: VersionState) -> Vec<&'static str> {
    match state {
        VersionState::Uploaded => vec!["submit"],
        VersionState::InReview => vec!["approve", "reject"],
        VersionState::Approved => vec!["release"],
        VersionState::Gray => vec!["gray", "promote", "revert"],
        VersionState::Released => vec!["rollback", "take-down"],
        VersionState::Rejected | VersionState::Superseded => vec![],
    }
}

fn refuse<T>(message: impl Into<String>, allowed: Vec<&'static str>) -> Result<T, TransitionError> {
    Err(TransitionError {
        message: message.into(),
        allowed,
    })
}

fn version_in<'a>(
    record: &'a mut PluginRecord,
    version: &Version,
    expected: VersionState,
    action: &str,
) -> Result<&'a mut VersionRecord, TransitionError> {
    let id = record.id.clone();
    let Some(v) = record.version_mut(version) else {
        return refuse(format!("{id} has no version {version}"), vec![]);
    };
    if v.state != expected {
        let state = v.state;
        return refuse(
            format!("cannot {action} version {version}: it is {}", state.name()),
            allowed_for_version(state),
        );
    }
    Ok(v)
}

/// Apply `action` by `actor` to `record`. On error `record` is unchanged.
pub fn apply(
    record: &PluginRecord,
    action: &Action,
    actor: &str,
) -> Result<PluginRecord, TransitionError> {
    let mut r = record.clone();
    let review = |reason: Option<String>| Review {
        by: actor.to_string(),
        at: now_secs(),
        reason,
    };
    match action {
        Action::Submit(version) => {
            if let Some(other) = r
                .versions
                .iter()
                .find(|v| v.state == VersionState::InReview)
            {
                return refuse(
                    format!(
                        "version {} is already in review; only one version may be in review",
                        other.version()
                    ),
                    vec![],
                );
            }
            version_in(&mut r, version, VersionState::Uploaded, "submit")?.state =
                VersionState::InReview;
        }
        Action::Approve(version, grants) => {
            let v = version_in(&mut r, version, VersionState::InReview, "approve")?;
            if let Some(extra) = grants.beyond(&v.manifest) {
                return refuse(
                    format!("cannot grant {extra}: version {version} did not request it"),
                    vec!["approve", "reject"],
                );
            }
            v.state = VersionState::Approved;
            v.grants = Some(grants.clone());
            v.review = Some(review(None));
        }
        Action::Reject(version, reason) => {
            if reason.trim().is_empty() {
                return refuse("a rejection needs a reason", vec!["approve", "reject"]);
            }
            let v = version_in(&mut r, version, VersionState::InReview, "reject")?;
            v.state = VersionState::Rejected;
            v.review = Some(review(Some(reason.clone())));
        }
        Action::Release {
            version,
            percent,
            testers,
        } => {
            if *percent > 100 {
                return refuse("percent must be between 0 and 100", vec!["release"]);
            }
            if let Some(released) = &r.released
                && version <= released
            {
                return refuse(
                    format!("version {version} is not higher than the released {released}"),
                    vec![],
                );
            }
            let full = *percent == 100 && testers.is_empty();
            if !full && let Some(gray) = &r.gray {
                return refuse(
                    format!(
                        "version {} is already in gray release; promote or revert it first",
                        gray.version
                    ),
                    vec!["gray", "promote", "revert"],
                );
            }
            let v = version_in(&mut r, version, VersionState::Approved, "release")?;
            if full {
                v.state = VersionState::Released;
                supersede_released(&mut r);
                r.released = Some(version.clone());
                if r.gray.as_ref().is_some_and(|g| g.version <= *version) {
                    end_gray(&mut r, VersionState::Superseded);
                }
            } else {
                v.state = VersionState::Gray;
                r.gray = Some(GrayRelease {
                    version: version.clone(),
                    percent: *percent,
                    testers: testers.clone(),
                });
            }
        }
        Action::SetGray { percent, testers } => {
            if *percent > 100 {
                return refuse(
                    "percent must be between 0 and 100",
                    vec!["gray", "promote", "revert"],
                );
            }
            let Some(gray) = r.gray.as_mut() else {
                return refuse("no version is in gray release", vec!["release"]);
            };
            gray.percent = *percent;
            gray.testers = testers.clone();
        }
        Action::Promote => {
            let Some(gray) = r.gray.take() else {
                return refuse("no version is in gray release", vec!["release"]);
            };
            supersede_released(&mut r);
            if let Some(v) = r.version_mut(&gray.version) {
                v.state = VersionState::Released;
            }
            r.released = Some(gray.version);
        }
        Action::Revert => {
            if r.gray.is_none() {
                return refuse("no version is in gray release", vec!["release"]);
            }
            end_gray(&mut r, VersionState::Approved);
        }
        Action::Rollback => {
            let Some(previous) = r.previous.pop() else {
                return refuse("there is no earlier release to roll back to", vec![]);
            };
            if let Some(current) = r.released.take()
                && let Some(v) = r.version_mut(&current)
            {
                v.state = VersionState::Superseded;
            }
            if let Some(v) = r.version_mut(&previous) {
                v.state = VersionState::Released;
            }
            r.released = Some(previous);
        }
        Action::TakeDown => {
            if r.taken_down {
                return refuse("the plugin is already taken down", vec!["put-back"]);
            }
            r.taken_down = true;
        }
        Action::PutBack => {
            if !r.taken_down {
                return refuse("the plugin is not taken down", vec!["take-down"]);
            }
            r.taken_down = false;
        }
    }
    Ok(r)
}

fn supersede_released(r: &mut PluginRecord) {
    if let Some(current) = r.released.take() {
        if let Some(v) = r.version_mut(&current) {
            v.state = VersionState::Superseded;
        }
        r.previous.push(current);
    }
}

fn end_gray(r: &mut PluginRecord, state: VersionState) {
    if let Some(gray) = r.gray.take()
        && let Some(v) = r.version_mut(&gray.version)
    {
        v.state = state;
    }
}

/// The bucket (0..10000) a citizen falls in for plugin `id`: stable, so the
/// same citizen keeps the same version while the percentage is unchanged,
/// and raising the percentage only adds citizens.
pub fn gray_bucket(id: &str, citizen: &str) -> u32 {
    let digest = Sha256::digest(format!("islet-gray\0{id}\0{citizen}").as_bytes());
    let n = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    (n % 10_000) as u32
}

/// Which version serves `citizen` (none: anonymous), if any.
pub fn route<'a>(record: &'a PluginRecord, citizen: Option<&str>) -> Option<&'a Version> {
    if record.taken_down {
        return None;
    }
    if let (Some(gray), Some(citizen)) = (&record.gray, citizen)
        && (gray.testers.iter().any(|t| t == citizen)
            || gray_bucket(&record.id, citizen) < u32::from(gray.percent) * 100)
    {
        return Some(&gray.version);
    }
    record.released.as_ref()
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
