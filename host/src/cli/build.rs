//! `slate build [DIR] [-o FILE]`: a processor folder into a component.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use slate::build::Project;

/// Builds the processor in `dir` into `output` (by default
/// `<dir>/<folder name>.wasm`) and prints the file, its size and its hash.
pub fn build(dir: &Path, output: Option<PathBuf>) -> Result<ExitCode> {
    let project = Project::open(dir).map_err(|e| super::UsageError(e.to_string()))?;
    let output = output.unwrap_or_else(|| default_output(dir));
    let started = std::time::Instant::now();
    project
        .build(&output)
        .with_context(|| format!("cannot build {}", dir.display()))?;
    let bytes =
        std::fs::read(&output).with_context(|| format!("cannot read {}", output.display()))?;
    println!(
        "{} ({} bytes, sha256 {}, built in {:.1} s)",
        output.display(),
        bytes.len(),
        slate::plugin::content_hash(&bytes),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `<dir>/<folder name>.wasm`.
fn default_output(dir: &Path) -> PathBuf {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name = absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "processor".into());
    dir.join(format!("{name}.wasm"))
}
