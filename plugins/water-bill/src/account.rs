//! A household's water account and its monthly bills, and where they live:
//! one JSON document per citizen under `account/<subject>`, updated with
//! compare-and-swap.
//!
//! There is no real utility behind this sample: the first time a citizen
//! looks, a demo account is seeded from their pairwise subject, so the same
//! citizen always sees the same account number and address.

use islet_sdk::storage::{self, StorageError};
use serde::{Deserialize, Serialize};

/// Where a bill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BillStatus {
    /// Not paid, and no order waiting.
    Unpaid,
    /// An order was created and waits for the citizen to pay it.
    Pending,
    /// Paid.
    Paid,
    /// Paid, then refunded in full.
    Refunded,
}

/// One monthly bill. Amounts are integers in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    /// The month billed, `YYYY-MM`.
    pub period: String,
    /// Amount due, fen.
    pub amount_fen: u64,
    /// Pay by this day, `YYYY-MM-DD`.
    pub due_date: String,
    /// Where the bill is.
    pub status: BillStatus,
    /// The payment order of the latest attempt, while pending or once paid.
    pub order_id: Option<String>,
    /// Payment attempts so far; attempt `n` uses order key
    /// `<account>-<period>-<n>`.
    pub attempt: u32,
    /// When it was paid, seconds since the Unix epoch.
    pub paid_at: Option<u64>,
}

/// A household's water account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The utility's account number, `WB-` and 8 digits.
    pub number: String,
    /// The supplied address.
    pub address: String,
    /// Monthly bills, oldest first.
    pub bills: Vec<Bill>,
}

impl Account {
    /// The bill for `period`, if any.
    pub fn bill(&self, period: &str) -> Option<&Bill> {
        self.bills.iter().find(|b| b.period == period)
    }

    /// The bill for `period`, if any, to change.
    pub fn bill_mut(&mut self, period: &str) -> Option<&mut Bill> {
        self.bills.iter_mut().find(|b| b.period == period)
    }

    /// The order key of payment attempt `attempt` for `period`.
    pub fn order_key(&self, period: &str, attempt: u32) -> String {
        format!("{}-{period}-{attempt}", self.number)
    }

    /// The period an order key of this account names, if it is one.
    pub fn period_of(&self, order_key: &str) -> Option<String> {
        let rest = order_key.strip_prefix(&self.number)?.strip_prefix('-')?;
        let (period, attempt) = rest.rsplit_once('-')?;
        attempt.parse::<u32>().ok()?;
        self.bill(period).map(|b| b.period.clone())
    }
}

/// 64-bit FNV-1a: small, stable across builds and platforms.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

const STREETS: [&str; 6] = [
    "Lujiang Rd",
    "Zhongshan Rd",
    "Siming South Rd",
    "Hubin North Rd",
    "Xiahe Rd",
    "Jiahe Rd",
];

/// 2026-10-08 10:00 in Xiamen, when the demo's September bill was paid.
const SEPTEMBER_PAID_AT: u64 = 1_791_424_800;

fn bill(period: &str, amount_fen: u64, due_date: &str) -> Bill {
    Bill {
        period: period.into(),
        amount_fen,
        due_date: due_date.into(),
        status: BillStatus::Unpaid,
        order_id: None,
        attempt: 0,
        paid_at: None,
    }
}

/// The demo account of the citizen with pairwise `subject`: September paid
/// at the counter, October and November open.
pub fn seed(subject: &str) -> Account {
    let h = fnv1a(subject);
    let street = STREETS[(h >> 32) as usize % STREETS.len()];
    let building = (h >> 40) % 180 + 1;
    let flat = (h >> 48) % 30 + 101;
    let mut september = bill("2026-09", 4105, "2026-10-15");
    september.status = BillStatus::Paid;
    september.paid_at = Some(SEPTEMBER_PAID_AT);
    Account {
        number: format!("WB-{:08}", h % 100_000_000),
        address: format!("{building} {street}, Room {flat}, Siming District, Xiamen"),
        bills: vec![
            september,
            bill("2026-10", 4268, "2026-11-15"),
            bill("2026-11", 3915, "2026-12-15"),
        ],
    }
}

fn key(subject: &str) -> String {
    format!("account/{subject}")
}

/// The account of `subject`, if it was ever looked at.
pub fn load(subject: &str) -> Result<Option<Account>, StorageError> {
    storage::get_json(&key(subject))
}

/// The account of `subject`, seeded on first access.
pub fn load_or_seed(subject: &str) -> Result<Account, StorageError> {
    if let Some(account) = load(subject)? {
        return Ok(account);
    }
    let seeded = seed(subject);
    let bytes = storage::encode_json(&seeded)?;
    match storage::compare_and_swap(&key(subject), None, Some(&bytes)) {
        Ok(()) => Ok(seeded),
        // Another request seeded it first: theirs is the same, or newer.
        Err(StorageError::Conflict) => load(subject)?.ok_or(StorageError::Conflict),
        Err(e) => Err(e),
    }
}

/// Apply `change` to the account of `subject` without losing concurrent
/// updates; `change` is not called when there is no account.
pub fn update<E: From<StorageError>>(
    subject: &str,
    mut change: impl FnMut(&mut Account) -> Result<(), E>,
) -> Result<Option<Account>, E> {
    storage::update_json(&key(subject), 16, |current: Option<Account>| {
        let Some(mut account) = current else {
            return Ok(None);
        };
        change(&mut account)?;
        Ok(Some(account))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_per_subject() {
        let a = seed("pw-alice");
        assert_eq!(a, seed("pw-alice"));
        assert_ne!(a.number, seed("pw-bob").number);
        assert!(a.number.starts_with("WB-") && a.number.len() == 11);
        assert!(a.number[3..].bytes().all(|b| b.is_ascii_digit()));
        let statuses: Vec<_> = a.bills.iter().map(|b| b.status).collect();
        assert_eq!(
            statuses,
            [BillStatus::Paid, BillStatus::Unpaid, BillStatus::Unpaid]
        );
    }

    #[test]
    fn order_keys_name_their_period() {
        let a = seed("pw-alice");
        let key = a.order_key("2026-10", 3);
        assert_eq!(key, format!("{}-2026-10-3", a.number));
        assert_eq!(a.period_of(&key).as_deref(), Some("2026-10"));
        assert_eq!(a.period_of(&a.order_key("2031-01", 1)), None);
        assert_eq!(a.period_of("WB-00000000-2026-10-1"), None);
        assert_eq!(a.period_of(&format!("{}-2026-10-x", a.number)), None);
    }
}
