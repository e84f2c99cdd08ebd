//! Which processors exist: the bundled ones, overridden or extended by the
//! registry's active versions, plus any `--plugin-dir` components.
//!
//! 1. The processors bundled into the binary are the baseline.
//! 2. An active registry version of a processor replaces the bundled one of
//!    the same name; a registry processor with a new name is added.
//! 3. Every `.wasm` file in the plugin folder, if given, is added; one
//!    whose name is already taken fails the load, naming both places.
//! 4. Every processor must own its output table, or find it unowned
//!    ([`crate::ownership`]); where two name the same unowned table, the
//!    earlier in this order keeps it. A refusal fails the load, naming the
//!    owner; a server instead leaves out each processor refused, and its
//!    dependants ([`load_leaving_out_refused`]), and says so in its health
//!    check ([`RefusedVersions`]).
//!
//! Shadow versions ([`crate::shadow`]) come from the registry as well, by
//! [`load_shadows`]. Loading only; ordering is [`crate::pipeline`]'s job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundled::PLUGINS;
use crate::ownership::{Claimant, Ledger, OwnershipRefused};
use crate::plugin::{Plugin, PluginError, Runtime};
use crate::registry::{Registry, RegistryError, StoredVersion};

/// Why the processor set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A component could not be loaded.
    #[error("loading {origin}: {error}")]
    Plugin {
        /// Where it came from.
        origin: String,
        /// Why.
        error: PluginError,
    },
    /// A plugin-folder file is no processor: the folder the command line
    /// named holds what it should not.
    #[error("loading {path}: {error}")]
    PluginFile {
        /// The file.
        path: PathBuf,
        /// Why it did not load.
        error: PluginError,
    },
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A processor names a table it may not write.
    #[error("refused {origin}: {refused}")]
    Ownership {
        /// Where it came from.
        origin: String,
        /// Why.
        refused: Box<OwnershipRefused>,
    },
    /// A plugin-folder component takes a name another processor has.
    #[error(
        "{second} is named {name}, as {first} is: two processors cannot share \
         a name (deploy a new version with `slate deploy` instead)"
    )]
    DuplicateName {
        /// The processor name.
        name: String,
        /// Where the first processor of that name came from.
        first: String,
        /// The plugin-folder file that repeats it.
        second: String,
    },
    /// The plugin folder could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// What a server could not load of the registry's active versions and
/// its plugin folder: the processors the table owners refuse (a processor
/// of its `--plugin-dir` names a table a newly deployed one names first,
/// say), and the registry versions that do not load (bytes damaged, or a
/// component this host no longer compiles), which it serves without, with
/// their dependants, or with the version it had of each
/// ([`load_leaving_out_refused`]); or, when a reload failed otherwise (the
/// registry unreadable, a plugin-folder file that does not load), the
/// versions it had, which it goes on serving. Its health check says so:
/// unhealthy until they load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusedVersions {
    /// The registry's generation that could not be loaded whole.
    pub generation: i64,
    /// Since when the host has served without them.
    pub since: chrono::DateTime<chrono::Utc>,
    /// Why they could not be loaded.
    pub reason: String,
    /// The processors the host serves without; empty when it serves the
    /// versions it had.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

/// Where a loaded processor came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Bundled into the binary.
    Bundled,
    /// The registry's active version.
    Registry,
    /// A file in the plugin folder.
    PluginDir(PathBuf),
}

/// A loaded processor and where it came from.
#[derive(Clone)]
pub struct Loaded {
    /// The plugin.
    pub plugin: Plugin,
    /// Its origin.
    pub origin: Origin,
}

/// Whether `name` is a processor this host knows by name: one it serves,
/// or one the registry has a history of (undeployed, or left out). Runs
/// may still name others (another host's plugin folder).
pub fn is_known(
    pipeline: &crate::pipeline::Pipeline,
    registry: &Registry,
    name: &str,
) -> Result<bool, RegistryError> {
    Ok(pipeline.plugin(name).is_some() || !registry.history(name)?.is_empty())
}

/// Loads every processor's shadow version from the registry (see
/// [`crate::pipeline::Pipeline::with_shadows`]).
pub fn load_shadows(runtime: &Runtime, registry: &Registry) -> Result<Vec<Plugin>, CatalogError> {
    registry
        .shadows()?
        .into_iter()
        .map(|shadow| {
            let bytes = registry.blob(&shadow.stored.hash)?;
            runtime.load(&bytes).map_err(|error| CatalogError::Plugin {
                origin: format!(
                    "shadow version {} of {}",
                    shadow.stored.hash, shadow.stored.name
                ),
                error,
            })
        })
        .collect()
}

/// Loads the processor set: bundled, then the registry's active versions,
/// then the plugin folder ([`gather`]); then refuses the set if any
/// processor names a table `ledger` says it may not write.
pub fn load(
    runtime: &Runtime,
    registry: Option<&Registry>,
    plugin_dir: Option<&Path>,
    ledger: &Ledger,
) -> Result<Vec<Loaded>, CatalogError> {
    let loaded = gather(runtime, registry, plugin_dir)?;
    let claimants: Vec<Claimant<'_>> = loaded.iter().map(|l| claimant(&l.plugin)).collect();
    if let Some((index, refused)) = ledger.refusals(&claimants).into_iter().next() {
        return Err(CatalogError::Ownership {
            origin: loaded[index].described(),
            refused: Box::new(refused),
        });
    }
    Ok(loaded)
}

/// Loads the processor set as [`load`] does, but leaves out what it cannot
/// take rather than refuse the set: what a server loads, at its start and
/// at every reload, so that one bad deploy does not keep every host from
/// starting or from serving the rest. Left out are
/// - each processor the table owners refuse (a registry version its plugin
///   folder, or a recorded owner, cannot live with);
/// - each registry version that does not load (its bytes damaged, or no
///   longer compiled by this host): where `before` (the set a server had)
///   has the processor, that version goes on instead
///   ([`LeftOut::serving_before`]), so `slate undeploy` or a rollback can
///   still remove it;
/// - and every processor that depends on one left out, or on one not in
///   the set.
///
/// Returns what is left, and what was left out. A registry that cannot be
/// read fails the load.
pub fn load_leaving_out_refused(
    runtime: &Runtime,
    registry: Option<&Registry>,
    plugin_dir: Option<&Path>,
    ledger: &Ledger,
    before: Option<&crate::pipeline::Pipeline>,
) -> Result<(Vec<Loaded>, Vec<LeftOut>), CatalogError> {
    let (mut loaded, mut left_out) = gather_tolerant(runtime, registry, plugin_dir, before)?;
    let claimants: Vec<Claimant<'_>> = loaded.iter().map(|l| claimant(&l.plugin)).collect();
    left_out.extend(
        ledger
            .refusals(&claimants)
            .into_iter()
            .map(|(index, refused)| LeftOut {
                processor: loaded[index].plugin.spec.name.clone(),
                reason: format!("left out {}: {refused}", loaded[index].described()),
                serving_before: None,
            }),
    );
    // Then, until none is found, each processor whose upstream was left
    // out, or is in the set no more (its plugin-folder file removed).
    loop {
        let out = |name: &str| {
            left_out
                .iter()
                .any(|l| l.processor == name && l.serving_before.is_none())
        };
        let known = |name: &str| loaded.iter().any(|l| l.plugin.spec.name == name);
        let dependant = loaded.iter().find_map(|l| {
            let spec = &l.plugin.spec;
            if out(&spec.name) {
                return None;
            }
            let (upstream, why) = spec.upstream.iter().find_map(|u| {
                if out(u) {
                    Some((u, "left out"))
                } else if !known(u) {
                    Some((u, "not a known processor"))
                } else {
                    None
                }
            })?;
            Some(LeftOut {
                processor: spec.name.clone(),
                reason: format!("left out {}: it depends on {upstream}, {why}", spec.name),
                serving_before: None,
            })
        });
        match dependant {
            Some(dependant) => left_out.push(dependant),
            None => break,
        }
    }
    loaded.retain(|l| {
        !left_out
            .iter()
            .any(|out| out.processor == l.plugin.spec.name && out.serving_before.is_none())
    });
    Ok((loaded, left_out))
}

/// A processor [`load_leaving_out_refused`] left out, or whose new version
/// it left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// Its name.
    pub processor: String,
    /// Why, naming where it came from.
    pub reason: String,
    /// The hash of the version that goes on in its place, the one the set
    /// had before, if any; `None` when no version of it is served.
    pub serving_before: Option<String>,
}

impl LeftOut {
    /// Whether no version of the processor is served.
    pub fn is_gone(&self) -> bool {
        self.serving_before.is_none()
    }
}

/// [`gather`], leaving out each registry version that does not load, or
/// putting `before`'s version of it in its place.
fn gather_tolerant(
    runtime: &Runtime,
    registry: Option<&Registry>,
    plugin_dir: Option<&Path>,
    before: Option<&crate::pipeline::Pipeline>,
) -> Result<(Vec<Loaded>, Vec<LeftOut>), CatalogError> {
    let left_out = std::cell::RefCell::new(Vec::new());
    // A registry version named as a plugin-folder file (deployed from
    // another process, or before the file was added) is left out here,
    // this host serving its file, so that one clash does not hold up every
    // other switch the registry makes. But a file writing another table
    // than the version is left out instead: a processor keeps its table,
    // which would otherwise go stale under its readers, as a deploy
    // refuses ([`crate::deploy`]).
    let clash = |registry_version: &Loaded, file: &Loaded| {
        let name = &file.plugin.spec.name;
        let (kept, new) = (
            &registry_version.plugin.spec.output_table,
            &file.plugin.spec.output_table,
        );
        let (out, reason, served) = match kept == new {
            true => (
                registry_version,
                format!(
                    "{} names the same processor on this host, and is served in its place \
                     (remove the file, or undeploy the version)",
                    file.described()
                ),
                file,
            ),
            false => (
                file,
                format!(
                    "it writes {new}, but {} of {name} writes {kept}, and is served in its \
                     place: a processor keeps its table, which would go stale under its \
                     readers (give the file {kept}, or another processor name)",
                    registry_version.described()
                ),
                registry_version,
            ),
        };
        left_out.borrow_mut().push(LeftOut {
            processor: name.clone(),
            reason: format!("left out {} of {name}: {reason}", out.described()),
            serving_before: Some(served.plugin.hash.clone()),
        });
        Ok(std::ptr::eq(served, file))
    };
    let loaded = gather_with(runtime, registry, plugin_dir, clash, |stored, error| {
        let error = match error {
            CatalogError::Plugin { origin, error } => format!("{origin}: {error}"),
            other => format!(
                "registry version {} of {}: {other}",
                stored.hash, stored.name
            ),
        };
        let had = before.and_then(|b| b.plugin(&stored.name)).cloned();
        let serving = match &had {
            Some(plugin) => format!("; serving the version loaded before ({})", plugin.hash),
            None => String::new(),
        };
        left_out.borrow_mut().push(LeftOut {
            processor: stored.name.clone(),
            reason: format!("left out {error}{serving}"),
            serving_before: had.as_ref().map(|p| p.hash.clone()),
        });
        Ok(had.map(|plugin| Loaded {
            plugin,
            origin: Origin::Registry,
        }))
    })?;
    Ok((loaded, left_out.into_inner()))
}

/// The processor set before any ownership check: what the host knows by
/// name, even where the table owners would refuse some of it. A registry
/// version that does not load fails it, and so does one named as a
/// plugin-folder file.
pub fn gather(
    runtime: &Runtime,
    registry: Option<&Registry>,
    plugin_dir: Option<&Path>,
) -> Result<Vec<Loaded>, CatalogError> {
    let clash = |first: &Loaded, second: &Loaded| -> Result<bool, CatalogError> {
        Err(duplicate_name(first, second))
    };
    gather_with(runtime, registry, plugin_dir, clash, |_, error| Err(error))
}

/// Bundled, then the registry's active versions, then the plugin folder.
/// A registry version that does not load (its bytes damaged or gone, or
/// its component not compiled) is handed to `unloadable`, which fails the
/// load or says what goes on in its place, if anything. A plugin-folder
/// file named as a registry version is handed to `clash` with it, which
/// fails the load or says whether the file takes its place (`true`) or the
/// version stays (`false`). A registry that cannot
/// be read fails the load, and so does a plugin-folder file that does not
/// load, or is named as a bundled processor or another file: that folder
/// is this host's to mend, and a server goes on with the set it had.
fn gather_with(
    runtime: &Runtime,
    registry: Option<&Registry>,
    plugin_dir: Option<&Path>,
    mut clash: impl FnMut(&Loaded, &Loaded) -> Result<bool, CatalogError>,
    mut unloadable: impl FnMut(&StoredVersion, CatalogError) -> Result<Option<Loaded>, CatalogError>,
) -> Result<Vec<Loaded>, CatalogError> {
    let mut by_name = bundled(runtime)?;
    if let Some(registry) = registry {
        for active in registry.active()? {
            let stored = &active.stored;
            let described = || format!("registry version {} of {}", stored.hash, stored.name);
            let one = match registry.blob(&stored.hash) {
                Ok(bytes) => load_one(runtime, &bytes, Origin::Registry, described),
                // Bytes damaged or gone are the version's; a registry that
                // cannot be read is everyone's.
                Err(error @ (RegistryError::Damaged { .. } | RegistryError::Io { .. })) => {
                    Err(error.into())
                }
                Err(error) => return Err(error.into()),
            };
            match one {
                Ok(loaded) => {
                    by_name.insert(stored.name.clone(), loaded);
                }
                Err(error) => {
                    by_name.remove(&stored.name);
                    if let Some(kept) = unloadable(stored, error)? {
                        by_name.insert(stored.name.clone(), kept);
                    }
                }
            }
        }
    }
    let mut loaded: Vec<Loaded> = by_name.into_values().collect();
    if let Some(dir) = plugin_dir {
        for path in wasm_files(dir)? {
            let file = load_file(runtime, &path)?;
            let name = &file.plugin.spec.name;
            match loaded.iter().position(|l| &l.plugin.spec.name == name) {
                None => loaded.push(file),
                Some(at) if loaded[at].origin == Origin::Registry => {
                    if clash(&loaded[at], &file)? {
                        loaded[at] = file;
                    }
                }
                Some(at) => return Err(duplicate_name(&loaded[at], &file)),
            }
        }
    }
    Ok(loaded)
}

/// The bundled processors, by name.
fn bundled(runtime: &Runtime) -> Result<BTreeMap<String, Loaded>, CatalogError> {
    let mut by_name = BTreeMap::new();
    for bundled in PLUGINS {
        let described = || format!("bundled plugin {}", bundled.package);
        let loaded = load_one(runtime, bundled.bytes, Origin::Bundled, described)?;
        by_name.insert(loaded.plugin.spec.name.clone(), loaded);
    }
    Ok(by_name)
}

/// The plugin-folder file `path`, loaded.
fn load_file(runtime: &Runtime, path: &Path) -> Result<Loaded, CatalogError> {
    let bytes = std::fs::read(path).map_err(|e| CatalogError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let described = path.display().to_string();
    load_one(
        runtime,
        &bytes,
        Origin::PluginDir(path.to_path_buf()),
        || described,
    )
}

/// The refusal of plugin-folder processor `second`, named as `first`.
fn duplicate_name(first: &Loaded, second: &Loaded) -> CatalogError {
    CatalogError::DuplicateName {
        name: second.plugin.spec.name.clone(),
        first: first.described(),
        second: second.described(),
    }
}

impl Loaded {
    /// Where it came from, as an error names it.
    fn described(&self) -> String {
        match &self.origin {
            Origin::Bundled => "a bundled processor".to_string(),
            Origin::Registry => format!("registry version {}", self.plugin.hash),
            Origin::PluginDir(path) => path.display().to_string(),
        }
    }
}

/// `bytes` loaded as a processor from `origin`; `described` names where
/// they came from in an error.
fn load_one(
    runtime: &Runtime,
    bytes: &[u8],
    origin: Origin,
    described: impl FnOnce() -> String,
) -> Result<Loaded, CatalogError> {
    let mut plugin = runtime.load(bytes).map_err(|error| match &origin {
        Origin::PluginDir(path) => CatalogError::PluginFile {
            path: path.clone(),
            error,
        },
        _ => CatalogError::Plugin {
            origin: described(),
            error,
        },
    })?;
    if let Origin::PluginDir(path) = &origin {
        plugin.plugin_file = Some(path.as_path().into());
    }
    Ok(Loaded { plugin, origin })
}

/// What a plugin claims, for the ownership decisions.
pub fn claimant(plugin: &Plugin) -> Claimant<'_> {
    Claimant::of(&plugin.spec)
}

/// The `.wasm` files in `dir`, in name order.
pub fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| CatalogError::Io {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "wasm"))
        .collect();
    paths.sort();
    Ok(paths)
}
