//! The PostgreSQL store's backfill work queue ([`WorkQueue`]):
//! `_slate.backfills` and `_slate.tasks`. A host takes the first ready task
//! (and, asked for a chunk, the same processor's later ready dates) with
//! `FOR UPDATE SKIP LOCKED`, so hosts taking at once never wait for each
//! other nor take the same task; a taken task is leased, and a task whose
//! lease expired goes back to the queue before the next take.

use std::time::Duration;

use chrono::NaiveDate;
use postgres::Row;

use super::PostgresStore;
use crate::runs::RunRecord;
use crate::store::StoreError;
use crate::store::work_queue::{
    Cancel, ClusterProgress, Finished, MixedVersions, NewBackfill, NewTask, TakenTask, TaskEnd,
    TaskRecord, UnservedTasks, VersionShare, WAITING_SHOWN, WaitingTask, WorkQueue,
};

/// The queue's tables, created with the store.
pub(super) const SETUP: &str = "
    CREATE TABLE IF NOT EXISTS _slate.backfills (
        backfill_id TEXT PRIMARY KEY,
        start_date DATE NOT NULL,
        end_date DATE NOT NULL,
        reprocess TEXT NOT NULL,
        left_alone BIGINT NOT NULL,
        enqueued_by TEXT NOT NULL,
        enqueued_at TIMESTAMPTZ NOT NULL,
        parallelism BIGINT
    );
    CREATE TABLE IF NOT EXISTS _slate.tasks (
        backfill_id TEXT NOT NULL,
        processor TEXT NOT NULL,
        data_date DATE NOT NULL,
        rank BIGINT NOT NULL,
        upstream TEXT[] NOT NULL,
        looks_back BOOLEAN NOT NULL,
        phase_gate TEXT[] NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'queued',
        host_id TEXT,
        lease_expires_at TIMESTAMPTZ,
        takes BIGINT NOT NULL DEFAULT 0,
        take_id TEXT,
        run_id TEXT,
        error TEXT,
        finished_at TIMESTAMPTZ,
        PRIMARY KEY (backfill_id, processor, data_date)
    );
    -- A queue made before tasks had a phase gate gets the column; asked
    -- first, so that connecting does not lock the table every time.
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = '_slate' AND table_name = 'tasks'
                         AND column_name = 'phase_gate') THEN
            ALTER TABLE _slate.tasks ADD COLUMN phase_gate TEXT[] NOT NULL DEFAULT '{}';
        END IF;
    END $$;
    -- A queue made before backfills had a parallelism, and tasks a take,
    -- gets the columns.
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = '_slate' AND table_name = 'backfills'
                         AND column_name = 'parallelism') THEN
            ALTER TABLE _slate.backfills ADD COLUMN parallelism BIGINT;
            ALTER TABLE _slate.tasks ADD COLUMN take_id TEXT;
        END IF;
    END $$;
    -- A queue made before backfills could be cancelled gets the column.
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = '_slate' AND table_name = 'backfills'
                         AND column_name = 'cancelled_at') THEN
            ALTER TABLE _slate.backfills ADD COLUMN cancelled_at TIMESTAMPTZ;
        END IF;
    END $$;
    -- The dates of each backfill whose phases a host judged (recorded
    -- their events): each date once, whether its last task ended or the
    -- backfill was cancelled.
    CREATE TABLE IF NOT EXISTS _slate.judged_dates (
        backfill_id TEXT NOT NULL,
        data_date DATE NOT NULL,
        PRIMARY KEY (backfill_id, data_date)
    );
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = '_slate' AND table_name = 'backfills'
                         AND column_name = 'judged_at') THEN
            ALTER TABLE _slate.backfills ADD COLUMN judged_at TIMESTAMPTZ;
            -- Backfills cancelled before: their dates were judged (or not)
            -- as they were then, and are not judged again.
            UPDATE _slate.backfills SET judged_at = now() WHERE cancelled_at IS NOT NULL;
        END IF;
    END $$;
    CREATE INDEX IF NOT EXISTS tasks_unfinished
        ON _slate.tasks (backfill_id, processor, data_date)
        WHERE status IN ('queued', 'taken');
    -- The queued tasks in the order a take considers them, so that it
    -- stops at the first ready one.
    CREATE INDEX IF NOT EXISTS tasks_queued_in_order
        ON _slate.tasks (data_date, rank) WHERE status = 'queued';
    CREATE INDEX IF NOT EXISTS tasks_by_lease
        ON _slate.tasks (lease_expires_at) WHERE status = 'taken';
    CREATE INDEX IF NOT EXISTS backfills_cancelled_unjudged
        ON _slate.backfills (backfill_id)
        WHERE cancelled_at IS NOT NULL AND judged_at IS NULL;
";

/// The status of a task whose backfill was cancelled before it ran.
const CANCELLED: &str = "cancelled";

/// Lets go of taken tasks `t` (the rest of the `WHERE` follows): each goes
/// back to the queue, or ends `cancelled` when its backfill was cancelled
/// meanwhile, so that no run of a cancelled backfill starts after it.
const LET_GO: &str = "UPDATE _slate.tasks t SET host_id = NULL, lease_expires_at = NULL,
        status = CASE WHEN b.cancelled_at IS NULL THEN 'queued' ELSE 'cancelled' END,
        finished_at = CASE WHEN b.cancelled_at IS NULL THEN NULL ELSE now() END
    FROM _slate.backfills b
    WHERE b.backfill_id = t.backfill_id AND t.status = 'taken'";

/// Takes the tasks a `SELECT` from `_slate.tasks c` picks (its `WHERE`
/// and the rest follow), for host `$1`, leased for `$2` seconds. The
/// tasks one transaction takes share a take id (its transaction id): the
/// unit a backfill's parallelism counts ([`UNDER_ITS_PARALLELISM`]).
const TAKE: &str = "UPDATE _slate.tasks t SET status = 'taken', host_id = $1,
        lease_expires_at = now() + make_interval(secs => $2), takes = takes + 1,
        take_id = pg_current_xact_id()::text
    FROM (
        SELECT c.backfill_id, c.processor, c.data_date FROM _slate.tasks c";

/// A queued task `c` is ready: no task it waits for is queued or taken,
/// neither an upstream's (on its date, or earlier when it looks back) nor
/// one of its phase gate's (on its date); and no live run of its own
/// (processor, date) is going on (a `slate run`, another backfill's task,
/// a schedule), which it could only be released back for: it waits,
/// untaken, until that run ends or its lease lapses.
///
/// Each wait is a `NOT EXISTS` of its own whose conditions the
/// `tasks_unfinished` index answers (backfill, processor, date range): one
/// with an `OR` between them was a hash anti-join that compared every
/// queued task with every other, about 0.25 s per take at 1,400 tasks.
const READY: &str = "NOT EXISTS (
        SELECT 1 FROM _slate.tasks u
        WHERE u.backfill_id = c.backfill_id
          AND u.status IN ('queued', 'taken')
          AND u.processor = ANY(c.upstream)
          AND u.data_date <= c.data_date
          AND (c.looks_back OR u.data_date = c.data_date))
    AND NOT EXISTS (
        SELECT 1 FROM _slate.tasks g
        WHERE g.backfill_id = c.backfill_id
          AND g.status IN ('queued', 'taken')
          AND g.processor = ANY(c.phase_gate)
          AND g.data_date = c.data_date)
    AND NOT EXISTS (
        SELECT 1 FROM _slate.runs r
        WHERE r.processor = c.processor AND r.data_date = c.data_date
          AND r.status = 'running' AND r.lease_expires_at > now())";

/// A queued task `c`'s backfill has fewer takes being worked on than its
/// parallelism allows (or no parallelism). Takers count under
/// [`LOCK_CAPPED_BACKFILLS`], so two hosts never both take the last slot.
const UNDER_ITS_PARALLELISM: &str = "NOT EXISTS (
        SELECT 1 FROM _slate.backfills cap
        WHERE cap.backfill_id = c.backfill_id
          AND cap.parallelism <= (
              SELECT COUNT(DISTINCT x.take_id) FROM _slate.tasks x
              WHERE x.backfill_id = c.backfill_id AND x.status = 'taken'))";

/// Locks the backfills with a parallelism that still have queued tasks,
/// in one order, for the taking transaction: takers of a capped backfill
/// take turns, and each counts the takes the one before it made.
const LOCK_CAPPED_BACKFILLS: &str = "SELECT 1 FROM _slate.backfills b
    WHERE b.parallelism IS NOT NULL AND b.cancelled_at IS NULL
      AND EXISTS (SELECT 1 FROM _slate.tasks q
                  WHERE q.backfill_id = b.backfill_id AND q.status = 'queued')
    ORDER BY b.backfill_id FOR UPDATE OF b";

/// Closes [`TAKE`]: the tasks taken, with their backfill's enqueue time
/// and the runs of their phase gate's tasks that did not succeed.
const TAKEN: &str = ") ready, _slate.backfills b
    WHERE t.backfill_id = ready.backfill_id AND t.processor = ready.processor
      AND t.data_date = ready.data_date AND b.backfill_id = t.backfill_id
    RETURNING t.backfill_id, t.processor, t.data_date, b.enqueued_at,
        ARRAY(SELECT g.run_id FROM _slate.tasks g
              WHERE g.backfill_id = t.backfill_id AND g.data_date = t.data_date
                AND g.processor = ANY(t.phase_gate) AND g.status <> 'succeeded'
                AND g.run_id IS NOT NULL
              ORDER BY g.rank)";

fn taken_from_row(row: &Row) -> TakenTask {
    TakenTask {
        backfill_id: row.get(0),
        processor: row.get(1),
        date: row.get(2),
        enqueued_at: row.get(3),
        gate_runs: row.get(4),
    }
}

/// Of rows (processor, hash, runs, hosts) by processor, the processors
/// with more than one hash.
fn mixed_versions(rows: &[Row]) -> Vec<MixedVersions> {
    let mut by_processor: Vec<MixedVersions> = Vec::new();
    for row in rows {
        let processor: String = row.get(0);
        let share = VersionShare {
            hash: row.get(1),
            runs: row.get::<_, i64>(2) as usize,
            hosts: row.get(3),
        };
        match by_processor.last_mut() {
            Some(last) if last.processor == processor => last.versions.push(share),
            _ => by_processor.push(MixedVersions {
                processor,
                versions: vec![share],
            }),
        }
    }
    by_processor.retain(|p| p.versions.len() > 1);
    by_processor
}

impl WorkQueue for PostgresStore {
    fn enqueue(&self, backfill: &NewBackfill, tasks: &[NewTask]) -> Result<(), StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            transaction.execute(
                "INSERT INTO _slate.backfills (backfill_id, start_date, end_date, reprocess,
                     left_alone, enqueued_by, enqueued_at, parallelism)
                 VALUES ($1, $2, $3, $4, $5, $6, now(), $7)",
                &[
                    &backfill.id,
                    &backfill.start,
                    &backfill.end,
                    &backfill.reprocess.as_str(),
                    &(backfill.left_alone as i64),
                    &backfill.host_id,
                    &backfill.parallelism.map(|p| p as i64),
                ],
            )?;
            let insert = transaction.prepare(
                "INSERT INTO _slate.tasks (backfill_id, processor, data_date, rank, upstream,
                     looks_back, phase_gate)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )?;
            for task in tasks {
                transaction.execute(
                    &insert,
                    &[
                        &backfill.id,
                        &task.processor,
                        &task.date,
                        &task.rank,
                        &task.upstream,
                        &task.looks_back,
                        &task.phase_gate,
                    ],
                )?;
            }
            transaction.commit()?;
            Ok(())
        })
    }

    fn take_task(
        &self,
        host_id: &str,
        lease: Duration,
        serves: &[String],
    ) -> Result<Option<TakenTask>, StoreError> {
        Ok(self
            .take_tasks(host_id, lease, 1, serves)?
            .into_iter()
            .next())
    }

    fn take_tasks(
        &self,
        host_id: &str,
        lease: Duration,
        max: usize,
        serves: &[String],
    ) -> Result<Vec<TakenTask>, StoreError> {
        self.with_client(|client| {
            let let_go = client.query(
                &format!("{LET_GO} AND t.lease_expires_at < now() RETURNING t.status"),
                &[],
            )?;
            let cancelled = let_go
                .iter()
                .filter(|row| row.get::<_, &str>(0) == CANCELLED)
                .count();
            let returned = let_go.len() - cancelled;
            if returned > 0 {
                tracing::warn!(
                    returned,
                    "tasks whose host stopped renewing are queued again"
                );
            }
            if cancelled > 0 {
                tracing::warn!(
                    cancelled,
                    "tasks whose host stopped renewing end cancelled, as their backfill was"
                );
            }
            let mut transaction = client.transaction()?;
            transaction.execute(LOCK_CAPPED_BACKFILLS, &[])?;
            // The first ready task in date order is nearly always among the
            // first queued ones: walked in `tasks_queued_in_order`'s order,
            // a take stops there. Estimating each wait as rare, the planner
            // would otherwise check every queued task, then sort (0.25 s
            // against 0.3 ms at 1,400 tasks).
            transaction.batch_execute("SET LOCAL enable_sort = off")?;
            let seconds = super::lease_seconds(lease);
            // The chunk's later dates join the first date's take, so only
            // the first is held to the backfill's parallelism.
            let Some(first) = transaction.query_opt(
                &format!(
                    "{TAKE} WHERE c.status = 'queued' AND c.processor = ANY($3)
                         AND {READY} AND {UNDER_ITS_PARALLELISM}
                         ORDER BY c.data_date, c.rank
                         LIMIT 1
                         FOR UPDATE SKIP LOCKED
                     {TAKEN}"
                ),
                &[&host_id, &seconds, &serves],
            )?
            else {
                return Ok(Vec::new());
            };
            let mut taken = vec![taken_from_row(&first)];
            if max > 1 {
                let more = transaction.query(
                    &format!(
                        "{TAKE} WHERE c.status = 'queued' AND {READY}
                             AND c.backfill_id = $3 AND c.processor = $4 AND c.data_date > $5
                             ORDER BY c.data_date
                             LIMIT $6
                             FOR UPDATE SKIP LOCKED
                         {TAKEN}"
                    ),
                    &[
                        &host_id,
                        &seconds,
                        &taken[0].backfill_id,
                        &taken[0].processor,
                        &taken[0].date,
                        &(max as i64 - 1),
                    ],
                )?;
                taken.extend(more.iter().map(taken_from_row));
                taken.sort_by_key(|task| task.date);
            }
            transaction.commit()?;
            Ok(taken)
        })
    }

    fn release_held(&self, host_id: &str) -> Result<usize, StoreError> {
        self.with_client(|client| {
            Ok(client.execute(&format!("{LET_GO} AND t.host_id = $1"), &[&host_id])? as usize)
        })
    }

    fn renew_tasks(&self, host_id: &str, lease: Duration) -> Result<usize, StoreError> {
        self.with_client(|client| {
            Ok(client.execute(
                "UPDATE _slate.tasks SET lease_expires_at = now() + make_interval(secs => $2)
                 WHERE status = 'taken' AND host_id = $1",
                &[&host_id, &super::lease_seconds(lease)],
            )? as usize)
        })
    }

    fn cancel_backfill(&self, backfill_id: &str) -> Result<Cancel, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            // The backfill's row is locked first, as the ends of its tasks
            // lock it (`finish_task`); of two cancels, the second waits
            // and then finds it cancelled.
            let cancelling = transaction.execute(
                "UPDATE _slate.backfills SET cancelled_at = now()
                 WHERE backfill_id = $1 AND cancelled_at IS NULL",
                &[&backfill_id],
            )?;
            if cancelling == 0 {
                let known = transaction
                    .query_opt(
                        "SELECT 1 FROM _slate.backfills WHERE backfill_id = $1",
                        &[&backfill_id],
                    )?
                    .is_some();
                return Ok(match known {
                    true => Cancel::AlreadyCancelled,
                    false => Cancel::NoSuchBackfill,
                });
            }
            let tasks = transaction.execute(
                "UPDATE _slate.tasks SET status = $2, finished_at = now()
                 WHERE backfill_id = $1 AND status = 'queued'",
                &[&backfill_id, &CANCELLED],
            )?;
            transaction.commit()?;
            Ok(Cancel::Cancelled {
                tasks: tasks as usize,
            })
        })
    }

    fn release_task(&self, task: &TakenTask, host_id: &str) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                &format!(
                    "{LET_GO} AND t.backfill_id = $1 AND t.processor = $2
                         AND t.data_date = $3 AND t.host_id = $4"
                ),
                &[&task.backfill_id, &task.processor, &task.date, &host_id],
            )?;
            Ok(())
        })
    }

    fn finish_task(
        &self,
        task: &TakenTask,
        host_id: &str,
        run: &RunRecord,
    ) -> Result<Finished, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            // Ends of one backfill's tasks take turns, so that of two
            // hosts ending a date's last two tasks at once, the second
            // sees the first's end.
            transaction.execute(
                "SELECT 1 FROM _slate.backfills WHERE backfill_id = $1 FOR UPDATE",
                &[&task.backfill_id],
            )?;
            let ended = transaction.execute(
                "UPDATE _slate.tasks SET status = $5, run_id = $6, error = $7,
                     finished_at = now(), lease_expires_at = NULL
                 WHERE backfill_id = $1 AND processor = $2 AND data_date = $3
                   AND status = 'taken' AND host_id = $4",
                &[
                    &task.backfill_id,
                    &task.processor,
                    &task.date,
                    &host_id,
                    &TaskEnd::of(run).as_str(),
                    &run.run_id,
                    &run.error_message,
                ],
            )?;
            let finished = match ended {
                0 => Finished::NotHeld,
                _ => {
                    let left: i64 = transaction
                        .query_one(
                            "SELECT COUNT(*) FROM _slate.tasks
                             WHERE backfill_id = $1 AND data_date = $2
                               AND status IN ('queued', 'taken')",
                            &[&task.backfill_id, &task.date],
                        )?
                        .get(0);
                    let judging = left == 0
                        && transaction.execute(
                            "INSERT INTO _slate.judged_dates (backfill_id, data_date)
                             VALUES ($1, $2) ON CONFLICT DO NOTHING",
                            &[&task.backfill_id, &task.date],
                        )? == 1;
                    match judging {
                        true => Finished::EndedItsDate,
                        false => Finished::Ended,
                    }
                }
            };
            transaction.commit()?;
            Ok(finished)
        })
    }

    fn cancelled_dates_to_judge(&self) -> Result<Vec<NaiveDate>, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            // Locked in one order, so that two hosts judging at once do not
            // deadlock; the second then finds them judged.
            let ended: Vec<String> = transaction
                .query(
                    "UPDATE _slate.backfills SET judged_at = now()
                     WHERE backfill_id IN (
                         SELECT b.backfill_id FROM _slate.backfills b
                         WHERE b.cancelled_at IS NOT NULL AND b.judged_at IS NULL
                           AND NOT EXISTS (
                               SELECT 1 FROM _slate.tasks t
                               WHERE t.backfill_id = b.backfill_id
                                 AND t.status IN ('queued', 'taken'))
                         ORDER BY b.backfill_id FOR UPDATE)
                     RETURNING backfill_id",
                    &[],
                )?
                .iter()
                .map(|row| row.get(0))
                .collect();
            if ended.is_empty() {
                return Ok(Vec::new());
            }
            let dates = transaction
                .query(
                    "INSERT INTO _slate.judged_dates (backfill_id, data_date)
                     SELECT DISTINCT backfill_id, data_date FROM _slate.tasks
                     WHERE backfill_id = ANY($1) AND status <> $2
                     ON CONFLICT DO NOTHING
                     RETURNING data_date",
                    &[&ended, &CANCELLED],
                )?
                .iter()
                .map(|row| row.get(0))
                .collect::<std::collections::BTreeSet<NaiveDate>>();
            transaction.commit()?;
            Ok(dates.into_iter().collect())
        })
    }

    fn progress(&self, backfill_id: &str) -> Result<Option<ClusterProgress>, StoreError> {
        self.with_client(|client| {
            let Some(backfill) = client.query_opt(
                "SELECT start_date, end_date, reprocess, left_alone, enqueued_by, enqueued_at,
                     cancelled_at, parallelism
                 FROM _slate.backfills WHERE backfill_id = $1",
                &[&backfill_id],
            )?
            else {
                return Ok(None);
            };
            let count = |status: &str, counts: &[Row]| {
                counts
                    .iter()
                    .find(|row| row.get::<_, &str>(0) == status)
                    .map_or(0, |row| row.get::<_, i64>(1) as usize)
            };
            let counts = client.query(
                "SELECT status, COUNT(*) FROM _slate.tasks WHERE backfill_id = $1
                 GROUP BY status",
                &[&backfill_id],
            )?;
            // Credited to the host whose run ended the task, which is not
            // the taker's when the taker adopted a run made elsewhere.
            let by_host = client.query(
                "SELECT COALESCE(r.host_id, t.host_id) AS credited, COUNT(*)
                 FROM _slate.tasks t LEFT JOIN _slate.runs r ON r.run_id = t.run_id
                 WHERE t.backfill_id = $1 AND t.finished_at IS NOT NULL
                   AND COALESCE(r.host_id, t.host_id) IS NOT NULL
                 GROUP BY credited ORDER BY credited",
                &[&backfill_id],
            )?;
            let waiting = client.query(
                "SELECT t.processor, t.data_date, r.run_id, r.host_id, r.started_at
                 FROM _slate.tasks t JOIN _slate.runs r
                   ON r.processor = t.processor AND r.data_date = t.data_date
                  AND r.status = 'running' AND r.lease_expires_at > now()
                 WHERE t.backfill_id = $1 AND t.status = 'queued'
                 ORDER BY t.data_date, t.rank LIMIT $2",
                &[&backfill_id, &(WAITING_SHOWN as i64)],
            )?;
            // A live host that recorded no processors (one started before
            // hosts recorded them) may serve any.
            let unserved = client.query(
                "SELECT t.processor, COUNT(*) FROM _slate.tasks t
                 WHERE t.backfill_id = $1 AND t.status = 'queued'
                   AND NOT EXISTS (
                       SELECT 1 FROM _slate.hosts h
                       WHERE h.stopped_at IS NULL
                         AND h.heartbeat_at + make_interval(secs => h.lease_secs) >= now()
                         AND (h.processors IS NULL OR t.processor = ANY(h.processors)))
                 GROUP BY t.processor ORDER BY t.processor",
                &[&backfill_id],
            )?;
            let versions = client.query(
                "SELECT t.processor, r.plugin_hash, COUNT(*),
                        array_agg(DISTINCT r.host_id ORDER BY r.host_id)
                 FROM _slate.tasks t JOIN _slate.runs r ON r.run_id = t.run_id
                 WHERE t.backfill_id = $1
                 GROUP BY t.processor, r.plugin_hash
                 ORDER BY t.processor, COUNT(*) DESC, r.plugin_hash",
                &[&backfill_id],
            )?;
            let problems = client.query(
                "SELECT processor, data_date, status, host_id, run_id, error, takes
                 FROM _slate.tasks
                 WHERE backfill_id = $1 AND status IN ('failed', 'blocked')
                 ORDER BY data_date, rank",
                &[&backfill_id],
            )?;
            let finished_at = client
                .query_one(
                    "SELECT CASE WHEN bool_and(finished_at IS NOT NULL)
                                 THEN MAX(finished_at) END
                     FROM _slate.tasks WHERE backfill_id = $1",
                    &[&backfill_id],
                )?
                .get(0);
            let reprocess: &str = backfill.get(2);
            let progress = ClusterProgress {
                id: backfill_id.to_string(),
                start_date: backfill.get::<_, NaiveDate>(0),
                end_date: backfill.get(1),
                reprocess: reprocess.parse().map_err(|_| {
                    StoreError::backend(format!("unreadable reprocess mode `{reprocess}`"))
                })?,
                left_alone: backfill.get::<_, i64>(3) as usize,
                enqueued_by: backfill.get(4),
                enqueued_at: backfill.get(5),
                parallelism: backfill.get::<_, Option<i64>>(7).map(|p| p as usize),
                planned: counts.iter().map(|row| row.get::<_, i64>(1) as usize).sum(),
                queued: count("queued", &counts),
                taken: count("taken", &counts),
                succeeded: count(TaskEnd::Succeeded.as_str(), &counts),
                failed: count(TaskEnd::Failed.as_str(), &counts),
                blocked: count(TaskEnd::Blocked.as_str(), &counts),
                cancelled: count(CANCELLED, &counts),
                cancelled_at: backfill.get(6),
                by_host: by_host
                    .iter()
                    .map(|row| (row.get(0), row.get::<_, i64>(1) as usize))
                    .collect(),
                waiting_on_runs: waiting
                    .iter()
                    .map(|row| WaitingTask {
                        processor: row.get(0),
                        date: row.get(1),
                        run_id: row.get(2),
                        host_id: row.get(3),
                        started_at: row.get(4),
                    })
                    .collect(),
                unserved: unserved
                    .iter()
                    .map(|row| UnservedTasks {
                        processor: row.get(0),
                        queued: row.get::<_, i64>(1) as usize,
                    })
                    .collect(),
                mixed_versions: mixed_versions(&versions),
                finished_at,
                problems: problems
                    .iter()
                    .map(|row| TaskRecord {
                        processor: row.get(0),
                        date: row.get(1),
                        status: row.get(2),
                        host_id: row.get(3),
                        run_id: row.get(4),
                        error: row.get(5),
                        takes: row.get(6),
                    })
                    .collect(),
            };
            Ok(Some(progress))
        })
    }
}
