//! `slate quarantine`: the rows set aside by the `quarantine` bad-row policy.

use std::process::ExitCode;

use anyhow::Result;

use super::HostOptions;
use super::render::table;

/// Prints the quarantined rows of one run (or of every run), each with its
/// field errors and the raw row; as a JSON array with `json`.
pub fn quarantine(options: &HostOptions, run_id: Option<&str>, json: bool) -> Result<ExitCode> {
    let store = super::open_store(options, false)?;
    // A run id mistyped would list nothing, as a run that set no row aside.
    if let Some(run_id) = run_id
        && store.run(run_id)?.is_none()
    {
        super::usage!("no run {run_id}: `slate runs` lists the runs and their ids");
    }
    let records = store.quarantined(run_id, None)?;
    if json {
        return super::render::json(&records);
    }
    let mut output = table(&[
        "run",
        "processor",
        "date",
        "table",
        "row",
        "errors",
        "raw row",
    ]);
    for record in &records {
        let errors: Vec<String> = record.errors.iter().map(ToString::to_string).collect();
        output.add_row(vec![
            record.run_id.clone(),
            record.processor.clone(),
            record.data_date.to_string(),
            record.table_name.clone(),
            record.row_index.to_string(),
            errors.join("\n"),
            record.raw_row.to_string(),
        ]);
    }
    super::render::print(&output);
    println!(
        "{} quarantined {}",
        records.len(),
        slate::quarantine::rows_noun(records.len())
    );
    Ok(ExitCode::SUCCESS)
}
