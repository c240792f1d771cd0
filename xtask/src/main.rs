//! `cargo xtask`: project tasks that need more than one cargo command.
//!
//! `cargo xtask build` builds the example plugins (the Rust crates for
//! wasm32-wasip2, and the Python, JavaScript and Go SDKs' examples with
//! their toolchains) and the gateway in release mode, and prints where each
//! landed. `cargo xtask go-plugin DIR -o FILE` is the Go SDK's build
//! command: it builds one Go plugin package into a component.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("build") => match build() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("xtask build: {error}");
                ExitCode::FAILURE
            }
        },
        Some("go-plugin") => match go_plugin(std::env::args().skip(2).collect()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("xtask go-plugin: {error}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!(
                "usage: cargo xtask build                    build the example plugins (Rust for wasm32-wasip2, Python, JavaScript, Go) and the gateway (release)\n       \
                 cargo xtask go-plugin DIR -o FILE     build the Go plugin package in DIR into the component FILE"
            );
            ExitCode::from(2)
        }
    }
}

/// The workspace this xtask belongs to.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// `go-plugin DIR -o FILE`.
fn go_plugin(args: Vec<String>) -> std::io::Result<()> {
    let [package, flag, output] = args.as_slice() else {
        return Err(std::io::Error::other(
            "usage: cargo xtask go-plugin DIR -o FILE (DIR: the plugin's main package)",
        ));
    };
    if flag != "-o" {
        return Err(std::io::Error::other(format!(
            "expected -o FILE after the package folder, found {flag}"
        )));
    }
    // Cargo runs the xtask in the workspace; paths are the caller's.
    let here = std::env::current_dir()?;
    let (package, output) = (here.join(package), here.join(output));
    let workspace = workspace();
    let go = xtask::go::toolchain(&workspace)?;
    xtask::go::build_plugin(&workspace, &go, &package, &output)?;
    #[allow(clippy::print_stdout)]
    {
        println!("plugin:  {} (Go)", output.display());
    }
    Ok(())
}

fn build() -> std::io::Result<()> {
    let workspace = workspace();
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let plugins = xtask::plugin_crates(&workspace.join("plugins"))?;
    let folder = xtask::build_plugins(&cargo, &workspace, &target_dir, &plugins)?;
    let python_examples =
        xtask::python::plugin_files(&workspace.join("guest-sdk/python/examples"))?;
    let python = xtask::python::build_plugins(
        &workspace,
        &python_examples,
        &target_dir.join("python-plugins"),
    )?;
    let js_examples =
        xtask::javascript::plugin_files(&workspace.join("guest-sdk/javascript/examples"))?;
    let javascript = xtask::javascript::build_plugins(
        &workspace,
        &js_examples,
        &target_dir.join("javascript-plugins"),
    )?;
    let go_examples = xtask::go::plugin_packages(&workspace.join("guest-sdk/go/examples"))?;
    let go = xtask::go::build_plugins(&workspace, &go_examples, &target_dir.join("go-plugins"))?;
    let status = Command::new(&cargo)
        .current_dir(&workspace)
        .args(["build", "--release", "-p", "hookgate"])
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "building the gateway failed ({status})"
        )));
    }
    #[allow(clippy::print_stdout)]
    {
        println!("gateway: {}", target_dir.join("release/hookgate").display());
        for name in &plugins {
            println!("plugin:  {}", xtask::wasm_file(&folder, name).display());
        }
        for component in &python {
            println!("plugin:  {} (Python)", component.display());
        }
        for component in &javascript {
            println!("plugin:  {} (JavaScript)", component.display());
        }
        for component in &go {
            println!("plugin:  {} (Go)", component.display());
        }
    }
    Ok(())
}
