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

use crate::toolchain::{build_stale, files_with, run, toolchains_dir};

/// The SDK's folder in the workspace.
const SDK: &str = "guest-sdk/python";
/// The lock file, relative to the workspace.
const LOCK: &str = "guest-sdk/python/requirements.lock";

/// The toolchain's virtual environment: `$HOOKGATE_TOOLCHAINS/python`, or
/// `~/.cache/hookgate-toolchains/python`.
pub fn venv_dir() -> PathBuf {
    toolchains_dir("python")
}

/// The toolchain's interpreter, installing the toolchain first when it is
/// missing or its lock changed.
pub fn toolchain(workspace: &Path) -> io::Result<PathBuf> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    let lock = std::fs::read(workspace.join(LOCK))?;
    let installed = venv.join("hookgate-requirements.lock");
    if python.is_file() && std::fs::read(&installed).ok().as_deref() == Some(lock.as_slice()) {
        return Ok(python);
    }
    eprintln!(
        "installing the Python plugin toolchain into {}",
        venv.display()
    );
    let system = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    run(
        Command::new(&system)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        "creating the virtual environment (needs Python 3.11 or newer with venv; on Debian `apt-get install python3-venv`)",
    )?;
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--require-hashes", "-r"])
            .arg(workspace.join(LOCK)),
        "installing componentize-py and pytest from PyPI",
    )?;
    std::fs::write(&installed, &lock)?;
    Ok(python)
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
