//! The on-disk cache of compiled components, keyed by content hash.
//!
//! Compiling a component with cranelift takes far longer than loading it, so
//! each component is compiled once per content hash and engine configuration,
//! written next to the data, and memory-mapped on later starts.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiled components stored in one folder.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
    engine_fingerprint: String,
}

impl CompiledCache {
    /// A cache in `dir` for components compiled by `engine`.
    pub fn new(dir: &Path, engine: &Engine) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompiledCache {
            dir: dir.to_path_buf(),
            engine_fingerprint: format!("{:016x}", hasher.finish()),
        }
    }

    fn path_for(&self, content_hash: &str) -> PathBuf {
        self.dir
            .join(format!("{content_hash}-{}.cwasm", self.engine_fingerprint))
    }

    /// Loads the component with `content_hash`, compiling and storing it
    /// first if no compiled copy is cached. A corrupt or stale cache file is
    /// replaced, never trusted.
    pub fn load(
        &self,
        engine: &Engine,
        content_hash: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let path = self.path_for(content_hash);
        if path.exists() {
            // SAFETY: the file was written by `Engine::precompile_component`
            // of an engine with the same compatibility hash, into a folder
            // only this host writes; wasmtime re-checks the header and
            // refuses files from another configuration.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => tracing::warn!(path = %path.display(), "recompiling: {error:#}"),
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        if let Err(error) = write_atomically(&self.dir, &path, &compiled) {
            tracing::warn!(path = %path.display(), "cannot cache compiled component: {error}");
        }
        // SAFETY: `compiled` was just produced by this engine.
        #[allow(unsafe_code)]
        unsafe {
            Component::deserialize(engine, &compiled)
        }
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    fs::write(&temporary, bytes)?;
    fs::rename(&temporary, path)
}
