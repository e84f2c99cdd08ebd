//! Loading into BigQuery: rows per second for 10,000 rows of the 30-column
//! wide row, through the BigQuery backend's whole replace (staging load job,
//! then the transaction that swaps the date's rows), against a running
//! emulator.
//!
//! The emulator is the one `BIGQUERY_EMULATOR_HOST` names, else one on
//! 127.0.0.1:9050 (`scripts/bigquery-emulator.sh start`). With neither,
//! the measurement is reported as skipped, with the reason.

use std::time::Duration;

use chrono::NaiveDate;
use slate::plugin::Runtime;
use slate::rows::RowSet;
use slate::schema::TableName;
use slate::store::{BigQueryConfig, BigQueryStore, Tables};

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
    Ok(())
}
