//! Loading into BigQuery, against a running emulator: rows per second for
//! 10,000 rows of the 30-column wide row, through the BigQuery backend's
//! whole replace (staging load job, then the transaction that swaps the
//! date's rows); then the first 30 days of the demo season backfilled with
//! every processor, with the load jobs and transactions it issued per
//! table: committed date by date, 30 dates a commit, and with run state on
//! PostgreSQL.
//!
//! The emulator is the one `BIGQUERY_EMULATOR_HOST` names, else one on
//! 127.0.0.1:9050 (`scripts/bigquery-emulator.sh start`). With neither,
//! the measurement is reported as skipped, with the reason.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use slate::backfill::{self, BackfillRequest, Reprocess};
use slate::demo::load_season;
use slate::demo::season::{Season, SeasonConfig};
use slate::plugin::Runtime;
use slate::rows::RowSet;
use slate::schema::TableName;
use slate::store::{
    BigQueryConfig, BigQueryStore, JobCounts, PostgresStore, SplitStore, Store, Tables,
};

use crate::convert::row_to_host;
use crate::report::Report;
use crate::{Effort, components, time};

const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9050";

/// The emulator's endpoint, if one answers.
fn emulator() -> Option<String> {
    let endpoint = match std::env::var("BIGQUERY_EMULATOR_HOST") {
        Ok(host) if host.contains("://") => host,
        Ok(host) => format!("http://{host}"),
        Err(_) => DEFAULT_ENDPOINT.to_string(),
    };
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(address)
        .ok()?
        .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    reachable.then_some(endpoint)
}

/// Records the load rate, or why it was skipped.
pub fn measure(report: &mut Report, effort: Effort) -> anyhow::Result<()> {
    let Some(endpoint) = emulator() else {
        report.skip(
            "BigQuery load of 10k rows",
            "no BigQuery emulator answers (set BIGQUERY_EMULATOR_HOST or run \
             scripts/bigquery-emulator.sh start)",
        );
        return Ok(());
    };
    let mut config = BigQueryConfig::emulator(&endpoint, "test-project");
    config.dataset_prefix = format!("bench{}_", std::process::id());
    let store = BigQueryStore::connect(&config)?;

    let rows_per_load = if effort.backfill_dates.is_some() {
        1_000
    } else {
        10_000
    };
    let date = NaiveDate::from_ymd_opt(2026, 1, 11).expect("a date");
    let guest_date = slate_sdk::Date {
        year: 2026,
        month: 1,
        day: 11,
    };
    // The wide-rows processor's own output schema: 30 columns of mixed types.
    let plugin = Runtime::new(None)?.load(&std::fs::read(components::WIDE_ROWS_PROCESSOR)?)?;
    let schema = &plugin.spec.schema;
    let table = TableName::new("slate_bench", "wide");
    store.ensure_table(&table, schema)?;
    let rows = RowSet {
        columns: schema.columns.iter().map(|c| c.name.clone()).collect(),
        rows: (0..rows_per_load as i64)
            .map(|i| row_to_host(&wide_rows_processor::row(guest_date, i)))
            .collect(),
    };
    let repeats = effort.repeats.clamp(3, 5);
    let load = time(repeats, || {
        let written = store
            .replace_partitions(&table, &[date], &rows)
            .expect("the load succeeds");
        assert_eq!(written, rows_per_load);
    });
    assert_eq!(store.rows_on(&table, date)?, rows_per_load as u64);
    report.add(
        "bigquery",
        format!("load {rows_per_load} rows of 30 columns (replace one date)"),
        load.as_secs_f64() * 1e3,
        "ms",
        format!("emulator at {endpoint}: staging load job + transaction"),
    );
    report.add(
        "bigquery",
        "load rate",
        rows_per_load as f64 / load.as_secs_f64(),
        "rows/s",
        "the emulator is DuckDB on this machine, not the BigQuery service",
    );
    let date_by_date = BigQueryConfig {
        commit_batch_dates: 1,
        ..config.clone()
    };
    for (config, span, label) in [
        (
            &date_by_date,
            Span::FirstDays(30),
            "bigquery season, date by date",
        ),
        (
            &config,
            Span::FirstDays(30),
            "bigquery season, 30 dates a commit",
        ),
        (
            &config,
            Span::Season,
            "bigquery whole season, 30 dates a commit",
        ),
    ] {
        season_slice(report, effort, config, None, span, label)?;
    }
    match crate::ledger::postgres_url() {
        Some(url) => season_slice(
            report,
            effort,
            &config,
            Some(&crate::ledger::fresh_database(&url)?),
            Span::FirstDays(30),
            "bigquery season, state on postgres",
        ),
        None => {
            report.skip(
                "BigQuery season with run state on PostgreSQL",
                "no PostgreSQL server answers (set SLATE_TEST_POSTGRES_URL or run \
                 scripts/postgres.sh start)",
            );
            Ok(())
        }
    }
}

/// What a BigQuery backfill of the bench covers.
#[derive(Debug, Clone, Copy)]
enum Span {
    /// The season's first days: one chunk's worth is 30.
    FirstDays(i64),
    /// The whole season, every chunk.
    Season,
}

/// Backfills the demo season's first game dates into BigQuery with every
/// bundled processor, as `slate backfill --warehouse bigquery` does, and
/// reports under `group` the wall time and the jobs it issued per table.
/// With `state`, a PostgreSQL URL, run state lives there (`--state URL
/// --warehouse bigquery`), only the tables in BigQuery, and the backfill
/// goes through the work queue.
fn season_slice(
    report: &mut Report,
    effort: Effort,
    config: &BigQueryConfig,
    state: Option<&str>,
    span: Span,
    group: &'static str,
) -> anyhow::Result<()> {
    static SLICES: AtomicUsize = AtomicUsize::new(0);
    let mut config = config.clone();
    config.dataset_prefix = format!(
        "bench{}_season{}_",
        std::process::id(),
        SLICES.fetch_add(1, Ordering::SeqCst)
    );
    let bigquery = BigQueryStore::connect(&config)?;
    type Counts = Box<dyn Fn() -> JobCounts>;
    let (store, job_counts): (Arc<dyn Store>, Counts) = match state {
        Some(url) => {
            let split = Arc::new(SplitStore::new(PostgresStore::connect(url)?, bigquery));
            let counted = split.clone();
            (split, Box::new(move || counted.warehouse().job_counts()))
        }
        None => {
            let bigquery = Arc::new(bigquery);
            let counted = bigquery.clone();
            (bigquery, Box::new(move || counted.job_counts()))
        }
    };
    let dir = tempfile::tempdir()?;
    let runtime = Runtime::with_options(Some(&dir.path().join("compiled")), effort.runtime)?;
    let (pipeline, executor) = crate::backfill::bundled_pipeline(&runtime, store.clone())?;
    let season = Season::generate(SeasonConfig::default());
    load_season(store.as_ref(), &season)?;
    let game_dates = season.game_dates();
    let season_days = match (game_dates.first(), game_dates.last()) {
        (Some(first), Some(last)) => (*last - *first).num_days() + 1,
        _ => 0,
    };
    // Two days with --smoke, whatever the span.
    let days = match (effort.backfill_dates, span) {
        (Some(_), _) => 2,
        (None, Span::FirstDays(days)) => days,
        (None, Span::Season) => season_days,
    };
    let first = game_dates[0];
    let dates: Vec<NaiveDate> = game_dates
        .iter()
        .copied()
        .filter(|d| (*d - first).num_days() < days)
        .collect();
    let request = BackfillRequest {
        start: dates[0],
        end: *dates.last().expect("game dates"),
        selection: pipeline.select(&[])?,
        reprocess: Reprocess::Missing,
        parallelism: 1,
    };
    let plan = backfill::plan(store.as_ref(), &pipeline, &request)?;
    let before = job_counts();
    let started = Instant::now();
    let outcomes = match store.work_queue() {
        // Run state on PostgreSQL: through the work queue, as `slate
        // backfill --state` runs it, with one worker.
        Some(queue) => {
            let id = slate::work_queue::enqueue(queue, &pipeline, &request, &plan, "bench", None)?;
            let outcomes = std::sync::Mutex::new(Vec::new());
            slate::work_queue::work_until(
                queue,
                &|| &pipeline,
                &executor,
                1,
                &AtomicBool::new(false),
                &|| {
                    queue
                        .progress(&id)
                        .ok()
                        .flatten()
                        .is_some_and(|p| p.is_finished())
                },
                &|worked| {
                    if let slate::work_queue::Worked::Ended { ran, adopted } = worked {
                        let mut outcomes = outcomes.lock().expect("not poisoned");
                        outcomes.extend(ran.iter().chain(adopted).cloned());
                    }
                },
            )?;
            outcomes.into_inner().expect("not poisoned")
        }
        None => backfill::run(
            &pipeline,
            &executor,
            &plan,
            1,
            &AtomicBool::new(false),
            &|_| {},
        ),
    };
    let took = started.elapsed().as_secs_f64();
    let runs = outcomes.len();
    // The season's planted holes fail their runs, as they should.
    let planted = |date: &NaiveDate| {
        season.config.dates_missing_box_scores.contains(date)
            || season.config.dates_missing_odds.contains(date)
    };
    if let Some(failed) = outcomes
        .iter()
        .find(|o| o.is_failure() && !planted(&o.date))
    {
        anyhow::bail!(
            "{group}: {} failed on {}: {:?}",
            failed.processor,
            failed.date,
            failed.error
        );
    }
    let selection = request.selection;
    let after = job_counts();
    let added = |of: &BTreeMap<TableName, u64>, since: &BTreeMap<TableName, u64>| {
        of.iter()
            .map(|(table, n)| (table.clone(), n - since.get(table).copied().unwrap_or(0)))
            .collect::<BTreeMap<_, _>>()
    };
    let (loads, transactions) = (
        added(&after.load_jobs, &before.load_jobs),
        added(&after.transactions, &before.transactions),
    );
    // Per 30 dates, or per fewer where the dates do not divide by 30: a
    // season of 174 dates is six chunks, not 5.8.
    let per_30_dates = |counts: &BTreeMap<TableName, u64>| {
        let (table, most) = counts
            .iter()
            .max_by_key(|(_, n)| **n)
            .map_or(("none".to_string(), 0), |(t, n)| (t.to_string(), *n));
        (most as f64 / plan.dates.len().div_ceil(30) as f64, table)
    };
    let scope = format!(
        "{} dates ({} with games) x {} processors",
        plan.dates.len(),
        dates.len(),
        selection.len()
    );
    report.add(
        group,
        "backfill wall time",
        took,
        "s",
        format!("{scope}, {runs} runs, on the emulator"),
    );
    if plan.dates.len() as i64 == season_days {
        report.add(
            group,
            "the season",
            took / 60.0,
            "min",
            format!("{season_days} dates, measured whole; target <= 2 min"),
        );
    } else {
        report.add(
            group,
            "the season at this rate",
            took / plan.dates.len() as f64 * season_days as f64 / 60.0,
            "min",
            format!("{season_days} dates, extrapolated from the slice; target <= 2 min"),
        );
    }
    let (loads_30, loads_table) = per_30_dates(&loads);
    report.add(
        group,
        "load jobs per table per 30 dates or fewer",
        loads_30,
        "jobs",
        format!("the most of any table ({loads_table}); target <= 1"),
    );
    let (transactions_30, transactions_table) = per_30_dates(&transactions);
    report.add(
        group,
        "transactions per table per 30 dates or fewer",
        transactions_30,
        "jobs",
        format!("the most of any table ({transactions_table}); target <= 1"),
    );
    report.add(
        group,
        "query jobs per run",
        (after.queries - before.queries) as f64 / runs.max(1) as f64,
        "jobs",
        "reads, run bookkeeping and transactions together",
    );
    Ok(())
}
