//! The work queue a shared run ledger keeps for backfills: a backfill is
//! enqueued as (processor, date) tasks with the tasks each waits for, and
//! every host takes ready tasks under a lease: one at a time, or a chunk of
//! one processor's dates ([`WorkQueue::take_tasks`]). A host that dies
//! loses its tasks back to the queue when their leases expire.
//!
//! A task is ready when no task of the same backfill that it waits for is
//! still queued or taken: its upstreams' tasks on its date and, when it
//! looks back, on every earlier date; and, under the `block` upstream
//! policy, every earlier phase's tasks on its date (the phase gate). Ended
//! means ended, whatever the status: the run then decides itself, through
//! the phase gate (from the runs of its date's earlier-phase tasks that
//! did not succeed, [`TakenTask::gate_runs`]) and the completeness check,
//! whether it may go ahead or is blocked. This is the order and the gate
//! the one-host backfill keeps ([`crate::backfill::run`]). A backfill may
//! also cap how many of its takes are worked on at once, cluster-wide
//! ([`NewBackfill::parallelism`]), as the one-host backfill caps its runs.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::StoreError;
use crate::backfill::Reprocess;
use crate::runs::{RunRecord, RunStatus};

/// A backfill to enqueue.
#[derive(Debug, Clone)]
pub struct NewBackfill {
    /// Its id.
    pub id: String,
    /// The first date.
    pub start: NaiveDate,
    /// The last date, included.
    pub end: NaiveDate,
    /// Which runs it redoes.
    pub reprocess: Reprocess,
    /// (processor, date) pairs left alone under the reprocess mode.
    pub left_alone: usize,
    /// The host that enqueued it.
    pub host_id: String,
    /// How many takes of its tasks may be worked on at once across every
    /// host (a take is one task, or one chunk of a processor's dates run
    /// together); `None` lets every host's workers take part.
    pub parallelism: Option<usize>,
}

/// One (processor, date) task and what it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// The processor.
    pub processor: String,
    /// The date.
    pub date: NaiveDate,
    /// Its processor's place in the pipeline's order: of the ready tasks,
    /// the earliest date is taken first, then the lowest rank.
    pub rank: i64,
    /// The processors whose tasks it waits for.
    pub upstream: Vec<String>,
    /// Whether it also waits for its upstreams' tasks on earlier dates.
    pub looks_back: bool,
    /// The processors of earlier phases whose tasks on its date it waits
    /// for, and whose runs there it must find successful to go ahead: the
    /// phase gate of the `block` upstream policy (empty under any other).
    pub phase_gate: Vec<String>,
}

/// A task a host has taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenTask {
    /// Its backfill.
    pub backfill_id: String,
    /// The processor.
    pub processor: String,
    /// The date.
    pub date: NaiveDate,
    /// When its backfill was enqueued: a run that started after it counts
    /// for the task.
    pub enqueued_at: DateTime<Utc>,
    /// The ids of the runs that ended its date's phase-gate tasks
    /// ([`NewTask::phase_gate`]) without success, for the gate to read.
    pub gate_runs: Vec<String>,
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskEnd {
    /// Its run committed.
    Succeeded,
    /// Its run failed.
    Failed,
    /// Its run was blocked by an upstream check.
    Blocked,
}

crate::runs::text_enum!(TaskEnd {
    Succeeded => "succeeded", Failed => "failed", Blocked => "blocked",
});

impl TaskEnd {
    /// How `run`, ended, ends its task.
    pub fn of(run: &RunRecord) -> TaskEnd {
        match run.status {
            RunStatus::Success => TaskEnd::Succeeded,
            RunStatus::Blocked => TaskEnd::Blocked,
            _ => TaskEnd::Failed,
        }
    }
}

/// What ending a task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Nothing: the task was no longer the host's (its lease expired and
    /// another host took it).
    NotHeld,
    /// The task ended; others of its date are still to end.
    Ended,
    /// The task ended, the last of its backfill's tasks on its date: the
    /// date's phases can be judged, and this host is the one to judge them.
    EndedItsDate,
}

/// One task as the queue records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRecord {
    /// The processor.
    pub processor: String,
    /// The date.
    pub date: NaiveDate,
    /// `queued`, `taken`, or how it ended.
    pub status: String,
    /// The host that took it last.
    pub host_id: Option<String>,
    /// The run that ended it.
    pub run_id: Option<String>,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// How many times a host took it.
    pub takes: i64,
}

/// A backfill's progress over the whole cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterProgress {
    /// The backfill.
    pub id: String,
    /// The range's first date.
    pub start_date: NaiveDate,
    /// The range's last date.
    pub end_date: NaiveDate,
    /// The reprocess mode.
    pub reprocess: Reprocess,
    /// The host that enqueued it.
    pub enqueued_by: String,
    /// When.
    pub enqueued_at: DateTime<Utc>,
    /// How many takes of its tasks may be worked on at once across every
    /// host ([`NewBackfill::parallelism`]); `None` for no limit.
    pub parallelism: Option<usize>,
    /// Tasks in all.
    pub planned: usize,
    /// (processor, date) pairs left alone under the reprocess mode.
    pub left_alone: usize,
    /// Tasks waiting to be taken.
    pub queued: usize,
    /// Tasks a host is working on.
    pub taken: usize,
    /// Tasks whose run succeeded.
    pub succeeded: usize,
    /// Tasks whose run failed.
    pub failed: usize,
    /// Tasks whose run was blocked.
    pub blocked: usize,
    /// Tasks no run was started for, because the backfill was cancelled.
    pub cancelled: usize,
    /// When the backfill was cancelled, if it was.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Per host: the ended tasks whose run it made. A task ended by
    /// adopting a run another process made (a `slate run`, a schedule) is
    /// that process's host's, not the adopter's.
    pub by_host: Vec<(String, usize)>,
    /// Queued tasks held back by a live run of their (processor, date)
    /// elsewhere (a `slate run`, a schedule, another backfill), each with
    /// that run; the first [`WAITING_SHOWN`] by date.
    pub waiting_on_runs: Vec<WaitingTask>,
    /// Queued tasks of processors no live server (`slate serve`) serves,
    /// by processor: they wait for a host that has the processor (in its
    /// `--plugin-dir`, or deployed again), or for a cancel. A `slate
    /// backfill` working the queue is no server: it runs its own
    /// processors' tasks all the same.
    pub unserved: Vec<UnservedTasks>,
    /// The processors whose runs in this backfill ran more than one
    /// version: a version deployed while it ran, or hosts whose plugin
    /// folders hold different versions of a processor. Its table then
    /// holds rows of each; `slate runs --outdated` lists the dates the
    /// active version has not produced.
    pub mixed_versions: Vec<MixedVersions>,
    /// When its last task ended, once none is queued or taken.
    pub finished_at: Option<DateTime<Utc>>,
    /// Every task that did not succeed.
    pub problems: Vec<TaskRecord>,
}

impl ClusterProgress {
    /// Whether every task has ended.
    pub fn is_finished(&self) -> bool {
        self.queued == 0 && self.taken == 0
    }

    /// Tasks whose run has ended.
    pub fn ended(&self) -> usize {
        self.succeeded + self.failed + self.blocked
    }
}

/// How many of a backfill's waiting tasks its progress lists.
pub const WAITING_SHOWN: usize = 100;

/// A queued task that waits for a run of its (processor, date) elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingTask {
    /// The processor.
    pub processor: String,
    /// The date.
    pub date: NaiveDate,
    /// The live run it waits for.
    pub run_id: String,
    /// The host making that run.
    pub host_id: String,
    /// When that run started.
    pub started_at: DateTime<Utc>,
}

/// A backfill's queued tasks of one processor that no live server serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnservedTasks {
    /// The processor.
    pub processor: String,
    /// Its queued tasks.
    pub queued: usize,
}

/// The versions one processor's runs in a backfill ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MixedVersions {
    /// The processor.
    pub processor: String,
    /// Each version, with its runs and the hosts that ran them.
    pub versions: Vec<VersionShare>,
}

/// The runs of a backfill one version of a processor ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionShare {
    /// The version's hash.
    pub hash: String,
    /// How many of the backfill's runs it ran.
    pub runs: usize,
    /// The hosts that ran them.
    pub hosts: Vec<String>,
}

/// What asking to cancel a backfill came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// Cancelled now: this many of its tasks, queued, will not run.
    Cancelled {
        /// The tasks cancelled.
        tasks: usize,
    },
    /// It was cancelled already, by this request's elder.
    AlreadyCancelled,
    /// The queue holds no such backfill.
    NoSuchBackfill,
}

/// The backfill work queue of a ledger several hosts share.
pub trait WorkQueue: Send + Sync {
    /// Enqueues `backfill` and its `tasks` in one transaction.
    fn enqueue(&self, backfill: &NewBackfill, tasks: &[NewTask]) -> Result<(), StoreError>;

    /// Takes the ready task of lowest rank of a processor in `serves` (the
    /// processors `host_id` runs) for `host_id`, leased until `now +
    /// lease`: first returning to the queue every task whose lease
    /// expired. Hosts taking at once never take the same task, and a host
    /// never takes a task it could only put back: another processor's
    /// task of lower rank does not hold up the ones it can run.
    fn take_task(
        &self,
        host_id: &str,
        lease: std::time::Duration,
        serves: &[String],
    ) -> Result<Option<TakenTask>, StoreError>;

    /// Like [`WorkQueue::take_task`], then up to `max - 1` more ready tasks
    /// of the same backfill and processor on later dates, in date order:
    /// for a store that commits a processor's dates together. The default
    /// takes one.
    fn take_tasks(
        &self,
        host_id: &str,
        lease: std::time::Duration,
        max: usize,
        serves: &[String],
    ) -> Result<Vec<TakenTask>, StoreError> {
        let _ = max;
        Ok(self
            .take_task(host_id, lease, serves)?
            .into_iter()
            .collect())
    }

    /// Lets go of every task `host_id` holds, as [`WorkQueue::release_task`]
    /// does; returns how many. A process calls it before it takes any:
    /// what its id holds then, an earlier process under the same id held
    /// (a container restarted keeps its hostname and pid 1), and renewing
    /// by id would keep those tasks taken for ever.
    fn release_held(&self, host_id: &str) -> Result<usize, StoreError>;

    /// Renews the leases of every task `host_id` holds; returns how many.
    fn renew_tasks(&self, host_id: &str, lease: std::time::Duration) -> Result<usize, StoreError>;

    /// Cancels the backfill `backfill_id`: every task of it no host holds
    /// ends `cancelled`, and so does every task a host lets go of from now
    /// on ([`WorkQueue::release_task`], an expired lease), so that no run
    /// of it starts after this; the runs of the tasks hosts hold end as
    /// they would have. Of several cancelling at once, one cancels it and
    /// the others find it cancelled.
    fn cancel_backfill(&self, backfill_id: &str) -> Result<Cancel, StoreError>;

    /// Puts a task `host_id` holds back in the queue, untaken (its run
    /// could not start yet); a task of a cancelled backfill ends
    /// `cancelled` instead.
    fn release_task(&self, task: &TakenTask, host_id: &str) -> Result<(), StoreError>;

    /// Ends a task `host_id` holds with the run that ended it (its
    /// [`TaskEnd`], id and error), and says whether it was the last of its
    /// backfill's tasks on its date to end. Of hosts ending a date's last
    /// tasks at once, exactly one is told so.
    fn finish_task(
        &self,
        task: &TakenTask,
        host_id: &str,
        run: &RunRecord,
    ) -> Result<Finished, StoreError>;

    /// A backfill's progress, if it exists.
    fn progress(&self, backfill_id: &str) -> Result<Option<ClusterProgress>, StoreError>;

    /// The dates whose phases are still to be judged of the cancelled
    /// backfills that have ended (no task queued or taken): each date on
    /// which a task ran, unless the host that ended its last task judged
    /// it ([`Finished::EndedItsDate`]). Each date is returned once, to one
    /// caller, across every host; the caller records its phase events.
    /// Without this, a date some of whose tasks were cancelled had no
    /// task whose end judged it.
    fn cancelled_dates_to_judge(&self) -> Result<Vec<NaiveDate>, StoreError>;
}
