//! `islet token`: development tokens signed with the data folder's dev key.

use crate::auth::{Claims, read_secret, sign_hs256};
use crate::config::{ConfigFile, DEFAULT_AUDIENCE, DEFAULT_DATA_DIR, DEV_ISSUER, DEV_KEY_FILE};
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;

/// Flags of `islet token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The data folder whose dev key signs the token.
    #[arg(long, env = "ISLET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Folder of the shared secret files [default: the data folder].
    #[arg(long, env = "ISLET_SECRETS_DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// The citizen's id at the identity provider.
    #[arg(long)]
    pub sub: String,
    /// Roles, repeatable. Platform: `admin` (everything), `reviewer`
    /// (review, release, gray, roll back, take down; read all), `operator`
    /// (read-only: plugins, usage, audit, orders, deliveries),
    /// `developer:<department>` (upload and submit the department's
    /// versions, read its plugins). Inside services: `staff:<department>`
    /// (the department's staff, `staff` to its services),
    /// `plugin:<id>:<role>` (a role one service defines).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// Real-name assurance level, 0 to 5.
    #[arg(long, default_value_t = 3)]
    pub level: u8,
    /// Lifetime in hours.
    #[arg(long, default_value_t = 24)]
    pub ttl_hours: u64,
    /// Real name claim (`name`).
    #[arg(long)]
    pub name: Option<String>,
    /// National ID number claim (`national_id`).
    #[arg(long)]
    pub national_id: Option<String>,
    /// Phone number claim (`phone_number`).
    #[arg(long)]
    pub phone: Option<String>,
    /// E-mail claim (`email`).
    #[arg(long)]
    pub email: Option<String>,
}

/// Print a token.
pub fn run(config: Option<&PathBuf>, args: &TokenArgs) -> anyhow::Result<()> {
    let file = ConfigFile::layered(config.map(PathBuf::as_path))?;
    let data_dir = args
        .data_dir
        .clone()
        .or(file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let secrets_dir = args
        .secrets_dir
        .clone()
        .or(file.secrets_dir.clone())
        .unwrap_or_else(|| data_dir.clone());
    let key_path = secrets_dir.join(DEV_KEY_FILE);
    if !key_path.exists() {
        anyhow::bail!(
            "no development signing key at {}; start `islet serve --dev --data-dir {}` (or `islet demo`) once to create it",
            key_path.display(),
            data_dir.display()
        );
    }
    if args.level > 5 {
        anyhow::bail!("--level must be between 0 and 5");
    }
    let secret = read_secret(&key_path)?;
    let mut claims = dev_claims(
        &args.sub,
        &args.roles,
        args.level,
        args.ttl_hours * 3600,
        file.auth.issuer.as_deref().unwrap_or(DEV_ISSUER),
        file.auth.audience.as_deref().unwrap_or(DEFAULT_AUDIENCE),
    );
    claims.name = args.name.clone();
    claims.national_id = args.national_id.clone();
    claims.phone_number = args.phone.clone();
    claims.email = args.email.clone();
    let token = sign_hs256(&claims, &secret).context("cannot sign the token")?;
    println!("{token}");
    Ok(())
}

/// Claims of a development token.
pub fn dev_claims(
    sub: &str,
    roles: &[String],
    level: u8,
    ttl_secs: u64,
    issuer: &str,
    audience: &str,
) -> Claims {
    let now = crate::registry::now_secs();
    Claims {
        sub: sub.to_string(),
        iss: issuer.to_string(),
        aud: audience.to_string(),
        exp: now + ttl_secs,
        nbf: Some(now.saturating_sub(5)),
        iat: Some(now),
        roles: roles.to_vec(),
        assurance_level: level,
        ..Claims::default()
    }
}
