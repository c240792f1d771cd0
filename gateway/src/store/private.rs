//! The data directory is its owner's only: 0700 for directories, 0600 for
//! files. The store holds secrets the management API took (endpoint signing
//! keys, static headers), so nobody else on the machine may read it.
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

/// Creates `path` (and missing parents) 0700, or narrows it to 0700.
pub(super) fn dir(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)?;
    narrow(path, DIR_MODE)
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
