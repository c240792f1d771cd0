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
use std::time::SystemTime;

/// The SDK's folder in the workspace.
const SDK: &str = "guest-sdk/python";
/// The lock file, relative to the workspace.
const LOCK: &str = "guest-sdk/python/requirements.lock";

/// The toolchain's virtual environment: `$HOOKGATE_TOOLCHAINS/python`, or
/// `~/.cache/hookgate-toolchains/python`.
pub fn venv_dir() -> PathBuf {
    let root = std::env::var_os("HOOKGATE_TOOLCHAINS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hookgate-toolchains"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("hookgate-toolchains"));
    root.join("python")
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
    std::fs::create_dir_all(out_dir)?;
    let shared = newest(&[
        workspace.join(SDK).join("hookgate"),
        workspace.join("wit"),
        workspace.join(LOCK),
    ])?;
    let mut built = Vec::new();
    for file in files {
        let stem = file.file_stem().and_then(|s| s.to_str()).ok_or_else(|| {
            io::Error::other(format!("{}: not a plugin file name", file.display()))
        })?;
        let output = out_dir.join(format!("{stem}.wasm"));
        let inputs = shared.max(newest(std::slice::from_ref(file))?);
        let fresh = std::fs::metadata(&output)
            .and_then(|m| m.modified())
            .is_ok_and(|at| at > inputs);
        if !fresh {
            run(
                Command::new(&python)
                    .current_dir(workspace.join(SDK))
                    .args(["-m", "hookgate", "build"])
                    .arg(file)
                    .arg("-o")
                    .arg(&output)
                    .arg("--wit")
                    .arg(workspace.join("wit")),
                &format!("building {}", file.display()),
            )?;
        }
        built.push(output);
    }
    Ok(built)
}

/// The `.py` files directly in `folder`, sorted.
pub fn plugin_files(folder: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "py"));
    files.sort();
    Ok(files)
}

/// Runs a toolchain command, failing with what it was for.
pub(crate) fn run(command: &mut Command, what: &str) -> io::Result<()> {
    let status = command.status().map_err(|e| {
        io::Error::other(format!(
            "{what}: cannot run {:?}: {e}",
            command.get_program()
        ))
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{what} failed ({status})")))
    }
}

/// The newest modification time of the files under `paths`.
pub(crate) fn newest(paths: &[PathBuf]) -> io::Result<SystemTime> {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                let entry = entry?.path();
                if entry
                    .file_name()
                    .is_some_and(|n| n != "__pycache__" && n != "node_modules")
                {
                    pending.push(entry);
                }
            }
        } else {
            newest = newest.max(meta.modified()?);
        }
    }
    Ok(newest)
}
