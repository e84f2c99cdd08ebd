//! What every request handler shares: the configuration and the served
//! host (executor, store, runtime, registry, the current pipeline, the
//! worker pool, backfills and metrics).
//!
//! The current pipeline is swapped, never mutated: a request takes the
//! pipeline of the moment, and the runs it claims keep their plugin
//! versions even when a deployment swaps in a new pipeline meanwhile. A
//! deployment made by another process (`slate deploy`) is noticed through
//! the registry's generation, checked before each use.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::auth::BearerToken;
use super::backfill_jobs::BackfillJob;
use super::errors::ApiError;
use super::events::RunEvents;
use super::health::HealthCache;
use super::metrics::Metrics;
use super::workers::WorkerPool;
use crate::alerts::AlertsConfig;
use crate::catalog::{self, RefusedVersions};
use crate::dates::DatesConfig;
use crate::deploy::{self, DeployError, Deployer, Switched, Undeployed};
use crate::executor::Executor;
use crate::ownership::Ledger;
use crate::pipeline::Pipeline;
use crate::plugin::Runtime;
use crate::registry::{Deployment, Registry, ShadowVersion, SwitchLock};
use crate::store::Store;
use serde::Serialize;

/// How the server behaves.
#[derive(Clone)]
pub struct ServerConfig {
    /// The token mutating endpoints require.
    pub token: BearerToken,
    /// Whether read-only endpoints require it too.
    pub protect_reads: bool,
    /// The `Host` names the server answers to.
    pub allowed_hosts: super::AllowedHosts,
    /// The largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The largest component accepted by `PUT /plugins/{name}`, in bytes.
    pub max_component_bytes: usize,
    /// How long a shutdown lets in-flight runs finish before stopping them.
    pub grace: Duration,
    /// How long a client may take to send a request's headers; the same
    /// timer closes a keep-alive connection idle for as long.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub body_read_timeout: Duration,
    /// The most connections served at once; more are answered 503 and
    /// closed at once, never queued.
    pub max_connections: usize,
    /// How long `GET /health` serves the same report (`?fresh=1` asks for
    /// a new one).
    pub health_ttl: Duration,
    /// What `slate.toml` sets, as read at the start or the last reload;
    /// shared by the config's clones, so a reload reaches every handler.
    settings: Arc<std::sync::RwLock<Arc<FileSettings>>>,
}

/// What a server takes from `slate.toml` and can take again while it runs
/// (`SIGHUP`): the dates it serves, its alert channels and its schedules.
#[derive(Debug, Clone, Default)]
pub struct FileSettings {
    /// The analysis dates the server takes.
    pub dates: DatesConfig,
    /// The alert channels, which `/health` and `/alerts` report on.
    pub alerts: AlertsConfig,
    /// The `[[schedule]]`s the server fires.
    pub schedules: Vec<crate::schedule::Schedule>,
}

impl ServerConfig {
    /// Defaults around `token`: reads open, answering to addresses and
    /// `localhost` only, 64 KiB JSON bodies, 64 MiB
    /// components, a 20 s grace period, 10 s to send headers (or to sit
    /// idle between requests), 30 s to send a body, 512 connections, a
    /// health report cached for 2 s, and the default date range.
    pub fn new(token: BearerToken) -> Self {
        ServerConfig {
            token,
            protect_reads: false,
            allowed_hosts: super::AllowedHosts::default(),
            max_body_bytes: 64 * 1024,
            max_component_bytes: 64 * 1024 * 1024,
            grace: Duration::from_secs(20),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 512,
            health_ttl: Duration::from_secs(2),
            settings: Arc::default(),
        }
    }

    /// What `slate.toml` sets, as last read.
    pub fn settings(&self) -> Arc<FileSettings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes `settings` from now on: the next request reads them.
    pub fn set_settings(&self, settings: FileSettings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
    }

    /// The names of the configured alert channels.
    pub fn alert_channel_names(&self) -> Vec<String> {
        self.settings()
            .alerts
            .channels
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }
}

/// A shadow deployed over HTTP, as `PUT /plugins/{name}?shadow=1` answers.
#[derive(Debug, Serialize)]
pub struct ShadowDeployment {
    /// The version now the shadow.
    #[serde(flatten)]
    pub shadow: ShadowVersion,
    /// The tables of the shadow it replaced, dropped.
    pub tables_dropped: Vec<String>,
}

/// Why the server cannot start or reload its processors.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The processors could not be loaded.
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    /// They could not be ordered.
    #[error(transparent)]
    Dag(#[from] crate::dag::DagError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// The store could not say who owns which table.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The host behind the server.
pub struct ServedHost {
    /// Runs plugins, keeping leases; tells the metrics about every run.
    pub executor: Executor,
    /// Where runs and tables live.
    pub store: Arc<dyn Store>,
    /// Loads components; kept alive for its epoch ticker.
    pub runtime: Arc<Runtime>,
    /// Deployed versions.
    pub registry: Arc<Registry>,
    /// Extra components loaded besides bundled and registry ones.
    pub plugin_dir: Option<PathBuf>,
    /// The bounded pool runs execute on.
    pub workers: WorkerPool,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// Set once a shutdown begins: no new work is accepted, while the
    /// work already accepted goes on for the grace period.
    pub draining: AtomicBool,
    /// Set when the grace period is over: no run starts after it, and the
    /// runs in flight are stopped.
    pub stopping: Arc<AtomicBool>,
    /// Backfills started through the API, by id.
    pub backfills: Mutex<HashMap<String, Arc<BackfillJob>>>,
    /// The latest health report, shared by every caller for a moment.
    pub health: HealthCache,
    /// Every run this host claims or ends, for `GET /events`.
    pub events: Arc<RunEvents>,
    current: RwLock<(i64, Arc<Pipeline>)>,
    /// What this host could not load of the registry's versions and its
    /// plugin folder ([`RefusedVersions`]), if anything, and when it last
    /// tried.
    refused: Mutex<Option<(RefusedVersions, std::time::Instant)>>,
    deploying: Mutex<()>,
}

/// How often a host tries again to load what it could not, while the
/// registry stays where it is: a table transfer, say, may have fixed it.
const RETRY_REFUSED_VERSIONS: Duration = Duration::from_secs(30);

/// The processors a server starts with: what the registry and its plugin
/// folder add to the bundled ones, less what the table owners refuse
/// (with their dependants), as loaded at the registry's `generation`.
pub struct StartingSet {
    /// The registry's generation, read before the load: a switch made
    /// during it is loaded again at the first use.
    pub generation: i64,
    /// The pipeline, with the registry's shadow versions.
    pub pipeline: Pipeline,
    /// What was left out, and why.
    pub left_out: Vec<catalog::LeftOut>,
}

impl StartingSet {
    /// Loads the set from `registry` and `plugin_dir`, checked against the
    /// table owners `store` records. A processor the table owners refuse
    /// is left out, not the host: one bad deploy would otherwise keep
    /// every host from starting.
    pub fn load(
        runtime: &Runtime,
        registry: &Registry,
        plugin_dir: Option<&std::path::Path>,
        store: &dyn Store,
    ) -> Result<Self, HostError> {
        let generation = registry.generation()?;
        let (pipeline, left_out) =
            load_pipeline_leaving_out_refused(runtime, registry, plugin_dir, store, None)?;
        Ok(StartingSet {
            generation,
            pipeline,
            left_out,
        })
    }
}

impl ServedHost {
    /// A host serving `starting`, the set loaded from `registry` and
    /// `plugin_dir` ([`StartingSet::load`]), with `workers` slots; it loads
    /// the set again whenever the registry moves. The executor should
    /// report to `metrics`; the host adds its own observer, which feeds
    /// `/events`.
    pub fn new(
        executor: Executor,
        runtime: Arc<Runtime>,
        registry: Arc<Registry>,
        plugin_dir: Option<PathBuf>,
        workers: usize,
        metrics: Arc<Metrics>,
        starting: StartingSet,
    ) -> Self {
        let events = Arc::new(RunEvents::default());
        let executor = executor.with_observer(events.clone());
        let StartingSet {
            generation,
            pipeline,
            left_out,
        } = starting;
        let refused = (!left_out.is_empty()).then(|| {
            let reasons: Vec<&str> = left_out.iter().map(|out| out.reason.as_str()).collect();
            let reason = reasons.join("; ");
            tracing::error!(
                generation,
                %reason,
                "cannot load every processor: serving the others"
            );
            let versions = RefusedVersions {
                generation,
                since: chrono::Utc::now(),
                reason,
                left_out: gone(&left_out),
            };
            (versions, std::time::Instant::now())
        });
        ServedHost {
            store: executor.store().clone(),
            executor,
            runtime,
            registry,
            plugin_dir,
            workers: WorkerPool::new(workers),
            metrics,
            draining: AtomicBool::new(false),
            stopping: Arc::new(AtomicBool::new(false)),
            backfills: Mutex::default(),
            health: HealthCache::default(),
            events,
            current: RwLock::new((generation, Arc::new(pipeline))),
            refused: Mutex::new(refused),
            deploying: Mutex::new(()),
        }
    }

    /// Records the phase events of each run this host's lease keeper
    /// reaps from now on, against the pipeline served then: the reaped run
    /// failed, so its phase is incomplete on its date
    /// ([`crate::alerts::phase::record_phase_events_of_reaped`]).
    pub fn judge_phases_of_reaped_runs(self: &Arc<Self>) {
        let host = Arc::downgrade(self);
        self.executor.leases().on_reaped(Arc::new(move |run| {
            let Some(host) = host.upgrade() else { return };
            match host.pipeline() {
                Ok(pipeline) => crate::alerts::phase::record_phase_events_of_reaped(
                    host.store.as_ref(),
                    &pipeline,
                    std::slice::from_ref(run),
                ),
                Err(error) => tracing::warn!(
                    %error, date = %run.data_date,
                    "the phase events of a reaped run's date were not recorded"
                ),
            }
        }));
    }

    /// The backfill `id`, if this server runs it.
    pub fn backfill(&self, id: &str) -> Option<Arc<BackfillJob>> {
        self.backfills
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Starts no further run of any backfill: the shutdown's grace is over.
    pub fn stop_backfills(&self) {
        for job in self
            .backfills
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            job.stop();
        }
    }

    /// The pipeline of the moment, reloaded first when the registry's
    /// active versions changed (e.g. `slate deploy` from another process).
    /// Blocking: call it off the request threads.
    pub fn pipeline(&self) -> Result<Arc<Pipeline>, HostError> {
        let generation = self.registry.generation()?;
        {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            // Settled: the registry's versions all loaded, or they could
            // not be a moment ago.
            let settled = match self.refused_lock().as_ref() {
                None => current.0 == generation,
                Some((refused, tried)) => {
                    refused.generation == generation && tried.elapsed() < RETRY_REFUSED_VERSIONS
                }
            };
            if settled {
                return Ok(current.1.clone());
            }
        }
        let _deploying = self.deploying.lock().unwrap_or_else(|e| e.into_inner());
        self.reload_if_changed()
    }

    /// The registry's versions this host could not load and serves
    /// without, if any ([`RefusedVersions`]).
    pub fn refused_versions(&self) -> Option<RefusedVersions> {
        self.refused_lock()
            .as_ref()
            .map(|(refused, _)| refused.clone())
    }

    /// Why `pipeline` could not select `requested`: the selection's own
    /// error, or, for a processor this host left out, why it was left out
    /// ([`RefusedVersions`]) rather than "unknown processor".
    pub fn selection_refusal(&self, error: &crate::pipeline::SelectionError) -> String {
        let crate::pipeline::SelectionError::UnknownProcessor { names, known } = error;
        let Some(refused) = self.refused_versions() else {
            return error.to_string();
        };
        let (left_out, unknown): (Vec<String>, Vec<String>) =
            (names.iter().cloned()).partition(|name| refused.left_out.contains(name));
        if left_out.is_empty() {
            return error.to_string();
        }
        let verb = if left_out.len() == 1 { "is" } else { "are" };
        let mut refusal = format!(
            "{} {verb} left out on this host: {}",
            left_out.join(", "),
            refused.reason
        );
        if !unknown.is_empty() {
            let unknown = crate::pipeline::SelectionError::UnknownProcessor {
                names: unknown,
                known: known.clone(),
            };
            refusal.push_str(&format!("; {unknown}"));
        }
        refusal
    }

    fn refused_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<(RefusedVersions, std::time::Instant)>> {
        self.refused.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the registry is shared by several hosts, follows it on a
    /// background thread until `stop` is set: a version switched on any
    /// host is loaded (and compiled) here as soon as it is announced, not
    /// at the next run. `None` for a registry of one host, whose switches
    /// [`ServedHost::pipeline`] notices at the next run.
    pub fn follow_registry(
        host: Arc<ServedHost>,
        stop: Arc<AtomicBool>,
    ) -> Option<std::thread::JoinHandle<()>> {
        if !host.registry.announces_changes() {
            return None;
        }
        let follow = move || {
            while !stop.load(Ordering::SeqCst) {
                if host.registry.wait_for_change(Duration::from_secs(1))
                    && let Err(error) = host.pipeline()
                {
                    tracing::warn!(%error, "cannot load the versions another host switched to");
                }
            }
        };
        Some(
            std::thread::Builder::new()
                .name("slate-registry".into())
                .spawn(follow)
                .expect("spawn the registry follower"),
        )
    }

    /// The current pipeline, reloaded when the registry's generation moved.
    /// The caller holds `deploying`.
    fn reload_if_changed(&self) -> Result<Arc<Pipeline>, HostError> {
        let generation = self.registry.generation()?;
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if current.0 != generation || self.refused_lock().is_some() {
            // As at the start: what the table owners refuse is left out,
            // so a host is the same after a reload as after a restart.
            let loaded = load_pipeline_leaving_out_refused(
                &self.runtime,
                &self.registry,
                self.plugin_dir.as_deref(),
                self.store.as_ref(),
                Some(&current.1),
            );
            let mut refused = self.refused_lock();
            let (reason, left_out) = match loaded {
                Ok((pipeline, left_out)) => {
                    tracing::info!(
                        generation,
                        "active plugin versions changed: pipeline reloaded"
                    );
                    *current = (generation, Arc::new(pipeline));
                    if left_out.is_empty() {
                        *refused = None;
                        return Ok(current.1.clone());
                    }
                    let reasons: Vec<&str> = left_out.iter().map(|o| o.reason.as_str()).collect();
                    let names = gone(&left_out);
                    (reasons.join("; "), names)
                }
                // Anything else (a component that no longer compiles, the
                // registry unreadable): the pipeline it had goes on.
                Err(error) => {
                    let left_out = refused.as_ref().map(|(r, _)| r.left_out.clone());
                    (error.to_string(), left_out.unwrap_or_default())
                }
            };
            let again = refused.as_ref().is_some_and(|(r, _)| {
                r.generation == generation && r.reason == reason && r.left_out == left_out
            });
            if !again {
                tracing::error!(
                    generation,
                    %reason,
                    "cannot load every processor of the registry and the plugin folder"
                );
            }
            let since = match refused.as_ref() {
                Some((r, _)) if r.left_out == left_out => r.since,
                _ => chrono::Utc::now(),
            };
            let versions = RefusedVersions {
                generation,
                since,
                reason,
                left_out,
            };
            *refused = Some((versions, std::time::Instant::now()));
        }
        Ok(current.1.clone())
    }

    /// Deploys a component (see [`Deployer::deploy`]) and swaps the
    /// new pipeline in: the next run uses it. Blocking.
    pub fn deploy(&self, bytes: &[u8], name: Option<&str>) -> Result<Switched, DeployError> {
        self.switch(|deployer| deployer.deploy(bytes, name))
    }

    /// Stores a shadow version (see [`Deployer::deploy_shadow`]); the
    /// registry's generation moves, so the next run loads it. Blocking.
    pub fn deploy_shadow(
        &self,
        bytes: &[u8],
        name: Option<&str>,
    ) -> Result<ShadowDeployment, DeployError> {
        let _deploying = self.deploying.lock().unwrap_or_else(|e| e.into_inner());
        let _switching = self.lock_switches()?;
        let (current, ledger) = self.current_and_ledger()?;
        let deployed = self
            .deployer(&current, &ledger)
            .deploy_shadow(bytes, name)?;
        let plugin = &deployed.plugin;
        tracing::info!(processor = %plugin.spec.name, hash = %plugin.hash, "now the shadow");
        Ok(ShadowDeployment {
            shadow: deployed.shadow,
            tables_dropped: deployed
                .replaced_tables
                .iter()
                .map(ToString::to_string)
                .collect(),
        })
    }

    /// Rolls a processor back (see [`Deployer::rollback`]) and swaps
    /// the new pipeline in. Blocking.
    pub fn rollback(&self, name: &str, to: Option<&str>) -> Result<Switched, DeployError> {
        self.switch(|deployer| deployer.rollback(name, to))
    }

    /// Undeploys a processor's registry version (see
    /// [`Deployer::undeploy`]), then loads the processor set again, as at a
    /// switch made elsewhere: the bundled version comes back, or the
    /// processor is gone, and one the undeployed version had kept out (a
    /// plugin-folder processor naming the same table) comes in. Blocking.
    pub fn undeploy(&self, name: &str) -> Result<Undeployed, DeployError> {
        let _deploying = self.deploying.lock().unwrap_or_else(|e| e.into_inner());
        let _switching = self.lock_switches()?;
        let (current, ledger) = self.current_and_ledger()?;
        let undeployed = self.deployer(&current, &ledger).undeploy(name)?;
        tracing::info!(
            processor = %name,
            hash = %undeployed.deployment.hash,
            "undeployed"
        );
        self.reload_if_changed().map_err(registry_failure)?;
        self.record_notice(&undeployed.deployment);
        if undeployed.bundled_hash.is_none()
            && let Err(error) = deploy::resolve_alerts_of_removed(self.store.as_ref(), name)
        {
            tracing::warn!(%error, processor = %name, "its open alerts were not resolved");
        }
        Ok(undeployed)
    }

    /// The registry's switch lock ([`Registry::lock_switches`]), taken after
    /// this process's `deploying` lock and before the checks.
    fn lock_switches(&self) -> Result<SwitchLock, DeployError> {
        self.registry
            .lock_switches()
            .map_err(|e| registry_failure(e.into()))
    }

    /// What a deployment is checked against: the pipeline now (reloaded if
    /// the registry moved) and the recorded table owners. The caller holds
    /// the deploying lock.
    fn current_and_ledger(&self) -> Result<(Arc<Pipeline>, Ledger), DeployError> {
        let current = self.reload_if_changed().map_err(registry_failure)?;
        let ledger = ledger(self.store.as_ref()).map_err(|e| registry_failure(e.into()))?;
        Ok((current, ledger))
    }

    /// A deployer that checks against `current` and `ledger`.
    fn deployer<'a>(&'a self, current: &'a Pipeline, ledger: &'a Ledger) -> Deployer<'a> {
        Deployer {
            runtime: &self.runtime,
            registry: &self.registry,
            current,
            ledger,
            store: Some(self.store.as_ref()),
        }
    }

    fn switch(
        &self,
        change: impl FnOnce(Deployer<'_>) -> Result<deploy::Deployed, DeployError>,
    ) -> Result<Switched, DeployError> {
        let _deploying = self.deploying.lock().unwrap_or_else(|e| e.into_inner());
        let _switching = self.lock_switches()?;
        let (current, ledger) = self.current_and_ledger()?;
        let deployed = change(self.deployer(&current, &ledger))?;
        if deployed.unchanged {
            return Ok(Switched {
                deployment: deployed.deployment,
                alerts_raised_again: 0,
            });
        }
        let generation = self
            .registry
            .generation()
            .map_err(|e| registry_failure(e.into()))?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) =
            (generation, Arc::new(deployed.pipeline));
        tracing::info!(
            processor = %deployed.plugin.spec.name,
            hash = %deployed.plugin.hash,
            "now active"
        );
        if let Err(error) = self.registry.record_compiled(&deployed.plugin.hash) {
            tracing::warn!(%error, "the deployment is active, but this host's compile was not recorded");
        }
        let alerts_raised_again = self.record_notice(&deployed.deployment);
        Ok(Switched {
            deployment: deployed.deployment,
            alerts_raised_again,
        })
    }

    /// Records a switch's notice, and raises again the alerts an undeploy
    /// had resolved; returns how many. A failure is logged, for the switch
    /// stands.
    fn record_notice(&self, deployment: &Deployment) -> usize {
        match deploy::record_switch_in_alerts(self.store.as_ref(), deployment) {
            Ok(raised) => {
                if raised > 0 {
                    tracing::warn!(
                        processor = %deployment.name,
                        raised,
                        "alerts raised again: the processor's undeploy had resolved them"
                    );
                }
                raised
            }
            Err(error) => {
                tracing::warn!(%error, "the switch is made, but its notice was not recorded");
                0
            }
        }
    }
}

/// A host failure while deploying, reported as the registry's failure; or,
/// when a database could not be reached, as an outage to try again.
fn registry_failure(error: HostError) -> DeployError {
    let check = match super::errors::is_unreachable(&error) {
        true => deploy::DeployCheck::Unavailable,
        false => deploy::DeployCheck::Registry,
    };
    DeployError {
        check,
        reason: error.to_string(),
    }
}

/// What `store` has recorded about table ownership.
fn ledger(store: &dyn Store) -> Result<Ledger, crate::store::StoreError> {
    Ok(Ledger::new(store.table_owners()?, store.host_owned()))
}

/// The pipeline of the processors `registry` and `plugin_dir` add to the
/// bundled ones, leaving out those the table owners refuse, the registry
/// versions that do not load (`before`'s version goes on, if it had one),
/// and their dependants ([`catalog::load_leaving_out_refused`]): the
/// pipeline, and what was left out.
fn load_pipeline_leaving_out_refused(
    runtime: &Runtime,
    registry: &Registry,
    plugin_dir: Option<&std::path::Path>,
    store: &dyn Store,
    before: Option<&Pipeline>,
) -> Result<(Pipeline, Vec<catalog::LeftOut>), HostError> {
    let (loaded, left_out) = catalog::load_leaving_out_refused(
        runtime,
        Some(registry),
        plugin_dir,
        &ledger(store)?,
        before,
    )?;
    Ok((pipeline_of(runtime, registry, loaded)?, left_out))
}

/// The names of the processors `left_out` of which no version is served.
fn gone(left_out: &[catalog::LeftOut]) -> Vec<String> {
    left_out
        .iter()
        .filter(|out| out.is_gone())
        .map(|out| out.processor.clone())
        .collect()
}

/// The pipeline of `loaded`, with the registry's shadows.
fn pipeline_of(
    runtime: &Runtime,
    registry: &Registry,
    loaded: Vec<catalog::Loaded>,
) -> Result<Pipeline, HostError> {
    let shadows = catalog::load_shadows(runtime, registry)?;
    // A shared registry shows which serving host has compiled which version.
    let from_registry = loaded
        .iter()
        .filter(|l| l.origin == catalog::Origin::Registry)
        .map(|l| &l.plugin)
        .chain(&shadows);
    for plugin in from_registry {
        registry.record_compiled(&plugin.hash)?;
    }
    let plugins = loaded.into_iter().map(|loaded| loaded.plugin).collect();
    Ok(Pipeline::new(plugins)?.with_shadows(shadows))
}

/// The state every handler gets.
#[derive(Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<ServerConfig>,
    /// The host.
    pub host: Arc<ServedHost>,
}

impl AppState {
    /// Runs blocking work (store queries, deployments) off the request threads.
    pub async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&ServedHost) -> T + Send + 'static,
    ) -> T {
        let host = self.host.clone();
        tokio::task::spawn_blocking(move || work(&host))
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
    }

    /// A 503 ([`ApiError::shutting_down`]) once the server drains for its
    /// shutdown: it takes no new work and changes no processor.
    pub fn refuse_if_draining(&self) -> Result<(), ApiError> {
        match self.host.draining.load(Ordering::SeqCst) {
            true => Err(ApiError::shutting_down()),
            false => Ok(()),
        }
    }
}

/// Middleware: [`AppState::refuse_if_draining`] before the handler.
pub async fn refuse_while_draining(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.refuse_if_draining() {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}
