//! Localised catalog texts of a manifest: `[i18n.zh-CN] name = "...",
//! description = "..."`, one table per language, beside the base `name` and
//! `description` (written in the manifest's `language`, English unless said).

use icu_locale_core::LanguageIdentifier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The language of a manifest's base texts when it does not say.
pub const DEFAULT_LANGUAGE: &str = "en";

/// Most `[i18n.*]` tables one manifest may carry.
pub const MAX_LANGUAGES: usize = 20;

/// The name and description of a mini-service in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    /// Display name in the catalog.
    pub name: String,
    /// One or two sentences for the catalog.
    pub description: String,
}

/// Why a language tag is refused: `None` when `tag` is a well-formed BCP 47
/// language tag written the canonical way (`zh-CN`, `en`, `zh-Hans-CN`).
pub fn tag_problem(tag: &str) -> Option<String> {
    match tag.parse::<LanguageIdentifier>() {
        Ok(id) if id.to_string() == tag => None,
        Ok(id) => Some(format!(
            "{tag:?}: write the language tag as {:?}",
            id.to_string()
        )),
        Err(_) => Some(format!(
            "{tag:?} is not a language tag (such as \"zh-CN\" or \"en\")"
        )),
    }
}

/// The primary language subtag of `tag`, lower-cased (`zh` of `zh-CN`).
fn primary(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Of the languages `available` (tags), the best for a caller who asked for
/// `wanted` (most preferred first): an exact match (ignoring case) of the
/// earliest wanted tag, else one with the same primary language; `None`
/// when nothing wanted is available.
pub fn best_match<'a>(
    wanted: &[String],
    available: impl Iterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    for want in wanted {
        if let Some(found) = available.clone().find(|a| a.eq_ignore_ascii_case(want)) {
            return Some(found);
        }
        let want_primary = primary(want);
        if want_primary.is_empty() || want_primary == "*" {
            continue;
        }
        if let Some(found) = available.clone().find(|a| primary(a) == want_primary) {
            return Some(found);
        }
    }
    None
}

/// Check the `[i18n.*]` tables of a manifest whose base texts are in
/// `base`: well-formed tags, not the base language again, texts within
/// the base fields' bounds.
pub fn check(base: &str, tables: &BTreeMap<String, Localized>) -> Result<(), String> {
    if tables.len() > MAX_LANGUAGES {
        return Err(format!(
            "{} languages; at most {MAX_LANGUAGES} are allowed",
            tables.len()
        ));
    }
    for (tag, texts) in tables {
        if let Some(problem) = tag_problem(tag) {
            return Err(problem);
        }
        if tag.eq_ignore_ascii_case(base) {
            return Err(format!(
                "{tag:?} is the manifest's own language: put its texts in name and description"
            ));
        }
        for (field, value, max) in [
            ("name", &texts.name, 64),
            ("description", &texts.description, 500),
        ] {
            if value.trim().is_empty() {
                return Err(format!("{tag}: {field} must not be empty"));
            }
            if value.chars().count() > max {
                return Err(format!("{tag}: {field} must be at most {max} characters"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tags_must_be_well_formed_and_canonical() {
        assert_eq!(tag_problem("zh-CN"), None);
        assert_eq!(tag_problem("en"), None);
        assert_eq!(tag_problem("zh-Hans-CN"), None);
        assert!(tag_problem("zh-cn").unwrap().contains("\"zh-CN\""));
        for bad in ["", "chinese!", "zh_CN_", "x", "zh-CN-", "en US"] {
            assert!(tag_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn the_earliest_wanted_language_wins_then_the_primary_language() {
        let available = ["en", "zh-CN"];
        let pick = |wanted: &[&str]| best_match(&tags(wanted), available.iter().copied());
        assert_eq!(pick(&["zh-CN", "en"]), Some("zh-CN"));
        assert_eq!(pick(&["en-US", "zh-CN"]), Some("en"));
        assert_eq!(pick(&["zh"]), Some("zh-CN"));
        assert_eq!(pick(&["ZH-cn"]), Some("zh-CN"));
        assert_eq!(pick(&["fr", "zh-TW"]), Some("zh-CN"));
        assert_eq!(pick(&["fr"]), None);
        assert_eq!(pick(&["*"]), None);
        assert_eq!(pick(&[]), None);
    }
}
