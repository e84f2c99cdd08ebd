//! `slate new NAME --lang rust|python|javascript`: a processor folder to start from,
//! as `spin new` makes one. It holds a processor with its `info()` filled
//! in (one row per game on the analysis date), its `schema.json`, a
//! fixtures folder with the golden file beside the fixtures, a README with
//! the build and test commands, and what the build needs
//! (`processor.toml` or `Cargo.toml`). It passes its own golden test as
//! made. Nothing here builds or runs it.

use std::path::{Path, PathBuf};

use crate::build::{Language, MANIFEST};

/// The analysis date of a new processor's golden test.
pub const GOLDEN_DATE: &str = "2026-01-11";

/// Why a processor folder could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not lower-case words joined by hyphens.
    #[error(
        "processor name `{0}` must be lower-case letters and digits in words joined by hyphens, starting with a letter (e.g. games-per-team)"
    )]
    BadName(String),
    /// The name is longer than [`MAX_NAME_CHARS`].
    #[error(
        "processor name `{0}` is {1} characters long; at most {MAX_NAME_CHARS}, so that its \
         table's name fits every store"
    )]
    TooLong(String, usize),
    /// The folder to create it in does not exist, or is no folder: a
    /// mistyped `--parent`.
    #[error("{0} is no folder: give --parent a folder that exists")]
    NoParent(PathBuf),
    /// The name is a bundled processor's: deployed, the new processor
    /// would replace it.
    #[error(
        "`{0}` would be {1}, a bundled processor: deployed, it would replace it. Give a new \
         processor a name of its own (a new version of {1} is built from its crate in plugins/)"
    )]
    Bundled(String, String),
    /// The folder exists already.
    #[error("{0} exists already; choose another name or remove it")]
    Exists(PathBuf),
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The longest name a new processor may have: its table's name
/// (`nba_analytics.` and the name's words joined by `_`) and the names Slate
/// derives from it (a shadow's table, an index) stay within PostgreSQL's 63
/// bytes.
pub const MAX_NAME_CHARS: usize = 40;

/// A new processor's names, all derived from its folder name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The folder and package name, e.g. `games-per-team`.
    pub name: String,
    /// The processor's name, e.g. `GamesPerTeamProcessor`.
    pub processor: String,
    /// Its output table, e.g. `nba_analytics.games_per_team`.
    pub table: String,
}

impl Names {
    /// The names for `name`, which must be lower-case words joined by
    /// hyphens.
    pub fn new(name: &str) -> Result<Names, ScaffoldError> {
        let words: Vec<&str> = name.split('-').collect();
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && words.iter().all(|word| {
                !word.is_empty()
                    && word
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !valid {
            return Err(ScaffoldError::BadName(name.to_string()));
        }
        if name.len() > MAX_NAME_CHARS {
            return Err(ScaffoldError::TooLong(name.to_string(), name.len()));
        }
        let camel: String = words
            .iter()
            .map(|word| word[..1].to_ascii_uppercase() + &word[1..])
            .collect();
        let processor = if camel.ends_with("Processor") {
            camel
        } else {
            camel + "Processor"
        };
        Ok(Names {
            name: name.to_string(),
            processor,
            table: format!("nba_analytics.{}", words.join("_")),
        })
    }
}

const SCHEMA: &str = include_str!("templates/schema.json");
const SCHEDULE: &str = include_str!("templates/schedule.ndjson");
const EXPECTED: &str = include_str!("templates/expected.ndjson");
const README: &str = include_str!("templates/README.md");
const PYTHON_APP: &str = include_str!("templates/app.py");
const JAVASCRIPT_APP: &str = include_str!("templates/app.js");
const PROCESSOR_TOML: &str = include_str!("templates/processor.toml");
const RUST_CARGO_TOML: &str = include_str!("templates/Cargo.toml");
const RUST_LIB: &str = include_str!("templates/lib.rs");

/// The files of a new processor in `language`: path in the folder, text.
pub fn files(names: &Names, language: Language) -> Vec<(String, String)> {
    let (language_name, build, component) = match language {
        Language::Python => (
            "python",
            format!("slate build . -o {}.wasm", names.name),
            format!("{}.wasm", names.name),
        ),
        Language::JavaScript => (
            "javascript",
            format!("slate build . -o {}.wasm", names.name),
            format!("{}.wasm", names.name),
        ),
        Language::Rust => (
            "rust",
            format!(
                "# in plugins/ of a Slate checkout (the crate uses the workspace's slate-sdk):\nslate build . -o {}.wasm",
                names.name
            ),
            format!("{}.wasm", names.name),
        ),
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", &names.name)
            .replace("{{processor}}", &names.processor)
            .replace("{{table}}", &names.table)
            .replace("{{language}}", language_name)
            .replace("{{build}}", &build)
            .replace("{{component}}", &component)
            .replace(
                "{{files}}",
                &format!("\"{}\", \"schema.json\"", language.entry()),
            )
    };
    let mut files = vec![
        ("schema.json".to_string(), SCHEMA.to_string()),
        ("README.md".to_string(), fill(README)),
        (
            "fixtures/nba_raw.schedule.ndjson".to_string(),
            SCHEDULE.to_string(),
        ),
        (
            format!("fixtures/{GOLDEN_DATE}.expected.ndjson"),
            EXPECTED.to_string(),
        ),
    ];
    match language {
        Language::Python => {
            files.push(("app.py".into(), fill(PYTHON_APP)));
            files.push((MANIFEST.into(), fill(PROCESSOR_TOML)));
        }
        Language::JavaScript => {
            files.push(("app.js".into(), fill(JAVASCRIPT_APP)));
            files.push((MANIFEST.into(), fill(PROCESSOR_TOML)));
        }
        Language::Rust => {
            files.push(("Cargo.toml".into(), fill(RUST_CARGO_TOML)));
            files.push(("src/lib.rs".into(), fill(RUST_LIB)));
        }
    }
    files
}

/// Makes the folder `parent/NAME` for a new processor in `language`, and
/// returns the files written.
pub fn create(
    parent: &Path,
    name: &str,
    language: Language,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    let names = Names::new(name)?;
    let bundled = crate::bundled::PLUGINS
        .iter()
        .filter_map(|plugin| Names::new(plugin.package).ok())
        .find(|bundled| bundled.processor == names.processor);
    if let Some(bundled) = bundled {
        return Err(ScaffoldError::Bundled(names.name, bundled.processor));
    }
    if !parent.is_dir() {
        return Err(ScaffoldError::NoParent(parent.to_path_buf()));
    }
    let dir = parent.join(&names.name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let mut written = Vec::new();
    for (relative, text) in files(&names, language) {
        let path = dir.join(relative);
        let io = |source| ScaffoldError::Io {
            path: path.clone(),
            source,
        };
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(io)?;
        }
        std::fs::write(&path, text).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_folder_name() {
        assert_eq!(
            Names::new("games-per-team").unwrap(),
            Names {
                name: "games-per-team".into(),
                processor: "GamesPerTeamProcessor".into(),
                table: "nba_analytics.games_per_team".into(),
            }
        );
        assert_eq!(
            Names::new("rest-processor").unwrap().processor,
            "RestProcessor"
        );
    }

    #[test]
    fn a_name_that_is_not_lower_case_words_joined_by_hyphens_is_refused() {
        for bad in [
            "",
            "Games",
            "games_per_team",
            "-games",
            "games--team",
            "9lives",
            "a b",
        ] {
            let error = Names::new(bad).unwrap_err().to_string();
            assert!(error.contains(&format!("`{bad}`")), "{error}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let names = Names::new("games-per-team").unwrap();
        for language in [Language::Python, Language::JavaScript, Language::Rust] {
            for (path, text) in files(&names, language) {
                assert!(!text.contains("{{"), "{path} keeps a placeholder");
            }
        }
    }

    #[test]
    fn a_name_too_long_for_its_tables_name_is_refused_saying_how_long() {
        let longest = "a".repeat(MAX_NAME_CHARS);
        assert!(Names::new(&longest).is_ok());
        let error = Names::new(&format!("{longest}a")).unwrap_err();
        assert!(matches!(error, ScaffoldError::TooLong(_, 41)), "{error}");
        assert!(error.to_string().contains("at most 40"), "{error}");
    }

    #[test]
    fn a_parent_folder_that_does_not_exist_is_refused_and_not_made() {
        let parent = tempfile::tempdir().unwrap();
        let missing = parent.path().join("no/such/folder");
        let error = create(&missing, "games", Language::Python).unwrap_err();
        assert!(matches!(error, ScaffoldError::NoParent(_)), "{error}");
        assert!(!parent.path().join("no").exists());
    }

    #[test]
    fn an_existing_folder_is_never_overwritten() {
        let parent = tempfile::tempdir().unwrap();
        std::fs::create_dir(parent.path().join("games")).unwrap();
        let error = create(parent.path(), "games", Language::Python).unwrap_err();
        assert!(matches!(error, ScaffoldError::Exists(_)), "{error}");
    }
}
