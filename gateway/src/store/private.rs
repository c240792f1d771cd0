//! The store is its owner's only: 0700 for directories, 0600 for files. It
//! holds secrets the management API took (endpoint signing keys, static
//! headers), so nobody else on the machine may read it.
//!
//! A data directory the gateway creates is 0700. One that already exists
//! is left as it is (it may be a mount point the gateway does not own, or a
//! directory the user shares), with a warning if others can enter it: the
//! engine's own directory inside it is narrowed all the same, so the store
//! stays private either way.
//!
//! What it does not do: watch files the engines create later. The
//! directory's 0700 already keeps them from everyone else, and `serve` sets
//! the umask to 0077 so they are created 0600 as well.

use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Mode of the data directory and every directory in it.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of every file in it.
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates `path` (and missing parents) 0700; warns about an existing one
/// that others can enter.
pub(super) fn dir(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        let mode = fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the data directory is open to others; the store inside it is kept private, but consider `chmod 700`"
            );
        }
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// Narrows every directory under `path` (and itself) to 0700 and every
/// file to 0600.
pub(super) fn tree(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        narrow(path, DIR_MODE)?;
        for entry in fs::read_dir(path)? {
            tree(&entry?.path())?;
        }
        Ok(())
    } else if meta.is_file() {
        narrow(path, FILE_MODE)
    } else {
        Ok(())
    }
}

fn narrow(path: &Path, mode: u32) -> io::Result<()> {
    let current = fs::metadata(path)?.permissions().mode() & 0o777;
    if current == mode {
        return Ok(());
    }
    fs::set_permissions(path, Permissions::from_mode(mode))
}
