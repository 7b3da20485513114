//! Telling the reporter that their report moved on: one message of the
//! one-time template `report-status` per consent the reporter gave when
//! filing. A missing consent (or any other refusal) never undoes the staff
//! change: the answer only says that the reporter was not notified.

use crate::model::{Report, Status};
use islet_sdk::notification::{self, NotifyError};
use serde::Serialize;

/// The template declared in `islet.toml`.
pub const TEMPLATE: &str = "report-status";
/// Longest location quoted in a message, characters.
const LOCATION_CHARS: usize = 60;
/// Longest staff comment quoted in a message, characters.
const COMMENT_CHARS: usize = 150;

/// Whether the reporter was told, as the staff member's answer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notified {
    /// Whether a message went to the reporter's inbox.
    pub sent: bool,
    /// The message id, when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why not (the notification error's code, e.g. `no-consent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For the staff member, e.g. "reporter not notified: ...".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where the message takes the reporter: the page, showing the report.
pub fn link(id: u64) -> String {
    format!("/reports/{id}")
}

/// How a status reads in a sentence.
pub fn status_text(status: Status) -> &'static str {
    match status {
        Status::Submitted => "submitted",
        Status::Accepted => "accepted",
        Status::InProgress => "in progress",
        Status::Resolved => "resolved",
        Status::Rejected => "rejected",
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The template's parameters for `report` in its current status:
/// `report`, `location`, `status` and `note` (the staff comment, or a hint).
pub fn params(report: &Report) -> Vec<(&'static str, String)> {
    let comment = report
        .history
        .last()
        .map(|h| h.comment.as_str())
        .unwrap_or_default();
    let note = if comment.is_empty() {
        "Open it to see its history.".to_owned()
    } else {
        format!("“{}”", clip(comment, COMMENT_CHARS))
    };
    vec![
        ("report", report.id.to_string()),
        ("location", clip(&report.location, LOCATION_CHARS)),
        ("status", status_text(report.status).to_owned()),
        ("note", note),
    ]
}

fn not_notified(error: &NotifyError) -> String {
    let why = match error {
        NotifyError::NoConsent => {
            "they did not ask to be told (or their one message was already used)".to_owned()
        }
        NotifyError::TemplateNotApproved(_) => {
            "status messages are not approved for this service".to_owned()
        }
        NotifyError::QuotaExceeded => "the daily message limit is reached".to_owned(),
        NotifyError::UnknownRecipient => "the platform does not know the reporter".to_owned(),
        NotifyError::BadParameters(why) => format!("the message was refused ({why})"),
        NotifyError::Unavailable(why) => format!("messages are unavailable ({why})"),
    };
    format!("reporter not notified: {why}")
}

/// Send the reporter of `report` the news of its current status.
pub fn tell_reporter(report: &Report) -> Notified {
    let params = params(report);
    let pairs: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
    match notification::send(&report.owner, TEMPLATE, &pairs, Some(&link(report.id))) {
        Ok(id) => {
            islet_sdk::info!("report {}: reporter notified ({id})", report.id);
            Notified {
                sent: true,
                message: Some(id),
                reason: None,
                note: None,
            }
        }
        Err(error) => {
            if matches!(error, NotifyError::NoConsent) {
                islet_sdk::info!("report {}: reporter not notified (no consent)", report.id);
            } else {
                islet_sdk::warn!("report {}: reporter not notified: {error}", report.id);
            }
            Notified {
                sent: false,
                message: None,
                reason: Some(error.code().to_owned()),
                note: Some(not_notified(&error)),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use crate::model::NewReport;

    #[test]
    fn params_fill_every_placeholder_within_limits() {
        let mut report = NewReport {
            category: "road".into(),
            description: "Pothole".into(),
            location: "L".repeat(200),
        }
        .validate(12, "pw-alice", 1)
        .unwrap();
        report
            .transition(Status::Accepted, "c".repeat(1000), 2)
            .unwrap();
        let first = params(&report);
        let names: Vec<&str> = first.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["report", "location", "status", "note"]);
        assert_eq!(first[0].1, "12");
        assert_eq!(first[1].1.chars().count(), LOCATION_CHARS);
        assert!(first[1].1.ends_with('…'));
        assert_eq!(first[2].1, "accepted");
        assert!(first.iter().all(|(_, v)| v.chars().count() <= 200));
        report
            .transition(Status::InProgress, String::new(), 3)
            .unwrap();
        assert_eq!(params(&report)[2].1, "in progress");
        assert_eq!(params(&report)[3].1, "Open it to see its history.");
        assert_eq!(link(12), "/reports/12");
    }
}
