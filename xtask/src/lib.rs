//! Builds hookgate plugin crates into WebAssembly components.
//!
//! Used by `cargo xtask build` (the README's build command) and by the
//! integration tests' build script, so both build plugins the same way:
//! `cargo build --target wasm32-wasip2 --profile wasm` for every crate in the
//! given folders, into a target directory of its own.
//!
//! Python and JavaScript plugins are built with their SDKs' own commands
//! (`python.rs`, `javascript.rs`), Go plugins with the Go toolchain and
//! wit-component (`go.rs`).
//!
//! What this is not: a general build system. It knows one convention: a
//! plugin crate's folder is named like its package.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod go;
pub mod javascript;
pub mod python;
mod toolchain;

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
    ensure_target(workspace)?;
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
            "building the plugins for {WASM_TARGET} failed ({status})"
        )));
    }
    Ok(target_dir.join(WASM_TARGET).join(WASM_PROFILE))
}

/// Makes sure the standard library for [`WASM_TARGET`] is installed: if it
/// is not, installs it with `rustup`, or, where there is no rustup, fails
/// with the one command to run.
pub fn ensure_target(workspace: &Path) -> io::Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .current_dir(workspace)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()?;
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !libdir.is_empty() && Path::new(&libdir).is_dir() {
        return Ok(());
    }
    let install = format!("rustup target add {WASM_TARGET}");
    eprintln!("the {WASM_TARGET} target is not installed; running `{install}`");
    match Command::new("rustup")
        .current_dir(workspace)
        .args(["target", "add", WASM_TARGET])
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(io::Error::other(format!(
            "`{install}` failed ({status}); plugins are built for {WASM_TARGET}, run it and try again"
        ))),
        Err(error) => Err(io::Error::other(format!(
            "the {WASM_TARGET} target is not installed and rustup could not be run ({error}); \
             install the target for your Rust toolchain (with rustup: `{install}`) and try again"
        ))),
    }
}

/// The file a plugin crate builds to inside the folder [`build_plugins`]
/// returns.
pub fn wasm_file(folder: &Path, crate_name: &str) -> PathBuf {
    folder.join(format!("{}.wasm", crate_name.replace('-', "_")))
}
