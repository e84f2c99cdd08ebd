//! `slate tables`: who owns which table, and `slate tables transfer`, the
//! one way ownership moves.

use std::process::ExitCode;

use anyhow::Result;
use slate::catalog;
use slate::ownership::TableOwner;
use slate::schema::TableName;

use super::render::table;
use super::{HostOptions, usage};

/// Prints every table with its recorded owner and the transfers so far;
/// with `json`, one object: `{"tables": [...], "transfers": [...]}`.
pub fn list(options: &HostOptions, json: bool) -> Result<ExitCode> {
    let store = super::open_store(options, false)?;
    let owned = store.table_owners()?;
    let transfers = store.table_transfers()?;
    if json {
        return super::render::json(&serde_json::json!({
            "tables": owned,
            "transfers": transfers,
        }));
    }
    let mut output = table(&["table", "owner", "since"]);
    for entry in &owned {
        output.add_row(vec![
            entry.table.to_string(),
            entry.owner.to_string(),
            entry.since.format("%Y-%m-%d %H:%M:%S").to_string(),
        ]);
    }
    super::render::print(&output);
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

/// Who `slate tables transfer` hands a table to.
pub enum NewOwner {
    /// The processor `name`; one this host does not know yet only with
    /// `before_deploy`.
    Processor {
        /// Its name.
        name: String,
        /// Whether it may be a processor not deployed yet.
        before_deploy: bool,
    },
    /// The host, as a raw input.
    RawInput,
}

/// Moves `table` to its new owner, and records who asked.
pub fn transfer(options: &HostOptions, table: &str, new_owner: NewOwner) -> Result<ExitCode> {
    let Some(table) = TableName::parse(table) else {
        usage!("invalid table `{table}`: expected dataset.table, in lower case");
    };
    let store = super::open_store(options, false)?;
    if let Some(reason) = store.host_owned().reason(&table) {
        usage!("{table} is the host's and cannot be transferred: {reason}");
    }
    if store.table_schema(&table)?.is_none() {
        usage!("no table {table} in the store (see `slate tables`)");
    }
    let to = match new_owner {
        NewOwner::RawInput => TableOwner::RawInput,
        NewOwner::Processor {
            name,
            before_deploy,
        } => {
            if name.trim().is_empty() {
                usage!("--to needs a processor name");
            }
            if !before_deploy {
                check_known_writer(options, &table, &name)?;
            }
            TableOwner::Processor(name)
        }
    };
    if store.table_owner(&table)?.as_ref() == Some(&to) {
        println!("{table} is owned by {to} already; nothing recorded");
        return Ok(ExitCode::SUCCESS);
    }
    // A processor keeps one table: owning two, every version of it would
    // be refused, for one of them would go stale.
    if let Some(name) = to.processor()
        && let Some(other) = (store.table_owners()?.into_iter())
            .find(|owned| owned.table != table && owned.owner.processor() == Some(name))
    {
        let other = &other.table;
        usage!(
            "{name} owns {other} already, and a processor owns one table: move {other} first \
             (`slate tables transfer {other} --to NAME`, or `--raw-input`)"
        );
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
    let by = format!("{user} on {}", slate::liveness::this_host_id());
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

/// Refuses `name` unless it is a processor this host knows (bundled,
/// deployed, or in `--plugin-dir`) whose output is `table`: a misspelt name
/// would otherwise take the table from the processor that writes it. The
/// check ignores recorded owners, so a table handed to a wrong name can be
/// handed back.
fn check_known_writer(options: &HostOptions, table: &TableName, name: &str) -> Result<()> {
    let runtime = super::plugins::runtime(options)?;
    let registry = super::plugins::existing_registry(options)?;
    let known = catalog::gather(&runtime, registry.as_ref(), options.plugin_dir.as_deref())?;
    let writes = |loaded: &&catalog::Loaded| &loaded.plugin.spec.output_table == table;
    match known.iter().find(|loaded| loaded.plugin.spec.name == name) {
        Some(loaded) if writes(&loaded) => Ok(()),
        Some(loaded) => usage!(
            "{name} writes {}, not {table}: it cannot own {table}",
            loaded.plugin.spec.output_table
        ),
        None => {
            let writers: Vec<&str> = known
                .iter()
                .filter(writes)
                .map(|loaded| loaded.plugin.spec.name.as_str())
                .collect();
            let writers = match writers.as_slice() {
                [] => format!("no known processor writes {table}"),
                names => format!("{table} is written by {}", names.join(", ")),
            };
            usage!(
                "no processor named {name} is bundled, deployed or in --plugin-dir \
                 ({writers}): check the name, or add --before-deploy to hand the table \
                 to a processor you will deploy next"
            )
        }
    }
}
