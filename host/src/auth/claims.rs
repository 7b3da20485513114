//! Where a token says who the caller is: the claim names (or dotted paths
//! into nested claims, such as Keycloak's `realm_access.roles`) of the
//! subject, roles, assurance level and personal data, configured per
//! identity provider in `[auth.claims]`.

use super::jwt::AuthError;
use crate::manifest::DataItem;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Longest personal-data value kept from a token, characters.
const MAX_DATA_CHARS: usize = 200;

/// `[auth.claims]`: the claim each attribute is read from. A value is a
/// claim name or a dotted path into nested objects; a name that exists as
/// written (`https://id.city.example/roles`) wins over splitting it at its
/// dots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClaimNames {
    /// The citizen's id at the identity provider (default `sub`).
    pub subject: String,
    /// Where the roles are: one path or a list of them, whose roles are
    /// all taken (default `roles`). A path holds an array of strings or
    /// one space-separated string.
    #[serde(deserialize_with = "one_or_many")]
    pub roles: Vec<String>,
    /// Real-name assurance level, a number 0 to 5 (default `assurance_level`).
    pub assurance_level: String,
    /// Real (legal) name (default `name`).
    pub name: String,
    /// National ID number (default `national_id`).
    pub national_id: String,
    /// Mobile phone number (default `phone_number`).
    pub phone: String,
    /// E-mail address (default `email`).
    pub email: String,
    /// Unified social credit code of the legal person acted for (default
    /// `legal_person`).
    pub legal_person: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            subject: "sub".into(),
            roles: vec!["roles".into()],
            assurance_level: "assurance_level".into(),
            name: "name".into(),
            national_id: "national_id".into(),
            phone: "phone_number".into(),
            email: "email".into(),
            legal_person: "legal_person".into(),
        }
    }
}

/// What a token's claims say about the caller, read with [`ClaimNames`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The citizen's id at the identity provider.
    pub subject: String,
    /// Every role, in the order the paths and the token list them.
    pub roles: Vec<String>,
    /// 0 to 5.
    pub assurance_level: u8,
    /// The personal data items the token carries.
    pub personal_data: BTreeMap<DataItem, String>,
}

impl ClaimNames {
    /// Whether every name is usable (not empty).
    pub fn check(&self) -> Result<(), String> {
        let named = [
            ("subject", &self.subject),
            ("assurance-level", &self.assurance_level),
            ("name", &self.name),
            ("national-id", &self.national_id),
            ("phone", &self.phone),
            ("email", &self.email),
            ("legal-person", &self.legal_person),
        ];
        for (key, value) in named {
            if value.trim().is_empty() {
                return Err(format!("[auth.claims] {key} must name a claim"));
            }
        }
        if self.roles.iter().any(|r| r.trim().is_empty()) {
            return Err("[auth.claims] roles must name claims".into());
        }
        Ok(())
    }

    /// The caller `claims` describe; the subject must be there.
    pub fn read(&self, claims: &Map<String, Value>) -> Result<Identity, AuthError> {
        let subject = match lookup(claims, &self.subject) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            _ => return Err(AuthError::MissingClaim(self.subject.clone())),
        };
        let mut roles = Vec::new();
        for path in &self.roles {
            match lookup(claims, path) {
                Some(Value::Array(items)) => {
                    roles.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
                }
                Some(Value::String(s)) => roles.extend(s.split_whitespace().map(str::to_string)),
                _ => {}
            }
        }
        let assurance_level = match lookup(claims, &self.assurance_level) {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
            _ => 0,
        }
        .min(5) as u8;
        let personal_data = [
            (DataItem::RealName, &self.name),
            (DataItem::NationalId, &self.national_id),
            (DataItem::Phone, &self.phone),
            (DataItem::Email, &self.email),
            (DataItem::LegalPerson, &self.legal_person),
        ]
        .into_iter()
        .filter_map(|(item, path)| {
            lookup(claims, path)
                .and_then(Value::as_str)
                .filter(|v| !v.trim().is_empty() && v.chars().count() <= MAX_DATA_CHARS)
                .map(|v| (item, v.to_string()))
        })
        .collect();
        Ok(Identity {
            subject,
            roles,
            assurance_level,
            personal_data,
        })
    }
}

/// The value at `path` in `object`: the claim named `path` itself, else
/// the path split at a dot, the part before it naming a nested object
/// (tried at every dot, left to right).
pub fn lookup<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = object.get(path) {
        return Some(value);
    }
    for (at, _) in path.match_indices('.') {
        if let Some(Value::Object(inner)) = object.get(&path[..at])
            && let Some(value) = lookup(inner, &path[at + 1..])
        {
            return Some(value);
        }
    }
    None
}

/// One path or a list of them.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Paths {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Paths::deserialize(d)? {
        Paths::One(one) => vec![one],
        Paths::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn paths_reach_nested_claims_and_literal_names_win() {
        let claims = object(json!({
            "sub": "s",
            "realm_access": {"roles": ["admin", "offline_access"]},
            "resource_access": {"islet-app": {"roles": ["staff:water"]}},
            "https://id.city.example/roles": ["reviewer"],
            "a.b": {"c": 1},
            "a": {"b": {"c": 2}},
            "deep": {"x.y": {"z": "found"}},
        }));
        assert_eq!(
            lookup(&claims, "realm_access.roles"),
            Some(&json!(["admin", "offline_access"]))
        );
        assert_eq!(
            lookup(&claims, "resource_access.islet-app.roles"),
            Some(&json!(["staff:water"]))
        );
        assert_eq!(
            lookup(&claims, "https://id.city.example/roles"),
            Some(&json!(["reviewer"]))
        );
        assert_eq!(
            lookup(&claims, "a.b.c"),
            Some(&json!(2)),
            "plain nesting first"
        );
        assert_eq!(
            lookup(&claims, "a.b"),
            Some(&json!({"c": 1})),
            "the name as written"
        );
        assert_eq!(lookup(&claims, "deep.x.y.z"), Some(&json!("found")));
        for missing in [
            "realm_access.role",
            "sub.x",
            "realm_access.roles.0",
            "",
            ".",
        ] {
            assert_eq!(lookup(&claims, missing), None, "{missing}");
        }
    }

    #[test]
    fn a_keycloak_token_reads_with_configured_names() {
        let names = ClaimNames {
            subject: "preferred_username".into(),
            roles: vec![
                "realm_access.roles".into(),
                "resource_access.islet-app.roles".into(),
            ],
            assurance_level: "acr".into(),
            phone: "attributes.mobile".into(),
            ..ClaimNames::default()
        };
        let claims = object(json!({
            "sub": "f:123",
            "preferred_username": "zhang.san",
            "realm_access": {"roles": ["admin", 7, "offline_access"]},
            "resource_access": {"islet-app": {"roles": ["staff:water"]}},
            "roles": ["ignored"],
            "acr": "4",
            "attributes": {"mobile": "13800000000"},
            "email": "  ",
            "name": "张三",
        }));
        let who = names.read(&claims).unwrap();
        assert_eq!(who.subject, "zhang.san");
        assert_eq!(who.roles, ["admin", "offline_access", "staff:water"]);
        assert_eq!(who.assurance_level, 4);
        assert_eq!(
            who.personal_data,
            BTreeMap::from([
                (DataItem::Phone, "13800000000".to_string()),
                (DataItem::RealName, "张三".to_string()),
            ])
        );
    }

    #[test]
    fn odd_values_are_bounded_or_refused() {
        let names = ClaimNames::default();
        let read = |v: Value| names.read(&object(v));
        assert_eq!(
            read(json!({"sub": ""})),
            Err(AuthError::MissingClaim("sub".into()))
        );
        assert_eq!(
            read(json!({"sub": {"id": 1}})),
            Err(AuthError::MissingClaim("sub".into()))
        );
        assert_eq!(read(json!({"sub": 42})).unwrap().subject, "42");
        let who = read(json!({
            "sub": "s", "assurance_level": 99, "roles": "admin  staff:water",
            "name": "x".repeat(201),
        }))
        .unwrap();
        assert_eq!(who.assurance_level, 5);
        assert_eq!(who.roles, ["admin", "staff:water"]);
        assert!(who.personal_data.is_empty());
        let who = read(json!({"sub": "s", "assurance_level": -1, "roles": 3})).unwrap();
        assert_eq!((who.assurance_level, who.roles.len()), (0, 0));
    }

    #[test]
    fn the_table_takes_one_path_or_many_and_refuses_empty_names() {
        let one: ClaimNames = toml::from_str("roles = \"realm_access.roles\"").unwrap();
        assert_eq!(one.roles, ["realm_access.roles"]);
        assert_eq!(one.subject, "sub", "the others keep their defaults");
        let many: ClaimNames = toml::from_str("roles = [\"a.roles\", \"b\"]").unwrap();
        assert_eq!(many.roles, ["a.roles", "b"]);
        assert!(toml::from_str::<ClaimNames>("role = \"x\"").is_err());
        let empty: ClaimNames = toml::from_str("subject = \" \"").unwrap();
        assert!(empty.check().unwrap_err().contains("subject"));
        assert!(ClaimNames::default().check().is_ok());
    }
}
