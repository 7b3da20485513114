//! Who is calling: verification of the app's JWTs, development keys, and
//! the pairwise subjects a plugin sees instead of the citizen's real id.

mod jwt;
mod pairwise;
mod secrets;

pub use jwt::{AuthError, Citizen, Claims, TokenVerifier, VerifierKeys, sign_hs256};
pub use pairwise::PairwiseSubjects;
pub use secrets::{load_or_create_secret, read_secret};

/// The role that grants access to the admin API.
pub const ADMIN_ROLE: &str = "admin";
