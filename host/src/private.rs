//! The host's folders are private to its user: the data folder holds the
//! store, the secrets that link citizens across plugins and compiled native
//! code. New folders are created 0700 and files 0600 (the process umask is
//! set to 077 when a host starts, so the store's own files, written by sled,
//! are covered too), and anything looser found at start is tightened, with
//! a warning.

use std::path::Path;

/// Bits a private file or folder must not have: any for group and others.
const SHARED_BITS: u32 = 0o077;

/// Make every file and folder this process creates from now on private
/// (umask 077, keeping any stricter bits already set).
pub fn restrict_new_files() {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        let before = rustix::process::umask(Mode::from_raw_mode(SHARED_BITS));
        rustix::process::umask(before | Mode::from_raw_mode(SHARED_BITS));
    }
}

/// Create `folder` (0700) if missing, then take group and other
/// permissions off it and everything inside it; returns how many entries
/// were tightened. Symbolic links are not followed.
pub fn secure_folder(folder: &Path) -> std::io::Result<usize> {
    create_private_dir(folder)?;
    let mut tightened = 0;
    tighten(folder, &mut tightened)?;
    if tightened > 0 {
        tracing::warn!(
            folder = %folder.display(),
            entries = tightened,
            "files readable by other users were made private (folders 0700, files 0600)"
        );
    }
    Ok(tightened)
}

/// `create_dir_all` with mode 0700 for every folder it creates.
pub fn create_private_dir(folder: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)
}

#[cfg(unix)]
fn tighten(path: &Path, tightened: &mut usize) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & SHARED_BITS != 0 {
        let private = std::fs::Permissions::from_mode(mode & !SHARED_BITS & 0o7777);
        match std::fs::set_permissions(path, private) {
            Ok(()) => *tightened += 1,
            // Not ours (e.g. a secrets folder an operator shares with a
            // group on purpose): say so, and go on.
            Err(e) => tracing::warn!(
                path = %path.display(),
                "cannot make private ({e}); other users may read it"
            ),
        }
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            tighten(&entry?.path(), tightened)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _tightened: &mut usize) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn loose_folders_and_files_are_tightened_and_links_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir_all(data.join("db")).unwrap();
        std::fs::write(data.join("db/conf"), b"x").unwrap();
        std::fs::write(root.path().join("outside"), b"x").unwrap();
        for (path, m) in [
            (data.clone(), 0o755),
            (data.join("db"), 0o775),
            (data.join("db/conf"), 0o644),
            (root.path().join("outside"), 0o644),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
        }
        std::os::unix::fs::symlink(root.path().join("outside"), data.join("link")).unwrap();
        assert_eq!(secure_folder(&data).unwrap(), 3);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("db")), 0o700);
        assert_eq!(mode(&data.join("db/conf")), 0o600);
        assert_eq!(
            mode(&root.path().join("outside")),
            0o644,
            "links not followed"
        );
        assert_eq!(secure_folder(&data).unwrap(), 0, "nothing left to do");
        let fresh = root.path().join("a/b");
        secure_folder(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
    }
}
