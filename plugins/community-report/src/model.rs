//! Reports and their life cycle, as plain data and pure functions.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Longest location, in characters.
pub const MAX_LOCATION_CHARS: usize = 200;
/// Longest status comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A broken or dark street light.
    StreetLight,
    /// Potholes, damaged pavement, blocked roads.
    Road,
    /// Rubbish, overflowing bins, dirty public spaces.
    Sanitation,
    /// Noise from construction, venues or neighbours.
    Noise,
    /// Trees, parks and public green.
    Greenery,
    /// Anything else.
    Other,
}

impl Category {
    /// Every category, in the order the page offers them.
    pub const ALL: [Category; 6] = [
        Category::StreetLight,
        Category::Road,
        Category::Sanitation,
        Category::Noise,
        Category::Greenery,
        Category::Other,
    ];

    /// The kebab-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::StreetLight => "street-light",
            Category::Road => "road",
            Category::Sanitation => "sanitation",
            Category::Noise => "noise",
            Category::Greenery => "greenery",
            Category::Other => "other",
        }
    }

    /// The category named `name`, if any.
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Where a report is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Filed by a resident, not yet looked at.
    Submitted,
    /// Staff confirmed it is theirs to handle.
    Accepted,
    /// Someone is working on it.
    InProgress,
    /// Fixed. Final.
    Resolved,
    /// Not going to be handled (duplicate, not the department's, ...). Final.
    Rejected,
}

impl Status {
    /// Every status, in life-cycle order.
    pub const ALL: [Status; 5] = [
        Status::Submitted,
        Status::Accepted,
        Status::InProgress,
        Status::Resolved,
        Status::Rejected,
    ];

    /// The kebab-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Accepted => "accepted",
            Status::InProgress => "in-progress",
            Status::Resolved => "resolved",
            Status::Rejected => "rejected",
        }
    }

    /// The status named `name`, if any.
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The statuses staff may move a report in this status to:
    /// submitted → accepted → in-progress → resolved, and rejected from any
    /// status that is not final.
    pub fn next(self) -> &'static [Status] {
        match self {
            Status::Submitted => &[Status::Accepted, Status::Rejected],
            Status::Accepted => &[Status::InProgress, Status::Rejected],
            Status::InProgress => &[Status::Resolved, Status::Rejected],
            Status::Resolved | Status::Rejected => &[],
        }
    }

    /// Whether a report may move from `self` to `to`.
    pub fn can_become(self, to: Status) -> bool {
        self.next().contains(&to)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a change in a report's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Actor {
    /// The resident who filed the report.
    Resident,
    /// A member of the department's staff.
    Staff,
}

/// One step in a report's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The status the report moved to.
    pub status: Status,
    /// Why, for the resident; may be empty.
    pub comment: String,
    /// Who moved it.
    pub by: Actor,
    /// When, in unix seconds.
    pub at: u64,
}

/// A report as stored and as returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Sequential id, from 1.
    pub id: u64,
    /// The filing resident's pairwise subject.
    pub owner: String,
    /// What it is about.
    pub category: Category,
    /// What is wrong.
    pub description: String,
    /// Where.
    pub location: String,
    /// The current status (the last history entry's).
    pub status: Status,
    /// When it was filed, in unix seconds.
    pub created_at: u64,
    /// When its status last changed, in unix seconds.
    pub updated_at: u64,
    /// Every status change, oldest first; starts with `submitted`.
    pub history: Vec<HistoryEntry>,
}

/// A resident's new report, as posted.
#[derive(Debug, Clone, Deserialize)]
pub struct NewReport {
    /// One of [`Category::ALL`], by name.
    pub category: String,
    /// 1 to [`MAX_DESCRIPTION_CHARS`] characters.
    pub description: String,
    /// 1 to [`MAX_LOCATION_CHARS`] characters.
    pub location: String,
}

/// A staff member's status change, as posted.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusChange {
    /// One of [`Status::ALL`], by name.
    pub status: String,
    /// Optional note for the resident, up to [`MAX_COMMENT_CHARS`] characters.
    #[serde(default)]
    pub comment: String,
}

/// Why a request's content was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

fn text_field(name: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars == 0 {
        return Err(Invalid(format!("{name} must not be empty")));
    }
    if chars > max {
        return Err(Invalid(format!(
            "{name} must be at most {max} characters, not {chars}"
        )));
    }
    Ok(value.to_owned())
}

impl NewReport {
    /// Check the fields and build the report `id` filed by `owner` at `now`.
    pub fn validate(&self, id: u64, owner: &str, now: u64) -> Result<Report, Invalid> {
        let category = Category::parse(self.category.trim()).ok_or_else(|| {
            let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
            Invalid(format!("category must be one of {}", names.join(", ")))
        })?;
        let description = text_field("description", &self.description, MAX_DESCRIPTION_CHARS)?;
        let location = text_field("location", &self.location, MAX_LOCATION_CHARS)?;
        Ok(Report {
            id,
            owner: owner.to_owned(),
            category,
            description,
            location,
            status: Status::Submitted,
            created_at: now,
            updated_at: now,
            history: vec![HistoryEntry {
                status: Status::Submitted,
                comment: String::new(),
                by: Actor::Resident,
                at: now,
            }],
        })
    }
}

impl StatusChange {
    /// The requested status and trimmed comment, if well-formed.
    pub fn validate(&self) -> Result<(Status, String), Invalid> {
        let status = Status::parse(self.status.trim()).ok_or_else(|| {
            let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            Invalid(format!("status must be one of {}", names.join(", ")))
        })?;
        let comment = self.comment.trim();
        let chars = comment.chars().count();
        if chars > MAX_COMMENT_CHARS {
            return Err(Invalid(format!(
                "comment must be at most {MAX_COMMENT_CHARS} characters, not {chars}"
            )));
        }
        Ok((status, comment.to_owned()))
    }
}

impl Report {
    /// Move to `to` by staff at `now`, or say why not.
    pub fn transition(&mut self, to: Status, comment: String, now: u64) -> Result<(), String> {
        if !self.status.can_become(to) {
            let allowed: Vec<&str> = self.status.next().iter().map(|s| s.as_str()).collect();
            return Err(if allowed.is_empty() {
                format!(
                    "report {} is {} and cannot change any more",
                    self.id, self.status
                )
            } else {
                format!(
                    "report {} is {}: it can become {}, not {to}",
                    self.id,
                    self.status,
                    allowed.join(" or ")
                )
            });
        }
        self.status = to;
        self.updated_at = now;
        self.history.push(HistoryEntry {
            status: to,
            comment,
            by: Actor::Staff,
            at: now,
        });
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;

    fn new(category: &str, description: &str, location: &str) -> NewReport {
        NewReport {
            category: category.into(),
            description: description.into(),
            location: location.into(),
        }
    }

    #[test]
    fn names_round_trip_through_json() {
        for c in Category::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        for s in Status::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn validation_counts_characters_and_trims() {
        let ok = new("road", "  Pothole  ", "Lujiang Rd 1")
            .validate(1, "a", 10)
            .unwrap();
        assert_eq!(
            (ok.description.as_str(), ok.status),
            ("Pothole", Status::Submitted)
        );
        assert_eq!(ok.history.len(), 1);
        let max = "路".repeat(MAX_DESCRIPTION_CHARS);
        assert!(new("road", &max, "x").validate(1, "a", 0).is_ok());
        let too_long = format!("{max}!");
        assert!(new("road", &too_long, "x").validate(1, "a", 0).is_err());
        assert!(new("road", "   ", "x").validate(1, "a", 0).is_err());
        assert!(new("road", "x", "").validate(1, "a", 0).is_err());
        assert!(
            new("road", "x", &"l".repeat(201))
                .validate(1, "a", 0)
                .is_err()
        );
        let err = new("fire", "x", "y").validate(1, "a", 0).unwrap_err();
        assert!(err.0.contains("street-light"), "{}", err.0);
    }

    #[test]
    fn life_cycle() {
        let mut r = new("noise", "x", "y").validate(7, "a", 0).unwrap();
        assert!(r.transition(Status::Resolved, String::new(), 1).is_err());
        r.transition(Status::Accepted, "on it".into(), 2).unwrap();
        r.transition(Status::InProgress, String::new(), 3).unwrap();
        assert!(r.transition(Status::InProgress, String::new(), 3).is_err());
        r.transition(Status::Resolved, "fixed".into(), 4).unwrap();
        let err = r
            .transition(Status::Rejected, String::new(), 5)
            .unwrap_err();
        assert!(err.contains("cannot change"), "{err}");
        let statuses: Vec<Status> = r.history.iter().map(|h| h.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Submitted,
                Status::Accepted,
                Status::InProgress,
                Status::Resolved
            ]
        );
        assert_eq!(r.updated_at, 4);
        assert!(Status::Submitted.can_become(Status::Rejected));
        assert!(Status::InProgress.can_become(Status::Rejected));
    }
}
