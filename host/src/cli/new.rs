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
    let dir = parent.join(name);
    println!(
        "\nnext:\n  cd {}\n  slate build . -o {name}.wasm\n  slate test {name}.wasm --date {GOLDEN_DATE} --fixtures fixtures --expect fixtures/{GOLDEN_DATE}.expected.ndjson",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
