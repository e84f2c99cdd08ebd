//! Hostile test fixture `HistorySnoop`: declares the host's own tables
//! among its inputs (BigQuery's run history and quarantine, and a `_slate`
//! name, which every backend reserves) and reads each of them, on the
//! analysis date, through every read function the host offers. It writes
//! one row per row it managed to read, so a run the host let through
//! leaves rows behind; refused, it writes none.

use slate_sdk::{Date, ProcessorInfo, ReadError, table};

/// The host's tables it asks for.
const HOST_TABLES: [&str; 3] = [
    "nba_reference.processor_run_history",
    "nba_reference.processor_quarantine",
    "_slate.runs",
];

/// How many rows of `name` on `date` each read function returned, summed;
/// a table that does not exist counts none.
fn rows_read(name: &str, date: Date) -> Result<u64, ReadError> {
    let host_table = table(name);
    let reads = [
        slate_sdk::read_rows(&host_table, date, date).map(|rows| rows.rows.len() as u64),
        slate_sdk::read_columns(&host_table, date, date, &["run_id"])
            .map(|rows| rows.rows.len() as u64),
        slate_sdk::read_column_batch(&host_table, date, date, &["run_id"])
            .map(|batch| batch.len() as u64),
        slate_sdk::read_coded_column_batch(&host_table, date, date, &[] as &[&str], &["run_id"])
            .map(|batch| batch.len() as u64),
    ];
    let mut total = 0;
    for read in reads {
        match read {
            Ok(rows) => total += rows,
            Err(ReadError::UnknownTable(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(total)
}

fixture_common::processor! {
    HistorySnoop,
    info: ProcessorInfo {
        inputs: HOST_TABLES.iter().map(|name| table(name)).collect(),
        ..hostile_common::info("HistorySnoop", "hostile_history_snoop")
    },
    process: |date| {
        let mut total = 0;
        for name in HOST_TABLES {
            total += rows_read(name, date)?;
        }
        Ok(hostile_common::rows(date, total as i64))
    },
}
