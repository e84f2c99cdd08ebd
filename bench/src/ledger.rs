//! The run ledger's bookkeeping on the embedded store (SQLite) against
//! PostgreSQL: the latency of a claim, a lease renewal and a commit of ten
//! rows, and claims per second as hosts are added (each host a store of
//! its own on the same database, claiming and ending runs of its own).
//!
//! PostgreSQL is the server `SLATE_TEST_POSTGRES_URL` names, else the one
//! `scripts/postgres.sh` runs; with neither, PostgreSQL is reported as
//! skipped, with the reason. Each measurement gets a database of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use slate::rows::{RowSet, Scalar, Value, wit_date};
use slate::runs::{NewRun, RunEnd, RunStatus, RunUsage, Trigger};
use slate::schema::{Column, ColumnMode, ColumnType, TableName, TableSchema};
use slate::store::{EmbeddedStore, PostgresStore, RunOutput, Store};

use crate::Effort;
use crate::report::Report;

const DEFAULT_URL: &str = "postgres://slate@127.0.0.1:55432/slate";

/// The server's URL, if one answers.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("SLATE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    postgres::Client::connect(&url, postgres::NoTls).ok()?;
    Some(url)
}

/// A new database on the server at `url`, for one measurement.
pub fn fresh_database(url: &str) -> anyhow::Result<String> {
    let name = format!("bench{}", &uuid::Uuid::now_v7().simple().to_string()[16..]);
    postgres::Client::connect(url, postgres::NoTls)?
        .batch_execute(&format!("CREATE DATABASE {name}"))?;
    let (base, _) = url.rsplit_once('/').unwrap_or((url, ""));
    Ok(format!("{base}/{name}"))
}

fn schema() -> TableSchema {
    TableSchema {
        columns: vec![
            Column::new("game_date", ColumnType::Date, ColumnMode::Required),
            Column::new("player_lookup", ColumnType::String, ColumnMode::Required),
            Column::new("points", ColumnType::Int64, ColumnMode::Nullable),
        ],
        partition_column: "game_date".into(),
        key_columns: vec!["player_lookup".into()],
    }
}

fn ten_rows(day: NaiveDate) -> RowSet {
    RowSet {
        columns: vec!["game_date".into(), "player_lookup".into(), "points".into()],
        rows: (0..10)
            .map(|i| {
                vec![
                    Value::Scalar(Scalar::Date(wit_date(day))),
                    Value::Scalar(Scalar::String(format!("player-{i}"))),
                    Value::Scalar(Scalar::Int64(i)),
                ]
            })
            .collect(),
    }
}

fn new_run(host: usize, processor: &str, day: NaiveDate) -> NewRun {
    NewRun {
        processor: processor.into(),
        phase: slate::phase::Phase::Precompute,
        data_date: day,
        host_id: format!("bench-host:{host}"),
        plugin_hash: "bench".into(),
        trigger: Trigger::Cli,
        lease: Duration::from_secs(60),
    }
}

/// The n-th date from 2000-01-01: every run claims a date of its own.
fn nth_day(n: usize) -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date") + chrono::Days::new(n as u64)
}

/// Median and 99th percentile, in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5).as_secs_f64() * 1e3, at(0.99).as_secs_f64() * 1e3)
}

/// The latency of each step of `runs` runs: claim, renew, commit.
fn step_latencies(store: &dyn Store, runs: usize) -> anyhow::Result<[Vec<Duration>; 3]> {
    let table = TableName::new("slate_bench", "ledger");
    let schema = schema();
    let mut steps: [Vec<Duration>; 3] = Default::default();
    for n in 0..runs {
        let day = nth_day(n);
        let start = Instant::now();
        let run = store.start_run(&new_run(0, "BenchProcessor", day))?;
        steps[0].push(start.elapsed());
        let start = Instant::now();
        store.renew_leases(std::slice::from_ref(&run.run_id), Duration::from_secs(60))?;
        steps[1].push(start.elapsed());
        let rows = ten_rows(day);
        let start = Instant::now();
        store.commit_run(
            &run.run_id,
            &RunOutput::new("BenchProcessor", &table, &schema, day, &rows),
        )?;
        steps[2].push(start.elapsed());
    }
    Ok(steps)
}

/// Claims per second with `hosts` stores claiming and ending runs at once.
fn claim_rate(
    hosts: usize,
    per_host: usize,
    open: &dyn Fn() -> anyhow::Result<Arc<dyn Store>>,
) -> anyhow::Result<f64> {
    let stores: Vec<Arc<dyn Store>> = (0..hosts).map(|_| open()).collect::<Result<_, _>>()?;
    let start = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(host, store)| {
                scope.spawn(move || -> anyhow::Result<()> {
                    let processor = format!("ClaimProcessor{host}");
                    for n in 0..per_host {
                        let run = store.start_run(&new_run(host, &processor, nth_day(n)))?;
                        store.end_run(
                            &run.run_id,
                            &RunEnd {
                                status: RunStatus::Blocked,
                                error_kind: None,
                                message: "bench".into(),
                                rows_read: 0,
                                limit: None,
                                usage: RunUsage::default(),
                                upstream_check: None,
                            },
                        )?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a claiming host"))
    })?;
    Ok((hosts * per_host) as f64 / start.elapsed().as_secs_f64())
}

/// Opens a store, as one more host would.
type OpenStore = Box<dyn Fn() -> anyhow::Result<Arc<dyn Store>>>;

/// Records the ledger's latencies and claim rates on both backends.
pub fn measure(report: &mut Report, effort: Effort) -> anyhow::Result<()> {
    let runs = effort.repeats.clamp(20, 500);
    let folder = tempfile::tempdir()?;
    let mut backends: Vec<(&str, OpenStore)> = Vec::new();
    let sqlite_file = folder.path().join("ledger.db");
    let sqlite_file_for_hosts = sqlite_file.clone();
    backends.push((
        "SQLite",
        Box::new(move || Ok(Arc::new(EmbeddedStore::open(&sqlite_file_for_hosts)?) as _)),
    ));
    match postgres_url() {
        Some(url) => {
            let database = fresh_database(&url)?;
            backends.push((
                "PostgreSQL",
                Box::new(move || Ok(Arc::new(PostgresStore::connect(&database)?) as _)),
            ));
        }
        None => report.skip(
            "run ledger on PostgreSQL",
            "no PostgreSQL server answers (set SLATE_TEST_POSTGRES_URL or run \
             scripts/postgres.sh start)",
        ),
    }
    let mut medians: Vec<[f64; 3]> = Vec::new();
    for (backend, open) in &backends {
        let steps = step_latencies(open()?.as_ref(), runs)?;
        let mut row = [0.0; 3];
        for (index, (step, samples)) in ["claim", "lease renewal", "commit of 10 rows"]
            .into_iter()
            .zip(steps)
            .enumerate()
        {
            let (median, p99) = percentiles(samples);
            row[index] = median;
            report.add(
                "ledger",
                format!("{backend}: {step}"),
                median,
                "ms",
                format!("median of {runs}; p99 {p99:.3} ms"),
            );
        }
        medians.push(row);
        for hosts in 1..=3 {
            let rate = claim_rate(hosts, runs, open.as_ref())?;
            report.add(
                "ledger",
                format!("{backend}: claim + end, {hosts} host(s) at once"),
                rate,
                "runs/s",
                "each host its own store (connection pool) on the same file or database",
            );
        }
    }
    if let [sqlite, postgres] = medians.as_slice() {
        for (index, step) in ["claim", "lease renewal", "commit"].into_iter().enumerate() {
            report.add(
                "ledger",
                format!("{step}: PostgreSQL / SQLite"),
                postgres[index] / sqlite[index],
                "×",
                "median latency ratio; above 1, PostgreSQL is slower",
            );
        }
    }
    Ok(())
}
