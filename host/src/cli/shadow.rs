//! `slate diff`: a processor's shadow version compared with its active
//! one, row by row, on the dates the shadow ran.

use std::process::ExitCode;

use anyhow::Result;
use slate::diff::TableDiff;
use slate::shadow::{self, ShadowDiff};

use super::render::table;
use super::{HostOptions, load_pipeline};

/// Prints how `name`'s shadow table differs from its live table, over
/// `range` (every date the shadow succeeded on when `None`).
pub fn diff(
    options: &HostOptions,
    name: &str,
    range: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    json: bool,
) -> Result<ExitCode> {
    let store = super::open_store(options, false)?;
    let runtime = super::plugins::runtime(options)?;
    let registry = super::plugins::registry(options)?;
    let pipeline = load_pipeline(options, store.as_ref(), &runtime, &registry)?;
    pipeline.select(&[name.to_string()])?;
    let compared = shadow::compare(store.as_ref(), &pipeline, name, range)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&compared)?);
    } else {
        print_diff(&compared);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_diff(compared: &ShadowDiff) {
    let TableDiff {
        live_rows,
        new_rows,
        only_in_live,
        only_in_new,
        changed,
        unchanged,
        ..
    } = &compared.diff;
    let (first, last) = (
        compared
            .dates
            .first()
            .map(ToString::to_string)
            .unwrap_or_default(),
        compared
            .dates
            .last()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    println!(
        "{}: live {} ({}) against shadow {} ({}), {} dates from {first} to {last}",
        compared.processor,
        short(&compared.live_hash),
        compared.live_table,
        short(&compared.shadow_hash),
        compared.shadow_table,
        compared.dates.len(),
    );
    println!(
        "rows: {live_rows} live, {new_rows} shadow; {only_in_live} only in live, \
         {only_in_new} only in shadow, {changed} changed, {unchanged} unchanged"
    );
    let schema = &compared.diff.schema;
    for column in &schema.added {
        println!(
            "schema: column {} {} added",
            column.name, column.column_type
        );
    }
    for column in &schema.removed {
        println!("schema: column {} removed", column.name);
    }
    for retyped in &schema.retyped {
        println!(
            "schema: column {} {} {} became {} {}",
            retyped.old.name,
            retyped.old.mode,
            retyped.old.column_type,
            retyped.new.mode,
            retyped.new.column_type
        );
    }
    if compared.diff.columns.is_empty() {
        return;
    }
    let mut output = table(&[
        "column",
        "rows changed",
        "max |diff|",
        "mean |diff|",
        "examples (key: old → new)",
    ]);
    for column in &compared.diff.columns {
        let number = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.6}"));
        let examples: Vec<String> = column
            .examples
            .iter()
            .map(|c| {
                let key: Vec<String> = c.key.iter().map(ToString::to_string).collect();
                format!("{}: {} → {}", key.join(", "), c.old, c.new)
            })
            .collect();
        output.add_row(vec![
            column.column.clone(),
            column.rows_changed.to_string(),
            number(column.max_abs_diff),
            number(column.mean_abs_diff),
            examples.join("\n"),
        ]);
    }
    println!("{output}");
}

/// The first 12 characters of a content hash.
fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
