//! BigQuery's run ledger: `processor_run_history` and
//! `processor_quarantine` in the history dataset. A claim is a conditional
//! INSERT checked by a re-read; a commit is one multi-statement
//! transaction that marks the run `success` and replaces the date's rows.

use chrono::{DateTime, Utc};

use super::api::Param;
use super::history::{
    QUARANTINE, quarantine_columns, quarantine_from_cells, quarantine_schema, string_literal,
    timestamp_literal, timestamp_param,
};
use super::*;
use crate::ownership::{TableOwner, decide_commit};
use crate::quarantine::{self, QuarantineRecord};
use crate::rows::RowSet;
use crate::runs::{NewRun, RunEnd, RunFilter, RunRecord, RunStatus, new_run_id};
use crate::store::{CommitFacts, LoggedCommit, RunLedger, RunOutput, StoreError, Tables};
use crate::upstream_check::UpstreamCheck;

/// Where the run a commit belongs to is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunRecordIn {
    /// In this store's run history, which the commit's transaction marks
    /// `success`.
    ThisStore,
    /// In another ledger (PostgreSQL): the transaction writes the run id to
    /// the commit log instead, for that ledger's reaper to find.
    Elsewhere,
}

impl BigQueryStore {
    /// Commits the runs' rows (one processor's, on one date each) in one
    /// load job and one transaction that also records each run's success
    /// here, or logs each commit for a ledger kept elsewhere: every date is
    /// replaced, or none is.
    fn commit(
        &self,
        runs: &[(&str, RunOutput<'_>)],
        record: RunRecordIn,
    ) -> Result<usize, StoreError> {
        let Some((_, first)) = runs.first() else {
            return Ok(0);
        };
        if let Some((run_id, other)) = runs
            .iter()
            .find(|(_, o)| o.table != first.table || o.processor != first.processor)
        {
            return Err(StoreError::backend(format!(
                "run {run_id} of {} writes {}: one commit holds one processor's runs of {}",
                other.processor, other.table, first.table
            )));
        }
        let owner = TableOwner::Processor(first.processor.to_string());
        self.may_commit(first)?;
        // The first commit creates the table: a failed run leaves none.
        self.ensure_schema(first.table, first.schema, true)?;
        let schema = self
            .live_schema(first.table)?
            .ok_or_else(|| StoreError::NoSuchTable(first.table.clone()))?;
        let rows = joined(runs.iter().map(|(_, output)| output.rows))?;
        let staged_rows = if rows.rows.is_empty() {
            None
        } else {
            Some(self.stage(first.table, &schema, &rows)?)
        };
        let now = Utc::now();
        let quarantine_table = self.history_table(QUARANTINE);
        // The bad rows go in with the good ones: for a ledger kept
        // elsewhere too, so that its reaper finds them if the host dies
        // before that ledger records them.
        let mut quarantined = Vec::new();
        for (run_id, output) in runs.iter().filter(|(_, o)| !o.quarantined.is_empty()) {
            if record == RunRecordIn::Elsewhere || self.run(run_id)?.is_some() {
                quarantined.push(quarantine_rows(run_id, output, now));
            }
        }
        let quarantined = joined(quarantined.iter())?;
        let staged_quarantine = if quarantined.rows.is_empty() {
            None
        } else {
            match self.stage(&quarantine_table, &quarantine_schema(), &quarantined) {
                Ok(staging) => Some(staging),
                Err(error) => {
                    if let Some(staging) = &staged_rows {
                        self.drop_staging(staging);
                    }
                    return Err(error);
                }
            }
        };
        let mut script = String::from("BEGIN TRANSACTION;\n");
        script.push_str(&self.record_or_log(runs, record, now)?);
        let dates: Vec<NaiveDate> = runs.iter().map(|(_, o)| o.date).collect();
        script.push_str(&format!(
            "{claim_owner};
             SELECT IF((SELECT COUNT(*) FROM {owners} WHERE table_name = {table}
                 AND NOT (owner_kind = 'processor' AND owner_name = {processor})) = 0,
                 1, ERROR({owner_marker}));
             {delete}\n",
            claim_owner = self.insert_owner_if_none(first.table, &owner, &[]),
            owners = self.sql_name(&self.history_table(TABLE_OWNERS)),
            table = string_literal(&first.table.to_string()),
            processor = string_literal(first.processor),
            owner_marker = string_literal(&format!("{NOT_OWNER} {}", first.table)),
            delete = self.delete_dates(first.table, &schema, &dates),
        ));
        if let Some(staging) = &staged_rows {
            script.push_str(&self.insert_from(first.table, staging, &schema));
        }
        if let Some(staging) = &staged_quarantine {
            // A script run again (its answer lost, the query retried) finds
            // its runs' rows there already: they go in once.
            script.push_str(&format!(
                "DELETE FROM {} WHERE run_id IN {};\n",
                self.sql_name(&quarantine_table),
                in_list(runs.iter().map(|(run_id, _)| string_literal(run_id)))
            ));
            script.push_str(&self.insert_from(&quarantine_table, staging, &quarantine_schema()));
        }
        script.push_str("\nCOMMIT TRANSACTION;");
        let committed = self.replace_in_transaction(first.table, &script);
        for staging in staged_rows.iter().chain(&staged_quarantine) {
            self.drop_staging(staging);
        }
        let Err(error) = committed else {
            return Ok(rows.rows.len());
        };
        // The script's guards roll it back whole when a claim was lost or
        // another processor took the table meanwhile. Which one it was is
        // read from the state they guard, never from the error's text.
        if record == RunRecordIn::ThisStore {
            for (run_id, _) in runs {
                let lost = self
                    .run(run_id)?
                    .is_none_or(|record| record.status != RunStatus::Running);
                if lost {
                    return Err(StoreError::NotRunning(run_id.to_string()));
                }
            }
        }
        self.may_commit(first)?;
        Err(error)
    }

    /// Refuses a commit of `output` to a table that another processor, a
    /// raw input or the host owns, by the owner on record now.
    fn may_commit(&self, output: &RunOutput<'_>) -> Result<(), StoreError> {
        let recorded = self.table_owner(output.table)?;
        decide_commit(
            output.processor,
            output.table,
            recorded.as_ref(),
            &self.host_owned(),
        )?;
        Ok(())
    }

    /// The statements of a commit's transaction that mark every run a
    /// success here (failing the script unless each was still running),
    /// or log their commits for a ledger kept elsewhere. However many the
    /// runs, they are two statements: BigQuery runs a script's statements
    /// one after another, each a round of its own.
    fn record_or_log(
        &self,
        runs: &[(&str, RunOutput<'_>)],
        record: RunRecordIn,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let now = timestamp_literal(now);
        match record {
            RunRecordIn::ThisStore => {
                let ids = in_list(runs.iter().map(|(run_id, _)| string_literal(run_id)));
                // A CASE whose every arm is a bare NULL would be INT64, which
                // BigQuery does not assign to a STRING column.
                let checks = runs
                    .iter()
                    .map(|(run_id, output)| {
                        let check = match output.upstream_check {
                            Some(_) => check_literal(output.upstream_check)?,
                            None => "CAST(NULL AS STRING)".to_string(),
                        };
                        Ok((*run_id, check))
                    })
                    .collect::<Result<std::collections::HashMap<&str, String>, StoreError>>()?;
                // Each run's own value of a column, chosen by its id.
                let by_run = |value: &dyn Fn(&str, &RunOutput<'_>) -> String| {
                    let arms: Vec<String> = runs
                        .iter()
                        .map(|(run_id, output)| {
                            let value = value(run_id, output);
                            format!("WHEN {} THEN {value}", string_literal(run_id))
                        })
                        .collect();
                    format!("CASE run_id {} END", arms.join(" "))
                };
                Ok(format!(
                    "UPDATE {h} SET status = 'success', finished_at = {now}, heartbeat_at = {now},
                         duration_ms = TIMESTAMP_DIFF({now}, started_at, MILLISECOND),
                         rows_read = {rows_read}, rows_written = {written}, reason = {reason},
                         log_lines_dropped = {dropped}, peak_memory_bytes = {peak},
                         upstream_check = {check}, rows_with_quality_issues = {with_issues}
                     WHERE run_id IN {ids} AND status = 'running';
                     SELECT IF((SELECT COUNT(*) FROM {h} WHERE run_id IN {ids}
                         AND status = 'success' AND finished_at = {now}) = {count}, 1,
                         ERROR({marker}));\n",
                    h = self.runs_table(),
                    rows_read = by_run(&|_, o| o.rows_read.to_string()),
                    written = by_run(&|_, o| o.rows.rows.len().to_string()),
                    reason = by_run(&|run_id, o| {
                        let written = o.rows.rows.len();
                        string_literal(&quarantine::commit_reason(
                            written,
                            o.quarantined.len(),
                            run_id,
                        ))
                    }),
                    dropped = by_run(&|_, o| o.usage.log_lines_dropped.to_string()),
                    peak = by_run(&|_, o| o.usage.peak_memory_bytes.to_string()),
                    check = by_run(&|run_id, _| checks[run_id].clone()),
                    with_issues = by_run(&|_, o| o.rows_with_quality_issues.to_string()),
                    count = runs.len(),
                    marker = string_literal(&format!(
                        "{NOT_RUNNING} {}",
                        runs.iter()
                            .map(|(id, _)| *id)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ))
            }
            RunRecordIn::Elsewhere => {
                let values: Vec<String> = runs
                    .iter()
                    .map(|(run_id, output)| {
                        let facts = serde_json::to_string(&CommitFacts::of(output))
                            .map_err(StoreError::backend)?;
                        Ok(format!(
                            "({run}, {processor}, {table}, DATE '{date}', {written}, {facts}, \
                             {now})",
                            run = string_literal(run_id),
                            processor = string_literal(output.processor),
                            table = string_literal(&output.table.to_string()),
                            date = output.date,
                            written = output.rows.rows.len(),
                            facts = string_literal(&facts),
                        ))
                    })
                    .collect::<Result<_, StoreError>>()?;
                // Deleted first, so that a script run again (its answer
                // lost) logs each run once.
                Ok(format!(
                    "DELETE FROM {log} WHERE run_id IN {ids};
                     INSERT INTO {log} (run_id, processor, table_name, data_date, rows_written,
                         run_facts, committed_at)
                     VALUES {values};\n",
                    log = self.sql_name(&self.history_table(COMMIT_LOG)),
                    ids = in_list(runs.iter().map(|(run_id, _)| string_literal(run_id))),
                    values = values.join(", "),
                ))
            }
        }
    }

    /// Claims every one of `runs` with three statements whatever their
    /// number, where [`RunLedger::start_run`] takes two per run: one read
    /// of the (processor, date)s' attempts and `running` claims, one INSERT
    /// of a claim for each that no run holds, and one read of the `running`
    /// claims after it. Only when two hosts claimed the same (processor,
    /// date) at once does a fourth withdraw the later claims: the earliest
    /// claim wins, as in `start_run`. (Lists are written out in the SQL:
    /// the emulator unnests an array parameter or literal far more slowly.)
    fn claim_together(
        &self,
        runs: &[NewRun],
    ) -> Result<Vec<Result<RunRecord, StoreError>>, StoreError> {
        let now = Utc::now();
        let dates = in_list(runs.iter().map(|run| format!("DATE '{}'", run.data_date)));
        let processors = in_list(runs.iter().map(|run| string_literal(&run.processor)));
        let prior = self.query(
            &format!(
                "SELECT processor_name, data_date, MAX(attempt), COUNTIF(status = 'running')
                 FROM {} WHERE data_date IN {dates} AND processor_name IN {processors}
                 GROUP BY processor_name, data_date",
                self.runs_table()
            ),
            &[],
        )?;
        // (processor, date) -> (attempts so far, whether a run holds it)
        let mut held: std::collections::HashMap<(String, String), (i64, bool)> = prior
            .rows
            .iter()
            .map(|cells| {
                let number = |i: usize| text_cell(cells, i).and_then(|t| t.parse::<i64>().ok());
                let key = (
                    text_cell(cells, 0).unwrap_or_default().to_string(),
                    text_cell(cells, 1).unwrap_or_default().to_string(),
                );
                (key, (number(2).unwrap_or(0), number(3).unwrap_or(0) > 0))
            })
            .collect();
        let mut run_ids = Vec::with_capacity(runs.len());
        let mut values = Vec::new();
        for run in runs {
            let run_id = new_run_id();
            let key = (run.processor.clone(), run.data_date.to_string());
            let (attempts, running) = held.entry(key).or_insert((0, false));
            if !*running {
                // On the host's clock, as renewals and reaps are: a lease
                // on BigQuery's would be judged against another clock.
                let lease = chrono::Duration::from_std(run.lease).unwrap_or(chrono::Duration::MAX);
                values.push(format!(
                    "({processor}, {run}, DATE '{date}', {attempt}, 'running', {now}, {now}, \
                     {expires}, 0, 0, {host}, {hash}, {trigger}, {phase})",
                    processor = string_literal(&run.processor),
                    run = string_literal(&run_id),
                    date = run.data_date,
                    attempt = *attempts + 1,
                    now = timestamp_literal(now),
                    expires = timestamp_literal(now + lease),
                    host = string_literal(&run.host_id),
                    hash = string_literal(&run.plugin_hash),
                    trigger = string_literal(run.trigger.as_str()),
                    phase = run.phase.number(),
                ));
                // A second claim of the same (processor, date) in this
                // batch finds it held.
                *running = true;
            }
            run_ids.push(run_id);
        }
        if !values.is_empty() {
            self.query(
                &format!(
                    "INSERT INTO {} (processor_name, run_id, data_date, attempt, status,
                         started_at, heartbeat_at, lease_expires_at, rows_read, rows_written,
                         host_id, plugin_hash, trigger_source, phase)
                     VALUES {}",
                    self.runs_table(),
                    values.join(", ")
                ),
                &[],
            )?;
        }
        let running = self.select_runs(
            &format!(
                "WHERE status = 'running' AND data_date IN {dates} \
                 AND processor_name IN {processors} ORDER BY started_at, run_id"
            ),
            &[],
        )?;
        let holder_of = |run: &NewRun| {
            running
                .iter()
                .find(|c| c.processor == run.processor && c.data_date == run.data_date)
        };
        let withdrawn: Vec<String> = runs
            .iter()
            .zip(&run_ids)
            .filter(|(run, run_id)| {
                running.iter().any(|c| &&c.run_id == run_id)
                    && holder_of(run).is_some_and(|holder| &&holder.run_id != run_id)
            })
            .map(|(_, run_id)| string_literal(run_id))
            .collect();
        if !withdrawn.is_empty() {
            self.query(
                &format!(
                    "DELETE FROM {} WHERE run_id IN {}",
                    self.runs_table(),
                    in_list(withdrawn.into_iter())
                ),
                &[],
            )?;
        }
        Ok(runs
            .iter()
            .zip(&run_ids)
            .map(|(run, run_id)| match holder_of(run) {
                Some(holder) if &holder.run_id == run_id => Ok(holder.clone()),
                Some(holder) => Err(StoreError::AlreadyRunning {
                    run_id: holder.run_id.clone(),
                    started_at: holder.started_at,
                }),
                // Claimed, and gone by the time it was read back: reaped,
                // not held by another run.
                None => Err(StoreError::backend(format!(
                    "the claim of {} on {} (run {run_id}) was no longer running when read \
                     back: reaped as its lease ran out before BigQuery answered",
                    run.processor, run.data_date
                ))),
            })
            .collect())
    }

    /// Replaces each run's date of its output table with its rows, in one
    /// transaction that also writes every run id to the commit log: for
    /// runs whose history another ledger keeps, which marks them `success`
    /// afterwards, or, if their host died first, finds them here
    /// ([`BigQueryStore::committed_runs`]). The log keeps each run's
    /// figures, and its quarantined rows go to this store's quarantine
    /// table in the same transaction, so that a reaper there records what
    /// the host would have. The runs are one processor's, as for
    /// [`RunLedger::commit_runs`].
    pub fn commit_rows(&self, runs: &[(&str, RunOutput<'_>)]) -> Result<usize, StoreError> {
        self.commit(runs, RunRecordIn::Elsewhere)
    }

    /// Of `run_ids`, those a transaction committed rows for (in the commit
    /// log), with what their ledger would have recorded: the rows written,
    /// the run's figures and its quarantined rows.
    pub fn committed_runs(
        &self,
        run_ids: &[String],
    ) -> Result<std::collections::HashMap<String, LoggedCommit>, StoreError> {
        if run_ids.is_empty() {
            return Ok(Default::default());
        }
        let listed = in_list(run_ids.iter().map(|id| string_literal(id)));
        let result = self.query(
            &format!(
                "SELECT run_id, rows_written, run_facts, table_name FROM {} \
                 WHERE run_id IN {listed}",
                self.sql_name(&self.history_table(COMMIT_LOG)),
            ),
            &[],
        )?;
        let mut committed = std::collections::HashMap::new();
        for cells in &result.rows {
            let run_id = text_cell(cells, 0).unwrap_or_default().to_string();
            let unreadable =
                || StoreError::backend(format!("unreadable commit log row of run {run_id}"));
            let rows_written = text_cell(cells, 1)
                .and_then(|text| text.parse().ok())
                .ok_or_else(unreadable)?;
            let facts = text_cell(cells, 2)
                .map(|json| serde_json::from_str(json).map_err(|_| unreadable()))
                .transpose()?;
            let logged = LoggedCommit {
                table_name: text_cell(cells, 3).unwrap_or_default().to_string(),
                rows_written,
                facts,
                quarantined: Vec::new(),
            };
            committed.insert(run_id, logged);
        }
        if committed.is_empty() {
            return Ok(committed);
        }
        let found = in_list(committed.keys().map(|id| string_literal(id)));
        let result = self.query(
            &format!(
                "SELECT {} FROM {} WHERE run_id IN {found} ORDER BY run_id, row_index",
                quarantine_columns(),
                self.sql_name(&self.history_table(QUARANTINE))
            ),
            &[],
        )?;
        for cells in &result.rows {
            let record = quarantine_from_cells(cells).map_err(StoreError::backend)?;
            if let Some(logged) = committed.get_mut(&record.run_id) {
                logged.quarantined.push(record);
            }
        }
        Ok(committed)
    }
}

/// What a claim came to, from whether its INSERT added it and the run ids
/// of the `running` claims of its (processor, date) read just after, the
/// oldest first.
#[derive(Debug, PartialEq, Eq)]
enum ClaimRead {
    /// Ours is the oldest running claim: the run is ours.
    Won,
    /// An older claim was added at the same time as ours: ours is
    /// withdrawn, and the one at `holder` holds the date.
    Withdraw {
        /// The older claim's place in the list.
        holder: usize,
    },
    /// Ours was not added: the claim at `holder` held the date, or none
    /// does by now (it ended meanwhile).
    Held {
        /// The holder's place in the list.
        holder: Option<usize>,
    },
    /// Ours was added but is no longer running: it ended (was reaped)
    /// before it was read back.
    Ended,
}

fn read_claim(inserted: bool, ours: &str, claims: &[&str]) -> ClaimRead {
    let holder = claims.iter().position(|id| *id != ours);
    match (inserted, claims.iter().position(|id| *id == ours)) {
        (true, Some(0)) => ClaimRead::Won,
        (true, Some(_)) => ClaimRead::Withdraw {
            holder: holder.expect("a claim older than ours"),
        },
        (true, None) => ClaimRead::Ended,
        (false, _) => ClaimRead::Held { holder },
    }
}

/// How many times a claim is tried again when the claim that refused it
/// ended before it could be named.
const CLAIM_RETRIES: u32 = 3;

impl BigQueryStore {
    /// One attempt of [`RunLedger::start_run`], with `retries_left`.
    fn claim_once(&self, run: &NewRun, retries_left: u32) -> Result<RunRecord, StoreError> {
        let run_id = new_run_id();
        let now = Utc::now();
        let lease = chrono::Duration::from_std(run.lease).unwrap_or(chrono::Duration::MAX);
        let inserted = self.query(
            &format!(
                "INSERT INTO {h} (processor_name, run_id, data_date, attempt, status, started_at,
                     heartbeat_at, lease_expires_at, rows_read, rows_written, host_id, plugin_hash,
                     trigger_source, phase)
                 SELECT @processor, @run_id, @date, COALESCE(MAX(attempt), 0) + 1, 'running', @now,
                     @now, @lease, 0, 0, @host, @hash, @trigger, @phase
                 FROM {h} WHERE processor_name = @processor AND data_date = @date
                 HAVING COALESCE(SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END), 0) = 0",
                h = self.runs_table()
            ),
            &[
                ("processor", Param::String(run.processor.clone())),
                ("run_id", Param::String(run_id.clone())),
                ("date", Param::Date(run.data_date)),
                ("now", Param::Timestamp(now)),
                ("lease", Param::Timestamp(now + lease)),
                ("host", Param::String(run.host_id.clone())),
                ("hash", Param::String(run.plugin_hash.clone())),
                ("trigger", Param::String(run.trigger.as_str().to_string())),
                ("phase", Param::Int64(run.phase.number())),
            ],
        )?;
        let claims = self.running_claims(&run.processor, run.data_date)?;
        let ids: Vec<&str> = claims.iter().map(|c| c.run_id.as_str()).collect();
        let held_by = |holder: &RunRecord| StoreError::AlreadyRunning {
            run_id: holder.run_id.clone(),
            started_at: holder.started_at,
        };
        match read_claim(inserted.dml_affected == Some(1), &run_id, &ids) {
            ClaimRead::Won => Ok(claims[0].clone()),
            ClaimRead::Withdraw { holder } => {
                // Two INSERTs ran at once; the earlier claim wins, so ours
                // is withdrawn, if it is still a running claim.
                self.query(
                    &format!(
                        "DELETE FROM {} WHERE run_id = @run_id AND status = 'running'",
                        self.runs_table()
                    ),
                    &[("run_id", Param::String(run_id.clone()))],
                )?;
                Err(held_by(&claims[holder]))
            }
            ClaimRead::Held {
                holder: Some(holder),
            } => Err(held_by(&claims[holder])),
            // The claim that held the date ended between the two
            // statements: the date is free, so it is claimed again.
            ClaimRead::Held { holder: None } if retries_left > 0 => {
                self.claim_once(run, retries_left - 1)
            }
            ClaimRead::Held { holder: None } => Err(StoreError::AlreadyRunning {
                run_id: String::new(),
                started_at: DateTime::<Utc>::default(),
            }),
            // Ours was added, then ended (reaped) before it was read back:
            // its record stays as that left it.
            ClaimRead::Ended => Err(StoreError::NotRunning(run_id)),
        }
    }
}

impl RunLedger for BigQueryStore {
    fn start_run(&self, run: &NewRun) -> Result<RunRecord, StoreError> {
        self.claim_once(run, CLAIM_RETRIES)
    }

    fn start_runs(&self, runs: &[NewRun]) -> Vec<Result<RunRecord, StoreError>> {
        match runs {
            [] => Vec::new(),
            [run] => vec![self.start_run(run)],
            _ => self.claim_together(runs).unwrap_or_else(|error| {
                // One failure of the statements fails every claim; none
                // is `running`, or the next reap fails it.
                runs.iter().map(|_| Err(error.clone())).collect()
            }),
        }
    }

    fn commit_run(&self, run_id: &str, output: &RunOutput<'_>) -> Result<usize, StoreError> {
        self.commit(&[(run_id, *output)], RunRecordIn::ThisStore)
    }

    fn commit_batch_dates(&self) -> Option<usize> {
        (self.commit_batch_dates > 1).then_some(self.commit_batch_dates)
    }

    /// Every read is a query job, billed at its 10 MB minimum.
    fn changes_read_every(&self) -> Duration {
        Duration::from_secs(15)
    }

    fn commit_runs(&self, runs: &[(&str, RunOutput<'_>)]) -> Result<usize, StoreError> {
        self.commit(runs, RunRecordIn::ThisStore)
    }

    fn quarantined(
        &self,
        run_id: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<QuarantineRecord>, StoreError> {
        let limit = limit.map_or_else(String::new, |limit| format!(" LIMIT {limit}"));
        let (clause, params) = match run_id {
            Some(run_id) => (
                "WHERE run_id = @run_id",
                vec![("run_id", Param::String(run_id.to_string()))],
            ),
            None => ("", Vec::new()),
        };
        let result = self.query(
            &format!(
                "SELECT {} FROM {} {clause} ORDER BY run_id DESC, row_index{limit}",
                quarantine_columns(),
                self.sql_name(&self.history_table(QUARANTINE))
            ),
            &params,
        )?;
        result
            .rows
            .iter()
            .map(|cells| quarantine_from_cells(cells).map_err(StoreError::backend))
            .collect()
    }

    fn quarantine_counts(
        &self,
        dates: std::ops::RangeInclusive<chrono::NaiveDate>,
    ) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let result = self.query(
            &format!(
                "SELECT run_id, COUNT(*) FROM {} WHERE data_date BETWEEN @from AND @to \
                 GROUP BY run_id",
                self.sql_name(&self.history_table(QUARANTINE))
            ),
            &[
                ("from", Param::Date(*dates.start())),
                ("to", Param::Date(*dates.end())),
            ],
        )?;
        result
            .rows
            .iter()
            .map(|cells| {
                let cell = |at: usize| cells.get(at).and_then(Option::as_ref)?.as_str();
                match (cell(0), cell(1).and_then(|n| n.parse().ok())) {
                    (Some(run_id), Some(count)) => Ok((run_id.to_string(), count)),
                    _ => Err(StoreError::backend(format!(
                        "unreadable quarantine count: {cells:?}"
                    ))),
                }
            })
            .collect()
    }

    fn end_run(&self, run_id: &str, end: &RunEnd) -> Result<(), StoreError> {
        let now = Utc::now();
        let (limit, observed) = match end.limit {
            Some((limit, observed)) => (format!("{limit}"), format!("{observed}")),
            None => ("NULL".to_string(), "NULL".to_string()),
        };
        let kind = end
            .error_kind
            .map_or("NULL".to_string(), |k| string_literal(k.as_str()));
        let errors = if end.error_kind.is_some() {
            "@message"
        } else {
            "NULL"
        };
        let result = self.query(
            &format!(
                "UPDATE {} SET status = @status, error_kind = {kind}, errors = {errors},
                     reason = @message,
                     finished_at = @now, heartbeat_at = @now, rows_read = @rows_read,
                     limit_value = {limit}, observed_value = {observed},
                     log_lines_dropped = {dropped}, peak_memory_bytes = {peak},
                     upstream_check = {check},
                     duration_ms = TIMESTAMP_DIFF(@now, started_at, MILLISECOND)
                 WHERE run_id = @run_id AND status = 'running'",
                self.runs_table(),
                dropped = end.usage.log_lines_dropped,
                peak = end.usage.peak_memory_bytes,
                check = check_literal(end.upstream_check.as_ref())?,
            ),
            &[
                ("status", Param::String(end.status.as_str().to_string())),
                ("message", Param::String(end.message.clone())),
                ("now", Param::Timestamp(now)),
                ("rows_read", Param::Int64(end.rows_read)),
                ("run_id", Param::String(run_id.to_string())),
            ],
        )?;
        if result.dml_affected == Some(1) {
            Ok(())
        } else {
            Err(StoreError::NotRunning(run_id.to_string()))
        }
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        if let Some(date) = filter.date {
            conditions.push("data_date = @date");
            params.push(("date", Param::Date(date)));
        }
        if let Some(dates) = &filter.dates {
            conditions.push("data_date BETWEEN @first AND @last");
            params.push(("first", Param::Date(*dates.start())));
            params.push(("last", Param::Date(*dates.end())));
        }
        if let Some(processor) = &filter.processor {
            conditions.push("processor_name = @processor");
            params.push(("processor", Param::String(processor.clone())));
        }
        if let Some(status) = filter.status {
            conditions.push("status = @status");
            params.push(("status", Param::String(status.as_str().to_string())));
        }
        if let Some(hash) = &filter.plugin_hash {
            conditions.push("plugin_hash = @hash");
            params.push(("hash", Param::String(hash.clone())));
        }
        if let Some(now) = filter.stale_as_of {
            conditions.push("status = 'running' AND lease_expires_at < @now");
            params.push(("now", Param::Timestamp(now)));
        }
        if let Some(since) = filter.changed_since {
            conditions.push("COALESCE(finished_at, started_at) >= @changed_since");
            params.push(("changed_since", Param::Timestamp(since)));
        }
        let mut clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        clause.push_str(" ORDER BY started_at DESC, run_id DESC");
        if let Some(limit) = filter.limit {
            clause.push_str(&format!(" LIMIT {limit}"));
        }
        let mut runs = self.select_runs(&clause, &params)?;
        if filter.skip_upstream_check {
            // A query's round trip dwarfs reading the column: it is read,
            // and dropped to keep the contract.
            for run in &mut runs {
                run.upstream_check = None;
            }
        }
        Ok(runs)
    }

    fn renew_leases(&self, run_ids: &[String], lease: Duration) -> Result<usize, StoreError> {
        if run_ids.is_empty() {
            return Ok(0);
        }
        let now = Utc::now();
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let result = self.query(
            &format!(
                "UPDATE {} SET heartbeat_at = @now, lease_expires_at = @expires
                 WHERE run_id IN {} AND status = 'running'",
                self.runs_table(),
                in_list(run_ids.iter().map(|run_id| string_literal(run_id)))
            ),
            &[
                ("now", Param::Timestamp(now)),
                ("expires", Param::Timestamp(now + lease)),
            ],
        )?;
        Ok(result.dml_affected.unwrap_or(0) as usize)
    }

    fn expire_leases(
        &self,
        host_id: &str,
        started_before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let result = self.query(
            &format!(
                "UPDATE {} SET lease_expires_at = heartbeat_at
                 WHERE host_id = @host AND status = 'running' AND started_at < @before",
                self.runs_table()
            ),
            &[
                ("host", Param::String(host_id.to_string())),
                ("before", Param::Timestamp(started_before)),
            ],
        )?;
        Ok(result.dml_affected.unwrap_or(0) as usize)
    }

    fn reap_stale(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError> {
        // One UPDATE tags what it fails with a fresh token, so two reapers
        // at once each read back only the runs they failed themselves.
        let token = new_run_id();
        // Why its host stopped renewing, where the host said (a flag).
        let stopped = "CONCAT('host ', host_id, ' stopped renewing at ', \
                       FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', heartbeat_at), \
                       IFNULL(CONCAT(' (', flag, ')'), ''))";
        self.query(
            &format!(
                "UPDATE {} SET status = 'failed', error_kind = 'stale', reap_token = @token,
                     errors = CONCAT({stopped}, '; reaped at ', @now_text),
                     reason = {stopped},
                     finished_at = @now,
                     duration_ms = TIMESTAMP_DIFF(heartbeat_at, started_at, MILLISECOND)
                 WHERE status = 'running' AND lease_expires_at < @now",
                self.runs_table()
            ),
            &[
                ("token", Param::String(token.clone())),
                ("now", Param::Timestamp(now)),
                ("now_text", Param::String(timestamp_param(now))),
            ],
        )?;
        self.select_runs(
            "WHERE reap_token = @token ORDER BY started_at",
            &[("token", Param::String(token))],
        )
    }

    fn flag_run(&self, run_id: &str, reason: &str) -> Result<(), StoreError> {
        self.query(
            &format!(
                "UPDATE {} SET flag = @reason WHERE run_id = @run_id AND status = 'running'",
                self.runs_table()
            ),
            &[
                ("reason", Param::String(reason.to_string())),
                ("run_id", Param::String(run_id.to_string())),
            ],
        )?;
        Ok(())
    }

    fn runs_with_ids(&self, run_ids: &[String]) -> Result<Vec<RunRecord>, StoreError> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = in_list(run_ids.iter().map(|run_id| string_literal(run_id)));
        self.select_runs(&format!("WHERE run_id IN {ids}"), &[])
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .select_runs(
                "WHERE run_id = @run_id",
                &[("run_id", Param::String(run_id.to_string()))],
            )?
            .into_iter()
            .next())
    }
}

/// A run's quarantined rows as rows of the quarantine table.
/// A run's upstream check as the JSON text `processor_run_history` keeps,
/// quoted for a script, or `NULL`.
fn check_literal(check: Option<&UpstreamCheck>) -> Result<String, StoreError> {
    Ok(match check {
        Some(check) => string_literal(&serde_json::to_string(check).map_err(StoreError::backend)?),
        None => "NULL".to_string(),
    })
}

/// SQL literals as a parenthesised list, each once, for `IN`.
fn in_list(literals: impl Iterator<Item = String>) -> String {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<String> = literals.filter(|l| seen.insert(l.clone())).collect();
    format!("({})", unique.join(", "))
}

/// The row sets as one, in order; they must name the same columns.
fn joined<'r>(
    sets: impl Iterator<Item = &'r RowSet>,
) -> Result<std::borrow::Cow<'r, RowSet>, StoreError> {
    let sets: Vec<&RowSet> = sets.collect();
    match sets.as_slice() {
        [] => Ok(std::borrow::Cow::Owned(RowSet {
            columns: Vec::new(),
            rows: Vec::new(),
        })),
        [one] => Ok(std::borrow::Cow::Borrowed(*one)),
        [first, rest @ ..] => {
            if let Some(other) = rest.iter().find(|set| set.columns != first.columns) {
                return Err(StoreError::backend(format!(
                    "rows to commit together name different columns: {:?} and {:?}",
                    first.columns, other.columns
                )));
            }
            Ok(std::borrow::Cow::Owned(RowSet {
                columns: first.columns.clone(),
                rows: sets
                    .iter()
                    .flat_map(|set| set.rows.iter().cloned())
                    .collect(),
            }))
        }
    }
}

fn quarantine_rows(run_id: &str, output: &RunOutput<'_>, now: DateTime<Utc>) -> RowSet {
    use crate::rows::{Scalar, Value, wit_date};
    let text = |s: String| Value::Scalar(Scalar::String(s));
    RowSet {
        columns: quarantine_schema().column_names(),
        rows: output
            .quarantined
            .iter()
            .map(|row| {
                vec![
                    text(run_id.to_string()),
                    text(output.processor.to_string()),
                    Value::Scalar(Scalar::Date(wit_date(output.date))),
                    text(output.table.to_string()),
                    Value::Scalar(Scalar::Int64(row.row_index as i64)),
                    text(serde_json::to_string(&row.errors).unwrap_or_default()),
                    text(row.raw_row.to_string()),
                    Value::Scalar(Scalar::Timestamp(now.timestamp_micros())),
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_read_back_first_is_won_and_one_read_back_later_is_withdrawn() {
        assert_eq!(read_claim(true, "b", &["b"]), ClaimRead::Won);
        assert_eq!(
            read_claim(true, "b", &["a", "b"]),
            ClaimRead::Withdraw { holder: 0 }
        );
    }

    /// A claim added and then reaped before it was read back is not
    /// withdrawn (which deleted the reaped record) nor reported as held by
    /// a nameless run started in 1970.
    #[test]
    fn a_claim_added_but_not_read_back_ended_and_is_left_as_it_is() {
        assert_eq!(read_claim(true, "b", &[]), ClaimRead::Ended);
        assert_eq!(read_claim(true, "b", &["a"]), ClaimRead::Ended);
    }

    #[test]
    fn a_claim_not_added_names_the_holder_or_finds_the_date_free_again() {
        assert_eq!(
            read_claim(false, "b", &["a"]),
            ClaimRead::Held { holder: Some(0) }
        );
        assert_eq!(
            read_claim(false, "b", &[]),
            ClaimRead::Held { holder: None }
        );
    }
}
