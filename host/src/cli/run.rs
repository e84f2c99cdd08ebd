//! `slate run` and `slate runs`.

use std::process::ExitCode;

use anyhow::Result;
use chrono::NaiveDate;
use slate::data_dir::DataDir;
use slate::runs::{RunFilter, RunStatus, Trigger};
use slate::store::{EmbeddedStore, Store};

use super::Host;
use super::render::{duration, short_error, table};

/// Runs the selected processors for `date`; exits non-zero if any did not succeed.
pub fn run(data_dir: &DataDir, date: NaiveDate, processors: &[String]) -> Result<ExitCode> {
    let host = Host::open(data_dir, false)?;
    let selection = host.pipeline.select(processors)?;
    let records = host
        .pipeline
        .run_date(&host.executor, date, &selection, Trigger::Cli)?;
    let mut output = table(&["processor", "status", "rows", "duration", "run", "error"]);
    for record in &records {
        output.add_row(vec![
            record.processor.clone(),
            record.status.to_string(),
            record.rows_written.to_string(),
            duration(record.duration_ms),
            record.run_id.clone(),
            short_error(record),
        ]);
    }
    println!("{output}");
    for record in records.iter().filter(|r| r.status != RunStatus::Success) {
        if let Some(message) = &record.error_message {
            eprintln!("{} {}: {message}", record.processor, record.status);
        }
    }
    let all_succeeded = records.iter().all(|r| r.status == RunStatus::Success);
    Ok(if all_succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints run history, newest first.
pub fn runs(
    data_dir: &DataDir,
    date: Option<NaiveDate>,
    processor: Option<String>,
    limit: usize,
) -> Result<ExitCode> {
    let store = EmbeddedStore::open_existing(&data_dir.store_file())?;
    let records = store.runs(&RunFilter {
        date,
        processor,
        limit: Some(limit),
        ..RunFilter::default()
    })?;
    let mut output = table(&[
        "run",
        "processor",
        "date",
        "attempt",
        "status",
        "rows",
        "duration",
        "started",
        "trigger",
        "error",
    ]);
    for r in &records {
        output.add_row(vec![
            r.run_id.clone(),
            r.processor.clone(),
            r.data_date.to_string(),
            r.attempt.to_string(),
            r.status.to_string(),
            r.rows_written.to_string(),
            duration(r.duration_ms),
            r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.trigger.to_string(),
            short_error(r),
        ]);
    }
    println!("{output}");
    Ok(ExitCode::SUCCESS)
}
