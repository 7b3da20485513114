//! Who is calling: verification of the app's JWTs, development keys, and
//! the pairwise subjects a plugin sees instead of the citizen's real id.

mod claims;
mod discovery;
mod fetch;
mod jwks;
mod jwt;
mod pairwise;
mod remote;
mod secrets;
mod session;
mod token_cache;

pub use claims::{ClaimNames, Identity};
pub use discovery::{DiscoveryError, well_known as discovery_url};
pub use fetch::{FetchError, check_url as check_idp_url};
pub use jwks::{DEFAULT_ALGORITHMS, JwksError, KeySet, SetKey};
pub use jwt::{AuthError, Citizen, Claims, TokenVerifier, VerifierKeys, sign_hs256};
pub use pairwise::{DEFAULT_PAIRWISE_CACHE_ENTRIES, PairwiseSubjects};
pub use remote::{IdpSettings, RemoteKeys};
pub use secrets::{bind_to_store, create_secret_file, load_or_create_secret, read_secret};
pub use session::{
    OpenError, RECHECK as SESSION_RECHECK, SESSION_PREFIX, SESSION_TTL_SECS, ServiceSession,
    ServiceSessions, SessionError, SessionLimits,
};
pub use token_cache::{DEFAULT_TOKEN_CACHE_ENTRIES, TokenCache};

/// The role that grants access to the admin API.
pub const ADMIN_ROLE: &str = "admin";

/// The host-side key of a citizen (never shown to plugins): 32 hex
/// characters derived from issuer and subject. Orders, consents, inboxes
/// and data-access trails are kept under it.
pub fn citizen_key(citizen: &Citizen) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in ["islet-citizen-v1", &citizen.issuer, &citizen.subject] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(&hash.finalize()[..16])
}
