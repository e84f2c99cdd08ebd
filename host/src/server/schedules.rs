//! The scheduler `slate serve` runs, and `GET /schedules`.
//!
//! Every second the [`Scheduler`] works out which ticks of each
//! `[[schedule]]` are due, claims each in the store (so that with several
//! hosts on one store every tick fires exactly once), and runs the
//! schedule's processors for the tick's date on the worker pool, with
//! trigger `schedule`. The tick records the runs it started, or why it
//! started none.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::errors::ApiError;
use super::extract::NoParams;
use super::state::{AppState, ServedHost};
use crate::dates::{self, DatesConfig};
use crate::runs::Trigger;
use crate::schedule::{self, Schedule};
use crate::store::StoreError;
use crate::store::schedules::{TickRecord, TickState};

/// How often the scheduler looks for due ticks.
pub const SCHEDULER_TICK: Duration = Duration::from_secs(1);

/// How long after its start a server looks for the ticks missed before it
/// ([`Scheduler::say_ticks_missed_before_start`]): time for another host
/// that serves the schedule to have fired a tick due as this one started.
pub const MISSED_TICKS_GRACE: Duration = Duration::from_secs(10);

/// A tick this host claimed and fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FiredTick {
    /// The schedule.
    pub schedule: String,
    /// When the tick was due.
    pub tick_at: DateTime<Utc>,
    /// Where it stands: fired, passed over or not fired.
    pub state: TickState,
    /// What came of it, in words.
    pub outcome: String,
    /// The runs it started.
    pub run_ids: Vec<String>,
}

/// Fires the ticks of `schedules` on a served host.
pub struct Scheduler {
    host: Arc<ServedHost>,
    /// What it fires, as the server's start or its last reload gave it.
    settings: std::sync::RwLock<Arc<Settings>>,
    started: DateTime<Utc>,
    /// `slate backfill` as a user on this host would type it, with the
    /// global options the server was given: what an alert tells them to run.
    backfill_command: String,
    /// The whole-pipeline ticks another host claimed whose share this host
    /// settled ([`Scheduler::fire_what_the_claimants_lack`]): when each was
    /// due, and its schedule; kept for [`FOLLOW_FOR`].
    shared: std::sync::Mutex<BTreeSet<(DateTime<Utc>, String)>>,
}

/// The schedules a scheduler fires and the dates it serves.
struct Settings {
    schedules: Vec<Schedule>,
    dates: DatesConfig,
    /// When it began firing each schedule a reload added or changed (its
    /// ticks before then are not its to fire); the others since the start.
    since: HashMap<String, DateTime<Utc>>,
}

impl Settings {
    /// When the scheduler that `started` began firing `schedule`.
    fn since(&self, schedule: &Schedule, started: DateTime<Utc>) -> DateTime<Utc> {
        self.since.get(&schedule.name).copied().unwrap_or(started)
    }
}

/// Whether `a` and `b` tick at the same instants for the same dates (the
/// processors they fire may differ).
fn same_ticks(a: &Schedule, b: &Schedule) -> bool {
    (&a.name, &a.cron_text, a.timezone, a.date, a.catch_up)
        == (&b.name, &b.cron_text, b.timezone, b.date, b.catch_up)
}

/// How long after a whole-pipeline tick is due a host looks for its share
/// of it, waiting for the host that claimed it to fire.
const FOLLOW_FOR: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The tick-ledger name under which `processor`'s share of a whole-pipeline
/// tick of `schedule` is claimed, by one of the hosts that serve it when
/// the host that claimed the tick does not.
fn share_of(schedule: &str, processor: &str) -> String {
    format!("{schedule}/{processor}")
}

impl Scheduler {
    /// A scheduler for `schedules`, started now: ticks due before now fire
    /// only for schedules that catch up.
    pub fn new(host: Arc<ServedHost>, schedules: Vec<Schedule>, dates: DatesConfig) -> Self {
        Scheduler {
            host,
            settings: std::sync::RwLock::new(Arc::new(Settings {
                schedules,
                dates,
                since: HashMap::new(),
            })),
            started: Utc::now(),
            backfill_command: "slate backfill".into(),
            shared: Default::default(),
        }
    }

    /// A scheduler whose alerts print `slate backfill` as `command` (the
    /// server's own global options, `--data-dir` and the rest, before it),
    /// so that the command pasted acts on the same store and processors.
    pub fn printing_backfill_as(mut self, command: String) -> Self {
        self.backfill_command = command;
        self
    }

    /// Fires `schedules` and serves `dates` from now on (a reload of
    /// `slate.toml`). A schedule new or ticking otherwise than before fires
    /// its ticks from now; one unchanged goes on as it was.
    pub fn take(&self, schedules: Vec<Schedule>, dates: DatesConfig) {
        let now = Utc::now();
        let mut current = self.settings.write().unwrap_or_else(|e| e.into_inner());
        let since = (schedules.iter())
            .map(|schedule| {
                let kept = (current.schedules.iter())
                    .find(|before| same_ticks(before, schedule))
                    .map(|before| current.since(before, self.started));
                (schedule.name.clone(), kept.unwrap_or(now))
            })
            .collect();
        *current = Arc::new(Settings {
            schedules,
            dates,
            since,
        });
    }

    /// What it fires now.
    fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A scheduler that counts as started at `started` (for tests with
    /// their own clock).
    pub fn started_at(mut self, started: DateTime<Utc>) -> Self {
        self.started = started;
        self
    }

    /// Claims and fires every tick due at `now`; returns the ticks this
    /// host fired (another host's are left alone). Blocking; must run
    /// within the tokio runtime, whose worker pool executes the runs.
    pub fn fire_due(&self, now: DateTime<Utc>) -> Result<Vec<FiredTick>, StoreError> {
        let Some(ledger) = self.host.store.tick_ledger() else {
            return Ok(Vec::new());
        };
        let mut fired = self.fire_what_the_claimants_lack(now)?;
        let settings = self.settings();
        for schedule in &settings.schedules {
            let last = ledger.ticks(&schedule.name, 1)?.first().map(|t| t.tick_at);
            let since = settings.since(schedule, self.started);
            let due = schedule::due_ticks(schedule, last, since, now);
            if let Some((first, last, count)) = due.dropped {
                let dates = match count {
                    1 => format!("the date {first} was"),
                    _ => format!("{count} dates from {first} to {last} were"),
                };
                let reason = format!(
                    "a catch-up fires at most {} missed ticks: {dates} left out (`{}` runs \
                     them)",
                    schedule::MAX_CATCH_UP,
                    self.backfill_of(schedule, first, last)
                );
                self.not_fired(schedule, (first, last), &reason)?;
            }
            for tick in due.ticks {
                if self.host.draining.load(Ordering::SeqCst) {
                    return Ok(fired);
                }
                let date = tick.date;
                if !ledger.claim_tick(
                    &schedule.name,
                    tick.at,
                    date,
                    self.host.executor.host_id(),
                )? {
                    continue;
                }
                let tick_at = tick.at;
                if let Some(later) = tick.superseded_by {
                    let outcome = format!(
                        "passed over: the tick at {} fires {date}",
                        schedule.local(later)
                    );
                    ledger.finish_tick(
                        &schedule.name,
                        tick_at,
                        TickState::PassedOver,
                        &outcome,
                        &[],
                    )?;
                    tracing::info!(schedule = %schedule.name, tick = %tick_at, %date, %outcome, "tick passed over");
                    continue;
                }
                let (state, outcome, run_ids) = match self.fire(&schedule.processors, date) {
                    Ok((outcome, runs)) => (
                        TickState::Fired,
                        outcome,
                        runs.into_iter().map(|(_, id)| id).collect(),
                    ),
                    Err(reason) => {
                        self.not_fired(schedule, (date, date), &reason)?;
                        (
                            TickState::NotFired,
                            format!("not fired: {reason}"),
                            Vec::new(),
                        )
                    }
                };
                ledger.finish_tick(&schedule.name, tick_at, state, &outcome, &run_ids)?;
                tracing::info!(schedule = %schedule.name, tick = %tick_at, %date, %outcome, "tick fired");
                fired.push(FiredTick {
                    schedule: schedule.name.clone(),
                    tick_at,
                    state,
                    outcome,
                    run_ids,
                });
            }
        }
        Ok(fired)
    }

    /// Claims the runs of one tick of `processors` (all when empty) and
    /// queues them; what came of it and the runs started, each with its
    /// processor, or why it could start none.
    fn fire(
        &self,
        processors: &[String],
        date: chrono::NaiveDate,
    ) -> Result<(String, Vec<(String, String)>), String> {
        let host = &self.host;
        let pipeline = host.pipeline().map_err(|e| e.to_string())?;
        dates::serving_range(
            host.store.as_ref(),
            pipeline.calendar(),
            &self.settings().dates,
        )
        .map_err(|e| e.to_string())?
        .check(date)
        .map_err(|e| e.to_string())?;
        let selection = pipeline
            .select(processors)
            .map_err(|e| host.selection_refusal(&e))?;
        let mut claimed = Vec::new();
        let mut refused = Vec::new();
        for (processor, claim) in
            pipeline.claim_date(&host.executor, date, &selection, Trigger::Schedule)
        {
            match claim {
                Ok(claim) => claimed.push(claim),
                Err(error) => refused.push(format!("{processor}: {error}")),
            }
        }
        // None started (each of its dates already running, say) is a tick
        // that started no run, as loud as one that could not be tried.
        if claimed.is_empty() && !refused.is_empty() {
            return Err(format!("not started: {}", refused.join("; ")));
        }
        let runs: Vec<(String, String)> = (claimed.iter())
            .map(|c| (c.record().processor.clone(), c.record().run_id.clone()))
            .collect();
        let runner = host.clone();
        drop(
            host.workers
                .spawn(move || pipeline.run_claims(&runner.executor, claimed, &runner.stopping)),
        );
        let noun = if runs.len() == 1 { "run" } else { "runs" };
        let outcome = if refused.is_empty() {
            format!("fired {} {noun} for {date}", runs.len())
        } else {
            format!(
                "fired {} {noun} for {date}; not started: {}",
                runs.len(),
                refused.join("; ")
            )
        };
        Ok((outcome, runs))
    }

    /// The `slate backfill` that runs `schedule`'s processors from `from`
    /// to `to`, as an alert prints it.
    fn backfill_of(&self, schedule: &Schedule, from: NaiveDate, to: NaiveDate) -> String {
        let processors = match schedule.processors.as_slice() {
            [] => String::new(),
            names => format!(" --processors {}", names.join(",")),
        };
        format!(
            "{} --from {from} --to {to}{processors}",
            self.backfill_command
        )
    }

    fn lock_shared(&self) -> std::sync::MutexGuard<'_, BTreeSet<(DateTime<Utc>, String)>> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ticks of whole-pipeline schedules that another host claimed
    /// since this server started, due in the last [`FOLLOW_FOR`], that it
    /// has fired (a tick still firing is looked at again on the next pass)
    /// and whose share this host has not settled.
    fn ticks_claimed_elsewhere(&self, now: DateTime<Utc>) -> Result<Vec<TickRecord>, StoreError> {
        let Some(ledger) = self.host.store.tick_ledger() else {
            return Ok(Vec::new());
        };
        let mut shared = self.lock_shared();
        shared.retain(|(at, _)| now.signed_duration_since(*at) < FOLLOW_FOR);
        let mut claimed = Vec::new();
        let settings = self.settings();
        for schedule in (settings.schedules.iter()).filter(|s| s.processors.is_empty()) {
            for tick in ledger.ticks(&schedule.name, 16)? {
                if tick.host_id != self.host.executor.host_id()
                    && tick.tick_at >= self.started
                    && now - tick.tick_at < FOLLOW_FOR
                    // Fired: not still firing, passed over or refused.
                    && tick.state == TickState::Fired
                    && !shared.contains(&(tick.tick_at, tick.schedule.clone()))
                {
                    claimed.push(tick);
                }
            }
        }
        Ok(claimed)
    }

    /// Fires, of each whole-pipeline tick another host claimed and fired,
    /// the processors of this host's pipeline that host neither fired nor
    /// serves (as the host directory last heard): hosts with different plugin folders
    /// each fire their share of a whole-pipeline schedule, each share
    /// claimed once (`SCHEDULE/PROCESSOR` in the tick ledger). Before, the
    /// host that claimed a tick ran what it had, and a processor only
    /// another host served never ran, without a word. A tick still firing
    /// is looked at again on the next pass.
    fn fire_what_the_claimants_lack(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<FiredTick>, StoreError> {
        let (Some(ledger), Some(directory)) = (
            self.host.store.tick_ledger(),
            self.host.store.host_directory(),
        ) else {
            return Ok(Vec::new());
        };
        let claimed = self.ticks_claimed_elsewhere(now)?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let hosts = directory.hosts(now - chrono::TimeDelta::days(1))?;
        let pipeline = match self.host.pipeline() {
            Ok(pipeline) => pipeline,
            Err(error) => {
                tracing::warn!(%error, "the shares of ticks claimed elsewhere were not fired");
                return Ok(Vec::new());
            }
        };
        let mut fired = Vec::new();
        for tick in claimed {
            self.lock_shared()
                .insert((tick.tick_at, tick.schedule.clone()));
            // What the claimant fired is its; so is what it serves, as it
            // last said (a run it did not start, already going, say). A
            // host that did not say, or said none as it drained to stop,
            // is judged by its runs alone.
            let mut covered: BTreeSet<String> = BTreeSet::new();
            for run_id in &tick.run_ids {
                if let Some(run) = self.host.store.run(run_id)? {
                    covered.insert(run.processor);
                }
            }
            let claimant = hosts.iter().find(|host| host.host_id == tick.host_id);
            covered.extend(
                claimant
                    .and_then(|host| host.processors.clone())
                    .unwrap_or_default(),
            );
            let mut share = Vec::new();
            for processor in pipeline.order() {
                if covered.contains(processor) {
                    continue;
                }
                let name = share_of(&tick.schedule, processor);
                if ledger.claim_tick(
                    &name,
                    tick.tick_at,
                    tick.data_date,
                    self.host.executor.host_id(),
                )? {
                    share.push(processor.clone());
                }
            }
            if share.is_empty() {
                continue;
            }
            let (state, outcome, runs) = match self.fire(&share, tick.data_date) {
                Ok((outcome, runs)) => (TickState::Fired, outcome, runs),
                Err(reason) => {
                    let reason = format!(
                        "{} (not served by {}): {reason}",
                        share.join(", "),
                        tick.host_id
                    );
                    if let Some(schedule) =
                        (self.settings().schedules.iter()).find(|s| s.name == tick.schedule)
                    {
                        self.not_fired(schedule, (tick.data_date, tick.data_date), &reason)?;
                    }
                    (
                        TickState::NotFired,
                        format!("not fired: {reason}"),
                        Vec::new(),
                    )
                }
            };
            // Each share records its own run.
            for processor in &share {
                let own: Vec<String> = (runs.iter())
                    .filter(|(of, _)| of == processor)
                    .map(|(_, run_id)| run_id.clone())
                    .collect();
                let name = share_of(&tick.schedule, processor);
                ledger.finish_tick(&name, tick.tick_at, state, &outcome, &own)?;
            }
            let run_ids = runs.into_iter().map(|(_, run_id)| run_id).collect();
            tracing::info!(schedule = %tick.schedule, tick = %tick.tick_at, date = %tick.data_date, %outcome, "share of a tick fired");
            fired.push(FiredTick {
                schedule: tick.schedule,
                tick_at: tick.tick_at,
                state,
                outcome,
                run_ids,
            });
        }
        Ok(fired)
    }

    /// Says which ticks of the schedules that do not catch up were missed
    /// before this server started, while no server fired them: a warning
    /// in the log and a `schedule_not_fired` alert per schedule, naming
    /// the first and the last and the `slate backfill` that runs their
    /// dates; the last missed tick is recorded in the tick ledger as not
    /// fired, so that the next start does not say it again. A schedule
    /// that catches up fires them instead; without this, a nightly tick
    /// lost in a restart left no trace.
    pub fn say_ticks_missed_before_start(&self) -> Result<(), StoreError> {
        let Some(ledger) = self.host.store.tick_ledger() else {
            return Ok(());
        };
        for schedule in &self.settings().schedules {
            // The last tick due before the start: those fired since (by
            // this server, in the grace) say nothing of what was missed.
            let last = (ledger.ticks(&schedule.name, 256)?.into_iter())
                .map(|t| t.tick_at)
                .find(|at| *at <= self.started);
            let Some([(first, from), (latest, to)]) =
                schedule::missed_before_start(schedule, last, self.started)
            else {
                continue;
            };
            // The last missed tick is recorded as missed, once: a server
            // that starts again, or beside this one, does not say it again.
            if !ledger.claim_tick(&schedule.name, latest, to, self.host.executor.host_id())? {
                continue;
            }
            let ticks = if first == latest {
                format!("the tick at {} (date {from}) was", schedule.local(first))
            } else {
                format!(
                    "the ticks from {} to {} (dates {from} to {to}) were",
                    schedule.local(first),
                    schedule.local(latest)
                )
            };
            let reason = format!(
                "{ticks} missed while no server ran, and the schedule does not catch up \
                 (`{}` runs them)",
                self.backfill_of(schedule, from, to)
            );
            ledger.finish_tick(
                &schedule.name,
                latest,
                TickState::NotFired,
                &format!("not fired: {reason}"),
                &[],
            )?;
            self.not_fired(schedule, (from, to), &reason)?;
        }
        Ok(())
    }

    /// A tick that started no run is a surprise: logged as a warning, and
    /// an alert (`schedule_not_fired`) where the store keeps an outbox.
    /// `dates` are the first and last it left without a run (the same for
    /// one tick; more for ticks missed or left out of a catch-up).
    fn not_fired(
        &self,
        schedule: &Schedule,
        dates: (NaiveDate, NaiveDate),
        reason: &str,
    ) -> Result<(), StoreError> {
        let (from, to) = dates;
        tracing::warn!(schedule = %schedule.name, %from, %to, %reason, "a schedule's tick started no run");
        match self.host.store.alert_outbox() {
            Some(outbox) => outbox
                .record_alert(&crate::alerts::event::for_unfired_tick(
                    &schedule.name,
                    dates,
                    reason,
                ))
                .map(drop),
            None => Ok(()),
        }
    }

    /// Fires due ticks every [`SCHEDULER_TICK`] until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(SCHEDULER_TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut missed_said = false;
        loop {
            ticks.tick().await;
            let say_missed = !missed_said
                && Utc::now()
                    >= self.started
                        + chrono::Duration::from_std(MISSED_TICKS_GRACE).unwrap_or_default();
            missed_said |= say_missed;
            let scheduler = self.clone();
            let fired = tokio::task::spawn_blocking(move || {
                if say_missed && let Err(error) = scheduler.say_ticks_missed_before_start() {
                    tracing::warn!(%error, "the scheduler could not look for missed ticks");
                }
                scheduler.fire_due(Utc::now())
            })
            .await;
            if let Ok(Err(error)) = fired {
                tracing::warn!(%error, "the scheduler could not fire its ticks");
            }
        }
    }
}

/// One schedule as `slate schedules` and `GET /schedules` show it.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    /// Its name.
    pub name: String,
    /// Its cron expression.
    pub cron: String,
    /// Its time zone.
    pub timezone: String,
    /// Days before the tick's local date it processes.
    pub days_before: u32,
    /// The processors it runs (all when empty).
    pub processors: Vec<String>,
    /// Whether missed ticks fire on start.
    pub catch_up: bool,
    /// The next tick.
    pub next_fire: Option<DateTime<Utc>>,
    /// The latest tick fired, by any host.
    pub last_tick: Option<TickRecord>,
    /// How the runs the latest tick started stand now, by status:
    /// `{"success": 8, "failed": 1}`. Its outcome says only that it fired
    /// them.
    pub last_runs: std::collections::BTreeMap<String, usize>,
    /// Why its ticks fire no run now, when they cannot: a processor it
    /// names is no longer deployed, or left out on this host. Each such
    /// tick is recorded "not fired" and raises `schedule_not_fired`.
    pub fires_nothing: Option<String>,
}

/// The views of `schedules` at `now`, with their last ticks from the
/// store, and `fires_nothing`'s word on why a schedule's ticks would fire
/// no run.
pub fn views(
    store: Option<&dyn crate::store::Store>,
    schedules: &[Schedule],
    fires_nothing: impl Fn(&Schedule) -> Option<String>,
    now: DateTime<Utc>,
) -> Result<Vec<ScheduleView>, StoreError> {
    let ticks = store.and_then(|store| store.tick_ledger());
    schedules
        .iter()
        .map(|s| {
            let last_tick = match ticks {
                Some(ledger) => ledger.ticks(&s.name, 1)?.into_iter().next(),
                None => None,
            };
            let mut last_runs = std::collections::BTreeMap::new();
            if let (Some(store), Some(tick)) = (store, &last_tick) {
                for run in store.runs_with_ids(&tick.run_ids)? {
                    *last_runs.entry(run.status.to_string()).or_default() += 1;
                }
            }
            Ok(ScheduleView {
                name: s.name.clone(),
                cron: s.cron_text.clone(),
                timezone: s.timezone.name().to_string(),
                days_before: s.date.days_before,
                processors: s.processors.clone(),
                catch_up: s.catch_up,
                next_fire: s.next_after(now),
                last_tick,
                last_runs,
                fires_nothing: fires_nothing(s),
            })
        })
        .collect()
}

/// `GET /schedules`.
pub async fn list_schedules(
    State(state): State<AppState>,
    _: NoParams,
) -> Result<Json<Vec<ScheduleView>>, ApiError> {
    let schedules = state.config.settings().schedules.clone();
    let views = state
        .blocking(move |host| {
            // As a tick would find it: the processors it names selected.
            let pipeline = host.pipeline();
            let fires_nothing = |schedule: &Schedule| match &pipeline {
                Ok(pipeline) => (pipeline.select(&schedule.processors).err())
                    .map(|error| host.selection_refusal(&error)),
                Err(error) => Some(error.to_string()),
            };
            views(
                Some(host.store.as_ref()),
                &schedules,
                fires_nothing,
                Utc::now(),
            )
        })
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(views))
}
