//! Loading processor components and running them, one fresh instance per run.
//!
//! A [`Runtime`] owns the wasmtime engine and a linker with the host imports,
//! built once. [`Runtime::load`] turns component bytes into a [`Plugin`]:
//! compiled once per content hash (cached on disk), linked once into an
//! `InstancePre`, with its `info` read and checked. [`Plugin::instantiate`]
//! then creates a fresh `Store` and instance for every (processor, date) run.

mod compiled;
pub mod sandbox;
pub mod source_map;
pub mod spec;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, Store, UpdateDeadline};

use crate::bindings::{self, ProcessError, ProcessorPlugin, ProcessorPluginPre, RowSet};
use crate::store::input::{InputSource, NoTables};
pub use compiled::CompiledCache;
pub use sandbox::InputFailure;
use sandbox::{RunIdentity, RunState};
pub use spec::{InvalidSpec, ProcessorSpec};

use crate::limits::LimitBreach;
pub use crate::limits::RunLimits;
use crate::rows::wit_date;
use crate::runs::RunUsage;
use crate::schema::TableName;
use crate::upstream_check::ReadWindow;

/// How often the engine's epoch advances: the granularity of CPU deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a component could not become a plugin. Each names the check that failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The bytes are a core module or not WebAssembly at all.
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// Cranelift refused the component.
    #[error("cannot compile the component: {0}")]
    Compile(String),
    /// The component's imports or exports do not match `slate:processor@0.1.x`.
    #[error("the component does not implement slate:processor@0.1.x: {0}")]
    Contract(String),
    /// `info` could not be read: the instance could not start, or `info` trapped.
    #[error("invalid processor info: {0}")]
    Info(String),
    /// `info` described an unusable processor.
    #[error("invalid processor info: {0}")]
    Spec(#[source] InvalidSpec),
}

/// Why the host stopped a run that was still executing.
#[derive(Debug, thiserror::Error)]
pub enum Cancelled {
    /// The run kept going past the host's max runtime.
    #[error("cancelled by the host: the run exceeded its max runtime")]
    MaxRuntime,
}

/// How many runs a pooling runtime keeps slots for at once, by default.
pub const POOLED_RUNS: u32 = 64;

/// How much of each pooled linear memory stays resident between runs, by
/// default: reset with `memset` instead of returned to the kernel, so the
/// next run in the slot takes no page faults on it.
pub const KEEP_RESIDENT_BYTES: usize = 32 << 20;

/// Engine options of a [`Runtime`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// Meter fuel, so that [`RunLimits::fuel`] is enforced.
    pub fuel: bool,
    /// Use the pooling instance allocator with slots for this many
    /// concurrent runs (`None`: allocate on demand). Memories and instances
    /// come from pre-reserved slots, which makes instantiation cheaper at
    /// the cost of reserving address space for them; the first
    /// [`RuntimeOptions::keep_resident_bytes`] of each memory stay resident
    /// between runs.
    pub pooled_runs: Option<u32>,
    /// With pooling, how much of each linear memory stays resident between
    /// the runs that reuse its slot.
    pub keep_resident_bytes: usize,
    /// With pooling, the largest a linear memory may grow (0: 1 GiB): the
    /// largest memory cap of any processor, so a slot never refuses growth
    /// that the run's own limit allows.
    pub max_memory_bytes: u64,
    /// Write `/tmp/perf-<pid>.map` as components compile, so that `perf
    /// report` names the guest's functions. For profiling processors.
    pub perf_map: bool,
}

/// The guard pages after each linear memory when `ulimit -v` leaves no
/// room for the pool: compiled code checks every access's bounds then.
const LIMITED_GUARD_BYTES: u64 = 64 << 10;

/// The process's address-space limit in bytes (`ulimit -v`), if it has one.
pub fn address_space_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::As).current
}

/// The engine, the linked host imports and the compile cache.
pub struct Runtime {
    engine: Engine,
    fuel: bool,
    linker: Linker<RunState>,
    cache: Option<CompiledCache>,
    ticker_stop: Arc<AtomicBool>,
}

impl Runtime {
    /// A runtime that caches compiled components in `cache_dir`, if given.
    pub fn new(cache_dir: Option<&Path>) -> Result<Self, PluginError> {
        Self::with_options(cache_dir, RuntimeOptions::default())
    }

    /// A runtime that also meters fuel, so that [`RunLimits::fuel`] is
    /// enforced. Metering costs every run some speed.
    pub fn with_fuel(cache_dir: Option<&Path>) -> Result<Self, PluginError> {
        Self::with_options(
            cache_dir,
            RuntimeOptions {
                fuel: true,
                ..RuntimeOptions::default()
            },
        )
    }

    /// A runtime with explicit engine options.
    pub fn with_options(
        cache_dir: Option<&Path>,
        options: RuntimeOptions,
    ) -> Result<Self, PluginError> {
        let RuntimeOptions {
            fuel,
            pooled_runs,
            keep_resident_bytes,
            max_memory_bytes,
            perf_map,
        } = options;
        let mut config = Config::new();
        if let Some(runs) = pooled_runs {
            let mut pool = wasmtime::PoolingAllocationConfig::default();
            pool.total_component_instances(runs)
                .total_core_instances(runs * 8)
                .total_memories(runs * 2)
                .total_tables(runs * 4)
                .max_memory_size(match max_memory_bytes {
                    0 => 1 << 30,
                    bytes => usize::try_from(bytes).unwrap_or(usize::MAX),
                })
                .linear_memory_keep_resident(keep_resident_bytes)
                // Where Linux has PAGEMAP_SCAN (6.7 and later), a slot's
                // reset touches only the pages its last run dirtied.
                .pagemap_scan(wasmtime::Enabled::Auto)
                .table_keep_resident(keep_resident_bytes.min(1 << 20));
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        // A trap's record shows where in the guest it happened; 32 frames
        // say that, while a runaway recursion would capture thousands.
        if perf_map {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        config
            .epoch_interruption(true)
            .consume_fuel(fuel)
            .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(32));
        let engine = match Engine::new(&config) {
            Ok(engine) => engine,
            // The pool reserves every slot's address space up front (tens
            // of GiB, nearly none of it ever touched): more than a
            // `ulimit -v` may allow. Runs then allocate as they start.
            Err(error) if pooled_runs.is_some() && address_space_limit().is_some() => {
                let reserved = match max_memory_bytes {
                    0 => 1 << 30,
                    bytes => bytes,
                };
                tracing::warn!(
                    "the instance pool needs more address space than `ulimit -v` allows \
                     ({} KiB): {error:#}; runs allocate their memory as they start instead, \
                     {} MiB reserved for each, with bounds checks in the compiled code \
                     (slower). Raise `ulimit -v` for the pool",
                    address_space_limit().unwrap_or_default() >> 10,
                    reserved >> 20,
                );
                config
                    .allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand)
                    .memory_reservation(reserved)
                    .memory_guard_size(LIMITED_GUARD_BYTES);
                Engine::new(&config).map_err(|e| PluginError::Compile(format!("{e:#}")))?
            }
            Err(error) => return Err(PluginError::Compile(format!("{error:#}"))),
        };
        let mut linker = Linker::new(&engine);
        let link = |e: wasmtime::Error| PluginError::Contract(format!("{e:#}"));
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(link)?;
        bound_waits_by_the_deadline(&mut linker).map_err(link)?;
        ProcessorPlugin::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |state| state)
            .map_err(link)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (weak_engine, stop) = (engine.weak(), ticker_stop.clone());
        std::thread::Builder::new()
            .name("slate-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak_engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawn the epoch ticker");
        let cache = cache_dir.map(|dir| CompiledCache::new(dir, &engine));
        Ok(Runtime {
            engine,
            fuel,
            linker,
            cache,
            ticker_stop,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles (or loads from cache), links and describes a component.
    pub fn load(&self, bytes: &[u8]) -> Result<Plugin, PluginError> {
        const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        if bytes.len() < 8 || bytes[..4] != COMPONENT_PREAMBLE[..4] {
            return Err(PluginError::NotAComponent(
                "the file does not start with \\0asm".into(),
            ));
        }
        if bytes[4..8] != COMPONENT_PREAMBLE[4..] {
            return Err(PluginError::NotAComponent(
                "this is a core module; build for wasm32-wasip2 to get a component".into(),
            ));
        }
        let hash = content_hash(bytes);
        let component = match &self.cache {
            Some(cache) => cache.load(&self.engine, &hash, bytes),
            None => wasmtime::component::Component::new(&self.engine, bytes),
        }
        .map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::Contract(format!("{e:#}")))?;
        let pre = ProcessorPluginPre::new(instance_pre)
            .map_err(|e| PluginError::Contract(format!("{e:#}")))?;
        let declared = read_info(&pre, self.fuel)?;
        let spec = ProcessorSpec::from_declaration(&declared.info, declared.season)
            .map_err(PluginError::Spec)?;
        let inputs = spec.inputs.clone().into();
        Ok(Plugin {
            hash,
            spec: Arc::new(spec),
            plugin_file: None,
            inputs,
            fuel: self.fuel,
            source_map: source_map::BundleSourceMap::of_component(bytes).map(Arc::new),
            pre,
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Replaces WASI's timer subscriptions with ones that refuse to wait past
/// the run's wall-clock deadline ([`RunState::check_wait`]), and that end
/// when the host cancels the run ([`RunState::subscribe_wait`]). Without
/// this, a guest that sleeps would block its host thread beyond every
/// limit and every cancel, since epoch interruption only reaches guest
/// code.
fn bound_waits_by_the_deadline(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::clocks::WasiClocksView;
    use wasmtime_wasi::p2::DynPollable;
    use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host as MonotonicClock;

    linker.allow_shadowing(true);
    let mut clock = linker.instance("wasi:clocks/monotonic-clock@0.2.12")?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: wasmtime::StoreContextMut<'_, RunState>,
         (nanos,): (u64,)|
         -> wasmtime::Result<(Resource<DynPollable>,)> {
            Ok((store
                .data_mut()
                .subscribe_wait(Duration::from_nanos(nanos))?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: wasmtime::StoreContextMut<'_, RunState>,
         (when,): (u64,)|
         -> wasmtime::Result<(Resource<DynPollable>,)> {
            let state = store.data_mut();
            let now = state.clocks().now()?;
            Ok((state.subscribe_wait(Duration::from_nanos(when.saturating_sub(now)))?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The hex SHA-256 of a component's bytes: its identity everywhere in Slate.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A version's hash, or a prefix of it, as someone typed it: hex digits,
/// taken in either case (hashes are written in lower case). Refused, with
/// why, when it is empty or holds anything else, which no version's hash
/// could start with.
pub fn hash_prefix(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("an empty hash names no version: give a hash or a prefix of one".into());
    }
    if !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "{text:?} is no hash: a version is named by the hex digits of its SHA-256, \
             or a prefix of them"
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// A loaded processor: its content hash, its checked spec, and its
/// pre-linked component, ready to instantiate per run.
#[derive(Clone)]
pub struct Plugin {
    /// The hex SHA-256 of the component bytes.
    pub hash: String,
    /// What the processor declared.
    pub spec: Arc<ProcessorSpec>,
    /// The plugin-folder file it was loaded from, if it was: a host serves
    /// such a file in place of any registry version of its name.
    pub plugin_file: Option<Arc<std::path::Path>>,
    /// The declared input tables, shared by every run's sandbox.
    inputs: Arc<[TableName]>,
    /// Whether its runtime meters fuel.
    fuel: bool,
    /// Where its JavaScript bundle's lines come from, for its logged stacks.
    source_map: Option<Arc<source_map::BundleSourceMap>>,
    pre: ProcessorPluginPre<RunState>,
}

impl Plugin {
    /// A fresh store and instance for one run, reading upstream outputs
    /// no further back than `window`.
    /// Setting `cancel` stops it at the next epoch tick.
    pub fn instantiate(
        &self,
        identity: RunIdentity,
        source: Arc<dyn InputSource>,
        window: ReadWindow,
        limits: RunLimits,
        cancel: Arc<AtomicBool>,
    ) -> wasmtime::Result<Instance> {
        let sandbox = Sandbox {
            inputs: self.inputs.clone(),
            window,
            limits,
            fuel: self.fuel,
            cancel,
            source_map: self.source_map.clone(),
        };
        new_instance(&self.pre, identity, source, sandbox)
    }
}

impl Plugin {
    /// Like [`Plugin::instantiate`], but links the component anew instead of
    /// using the `InstancePre`. Slower by design: it exists to measure what
    /// linking once per version saves.
    pub fn instantiate_relinking(
        &self,
        runtime: &Runtime,
        identity: RunIdentity,
        source: Arc<dyn InputSource>,
        limits: RunLimits,
    ) -> wasmtime::Result<Instance> {
        let component = self.pre.instance_pre().component().clone();
        let pre = ProcessorPluginPre::new(runtime.linker.instantiate_pre(&component)?)?;
        let sandbox = Sandbox {
            inputs: self.inputs.clone(),
            window: ReadWindow::default(),
            limits,
            fuel: self.fuel,
            cancel: Arc::new(AtomicBool::new(false)),
            source_map: self.source_map.clone(),
        };
        new_instance(&pre, identity, source, sandbox)
    }
}

/// What a component declares: its `info`, and the answer of its optional
/// `season` export (0.1.2), `None` where it has none.
struct Declared {
    info: bindings::ProcessorInfo,
    season: Option<bindings::SeasonReads>,
}

/// Reads `info`, and `reads-over-season` where the component exports it, from
/// a throwaway instance that may read no table.
fn read_info(pre: &ProcessorPluginPre<RunState>, fuel: bool) -> Result<Declared, PluginError> {
    use bindings::season::exports::slate::processor::season::GuestIndices as SeasonIndices;

    let identity = RunIdentity {
        processor: "(info)".into(),
        date: chrono::NaiveDate::default(),
        run_id: "info".into(),
    };
    let sandbox = Sandbox {
        inputs: Arc::new([]),
        window: ReadWindow::default(),
        limits: RunLimits::for_info(),
        fuel,
        cancel: Arc::new(AtomicBool::new(false)),
        source_map: None,
    };
    let cannot_instantiate =
        |e: wasmtime::Error| PluginError::Info(format!("cannot instantiate: {}", trap_summary(&e)));
    let mut store =
        new_store(pre, identity, Arc::new(NoTables), sandbox).map_err(cannot_instantiate)?;
    let instance = pre
        .instance_pre()
        .instantiate(&mut store)
        .map_err(cannot_instantiate)?;
    let contract = |e: wasmtime::Error| PluginError::Contract(format!("{e:#}"));
    // A trap's panic message is on the guest's stderr, not in the trap.
    let trapped = |store: &Store<RunState>, call: &str, e: wasmtime::Error| {
        let stderr = store.data().guest_stderr();
        let trap = trap_summary(&e);
        PluginError::Info(if stderr.is_empty() {
            format!("{call} trapped: {trap}")
        } else {
            format!("{call} trapped: {stderr}\n{trap}")
        })
    };
    let processor = bindings::ProcessorPluginIndices::new(pre.instance_pre())
        .and_then(|indices| indices.load(&mut store, &instance))
        .map_err(contract)?;
    let info = processor
        .slate_processor_processor()
        .call_info(&mut store)
        .map_err(|e| trapped(&store, "info()", e))?;
    // Only a missing export is a component without it; one of another
    // type breaks the contract.
    let season = match SeasonIndices::new(pre.instance_pre()) {
        Err(_) => None,
        Ok(indices) => indices
            .load(&mut store, &instance)
            .map_err(contract)?
            .call_reads_over_season(&mut store)
            .map_err(|e| trapped(&store, "reads-over-season()", e))?,
    };
    Ok(Declared { info, season })
}

/// A trap in one line: a limit breach as its message, anything else as its
/// root cause (e.g. "wasm `unreachable` instruction executed").
fn trap_summary(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<LimitBreach>() {
        Some(breach) => breach.to_string(),
        None => error.root_cause().to_string(),
    }
}

/// What a run's sandbox is given besides its identity and input source.
struct Sandbox {
    inputs: Arc<[TableName]>,
    window: ReadWindow,
    limits: RunLimits,
    fuel: bool,
    cancel: Arc<AtomicBool>,
    source_map: Option<Arc<source_map::BundleSourceMap>>,
}

/// A fresh store with its limits, fuel and epoch deadline, and an instance in it.
fn new_instance(
    pre: &ProcessorPluginPre<RunState>,
    identity: RunIdentity,
    source: Arc<dyn InputSource>,
    sandbox: Sandbox,
) -> wasmtime::Result<Instance> {
    let mut store = new_store(pre, identity, source, sandbox)?;
    let bindings = pre.instantiate(&mut store)?;
    Ok(Instance { store, bindings })
}

/// A fresh store for one instance, with its limits, fuel and epoch deadline.
///
/// The epoch callback runs every tick while the guest executes: it stops
/// the run when `cancel` is set, and when its CPU time or wall-clock time
/// is spent, with a [`LimitBreach`] that says which and by how much.
fn new_store(
    pre: &ProcessorPluginPre<RunState>,
    identity: RunIdentity,
    source: Arc<dyn InputSource>,
    sandbox: Sandbox,
) -> wasmtime::Result<Store<RunState>> {
    let Sandbox {
        inputs,
        window,
        limits,
        fuel,
        cancel,
        source_map,
    } = sandbox;
    let state = RunState::new(identity, inputs, window, source, limits)
        .cancelled_by(cancel.clone())
        .mapping_stacks_by(source_map);
    let mut store = Store::new(pre.engine(), state);
    store.limiter(|state| state.limiter());
    store.set_hostcall_fuel(limits.hostcall_bytes());
    if fuel {
        store.set_fuel(limits.fuel.unwrap_or(u64::MAX))?;
    }
    let tick = EPOCH_TICK.as_millis() as u64;
    let cpu_budget = (limits.cpu_time.as_millis() as u64 / tick).max(1);
    let started = std::time::Instant::now();
    let mut ticks_used = 0;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        ticks_used += 1;
        if cancel.load(Ordering::Relaxed) {
            return Err(wasmtime::Error::new(Cancelled::MaxRuntime));
        }
        if ticks_used >= cpu_budget {
            let (limit, observed) = (limits.cpu_time.as_millis() as u64, ticks_used * tick);
            return Err(wasmtime::Error::new(LimitBreach::CpuTime {
                limit,
                observed,
            }));
        }
        let elapsed = started.elapsed();
        if elapsed > limits.wall_time {
            let limit = limits.wall_time.as_millis() as u64;
            return Err(wasmtime::Error::new(LimitBreach::WallTime {
                limit,
                observed: elapsed.as_millis() as u64,
            }));
        }
        Ok(UpdateDeadline::Continue(1))
    });
    Ok(store)
}

/// One live instance of a plugin, for one run.
pub struct Instance {
    store: Store<RunState>,
    bindings: ProcessorPlugin,
}

impl Instance {
    /// Calls `process` for `date`. The outer error is a trap; the inner one
    /// is the processor's own typed error.
    pub fn process(
        &mut self,
        date: chrono::NaiveDate,
    ) -> wasmtime::Result<Result<RowSet, ProcessError>> {
        let returned = self
            .bindings
            .slate_processor_processor()
            .call_process(&mut self.store, wit_date(date));
        // A guest whose wait the cancel ended may return before the next
        // epoch tick reaches it: it is cancelled all the same.
        match self.store.data().is_cancelled() {
            true => Err(wasmtime::Error::new(Cancelled::MaxRuntime)),
            false => returned,
        }
    }

    /// What the guest wrote to stderr, such as a panic message.
    pub fn guest_stderr(&self) -> String {
        self.store.data().guest_stderr()
    }

    /// Rows read through the host so far.
    pub fn rows_read(&self) -> u64 {
        self.store.data().rows_read()
    }

    /// The first read of an input that failed in the store, if one did.
    pub fn input_failure(&self) -> Option<InputFailure> {
        self.store.data().input_failure().cloned()
    }

    /// What the guest has used so far: log lines dropped, peak memory.
    pub fn usage(&self) -> RunUsage {
        let state = self.store.data();
        RunUsage {
            log_lines_dropped: state.log_lines_dropped(),
            peak_memory_bytes: state.peak_memory(),
        }
    }
}
