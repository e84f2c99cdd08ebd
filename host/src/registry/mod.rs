//! The plugin registry: every deployed processor version, content-addressed
//! by the SHA-256 of its bytes, the deployment history, which version of
//! each processor is active, and its shadow version if it has one
//! ([`crate::shadow`]). Switching the active version (a deploy, a rollback,
//! a promotion, an undeploy) is one transaction, so readers see the old
//! version or the new one, never a mix. An undeploy leaves the processor
//! with no active version: its bundled version runs again, or, for one that
//! is not bundled, none does. Its versions and history stay.
//!
//! [`Registry`] keeps it in one of two places:
//! - `local.rs`: the data directory's `registry/` folder, for one host;
//! - `postgres.rs`: the PostgreSQL database of run state, for every host
//!   that shares it. Component bytes are stored there once by hash, each
//!   host keeps a copy in its own folder and compiles into its own cache,
//!   and a change is announced with `NOTIFY`.
//!
//! This module stores and switches; it does not validate. Checking that a
//! component is a usable processor is [`crate::deploy`]'s job.

mod local;
mod postgres;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::plugin::ProcessorSpec;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Reading or writing a file failed.
    #[error("registry file {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No version with this hash was ever deployed for the processor.
    #[error("{name} has no deployed version {hash}")]
    UnknownVersion {
        /// The processor.
        name: String,
        /// The requested hash (or prefix).
        hash: String,
    },
    /// A hash prefix matches more than one version.
    #[error("`{prefix}` matches several versions of {name}; give more of the hash")]
    AmbiguousHash {
        /// The processor.
        name: String,
        /// The requested prefix.
        prefix: String,
    },
    /// There is no earlier version to roll back to.
    #[error("{0} has no earlier version to roll back to")]
    NothingToRollBackTo(String),
    /// The processor has no active version in the registry to undeploy.
    #[error("{0} has no active version in the registry")]
    NotDeployed(String),
    /// The registry database failed.
    #[error("registry database: {0}")]
    Database(String),
    /// No connection to the registry database could be had in time: it is
    /// down or unreachable. Worth trying again later.
    #[error("the registry database is unreachable: {0}")]
    Unreachable(String),
    /// Bytes stored under a version's hash are not that version's.
    #[error(
        "the stored bytes of version {hash} are damaged (they hash to {found}): deploy \
         that component again, or roll back to another version"
    )]
    Damaged {
        /// The version's hash.
        hash: String,
        /// The hash of the bytes found.
        found: String,
    },
}

/// `bytes`, when they are the version `hash`'s: a registry hands out no
/// component under a hash its bytes do not have.
fn verified(hash: &str, bytes: Vec<u8>) -> Result<Vec<u8>, RegistryError> {
    let found = crate::plugin::content_hash(&bytes);
    match found == hash {
        true => Ok(bytes),
        false => Err(RegistryError::Damaged {
            hash: hash.to_string(),
            found,
        }),
    }
}

/// How a version became active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployAction {
    /// It was deployed.
    Deploy,
    /// A rollback switched back to it.
    Rollback,
    /// It was the shadow version, and was promoted: the same transaction
    /// made it active and removed it as the shadow.
    Promote,
    /// It was undeployed: the same transaction ended it as the active
    /// version, and ended the processor's shadow version, if it had one.
    /// The record names the version that was active until then.
    Undeploy,
    /// The version became the processor's shadow. A history entry only
    /// ([`Registry::history_with_shadows`]): it switched no active version.
    Shadow,
    /// The shadow version was dropped without being promoted. A history
    /// entry only, as [`DeployAction::Shadow`] is.
    DropShadow,
}

crate::runs::text_enum!(DeployAction {
    Deploy => "deploy", Rollback => "rollback", Promote => "promote",
    Undeploy => "undeploy", Shadow => "shadow", DropShadow => "drop_shadow",
});

/// One stored version of a processor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredVersion {
    /// The processor name.
    pub name: String,
    /// The hex SHA-256 of the component bytes.
    pub hash: String,
    /// The processor's own version string, from `info`.
    pub version: String,
    /// Its phase, e.g. `3 analytics`.
    pub phase: String,
    /// The processors it depends on.
    pub dependencies: Vec<String>,
    /// When it was first deployed.
    pub first_deployed_at: DateTime<Utc>,
}

/// One switch of a processor's active version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// The deployment's sequence number; higher is later.
    pub id: i64,
    /// The processor name.
    pub name: String,
    /// The version made active.
    pub hash: String,
    /// Its version string.
    pub version: String,
    /// Deploy, rollback, promote or undeploy.
    pub action: DeployAction,
    /// When it became active.
    pub deployed_at: DateTime<Utc>,
    /// Whether it is the active version now.
    pub active: bool,
}

impl Deployment {
    /// Deployment `id`, just recorded: `spec`'s version `hash` made active
    /// by `action` at `now`.
    pub fn made_active(
        id: i64,
        spec: &ProcessorSpec,
        hash: &str,
        action: DeployAction,
        now: DateTime<Utc>,
    ) -> Self {
        Deployment {
            id,
            name: spec.name.clone(),
            hash: hash.to_string(),
            version: spec.version.clone(),
            action,
            deployed_at: now,
            active: true,
        }
    }

    /// Deployment `id`, just recorded: `name`'s version `hash` (`version`)
    /// ended as the active one by an undeploy at `now`.
    pub fn undeployed(
        id: i64,
        name: &str,
        hash: String,
        version: String,
        now: DateTime<Utc>,
    ) -> Self {
        Deployment {
            id,
            name: name.to_string(),
            hash,
            version,
            action: DeployAction::Undeploy,
            deployed_at: now,
            active: false,
        }
    }
}

/// The active version of one processor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveVersion {
    /// The version.
    pub stored: StoredVersion,
    /// When it became active.
    pub deployed_at: DateTime<Utc>,
}

/// A processor's shadow version: stored, not active, run beside the
/// active one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowVersion {
    /// The version.
    pub stored: StoredVersion,
    /// When it became the shadow.
    pub since: DateTime<Utc>,
}

/// A version a host has compiled, as a shared registry records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompiledVersion {
    /// The version's hash.
    pub hash: String,
    /// The host that compiled it.
    pub host_id: String,
    /// When that host last loaded it.
    pub at: DateTime<Utc>,
}

/// Held while a switch is checked and made ([`Registry::lock_switches`]):
/// no other switch is checked or made meanwhile, by this process or any
/// other sharing the registry. Dropping it lets the next one go.
#[must_use = "the lock is let go when dropped"]
pub struct SwitchLock {
    release: Option<Box<dyn FnOnce() + Send>>,
}

impl SwitchLock {
    /// A lock held until `release` runs, when it is dropped.
    fn held_until(release: impl FnOnce() + Send + 'static) -> Self {
        SwitchLock {
            release: Some(Box::new(release)),
        }
    }
}

impl Drop for SwitchLock {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

/// Where a registry keeps versions and switches: one implementation per
/// place ([`Registry`] adds what is the same in both).
trait RegistryStorage: Send + Sync {
    /// See [`Registry::lock_switches`].
    fn lock_switches(&self) -> Result<SwitchLock, RegistryError>;
    /// Stores a component's bytes under their hash, once.
    fn store_blob(&self, hash: &str, bytes: &[u8]) -> Result<(), RegistryError>;
    /// A stored version's bytes.
    fn blob(&self, hash: &str) -> Result<Vec<u8>, RegistryError>;
    /// See [`Registry::generation`].
    fn generation(&self) -> Result<i64, RegistryError>;
    /// See [`Registry::activate`].
    fn activate(
        &self,
        spec: &ProcessorSpec,
        hash: &str,
        action: DeployAction,
    ) -> Result<Deployment, RegistryError>;
    /// Ends `name`'s active version and its shadow, recording the
    /// undeploy; `None` when it had no active version.
    fn deactivate(&self, name: &str) -> Result<Option<Deployment>, RegistryError>;
    /// See [`Registry::active`].
    fn active(&self) -> Result<Vec<ActiveVersion>, RegistryError>;
    /// See [`Registry::active_hash`].
    fn active_hash(&self, name: &str) -> Result<Option<String>, RegistryError>;
    /// See [`Registry::history`].
    fn history(&self, name: &str) -> Result<Vec<Deployment>, RegistryError>;
    /// See [`Registry::history_with_shadows`].
    fn history_with_shadows(&self, name: &str) -> Result<Vec<Deployment>, RegistryError>;
    /// The stored versions of `name` whose hash starts with `hash_prefix`.
    fn versions_starting(
        &self,
        name: &str,
        hash_prefix: &str,
    ) -> Result<Vec<StoredVersion>, RegistryError>;
    /// Records the version and makes it the shadow; returns since when.
    fn set_shadow(&self, spec: &ProcessorSpec, hash: &str) -> Result<DateTime<Utc>, RegistryError>;
    /// See [`Registry::shadows`].
    fn shadows(&self) -> Result<Vec<ShadowVersion>, RegistryError>;
    /// See [`Registry::clear_shadow`].
    fn clear_shadow(&self, name: &str) -> Result<bool, RegistryError>;
    /// Records that this host has compiled `hash`; nothing for a registry
    /// of one host.
    fn record_compiled(&self, _hash: &str) -> Result<(), RegistryError> {
        Ok(())
    }
    /// Which hosts have compiled which versions; empty for a registry of
    /// one host.
    fn compiled(&self) -> Result<Vec<CompiledVersion>, RegistryError> {
        Ok(Vec::new())
    }
    /// See [`Registry::announces_changes`].
    fn announces_changes(&self) -> bool {
        false
    }
    /// See [`Registry::wait_for_change`].
    fn wait_for_change(&self, _timeout: std::time::Duration) -> bool {
        false
    }
}

fn io_error(path: &Path, error: std::io::Error) -> RegistryError {
    RegistryError::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// A spec's dependencies as the registry keeps them: a JSON list.
fn dependencies_json(spec: &ProcessorSpec) -> String {
    serde_json::to_string(&spec.upstream).unwrap_or_else(|_| "[]".into())
}

/// The plugin registry, of one host or shared by several.
pub struct Registry {
    storage: Box<dyn RegistryStorage>,
}

impl Registry {
    /// Opens the registry in the folder `dir`, creating it if needed: for
    /// one host.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        Ok(Registry {
            storage: Box::new(local::LocalRegistry::open(dir)?),
        })
    }

    /// Connects to the registry in the PostgreSQL database at `url`, shared
    /// by every host connected to it, creating its tables if needed. This
    /// host, `host_id`, keeps copies of component bytes in the folder `dir`.
    pub fn connect(url: &str, dir: &Path, host_id: &str) -> Result<Self, RegistryError> {
        Ok(Registry {
            storage: Box::new(postgres::PostgresRegistry::connect(url, dir, host_id)?),
        })
    }

    /// Waits for, then holds, the registry's switch lock: a deploy, a
    /// rollback, a promotion, a shadow or an undeploy checks what it
    /// changes against the processors of the moment, then switches, and
    /// another switch between the two could make the check wrong (a
    /// dependant deployed while its upstream is undeployed). Every switch
    /// takes it before its checks: the data directory's registry with a
    /// lock on a file, a shared one with a PostgreSQL advisory lock. A
    /// process that dies lets it go.
    pub fn lock_switches(&self) -> Result<SwitchLock, RegistryError> {
        self.storage.lock_switches()
    }

    /// Stores a component's bytes under their hash, which they must have.
    /// Storing the same bytes again does nothing, but mends a copy damaged
    /// since; a stored blob is whole or absent.
    pub fn store_blob(&self, hash: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        let found = crate::plugin::content_hash(bytes);
        if found != hash {
            return Err(RegistryError::Damaged {
                hash: hash.to_string(),
                found,
            });
        }
        self.storage.store_blob(hash, bytes)
    }

    /// A stored version's bytes.
    pub fn blob(&self, hash: &str) -> Result<Vec<u8>, RegistryError> {
        self.storage.blob(hash)
    }

    /// A number that grows whenever any active or shadow version changes
    /// (an undeploy too), so that a running server can tell cheaply that it
    /// must reload. It never goes back, and a host that has read it has
    /// seen every switch committed before.
    pub fn generation(&self) -> Result<i64, RegistryError> {
        self.storage.generation()
    }

    /// In one transaction: records the version (if new), records the
    /// deployment, and makes `hash` the active version of `spec.name`
    /// (removing it as the shadow when promoted). The blob must already be
    /// stored.
    pub fn activate(
        &self,
        spec: &ProcessorSpec,
        hash: &str,
        action: DeployAction,
    ) -> Result<Deployment, RegistryError> {
        self.storage.activate(spec, hash, action)
    }

    /// In one transaction: ends `name`'s active version, and its shadow
    /// version if it has one, and records the undeploy, naming the version
    /// that was active. [`RegistryError::NotDeployed`] when it had none.
    pub fn deactivate(&self, name: &str) -> Result<Deployment, RegistryError> {
        self.storage
            .deactivate(name)?
            .ok_or_else(|| RegistryError::NotDeployed(name.to_string()))
    }

    /// The active version of every processor deployed through the registry.
    pub fn active(&self) -> Result<Vec<ActiveVersion>, RegistryError> {
        self.storage.active()
    }

    /// The active hash of one processor, if it was deployed through the registry.
    pub fn active_hash(&self, name: &str) -> Result<Option<String>, RegistryError> {
        self.storage.active_hash(name)
    }

    /// Every deployment of `name`, newest first.
    pub fn history(&self, name: &str) -> Result<Vec<Deployment>, RegistryError> {
        self.storage.history(name)
    }

    /// Every deployment of `name` and every shadow version set or dropped
    /// ([`DeployAction::Shadow`], [`DeployAction::DropShadow`]), newest
    /// first, numbered in one sequence: what `slate plugins history` and
    /// `GET /plugins/NAME/history` show. A shadow ended by a promotion, an
    /// undeploy or a deploy of its own bytes shows as that switch.
    pub fn history_with_shadows(&self, name: &str) -> Result<Vec<Deployment>, RegistryError> {
        self.storage.history_with_shadows(name)
    }

    /// When a version of `name` first became active here, if one ever did
    /// (a deploy, not an undeploy, nor a shadow set beside it).
    pub fn first_active_at(&self, name: &str) -> Result<Option<DateTime<Utc>>, RegistryError> {
        Ok(self
            .history(name)?
            .iter()
            .filter(|deployment| deployment.action != DeployAction::Undeploy)
            .map(|deployment| deployment.deployed_at)
            .min())
    }

    /// When `name` was undeployed, if it was and was not deployed again
    /// since: its last switch ended it, so nothing runs it from the
    /// registry any more.
    pub fn ended_at(&self, name: &str) -> Result<Option<DateTime<Utc>>, RegistryError> {
        let history = self.history(name)?;
        let last = history.iter().max_by_key(|deployment| deployment.id);
        Ok(last
            .filter(|deployment| deployment.action == DeployAction::Undeploy)
            .map(|deployment| deployment.deployed_at))
    }

    /// The stored version of `name` whose hash is `hash_or_prefix` or
    /// starts with it.
    pub fn find_version(
        &self,
        name: &str,
        hash_or_prefix: &str,
    ) -> Result<StoredVersion, RegistryError> {
        let mut found = self.storage.versions_starting(name, hash_or_prefix)?;
        match found.len() {
            0 => Err(RegistryError::UnknownVersion {
                name: name.to_string(),
                hash: hash_or_prefix.to_string(),
            }),
            1 if !hash_or_prefix.is_empty() => Ok(found.remove(0)),
            _ => Err(RegistryError::AmbiguousHash {
                name: name.to_string(),
                prefix: hash_or_prefix.to_string(),
            }),
        }
    }

    /// In one transaction: records the version (if new) and makes `hash`
    /// the shadow version of `spec.name`, in place of any earlier shadow.
    /// The blob must already be stored.
    pub fn set_shadow(
        &self,
        spec: &ProcessorSpec,
        hash: &str,
    ) -> Result<ShadowVersion, RegistryError> {
        let since = self.storage.set_shadow(spec, hash)?;
        Ok(ShadowVersion {
            stored: self.find_version(&spec.name, hash)?,
            since,
        })
    }

    /// Every processor's shadow version, by name.
    pub fn shadows(&self) -> Result<Vec<ShadowVersion>, RegistryError> {
        self.storage.shadows()
    }

    /// Ends `name`'s shadow version, without making it active: its runs
    /// stop. False when `name` had none.
    pub fn clear_shadow(&self, name: &str) -> Result<bool, RegistryError> {
        self.storage.clear_shadow(name)
    }

    /// Records that this host has compiled (or loaded from its compile
    /// cache) the version `hash`, for `slate plugins` and `slate hosts`.
    pub fn record_compiled(&self, hash: &str) -> Result<(), RegistryError> {
        self.storage.record_compiled(hash)
    }

    /// Which hosts have compiled which versions, as a shared registry
    /// records it; empty for a registry of one host.
    pub fn compiled(&self) -> Result<Vec<CompiledVersion>, RegistryError> {
        self.storage.compiled()
    }

    /// Whether this registry announces switches, so that a host may wait
    /// for them ([`Registry::wait_for_change`]): a shared registry does.
    pub fn announces_changes(&self) -> bool {
        self.storage.announces_changes()
    }

    /// Waits up to `timeout` for a switch of an active or shadow version
    /// on any host; true when one may have happened. A registry that
    /// announces nothing returns false at once.
    pub fn wait_for_change(&self, timeout: std::time::Duration) -> bool {
        self.storage.wait_for_change(timeout)
    }

    /// The version a rollback without a target returns to: the one the
    /// current version replaced, walking back, never forward. Each deploy
    /// or promotion stacks its version on the one it replaced; a rollback
    /// returns down the stack to its version (one the stack no longer
    /// holds is stacked as a deploy would be, and one never deployed, the
    /// bundled version, is the bottom of a new stack); an undeploy stacks
    /// "none" on the version it ended, so that a rollback undoes it, and a
    /// rollback of a version deployed after an undeploy goes back to no
    /// registry version, not past the undeploy.
    /// So a second rollback goes further back, where before it went
    /// forward again to the version the first one left: a retried request
    /// put back the version rolled back from.
    pub fn previous_version(&self, name: &str) -> Result<StoredVersion, RegistryError> {
        let history = self.history(name)?;
        let mut stack: Vec<Option<&str>> = Vec::new();
        let mut deployed = std::collections::HashSet::new();
        for switch in history.iter().rev() {
            let version = Some(switch.hash.as_str());
            match switch.action {
                DeployAction::Deploy | DeployAction::Promote => {
                    deployed.insert(version);
                    if stack.last() != Some(&version) {
                        stack.push(version);
                    }
                }
                DeployAction::Rollback => match stack.iter().rposition(|v| *v == version) {
                    Some(at) => stack.truncate(at + 1),
                    None if deployed.contains(&version) => stack.push(version),
                    None => stack = vec![version],
                },
                DeployAction::Undeploy => stack.push(None),
                // Not in `history`: they switch no active version.
                DeployAction::Shadow | DeployAction::DropShadow => {}
            }
        }
        stack.pop();
        // Below an undeploy's "none" there is no registry version to go
        // back to (a bundled processor's bundled version, if any, is).
        match stack.last() {
            Some(Some(hash)) => self.find_version(name, hash),
            _ => Err(RegistryError::NothingToRollBackTo(name.to_string())),
        }
    }
}
