//! JavaScript processors: `app.js` and its listed files, staged beside the
//! JavaScript SDK (`plugins/sdk-js`, shipped inside `slate`) as the package
//! `slate-sdk`, bundled into one ES module by esbuild (componentize-js
//! takes a single file, and resolves no import but the WIT's), and built
//! with `jco componentize`, which pre-initialises the embedded
//! StarlingMonkey engine with the bundle (wizer) and wraps it as a
//! component. Nothing is downloaded: the engine and wizer come with the
//! npm packages, and `--aot` (weval, fetched on first use) is never passed.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::reproducible::{self, Pinning};
use super::{
    BuildError, Project, WORLD, find_tool, io, run_snapshotting_tool, run_tool, staging,
    write_files, write_wit,
};
use crate::plugin::source_map;

/// The jco version Slate is built and tested with.
pub const JCO_VERSION: &str = "1.11.2";

/// The componentize-js version jco runs.
pub const COMPONENTIZE_JS_VERSION: &str = "0.17.0";

/// The esbuild version that bundles a processor with the SDK.
pub const ESBUILD_VERSION: &str = "0.25.12";

/// The JavaScript SDK's files, relative to the staging folder: the package
/// `slate-sdk`, which a processor imports by that name.
pub const JAVASCRIPT_SDK: &[(&str, &str)] = &[
    (
        "node_modules/slate-sdk/package.json",
        include_str!("../../../plugins/sdk-js/package.json"),
    ),
    (
        "node_modules/slate-sdk/index.js",
        include_str!("../../../plugins/sdk-js/index.js"),
    ),
    (
        "node_modules/slate-sdk/batch.js",
        include_str!("../../../plugins/sdk-js/batch.js"),
    ),
    (
        "node_modules/slate-sdk/dates.js",
        include_str!("../../../plugins/sdk-js/dates.js"),
    ),
    (
        "node_modules/slate-sdk/host.js",
        include_str!("../../../plugins/sdk-js/host.js"),
    ),
    (
        "node_modules/slate-sdk/processor.js",
        include_str!("../../../plugins/sdk-js/processor.js"),
    ),
    (
        "node_modules/slate-sdk/values.js",
        include_str!("../../../plugins/sdk-js/values.js"),
    ),
];

/// The module bundled in place of `app.js`: the app's exports and the
/// `season` export (`plugins/sdk-js/entry.js` says how).
const ENTRY: (&str, &str) = (
    "slate-entry.js",
    include_str!("../../../plugins/sdk-js/entry.js"),
);

/// The seed of V8's `Math.random()` in jco, which names componentize-js's
/// working folder.
const NODE_RANDOM_SEED: &str = "--random-seed=1";

/// Runs jco: through `node` with a fixed random seed where jco is a
/// script for node (as npm installs it), else as it is.
fn jco_command(jco: &Path) -> Command {
    let script = std::fs::canonicalize(jco).unwrap_or_else(|_| jco.to_path_buf());
    let for_node = std::fs::read(&script).is_ok_and(|text| {
        text.starts_with(b"#!")
            && text
                .split(|&b| b == b'\n')
                .next()
                .is_some_and(|line| line.ends_with(b"node"))
    });
    match find_tool("node", "SLATE_NODE", "install Node.js 18 or later") {
        Ok(node) if for_node => {
            let mut command = Command::new(node);
            command.arg(NODE_RANDOM_SEED).arg(script);
            command
        }
        _ => Command::new(jco),
    }
}

/// How to install the JavaScript toolchain, for error messages.
fn install_hint() -> String {
    format!(
        "npm install @bytecodealliance/jco@{JCO_VERSION} @bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION} esbuild@{ESBUILD_VERSION} (or scripts/guest-toolchains.sh install-js in a Slate checkout)"
    )
}

/// esbuild: `SLATE_ESBUILD` if set, else beside jco (both in one
/// `node_modules/.bin`, as `scripts/guest-toolchains.sh` installs them),
/// else on the `PATH`.
fn find_esbuild(jco: &Path) -> Result<PathBuf, BuildError> {
    if std::env::var_os("SLATE_ESBUILD").is_none_or(|v| v.is_empty())
        && let Some(beside) = jco.parent().map(|bin| bin.join("esbuild"))
        && beside.is_file()
    {
        return Ok(beside);
    }
    find_tool("esbuild", "SLATE_ESBUILD", &install_hint())
}

/// Builds `project` (JavaScript) into `output`.
pub(super) fn build(project: &Project, output: &Path) -> Result<(), BuildError> {
    let jco = find_tool("jco", "SLATE_JCO", &install_hint())?;
    let esbuild = find_esbuild(&jco)?;
    let source = staging()?;
    let bundle = staging()?;
    let wit = staging()?;
    let work = staging()?;
    project.stage(source.path())?;
    write_files(source.path(), JAVASCRIPT_SDK)?;
    write_files(source.path(), &[ENTRY])?;
    write_wit(wit.path())?;
    let output = std::path::absolute(output).map_err(io(output))?;
    let bundled = bundle.path().join("app.js");
    run_tool(
        "esbuild",
        Command::new(esbuild)
            .current_dir(source.path())
            .arg(ENTRY.0)
            .args([
                "--bundle",
                "--format=esm",
                "--platform=neutral",
                // The WIT imports stay imports: componentize-js binds them.
                "--external:slate:*",
                // A map of the bundle's lines back to the author's files,
                // kept in the component for its runs' stack traces.
                "--sourcemap=external",
                "--sources-content=false",
                "--log-level=warning",
            ])
            .arg(format!("--outfile={}", bundled.display())),
    )?;
    let mut jco = jco_command(&jco);
    jco.arg("componentize")
        .arg(&bundled)
        .arg("--wit")
        .arg(wit.path())
        .args(["--world-name", WORLD])
        // The host links no wasi:http; stdio, clocks and random stay
        // (the sandbox makes the last two deterministic).
        .args(["--disable", "http"])
        .arg("--out")
        .arg(&output);
    if reproducible::available() {
        // componentize-js works in a folder named after `Math.random()`
        // under TMPDIR, and hands its path and PWD (through a shell) to the
        // engine, which keeps both in its snapshot. Both are spelled
        // through the working folder, the same in every build, and name a
        // folder of this build's own.
        jco.current_dir(work.path())
            .env("TMPDIR", reproducible::WORKING_FOLDER);
    } else {
        // The snapshot keeps the working folder (as PWD): a fixed one.
        jco.current_dir("/");
    }
    let own_folders = [&source, &bundle, &wit, &work].map(|folder| folder.path().to_path_buf());
    let kept = source_map_of(&bundled, source.path())?;
    run_snapshotting_tool(
        "jco",
        &mut jco,
        &Pinning {
            seed: project.seed()?,
            own_folders: own_folders.into(),
            working_folder: Some(work.path().into()),
        },
    )
    // The engine runs the module's top level as it snapshots it: an error
    // there is given in the author's files, as a run's are.
    .map_err(|error| {
        error.with_tool_output(|output| match source_map::BundleSourceMap::of_map(&kept) {
            Some(map) => map.map_frames(&output, usize::MAX),
            None => output,
        })
    })?;
    let mut component = std::fs::read(&output).map_err(io(&output))?;
    source_map::embed(&mut component, &kept);
    std::fs::write(&output, component).map_err(io(&output))
}

/// esbuild's map of `bundle` (written beside it), its sources named from
/// the processor's folder (`source`): kept in the component, so that a
/// host gives the stacks of its runs in the author's files.
fn source_map_of(bundle: &Path, source: &Path) -> Result<Vec<u8>, BuildError> {
    let map = bundle.with_extension("js.map");
    let written = std::fs::read(&map).map_err(io(&map))?;
    source_map::for_the_component(&written, bundle, source)
        .map_err(|e| io(&map)(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}
