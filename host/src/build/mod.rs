//! `slate build`: a processor's source folder in, one component out, for
//! every language Slate supports: Rust (cargo), Python (componentize-py)
//! and JavaScript (esbuild, then jco with componentize-js).
//!
//! A build bundles only the processor's own files: those its
//! `processor.toml` lists (by default the entry file and `schema.json`),
//! copied into a fresh staging folder beside the SDK and the WIT that ship
//! inside `slate`, so a helper script or a stray module in the folder can
//! never end up in the component. This module finds the toolchain and
//! stages; each language's module runs its tool; `reproducible` pins what
//! the Python and JavaScript tools would otherwise snapshot of the moment,
//! so that the same files build the same bytes. Nothing here loads or runs
//! the component.

mod javascript;
mod python;
mod reproducible;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use javascript::{COMPONENTIZE_JS_VERSION, ESBUILD_VERSION, JAVASCRIPT_SDK, JCO_VERSION};
pub use python::{COMPONENTIZE_PY_VERSION, PYTHON_SDK};

/// The name of a processor folder's build manifest.
pub const MANIFEST: &str = "processor.toml";

/// The WIT contract, as it ships inside `slate`: file name and text.
pub const WIT: &[(&str, &str)] = &[
    ("world.wit", include_str!("../../../wit/world.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("host.wit", include_str!("../../../wit/host.wit")),
    ("processor.wit", include_str!("../../../wit/processor.wit")),
    ("season.wit", include_str!("../../../wit/season.wit")),
];

/// The world a processor component targets: the processor, and the
/// `season` export (contract 0.1.2) the SDK answers from its declaration.
pub const WORLD: &str = "seasonal-processor-plugin";

/// A language Slate builds processors from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A cargo crate building a `cdylib` for `wasm32-wasip2`.
    Rust,
    /// `app.py`, built with componentize-py.
    Python,
    /// `app.js`, bundled by esbuild and built with jco (componentize-js).
    JavaScript,
}

impl Language {
    /// The entry file of a processor in this language.
    pub fn entry(self) -> &'static str {
        match self {
            Language::Rust => "Cargo.toml",
            Language::Python => "app.py",
            Language::JavaScript => "app.js",
        }
    }
}

/// A language name Slate cannot build: in `processor.toml`, or given to
/// `slate new --lang`.
#[derive(Debug, thiserror::Error)]
#[error("unknown language `{0}`: use rust, python or javascript")]
pub struct UnknownLanguage(pub String);

impl std::str::FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(text: &str) -> Result<Self, UnknownLanguage> {
        match text {
            "rust" => Ok(Language::Rust),
            "python" | "py" => Ok(Language::Python),
            "javascript" | "js" => Ok(Language::JavaScript),
            other => Err(UnknownLanguage(other.to_string())),
        }
    }
}

/// Why a processor could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The folder holds no processor Slate knows how to build.
    #[error("{0} holds no processor: expected {MANIFEST}, app.py, app.js or Cargo.toml")]
    NoProcessor(PathBuf),
    /// `processor.toml` is unreadable or names a missing file.
    #[error("{MANIFEST}: {0}")]
    Manifest(String),
    /// The language's build tool is not installed.
    #[error("{tool} not found ({looked}); install it with: {install}")]
    NoToolchain {
        /// The tool.
        tool: &'static str,
        /// Where it was looked for.
        looked: String,
        /// How to install it.
        install: String,
    },
    /// The build tool ran and failed.
    #[error("{tool} failed ({status}):\n{output}")]
    ToolFailed {
        /// The tool.
        tool: &'static str,
        /// Its exit status.
        status: String,
        /// What it printed, stderr then stdout.
        output: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    /// This error, with what a failed tool printed passed through
    /// `tidy` (mapped to the author's files, a hint added); any other
    /// error as it is.
    fn with_tool_output(self, tidy: impl FnOnce(String) -> String) -> Self {
        match self {
            BuildError::ToolFailed {
                tool,
                status,
                output,
            } => BuildError::ToolFailed {
                tool,
                status,
                output: tidy(output),
            },
            other => other,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `processor.toml` says, or its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The processor's folder.
    pub dir: PathBuf,
    /// Its language.
    pub language: Language,
    /// The files a build bundles, relative to `dir`.
    pub files: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    language: String,
    files: Option<Vec<String>>,
}

impl Project {
    /// Reads the processor in `dir`: its `processor.toml` if there is one,
    /// otherwise the language its entry file shows, bundling the entry file
    /// and `schema.json`. Every listed file must exist inside `dir`.
    pub fn open(dir: &Path) -> Result<Project, BuildError> {
        // Absolute: the tools run in the folder, and a relative path given
        // to them (cargo's `--target-dir`) would be read from there.
        let dir = &std::path::absolute(dir).map_err(io(dir))?;
        let manifest_path = dir.join(MANIFEST);
        let (language, files) = if manifest_path.is_file() {
            let text = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
            let manifest: Manifest =
                toml::from_str(&text).map_err(|e| BuildError::Manifest(e.to_string()))?;
            let language: Language = manifest
                .language
                .parse()
                .map_err(|e: UnknownLanguage| BuildError::Manifest(e.to_string()))?;
            (language, manifest.files)
        } else {
            let language = [Language::Python, Language::JavaScript, Language::Rust]
                .into_iter()
                .find(|language| dir.join(language.entry()).is_file())
                .ok_or_else(|| BuildError::NoProcessor(dir.to_path_buf()))?;
            (language, None)
        };
        let files = files.unwrap_or_else(|| match language {
            Language::Rust => Vec::new(),
            _ => vec![language.entry().to_string(), "schema.json".to_string()],
        });
        for file in &files {
            let relative = Path::new(file);
            if relative.is_absolute()
                || relative
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(BuildError::Manifest(format!(
                    "`{file}` is not a path inside the processor's folder"
                )));
            }
            if !dir.join(relative).is_file() {
                return Err(BuildError::Manifest(format!(
                    "`{file}` is listed but {} does not exist",
                    dir.join(relative).display()
                )));
            }
        }
        if language != Language::Rust && !files.iter().any(|f| f == language.entry()) {
            return Err(BuildError::Manifest(format!(
                "files must include the entry file {}",
                language.entry()
            )));
        }
        Ok(Project {
            dir: dir.to_path_buf(),
            language,
            files,
        })
    }

    /// Builds the component into `output`.
    pub fn build(&self, output: &Path) -> Result<(), BuildError> {
        if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let built = match self.language {
            Language::Python => python::build(self, output),
            Language::JavaScript => javascript::build(self, output),
            Language::Rust => build_rust(self, output),
        };
        built.map_err(|error| {
            error.with_tool_output(|mut output| {
                if let Some(hint) = self.unlisted_import_hint(&output) {
                    output.push_str(&hint);
                }
                output
            })
        })
    }

    /// A hint for a tool's failure `output` that names a module the
    /// processor's folder has but `processor.toml`'s `files` leaves out:
    /// only listed files are bundled, and the tool saw none of it. Python
    /// says "No module named 'a.b'" (a module `a/b.py`, or a package
    /// folder `a/b/`); esbuild says `Could not resolve "./lib/b.js"`.
    fn unlisted_import_hint(&self, output: &str) -> Option<String> {
        let (opening, closing) = match self.language {
            Language::Python => ("No module named '", '\''),
            Language::JavaScript => ("Could not resolve \"", '"'),
            Language::Rust => return None,
        };
        let missing = output
            .split(opening)
            .skip(1)
            .filter_map(|rest| rest.split_once(closing).map(|(named, _)| named));
        let mut unlisted: Vec<String> = Vec::new();
        for named in missing {
            let candidates: Vec<String> = match self.language {
                Language::Python => {
                    let path = named.replace('.', "/");
                    let mut files = vec![format!("{path}.py")];
                    let modules = files_under(&self.dir, &path).into_iter();
                    files.extend(modules.filter(|file| file.ends_with(".py")));
                    files
                }
                _ => {
                    let path = named.trim_start_matches("./");
                    ["", ".js", ".mjs", "/index.js"]
                        .iter()
                        .map(|suffix| format!("{path}{suffix}"))
                        .collect()
                }
            };
            unlisted.extend(candidates.into_iter().filter(|file| {
                !self.files.contains(file) && !file.contains("..") && self.dir.join(file).is_file()
            }));
        }
        unlisted.sort();
        unlisted.dedup();
        let first = unlisted.first()?;
        Some(format!(
            "\nhint: {} in the processor's folder, but not in `files` of processor.toml: \
             a build bundles only the files listed there (add {})",
            match unlisted.len() {
                1 => format!("{first} is"),
                _ => format!("{} are", unlisted.join(", ")),
            },
            unlisted
                .iter()
                .map(|file| format!("\"{file}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// A seed for the build's randomness, hashed from the project's own
    /// files, their names and contents (see [`reproducible::Pinning`]).
    fn seed(&self) -> Result<u64, BuildError> {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for file in &self.files {
            let path = self.dir.join(file);
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            for part in [file.as_bytes(), &bytes] {
                hash.update((part.len() as u64).to_le_bytes());
                hash.update(part);
            }
        }
        let digest = hash.finalize();
        Ok(u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")))
    }

    /// Copies the project's own files into `staging` (symbolic links
    /// followed), and nothing else.
    fn stage(&self, staging: &Path) -> Result<(), BuildError> {
        for file in &self.files {
            let from = self.dir.join(file);
            let to = staging.join(file);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::copy(&from, &to).map_err(io(&from))?;
        }
        Ok(())
    }
}

/// Writes the WIT contract into `dir`.
fn write_wit(dir: &Path) -> Result<(), BuildError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (name, text) in WIT {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
}

/// Writes `files` (relative path, text) under `dir`.
fn write_files(dir: &Path, files: &[(&str, &str)]) -> Result<(), BuildError> {
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
}

/// A tool's path: the environment variable `variable` if set, else `name`
/// on the `PATH`.
fn find_tool(tool: &'static str, variable: &str, install: &str) -> Result<PathBuf, BuildError> {
    if let Some(path) = std::env::var_os(variable).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(BuildError::NoToolchain {
                tool,
                looked: format!("{variable}={} is not a file", path.display()),
                install: install.to_string(),
            })
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| BuildError::NoToolchain {
            tool,
            looked: format!("not on PATH, and {variable} is not set"),
            install: install.to_string(),
        })
}

/// Runs `command`, turning a failure into [`BuildError::ToolFailed`].
fn run_tool(tool: &'static str, command: &mut Command) -> Result<(), BuildError> {
    tracing::debug!(?command, "building");
    finish(tool, command.output())
}

/// Runs a tool that snapshots an interpreter with its randomness, the
/// metadata of the build's own files, its working folder and its clocks
/// pinned (see [`reproducible`]), so that the same files build the same
/// bytes.
fn run_snapshotting_tool(
    tool: &'static str,
    command: &mut Command,
    pinning: &reproducible::Pinning,
) -> Result<(), BuildError> {
    tracing::debug!(?command, ?pinning, "building, pinned");
    finish(tool, reproducible::output(command, pinning))
}

/// A tool's outcome, as the build's.
fn finish(
    tool: &'static str,
    output: std::io::Result<std::process::Output>,
) -> Result<(), BuildError> {
    let output = output.map_err(|source| BuildError::Io {
        path: PathBuf::from(tool),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(BuildError::ToolFailed {
        tool,
        status: output.status.to_string(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        ),
    })
}

/// The files below `dir/folder`, as paths relative to `dir`, in no order;
/// none when it is no folder.
fn files_under(dir: &Path, folder: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![folder.to_string()];
    while let Some(relative) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&relative)) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let path = format!("{relative}/{name}");
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(kind) if kind.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files
}

/// A fresh staging folder.
fn staging() -> Result<tempfile::TempDir, BuildError> {
    tempfile::Builder::new()
        .prefix("slate-build-")
        .tempdir()
        .map_err(io(Path::new("(temporary folder)")))
}

/// `cargo build --release --target wasm32-wasip2` in the crate's folder,
/// then the `.wasm` copied to `output`.
fn build_rust(project: &Project, output: &Path) -> Result<(), BuildError> {
    let manifest_path = project.dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
    let manifest: toml::Table =
        toml::from_str(&text).map_err(|e| BuildError::Manifest(format!("Cargo.toml: {e}")))?;
    let package = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| BuildError::Manifest("Cargo.toml has no package name".into()))?;
    let target_dir = project.dir.join("target");
    run_tool(
        "cargo",
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&project.dir)
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .arg("--target-dir")
            .arg(&target_dir),
    )?;
    let built = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    std::fs::copy(&built, output).map_err(io(&built))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), files).unwrap();
        dir
    }

    /// The tools run in the folder: a relative path handed to them
    /// (cargo's `--target-dir`) would be read from there, and the Rust
    /// build then looked for its output below the path taken twice.
    #[test]
    fn a_folder_given_by_a_relative_path_is_opened_by_its_absolute_one() {
        let dir = tempfile::tempdir_in(".").unwrap();
        write_files(dir.path(), &[("Cargo.toml", ""), ("schema.json", "[]")]).unwrap();
        let here = std::env::current_dir().unwrap();
        let relative = dir.path().strip_prefix(&here).unwrap_or(dir.path());
        let project = Project::open(relative).unwrap();
        assert!(project.dir.is_absolute(), "{}", project.dir.display());
        assert_eq!(project.dir, here.join(relative));
    }

    #[test]
    fn a_python_folder_bundles_its_entry_file_and_schema_by_default() {
        let dir = folder(&[("app.py", ""), ("schema.json", "[]"), ("helper.py", "")]);
        let project = Project::open(dir.path()).unwrap();
        assert_eq!(project.language, Language::Python);
        assert_eq!(project.files, ["app.py", "schema.json"]);
    }

    #[test]
    fn a_javascript_folder_bundles_its_entry_file_and_schema_by_default() {
        let dir = folder(&[("app.js", ""), ("schema.json", "[]"), ("make.js", "")]);
        let project = Project::open(dir.path()).unwrap();
        assert_eq!(project.language, Language::JavaScript);
        assert_eq!(project.files, ["app.js", "schema.json"]);
        assert_eq!("js".parse::<Language>().unwrap(), Language::JavaScript);
        assert_eq!(
            "javascript".parse::<Language>().unwrap(),
            Language::JavaScript
        );
    }

    #[test]
    fn the_manifest_lists_what_is_bundled_and_every_listed_file_must_exist() {
        let manifest =
            "language = \"python\"\nfiles = [\"app.py\", \"schema.json\", \"zones.py\"]\n";
        let dir = folder(&[
            ("app.py", ""),
            ("schema.json", "[]"),
            ("zones.py", ""),
            (MANIFEST, manifest),
        ]);
        assert_eq!(
            Project::open(dir.path()).unwrap().files,
            ["app.py", "schema.json", "zones.py"]
        );
        std::fs::remove_file(dir.path().join("zones.py")).unwrap();
        let error = Project::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("`zones.py` is listed but"), "{error}");
    }

    #[test]
    fn a_manifest_may_not_reach_outside_the_folder_or_leave_out_the_entry_file() {
        let outside = "language = \"python\"\nfiles = [\"app.py\", \"../secret.py\"]\n";
        let dir = folder(&[("app.py", ""), (MANIFEST, outside)]);
        let error = Project::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("not a path inside"), "{error}");

        let no_entry = "language = \"python\"\nfiles = [\"schema.json\"]\n";
        let dir = folder(&[("schema.json", "[]"), (MANIFEST, no_entry)]);
        let error = Project::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("entry file app.py"), "{error}");
    }

    #[test]
    fn an_unknown_language_or_an_empty_folder_is_named() {
        let dir = folder(&[(MANIFEST, "language = \"cobol\"\n")]);
        let error = Project::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("unknown language `cobol`"), "{error}");

        let empty = tempfile::tempdir().unwrap();
        let error = Project::open(empty.path()).unwrap_err().to_string();
        assert!(error.contains("holds no processor"), "{error}");
    }

    #[test]
    fn staging_copies_only_the_listed_files() {
        let dir = folder(&[
            ("app.py", "x"),
            ("schema.json", "[]"),
            ("make_fixtures.py", ""),
        ]);
        let project = Project::open(dir.path()).unwrap();
        let staged = tempfile::tempdir().unwrap();
        project.stage(staged.path()).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(staged.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["app.py", "schema.json"]);
    }
}
