//! Where reports live in the plugin's key-value storage.
//!
//! - `seq/report`: the id counter, bumped with `increment`;
//! - `report/<rev>`: the report as JSON;
//! - `by-owner/<subject>/<rev>`: an empty marker listing a resident's reports.
//!
//! `<rev>` is `u64::MAX - id` as 20 digits, so ascending key order — the only
//! order `list-keys` knows — is newest first.

use crate::model::Report;
use islet_sdk::storage::{self, StorageError};

const SEQ_KEY: &str = "seq/report";
const REPORT_PREFIX: &str = "report/";
/// Most keys one listing request looks at, to stay within the CPU budget
/// when a status filter skips many reports.
const SCAN_BUDGET: usize = 300;

fn rev(id: u64) -> String {
    format!("{:020}", u64::MAX - id)
}

fn id_of(key: &str) -> Option<u64> {
    let rev: u64 = key.rsplit('/').next()?.parse().ok()?;
    Some(u64::MAX - rev)
}

fn report_key(id: u64) -> String {
    format!("{REPORT_PREFIX}{}", rev(id))
}

fn owner_prefix(owner: &str) -> String {
    format!("by-owner/{owner}/")
}

/// A fresh report id.
pub fn next_id() -> Result<u64, StorageError> {
    let id = storage::increment(SEQ_KEY, 1)?;
    u64::try_from(id).map_err(|_| StorageError::NotANumber)
}

/// Store a new report and index it under its owner. The index goes first:
/// a marker whose report is missing is skipped, a report missing from its
/// owner's list would be lost to them.
pub fn insert(report: &Report) -> Result<(), StorageError> {
    storage::set(
        &format!("{}{}", owner_prefix(&report.owner), rev(report.id)),
        b"",
    )?;
    storage::compare_and_swap(
        &report_key(report.id),
        None,
        Some(&storage::encode_json(report)?),
    )
}

/// The report with `id`, if any.
pub fn load(id: u64) -> Result<Option<Report>, StorageError> {
    storage::get_json(&report_key(id))
}

/// Apply `change` to report `id` with compare-and-swap, retrying when a
/// concurrent update got there first. `E` carries refusals (and storage
/// errors) out; `change` gets `None` if the report does not exist.
pub fn update<E: From<StorageError>>(
    id: u64,
    change: impl FnMut(Option<Report>) -> Result<Option<Report>, E>,
) -> Result<Option<Report>, E> {
    storage::update_json(&report_key(id), 16, change)
}

/// One page of a listing, newest first.
#[derive(Debug)]
pub struct Page {
    /// The reports on this page.
    pub reports: Vec<Report>,
    /// Pass as `cursor` to get the next page; `None` at the end.
    pub next_cursor: Option<u64>,
}

/// All reports passing `keep`, newest first, starting after report id `cursor`.
pub fn list_all(
    cursor: Option<u64>,
    limit: usize,
    keep: impl Fn(&Report) -> bool,
) -> Result<Page, StorageError> {
    list(REPORT_PREFIX, cursor, limit, keep)
}

/// `owner`'s reports, newest first, starting after report id `cursor`.
pub fn list_owned(owner: &str, cursor: Option<u64>, limit: usize) -> Result<Page, StorageError> {
    list(&owner_prefix(owner), cursor, limit, |r| r.owner == owner)
}

fn list(
    prefix: &str,
    cursor: Option<u64>,
    limit: usize,
    keep: impl Fn(&Report) -> bool,
) -> Result<Page, StorageError> {
    let mut after = cursor.map(|id| format!("{prefix}{}", rev(id)));
    let mut reports = Vec::new();
    let mut scanned = 0;
    let batch = u32::try_from(limit.clamp(1, 100)).unwrap_or(100);
    loop {
        let page = storage::list_keys(prefix, after.as_deref(), batch)?;
        let count = page.keys.len();
        for (i, key) in page.keys.iter().enumerate() {
            scanned += 1;
            let Some(id) = id_of(key) else { continue };
            // Index markers may outlive a failed insert: skip what is missing.
            if let Some(report) = load(id)?.filter(|r| keep(r)) {
                reports.push(report);
            }
            let more = i + 1 < count || page.next_cursor.is_some();
            if reports.len() >= limit || scanned >= SCAN_BUDGET {
                return Ok(Page {
                    reports,
                    next_cursor: if more { Some(id) } else { None },
                });
            }
        }
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => {
                return Ok(Page {
                    reports,
                    next_cursor: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rev_keys_sort_newest_first_and_parse_back() {
        assert!(report_key(10) < report_key(9));
        assert!(report_key(1_000) < report_key(999));
        assert_eq!(id_of(&report_key(42)), Some(42));
        assert_eq!(id_of(&format!("by-owner/a/b/{}", rev(7))), Some(7));
        assert_eq!(id_of("report/x"), None);
    }
}
