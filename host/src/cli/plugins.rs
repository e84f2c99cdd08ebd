//! Which processors a command loads (bundled, registry, `--plugin-dir`),
//! and the commands that manage them: `slate deploy`, `slate plugins`,
//! `slate plugins history NAME`, `slate rollback NAME [--to HASH]` and
//! `slate undeploy NAME`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use slate::catalog::{self, Origin};
use slate::deploy::{self, Deployer};
use slate::limits::LimitsConfig;
use slate::ownership::Ledger;
use slate::pipeline::Pipeline;
use slate::plugin::{KEEP_RESIDENT_BYTES, Plugin, Runtime, RuntimeOptions};
use slate::registry::{Deployment, Registry, SwitchLock};
use slate::shadow::ShadowStanding;
use slate::store::Store;

use super::HostOptions;
use super::render::table;

/// The runtime for `options`: compiled components cached in the data
/// directory, fuel metered when asked for.
pub fn runtime(options: &HostOptions) -> Result<Runtime> {
    let compiled = options.data_dir.compiled_dir();
    Ok(if options.fuel {
        Runtime::with_fuel(Some(&compiled))?
    } else {
        Runtime::new(Some(&compiled))?
    })
}

/// The runtime for commands that run processors: [`runtime`]'s, on the
/// pooling allocator with slots for `concurrent_runs` runs at once and a
/// few loads beside them. Each slot holds the largest memory any processor
/// may use under `limits`, and keeps the first 32 MiB of its memory
/// resident between runs, so a run takes no page faults on what the last
/// one touched (a season backfill: 7.7 s on demand, 6.9 s pooled).
pub fn pooled_runtime(
    options: &HostOptions,
    concurrent_runs: usize,
    limits: &LimitsConfig,
) -> Result<Runtime> {
    /// Slots beside the runs: loading a plugin (a deploy, the folder
    /// watcher) instantiates it once for `info`.
    const LOADS: usize = 8;
    /// The least memory a pool slot holds.
    const MIN_POOLED_MEMORY_BYTES: u64 = 64 << 20;
    let slots = u32::try_from(concurrent_runs.max(1) + LOADS).unwrap_or(u32::MAX);
    let compiled = options.data_dir.compiled_dir();
    Ok(Runtime::with_options(
        Some(&compiled),
        RuntimeOptions {
            fuel: options.fuel,
            pooled_runs: Some(slots),
            keep_resident_bytes: KEEP_RESIDENT_BYTES,
            // At least what any component starts with, so that a tiny
            // `memory_mib` fails the runs it caps (limit_memory), not the
            // loading of every processor, selected or not.
            max_memory_bytes: limits.largest_memory_bytes().max(MIN_POOLED_MEMORY_BYTES),
            perf_map: false,
        },
    )?)
}

/// The plugin registry: the one in the PostgreSQL database of `--state`,
/// shared by every host on it, else the data directory's, created if needed.
pub fn registry(options: &HostOptions) -> Result<Registry> {
    let dir = options.data_dir.registry_dir();
    Ok(match options.warehouse.state_url()? {
        Some(url) => Registry::connect(url, &dir, &slate::liveness::this_host_id())?,
        None => Registry::open(&dir)?,
    })
}

/// The plugin registry, if one was ever created: for commands that only
/// read.
pub fn existing_registry(options: &HostOptions) -> Result<Option<Registry>> {
    let dir = options.data_dir.registry_dir();
    if options.warehouse.state_url()?.is_some() {
        return registry(options).map(Some);
    }
    Ok(if dir.is_dir() {
        Some(Registry::open(&dir)?)
    } else {
        None
    })
}

/// What the store has recorded about table ownership, for commands that
/// load processors without running them: an embedded store that does not
/// exist yet has recorded nothing.
pub fn ledger(options: &HostOptions) -> Result<Ledger> {
    ledger_of(existing_store(options)?.as_deref())
}

/// The store, for commands that load processors without running them:
/// `None` for an embedded store that does not exist yet, which they do
/// not create.
pub(super) fn existing_store(options: &HostOptions) -> Result<Option<Arc<dyn Store>>> {
    if options.warehouse.is_embedded() && !options.data_dir.store_file().exists() {
        return Ok(None);
    }
    super::open_store(options, false).map(Some)
}

/// What `store` has recorded about table ownership; nothing, with no store.
fn ledger_of(store: Option<&dyn Store>) -> Result<Ledger> {
    Ok(match store {
        Some(store) => Ledger::new(store.table_owners()?, store.host_owned()),
        None => Ledger::default(),
    })
}

/// Every processor the host runs: bundled, overridden or extended by the
/// registry's active versions, plus the `--plugin-dir` components; refused
/// when one names a table `ledger` says it may not write.
pub fn load_processors(
    runtime: &Runtime,
    registry: Option<&Registry>,
    options: &HostOptions,
    ledger: &Ledger,
) -> Result<Vec<Plugin>> {
    Ok(
        catalog::load(runtime, registry, options.plugin_dir.as_deref(), ledger)?
            .into_iter()
            .map(|loaded| loaded.plugin)
            .collect(),
    )
}

/// The processors a server with `options` would serve: those the table
/// owners refuse, registry versions that do not load, and their
/// dependants, are left out, each named in a warning on stderr, and
/// returned.
pub fn processors_as_served(
    runtime: &Runtime,
    registry: Option<&Registry>,
    options: &HostOptions,
    ledger: &Ledger,
) -> Result<(Pipeline, Vec<catalog::LeftOut>)> {
    let (loaded, left_out) = catalog::load_leaving_out_refused(
        runtime,
        registry,
        options.plugin_dir.as_deref(),
        ledger,
        None,
    )?;
    for out in &left_out {
        say!("warning: {}", out.reason);
    }
    let pipeline = Pipeline::new(loaded.into_iter().map(|l| l.plugin).collect())?;
    Ok((pipeline, left_out))
}

/// What a deployment or a rollback is checked against: the registry, the
/// recorded table owners and the processors active now.
struct Deploying {
    /// Held from before the processors are loaded until the switch is
    /// made: no other switch comes between the checks and it.
    _switching: SwitchLock,
    runtime: Runtime,
    registry: Registry,
    store: Option<Arc<dyn Store>>,
    ledger: Ledger,
    current: Pipeline,
}

impl Deploying {
    /// Loads the processors as a server does: those the table owners
    /// refuse, and their dependants, are left out, each named on stderr,
    /// so that a deploy, a rollback or an undeploy can still settle what
    /// refused them.
    fn open(options: &HostOptions) -> Result<Self> {
        // A data folder that is not there is a mistyped --data-dir: a
        // switch made there would check nothing and serve nobody. So is
        // one holding only the compile cache `slate test` left there.
        let root = options.data_dir.root();
        if options.warehouse.state_url()?.is_none() && options.data_dir.is_unused() {
            let what = match root.exists() {
                true => "holds only the compile cache (`slate test` or `slate schemas` made it)",
                false => "does not exist",
            };
            super::usage!(
                "{} {what}: nothing was changed; pass the data folder a server or `slate run` \
                 uses (--data-dir), or run `slate demo` there first",
                root.display()
            );
        }
        let runtime = runtime(options)?;
        let registry = registry(options)?;
        let switching = registry.lock_switches()?;
        let store = existing_store(options)?;
        let ledger = ledger_of(store.as_deref())?;
        let (current, _) = processors_as_served(&runtime, Some(&registry), options, &ledger)?;
        Ok(Deploying {
            _switching: switching,
            runtime,
            registry,
            store,
            ledger,
            current,
        })
    }

    /// The deployer that checks against what this opened.
    fn deployer(&self) -> Deployer<'_> {
        Deployer {
            runtime: &self.runtime,
            registry: &self.registry,
            current: &self.current,
            ledger: &self.ledger,
            store: self.store.as_deref(),
        }
    }
}

/// `slate deploy FILE`: validates, precompiles, stores and activates a
/// version; with `--shadow`, stores it as the shadow version instead.
pub fn deploy(options: &HostOptions, file: &Path, shadow: bool) -> Result<ExitCode> {
    // A file that is not there or cannot be read is a wrong command line,
    // as for `slate test`.
    let bytes = std::fs::read(file)
        .map_err(|e| super::UsageError(format!("cannot read {}: {e}", file.display())))?;
    let deploying = Deploying::open(options)?;
    if shadow {
        let deployed = deploying
            .deployer()
            .deploy_shadow(&bytes, None)
            .with_context(|| format!("{} was not deployed as a shadow", file.display()))?;
        let plugin = &deployed.plugin;
        println!(
            "deployed {} {} ({}) as the shadow of the active version; it writes {}",
            plugin.spec.name,
            plugin.spec.version,
            plugin.hash,
            slate::shadow::shadow_table(&plugin.spec.output_table, &plugin.hash)
        );
        for table in &deployed.replaced_tables {
            println!("dropped {table}, the table of the shadow it replaced");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let deployed = deploying
        .deployer()
        .deploy(&bytes, None)
        .with_context(|| format!("{} was not deployed", file.display()))?;
    let (name, version, hash) = (
        &deployed.plugin.spec.name,
        &deployed.plugin.spec.version,
        &deployed.plugin.hash,
    );
    if deployed.unchanged {
        println!("{name} {version} ({hash}) is the active version already; nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    println!("deployed {name} {version} ({hash}), now active");
    notify_activation(options, &deployed.deployment)?;
    Ok(ExitCode::SUCCESS)
}

/// Records the activation's notice and delivers it, when there is a store
/// to record it in.
fn notify_activation(options: &HostOptions, deployment: &Deployment) -> Result<()> {
    let Some(store) = store_if_any(options)? else {
        return Ok(());
    };
    let raised = deploy::record_switch_in_alerts(store.as_ref(), deployment)
        .context("the version is active, but its notice was not recorded")?;
    if raised > 0 {
        println!(
            "{raised} alerts of {} raised again: its undeploy had resolved them, and \
             only a run's success resolves them now",
            deployment.name
        );
    }
    super::alerts::deliver_after_command(options, &store).map(drop)
}

/// The store, unless it is an embedded one not made yet (nothing has run).
fn store_if_any(options: &HostOptions) -> Result<Option<Arc<dyn slate::store::Store>>> {
    if options.warehouse.is_embedded() && !options.data_dir.store_file().exists() {
        return Ok(None);
    }
    Ok(Some(super::open_store(options, false)?))
}

/// Refuses, as a usage error (exit 2), a name that is neither a processor
/// of `pipeline` nor one the registry has a history of (an undeployed one
/// is known, so that it can be rolled back or its shadow dropped).
pub fn known_processor(pipeline: &Pipeline, registry: &Registry, name: &str) -> Result<()> {
    if !slate::catalog::is_known(pipeline, registry, name)? {
        pipeline.select(&[name.to_string()])?;
    }
    Ok(())
}

/// `slate rollback NAME [--to HASH]`.
pub fn rollback(options: &HostOptions, name: &str, to: Option<&str>) -> Result<ExitCode> {
    if to == Some("") {
        super::usage!("--to needs a hash or a prefix of one");
    }
    let deploying = Deploying::open(options)?;
    known_processor(&deploying.current, &deploying.registry, name)?;
    let deployed = deploying
        .deployer()
        .rollback(name, to)
        .with_context(|| format!("{name} was not rolled back"))?;
    println!(
        "rolled back {} to {} ({}), now active",
        name, deployed.plugin.spec.version, deployed.plugin.hash
    );
    notify_activation(options, &deployed.deployment)?;
    Ok(ExitCode::SUCCESS)
}

/// `slate undeploy NAME`.
pub fn undeploy(options: &HostOptions, name: &str) -> Result<ExitCode> {
    let deploying = Deploying::open(options)?;
    known_processor(&deploying.current, &deploying.registry, name)?;
    // Nothing to undeploy is a usage error (exit 2), as every switch the
    // versions as they stand refuse is ([`super::exit_code`]).
    let undeployed = deploying
        .deployer()
        .undeploy(name)
        .with_context(|| format!("{name} was not undeployed"))?;
    drop(deploying);
    let ended = &undeployed.deployment;
    let now_runs = match &undeployed.bundled_hash {
        Some(hash) => format!("its bundled version ({hash}) runs again"),
        None => "no version of it runs now".to_string(),
    };
    println!(
        "undeployed {name} {} ({}): {now_runs}; the rows it wrote stay \
         (`{}` deploys it again)",
        slate::printable::quoted(&ended.version, 100),
        ended.hash,
        options.command_line(&format!("rollback {name}"))
    );
    if let Some(shadow) = &undeployed.ended_shadow {
        println!(
            "its shadow version ({shadow}) ended too; its tables stay until \
             `slate shadow drop {name}`"
        );
    }
    if undeployed.bundled_hash.is_none()
        && let Some(store) = store_if_any(options)?
    {
        let resolved = deploy::resolve_alerts_of_removed(store.as_ref(), name)
            .context("it is undeployed, but its open alerts were not resolved")?;
        if resolved > 0 {
            println!(
                "{resolved} open alerts of {name} resolved: nothing else could resolve them now"
            );
        }
    }
    notify_activation(options, ended)?;
    Ok(ExitCode::SUCCESS)
}

/// How `slate promote` goes about it.
pub struct Promotion {
    /// Rerun the covered dates with the new version.
    pub backfill: bool,
    /// Keep the shadow's tables.
    pub keep: bool,
    /// Promote a shadow whose every run failed.
    pub force: bool,
}

/// `slate promote NAME [--backfill] [--keep] [--force]`: the shadow version becomes
/// the active one; then, with `--backfill`, the outdated pairs of the
/// dates the shadow covered are rerun (its dates, and downstream of them),
/// and unless `--keep` the shadow's tables are dropped.
pub fn promote(options: &HostOptions, name: &str, promotion: Promotion) -> Result<ExitCode> {
    let Promotion {
        backfill,
        keep,
        force,
    } = promotion;
    let deploying = Deploying::open(options)?;
    deploying.current.select(&[name.to_string()])?;
    let store = super::open_store(options, false)?;
    let shadow = deploying
        .registry
        .shadows()?
        .into_iter()
        .find(|s| s.stored.name == name);
    let covered = match &shadow {
        Some(shadow) => {
            slate::shadow::covered_dates(store.as_ref(), name, &shadow.stored.hash, shadow.since)?
        }
        None => Default::default(),
    };
    if let Some(shadow) = &shadow {
        let (succeeded, failed) = slate::shadow::shadow_run_counts(
            store.as_ref(),
            name,
            &shadow.stored.hash,
            shadow.since,
        )?;
        if succeeded == 0 && failed > 0 && !force {
            anyhow::bail!(
                "{name}'s shadow {} ({}) failed on every date it ran ({failed} runs): \
                 not promoted (--force promotes it all the same)",
                slate::printable::quoted(&shadow.stored.version, 100),
                slate::alerts::event::short_hash(&shadow.stored.hash)
            );
        }
    }
    let deployed = deploying
        .deployer()
        .promote(name)
        .with_context(|| format!("{name} was not promoted"))?;
    // The switch is made: the next may go while the dates are rerun.
    drop(deploying);
    println!(
        "promoted {} {} ({}), now active",
        name, deployed.plugin.spec.version, deployed.plugin.hash
    );
    notify_activation(options, &deployed.deployment)?;
    let mut failed = false;
    if let (true, Some(first), Some(last)) = (backfill, covered.first(), covered.last()) {
        failed = super::backfill::rerun_outdated(options, (*first, *last))?;
    }
    if keep {
        println!("kept the shadow's tables");
    } else {
        for table in slate::shadow::drop_tables(store.as_ref(), name)? {
            println!("dropped {table}");
        }
    }
    println!(
        "`{}` lists any dates still to rerun",
        options.command_line("runs --outdated")
    );
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The runtime and the registry of a command that only lists. Where the
/// data directory does not exist (a mistyped `--data-dir`), nothing is
/// created: no registry, no compiled-component cache, and a note says that
/// only the bundled processors (and `--plugin-dir`'s) are shown.
fn listing_view(options: &HostOptions) -> Result<(Runtime, Option<Registry>)> {
    let missing = !options.data_dir.root().exists() && options.warehouse.state_url()?.is_none();
    if !missing {
        return Ok((runtime(options)?, existing_registry(options)?));
    }
    say!(
        "note: {} does not exist: showing the bundled processors{}, with nothing deployed",
        options.data_dir.root().display(),
        match options.plugin_dir {
            Some(_) => " and --plugin-dir's",
            None => "",
        }
    );
    Ok((Runtime::new(None)?, None))
}

/// `slate plugins`: every processor with its active version.
pub fn list(options: &HostOptions) -> Result<ExitCode> {
    let (runtime, registry) = listing_view(options)?;
    let registry = registry.as_ref();
    let deployed_at: std::collections::HashMap<String, String> = registry
        .map(Registry::active)
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            (
                a.stored.name,
                a.deployed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            )
        })
        .collect();
    // Listed as a server loads them: a processor the table owners refuse
    // is left out, and named.
    let (loaded, left_out) = catalog::load_leaving_out_refused(
        &runtime,
        registry,
        options.plugin_dir.as_deref(),
        &ledger(options)?,
        None,
    )?;
    for out in &left_out {
        say!("warning: {}", out.reason);
    }
    let store = match options.warehouse.is_embedded() && !options.data_dir.store_file().exists() {
        true => None,
        false => Some(super::open_store(options, false)?),
    };
    let mut shadows = std::collections::HashMap::new();
    for shadow in registry
        .map(Registry::shadows)
        .transpose()?
        .unwrap_or_default()
    {
        let Some(live) = loaded
            .iter()
            .find(|l| l.plugin.spec.name == shadow.stored.name)
        else {
            continue;
        };
        let store = store.as_deref();
        let standing = ShadowStanding::of(store, &shadow, &live.plugin.spec.output_table)?;
        let hash = &standing.hash[..standing.hash.len().min(12)];
        shadows.insert(
            shadow.stored.name.clone(),
            format!("{} ({hash}): {}", standing.version, standing.coverage()),
        );
    }
    // A shared registry knows which serving hosts compiled each version.
    let shared = registry.is_some_and(Registry::announces_changes);
    let mut compiled_on: std::collections::HashMap<String, Vec<String>> = Default::default();
    for compiled in registry
        .map(Registry::compiled)
        .transpose()?
        .unwrap_or_default()
    {
        compiled_on
            .entry(compiled.hash)
            .or_default()
            .push(compiled.host_id);
    }
    let mut columns = vec![
        "name",
        "version",
        "hash",
        "phase",
        "dependencies",
        "source",
        "deployed_at",
        "shadow",
    ];
    if shared {
        columns.push("compiled on");
    }
    let mut output = table(&columns);
    for entry in &loaded {
        let spec = &entry.plugin.spec;
        let source = match &entry.origin {
            Origin::Bundled => "bundled".to_string(),
            Origin::Registry => "registry".to_string(),
            Origin::PluginDir(path) => path.display().to_string(),
        };
        let mut row = vec![
            spec.name.clone(),
            spec.version.clone(),
            entry.plugin.hash.clone(),
            spec.phase.to_string(),
            spec.upstream_reads().join(", "),
            source,
            match entry.origin {
                Origin::Registry => deployed_at.get(&spec.name).cloned().unwrap_or_default(),
                _ => "-".to_string(),
            },
            shadows
                .remove(&spec.name)
                .unwrap_or_else(|| "-".to_string()),
        ];
        if shared {
            row.push(match entry.origin {
                Origin::Registry => compiled_on
                    .get(&entry.plugin.hash)
                    .map_or_else(|| "none yet".to_string(), |hosts| hosts.join(", ")),
                _ => "-".to_string(),
            });
        }
        output.add_row(row);
    }
    super::render::print(&output);
    Ok(ExitCode::SUCCESS)
}

/// `slate plugins history NAME`: every deployment of one processor, newest first.
pub fn history(options: &HostOptions, name: &str) -> Result<ExitCode> {
    let (runtime, registry) = listing_view(options)?;
    let history = match &registry {
        Some(registry) => registry.history_with_shadows(name)?,
        None => Vec::new(),
    };
    if history.is_empty() {
        // An unknown name is a usage error (exit 2); a bundled processor
        // never deployed has no history, which is no failure.
        processors_as_served(&runtime, registry.as_ref(), options, &ledger(options)?)?
            .0
            .select(&[name.to_string()])?;
        println!(
            "{name} has never been deployed through the registry: it runs its bundled version"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut output = table(&["hash", "version", "action", "deployed_at", "active"]);
    for deployment in &history {
        output.add_row(vec![
            deployment.hash.clone(),
            // Recorded by a host before versions were checked, it may hold
            // a control character or run to megabytes.
            slate::printable::quoted(&deployment.version, 100),
            deployment.action.to_string(),
            deployment
                .deployed_at
                .format("%Y-%m-%d %H:%M:%S%.3f")
                .to_string(),
            if deployment.active { "active" } else { "" }.to_string(),
        ]);
    }
    super::render::print(&output);
    Ok(ExitCode::SUCCESS)
}

/// Prints or writes the output schemas of every loaded processor.
pub fn schemas(options: &HostOptions, out: Option<&std::path::Path>) -> Result<ExitCode> {
    let runtime = runtime(options)?;
    let registry = existing_registry(options)?;
    let ledger = ledger(options)?;
    if let Some(dir) = out.filter(|dir| dir.exists() && !dir.is_dir()) {
        super::usage!(
            "--out {} is a file: give a folder (made if missing) for the schema files",
            dir.display()
        );
    }
    for plugin in load_processors(&runtime, registry.as_ref(), options, &ledger)? {
        let spec = &plugin.spec;
        let json = super::render::json_text(&spec.schema.columns)? + "\n";
        match out {
            Some(dir) => {
                // A folder that cannot be made (under a file, say) is the
                // command line's, exit 2, as `--out FILE` is.
                std::fs::create_dir_all(dir).map_err(|e| {
                    super::UsageError(format!("cannot make the folder {}: {e}", dir.display()))
                })?;
                let path = dir.join(format!("{}.json", spec.output_table));
                std::fs::write(&path, json)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("{}", path.display());
            }
            None => println!("{} ({})\n{json}", spec.output_table, spec.name),
        }
    }
    Ok(ExitCode::SUCCESS)
}
