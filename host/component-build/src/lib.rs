//! Builds processor crates into WebAssembly components, from a build script.
//!
//! Plugins and test fixture components are never committed as `.wasm`: the
//! host's and the tests' build scripts call [`build_components`], which runs
//! one nested `cargo build --profile component --target wasm32-wasip2` for
//! all the requested crates into one shared target folder,
//! `target/components`. The `component` profile (in the workspace's
//! `Cargo.toml`) is release with whole-program LTO.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every component is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The cargo profile components are built with.
pub const PROFILE: &str = "component";

/// A built component.
#[derive(Debug, Clone)]
pub struct BuiltComponent {
    /// The crate name, e.g. `player-game-summary`.
    pub package: String,
    /// The `.wasm` file.
    pub path: PathBuf,
}

/// The workspace root: the folder above the calling crate's manifest folder
/// that holds `Cargo.lock`.
pub fn workspace_root() -> PathBuf {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run from a build script"));
    manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").exists() || dir.join("wit").is_dir())
        .expect("the workspace root")
        .to_path_buf()
}

/// The component crates directly under `dir` (those whose `Cargo.toml`
/// builds a `cdylib`), by name. Libraries such as the SDK are left out.
pub fn crates_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut crates: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("Cargo.toml").exists())
        .filter_map(|path| {
            let manifest = std::fs::read_to_string(path.join("Cargo.toml")).ok()?;
            if !manifest.contains("\"cdylib\"") {
                return None;
            }
            let name = manifest.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("name = ")
                    .map(|n| n.trim_matches('"').to_string())
            })?;
            Some((name, path))
        })
        .collect();
    crates.sort();
    crates
}

/// Builds `packages` into components with one nested cargo invocation, and
/// tells cargo to rebuild when anything under `watch` changes.
///
/// # Panics
/// When the build fails: a build script has no better way to report it.
pub fn build_components(packages: &[String], watch: &[PathBuf]) -> Vec<BuiltComponent> {
    for path in watch {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let root = workspace_root();
    let target_dir = root.join("target").join("components");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args([
            "build",
            "--profile",
            PROFILE,
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    for package in packages {
        command.args(["-p", package]);
    }
    // The outer build's flags and wrappers (clippy, coverage) are for the
    // host target; the nested build must not inherit them.
    for variable in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        command.env_remove(variable);
    }
    let status = command.status().expect("run cargo to build the components");
    assert!(
        status.success(),
        "building components {packages:?} failed: {status}"
    );
    packages
        .iter()
        .map(|package| BuiltComponent {
            package: package.clone(),
            path: target_dir
                .join(TARGET)
                .join(PROFILE)
                .join(format!("{}.wasm", package.replace('-', "_"))),
        })
        .collect()
}
