//! `slate new NAME --lang rust|python|javascript`: a processor folder to start from.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use slate::build::Language;
use slate::scaffold::{self, GOLDEN_DATE};

/// Makes `parent/NAME` and prints what was written and what to do next.
pub fn new(parent: &Path, name: &str, language: Language) -> Result<ExitCode> {
    let written = scaffold::create(parent, name, language).map_err(|e| match e {
        scaffold::ScaffoldError::Io { .. } => anyhow::Error::new(e),
        refused => super::UsageError(refused.to_string()).into(),
    })?;
    for path in &written {
        println!("created {}", path.display());
    }
    if language == Language::Rust && !in_a_slate_workspace(parent) {
        say!(
            "note: {} is in no Cargo workspace that provides slate-sdk: the crate takes \
             slate-sdk and its package fields from the workspace, so it builds in plugins/ of a \
             Slate checkout (or add it to a workspace that has them)",
            parent.display()
        );
    }
    let dir = parent.join(name);
    println!(
        "\nnext:\n  cd {}\n  slate build . -o {name}.wasm\n  slate test {name}.wasm --date {GOLDEN_DATE} --fixtures fixtures --expect fixtures/{GOLDEN_DATE}.expected.ndjson",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether a `Cargo.toml` in `dir` or a folder above it is a workspace
/// whose `[workspace.dependencies]` has `slate-sdk`: what the Rust
/// template's crate inherits from.
fn in_a_slate_workspace(dir: &Path) -> bool {
    let Ok(dir) = std::path::absolute(dir) else {
        return false;
    };
    dir.ancestors().any(|folder| {
        let Ok(text) = std::fs::read_to_string(folder.join("Cargo.toml")) else {
            return false;
        };
        text.parse::<toml::Table>().is_ok_and(|manifest| {
            manifest
                .get("workspace")
                .and_then(|w| w.get("dependencies"))
                .and_then(|d| d.get("slate-sdk"))
                .is_some()
        })
    })
}
