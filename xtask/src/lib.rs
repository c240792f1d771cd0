//! Builds hookgate plugin crates into WebAssembly components.
//!
//! Used by `cargo xtask build` (the README's build command) and by the
//! integration tests' build script, so both build plugins the same way:
//! `cargo build --target wasm32-wasip2 --profile wasm` for every crate in the
//! given folders, into a target directory of its own.
//!
//! What this is not: a general build system. It knows one convention: a
//! plugin crate's folder is named like its package.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target plugins are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";
/// The Cargo profile plugins are built with (see the root `Cargo.toml`).
pub const WASM_PROFILE: &str = "wasm";

/// Environment variables a parent Cargo sets (for a build script, or for
/// clippy) that must not leak into the nested build.
const INHERITED: &[&str] = &[
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_MAKEFLAGS",
    "CLIPPY_ARGS",
    "CLIPPY_CONF_DIR",
    "__CARGO_FIX_PLZ",
];

/// The plugin crates in `folder`: its subfolders holding a `Cargo.toml`,
/// sorted by name.
pub fn plugin_crates(folder: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        if !path.join("Cargo.toml").is_file() {
            continue;
        }
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Builds `crates` of the workspace at `workspace` into `target_dir` and
/// returns the folder holding the `.wasm` files (named like the crates, with
/// `_` for `-`).
pub fn build_plugins(
    cargo: &Path,
    workspace: &Path,
    target_dir: &Path,
    crates: &[String],
) -> io::Result<PathBuf> {
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--target", WASM_TARGET, "--profile", WASM_PROFILE])
        .arg("--target-dir")
        .arg(target_dir);
    for name in crates {
        command.args(["-p", name]);
    }
    for var in INHERITED {
        command.env_remove(var);
    }
    let status = command.status()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "building the plugins for {WASM_TARGET} failed ({status}); is the target installed? `rustup target add {WASM_TARGET}`"
        )));
    }
    Ok(target_dir.join(WASM_TARGET).join(WASM_PROFILE))
}

/// The file a plugin crate builds to inside the folder [`build_plugins`]
/// returns.
pub fn wasm_file(folder: &Path, crate_name: &str) -> PathBuf {
    folder.join(format!("{}.wasm", crate_name.replace('-', "_")))
}
