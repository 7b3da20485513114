//! The sandbox provider's payment notifications (`verify_notice` and the
//! `Notification` JSON): never a panic; accepted only when the signature
//! header is the HMAC of timestamp, nonce and body under the provider's
//! secret, the timestamp is within the window and the nonce well-formed,
//! and then what it says is exactly the body's JSON (which serializes and
//! parses back to the same); `Stale` and `Malformed` only ever follow a
//! valid signature; a signed notification changed in its body, nonce,
//! timestamp or signature is `BadSignature`.

use crate::{Mode, change_ascii, mode, store};
use arbitrary::{Arbitrary, Unstructured};
use islet_host::payment::provider::{NoticeError, Notification, PaymentProvider};
use islet_host::payment::sandbox::{
    NONCE_HEADER, SIGNATURE_HEADER, SandboxProvider, TIMESTAMP_HEADER, WINDOW_S, signature,
};
use std::sync::OnceLock;
use std::time::Duration;

/// The fuzz sandbox's signing secret (the corpus notification uses it).
pub const SECRET: &[u8] = b"islet fuzz sandbox secret";

fn provider() -> &'static SandboxProvider {
    static PROVIDER: OnceLock<SandboxProvider> = OnceLock::new();
    PROVIDER
        .get_or_init(|| SandboxProvider::new(store(), SECRET.to_vec(), Duration::from_secs(3600)))
}

/// A notification as it arrives: three headers and a body.
#[derive(Debug, Clone)]
struct Arrival {
    timestamp: Option<String>,
    nonce: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct Recipe {
    notification: Fields,
    nonce: String,
    timestamp: u64,
    /// The host's clock minus the timestamp, seconds.
    skew: i16,
    change: Option<Change>,
}

#[derive(Debug, Arbitrary)]
struct Fields {
    order_id: String,
    txn_id: String,
    amount_fen: u64,
    currency: String,
}

#[derive(Debug, Arbitrary)]
enum Change {
    Body { at: usize, to: u8 },
    Nonce { at: usize, to: u8 },
    Timestamp(u64),
    Signature { at: usize, xor: u8 },
}

/// The property; see the module documentation.
pub fn check(data: &[u8]) {
    match mode(data) {
        None => {}
        // Raw: "now\ntimestamp\nnonce\nsignature\nbody"; an empty header
        // line stands for a missing header.
        Some(Mode::Raw(raw)) => {
            let mut parts = raw.splitn(5, |b| *b == b'\n');
            let mut line = || {
                parts
                    .next()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .filter(|l| !l.is_empty())
            };
            let now = line().and_then(|n| n.parse().ok()).unwrap_or(0);
            let arrival = Arrival {
                timestamp: line(),
                nonce: line(),
                signature: line(),
                body: parts.next().unwrap_or_default().to_vec(),
            };
            let _ = verify(&arrival, now);
        }
        Some(Mode::Structured(bytes)) => {
            if let Ok(recipe) = Recipe::arbitrary_take_rest(Unstructured::new(bytes)) {
                signed(recipe);
            }
        }
    }
}

fn valid_nonce(nonce: &str) -> bool {
    (8..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Check what `verify_notice` says about `arrival` at `now` against the
/// rules; returns its verdict.
fn verify(arrival: &Arrival, now: u64) -> Result<Notification, NoticeError> {
    let lookup = |name: &str| match name {
        TIMESTAMP_HEADER => arrival.timestamp.clone(),
        NONCE_HEADER => arrival.nonce.clone(),
        SIGNATURE_HEADER => arrival.signature.clone(),
        _ => None,
    };
    let verdict = provider().verify_notice(&lookup, &arrival.body, now);
    // What a correct verifier would have found.
    let signed_right = (|| {
        let timestamp: u64 = arrival.timestamp.as_deref()?.trim().parse().ok()?;
        let nonce = arrival.nonce.as_deref().filter(|n| valid_nonce(n))?;
        let given = arrival.signature.as_deref()?.trim().to_ascii_lowercase();
        (given == signature(SECRET, timestamp, nonce, &arrival.body)).then_some(timestamp)
    })();
    match verdict {
        Ok(notice) => {
            let timestamp = signed_right.expect("accepted a notification not signed right");
            assert_eq!(notice.timestamp, timestamp);
            assert!(notice.timestamp.abs_diff(now) <= WINDOW_S);
            assert_eq!(Some(&notice.nonce), arrival.nonce.as_ref());
            let parsed: Notification =
                serde_json::from_slice(&arrival.body).expect("accepted a body that is not JSON");
            assert_eq!(notice.notification, parsed);
            let text = serde_json::to_vec(&notice.notification).expect("serializes");
            let again: Notification = serde_json::from_slice(&text).expect("parses back");
            assert_eq!(again, notice.notification, "round trip changed it");
            Ok(notice.notification)
        }
        Err(NoticeError::BadSignature) => {
            assert!(signed_right.is_none(), "a right signature refused");
            Err(NoticeError::BadSignature)
        }
        Err(NoticeError::Stale(window)) => {
            let timestamp = signed_right.expect("Stale before the signature was checked");
            assert_eq!(window, WINDOW_S);
            assert!(timestamp.abs_diff(now) > WINDOW_S);
            Err(NoticeError::Stale(window))
        }
        Err(NoticeError::Malformed(why)) => {
            let timestamp = signed_right.expect("Malformed before the signature was checked");
            assert!(timestamp.abs_diff(now) <= WINDOW_S);
            assert!(serde_json::from_slice::<Notification>(&arrival.body).is_err());
            Err(NoticeError::Malformed(why))
        }
    }
}

fn signed(r: Recipe) {
    let notification = Notification {
        order_id: r.notification.order_id,
        txn_id: r.notification.txn_id,
        amount_fen: r.notification.amount_fen,
        currency: r.notification.currency,
    };
    let Ok(body) = serde_json::to_vec(&notification) else {
        return;
    };
    let nonce: String = r
        .nonce
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let now = r.timestamp.saturating_add_signed(i64::from(r.skew));
    let arrival = Arrival {
        timestamp: Some(r.timestamp.to_string()),
        signature: Some(signature(SECRET, r.timestamp, &nonce, &body)),
        nonce: Some(nonce.clone()),
        body,
    };
    let verdict = verify(&arrival, now);
    if valid_nonce(&nonce) && r.timestamp.abs_diff(now) <= WINDOW_S {
        assert_eq!(verdict, Ok(notification), "a right notification refused");
    }
    let Some(change) = r.change else {
        return;
    };
    let mut changed = arrival.clone();
    match change {
        Change::Body { at, to } => {
            if changed.body.is_empty() {
                return;
            }
            let i = at % changed.body.len();
            changed.body[i] = changed.body[i].wrapping_add(to.max(1));
        }
        Change::Nonce { at, to } => match change_ascii(&nonce, at, to) {
            Some(n) => changed.nonce = Some(n),
            None => return,
        },
        Change::Timestamp(t) => {
            if t == r.timestamp {
                return;
            }
            changed.timestamp = Some(t.to_string());
        }
        Change::Signature { at, xor } => {
            let Ok(mut bytes) = hex::decode(arrival.signature.as_deref().unwrap_or("")) else {
                return;
            };
            let i = at % bytes.len();
            bytes[i] ^= xor.max(1);
            changed.signature = Some(hex::encode(bytes));
        }
    }
    assert_eq!(
        verify(&changed, now),
        Err(NoticeError::BadSignature),
        "a changed notification was not refused for its signature: {changed:?}"
    );
}
