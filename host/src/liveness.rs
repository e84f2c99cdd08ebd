//! Leases on running runs, so that a crashed host can never stall the pipeline.
//!
//! Every run holds a lease in the store. While it executes, this host's
//! [`LeaseKeeper`] renews it every heartbeat. A `running` record whose lease
//! has expired is stale, and reaping marks it `failed` with kind `stale`
//! ("host H stopped renewing at T"), which frees its (processor, date).
//!
//! The keeper reaps at start, at every heartbeat, and whenever asked (before
//! every completeness check). At start it also expires at once the leases of
//! this machine's previous incarnations whose process is gone, without
//! waiting for their leases to run out. A run that keeps heartbeating past
//! the max runtime is flagged, and cancelled, since this host owns it.
//! A host that shuts down can also stop every run it holds at once
//! ([`LeaseKeeper::stop_all_for_shutdown`]), so that each ends `failed`
//! with kind `shutdown` rather than `running`.
//!
//! A run whose end its host could not record, because the store failed,
//! is given up: its guard is dropped without the run being
//! [settled](LeaseKeeper::settle), and at each heartbeat until the store
//! answers the keeper tries to flag it with the store's error and expire
//! its lease, so that the reaper ends it at once (from the commit log, on a
//! store that keeps one) with that error in its reason, rather than a
//! lease later as a host that "stopped renewing" without a word.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::runs::{ErrorKind, RunFilter, RunRecord, RunStatus};
use crate::store::{Store, StoreError};

/// How leases are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseConfig {
    /// How often a running run's lease is renewed.
    pub heartbeat: Duration,
    /// How long a lease holds without renewal.
    pub lease: Duration,
    /// How long a run may keep heartbeating before it is flagged and cancelled.
    pub max_runtime: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            heartbeat: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            max_runtime: Duration::from_secs(4 * 60 * 60),
        }
    }
}

struct InFlight {
    /// When it began executing; `None` while it waits for a worker, which
    /// does not count against the max runtime.
    started: Option<Instant>,
    cancel: Arc<AtomicBool>,
    shutdown: Arc<AtomicBool>,
    /// Set once its end (or another host's reap of it) is recorded: its
    /// guard may then go without giving it up.
    settled: bool,
    /// The store's last error about it, said when it is given up.
    store_error: Option<String>,
}

/// A run this host gave up because the store failed as it tried to record
/// the run's end, and why: flagged and its lease expired once the store
/// answers again.
struct GivenUp {
    run_id: String,
    why: String,
}

struct Keeper {
    store: Arc<dyn Store>,
    /// This process's host id.
    host_id: String,
    config: LeaseConfig,
    in_flight: Mutex<HashMap<String, InFlight>>,
    stopping: Mutex<bool>,
    wake: Condvar,
    reaped: AtomicU64,
    on_reaped: Mutex<Vec<ReapedHook>>,
    /// The runs reaped as the keeper started, before any hook was told.
    reaped_at_start: Vec<RunRecord>,
    /// Set by [`LeaseKeeper::stop_all_for_shutdown`]: a run tracked after
    /// it is stopped as it starts.
    shutting_down: AtomicBool,
    /// Set when a run starts its clock: the keeper's wait ends, to wake
    /// again at that run's max runtime if it comes before the heartbeat.
    clock_started: AtomicBool,
    /// The runs given up and not yet handed to the reaper.
    given_up: Mutex<Vec<GivenUp>>,
}

/// Told of every run this keeper reaps, with its final (failed, `stale`)
/// record: a reaped run ends, as far as anyone watching runs is concerned.
pub type ReapedHook = Arc<dyn Fn(&RunRecord) + Send + Sync>;

/// Renews this host's leases and reaps stale runs, on a background thread.
pub struct LeaseKeeper {
    keeper: Arc<Keeper>,
}

/// A run's registration with the keeper; dropping it stops the renewals.
pub struct LeaseGuard {
    keeper: Weak<Keeper>,
    run_id: String,
    cancel: Arc<AtomicBool>,
    shutdown: Arc<AtomicBool>,
}

impl LeaseGuard {
    /// Set when the run must stop (it passed the max runtime, or the host
    /// is shutting down); the sandbox checks it at every epoch tick.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Whether the run was stopped because its host is shutting down.
    pub fn stopped_by_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Starts the run's max-runtime clock: it begins executing now. Until
    /// then (claimed, and queued for a worker) it cannot overrun.
    pub fn start_clock(&self) {
        if let Some(keeper) = self.keeper.upgrade()
            && let Some(run) = keeper.lock_in_flight().get_mut(&self.run_id)
        {
            run.started.get_or_insert_with(Instant::now);
            keeper.clock_started.store(true, Ordering::SeqCst);
            keeper.wake.notify_all();
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let Some(keeper) = self.keeper.upgrade() else {
            return;
        };
        let Some(run) = keeper.lock_in_flight().remove(&self.run_id) else {
            return;
        };
        // A panic's unwinding ends the run itself (kind `host`).
        if run.settled || std::thread::panicking() {
            return;
        }
        let why = format!(
            "its host gave it up: {}",
            run.store_error
                .as_deref()
                .unwrap_or("the store failed as it went on")
        );
        tracing::warn!(
            run_id = %self.run_id,
            "the run's end could not be recorded; it is given up, for the reaper to end once \
             the store answers ({why})"
        );
        keeper.lock_given_up().push(GivenUp {
            run_id: self.run_id.clone(),
            why,
        });
    }
}

impl Keeper {
    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<String, InFlight>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_given_up(&self) -> std::sync::MutexGuard<'_, Vec<GivenUp>> {
        self.given_up.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Flags each run given up with why, and expires its lease, for the
    /// reap that follows to end it; those the store still refuses wait for
    /// the next heartbeat.
    fn hand_given_up_runs_to_the_reaper(&self) {
        let given_up = std::mem::take(&mut *self.lock_given_up());
        let mut refused = Vec::new();
        for run in given_up {
            let handed = self.store.flag_run(&run.run_id, &run.why).and_then(|()| {
                self.store
                    .renew_leases(std::slice::from_ref(&run.run_id), Duration::ZERO)
            });
            match handed {
                // A run already ended (reaped meanwhile) is renewed by
                // nothing: it is the reaper's already.
                Ok(_) | Err(StoreError::NotRunning(_)) => {}
                Err(error) => {
                    tracing::debug!(run_id = %run.run_id, "a run given up waits for the store: {error}");
                    refused.push(run);
                }
            }
        }
        self.lock_given_up().extend(refused);
    }

    /// Waits `timeout`, or until a run starts its clock; true when the
    /// keeper is stopping.
    fn wait(&self, timeout: Duration) -> bool {
        let stopping = self.stopping.lock().unwrap_or_else(|p| p.into_inner());
        let (stopping, _) = self
            .wake
            .wait_timeout_while(stopping, timeout, |stop| {
                !*stop && !self.clock_started.swap(false, Ordering::SeqCst)
            })
            .unwrap_or_else(|p| p.into_inner());
        *stopping
    }

    /// How long until the next heartbeat, `since_beat` after the last, or
    /// the first run still going passes its max runtime, whichever is
    /// sooner: a max runtime shorter than the heartbeat is kept, not
    /// rounded up to it.
    fn next_wake(&self, since_beat: Duration) -> Duration {
        let to_beat = self.config.heartbeat.saturating_sub(since_beat);
        let to_overdue = self
            .lock_in_flight()
            .values()
            .filter(|run| !run.cancel.load(Ordering::SeqCst))
            .filter_map(|run| run.started)
            .map(|started| self.config.max_runtime.saturating_sub(started.elapsed()))
            .min();
        // Just past the max runtime, so that the run is over it.
        to_overdue.map_or(to_beat, |overdue| {
            to_beat.min(overdue + Duration::from_millis(1))
        })
    }

    /// Flags and cancels each run past its max runtime, once.
    fn cancel_overdue(&self) -> Result<(), StoreError> {
        let overdue: Vec<String> = self
            .lock_in_flight()
            .iter()
            .filter(|(_, run)| {
                run.started
                    .is_some_and(|started| started.elapsed() > self.config.max_runtime)
            })
            .filter(|(_, run)| !run.cancel.swap(true, Ordering::SeqCst))
            .map(|(id, _)| id.clone())
            .collect();
        for run_id in overdue {
            let reason = format!(
                "still running after the max runtime of {:?}; cancelling",
                self.config.max_runtime
            );
            tracing::warn!(run_id, "{reason}");
            self.store.flag_run(&run_id, &reason)?;
        }
        Ok(())
    }

    fn heartbeat(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.hand_given_up_runs_to_the_reaper();
        self.cancel_overdue()?;
        let ids: Vec<String> = self.lock_in_flight().keys().cloned().collect();
        if !ids.is_empty() {
            let renewed = self.store.renew_leases(&ids, self.config.lease)?;
            if renewed < ids.len() {
                self.warn_of_lost_leases(&ids)?;
            }
        }
        // A command on this machine killed since, whose pid is gone, need
        // not wait out its leases to read as what it is: stale.
        expire_leases_of_gone_processes(self.store.as_ref(), &self.host_id, None, Utc::now())?;
        self.reap()
    }

    /// Says which of `ids`, not renewed, were reaped as stale (by another
    /// host, or this one after a stall) rather than ended: they go on
    /// running here, and their commits will be refused.
    fn warn_of_lost_leases(&self, ids: &[String]) -> Result<(), StoreError> {
        for run_id in ids {
            if let Some(run) = self.store.run(run_id)?
                && run.error_kind == Some(ErrorKind::Stale)
            {
                tracing::warn!(
                    run_id,
                    reason = run.reason.as_deref().unwrap_or_default(),
                    "this run lost its lease: it was reaped as stale and will write nothing"
                );
            }
        }
        Ok(())
    }

    /// Reaps stale runs now, counting them and telling the hooks.
    fn reap(&self) -> Result<Vec<RunRecord>, StoreError> {
        let reaped = self.store.reap_stale(Utc::now())?;
        self.reaped
            .fetch_add(reaped.len() as u64, Ordering::Relaxed);
        let hooks = self.on_reaped.lock().unwrap_or_else(|e| e.into_inner());
        for run in &reaped {
            for hook in hooks.iter() {
                hook(run);
            }
        }
        Ok(reaped)
    }
}

/// What [`reap_on_start`] cleaned up.
#[derive(Debug, Default)]
pub struct Reaped {
    /// Runs failed as stale.
    pub runs: Vec<RunRecord>,
    /// Staging tables of killed runs, dropped.
    pub staging: Vec<crate::schema::TableName>,
}

/// When this process started, as far as its run records can tell: fixed
/// the first time it is asked, which the `slate` binary does first thing.
pub fn process_started() -> DateTime<Utc> {
    static STARTED: std::sync::LazyLock<DateTime<Utc>> = std::sync::LazyLock::new(Utc::now);
    *STARTED
}

/// What every command that reaps does first, so that they all apply the
/// same rule: the runs of this machine's dead earlier processes (a `slate`
/// whose pid is gone) are made stale at once, and so are the runs recorded
/// under this process's own id before it started (`started`): a container
/// restarted keeps its hostname and pid, so its new process has the old
/// one's id. Then every run whose lease expired before `now` is failed as
/// stale, and staging tables killed runs left are dropped. `host_id` is
/// this process's own id.
pub fn reap_on_start(
    store: &dyn Store,
    host_id: &str,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Reaped, StoreError> {
    expire_leases_of_gone_processes(store, host_id, Some(started), now)?;
    let runs = store.reap_stale(now)?;
    for run in &runs {
        tracing::warn!(run_id = %run.run_id, processor = %run.processor, date = %run.data_date, "reaped stale run");
    }
    let staging = store.sweep_staging(now)?;
    Ok(Reaped { runs, staging })
}

/// Makes stale at `now` the running runs of this machine's processes that
/// are gone (a `slate` killed, whose pid no longer runs), and, with
/// `started`, those recorded under this process's own id before it
/// started: their leases would otherwise hold them `running` until they
/// expire. `host_id` is this process's own id.
fn expire_leases_of_gone_processes(
    store: &dyn Store,
    host_id: &str,
    started: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Hosts and start times only: each run's upstream check goes unread.
    let running = store.runs(&RunFilter {
        status: Some(RunStatus::Running),
        skip_upstream_check: true,
        ..RunFilter::default()
    })?;
    let mut expired: Vec<&str> = Vec::new();
    for run in &running {
        if expired.contains(&run.host_id.as_str()) {
            continue;
        }
        let count = if is_dead_incarnation(&run.host_id, host_id) {
            store.expire_leases(&run.host_id, now)?
        } else if let Some(started) = started
            && run.host_id == host_id
            && run.started_at < started
        {
            store.expire_leases(host_id, started)?
        } else {
            continue;
        };
        tracing::warn!(host = %run.host_id, runs = count, "the process that recorded these runs is gone: they are stale");
        expired.push(&run.host_id);
    }
    Ok(())
}

impl LeaseKeeper {
    /// Starts keeping leases for `host_id` on `store`: expires the leases of
    /// this machine's dead previous incarnations, reaps, then renews and
    /// reaps every heartbeat until dropped.
    pub fn start(
        store: Arc<dyn Store>,
        host_id: &str,
        config: LeaseConfig,
    ) -> Result<Self, StoreError> {
        let reaped = reap_on_start(store.as_ref(), host_id, process_started(), Utc::now())?;
        let keeper = Arc::new(Keeper {
            store,
            host_id: host_id.to_string(),
            config,
            in_flight: Mutex::default(),
            stopping: Mutex::new(false),
            wake: Condvar::new(),
            reaped: AtomicU64::new(reaped.runs.len() as u64),
            on_reaped: Mutex::default(),
            reaped_at_start: reaped.runs,
            shutting_down: AtomicBool::new(false),
            clock_started: AtomicBool::new(false),
            given_up: Mutex::default(),
        });
        let weak = Arc::downgrade(&keeper);
        std::thread::Builder::new()
            .name("slate-leases".into())
            .spawn(move || {
                let mut last_beat = Instant::now();
                while let Some(keeper) = weak.upgrade() {
                    if keeper.wait(keeper.next_wake(last_beat.elapsed())) {
                        break;
                    }
                    if last_beat.elapsed() < keeper.config.heartbeat {
                        // Woken for a max runtime, not a heartbeat.
                        if let Err(error) = keeper.cancel_overdue() {
                            tracing::error!("cannot flag a run past its max runtime: {error}");
                        }
                        continue;
                    }
                    last_beat = Instant::now();
                    match keeper.heartbeat() {
                        Ok(reaped) => {
                            for run in reaped {
                                tracing::warn!(run_id = %run.run_id, processor = %run.processor, "reaped stale run");
                            }
                        }
                        Err(error) => tracing::error!("lease heartbeat failed: {error}"),
                    }
                }
            })
            .expect("spawn the lease keeper");
        Ok(LeaseKeeper { keeper })
    }

    /// The runs this keeper reaped as it started, which no hook was told
    /// of: [`LeaseKeeper::on_reaped`] hooks hear of the later ones.
    pub fn reaped_at_start(&self) -> &[RunRecord] {
        &self.keeper.reaped_at_start
    }

    /// The lease settings.
    pub fn config(&self) -> LeaseConfig {
        self.keeper.config
    }

    /// Tells `hook` of every run reaped from now on.
    pub fn on_reaped(&self, hook: ReapedHook) {
        self.keeper
            .on_reaped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(hook);
    }

    /// Starts renewing `run_id`'s lease until the guard is dropped.
    pub fn track(&self, run_id: &str) -> LeaseGuard {
        let cancel = Arc::new(AtomicBool::new(false));
        // A host shutting down starts no run: one claimed now ends
        // `shutdown` before it runs.
        let stopped = self.keeper.shutting_down.load(Ordering::SeqCst);
        let shutdown = Arc::new(AtomicBool::new(stopped));
        if stopped {
            cancel.store(true, Ordering::SeqCst);
        }
        self.keeper.lock_in_flight().insert(
            run_id.to_string(),
            InFlight {
                started: None,
                cancel: cancel.clone(),
                shutdown: shutdown.clone(),
                settled: false,
                store_error: None,
            },
        );
        LeaseGuard {
            keeper: Arc::downgrade(&self.keeper),
            run_id: run_id.to_string(),
            cancel,
            shutdown,
        }
    }

    /// Says that `run_id`'s end is recorded (by this host, or another's
    /// reap): its guard may go without giving it up.
    pub fn settle(&self, run_id: &str) {
        if let Some(run) = self.keeper.lock_in_flight().get_mut(run_id) {
            run.settled = true;
        }
    }

    /// Keeps the store's `error` about `run_id`, to say why should the run
    /// be given up ([`LeaseGuard`]'s drop).
    pub fn note_store_error(&self, run_id: &str, error: &StoreError) {
        if let Some(run) = self.keeper.lock_in_flight().get_mut(run_id) {
            run.store_error = Some(format!("the store failed: {error}"));
        }
    }

    /// Whether the host is shutting down ([`LeaseKeeper::stop_all_for_shutdown`]):
    /// it starts no run, and waits for none.
    pub fn is_shutting_down(&self) -> bool {
        self.keeper.shutting_down.load(Ordering::SeqCst)
    }

    /// The runs whose leases this keeper renews now.
    pub fn in_flight(&self) -> Vec<String> {
        self.keeper.lock_in_flight().keys().cloned().collect()
    }

    /// Stops every run this host holds, because the host is shutting down:
    /// each stops at its next epoch tick and ends `failed`, kind
    /// `shutdown`, and so does every run tracked after. Returns how many
    /// runs were told to stop.
    pub fn stop_all_for_shutdown(&self) -> usize {
        self.keeper.shutting_down.store(true, Ordering::SeqCst);
        let in_flight = self.keeper.lock_in_flight();
        for run in in_flight.values() {
            run.shutdown.store(true, Ordering::SeqCst);
            run.cancel.store(true, Ordering::SeqCst);
        }
        in_flight.len()
    }

    /// Reaps stale runs now, as before every completeness check.
    pub fn reap_now(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.keeper.reap()
    }

    /// How many stale runs this keeper has reaped since it started.
    pub fn reaped_total(&self) -> u64 {
        self.keeper.reaped.load(Ordering::Relaxed)
    }

    /// Renews every tracked lease, cancels overdue runs and reaps stale
    /// runs now, as the background thread does each heartbeat.
    pub fn heartbeat_now(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.keeper.heartbeat()
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        *self
            .keeper
            .stopping
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = true;
        self.keeper.wake.notify_all();
    }
}

/// The inode of the initial pid namespace (the kernel's `PROC_PID_INIT_INO`):
/// a process outside any container sees its pids in this one.
const INITIAL_PID_NAMESPACE: u64 = 0xEFFF_FFFC;

/// This process's host id, as its runs, tasks and heartbeats record it:
/// `hostname[boot B]:pid`, or `hostname[boot B pidns N]:pid` in a
/// container's own pid namespace `N`, where `B` begins this machine's boot
/// id.
///
/// The pid alone does not name a process. Several machines may share a
/// hostname (cloned VM images, `localhost`), and several pid namespaces
/// may share one machine (containers with host networking, each slate as
/// pid 1). Either way two live hosts would share one id, and each would
/// take the other's runs for its own, or reap them as its dead previous
/// incarnation's. The boot id, drawn at random by the kernel at each boot,
/// tells machines apart; the namespace tells containers apart. Together
/// they tell a host whether another's pid can be looked up in its own
/// `/proc` at all (see [`is_dead_incarnation`]).
pub fn this_host_id() -> String {
    let hostname = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .and_then(|id| boot_id_prefix(&id));
    let namespace = std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .and_then(|link| pid_namespace_inode(&link.to_string_lossy()));
    host_id_of(&hostname, boot.as_deref(), namespace, std::process::id())
}

/// The first 8 hex digits of a boot id (`1b4e28ba-2fa1-11d2-883f-...`):
/// enough to tell apart the machines that share a hostname.
fn boot_id_prefix(boot_id: &str) -> Option<String> {
    let prefix: String = boot_id.trim().chars().take(8).collect();
    (prefix.len() == 8 && prefix.chars().all(|c| c.is_ascii_hexdigit())).then_some(prefix)
}

/// The inode in a `/proc/PID/ns/pid` link, which reads `pid:[4026531836]`.
fn pid_namespace_inode(link: &str) -> Option<u64> {
    link.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// The host id of process `pid` of `hostname`, booted as `boot`, in pid
/// namespace `namespace` (unknown, or the initial one, leaves it out).
fn host_id_of(hostname: &str, boot: Option<&str>, namespace: Option<u64>, pid: u32) -> String {
    let boot = boot.map(|boot| format!("boot {boot}"));
    let namespace = namespace
        .filter(|&inode| inode != INITIAL_PID_NAMESPACE)
        .map(|inode| format!("pidns {inode}"));
    let marks: Vec<String> = boot.into_iter().chain(namespace).collect();
    if marks.is_empty() {
        format!("{hostname}:{pid}")
    } else {
        format!("{hostname}[{}]:{pid}", marks.join(" "))
    }
}

/// Whether `run` is `running` with no live host behind it: its lease ran
/// out by `now`, or its host was a process of this machine (`me`'s) that
/// is gone. The rule reaping goes by, for what only reads to tell it.
pub fn is_abandoned(
    run: &crate::runs::RunRecord,
    now: chrono::DateTime<chrono::Utc>,
    me: &str,
) -> bool {
    run.status == crate::runs::RunStatus::Running
        && (run.is_stale(now) || is_dead_incarnation(&run.host_id, me))
}

/// Whether `other` is a previous incarnation of this host (`name:pid`, the
/// same name, boot and pid namespace included, and another pid) whose process no
/// longer runs: it no longer exists, or it is a zombie (killed, and not
/// yet waited for by its parent, which in a container without an init may
/// be never). A host on another machine, in another boot of this one or in
/// another pid namespace is never judged here, since its pids are not this
/// one's to look up: its lease decides.
pub fn is_dead_incarnation(other: &str, me: &str) -> bool {
    let (Some((other_name, other_pid)), Some((my_name, _))) =
        (other.rsplit_once(':'), me.rsplit_once(':'))
    else {
        return false;
    };
    other != me
        && other_name == my_name
        && other_pid.parse::<u32>().is_ok()
        && !process_runs(other_pid)
}

/// Whether the process `pid` of this machine exists and is not a zombie.
fn process_runs(pid: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state ...`: the command may hold spaces and parentheses,
    // so the state is the first field after the last `)`.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X"))
}

#[cfg(test)]
mod tests {
    use super::{
        INITIAL_PID_NAMESPACE, boot_id_prefix, host_id_of, is_dead_incarnation,
        pid_namespace_inode, this_host_id,
    };

    #[test]
    fn only_a_gone_process_on_this_machine_is_a_dead_incarnation() {
        let me = format!("box:{}", std::process::id());
        assert!(is_dead_incarnation("box:4294967295", &me), "no such pid");
        assert!(!is_dead_incarnation(&me, &me), "itself");
        assert!(!is_dead_incarnation("box:1", &me), "pid 1 is alive");
        assert!(
            !is_dead_incarnation("other:4294967295", &me),
            "another machine"
        );
        assert!(!is_dead_incarnation("test-host", &me), "not a process id");
    }

    #[test]
    fn a_host_id_names_the_boot_and_the_pid_namespace_only_inside_a_container() {
        let boot = Some("1c5ac12f");
        assert_eq!(
            host_id_of("box", boot, Some(INITIAL_PID_NAMESPACE), 7),
            "box[boot 1c5ac12f]:7"
        );
        assert_eq!(host_id_of("box", None, None, 7), "box:7");
        assert_eq!(
            host_id_of("box", boot, Some(4026532190), 1),
            "box[boot 1c5ac12f pidns 4026532190]:1"
        );
        assert_eq!(pid_namespace_inode("pid:[4026531836]"), Some(4026531836));
        assert_eq!(pid_namespace_inode("mnt:[4026531836]"), None);
        assert_eq!(
            boot_id_prefix("1c5ac12f-375e-4352-90f9-aef5ce0b23e5\n").as_deref(),
            Some("1c5ac12f")
        );
        assert_eq!(boot_id_prefix("short"), None);
        assert!(this_host_id().ends_with(&format!(":{}", std::process::id())));
        assert!(this_host_id().contains("[boot "), "{}", this_host_id());
    }

    #[test]
    fn two_containers_sharing_a_hostname_never_judge_each_others_pids() {
        // Each container's slate is pid 1 and sees no pid of the other:
        // the ids differ, and neither is taken for a dead incarnation.
        let boot = Some("1c5ac12f");
        let first = host_id_of("box", boot, Some(4026532190), 1);
        let second = host_id_of("box", boot, Some(4026532555), 1);
        assert_ne!(first, second);
        let pid_unknown_here = host_id_of("box", boot, Some(4026532190), 4294967295);
        assert!(!is_dead_incarnation(&pid_unknown_here, &second));
        // In one namespace, a gone pid is still a dead incarnation.
        let sibling = host_id_of("box", boot, Some(4026532555), 4294967295);
        assert!(is_dead_incarnation(&sibling, &second));
    }

    #[test]
    fn two_machines_sharing_a_hostname_never_judge_each_others_pids() {
        // Cloned VM images: one hostname, the initial pid namespace on
        // both, and a pid of the other that this machine does not run.
        let here = host_id_of("box", Some("1c5ac12f"), Some(INITIAL_PID_NAMESPACE), 7);
        let there = host_id_of(
            "box",
            Some("9e0d2b44"),
            Some(INITIAL_PID_NAMESPACE),
            4294967295,
        );
        assert_ne!(here, there);
        assert!(
            !is_dead_incarnation(&there, &here),
            "another machine's live run"
        );
        let previous_here = host_id_of(
            "box",
            Some("1c5ac12f"),
            Some(INITIAL_PID_NAMESPACE),
            4294967295,
        );
        assert!(is_dead_incarnation(&previous_here, &here));
    }

    #[test]
    fn a_killed_process_its_parent_has_not_waited_for_is_a_dead_incarnation() {
        let me = format!("box:{}", std::process::id());
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let it = format!("box:{}", child.id());
        assert!(!is_dead_incarnation(&it, &me), "it runs");
        child.kill().unwrap();
        // Killed, not waited for: a zombie until `wait`.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !is_dead_incarnation(&it, &me) {
            assert!(std::time::Instant::now() < deadline, "never seen as dead");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.wait().unwrap();
        assert!(is_dead_incarnation(&it, &me), "gone");
    }
}
