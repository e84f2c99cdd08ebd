//! The data directory: where the store file, the configuration, the plugin
//! registry and the compiled-component cache live.
//!
//! Chosen by `--data-dir`, else `SLATE_DATA_DIR`, else `./slate-data`.

use std::path::{Path, PathBuf};

/// The default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "slate-data";

/// A resolved data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The embedded store file.
    pub fn store_file(&self) -> PathBuf {
        self.root.join("slate.db")
    }

    /// The host's configuration file, `slate.toml` (optional).
    pub fn config_file(&self) -> PathBuf {
        self.root.join("slate.toml")
    }

    /// The plugin registry: deployed versions and the active one of each.
    pub fn registry_dir(&self) -> PathBuf {
        self.root.join("registry")
    }

    /// The compiled-component cache.
    pub fn compiled_dir(&self) -> PathBuf {
        self.root.join("compiled")
    }
}
