//! Reading one section of `slate.toml`: the file may be missing (then the
//! section's defaults hold), unreadable, or wrong, and an error says which
//! file and, through its source, what is wrong where.

use std::path::{Path, PathBuf};

/// Why `slate.toml` gave no section. The message names the file; the
/// source says what is wrong with it (a TOML error names the line, the
/// column and the key).
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError<E: std::error::Error + 'static> {
    /// The file exists but could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The file's section is wrong.
    #[error("{}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: E,
    },
}

/// The section `parse` reads from the file at `path`, or `default` when
/// there is no file.
pub fn load<T, E: std::error::Error + 'static>(
    path: &Path,
    default: impl FnOnce() -> T,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ConfigFileError<E>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).map_err(|source| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default()),
        Err(source) => Err(ConfigFileError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What is wrong with `name` as the name of something `slate.toml` defines
/// (an alert channel, a schedule), if anything: it must be seen and told
/// apart in listings, metrics and logs, so it may not be empty, begin or
/// end with white space, or hold a control character.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("the name is empty")
    } else if name.trim() != name {
        Some("the name begins or ends with white space")
    } else if name.chars().any(char::is_control) {
        Some("the name holds a control character")
    } else {
        None
    }
}
