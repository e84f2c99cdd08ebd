//! `slate tables`: who owns which table, and `slate tables transfer`, the
//! one way ownership moves.

use std::process::ExitCode;

use anyhow::Result;
use slate::ownership::TableOwner;
use slate::schema::TableName;

use super::render::table;
use super::{HostOptions, usage};

/// Prints every table with its recorded owner and the transfers so far;
/// as JSON lines with `json`.
pub fn list(options: &HostOptions, json: bool) -> Result<ExitCode> {
    let store = super::open_store(options, false)?;
    let owned = store.table_owners()?;
    let transfers = store.table_transfers()?;
    if json {
        for table in &owned {
            println!("{}", serde_json::to_string(table)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut output = table(&["table", "owner", "since"]);
    for entry in &owned {
        output.add_row(vec![
            entry.table.to_string(),
            entry.owner.to_string(),
            entry.since.format("%Y-%m-%d %H:%M:%S").to_string(),
        ]);
    }
    println!("{output}");
    if !transfers.is_empty() {
        let mut output = table(&["table", "from", "to", "at", "by"]);
        for transfer in &transfers {
            output.add_row(vec![
                transfer.table.to_string(),
                transfer
                    .from
                    .as_ref()
                    .map_or("(no owner)".to_string(), ToString::to_string),
                transfer.to.to_string(),
                transfer.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                transfer.by.clone(),
            ]);
        }
        println!("transfers:\n{output}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Moves `table` to the processor `to`, or back to the host as a raw
/// input with `raw_input`, and records who asked.
pub fn transfer(
    options: &HostOptions,
    table: &str,
    to: Option<&str>,
    raw_input: bool,
) -> Result<ExitCode> {
    let Some(table) = TableName::parse(table) else {
        usage!("invalid table `{table}`: expected dataset.table, in lower case");
    };
    let to = match (to, raw_input) {
        (Some(name), false) => TableOwner::Processor(name.to_string()),
        (None, true) => TableOwner::RawInput,
        _ => usage!("give the new owner with --to NAME, or --raw-input"),
    };
    let store = super::open_store(options, false)?;
    if let Some(reason) = store.host_owned().reason(&table) {
        usage!("{table} is the host's and cannot be transferred: {reason}");
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
    let by = format!("{user} on {}", super::host_id());
    let transfer = store.transfer_table(&table, &to, &by)?;
    println!(
        "{} now owned by {} (was {}); recorded",
        transfer.table,
        transfer.to,
        transfer
            .from
            .as_ref()
            .map_or("no one".to_string(), ToString::to_string)
    );
    Ok(ExitCode::SUCCESS)
}
