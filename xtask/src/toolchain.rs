//! What the Python, JavaScript and Go builds share: where toolchains are
//! installed, running a toolchain command, listing plugin files, and
//! building only the components older than their inputs.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The folder a toolchain is installed into: `$HOOKGATE_TOOLCHAINS/<name>`,
/// or `~/.cache/hookgate-toolchains/<name>`, outside the checkout so CI
/// can keep it.
pub(crate) fn toolchains_dir(name: &str) -> PathBuf {
    let root = std::env::var_os("HOOKGATE_TOOLCHAINS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hookgate-toolchains"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("hookgate-toolchains"));
    root.join(name)
}

/// A virtual environment in [`toolchains_dir`]`(name)` with the packages
/// of `lock` (a pip requirements file with hashes, relative to the
/// workspace) installed from PyPI; made again when the lock changed.
/// Returns the environment's folder.
pub(crate) fn pip_toolchain(
    workspace: &Path,
    name: &str,
    lock: &str,
    what: &str,
) -> io::Result<PathBuf> {
    let venv = toolchains_dir(name);
    let lock_text = std::fs::read(workspace.join(lock))?;
    let installed = venv.join("hookgate-requirements.lock");
    if venv.join("bin/python").is_file()
        && std::fs::read(&installed).ok().as_deref() == Some(lock_text.as_slice())
    {
        return Ok(venv);
    }
    eprintln!("installing the {what} into {}", venv.display());
    let system = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    run(
        Command::new(&system)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        "creating the virtual environment (needs Python 3.11 or newer with venv; on Debian `apt-get install python3-venv`)",
    )?;
    run(
        Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", "--require-hashes", "-r"])
            .arg(workspace.join(lock)),
        &format!("installing the {what} from PyPI"),
    )?;
    std::fs::write(&installed, &lock_text)?;
    Ok(venv)
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

/// The files directly in `folder` with one of these extensions, sorted.
pub(crate) fn files_with(folder: &Path, extensions: &[&str]) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    files.retain(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
    });
    files.sort();
    Ok(files)
}

/// Builds each file (or package folder) into `out_dir/<stem>.wasm` with
/// `build` (given the file and the output), unless the output is newer
/// than the file and everything under `shared`; returns the outputs, in
/// order.
pub(crate) fn build_stale(
    files: &[PathBuf],
    out_dir: &Path,
    shared: &[PathBuf],
    mut build: impl FnMut(&Path, &Path) -> io::Result<()>,
) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir)?;
    let shared = newest(shared)?;
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
            build(file, &output)?;
        }
        built.push(output);
    }
    Ok(built)
}

/// The newest modification time of the files under `paths` (caches and
/// installed packages left out).
fn newest(paths: &[PathBuf]) -> io::Result<SystemTime> {
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
