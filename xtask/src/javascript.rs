//! Builds JavaScript and TypeScript plugins into components with the
//! JavaScript SDK's build command (`node build.mjs`: rolldown, then
//! componentize-js).
//!
//! The toolchain is installed from the npm registry with `npm ci` into the
//! SDK's `node_modules` (ignored by git), from its `package-lock.json`, and
//! again when the lock changes. A component is rebuilt only when it is
//! older than its plugin file, the SDK, the WIT or the lock.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::toolchain::{build_stale, files_with, run};

/// The SDK's folder in the workspace.
const SDK: &str = "guest-sdk/javascript";

/// Installs the toolchain when it is missing or its lock changed.
pub fn toolchain(workspace: &Path) -> io::Result<()> {
    let sdk = workspace.join(SDK);
    let lock = std::fs::read(sdk.join("package-lock.json"))?;
    let installed = sdk.join("node_modules/.hookgate-package-lock.json");
    if std::fs::read(&installed).ok().as_deref() == Some(lock.as_slice()) {
        return Ok(());
    }
    eprintln!(
        "installing the JavaScript plugin toolchain into {}/node_modules",
        sdk.display()
    );
    run(
        Command::new("npm").current_dir(&sdk).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]),
        "installing componentize-js and rolldown from the npm registry (needs Node.js 20 or newer with npm)",
    )?;
    std::fs::write(&installed, &lock)
}

/// Builds each `.js`/`.ts` plugin file into `out_dir/<stem>.wasm` and
/// returns the components' paths, in order.
pub fn build_plugins(
    workspace: &Path,
    files: &[PathBuf],
    out_dir: &Path,
) -> io::Result<Vec<PathBuf>> {
    toolchain(workspace)?;
    let sdk = workspace.join(SDK);
    let shared = [
        sdk.join("src"),
        sdk.join("build.mjs"),
        sdk.join("package-lock.json"),
        workspace.join("wit"),
    ];
    build_stale(files, out_dir, &shared, |file, output| {
        let mut command = Command::new("node");
        command
            .current_dir(&sdk)
            .arg("build.mjs")
            .arg(file)
            .arg("-o")
            .arg(output)
            .arg("--wit")
            .arg(workspace.join("wit"));
        run(&mut command, &format!("building {}", file.display()))
    })
}

/// The `.js` and `.ts` files directly in `folder`, sorted.
pub fn plugin_files(folder: &Path) -> io::Result<Vec<PathBuf>> {
    files_with(folder, &["js", "ts"])
}
