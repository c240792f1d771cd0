//! Builds every plugin the tests and benchmarks use, example and hostile, into
//! components: the Rust crates for wasm32-wasip2 (`HOOKGATE_WASM_DIR`) and
//! the Python, JavaScript and Go SDKs' examples and test plugins
//! (`HOOKGATE_PYTHON_WASM_DIR`, `HOOKGATE_JAVASCRIPT_WASM_DIR`,
//! `HOOKGATE_GO_WASM_DIR`), and tells the tests where they are and which
//! interpreters run the SDKs' native tests (`HOOKGATE_PYTHON`,
//! `HOOKGATE_GO`).
//!
//! The nested build uses a target directory of its own beside the outer one,
//! so it never waits on the outer build's lock.

use std::path::{Path, PathBuf};

fn main() {
    let tests = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = tests
        .parent()
        .expect("tests/ is inside the workspace")
        .to_owned();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map_or_else(|| out_dir.join("wasm"), |t| t.join("wasm-plugins"));
    let cargo = PathBuf::from(std::env::var_os("CARGO").expect("set by cargo"));

    let mut crates = Vec::new();
    for folder in ["plugins", "tests/plugins"] {
        let folder = workspace.join(folder);
        crates.extend(xtask::plugin_crates(&folder).expect("plugin folders are readable"));
    }
    let wasm_dir = xtask::build_plugins(&cargo, &workspace, &target_dir, &crates)
        .unwrap_or_else(|e| panic!("{e}"));

    let mut python = xtask::python::plugin_files(&workspace.join("guest-sdk/python/examples"))
        .expect("the Python examples are readable");
    python.extend(
        xtask::python::plugin_files(&workspace.join("tests/python-plugins"))
            .expect("the Python test plugins are readable"),
    );
    let python_dir = out_dir
        .ancestors()
        .nth(4)
        .map_or_else(|| out_dir.join("python"), |t| t.join("python-plugins"));
    xtask::python::build_plugins(&workspace, &python, &python_dir)
        .unwrap_or_else(|e| panic!("{e}"));
    let interpreter = xtask::python::toolchain(&workspace).unwrap_or_else(|e| panic!("{e}"));
    let mut javascript =
        xtask::javascript::plugin_files(&workspace.join("guest-sdk/javascript/examples"))
            .expect("the JavaScript examples are readable");
    javascript.extend(
        xtask::javascript::plugin_files(&workspace.join("tests/js-plugins"))
            .expect("the JavaScript test plugins are readable"),
    );
    let javascript_dir = out_dir.ancestors().nth(4).map_or_else(
        || out_dir.join("javascript"),
        |t| t.join("javascript-plugins"),
    );
    xtask::javascript::build_plugins(&workspace, &javascript, &javascript_dir)
        .unwrap_or_else(|e| panic!("{e}"));

    let mut go = xtask::go::plugin_packages(&workspace.join("guest-sdk/go/examples"))
        .expect("the Go examples are readable");
    go.extend(
        xtask::go::plugin_packages(&workspace.join("tests/go-plugins"))
            .expect("the Go test plugins are readable"),
    );
    let go_dir = out_dir
        .ancestors()
        .nth(4)
        .map_or_else(|| out_dir.join("go"), |t| t.join("go-plugins"));
    xtask::go::build_plugins(&workspace, &go, &go_dir).unwrap_or_else(|e| panic!("{e}"));
    let go_command = xtask::go::toolchain(&workspace).unwrap_or_else(|e| panic!("{e}"));

    for watched in [
        "wit",
        "guest-sdk/src",
        "guest-sdk/Cargo.toml",
        "guest-sdk/python/hookgate",
        "guest-sdk/python/examples",
        "guest-sdk/python/requirements.lock",
        "guest-sdk/javascript/src",
        "guest-sdk/javascript/examples",
        "guest-sdk/javascript/build.mjs",
        "guest-sdk/javascript/package-lock.json",
        "guest-sdk/go",
        "tests/go-plugins",
        "plugins",
        "tests/plugins",
        "tests/python-plugins",
        "tests/js-plugins",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rustc-env=HOOKGATE_WASM_DIR={}", display(&wasm_dir));
    println!(
        "cargo:rustc-env=HOOKGATE_PYTHON_WASM_DIR={}",
        display(&python_dir)
    );
    println!("cargo:rustc-env=HOOKGATE_PYTHON={}", display(&interpreter));
    println!(
        "cargo:rustc-env=HOOKGATE_JAVASCRIPT_WASM_DIR={}",
        display(&javascript_dir)
    );
    println!("cargo:rustc-env=HOOKGATE_GO_WASM_DIR={}", display(&go_dir));
    println!("cargo:rustc-env=HOOKGATE_GO={}", display(&go_command));
}

fn display(path: &Path) -> String {
    path.to_str().expect("the target path is UTF-8").to_owned()
}
