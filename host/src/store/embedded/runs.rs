//! The embedded store's run ledger: `_slate_runs`, whose partial unique
//! index on `(processor, data_date)` for `running` rows makes a claim
//! atomic, and `_slate_quarantine`. A commit replaces the date's rows and
//! marks the run `success` in one transaction.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row as SqlRow, TransactionBehavior, params};

use super::alerts::{record_in, resolve_in};
use super::tables::{create_in, owner_in, record_owner};
use super::{EmbeddedStore, lease_length, timestamp};
use crate::alerts::event::{self as alert, RunFacts};
use crate::ownership::{HostOwned, TableOwner, decide_commit};
use crate::phase::Phase;
use crate::quarantine::{self, QuarantineRecord};
use crate::runs::{NewRun, RunEnd, RunFilter, RunRecord, new_run_id};
use crate::store::alerts::AlertOutbox;
use crate::store::cells::{date_key, parse_date_key};
use crate::store::{RunLedger, RunOutput, StoreError};
use crate::upstream_check::UpstreamCheck;

const RUN_COLUMNS: &str = "run_id, processor, data_date, attempt, status, reason, error_kind, \
    error_message, started_at, heartbeat_at, finished_at, duration_ms, rows_read, rows_written, \
    host_id, plugin_hash, run_trigger, lease_expires_at, limit_value, observed_value, \
    log_lines_dropped, flag, peak_memory_bytes, upstream_check_json, rows_with_quality_issues, \
    phase";

fn run_from_sql(row: &SqlRow<'_>) -> rusqlite::Result<RunRecord> {
    let time = |index: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        let text: Option<String> = row.get(index)?;
        Ok(text
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)))
    };
    let parse = |index: usize, text: String| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unreadable value `{text}`").into(),
        )
    };
    let date: String = row.get(2)?;
    let status: String = row.get(4)?;
    let kind: Option<String> = row.get(6)?;
    let trigger: String = row.get(16)?;
    let check: Option<String> = row.get(23)?;
    let upstream_check = check
        .map(|json| serde_json::from_str(&json).map_err(|_| parse(23, json.clone())))
        .transpose()?;
    let phase: Option<i64> = row.get(25)?;
    Ok(RunRecord {
        run_id: row.get(0)?,
        processor: row.get(1)?,
        phase: phase
            .map(|number| Phase::from_number(number).ok_or_else(|| parse(25, number.to_string())))
            .transpose()?,
        data_date: parse_date_key(&date).ok_or_else(|| parse(2, date.clone()))?,
        attempt: row.get(3)?,
        status: status.parse().map_err(|_| parse(4, status.clone()))?,
        reason: row.get(5)?,
        error_kind: kind
            .map(|k| k.parse().map_err(|_| parse(6, k.clone())))
            .transpose()?,
        error_message: row.get(7)?,
        limit_value: row.get(18)?,
        observed_value: row.get(19)?,
        started_at: time(8)?.unwrap_or_default(),
        heartbeat_at: time(9)?.unwrap_or_default(),
        lease_expires_at: time(17)?.unwrap_or_default(),
        finished_at: time(10)?,
        duration_ms: row.get(11)?,
        rows_read: row.get(12)?,
        rows_written: row.get(13)?,
        host_id: row.get(14)?,
        plugin_hash: row.get(15)?,
        trigger: trigger.parse().map_err(|_| parse(16, trigger.clone()))?,
        log_lines_dropped: row.get(20)?,
        flag: row.get(21)?,
        peak_memory_bytes: row.get(22)?,
        upstream_check,
        rows_with_quality_issues: row.get(24)?,
    })
}

/// A run's upstream check as the JSON `_slate_runs` keeps.
fn check_json(check: Option<&UpstreamCheck>) -> Result<Option<String>, StoreError> {
    check
        .map(serde_json::to_string)
        .transpose()
        .map_err(StoreError::backend)
}

/// The query for the runs `filter` selects, newest first, with its values.
///
/// Only the conditions the filter sets are written: a prepared
/// `?1 IS NULL OR data_date = ?1` hides the column from SQLite's planner,
/// and then every look-up of one processor's date scanned the whole history
/// (the completeness check and the phase completion make a dozen per run).
fn runs_query(filter: &RunFilter) -> (String, Vec<Box<dyn rusqlite::ToSql>>) {
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    let mut condition = |sql: &'static str, value: Box<dyn rusqlite::ToSql>| {
        conditions.push(sql);
        values.push(value);
    };
    if let Some(date) = filter.date {
        condition("data_date = ?", Box::new(date_key(date)));
    }
    if let Some(dates) = &filter.dates {
        condition("data_date >= ?", Box::new(date_key(*dates.start())));
        condition("data_date <= ?", Box::new(date_key(*dates.end())));
    }
    if let Some(processor) = &filter.processor {
        condition("processor = ?", Box::new(processor.clone()));
    }
    if let Some(status) = filter.status {
        condition("status = ?", Box::new(status.as_str()));
    }
    if let Some(hash) = &filter.plugin_hash {
        condition("plugin_hash = ?", Box::new(hash.clone()));
    }
    if let Some(now) = filter.stale_as_of {
        condition(
            "status = 'running' AND lease_expires_at < ?",
            Box::new(timestamp(now)),
        );
    }
    if let Some(since) = filter.changed_since {
        // The expression `_slate_runs_by_change` indexes.
        condition(
            "coalesce(finished_at, started_at) >= ?",
            Box::new(timestamp(since)),
        );
    }
    let columns = match filter.skip_upstream_check {
        true => RUN_COLUMNS.replace("upstream_check_json", "NULL"),
        false => RUN_COLUMNS.to_string(),
    };
    let clause = match conditions.is_empty() {
        true => String::new(),
        false => format!("WHERE {}", conditions.join(" AND ")),
    };
    values.push(Box::new(filter.limit.map_or(-1, |l| l as i64)));
    let sql = format!(
        "SELECT {columns} FROM _slate_runs {clause}
         ORDER BY started_at DESC, run_id DESC LIMIT ?"
    );
    (sql, values)
}

impl RunLedger for EmbeddedStore {
    fn start_run(&self, run: &NewRun) -> Result<RunRecord, StoreError> {
        let mut guard = self.lock();
        // Take the write lock first (waiting for other processes' writes),
        // and only then the start time: a run starts when its claim holds.
        let connection = guard.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let run_id = new_run_id();
        let now = Utc::now();
        let inserted = connection.execute(
            "INSERT INTO _slate_runs (run_id, processor, data_date, attempt, status, started_at,
                 heartbeat_at, host_id, plugin_hash, run_trigger, lease_expires_at, phase)
             SELECT ?1, ?2, ?3, COALESCE(MAX(attempt), 0) + 1, 'running', ?4, ?4, ?5, ?6, ?7, ?8,
                 ?9
             FROM _slate_runs WHERE processor = ?2 AND data_date = ?3",
            params![
                run_id,
                run.processor,
                date_key(run.data_date),
                timestamp(now),
                run.host_id,
                run.plugin_hash,
                run.trigger.as_str(),
                timestamp(now + lease_length(run.lease)),
                run.phase.number(),
            ],
        );
        match inserted {
            Ok(_) => {}
            Err(error)
                if error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
            {
                let holder: Option<(String, String)> = connection
                    .query_row(
                        "SELECT run_id, started_at FROM _slate_runs
                         WHERE processor = ?1 AND data_date = ?2 AND status = 'running'",
                        params![run.processor, date_key(run.data_date)],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                // Refused, and no run holds it: the store failed, not a
                // claim of another run (before, "already running (run ,
                // started 1970-01-01)", counted as left to that run).
                let Some((run_id, started_at)) = holder else {
                    return Err(error.into());
                };
                return Err(StoreError::AlreadyRunning {
                    run_id,
                    started_at: DateTime::parse_from_rfc3339(&started_at)
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or_default(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        connection.commit()?;
        drop(guard);
        self.run(&run_id)?.ok_or(StoreError::NotRunning(run_id))
    }

    fn commit_run(&self, run_id: &str, output: &RunOutput<'_>) -> Result<usize, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let owner = TableOwner::Processor(output.processor.to_string());
        let (schema, created) = match self.schema_in(&transaction, output.table)? {
            Some(live) => {
                let recorded = owner_in(&transaction, output.table)?;
                let host = HostOwned::default();
                let (processor, table) = (output.processor, output.table);
                if let Some(owner) = decide_commit(processor, table, recorded.as_ref(), &host)? {
                    record_owner(&transaction, table, &owner)?;
                }
                (live, false)
            }
            None => {
                create_in(&transaction, output.table, output.schema, Some(&owner))?;
                (Arc::new(output.schema.clone()), true)
            }
        };
        let written = self.replace_in(
            &transaction,
            output.table,
            &schema,
            &[output.date],
            output.rows,
        )?;
        let now = timestamp(Utc::now());
        let updated = transaction.execute(
            "UPDATE _slate_runs SET status = 'success', finished_at = ?2, heartbeat_at = ?2,
                 duration_ms = CAST(ROUND((julianday(?2) - julianday(started_at)) * 86400000) AS INTEGER),
                 rows_read = ?3, rows_written = ?4, reason = ?5, log_lines_dropped = ?6,
                 peak_memory_bytes = ?7, upstream_check_json = ?8, rows_with_quality_issues = ?9
             WHERE run_id = ?1 AND status = 'running'",
            params![
                run_id,
                now,
                output.rows_read,
                written as i64,
                quarantine::commit_reason(written, output.quarantined.len(), run_id),
                output.usage.log_lines_dropped as i64,
                output.usage.peak_memory_bytes as i64,
                check_json(output.upstream_check)?,
                output.rows_with_quality_issues as i64,
            ],
        )?;
        if updated != 1 {
            // The claim was lost (reaped as stale): write nothing.
            return Err(StoreError::NotRunning(run_id.to_string()));
        }
        let mut quarantine = transaction.prepare_cached(
            "INSERT INTO _slate_quarantine (run_id, processor, data_date, table_name, row_index,
                 errors_json, raw_row_json, quarantined_at)
             SELECT run_id, processor, data_date, ?2, ?3, ?4, ?5, ?6
             FROM _slate_runs WHERE run_id = ?1",
        )?;
        for row in output.quarantined {
            let errors = serde_json::to_string(&row.errors).map_err(StoreError::backend)?;
            quarantine.execute(params![
                run_id,
                output.table.to_string(),
                row.row_index as i64,
                errors,
                row.raw_row.to_string(),
                now,
            ])?;
        }
        drop(quarantine);
        let (processor, attempt, host): (String, i64, String) = transaction.query_row(
            "SELECT processor, attempt, host_id FROM _slate_runs WHERE run_id = ?1",
            [run_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        let facts = RunFacts {
            run_id,
            processor: &processor,
            data_date: output.date,
            attempt,
            host_id: &host,
        };
        let alerted_at = Utc::now();
        let table = output.table.to_string();
        let (raised, resolved) =
            alert::for_success(facts, &table, output.quarantined.len(), written);
        if let Some(raised) = &raised {
            record_in(&transaction, raised, alerted_at)?;
        }
        resolve_in(
            &transaction,
            &processor,
            Some(output.date),
            &resolved,
            run_id,
            alerted_at,
        )?;
        transaction.commit()?;
        if created {
            self.cached_schemas().insert(output.table.clone(), schema);
        }
        Ok(written)
    }

    fn quarantined(
        &self,
        run_id: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<QuarantineRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT run_id, processor, data_date, table_name, row_index, errors_json,
                    raw_row_json, quarantined_at
             FROM _slate_quarantine WHERE ?1 IS NULL OR run_id = ?1
             ORDER BY run_id DESC, row_index LIMIT ?2",
        )?;
        // SQLite takes a negative limit as none.
        let limit = limit.map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = statement.query_map(params![run_id, limit], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
            ))
        })?;
        let unreadable = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::backend(format!("unreadable quarantine record ({what}): {e}"))
        };
        let mut records = Vec::new();
        for row in rows {
            let (run_id, processor, date, table_name, row_index, errors, raw_row, at) = row?;
            records.push(QuarantineRecord {
                run_id,
                processor,
                data_date: parse_date_key(&date).ok_or_else(|| unreadable("date", &date))?,
                table_name,
                row_index: row_index as u64,
                errors: serde_json::from_str(&errors).map_err(|e| unreadable("errors", &e))?,
                raw_row: serde_json::from_str(&raw_row).map_err(|e| unreadable("row", &e))?,
                quarantined_at: DateTime::parse_from_rfc3339(&at)
                    .map_err(|e| unreadable("time", &e))?
                    .with_timezone(&Utc),
            });
        }
        Ok(records)
    }

    fn quarantine_counts(
        &self,
        dates: std::ops::RangeInclusive<chrono::NaiveDate>,
    ) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT run_id, COUNT(*) FROM _slate_quarantine
             WHERE data_date BETWEEN ?1 AND ?2 GROUP BY run_id",
        )?;
        let counts = statement
            .query_map(
                params![date_key(*dates.start()), date_key(*dates.end())],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64)),
            )?
            .collect::<Result<_, _>>()?;
        Ok(counts)
    }

    fn end_run(&self, run_id: &str, end: &RunEnd) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = Utc::now();
        let ended: Option<(String, String, i64, String)> = transaction
            .query_row(
                "UPDATE _slate_runs SET status = ?2, error_kind = ?3, error_message = ?4,
                     reason = ?4,
                     finished_at = ?5, heartbeat_at = ?5, rows_read = ?6,
                     limit_value = ?7, observed_value = ?8, log_lines_dropped = ?9,
                     peak_memory_bytes = ?10, upstream_check_json = ?11,
                     duration_ms = CAST(ROUND((julianday(?5) - julianday(started_at)) * 86400000) AS INTEGER)
                 WHERE run_id = ?1 AND status = 'running'
                 RETURNING processor, data_date, attempt, host_id",
                params![
                    run_id,
                    end.status.as_str(),
                    end.error_kind.map(|k| k.as_str()),
                    end.message,
                    timestamp(now),
                    end.rows_read,
                    end.limit.map(|(limit, _)| limit as i64),
                    end.limit.map(|(_, observed)| observed as i64),
                    end.usage.log_lines_dropped as i64,
                    end.usage.peak_memory_bytes as i64,
                    check_json(end.upstream_check.as_ref())?,
                ],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()?;
        let Some((processor, date, attempt, host)) = ended else {
            return Err(StoreError::NotRunning(run_id.to_string()));
        };
        let facts = RunFacts {
            run_id,
            processor: &processor,
            data_date: parse_date_key(&date)
                .ok_or_else(|| StoreError::backend(format!("unreadable run date `{date}`")))?,
            attempt,
            host_id: &host,
        };
        if let Some(raised) = alert::for_run_end(facts, end) {
            record_in(&transaction, &raised, now)?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let connection = self.lock();
        let (sql, values) = runs_query(filter);
        let mut statement = connection.prepare_cached(&sql)?;
        let records = statement
            .query_map(rusqlite::params_from_iter(values), run_from_sql)?
            .collect::<Result<_, _>>()?;
        Ok(records)
    }

    fn renew_leases(&self, run_ids: &[String], lease: Duration) -> Result<usize, StoreError> {
        let connection = self.lock();
        let now = Utc::now();
        let mut renew = connection.prepare_cached(
            "UPDATE _slate_runs SET heartbeat_at = ?2, lease_expires_at = ?3
             WHERE run_id = ?1 AND status = 'running'",
        )?;
        let mut renewed = 0;
        for run_id in run_ids {
            renewed += renew.execute(params![
                run_id,
                timestamp(now),
                timestamp(now + lease_length(lease))
            ])?;
        }
        Ok(renewed)
    }

    fn expire_leases(
        &self,
        host_id: &str,
        started_before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        Ok(self.lock().execute(
            "UPDATE _slate_runs SET lease_expires_at = heartbeat_at
             WHERE host_id = ?1 AND status = 'running' AND started_at < ?2",
            params![host_id, timestamp(started_before)],
        )?)
    }

    fn reap_stale(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // One statement: two hosts reaping at once each fail a run at most once.
        let mut reap = transaction.prepare_cached(
            "UPDATE _slate_runs SET status = 'failed', error_kind = 'stale',
                 error_message = 'host ' || host_id || ' stopped renewing at ' || heartbeat_at
                     || COALESCE(' (' || flag || ')', '') || '; reaped at ' || ?1,
                 reason = 'host ' || host_id || ' stopped renewing at ' || heartbeat_at
                     || COALESCE(' (' || flag || ')', ''),
                 finished_at = ?1,
                 duration_ms = CAST(ROUND((julianday(heartbeat_at) - julianday(started_at)) * 86400000) AS INTEGER)
             WHERE status = 'running' AND lease_expires_at < ?1
             RETURNING run_id, processor, data_date, attempt, host_id, reason",
        )?;
        let reaped: Vec<(String, String, String, i64, String, String)> = reap
            .query_map([timestamp(now)], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        drop(reap);
        for (run_id, processor, date, attempt, host, reason) in &reaped {
            let facts = RunFacts {
                run_id,
                processor,
                data_date: parse_date_key(date)
                    .ok_or_else(|| StoreError::backend(format!("unreadable run date `{date}`")))?,
                attempt: *attempt,
                host_id: host,
            };
            record_in(&transaction, &alert::for_reaped_run(facts, reason), now)?;
        }
        transaction.commit()?;
        drop(connection);
        let reaped: Vec<String> = reaped.into_iter().map(|(run_id, ..)| run_id).collect();
        let mut records = Vec::with_capacity(reaped.len());
        for run_id in reaped {
            records.extend(self.run(&run_id)?);
        }
        Ok(records)
    }

    fn flag_run(&self, run_id: &str, reason: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE _slate_runs SET flag = ?2 WHERE run_id = ?1 AND status = 'running'",
            params![run_id, reason],
        )?;
        Ok(())
    }

    fn alert_outbox(&self) -> Option<&dyn AlertOutbox> {
        Some(self)
    }

    fn tick_ledger(&self) -> Option<&dyn crate::store::schedules::TickLedger> {
        Some(self)
    }

    fn backfill_records(&self) -> Option<&dyn crate::store::backfill_records::BackfillRecords> {
        Some(self)
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM _slate_runs WHERE run_id = ?1"),
                [run_id],
                run_from_sql,
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    /// SQLite's plan for the runs `filter` selects, one step per line.
    fn plan(store: &EmbeddedStore, filter: &RunFilter) -> String {
        let (sql, values) = runs_query(filter);
        let connection = store.lock();
        let mut explain = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        explain
            .query_map(rusqlite::params_from_iter(values), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_processors_runs_on_a_date_or_a_window_and_the_latest_changes_are_found_by_index_not_by_scanning_the_history()
     {
        let store = EmbeddedStore::in_memory().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 11).unwrap();
        let on_a_date = RunFilter {
            date: Some(day),
            processor: Some("P".into()),
            limit: Some(1),
            ..RunFilter::default()
        };
        let over_a_window = RunFilter {
            processor: Some("P".into()),
            dates: Some(day - chrono::Duration::days(10)..=day),
            ..RunFilter::default()
        };
        // What a server following `/events` asks every second.
        let changed_lately = RunFilter {
            changed_since: Some(chrono::Utc::now()),
            skip_upstream_check: true,
            ..RunFilter::default()
        };
        for filter in [on_a_date, over_a_window, changed_lately] {
            let plan = plan(&store, &filter);
            assert!(plan.contains("USING INDEX"), "{filter:?}: {plan}");
            assert!(!plan.contains("SCAN _slate_runs"), "{filter:?}: {plan}");
        }
    }
}
