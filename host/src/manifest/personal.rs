//! What a manifest asks for about people: personal data items with the
//! purpose each is used for, and the message templates it may send.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A personal data item the identity token may carry (WIT `data-item`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum DataItem {
    /// Real (legal) name.
    RealName,
    /// National ID number.
    NationalId,
    /// Mobile phone number.
    Phone,
    /// E-mail address.
    Email,
    /// Unified social credit code of the legal person acted for.
    LegalPerson,
}

impl DataItem {
    /// Every item.
    pub const ALL: [DataItem; 5] = [
        DataItem::RealName,
        DataItem::NationalId,
        DataItem::Phone,
        DataItem::Email,
        DataItem::LegalPerson,
    ];

    /// The kebab-case name used in manifests, grants and the API.
    pub fn name(self) -> &'static str {
        match self {
            DataItem::RealName => "real-name",
            DataItem::NationalId => "national-id",
            DataItem::Phone => "phone",
            DataItem::Email => "email",
            DataItem::LegalPerson => "legal-person",
        }
    }

    /// The item called `name`.
    pub fn parse(name: &str) -> Option<DataItem> {
        DataItem::ALL.into_iter().find(|i| i.name() == name)
    }

    /// How the citizen sees it.
    pub fn label(self) -> &'static str {
        match self {
            DataItem::RealName => "real name",
            DataItem::NationalId => "national ID number",
            DataItem::Phone => "phone number",
            DataItem::Email => "e-mail address",
            DataItem::LegalPerson => "company (social credit code)",
        }
    }
}

impl fmt::Display for DataItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How consent to a template works.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum TemplateKind {
    /// Each consent allows exactly one message; consents accumulate.
    OneTime,
    /// One consent allows messages until revoked; only for plugins an admin
    /// allowed long-term messages (public services).
    LongTerm,
}

/// A message template declared in the manifest (`[[templates]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Template {
    /// Id used by `notification.send`: `[a-z][a-z0-9-]{1,39}`.
    pub id: String,
    /// Shown as the message title and in the consent prompt.
    pub title: String,
    /// Body with named placeholders: `Report {report} is now {status}.`
    pub body: String,
    /// One-time or long-term consent.
    pub kind: TemplateKind,
}

/// Longest template title, characters.
pub const MAX_TITLE_CHARS: usize = 60;
/// Longest template body, characters.
pub const MAX_BODY_CHARS: usize = 500;
/// Longest purpose, characters.
pub const MAX_PURPOSE_CHARS: usize = 200;

impl Template {
    /// The placeholder names in the body, in order of first use.
    pub fn placeholders(&self) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| "a `{` without a closing `}`".to_string())?;
            let name = &after[..close];
            let valid = !name.is_empty()
                && name.len() <= 40
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(format!(
                    "placeholder {{{name}}} must be 1 to 40 characters of a-z, 0-9 and _"
                ));
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err("a `}` without an opening `{`".into());
        }
        Ok(names)
    }

    /// Check the template's fields.
    pub fn check(&self) -> Result<(), String> {
        if !super::is_valid_id(&self.id) {
            return Err(format!(
                "template id {:?} must be 2 to 40 characters of a-z, 0-9 and '-'",
                self.id
            ));
        }
        if self.title.trim().is_empty() || self.title.chars().count() > MAX_TITLE_CHARS {
            return Err(format!(
                "template {}: title must have 1 to {MAX_TITLE_CHARS} characters",
                self.id
            ));
        }
        if self.body.trim().is_empty() || self.body.chars().count() > MAX_BODY_CHARS {
            return Err(format!(
                "template {}: body must have 1 to {MAX_BODY_CHARS} characters",
                self.id
            ));
        }
        self.placeholders()
            .map(|_| ())
            .map_err(|e| format!("template {}: {e}", self.id))
    }

    /// The body with `params` filled in; every placeholder needs exactly
    /// one value and no other names are allowed.
    pub fn render(&self, params: &[(String, String)]) -> Result<String, String> {
        let wanted = self.placeholders()?;
        let mut seen = BTreeSet::new();
        for (name, value) in params {
            if !wanted.contains(name) {
                return Err(format!("unknown parameter {name:?}"));
            }
            if !seen.insert(name.as_str()) {
                return Err(format!("parameter {name:?} given twice"));
            }
            if value.chars().count() > 200 {
                return Err(format!("parameter {name:?} is longer than 200 characters"));
            }
        }
        if let Some(missing) = wanted.iter().find(|w| !seen.contains(w.as_str())) {
            return Err(format!("missing parameter {missing:?}"));
        }
        // One pass, so a value that looks like a placeholder stays text.
        let mut out = String::with_capacity(self.body.len());
        let mut rest = self.body.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').unwrap_or(after.len());
            let name = &after[..close];
            let value = params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str());
            out.push_str(value.unwrap_or_default());
            rest = after.get(close + 1..).unwrap_or_default();
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(body: &str) -> Template {
        Template {
            id: "status".into(),
            title: "Status".into(),
            body: body.into(),
            kind: TemplateKind::OneTime,
        }
    }

    #[test]
    fn placeholders_are_checked_and_rendered() {
        let t = template("Report {report} is now {status}. {status}!");
        assert_eq!(t.placeholders().unwrap(), ["report", "status"]);
        let params = vec![
            ("report".to_string(), "12".to_string()),
            ("status".to_string(), "fixed".to_string()),
        ];
        assert_eq!(t.render(&params).unwrap(), "Report 12 is now fixed. fixed!");
        let sneaky = vec![
            ("report".to_string(), "{status}".to_string()),
            ("status".to_string(), "x".to_string()),
        ];
        assert_eq!(t.render(&sneaky).unwrap(), "Report {status} is now x. x!");
        assert!(t.render(&params[..1]).unwrap_err().contains("missing"));
        let mut extra = params.clone();
        extra.push(("x".into(), "y".into()));
        assert!(t.render(&extra).unwrap_err().contains("unknown"));
        let long = vec![
            ("report".to_string(), "r".repeat(201)),
            ("status".to_string(), "s".into()),
        ];
        assert!(t.render(&long).is_err());
        for bad in ["{", "}", "{Bad}", "{}", "{a b}"] {
            assert!(template(bad).check().is_err(), "{bad}");
        }
    }
}
