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

    /// Whether no server or `slate run` has used the folder: it is not
    /// there, or holds nothing but the compile cache folder, which `slate
    /// test` and `slate schemas` make wherever `--data-dir` points. An
    /// empty folder was made on purpose, and is a data folder to be; so is
    /// one whose cache is a link someone made to a shared one.
    pub fn is_unused(&self) -> bool {
        match std::fs::read_dir(&self.root) {
            Err(_) => !self.root.exists(),
            Ok(entries) => {
                let mut names = entries.filter_map(|e| e.ok()).map(|e| e.file_name());
                let only_the_cache =
                    names.next().is_some_and(|name| name == "compiled") && names.next().is_none();
                only_the_cache
                    && std::fs::symlink_metadata(self.compiled_dir()).is_ok_and(|m| m.is_dir())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DataDir;

    #[test]
    fn a_folder_holding_only_the_compile_cache_is_unused_and_an_empty_one_is_not() {
        let folder = tempfile::tempdir().unwrap();
        let data = DataDir::new(folder.path().join("data"));
        assert!(data.is_unused(), "not there");
        std::fs::create_dir(data.root()).unwrap();
        assert!(!data.is_unused(), "made on purpose");
        std::fs::create_dir(data.compiled_dir()).unwrap();
        assert!(data.is_unused(), "only what `slate test` left");
        std::fs::write(data.config_file(), "").unwrap();
        assert!(!data.is_unused(), "configured");

        let linked = DataDir::new(folder.path().join("linked"));
        std::fs::create_dir(linked.root()).unwrap();
        std::os::unix::fs::symlink(data.compiled_dir(), linked.compiled_dir()).unwrap();
        assert!(!linked.is_unused(), "a cache shared on purpose");
    }
}
