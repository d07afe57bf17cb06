//! Key files of the embedded store (`master.key`, `url-signing.key`): owner-only (0600) when
//! written, and tightened to 0600 when an older install left them readable by others.

use std::io::Write;
use std::path::Path;

use crate::error::StoreError;

fn io(e: std::io::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Writes `bytes` to a new (or replaced) owner-only file and syncs it.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(io)?;
    tighten(path)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Makes an existing key file owner-only.
pub fn tighten(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "key file was readable by others: now 0600");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn key_files_are_owner_only_new_or_old() {
        let dir = tempfile::tempdir().unwrap();
        let (_stores, _blobs) =
            crate::store::Stores::embedded(dir.path(), "http://localhost:8080").unwrap();
        for name in ["master.key", "url-signing.key"] {
            let p = std::fs::read_dir(dir.path())
                .unwrap()
                .chain(
                    std::fs::read_dir(dir.path().join("blobs"))
                        .into_iter()
                        .flatten(),
                )
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.file_name().is_some_and(|n| n == name))
                .unwrap_or_else(|| panic!("{name} not found"));
            assert_eq!(mode(&p), 0o600, "{name}");
            // An older install's world-readable key is tightened at the next open.
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let _again = crate::store::Stores::embedded(dir.path(), "http://localhost:8080").unwrap();
        for e in walk(dir.path()) {
            if e.extension().is_some_and(|x| x == "key") {
                assert_eq!(mode(&e), 0o600, "{}", e.display());
            }
        }
    }

    fn walk(p: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
