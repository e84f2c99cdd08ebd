//! Deploying a processor version, and rolling back to an earlier one.
//!
//! A deployment runs four steps, in this order, and stops at the first
//! that fails:
//! 1. validate: the bytes are a component, it implements
//!    `slate:processor@0.1.x`, `info()` returns a valid name and schema
//!    (and, for `PUT /plugins/{name}`, the name asked for), and every
//!    processor it depends on is known, and its output table is its own or
//!    no one's ([`crate::ownership`]), with names the store can keep;
//! 2. precompile it (into the compiled cache, keyed by its hash);
//! 3. store it in the registry, by its hash;
//! 4. make it the active version, in one registry transaction.
//!
//! A shadow deployment ([`Deployer::deploy_shadow`]) runs the same checks and
//! stores the version as its processor's shadow instead of step 4.
//!
//! An undeploy ([`Deployer::undeploy`]) ends a processor's registry version:
//! its bundled version runs again, or none does. It is refused while an
//! active processor depends on one that would then be gone. The table the
//! processor wrote keeps its rows and its owner.
//!
//! A rejected version never touches the active one. The caller gets back
//! the new [`Pipeline`] to swap in; this module holds no state of its own.

use std::fmt;

use crate::catalog::claimant;
use crate::ownership::{Ledger, OwnershipRefused};
use crate::pipeline::Pipeline;
use crate::plugin::{Plugin, PluginError, Runtime};
use crate::registry::{DeployAction, Deployment, Registry, RegistryError, ShadowVersion};
use crate::store::Store;
use crate::store::hosts::HostRecord;

/// The check a rejected deployment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployCheck {
    /// The bytes are not a WebAssembly component.
    Component,
    /// The component was refused by the compiler.
    Precompile,
    /// It does not implement `slate:processor@0.1.x`.
    Contract,
    /// `info()` trapped or described an invalid processor.
    Info,
    /// `info()` names another processor than the one asked for.
    Name,
    /// It depends on an unknown processor, or creates a cycle; or, for an
    /// undeploy, active processors depend on it.
    Dependencies,
    /// It names an output table it may not write ([`crate::ownership`]).
    Ownership,
    /// The store its table goes to could not keep its names (PostgreSQL
    /// keeps at most 63 bytes of each).
    Store,
    /// Its output table exists with a schema the declared one cannot
    /// migrate ([`crate::drift`]): every run of it would fail at commit.
    Schema,
    /// The version to roll back to is not in the registry.
    Version,
    /// What names the version to roll back to is no hash.
    Hash,
    /// The processor's versions as they stand refuse it: the version is
    /// active already, or was never active; there is no shadow to
    /// promote, or no registry version to undeploy.
    State,
    /// The registry could not store or activate it.
    Registry,
    /// The registry's database could not be reached: nothing was checked
    /// or changed, and the same request may be made again later.
    Unavailable,
}

impl fmt::Display for DeployCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeployCheck::Component => "component",
            DeployCheck::Precompile => "precompile",
            DeployCheck::Contract => "contract",
            DeployCheck::Info => "info",
            DeployCheck::Name => "name",
            DeployCheck::Dependencies => "dependencies",
            DeployCheck::Ownership => "ownership",
            DeployCheck::Store => "store",
            DeployCheck::Schema => "schema",
            DeployCheck::Version => "version",
            DeployCheck::Hash => "hash",
            DeployCheck::State => "state",
            DeployCheck::Registry => "registry",
            DeployCheck::Unavailable => "unavailable",
        })
    }
}

/// A version made the shadow of its processor.
#[derive(Clone)]
pub struct ShadowDeployed {
    /// The version.
    pub plugin: Plugin,
    /// Its record as the shadow.
    pub shadow: ShadowVersion,
    /// The tables of the shadow it replaced, dropped.
    pub replaced_tables: Vec<crate::schema::TableName>,
}

/// A rejected deployment or rollback: which check failed, and why. A
/// registry that failed to store or activate it (a full disk) is told as
/// the failure it is, not as a check the version failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", match check {
    DeployCheck::Unavailable => format!("not attempted, try again: {reason}"),
    DeployCheck::Registry => format!("the registry failed: {reason}"),
    _ => format!("rejected by the {check} check: {reason}"),
})]
pub struct DeployError {
    /// The check that failed.
    pub check: DeployCheck,
    /// Why, in words.
    pub reason: String,
}

impl DeployError {
    fn new(check: DeployCheck, reason: impl fmt::Display) -> Self {
        DeployError {
            check,
            reason: reason.to_string(),
        }
    }
}

impl From<PluginError> for DeployError {
    fn from(error: PluginError) -> Self {
        let check = match &error {
            PluginError::NotAComponent(_) => DeployCheck::Component,
            PluginError::Compile(_) => DeployCheck::Precompile,
            PluginError::Contract(_) => DeployCheck::Contract,
            PluginError::Info(_) | PluginError::Spec(_) => DeployCheck::Info,
        };
        DeployError::new(check, error)
    }
}

impl From<RegistryError> for DeployError {
    fn from(error: RegistryError) -> Self {
        let check = match error {
            RegistryError::Unreachable(_) => DeployCheck::Unavailable,
            _ => DeployCheck::Registry,
        };
        DeployError::new(check, error)
    }
}

/// A version that is now active.
pub struct Deployed {
    /// The plugin, loaded and linked.
    pub plugin: Plugin,
    /// The pipeline with this version in place of the previous one.
    pub pipeline: Pipeline,
    /// The registry's record of the switch, or of the deployment that made
    /// this version active already.
    pub deployment: Deployment,
    /// The version was the active one already: nothing was recorded, and
    /// no notice is due (a deploy is idempotent, as a PUT is).
    pub unchanged: bool,
}

/// A version switched in through a server (a deploy, rollback or
/// promote), as the API answers it: the registry's record, and how many
/// alerts it raised again that an undeploy had resolved
/// ([`raise_again_what_undeploy_resolved`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Switched {
    /// The registry's record of the switch.
    #[serde(flatten)]
    pub deployment: Deployment,
    /// Alerts of the processor raised again: its undeploy had resolved
    /// them, and only a run's success resolves them now.
    pub alerts_raised_again: usize,
}

/// A processor's registry version, ended by an undeploy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Undeployed {
    /// The registry's record of the undeploy, naming the version ended.
    pub deployment: Deployment,
    /// The hash of the bundled version that runs in its place, if the
    /// processor is bundled; else no version of it runs.
    pub bundled_hash: Option<String>,
    /// The hash of the shadow version the undeploy ended, if it had one:
    /// its tables stay until dropped.
    pub ended_shadow: Option<String>,
}

/// What a deployment, a shadow, a promotion or a rollback is checked
/// against: the processors active now (`current`, which a new version
/// joins) and the recorded table owners (`ledger`); with the runtime that
/// loads versions and the registry that keeps them.
#[derive(Clone, Copy)]
pub struct Deployer<'a> {
    /// Loads and precompiles versions.
    pub runtime: &'a Runtime,
    /// Keeps every version, and which one is active.
    pub registry: &'a Registry,
    /// The processors active now.
    pub current: &'a Pipeline,
    /// The recorded table owners.
    pub ledger: &'a Ledger,
    /// The store the processors' tables go to, whose names a new version
    /// must fit, and whose host directory, if it keeps one, says what the
    /// other live hosts serve; `None` before the store exists (an embedded
    /// store, which keeps any name).
    pub store: Option<&'a dyn Store>,
}

impl Deployer<'_> {
    /// Validates, precompiles, stores and activates `bytes`.
    /// `expected_name`, when given, must be the name `info()` returns.
    pub fn deploy(
        &self,
        bytes: &[u8],
        expected_name: Option<&str>,
    ) -> Result<Deployed, DeployError> {
        let plugin = self.load_named(bytes, expected_name)?;
        let pipeline = self.joined(&plugin)?;
        self.check_schema(&plugin)?;
        let active = self
            .registry
            .history(&plugin.spec.name)?
            .into_iter()
            .find(|deployment| deployment.active && deployment.hash == plugin.hash);
        // Stored again even when active already: that mends stored bytes
        // damaged since.
        self.registry.store_blob(&plugin.hash, bytes)?;
        if let Some(deployment) = active {
            return Ok(Deployed {
                plugin,
                pipeline,
                deployment,
                unchanged: true,
            });
        }
        let deployment = self.switch_to(&plugin, DeployAction::Deploy)?;
        Ok(Deployed {
            plugin,
            pipeline,
            deployment,
            unchanged: false,
        })
    }

    /// Validates, precompiles and stores `bytes` as the shadow version of
    /// the processor it names ([`crate::shadow`]), without activating it:
    /// the same checks as [`Deployer::deploy`], and the processor must be
    /// loaded now and run another version. The tables of the shadow it
    /// replaces are dropped.
    pub fn deploy_shadow(
        &self,
        bytes: &[u8],
        expected_name: Option<&str>,
    ) -> Result<ShadowDeployed, DeployError> {
        let plugin = self.load_named(bytes, expected_name)?;
        match self.current.plugin(&plugin.spec.name) {
            None => {
                return Err(DeployError::new(
                    DeployCheck::Name,
                    format!(
                        "no processor named `{}` runs here to shadow; deploy it first",
                        plugin.spec.name
                    ),
                ));
            }
            Some(live) if live.hash == plugin.hash => {
                return Err(DeployError::new(
                    DeployCheck::State,
                    format!(
                        "{} {} is the active version; a shadow must be another",
                        plugin.spec.name, plugin.hash
                    ),
                ));
            }
            Some(_) => {}
        }
        self.joined(&plugin)?;
        self.registry.store_blob(&plugin.hash, bytes)?;
        let replaced = (self.registry.shadows()?.into_iter())
            .find(|shadow| shadow.stored.name == plugin.spec.name)
            .is_some_and(|shadow| shadow.stored.hash != plugin.hash);
        let shadow = self.registry.set_shadow(&plugin.spec, &plugin.hash)?;
        // The shadow replaced, if any, can no longer be diffed or
        // promoted: its table goes, as a dropped shadow's does.
        let own = crate::shadow::shadow_table(&plugin.spec.output_table, &plugin.hash);
        let replaced_tables = match self.store {
            Some(store) => crate::shadow::drop_tables_but(store, &plugin.spec.name, Some(&own))
                .unwrap_or_else(|error| {
                    tracing::warn!(
                        processor = %plugin.spec.name,
                        %error,
                        "the tables of the shadow replaced were not dropped; `slate shadow drop` drops them"
                    );
                    Vec::new()
                }),
            None => Vec::new(),
        };
        // The shadow replaced, if any, runs no more; the same version
        // stored again goes on.
        if replaced {
            resolve_after_shadow_ended(self.store, &plugin.spec.name);
        }
        Ok(ShadowDeployed {
            plugin,
            shadow,
            replaced_tables,
        })
    }

    /// Makes `name`'s shadow version the active one: in the registry's one
    /// transaction it becomes active and stops being the shadow. It is
    /// checked as a deployment is.
    pub fn promote(&self, name: &str) -> Result<Deployed, DeployError> {
        let shadow = self
            .registry
            .shadows()?
            .into_iter()
            .find(|s| s.stored.name == name)
            .ok_or_else(|| {
                DeployError::new(
                    DeployCheck::State,
                    format!("{name} has no shadow version to promote"),
                )
            })?;
        self.activate(&shadow.stored.hash, DeployAction::Promote)
    }

    /// Makes an earlier version of `name` active again: the one with hash
    /// (or hash prefix) `to`, or else the version active before the
    /// current one. Where the registry has none, and `name` is bundled, the
    /// bundled version is the earlier one: the version every deployment
    /// replaced. It is checked as a deployment is.
    pub fn rollback(&self, name: &str, to: Option<&str>) -> Result<Deployed, DeployError> {
        let to = to
            .map(crate::plugin::hash_prefix)
            .transpose()
            .map_err(|why| DeployError::new(DeployCheck::Hash, why))?;
        let stored = match &to {
            Some(hash) => self.registry.find_version(name, hash),
            None => self.registry.previous_version(name),
        };
        let hash = match stored {
            // A stored version never active (a shadow dropped, say) is
            // not rolled back to: a shadow goes live by `slate promote`,
            // with its checks.
            Ok(target)
                if to.is_some()
                    && !self
                        .registry
                        .history(name)?
                        .iter()
                        .any(|switch| switch.hash == target.hash) =>
            {
                return Err(DeployError::new(
                    DeployCheck::State,
                    format!(
                        "version {} of {name} was never active, so there is no going back \
                         to it: a shadow version goes live by `slate promote`",
                        target.hash
                    ),
                ));
            }
            Ok(target) => target.hash,
            Err(error) => self.bundled_version(name, to.as_deref())?.ok_or_else(|| {
                // A hash not found names no version; with none named,
                // there is no earlier one.
                let check = if to.is_some() {
                    DeployCheck::Version
                } else {
                    DeployCheck::State
                };
                DeployError::new(check, error)
            })?,
        };
        if self.registry.active_hash(name)?.as_deref() == Some(hash.as_str()) {
            return Err(DeployError::new(
                DeployCheck::State,
                format!("{name} runs version {hash} already: there is nothing to roll back"),
            ));
        }
        self.activate(&hash, DeployAction::Rollback)
    }

    /// Ends `name`'s registry version (see the module's doc): in one
    /// registry transaction it stops being active, and its shadow version,
    /// if any, ends. Refused for a processor with no registry version (a
    /// bundled one never deployed, one from the plugin folder, an unknown
    /// name), and for one that is not bundled while other active processors
    /// depend on it, naming them: undeploy them first.
    pub fn undeploy(&self, name: &str) -> Result<Undeployed, DeployError> {
        if self.registry.active_hash(name)?.is_none() {
            let history = self.registry.history(name)?;
            let why = match (history.first(), self.current.plugin(name)) {
                (Some(last), _) if last.action == DeployAction::Undeploy => format!(
                    "it was undeployed at {}",
                    last.deployed_at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                (_, Some(_)) => {
                    "it runs from this binary or the plugin folder, not the registry".into()
                }
                _ => "no version of it is deployed".into(),
            };
            return Err(DeployError::new(
                DeployCheck::State,
                format!("{name} has no registry version to undeploy: {why}"),
            ));
        }
        let bundled_hash = self.bundled(name)?.map(|(plugin, _)| plugin.hash);
        if bundled_hash.is_none() {
            let dependants = self.dependants(name)?;
            let (depend, them) = match dependants.as_slice() {
                [] => ("", ""),
                [_] => ("depends", "it"),
                _ => ("depend", "them"),
            };
            if !dependants.is_empty() {
                let dependants = dependants.join(", ");
                return Err(DeployError::new(
                    DeployCheck::Dependencies,
                    format!(
                        "{dependants} {depend} on {name}, which would then be gone: \
                         undeploy {them} (or take {them} out of the plugin folder) first"
                    ),
                ));
            }
        }
        let ended_shadow = self
            .registry
            .shadows()?
            .into_iter()
            .find(|shadow| shadow.stored.name == name)
            .map(|shadow| shadow.stored.hash);
        let deployment = self.registry.deactivate(name).map_err(|e| match e {
            // Another process undeployed it in the meantime.
            RegistryError::NotDeployed(_) => DeployError::new(DeployCheck::State, e),
            other => other.into(),
        })?;
        if ended_shadow.is_some() {
            resolve_after_shadow_ended(self.store, name);
        }
        Ok(Undeployed {
            deployment,
            bundled_hash,
            ended_shadow,
        })
    }

    /// The processors that depend on `name`: loaded here, active in the
    /// registry (a host may have left one out), or served by another live
    /// host (from its plugin folder, say), each named with that host; in
    /// name order. A host down when this runs is not asked: it would find
    /// its dependant left out when it starts again.
    fn dependants(&self, name: &str) -> Result<Vec<String>, DeployError> {
        let loaded = self
            .current
            .plugins()
            .map(|p| (&p.spec.name, &p.spec.upstream))
            .filter(|(_, upstream)| upstream.iter().any(|u| u == name))
            .map(|(dependant, _)| dependant.clone());
        let active = self.registry.active()?;
        let deployed = active
            .iter()
            .filter(|a| a.stored.dependencies.iter().any(|u| u == name))
            .map(|a| a.stored.name.clone());
        let mut dependants: Vec<String> = loaded.chain(deployed).collect();
        dependants.sort();
        dependants.dedup();
        dependants.retain(|d| d != name);
        // A host says what it serves once a heartbeat. One that last said
        // it serves a dependant before that dependant was undeployed has
        // not said since: whether it still serves it (from its plugin
        // folder) its next beat tells, so the check waits for that beat,
        // within the host's lease. (Undeploying in dependency order was
        // refused for up to a heartbeat, naming hosts that had just
        // stopped serving the dependant.)
        let waited_since = std::time::Instant::now();
        let elsewhere = loop {
            let mut elsewhere = Vec::new();
            let mut unsaid = None;
            for host in self.live_hosts()? {
                for dependant in host.dependants_of(name) {
                    if dependants.iter().any(|d| d == dependant) {
                        continue;
                    }
                    let undeployed = self.registry.ended_at(dependant)?;
                    if undeployed.is_some_and(|at| at > host.heartbeat_at) {
                        unsaid = Some(host.lease_secs);
                    }
                    elsewhere.push(format!("{dependant} (served by {})", host.host_id));
                }
            }
            match unsaid {
                Some(lease) if waited_since.elapsed().as_secs_f64() < lease => {
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
                _ => break elsewhere,
            }
        };
        let mut elsewhere = elsewhere;
        elsewhere.sort();
        dependants.extend(elsewhere);
        Ok(dependants)
    }

    /// The hosts the store's directory has live now; none where the store
    /// keeps no directory. A directory that cannot be read refuses the
    /// switch rather than let it pass unchecked.
    fn live_hosts(&self) -> Result<Vec<HostRecord>, DeployError> {
        let Some(directory) = self.store.and_then(|store| store.host_directory()) else {
            return Ok(Vec::new());
        };
        let now = chrono::Utc::now();
        let hosts = directory
            .hosts(now - chrono::Duration::days(1))
            .map_err(|e| {
                DeployError::new(
                    DeployCheck::Dependencies,
                    format!("cannot read which processors the other hosts serve: {e}"),
                )
            })?;
        Ok(hosts.into_iter().filter(|h| h.is_live(now)).collect())
    }

    /// `name`'s bundled version, loaded, and its bytes; `None` when `name`
    /// is not bundled.
    fn bundled(&self, name: &str) -> Result<Option<(Plugin, &'static [u8])>, DeployError> {
        for bundled in crate::bundled::PLUGINS {
            let plugin = self.runtime.load(bundled.bytes)?;
            if plugin.spec.name == name {
                return Ok(Some((plugin, bundled.bytes)));
            }
        }
        Ok(None)
    }

    /// The hash of `name`'s bundled version, stored in the registry so that
    /// it can be activated, when it is not the active version and its hash
    /// starts with `to` (if given); `None` when `name` is not bundled.
    fn bundled_version(&self, name: &str, to: Option<&str>) -> Result<Option<String>, DeployError> {
        // With no registry version active, the bundled one already runs.
        let Some(active) = self.registry.active_hash(name)? else {
            return Ok(None);
        };
        let Some((plugin, bytes)) = self.bundled(name)? else {
            return Ok(None);
        };
        let wanted = to.is_none_or(|prefix| plugin.hash.starts_with(prefix));
        if !wanted || active == plugin.hash {
            return Ok(None);
        }
        self.registry.store_blob(&plugin.hash, bytes)?;
        Ok(Some(plugin.hash))
    }

    /// Loads the stored version `hash`, checks it as a deployment is, and
    /// makes it active by `action`.
    fn activate(&self, hash: &str, action: DeployAction) -> Result<Deployed, DeployError> {
        let bytes = self.registry.blob(hash)?;
        let plugin = self.runtime.load(&bytes)?;
        let pipeline = self.joined(&plugin)?;
        self.check_schema(&plugin)?;
        let deployment = self.switch_to(&plugin, action)?;
        Ok(Deployed {
            plugin,
            pipeline,
            deployment,
            unchanged: false,
        })
    }

    /// Makes `plugin` its processor's active version in the registry. The
    /// shadow's own version activated (promoted, deployed or rolled back
    /// to) stops being the shadow, so the alerts of its shadow runs are
    /// resolved.
    fn switch_to(&self, plugin: &Plugin, action: DeployAction) -> Result<Deployment, DeployError> {
        let name = &plugin.spec.name;
        let was_the_shadow = self
            .registry
            .shadows()?
            .iter()
            .any(|shadow| shadow.stored.name == *name && shadow.stored.hash == plugin.hash);
        let deployment = self.registry.activate(&plugin.spec, &plugin.hash, action)?;
        if was_the_shadow {
            resolve_after_shadow_ended(self.store, name);
        }
        Ok(deployment)
    }

    /// `bytes` loaded, which precompiles them into the cache, links them
    /// against the slate:processor imports and exports, and reads and
    /// checks `info()`; named `expected_name`, if given.
    fn load_named(&self, bytes: &[u8], expected_name: Option<&str>) -> Result<Plugin, DeployError> {
        let plugin = self.runtime.load(bytes)?;
        if let Some(expected) = expected_name
            && plugin.spec.name != expected
        {
            return Err(DeployError::new(
                DeployCheck::Name,
                format!(
                    "the component's info() names `{}`, not `{expected}`",
                    plugin.spec.name
                ),
            ));
        }
        Ok(plugin)
    }

    /// Refuses a version of `name` while the processor of that name runs
    /// here from a plugin-folder file: a host serves the file in the
    /// registry version's place, so the version would be recorded active
    /// and never run (and every run of the file listed as outdated).
    fn refuse_over_a_plugin_file(&self, name: &str) -> Result<(), DeployError> {
        let Some(file) = (self.current.plugin(name)).and_then(|p| p.plugin_file.as_deref()) else {
            return Ok(());
        };
        Err(DeployError::new(
            DeployCheck::State,
            format!(
                "{name} runs here from the plugin folder ({}), which a host serves in any \
                 registry version's place: take the file out of the folder first (or \
                 change the file itself)",
                file.display()
            ),
        ))
    }

    /// `plugin` joined to the current processors: the pipeline it makes,
    /// when its dependencies exist and its output table may be its own.
    fn joined(&self, plugin: &Plugin) -> Result<Pipeline, DeployError> {
        self.refuse_over_a_plugin_file(&plugin.spec.name)?;
        let pipeline = self
            .current
            .with_plugin(plugin.clone())
            .map_err(|e| DeployError::new(DeployCheck::Dependencies, e))?;
        check_same_table(self.current, plugin)?;
        check_ownership(self.current, plugin, self.ledger)?;
        if let Some(store) = self.store {
            let spec = &plugin.spec;
            store
                .check_names(&spec.output_table, &spec.schema)
                .map_err(|e| DeployError::new(DeployCheck::Store, e))?;
        }
        Ok(pipeline)
    }
}

impl Deployer<'_> {
    /// Refuses a version whose declared schema its live output table cannot
    /// take ([`crate::drift`]): activated, it would fail every run at its
    /// commit, while the processors downstream went on reading the old
    /// rows. A shadow writes a table of its own, and is checked when it is
    /// promoted.
    fn check_schema(&self, plugin: &Plugin) -> Result<(), DeployError> {
        let Some(store) = self.store else {
            return Ok(());
        };
        let spec = &plugin.spec;
        let live = store
            .table_schema(&spec.output_table)
            .map_err(|e| DeployError::new(DeployCheck::Store, e))?;
        match live {
            Some(live) => crate::drift::plan(&spec.output_table, &live, &spec.schema)
                .map(drop)
                .map_err(|refused| {
                    DeployError::new(
                        DeployCheck::Schema,
                        format!("{} {}: {refused}", spec.name, spec.version),
                    )
                }),
            None => Ok(()),
        }
    }
}

/// Refuses a version of a loaded processor that writes another table than
/// the loaded one: the old table would go stale under its readers, which
/// would then succeed on no rows. A table changes hands only by a
/// transfer, to a processor of another name.
fn check_same_table(current: &Pipeline, plugin: &Plugin) -> Result<(), DeployError> {
    let Some(loaded) = current.plugins().find(|p| p.spec.name == plugin.spec.name) else {
        return Ok(());
    };
    let (old, new) = (&loaded.spec.output_table, &plugin.spec.output_table);
    if old == new {
        return Ok(());
    }
    let readers: Vec<&str> = current
        .plugins()
        .filter(|p| p.spec.inputs.contains(old))
        .map(|p| p.spec.name.as_str())
        .collect();
    let read_by = match readers.as_slice() {
        [] => String::new(),
        names => format!(" (read by {})", names.join(", ")),
    };
    Err(DeployError::new(
        DeployCheck::Ownership,
        format!(
            "{} {} writes {new}, but the loaded version writes {old}{read_by}: a new \
             version keeps its processor's table (give a new table a processor of \
             its own name)",
            plugin.spec.name, plugin.spec.version
        ),
    ))
}

/// Records a switch in `store`'s alert outbox, if it keeps one: a notice
/// (`deployed`, `rolled_back` or `undeployed`, info severity), and, when
/// the switch makes a processor run again that an undeploy had removed,
/// the alerts that undeploy resolved, raised again
/// ([`raise_again_what_undeploy_resolved`]). The registry is its own
/// database, so this is a second write after the activation: a failure
/// here is returned for the caller to report, and the version stays
/// active. Returns how many alerts were raised again.
pub fn record_switch_in_alerts(
    store: &dyn crate::store::Store,
    deployment: &Deployment,
) -> Result<usize, crate::store::StoreError> {
    let Some(outbox) = store.alert_outbox() else {
        return Ok(0);
    };
    use crate::alerts::event::{EventKind, for_version_switch};
    let event = match deployment.action {
        DeployAction::Rollback => EventKind::RolledBack,
        DeployAction::Undeploy => EventKind::Undeployed,
        DeployAction::Deploy | DeployAction::Promote => EventKind::Deployed,
        // History entries only: no active version switched.
        DeployAction::Shadow | DeployAction::DropShadow => return Ok(0),
    };
    let notice = for_version_switch(
        event,
        &deployment.name,
        &deployment.version,
        &deployment.hash,
    );
    outbox.record_alert(&notice)?;
    match deployment.active {
        true => raise_again_what_undeploy_resolved(outbox, &deployment.name),
        false => Ok(0),
    }
}

/// What [`resolve_alerts_of_removed`] says resolved `name`'s alerts.
fn resolved_by_undeploy(name: &str) -> String {
    format!("{name} undeployed")
}

/// Raises again each alert of `name` an undeploy resolved, now that a
/// version of it runs again: the failed dates it left are still failed,
/// and only a later success resolves them. Per cause (event, date, kind),
/// the newest alert alone counts, so one resolved since by a run, or
/// raised again already, is left alone. Returns how many it raised.
pub fn raise_again_what_undeploy_resolved(
    outbox: &dyn crate::store::alerts::AlertOutbox,
    name: &str,
) -> Result<usize, crate::store::StoreError> {
    let undeployed = resolved_by_undeploy(name);
    let mut causes = std::collections::HashSet::new();
    let mut raised = 0;
    // Newest first: the first alert of each cause is its latest.
    for alert in outbox.alerts(false, crate::store::alerts::EVERY_ALERT)? {
        let cause = (
            alert.raised.event,
            alert.raised.data_date,
            alert.raised.kind.clone(),
        );
        if alert.raised.subject != name || !causes.insert(cause) {
            continue;
        }
        if alert.resolved_by.as_deref() == Some(undeployed.as_str()) {
            outbox.record_alert(&alert.raised)?;
            raised += 1;
        }
    }
    Ok(raised)
}

/// Resolves the open alerts of `name` that only its later success would
/// resolve (a failed, blocked or reaped run, rows missing by a deadline),
/// when an undeploy removed it and no bundled version runs in its place:
/// nothing could resolve them any more, and they would stay open for
/// good. So are the `phase_incomplete` alerts naming it, each raised again
/// without it where other processors of it are failed or blocked too
/// ([`crate::alerts::phase::without_processor`]). Returns how many it
/// resolved.
pub fn resolve_alerts_of_removed(
    store: &dyn crate::store::Store,
    name: &str,
) -> Result<usize, crate::store::StoreError> {
    let its_own = resolve_open_alerts_of(
        store,
        name,
        |event| event.resolved_by_success(),
        &resolved_by_undeploy(name),
    )?;
    // The phases it left incomplete: a host counts the processors such an
    // alert names until their rows are committed, which no run of a
    // removed processor will do. Where others are failed or blocked too,
    // the phase is raised again naming them alone.
    let Some(outbox) = store.alert_outbox() else {
        return Ok(its_own);
    };
    let mut phases = 0;
    for alert in outbox.open_or_resolved_by_hand(crate::alerts::EventKind::PhaseIncomplete)? {
        let named_it = crate::alerts::phase::stopped_in(&alert.raised)
            .iter()
            .any(|stopped| stopped == name);
        if alert.resolved_at.is_none()
            && named_it
            && outbox.resolve_alert(alert.alert_id, &resolved_by_undeploy(name))?
        {
            phases += 1;
            if let Some(left) = crate::alerts::phase::without_processor(&alert.raised, name) {
                outbox.record_alert(&left)?;
            }
        }
    }
    Ok(its_own + phases)
}

/// Resolves every open alert of `name`'s shadow (subject `NAME~shadow`:
/// failed runs, quarantined rows), once the shadow ended (dropped,
/// replaced, made active, or ended by an undeploy): no run of it follows
/// that could resolve them. Returns how many it resolved.
pub fn resolve_alerts_of_ended_shadow(
    store: &dyn crate::store::Store,
    name: &str,
) -> Result<usize, crate::store::StoreError> {
    let subject = crate::shadow::shadow_name(name);
    resolve_open_alerts_of(
        store,
        &subject,
        |_| true,
        &format!("{name}'s shadow version ended"),
    )
}

/// Resolves `subject`'s open alerts of the events `which` picks, saying
/// `why`.
fn resolve_open_alerts_of(
    store: &dyn crate::store::Store,
    subject: &str,
    which: impl Fn(crate::alerts::EventKind) -> bool,
    why: &str,
) -> Result<usize, crate::store::StoreError> {
    let Some(outbox) = store.alert_outbox() else {
        return Ok(0);
    };
    let matching = |alert: &crate::alerts::record::AlertRecord| {
        alert.raised.subject == subject && which(alert.raised.event)
    };
    outbox.resolve_open_alerts(&matching, why)
}

/// [`resolve_alerts_of_ended_shadow`] after a switch already made: a
/// failure is logged, not returned.
fn resolve_after_shadow_ended(store: Option<&dyn crate::store::Store>, name: &str) {
    if let Some(store) = store
        && let Err(error) = resolve_alerts_of_ended_shadow(store, name)
    {
        tracing::warn!(%error, processor = %name, "the ended shadow's open alerts were not resolved");
    }
}

/// Refuses `plugin` when its output table belongs to anyone but its own
/// processor: another processor (recorded, or simply loaded before it), a
/// raw input, or the host. A new version of the same processor keeps the
/// table; a processor under a new name does not get it. Refuses it too
/// when a loaded processor reads that table without naming it upstream:
/// every load would leave that reader out from then on.
fn check_ownership(
    current: &Pipeline,
    plugin: &Plugin,
    ledger: &Ledger,
) -> Result<(), DeployError> {
    let mut claimants: Vec<_> = current
        .plugins()
        .filter(|p| p.spec.name != plugin.spec.name)
        .map(claimant)
        .collect();
    claimants.push(claimant(plugin));
    let newcomer = claimants.len() - 1;
    let refused = ledger.refusals(&claimants);
    if let Some((_, refusal)) = refused.iter().find(|(index, _)| *index == newcomer) {
        return Err(DeployError::new(DeployCheck::Ownership, refusal));
    }
    let before: Vec<OwnershipRefused> = ledger
        .refusals(&current.plugins().map(claimant).collect::<Vec<_>>())
        .into_iter()
        .map(|(_, refusal)| refusal)
        .collect();
    let left_out_reader = refused.into_iter().find(|(_, refusal)| {
        matches!(refusal, OwnershipRefused::ReadsWithoutUpstream { owner, .. }
            if *owner == plugin.spec.name)
            && !before.contains(refusal)
    });
    match left_out_reader {
        Some((_, refusal)) => Err(DeployError::new(
            DeployCheck::Ownership,
            format!("every load would leave a reader of its table out: {refusal}"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version refused by a check says which; one the registry failed to
    /// keep (here a full disk) is not said to be rejected. Before, it read
    /// "rejected by the registry check: ... No space left on device", as
    /// if the version were at fault.
    #[test]
    fn a_registry_failure_is_told_as_a_failure_not_a_rejection() {
        let refused = DeployError::new(DeployCheck::Contract, "it exports no processor");
        assert_eq!(
            refused.to_string(),
            "rejected by the contract check: it exports no processor"
        );
        let failed = DeployError::new(
            DeployCheck::Registry,
            "registry file blobs/x.wasm: No space left on device (os error 28)",
        );
        assert_eq!(
            failed.to_string(),
            "the registry failed: registry file blobs/x.wasm: No space left on device (os error 28)"
        );
    }
}
