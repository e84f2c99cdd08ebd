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

/// Whether the toolchain building us has the `wasm32-wasip2` standard
/// library; if not, the one command that installs it. rustup installs the
/// targets `rust-toolchain.toml` names only when it installs the toolchain
/// itself, and never where `RUSTUP_AUTO_INSTALL=0`: without this check the
/// build fails deep inside the first plugin, with "can't find crate for
/// `core`".
pub fn target_installed() -> Result<(), String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run {rustc}: {e}"))?;
    target_in(&PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

/// Whether the toolchain at `sysroot` has the [`TARGET`] standard library.
fn target_in(sysroot: &Path) -> Result<(), String> {
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        Ok(())
    } else {
        Err(format!(
            "the {TARGET} target is not installed for the toolchain at {}.\n\
             Install it with:\n\n    rustup target add {TARGET}\n\n\
             (rust-toolchain.toml names it, but rustup adds it by itself only \
             when it installs the toolchain, and not where RUSTUP_AUTO_INSTALL=0.)",
            sysroot.display()
        ))
    }
}

/// The component crates directly under `dir` (those whose `Cargo.toml`
/// builds a `cdylib`), by name. Libraries such as the SDK are left out.
pub fn crates_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut crates: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("Cargo.toml").exists())
        .filter_map(|path| {
            let text = std::fs::read_to_string(path.join("Cargo.toml")).ok()?;
            let manifest: toml::Table = text
                .parse()
                .unwrap_or_else(|e| panic!("{}/Cargo.toml: {e}", path.display()));
            let builds_a_component = manifest
                .get("lib")
                .and_then(|lib| lib.get("crate-type"))
                .and_then(toml::Value::as_array)
                .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
            let name = manifest.get("package")?.get("name")?.as_str()?.to_string();
            builds_a_component.then_some((name, path))
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
    if let Err(missing) = target_installed() {
        panic!("{missing}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_target_is_named_with_the_command_that_installs_it() {
        let sysroot = std::env::temp_dir().join(format!("no-wasm-sysroot-{}", std::process::id()));
        std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu")).unwrap();
        let missing = target_in(&sysroot).unwrap_err();
        assert!(
            missing.contains("rustup target add wasm32-wasip2"),
            "{missing}"
        );
        std::fs::create_dir_all(sysroot.join("lib/rustlib/wasm32-wasip2")).unwrap();
        assert_eq!(target_in(&sysroot), Ok(()));
        std::fs::remove_dir_all(&sysroot).unwrap();
    }

    #[test]
    fn only_crates_that_build_a_cdylib_are_components() {
        let dir = std::env::temp_dir().join(format!("crates-in-{}", std::process::id()));
        let write = |name: &str, manifest: &str| {
            std::fs::create_dir_all(dir.join(name)).unwrap();
            std::fs::write(dir.join(name).join("Cargo.toml"), manifest).unwrap();
        };
        write(
            "plugin",
            "[package]\nname = \"a-plugin\"\n# \"cdylib\" in a comment\n\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n",
        );
        write(
            "library",
            "[package]\nname = \"a-library\"\ndescription = \"not a \\\"cdylib\\\"\"\n",
        );
        let found: Vec<String> = crates_in(&dir).into_iter().map(|(name, _)| name).collect();
        assert_eq!(found, ["a-plugin"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
