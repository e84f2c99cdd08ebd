//! The on-disk cache of compiled components, keyed by content hash.
//!
//! Compiling a component with cranelift takes far longer than loading it, so
//! each component is compiled once per content hash and engine configuration,
//! written next to the data, and loaded on later starts. A compiled file is
//! machine code run as it is: beside it goes the SHA-256 of its bytes, and a
//! file whose bytes do not match (damaged on disk) is compiled again, never
//! run (a flipped byte in it made `slate run` die of a segmentation fault).

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

    /// The compiled bytes cached at `path`, if they are whole: the SHA-256
    /// written beside them matches.
    fn whole(path: &Path) -> Option<Vec<u8>> {
        let expected = fs::read_to_string(checksum_path(path)).ok()?;
        let compiled = fs::read(path).ok()?;
        match crate::plugin::content_hash(&compiled) == expected.trim() {
            true => Some(compiled),
            false => {
                tracing::warn!(path = %path.display(), "damaged compiled component: recompiling");
                None
            }
        }
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
        if let Some(compiled) = Self::whole(&path) {
            // SAFETY: the bytes are those `Engine::precompile_component` of
            // an engine with the same compatibility hash wrote, unchanged
            // (their SHA-256 matches the one written with them); wasmtime
            // re-checks the header and refuses another configuration's.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize(engine, &compiled) } {
                Ok(component) => return Ok(component),
                Err(error) => tracing::warn!(path = %path.display(), "recompiling: {error:#}"),
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        let checksum = crate::plugin::content_hash(&compiled);
        // The checksum first: a file without one is never run.
        let written = write_atomically(&self.dir, &checksum_path(&path), checksum.as_bytes())
            .and_then(|()| write_atomically(&self.dir, &path, &compiled));
        if let Err(error) = written {
            tracing::warn!(path = %path.display(), "cannot cache compiled component: {error}");
        }
        // SAFETY: `compiled` was just produced by this engine.
        #[allow(unsafe_code)]
        unsafe {
            Component::deserialize(engine, &compiled)
        }
    }
}

/// Where the SHA-256 of the compiled file at `path` is kept.
fn checksum_path(path: &Path) -> PathBuf {
    path.with_extension("cwasm.sha256")
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    crate::whole_file::write_whole(&temporary, path, bytes)
}
