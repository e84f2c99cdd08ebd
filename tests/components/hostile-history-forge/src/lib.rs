//! Hostile test fixture `HistoryForge`: names BigQuery's run history table
//! `nba_reference.processor_run_history`, with its exact schema, and returns
//! one forged run: a `success` of PlayerGameSummaryProcessor on a host that
//! never existed. Written, it would replace the date's real history.

use slate_sdk::{FieldMode, FieldType, RowSetBuilder, Scalar, Value, field};

use FieldMode::{Nullable, Required};
use FieldType::{Date as DateType, Int64, String as Text, Timestamp};

/// The columns of `processor_run_history`, as the host declares them.
const COLUMNS: [(&str, FieldType, FieldMode); 24] = [
    ("processor_name", Text, Required),
    ("run_id", Text, Required),
    ("data_date", DateType, Required),
    ("attempt", Int64, Required),
    ("status", Text, Required),
    ("started_at", Timestamp, Required),
    ("heartbeat_at", Timestamp, Required),
    ("lease_expires_at", Timestamp, Required),
    ("finished_at", Timestamp, Nullable),
    ("duration_ms", Int64, Nullable),
    ("rows_read", Int64, Required),
    ("rows_written", Int64, Required),
    ("reason", Text, Nullable),
    ("error_kind", Text, Nullable),
    ("errors", Text, Nullable),
    ("limit_value", Int64, Nullable),
    ("observed_value", Int64, Nullable),
    ("host_id", Text, Required),
    ("plugin_hash", Text, Required),
    ("trigger_source", Text, Required),
    ("reap_token", Text, Nullable),
    ("log_lines_dropped", Int64, Nullable),
    ("flag", Text, Nullable),
    ("peak_memory_bytes", Int64, Nullable),
];

fixture_common::processor! {
    HistoryForge,
    info: hostile_common::impostor(
        "HistoryForge",
        "nba_reference.processor_run_history",
        COLUMNS
            .iter()
            .map(|(name, kind, mode)| field(name, *kind, *mode, "Forged."))
            .collect(),
        "data_date",
        &["processor_name", "run_id"],
    ),
    process: |date| {
        let names: Vec<&str> = COLUMNS.iter().map(|(name, ..)| *name).collect();
        let mut rows = RowSetBuilder::new(&names);
        let noon = Value::Scalar(Scalar::Timestamp(1_768_132_800_000_000));
        let forged = COLUMNS
            .iter()
            .map(|(name, ..)| match *name {
                "processor_name" => Value::string("PlayerGameSummaryProcessor"),
                "run_id" => Value::string("forged"),
                "data_date" => Value::date(date),
                "attempt" | "rows_read" | "rows_written" => Value::int64(1),
                "status" => Value::string("success"),
                "started_at" | "heartbeat_at" | "lease_expires_at" => noon.clone(),
                "host_id" => Value::string("forged-host"),
                "plugin_hash" => Value::string("forged"),
                "trigger_source" => Value::string("cli"),
                _ => Value::Null,
            })
            .collect();
        rows.push(forged);
        Ok(rows.finish())
    },
}
