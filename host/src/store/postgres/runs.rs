//! The PostgreSQL store's run ledger: `_slate.runs`, whose partial unique
//! index on `(processor, data_date)` for `running` rows makes a claim
//! exact across hosts, and `_slate.quarantine`. A commit locks its run's
//! row, replaces the date's rows and marks the run `success` in one
//! transaction. A run's times are the database's clock, which every host
//! shares, read once its claim holds: a run that waited for another's end
//! starts after that end.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use postgres::Row as SqlRow;

use super::PostgresStore;
use super::alerts::{record_in, resolve_in};
use super::tables::{create_in, lock_table, owner_in, record_owner, replace_in, schema_in};
use crate::alerts::event::{self as alert, RunFacts};
use crate::ownership::{HostOwned, TableOwner, decide_commit};
use crate::phase::Phase;
use crate::quarantine::{self, QuarantineRecord};
use crate::runs::{NewRun, RunEnd, RunFilter, RunRecord, RunStatus, new_run_id};
use crate::store::{LoggedCommit, RunLedger, RunOutput, StoreError};
use crate::upstream_check::UpstreamCheck;

const RUN_COLUMNS: &str = "run_id, processor, data_date, attempt, status, reason, error_kind, \
    error_message, started_at, heartbeat_at, finished_at, duration_ms, rows_read, rows_written, \
    host_id, plugin_hash, run_trigger, lease_expires_at, limit_value, observed_value, \
    log_lines_dropped, flag, peak_memory_bytes, upstream_check_json, rows_with_quality_issues, \
    phase";

/// The milliseconds from a run's `started_at` to the instant `$at`.
const DURATION_TO: &str = "(EXTRACT(EPOCH FROM ($at - started_at)) * 1000)::BIGINT";

/// A time as the reaper's message spells it: RFC 3339 in UTC.
const RFC3339_OF: &str = "to_char($time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

fn unreadable(what: &str, text: &str) -> StoreError {
    StoreError::backend(format!("unreadable run {what} `{text}`"))
}

fn run_from_sql(row: &SqlRow) -> Result<RunRecord, StoreError> {
    let status: String = row.get(4);
    let kind: Option<String> = row.get(6);
    let trigger: String = row.get(16);
    let check: Option<String> = row.get(23);
    let phase: Option<i64> = row.get(25);
    Ok(RunRecord {
        run_id: row.get(0),
        processor: row.get(1),
        phase: phase
            .map(|number| {
                Phase::from_number(number).ok_or_else(|| unreadable("phase", &number.to_string()))
            })
            .transpose()?,
        data_date: row.get(2),
        attempt: row.get(3),
        status: status.parse().map_err(|_| unreadable("status", &status))?,
        reason: row.get(5),
        error_kind: kind
            .map(|k| k.parse().map_err(|_| unreadable("error kind", &k)))
            .transpose()?,
        error_message: row.get(7),
        started_at: row.get(8),
        heartbeat_at: row.get(9),
        finished_at: row.get(10),
        duration_ms: row.get(11),
        rows_read: row.get(12),
        rows_written: row.get(13),
        host_id: row.get(14),
        plugin_hash: row.get(15),
        trigger: trigger
            .parse()
            .map_err(|_| unreadable("trigger", &trigger))?,
        lease_expires_at: row.get(17),
        limit_value: row.get(18),
        observed_value: row.get(19),
        log_lines_dropped: row.get(20),
        flag: row.get(21),
        peak_memory_bytes: row.get(22),
        upstream_check: check
            .map(|json| serde_json::from_str(&json).map_err(|_| unreadable("check", &json)))
            .transpose()?,
        rows_with_quality_issues: row.get(24),
    })
}

/// Why a stale run failed, as SQL over its row: "host H stopped renewing
/// at T", and why, where the host said (a flag): "(its host gave it up:
/// the store failed: ...)".
fn stopped_renewing() -> String {
    format!(
        "'host ' || host_id || ' stopped renewing at ' || {} || COALESCE(' (' || flag || ')', '')",
        RFC3339_OF.replace("$time", "heartbeat_at")
    )
}

/// The assignments that fail a run as stale, reaped at the parameter `at`
/// (`$1`, `$2`, ...): the one definition both reapers use.
fn failed_as_stale(at: &str) -> String {
    format!(
        "status = 'failed', error_kind = 'stale',
         error_message = {stopped} || '; reaped at ' || {reaped_at},
         reason = {stopped}, finished_at = {at}, duration_ms = {duration}",
        stopped = stopped_renewing(),
        reaped_at = RFC3339_OF.replace("$time", at),
        duration = DURATION_TO.replace("$at", "heartbeat_at"),
    )
}

/// [`RUN_COLUMNS`] qualified by the table, for statements that join.
fn qualified_run_columns() -> String {
    RUN_COLUMNS
        .split(", ")
        .map(|column| format!("_slate.runs.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A run's upstream check as the JSON `_slate.runs` keeps.
fn check_json(check: Option<&UpstreamCheck>) -> Result<Option<String>, StoreError> {
    check
        .map(serde_json::to_string)
        .transpose()
        .map_err(StoreError::backend)
}

/// How long a reap waits on a lock before it gives up until the next
/// heartbeat. A stale run's row another transaction holds is passed over
/// (`SKIP LOCKED`) without waiting; this bounds the rest (a table lock).
const REAP_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '2s'";

impl PostgresStore {
    /// Commits a run: [`PostgresStore::commit_many_with`] for one run.
    pub(crate) fn commit_with(
        &self,
        run_id: &str,
        output: &RunOutput<'_>,
        write_rows: impl FnMut(&mut postgres::Transaction<'_>) -> Result<usize, StoreError> + Send,
    ) -> Result<usize, StoreError> {
        self.commit_many_with(&[(run_id, *output)], write_rows)
    }

    /// Commits runs as one: in one transaction, locks each run's row (a
    /// reaper waits for this commit, then finds the run no longer running;
    /// a run no longer running writes nothing for any of them), writes
    /// their rows with `write_rows` (into this database, inside the
    /// transaction; or into another warehouse, which then commits first),
    /// records each run's quarantined rows and marks each `success`.
    /// Returns the rows written. Of several runs, each is recorded with
    /// the rows of its own output.
    pub(crate) fn commit_many_with(
        &self,
        runs: &[(&str, RunOutput<'_>)],
        mut write_rows: impl FnMut(&mut postgres::Transaction<'_>) -> Result<usize, StoreError> + Send,
    ) -> Result<usize, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            for (run_id, _) in runs {
                let locked = transaction.query_opt(
                    "SELECT run_id FROM _slate.runs WHERE run_id = $1 AND status = 'running'
                     FOR UPDATE",
                    &[run_id],
                )?;
                if locked.is_none() {
                    return Err(StoreError::NotRunning(run_id.to_string()));
                }
            }
            let written = write_rows(&mut transaction)?;
            for (run_id, output) in runs {
                let own = match runs {
                    [_] => written,
                    _ => output.rows.rows.len(),
                };
                mark_committed_in(&mut transaction, run_id, output, own)?;
            }
            transaction.commit()?;
            Ok(written)
        })
    }
}

/// Marks `run_id` a success with `written` rows, records its quarantined
/// rows and raises or resolves its alerts, inside `transaction`.
fn mark_committed_in(
    transaction: &mut postgres::Transaction<'_>,
    run_id: &str,
    output: &RunOutput<'_>,
    written: usize,
) -> Result<(), StoreError> {
    let ended = transaction.query_one(
        &format!(
            "UPDATE _slate.runs SET status = 'success', finished_at = clock_timestamp(),
                     heartbeat_at = clock_timestamp(), duration_ms = {},
                     rows_read = $2, rows_written = $3, reason = $4, log_lines_dropped = $5,
                     peak_memory_bytes = $6, upstream_check_json = $7,
                     rows_with_quality_issues = $8
                 WHERE run_id = $1
                 RETURNING processor, attempt, host_id, finished_at",
            DURATION_TO.replace("$at", "clock_timestamp()")
        ),
        &[
            &run_id,
            &output.rows_read,
            &(written as i64),
            &quarantine::commit_reason(written, output.quarantined.len(), run_id),
            &(output.usage.log_lines_dropped as i64),
            &(output.usage.peak_memory_bytes as i64),
            &check_json(output.upstream_check)?,
            &(output.rows_with_quality_issues as i64),
        ],
    )?;
    let table = output.table.to_string();
    let quarantined = output.quarantined.iter().map(|row| {
        let errors = serde_json::to_string(&row.errors).map_err(StoreError::backend)?;
        Ok((row.row_index as i64, errors, row.raw_row.to_string()))
    });
    record_quarantined_in(transaction, run_id, &table, quarantined)?;
    let (processor, host): (String, String) = (ended.get(0), ended.get(2));
    let facts = RunFacts {
        run_id,
        processor: &processor,
        data_date: output.date,
        attempt: ended.get(1),
        host_id: &host,
    };
    let counts = (output.quarantined.len(), written);
    record_success_alerts_in(transaction, facts, &table, counts, ended.get(3))
}

/// Records a committed run's bad rows (row index, errors as JSON, the raw
/// row as JSON) in the quarantine table, inside `transaction`, dated as
/// the run's end.
fn record_quarantined_in(
    transaction: &mut postgres::Transaction<'_>,
    run_id: &str,
    table: &str,
    rows: impl Iterator<Item = Result<(i64, String, String), StoreError>>,
) -> Result<(), StoreError> {
    let mut insert = None;
    for row in rows {
        let (row_index, errors, raw_row) = row?;
        let insert = match &insert {
            Some(insert) => insert,
            None => insert.insert(transaction.prepare(
                "INSERT INTO _slate.quarantine (run_id, processor, data_date, table_name,
                         row_index, errors_json, raw_row_json, quarantined_at)
                     SELECT run_id, processor, data_date, $2, $3, $4, $5, finished_at
                     FROM _slate.runs WHERE run_id = $1",
            )?),
        };
        transaction.execute(insert, &[&run_id, &table, &row_index, &errors, &raw_row])?;
    }
    Ok(())
}

/// Raises the alert of a success that quarantined rows, and resolves the
/// alerts of the processor's date that a success ends, inside
/// `transaction`. `counts` are the rows quarantined and written.
fn record_success_alerts_in(
    transaction: &mut postgres::Transaction<'_>,
    facts: RunFacts<'_>,
    table: &str,
    (quarantined, written): (usize, usize),
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (run_id, processor, date) = (facts.run_id, facts.processor, facts.data_date);
    let (raised, resolved) = alert::for_success(facts, table, quarantined, written);
    if let Some(raised) = &raised {
        record_in(transaction, raised, now)?;
    }
    resolve_in(transaction, processor, Some(date), &resolved, run_id, now)?;
    Ok(())
}

impl PostgresStore {
    /// Reaps the runs whose lease expired before `now`, when their rows may
    /// have been committed in another warehouse whose commit log
    /// `committed` reads: a run found there is marked `success` with the
    /// rows it wrote and a note; the others fail as stale. The stale runs
    /// are locked first, skipping those a commit holds, so two reapers
    /// resolve each run once. Returns the runs resolved.
    pub(crate) fn reap_stale_checking(
        &self,
        now: DateTime<Utc>,
        mut committed: impl FnMut(&[String]) -> Result<HashMap<String, LoggedCommit>, StoreError> + Send,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            transaction.batch_execute(REAP_LOCK_TIMEOUT)?;
            let now = on_the_database_clock(&mut transaction, now)?;
            let stale: Vec<String> = transaction
                .query(
                    "SELECT run_id FROM _slate.runs
                     WHERE status = 'running' AND lease_expires_at < $1
                     ORDER BY run_id FOR UPDATE SKIP LOCKED",
                    &[&now],
                )?
                .iter()
                .map(|row| row.get(0))
                .collect();
            if stale.is_empty() {
                return Ok(Vec::new());
            }
            let committed = committed(&stale)?;
            let mut resolved = Vec::with_capacity(stale.len());
            for run_id in &stale {
                let row = match committed.get(run_id) {
                    Some(logged) => recover_committed_in(&mut transaction, run_id, logged, now)?,
                    None => transaction.query_one(
                        &format!(
                            "UPDATE _slate.runs SET {} WHERE run_id = $1 RETURNING {RUN_COLUMNS}",
                            failed_as_stale("$2")
                        ),
                        &[run_id, &now],
                    )?,
                };
                let run = run_from_sql(&row)?;
                if run.status == crate::runs::RunStatus::Failed {
                    record_reaped(&mut transaction, &run, now)?;
                }
                resolved.push(run);
            }
            transaction.commit()?;
            Ok(resolved)
        })
    }
}

/// Marks `run_id`, which the warehouse's commit log shows committed, a
/// success as its host would have: its rows written, its figures and its
/// quarantined rows from the log, with a note that the reaper recovered it,
/// and its alerts raised and resolved. Inside the reaper's transaction.
fn recover_committed_in(
    transaction: &mut postgres::Transaction<'_>,
    run_id: &str,
    logged: &LoggedCommit,
    now: DateTime<Utc>,
) -> Result<SqlRow, StoreError> {
    let facts = logged.facts.as_ref();
    let check = check_json(facts.and_then(|f| f.upstream_check.as_ref()))?;
    let quarantined = crate::quarantine::quarantine_note(logged.quarantined.len(), run_id);
    let row = transaction.query_one(
        &format!(
            "UPDATE _slate.runs SET status = 'success', finished_at = $2,
                 rows_written = $3, duration_ms = {duration},
                 rows_read = COALESCE($4, rows_read),
                 rows_with_quality_issues = COALESCE($5, rows_with_quality_issues),
                 log_lines_dropped = COALESCE($6, log_lines_dropped),
                 peak_memory_bytes = COALESCE($7, peak_memory_bytes),
                 upstream_check_json = COALESCE($8, upstream_check_json),
                 reason = 'committed in the warehouse (its commit log has the run), but ' \
                     || {stopped} || ' before recording it; recovered by the reaper at ' \
                     || {reaped_at} || $9
             WHERE run_id = $1 RETURNING {RUN_COLUMNS}",
            duration = DURATION_TO.replace("$at", "heartbeat_at"),
            stopped = stopped_renewing(),
            reaped_at = RFC3339_OF.replace("$time", "$2"),
        ),
        &[
            &run_id,
            &now,
            &logged.rows_written,
            &facts.map(|f| f.rows_read),
            &facts.map(|f| f.rows_with_quality_issues),
            &facts.map(|f| f.log_lines_dropped),
            &facts.map(|f| f.peak_memory_bytes),
            &check,
            &quarantined,
        ],
    )?;
    let table = &logged.table_name;
    let rows = logged.quarantined.iter().map(|record| {
        let errors = serde_json::to_string(&record.errors).map_err(StoreError::backend)?;
        Ok((record.row_index as i64, errors, record.raw_row.to_string()))
    });
    record_quarantined_in(transaction, run_id, table, rows)?;
    let run = run_from_sql(&row)?;
    let facts = RunFacts {
        run_id,
        processor: &run.processor,
        data_date: run.data_date,
        attempt: run.attempt,
        host_id: &run.host_id,
    };
    let counts = (logged.quarantined.len(), logged.rows_written as usize);
    record_success_alerts_in(transaction, facts, table, counts, now)?;
    Ok(row)
}

/// `now`, a reaper's instant on this host's clock, as the same instant on
/// the database's: leases are set by the database's clock, the one every
/// host shares, so a host whose clock runs ahead must not judge other
/// hosts' live runs stale by its own. An instant later than this host's
/// clock (a test passing one, to see leases expire) stays that much later.
fn on_the_database_clock(
    transaction: &mut postgres::Transaction<'_>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, StoreError> {
    // At most a century either way: `make_interval` takes no more.
    let century = 100.0 * 366.0 * 86_400.0;
    let ahead = (now - Utc::now())
        .num_microseconds()
        .map_or(century, |micros| micros as f64 / 1e6)
        .clamp(-century, century);
    Ok(transaction
        .query_one(
            "SELECT clock_timestamp() + make_interval(secs => $1)",
            &[&ahead],
        )?
        .get(0))
}

/// Records the alert a reaped run raises, inside the reaper's transaction.
fn record_reaped(
    transaction: &mut postgres::Transaction<'_>,
    run: &RunRecord,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let facts = RunFacts {
        run_id: &run.run_id,
        processor: &run.processor,
        data_date: run.data_date,
        attempt: run.attempt,
        host_id: &run.host_id,
    };
    let reason = run.reason.as_deref().unwrap_or_default();
    record_in(transaction, &alert::for_reaped_run(facts, reason), now)?;
    Ok(())
}

/// Writes a run's rows into their table in this database, inside the
/// commit's transaction: creating the table (owned by the run's processor)
/// on the first commit, refusing a table another owns.
fn replace_in_commit(
    transaction: &mut postgres::Transaction<'_>,
    output: &RunOutput<'_>,
) -> Result<usize, StoreError> {
    lock_table(transaction, output.table)?;
    let schema = match schema_in(transaction, output.table)? {
        Some(live) => {
            let recorded = owner_in(transaction, output.table)?;
            let host = HostOwned::default();
            let (processor, table) = (output.processor, output.table);
            if let Some(owner) = decide_commit(processor, table, recorded.as_ref(), &host)? {
                record_owner(transaction, table, &owner)?;
            }
            live
        }
        None => {
            let owner = TableOwner::Processor(output.processor.to_string());
            create_in(transaction, output.table, output.schema, Some(&owner))?;
            output.schema.clone()
        }
    };
    replace_in(
        transaction,
        output.table,
        &schema,
        &[output.date],
        output.rows,
    )
}

impl RunLedger for PostgresStore {
    fn start_run(&self, run: &NewRun) -> Result<RunRecord, StoreError> {
        self.with_client(|client| {
            // A holder that ends between the claim and the look at it
            // leaves the date free: claim again, a few times at most.
            let mut tries_left = 3;
            let (mut transaction, claimed) = loop {
                let mut transaction = client.transaction()?;
                // One statement decides the claim: the partial unique index
                // lets one of two hosts claiming at once insert, and the other
                // insert nothing. The insert may wait for a run that is ending.
                let claimed = transaction.query_opt(
                    "INSERT INTO _slate.runs (run_id, processor, data_date, attempt, status,
                     started_at, heartbeat_at, host_id, plugin_hash, run_trigger,
                     lease_expires_at, phase)
                 SELECT $1, $2, $3, COALESCE(MAX(attempt), 0) + 1, 'running',
                     clock_timestamp(), clock_timestamp(), $4, $5, $6, clock_timestamp(), $7
                 FROM _slate.runs WHERE processor = $2 AND data_date = $3
                 ON CONFLICT (processor, data_date) WHERE status = 'running' DO NOTHING
                 RETURNING run_id",
                    &[
                        &new_run_id(),
                        &run.processor,
                        &run.data_date,
                        &run.host_id,
                        &run.plugin_hash,
                        &run.trigger.as_str(),
                        &run.phase.number(),
                    ],
                )?;
                if let Some(claimed) = claimed {
                    break (transaction, claimed);
                }
                drop(transaction);
                let holder = client.query_opt(
                    "SELECT run_id, started_at FROM _slate.runs
                     WHERE processor = $1 AND data_date = $2 AND status = 'running'",
                    &[&run.processor, &run.data_date],
                )?;
                match holder {
                    Some(row) => {
                        return Err(StoreError::AlreadyRunning {
                            run_id: row.get(0),
                            started_at: row.get(1),
                        });
                    }
                    None if tries_left > 0 => tries_left -= 1,
                    None => {
                        return Err(StoreError::backend(format!(
                            "{} on {} was claimed and freed again and again; try again",
                            run.processor, run.data_date
                        )));
                    }
                }
            };
            // A run starts when its claim holds, after any wait above: its
            // times are the database's clock, the one every host shares.
            let run_id: String = claimed.get(0);
            let row = transaction.query_one(
                &format!(
                    "UPDATE _slate.runs SET started_at = clock.now, heartbeat_at = clock.now,
                         lease_expires_at = clock.now + make_interval(secs => $2)
                     FROM (SELECT clock_timestamp() AS now) clock
                     WHERE run_id = $1
                     RETURNING {}",
                    qualified_run_columns()
                ),
                &[&run_id, &super::lease_seconds(run.lease)],
            )?;
            transaction.commit()?;
            run_from_sql(&row)
        })
    }

    fn commit_run(&self, run_id: &str, output: &RunOutput<'_>) -> Result<usize, StoreError> {
        self.commit_with(run_id, output, |transaction| {
            replace_in_commit(transaction, output)
        })
    }

    fn quarantined(
        &self,
        run_id: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<QuarantineRecord>, StoreError> {
        // PostgreSQL takes a null limit as none.
        let limit = limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT run_id, processor, data_date, table_name, row_index, errors_json,
                        raw_row_json, quarantined_at
                 FROM _slate.quarantine WHERE $1::TEXT IS NULL OR run_id = $1
                 ORDER BY run_id DESC, row_index LIMIT $2",
                &[&run_id, &limit],
            )?)
        })?;
        let unreadable = |what: &str, e: serde_json::Error| {
            StoreError::backend(format!("unreadable quarantine record ({what}): {e}"))
        };
        rows.iter()
            .map(|row| {
                Ok(QuarantineRecord {
                    run_id: row.get(0),
                    processor: row.get(1),
                    data_date: row.get::<_, NaiveDate>(2),
                    table_name: row.get(3),
                    row_index: row.get::<_, i64>(4) as u64,
                    errors: serde_json::from_str(row.get(5))
                        .map_err(|e| unreadable("errors", e))?,
                    raw_row: serde_json::from_str(row.get(6)).map_err(|e| unreadable("row", e))?,
                    quarantined_at: row.get(7),
                })
            })
            .collect()
    }

    fn quarantine_counts(
        &self,
        dates: std::ops::RangeInclusive<NaiveDate>,
    ) -> Result<HashMap<String, u64>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT run_id, COUNT(*) FROM _slate.quarantine
                 WHERE data_date BETWEEN $1 AND $2 GROUP BY run_id",
                &[dates.start(), dates.end()],
            )?)
        })?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), row.get::<_, i64>(1) as u64))
            .collect())
    }

    fn end_run(&self, run_id: &str, end: &RunEnd) -> Result<(), StoreError> {
        let check = check_json(end.upstream_check.as_ref())?;
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let ended = transaction.query_opt(
                &format!(
                    "UPDATE _slate.runs SET status = $2, error_kind = $3, error_message = $4,
                         reason = $4, finished_at = clock_timestamp(),
                         heartbeat_at = clock_timestamp(), rows_read = $5,
                         limit_value = $6, observed_value = $7, log_lines_dropped = $8,
                         peak_memory_bytes = $9, upstream_check_json = $10,
                         duration_ms = {}
                     WHERE run_id = $1 AND status = 'running'
                     RETURNING processor, data_date, attempt, host_id, finished_at",
                    DURATION_TO.replace("$at", "clock_timestamp()")
                ),
                &[
                    &run_id,
                    &end.status.as_str(),
                    &end.error_kind.map(|k| k.as_str()),
                    &end.message,
                    &end.rows_read,
                    &end.limit.map(|(limit, _)| limit as i64),
                    &end.limit.map(|(_, observed)| observed as i64),
                    &(end.usage.log_lines_dropped as i64),
                    &(end.usage.peak_memory_bytes as i64),
                    &check,
                ],
            )?;
            let Some(ended) = ended else {
                return Err(StoreError::NotRunning(run_id.to_string()));
            };
            let (processor, host): (String, String) = (ended.get(0), ended.get(3));
            let facts = RunFacts {
                run_id,
                processor: &processor,
                data_date: ended.get(1),
                attempt: ended.get(2),
                host_id: &host,
            };
            if let Some(raised) = alert::for_run_end(facts, end) {
                record_in(&mut transaction, &raised, ended.get(4))?;
            }
            transaction.commit()?;
            Ok(())
        })
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                &format!(
                    "SELECT {} FROM _slate.runs
                     WHERE ($1::DATE IS NULL OR data_date = $1)
                       AND ($2::TEXT IS NULL OR processor = $2)
                       AND ($3::TEXT IS NULL OR status = $3)
                       AND ($4::TEXT IS NULL OR plugin_hash = $4)
                       AND ($6::TIMESTAMPTZ IS NULL
                            OR (status = 'running' AND lease_expires_at < $6))
                       AND ($7::DATE IS NULL OR data_date >= $7)
                       AND ($8::DATE IS NULL OR data_date <= $8)
                       AND ($9::TIMESTAMPTZ IS NULL
                            OR COALESCE(finished_at, started_at) >= $9)
                     ORDER BY started_at DESC, run_id DESC LIMIT $5",
                    match filter.skip_upstream_check {
                        true => RUN_COLUMNS.replace("upstream_check_json", "NULL::TEXT"),
                        false => RUN_COLUMNS.to_string(),
                    }
                ),
                &[
                    &filter.date,
                    &filter.processor,
                    &filter.status.map(RunStatus::as_str),
                    &filter.plugin_hash,
                    &filter.limit.map(|l| l as i64),
                    &filter.stale_as_of,
                    &filter.dates.as_ref().map(|d| *d.start()),
                    &filter.dates.as_ref().map(|d| *d.end()),
                    &filter.changed_since,
                ],
            )?)
        })?;
        rows.iter().map(run_from_sql).collect()
    }

    fn renew_leases(&self, run_ids: &[String], lease: Duration) -> Result<usize, StoreError> {
        if run_ids.is_empty() {
            return Ok(0);
        }
        self.with_client(|client| {
            let renewed = client.execute(
                "UPDATE _slate.runs SET heartbeat_at = clock.now,
                     lease_expires_at = clock.now + make_interval(secs => $2)
                 FROM (SELECT clock_timestamp() AS now) clock
                 WHERE run_id = ANY($1) AND status = 'running'",
                &[&run_ids, &super::lease_seconds(lease)],
            )?;
            Ok(renewed as usize)
        })
    }

    fn expire_leases(
        &self,
        host_id: &str,
        started_before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.with_client(|client| {
            Ok(client.execute(
                "UPDATE _slate.runs SET lease_expires_at = heartbeat_at
                 WHERE host_id = $1 AND status = 'running' AND started_at < $2",
                &[&host_id, &started_before],
            )? as usize)
        })
    }

    fn reap_stale(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            // A stale run's row locked by its host's open commit (a frozen
            // host) would hold the reaper, and with it the heartbeat that
            // renews this host's own leases: it waits a while, then gives
            // up until the next heartbeat.
            transaction.batch_execute(REAP_LOCK_TIMEOUT)?;
            let now = on_the_database_clock(&mut transaction, now)?;
            // One statement: the stale runs are locked first, skipping
            // those another transaction holds: of two hosts reaping at once,
            // each reaps the runs it locked, so each stale run is reaped
            // exactly once; and a run whose host stopped in the middle of
            // its commit (its row locked) waits for the next reap, instead
            // of failing this one, and with it the start of every command.
            let rows = transaction.query(
                &format!(
                    "UPDATE _slate.runs SET {}
                     WHERE run_id IN (
                         SELECT run_id FROM _slate.runs
                         WHERE status = 'running' AND lease_expires_at < $1
                         ORDER BY run_id FOR UPDATE SKIP LOCKED
                     )
                     RETURNING {RUN_COLUMNS}",
                    failed_as_stale("$1")
                ),
                &[&now],
            )?;
            let reaped: Vec<RunRecord> = rows.iter().map(run_from_sql).collect::<Result<_, _>>()?;
            for run in &reaped {
                record_reaped(&mut transaction, run, now)?;
            }
            transaction.commit()?;
            Ok(reaped)
        })
    }

    fn flag_run(&self, run_id: &str, reason: &str) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "UPDATE _slate.runs SET flag = $2 WHERE run_id = $1 AND status = 'running'",
                &[&run_id, &reason],
            )?;
            Ok(())
        })
    }

    fn alert_outbox(&self) -> Option<&dyn crate::store::alerts::AlertOutbox> {
        Some(self)
    }

    fn tick_ledger(&self) -> Option<&dyn crate::store::schedules::TickLedger> {
        Some(self)
    }

    fn work_queue(&self) -> Option<&dyn crate::store::work_queue::WorkQueue> {
        Some(self)
    }

    fn host_directory(&self) -> Option<&dyn crate::store::hosts::HostDirectory> {
        Some(self)
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = self.with_client(|client| {
            Ok(client.query_opt(
                &format!("SELECT {RUN_COLUMNS} FROM _slate.runs WHERE run_id = $1"),
                &[&run_id],
            )?)
        })?;
        row.as_ref().map(run_from_sql).transpose()
    }
}
