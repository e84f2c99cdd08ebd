//! Run history and quarantine in BigQuery, in the source pipeline's shape.
//!
//! `processor_run_history` keeps the source pipeline's column names
//! (`processor_name`, `data_date`, `status`, `started_at`, `run_id`,
//! `errors`), so existing queries keep working, plus what Slate's
//! bookkeeping needs: leases, the plugin hash, limits and a reap token.
//! Both tables are partitioned by `data_date`.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value as Json;

use super::values::{UnreadableQueryCell, value_from_cell};
use crate::phase::Phase;
use crate::quarantine::QuarantineRecord;
use crate::rows::{Scalar, Value, naive_date};
use crate::runs::{RunRecord, UnknownName};
use crate::schema::TableSchema;

/// The run history table's name.
pub const RUN_HISTORY: &str = "processor_run_history";

/// The quarantine table's name.
pub const QUARANTINE: &str = "processor_quarantine";

/// The table of recorded table owners.
pub const TABLE_OWNERS: &str = "_slate_table_owners";

/// The table of recorded ownership transfers.
pub const TABLE_TRANSFERS: &str = "_slate_table_transfers";

/// The commit log: one row per run whose rows a transaction committed when
/// run history lives elsewhere (PostgreSQL), written in that transaction.
pub const COMMIT_LOG: &str = "_slate_commit_log";

/// A history table's schema: its columns from the BigQuery JSON schema
/// file beside this module (`schemas/`), and its partition and keys.
///
/// # Panics
/// When the file does not parse: it is compiled in, and a unit test reads
/// every one.
fn history_table(columns: &str, partition_column: &str, key_columns: &[&str]) -> TableSchema {
    TableSchema {
        columns: serde_json::from_str(columns).expect("a history schema file parses"),
        partition_column: partition_column.into(),
        key_columns: key_columns.iter().map(|k| k.to_string()).collect(),
    }
}

/// The schema of `processor_run_history`.
pub fn run_history_schema() -> TableSchema {
    history_table(
        include_str!("schemas/processor_run_history.json"),
        "data_date",
        &["processor_name", "run_id"],
    )
}

/// The schema of `processor_quarantine`.
pub fn quarantine_schema() -> TableSchema {
    history_table(
        include_str!("schemas/processor_quarantine.json"),
        "data_date",
        &["run_id", "row_index"],
    )
}

/// The schema of `_slate_table_owners`: one row per owned table.
pub fn table_owners_schema() -> TableSchema {
    history_table(
        include_str!("schemas/_slate_table_owners.json"),
        "recorded_on",
        &["table_name"],
    )
}

/// The schema of `_slate_commit_log`.
pub fn commit_log_schema() -> TableSchema {
    history_table(
        include_str!("schemas/_slate_commit_log.json"),
        "data_date",
        &["run_id"],
    )
}

/// The schema of `_slate_table_transfers`: one row per change of owner.
pub fn table_transfers_schema() -> TableSchema {
    history_table(
        include_str!("schemas/_slate_table_transfers.json"),
        "transferred_on",
        &["table_name", "transferred_at"],
    )
}

/// The history columns, comma-separated, in schema order: what
/// [`run_from_cells`] reads.
pub fn run_columns() -> String {
    run_history_schema().column_names().join(", ")
}

/// The quarantine columns, comma-separated, in schema order.
pub fn quarantine_columns() -> String {
    quarantine_schema().column_names().join(", ")
}

/// A run history or quarantine row that does not read back as a record.
#[derive(Debug, thiserror::Error)]
pub enum UnreadableRecord {
    /// A cell is not of its column's type.
    #[error("column {column}: {0}", column = .0.column())]
    Cell(#[source] UnreadableQueryCell),
    /// A column every record has is null.
    #[error("{record} row without {column}")]
    Missing {
        /// `run history` or `quarantine`.
        record: &'static str,
        /// The column.
        column: &'static str,
    },
    /// A column that holds a name (a status, an error kind, a trigger)
    /// holds none Slate knows.
    #[error("column {column}: {source}")]
    UnknownName {
        /// The column.
        column: &'static str,
        /// The text, and the names it may take.
        #[source]
        source: UnknownName,
    },
    /// The `phase` column holds a number that is no phase.
    #[error("column phase: {0} is no phase (3, 4 or 5)")]
    UnknownPhase(i64),
    /// A column that holds JSON (quarantine errors and rows, a run's
    /// upstream check) does not parse.
    #[error("unreadable {what}: {source}")]
    Json {
        /// The column.
        column: &'static str,
        /// What it holds, in words: `quarantine errors`, `quarantined row`,
        /// `upstream check`.
        what: &'static str,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
}

/// Reads one row of cells as typed values of `schema`, by position.
fn typed(schema: &TableSchema, cells: &[Option<Json>]) -> Result<Vec<Value>, UnreadableRecord> {
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            value_from_cell(column, cells.get(i).and_then(Option::as_ref))
                .map_err(UnreadableRecord::Cell)
        })
        .collect()
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Scalar(Scalar::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Scalar(Scalar::Int64(v)) => Some(*v),
        _ => None,
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Scalar(Scalar::Timestamp(micros)) => DateTime::from_timestamp_micros(*micros),
        _ => None,
    }
}

fn date(value: &Value) -> Option<NaiveDate> {
    match value {
        Value::Scalar(Scalar::Date(d)) => naive_date(*d),
        _ => None,
    }
}

/// A run record from a row selected with [`run_columns`].
pub fn run_from_cells(cells: &[Option<Json>]) -> Result<RunRecord, UnreadableRecord> {
    let v = typed(&run_history_schema(), cells)?;
    let required = |column| UnreadableRecord::Missing {
        record: "run history",
        column,
    };
    let name = |column| move |source| UnreadableRecord::UnknownName { column, source };
    let status = text(&v[4]).ok_or_else(|| required("status"))?;
    let trigger = text(&v[19]).ok_or_else(|| required("trigger_source"))?;
    Ok(RunRecord {
        processor: text(&v[0]).ok_or_else(|| required("processor_name"))?,
        run_id: text(&v[1]).ok_or_else(|| required("run_id"))?,
        data_date: date(&v[2]).ok_or_else(|| required("data_date"))?,
        attempt: int(&v[3]).unwrap_or(1),
        status: status.parse().map_err(name("status"))?,
        started_at: time(&v[5]).ok_or_else(|| required("started_at"))?,
        heartbeat_at: time(&v[6]).ok_or_else(|| required("heartbeat_at"))?,
        lease_expires_at: time(&v[7]).ok_or_else(|| required("lease_expires_at"))?,
        finished_at: time(&v[8]),
        duration_ms: int(&v[9]),
        rows_read: int(&v[10]).unwrap_or(0),
        rows_written: int(&v[11]).unwrap_or(0),
        reason: text(&v[12]),
        error_kind: text(&v[13])
            .map(|k| k.parse())
            .transpose()
            .map_err(name("error_kind"))?,
        error_message: text(&v[14]),
        limit_value: int(&v[15]),
        observed_value: int(&v[16]),
        host_id: text(&v[17]).unwrap_or_default(),
        plugin_hash: text(&v[18]).unwrap_or_default(),
        trigger: trigger.parse().map_err(name("trigger_source"))?,
        log_lines_dropped: int(&v[21]).unwrap_or(0),
        flag: text(&v[22]),
        peak_memory_bytes: int(&v[23]).unwrap_or(0),
        upstream_check: text(&v[24])
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|source| UnreadableRecord::Json {
                column: "upstream_check",
                what: "upstream check",
                source,
            })?,
        rows_with_quality_issues: int(&v[25]).unwrap_or(0),
        phase: int(&v[26])
            .map(|number| Phase::from_number(number).ok_or(UnreadableRecord::UnknownPhase(number)))
            .transpose()?,
    })
}

/// A quarantine record from a row selected with [`quarantine_columns`].
pub fn quarantine_from_cells(cells: &[Option<Json>]) -> Result<QuarantineRecord, UnreadableRecord> {
    let v = typed(&quarantine_schema(), cells)?;
    let required = |column| UnreadableRecord::Missing {
        record: "quarantine",
        column,
    };
    Ok(QuarantineRecord {
        run_id: text(&v[0]).ok_or_else(|| required("run_id"))?,
        processor: text(&v[1]).ok_or_else(|| required("processor_name"))?,
        data_date: date(&v[2]).ok_or_else(|| required("data_date"))?,
        table_name: text(&v[3]).ok_or_else(|| required("table_name"))?,
        row_index: int(&v[4]).ok_or_else(|| required("row_index"))? as u64,
        errors: serde_json::from_str(&text(&v[5]).ok_or_else(|| required("errors"))?).map_err(
            |source| UnreadableRecord::Json {
                column: "errors",
                what: "quarantine errors",
                source,
            },
        )?,
        raw_row: serde_json::from_str(&text(&v[6]).ok_or_else(|| required("raw_row"))?).map_err(
            |source| UnreadableRecord::Json {
                column: "raw_row",
                what: "quarantined row",
                source,
            },
        )?,
        quarantined_at: time(&v[7]).ok_or_else(|| required("quarantined_at"))?,
    })
}

/// A GoogleSQL string literal, escaped: for scripts, where the emulator
/// takes no query parameters.
pub fn string_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('\'');
    for c in text.chars() {
        match c {
            '\\' => literal.push_str("\\\\"),
            '\'' => literal.push_str("\\'"),
            '\n' => literal.push_str("\\n"),
            '\r' => literal.push_str("\\r"),
            '\t' => literal.push_str("\\t"),
            c if c.is_control() => literal.push_str(&format!("\\u{:04x}", c as u32)),
            c => literal.push(c),
        }
    }
    literal.push('\'');
    literal
}

/// A GoogleSQL TIMESTAMP literal.
pub fn timestamp_literal(time: DateTime<Utc>) -> String {
    format!("TIMESTAMP '{}'", timestamp_param(time))
}

/// A TIMESTAMP as a parameter value: `2026-01-11 10:00:00.123456+00:00`.
pub fn timestamp_param(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_quotes_backslashes_and_newlines() {
        assert_eq!(string_literal("it's"), r"'it\'s'");
        assert_eq!(string_literal("a\\b\nc"), r"'a\\b\nc'");
        assert_eq!(string_literal("x\u{1}"), r"'x\u0001'");
    }

    #[test]
    fn every_history_schema_file_parses_with_its_partition_and_keys_among_its_columns() {
        for schema in [
            run_history_schema(),
            quarantine_schema(),
            table_owners_schema(),
            table_transfers_schema(),
            commit_log_schema(),
        ] {
            assert!(!schema.columns.is_empty());
            let has = |name: &str| schema.columns.iter().any(|c| c.name == name);
            assert!(has(&schema.partition_column), "{}", schema.partition_column);
            for key in &schema.key_columns {
                assert!(has(key), "{key}");
            }
        }
        assert_eq!(run_history_schema().columns.len(), 27);
        assert_eq!(run_history_schema().columns[0].name, "processor_name");
        assert_eq!(
            run_history_schema().columns[0].description,
            "The processor."
        );
    }

    #[test]
    fn a_history_row_reads_back_as_a_run_record() {
        let cell = |v: &str| Some(Json::String(v.to_string()));
        let mut cells = vec![None; 24];
        cells[0] = cell("PlayerDailyCacheProcessor");
        cells[1] = cell("0190-run");
        cells[2] = cell("2026-01-11");
        cells[3] = cell("2");
        cells[4] = cell("failed");
        cells[5] = cell("1768125600123456");
        cells[6] = cell("1768125600123456");
        cells[7] = cell("1768125660123456");
        cells[10] = cell("10");
        cells[11] = cell("0");
        cells[13] = cell("stale");
        cells[17] = cell("host:1");
        cells[18] = cell("abc");
        cells[19] = cell("http");
        let record = run_from_cells(&cells).unwrap();
        assert_eq!(record.processor, "PlayerDailyCacheProcessor");
        assert_eq!(record.attempt, 2);
        assert_eq!(record.status, crate::runs::RunStatus::Failed);
        assert_eq!(record.error_kind, Some(crate::runs::ErrorKind::Stale));
        assert_eq!(record.trigger, crate::runs::Trigger::Http);
        assert_eq!(
            record.lease_expires_at - record.started_at,
            chrono::Duration::seconds(60)
        );
    }

    #[test]
    fn an_unreadable_history_row_names_the_column() {
        let cell = |v: &str| Some(Json::String(v.to_string()));
        let mut cells = vec![None; 24];
        for (i, v) in [
            (0, "P"),
            (1, "run"),
            (2, "2026-01-11"),
            (4, "exploded"),
            (5, "1"),
            (6, "1"),
            (7, "1"),
            (19, "cli"),
        ] {
            cells[i] = cell(v);
        }
        let error = run_from_cells(&cells).unwrap_err();
        assert!(
            matches!(
                &error,
                UnreadableRecord::UnknownName { column: "status", source } if source.given == "exploded"
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "column status: `exploded` is not one of: running, success, failed, blocked"
        );
        cells[4] = cell("failed");
        cells[7] = None;
        let error = run_from_cells(&cells).unwrap_err();
        assert!(
            matches!(
                error,
                UnreadableRecord::Missing {
                    record: "run history",
                    column: "lease_expires_at"
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "run history row without lease_expires_at"
        );
        cells[3] = cell("two");
        let error = run_from_cells(&cells).unwrap_err();
        assert!(
            matches!(&error, UnreadableRecord::Cell(cell) if cell.column() == "attempt"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "column attempt: expected INT64, got \"two\""
        );
    }
}
