//! Builds Python plugins into components with the Python SDK's build command
//! (`python -m hookgate build`, componentize-py underneath).
//!
//! The toolchain is installed from PyPI into a virtual environment outside
//! the checkout, from `guest-sdk/python/requirements.lock` with its hashes,
//! and reinstalled when the lock changes. A component is rebuilt only when
//! it is older than its plugin file, the SDK, the WIT or the lock.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::toolchain::{build_stale, files_with, pip_toolchain, run};

/// The SDK's folder in the workspace.
const SDK: &str = "guest-sdk/python";
/// The lock file, relative to the workspace.
const LOCK: &str = "guest-sdk/python/requirements.lock";

/// The toolchain's interpreter, installing the toolchain first when it is
/// missing or its lock changed.
pub fn toolchain(workspace: &Path) -> io::Result<PathBuf> {
    let venv = pip_toolchain(
        workspace,
        "python",
        LOCK,
        "Python plugin toolchain (componentize-py, pytest)",
    )?;
    Ok(venv.join("bin/python"))
}

/// Builds each `.py` plugin file into `out_dir/<stem>.wasm` and returns
/// the components' paths, in order.
pub fn build_plugins(
    workspace: &Path,
    files: &[PathBuf],
    out_dir: &Path,
) -> io::Result<Vec<PathBuf>> {
    let python = toolchain(workspace)?;
    let shared = [
        workspace.join(SDK).join("hookgate"),
        workspace.join("wit"),
        workspace.join(LOCK),
    ];
    build_stale(files, out_dir, &shared, |file, output| {
        let mut command = Command::new(&python);
        command
            .current_dir(workspace.join(SDK))
            .args(["-m", "hookgate", "build"])
            .arg(file)
            .arg("-o")
            .arg(output)
            .arg("--wit")
            .arg(workspace.join("wit"));
        run(&mut command, &format!("building {}", file.display()))
    })
}

/// The `.py` files directly in `folder`, sorted.
pub fn plugin_files(folder: &Path) -> io::Result<Vec<PathBuf>> {
    files_with(folder, &["py"])
}
