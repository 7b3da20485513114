//! Host secrets kept as files (in the data folder, or a secrets folder
//! every host of a deployment shares), fingerprinted in the store.

use crate::store::{Expect, KvStore, WriteError};
use anyhow::Context as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write as _;
use std::path::Path;

/// Read a secret file (hex or raw text); its trimmed content is the secret.
pub fn read_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read secret file {}", path.display()))?;
    let text = text.trim();
    if text.len() < 32 {
        anyhow::bail!(
            "secret file {} holds fewer than 32 characters; use a longer secret",
            path.display()
        );
    }
    Ok(text.as_bytes().to_vec())
}

/// Read the secret in `path`, creating it with 32 random bytes (hex, mode
/// 0600) when missing. The file is written completely or not at all.
pub fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.exists() {
        return read_secret(path);
    }
    create_secret_file(path, &hex::encode(rand::random::<[u8; 32]>()))
}

/// Create the secret file `path` holding `secret` (mode 0600), written
/// completely or not at all; returns the secret's bytes.
pub fn create_secret_file(path: &Path, secret: &str) -> anyhow::Result<Vec<u8>> {
    let secret = secret.to_string();
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent folder", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(secret.as_bytes())?;
    tmp.1.sync_all()?;
    std::fs::rename(&tmp.0, path)
        .with_context(|| format!("cannot write secret file {}", path.display()))?;
    Ok(secret.into_bytes())
}

fn tempfile_in(dir: &Path) -> anyhow::Result<(std::path::PathBuf, std::fs::File)> {
    let path = dir.join(format!(".tmp-{}", hex::encode(rand::random::<[u8; 8]>())));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok((path, file))
}

/// The store namespace holding the fingerprints of a deployment's secrets.
const FINGERPRINTS: &str = "secrets";

/// Tie secret `name` to the store: the first host records a fingerprint of
/// it (an HMAC, which reveals nothing of the secret); every later host must
/// hold the same secret, or it refuses to start (two hosts with different
/// pairwise secrets would give one citizen two subjects in one service).
pub fn bind_to_store(store: &dyn KvStore, name: &str, secret: &[u8]) -> anyhow::Result<()> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).context("secret of no length")?;
    mac.update(b"islet secret fingerprint");
    let fingerprint = hex::encode(&mac.finalize().into_bytes()[..16]);
    let key = name.as_bytes();
    loop {
        match store.get(FINGERPRINTS, key)? {
            Some(recorded) if recorded == fingerprint.as_bytes() => return Ok(()),
            Some(_) => anyhow::bail!(
                "the {name} secret differs from the one the store was first used with: every \
                 host of a deployment must read the same secret files (copy them from the first \
                 host's data folder, or point --secrets-dir / ISLET_SECRETS_DIR of every host at \
                 one folder)"
            ),
            None => match store.write(
                FINGERPRINTS,
                key,
                Expect::Value(None),
                Some(fingerprint.as_bytes()),
                None,
            ) {
                Ok(()) => return store.flush().map_err(Into::into),
                Err(WriteError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            },
        }
    }
}
