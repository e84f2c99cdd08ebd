//! Python processors: `app.py` and its listed files, staged beside the
//! Python SDK (`plugins/sdk-python/slate_sdk`, shipped inside `slate`), and
//! built with componentize-py, which bundles CPython and snapshots the
//! imported modules into the component.

use std::path::Path;
use std::process::Command;

use super::reproducible::Pinning;
use super::{
    BuildError, Project, WORLD, find_tool, io, run_snapshotting_tool, staging, write_files,
    write_wit,
};

/// The componentize-py version Slate is built and tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The Python SDK's files, relative to the staging folder.
pub const PYTHON_SDK: &[(&str, &str)] = &[
    (
        "slate_sdk/__init__.py",
        include_str!("../../../plugins/sdk-python/slate_sdk/__init__.py"),
    ),
    (
        "slate_sdk/batch.py",
        include_str!("../../../plugins/sdk-python/slate_sdk/batch.py"),
    ),
    (
        "slate_sdk/dates.py",
        include_str!("../../../plugins/sdk-python/slate_sdk/dates.py"),
    ),
    (
        "slate_sdk/processor.py",
        include_str!("../../../plugins/sdk-python/slate_sdk/processor.py"),
    ),
    (
        "slate_sdk/values.py",
        include_str!("../../../plugins/sdk-python/slate_sdk/values.py"),
    ),
    // Componentized in place of `app`: the app's exports and `Season`.
    (
        "slate_entry.py",
        include_str!("../../../plugins/sdk-python/slate_entry.py"),
    ),
];

/// Builds `project` (Python) into `output`.
pub(super) fn build(project: &Project, output: &Path) -> Result<(), BuildError> {
    let tool = find_tool(
        "componentize-py",
        "SLATE_COMPONENTIZE_PY",
        &format!(
            "pip install componentize-py=={COMPONENTIZE_PY_VERSION} (or scripts/guest-toolchains.sh install in a Slate checkout)"
        ),
    )?;
    let source = staging()?;
    let wit = staging()?;
    // componentize-py extracts CPython's library and writes the bindings
    // into temporary folders, which the snapshot sees: this build's own.
    let temporary = staging()?;
    // componentize-py searches a virtual environment's site-packages too,
    // and without one the site-packages of whatever `python3` is on the
    // PATH, all of it: the component would then depend on the machine's
    // packages. It gets an empty one, so only the staged folder counts.
    let no_packages = staging()?;
    let site_packages = no_packages.path().join("lib/site-packages");
    std::fs::create_dir_all(&site_packages).map_err(io(&site_packages))?;
    project.stage(source.path())?;
    write_files(source.path(), PYTHON_SDK)?;
    write_wit(wit.path())?;
    let output = std::path::absolute(output).map_err(io(output))?;
    run_snapshotting_tool(
        "componentize-py",
        Command::new(tool)
            .current_dir(source.path())
            .env("TMPDIR", temporary.path())
            .env("VIRTUAL_ENV", no_packages.path())
            // Its own Rust backtrace would bury the app's traceback.
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .arg("--quiet")
            .arg("--wit-path")
            .arg(wit.path())
            .args([
                "--world",
                WORLD,
                "componentize",
                "slate_entry",
                "--python-path",
            ])
            .arg(source.path())
            .arg("--output")
            .arg(&output),
        &Pinning {
            seed: project.seed()?,
            own_folders: vec![
                source.path().into(),
                wit.path().into(),
                temporary.path().into(),
                no_packages.path().into(),
            ],
            working_folder: None,
        },
    )
    .map_err(|error| error.with_tool_output(|output| the_apps_traceback(&output)))
}

/// componentize-py's report of a failure in the app's top level (which it
/// runs as it snapshots), as the app's own traceback: the traceback of
/// componentize-py's own script around it and its Rust error chain left
/// out, and the staged folder it names `/0` given as the processor's.
fn the_apps_traceback(output: &str) -> String {
    let inner = (output.split_once("AssertionError: Traceback"))
        .map_or(output.to_string(), |(_, after)| format!("Traceback{after}"));
    let inner = inner.split("\n\nCaused by:").next().unwrap_or(&inner);
    let inner = inner.split("\nStack backtrace:").next().unwrap_or(inner);
    format!("{}\n", inner.replace("File \"/0/", "File \"").trim_end())
}
