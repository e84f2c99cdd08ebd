//! Tables printed by the command line.

use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use slate::runs::RunRecord;

/// Prints `value` as pretty JSON, what `--json` asks of a command: one
/// document, an array for a list (`[]` when empty), an object for a
/// report or for several lists.
pub fn json(value: &impl serde::Serialize) -> anyhow::Result<ExitCode> {
    println!("{}", json_text(value)?);
    Ok(ExitCode::SUCCESS)
}

/// `value` as pretty JSON, safe to print: a processor's C1 controls and
/// bidirectional overrides, which JSON leaves raw, escaped as JSON
/// escapes them ([`slate::printable::json`]).
pub fn json_text(value: &impl serde::Serialize) -> anyhow::Result<String> {
    let text = serde_json::to_string_pretty(value)?;
    Ok(slate::printable::json(&text).into_owned())
}

/// Prints `table` (or any text the host drew around others' words) with
/// every character a terminal would act on escaped, line feeds and tabs
/// kept ([`slate::printable::lines`]): a cell may quote a processor's
/// value as JSON, which leaves C1 controls raw.
pub fn print(table: &impl std::fmt::Display) {
    println!("{}", slate::printable::lines(&table.to_string()));
}

/// A table with the house style and these headers.
pub fn table(headers: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(headers.to_vec());
    table
}

/// `items` joined with commas, or `when_empty` when there are none.
pub fn joined<S: AsRef<str>>(items: &[S], when_empty: &str) -> String {
    if items.is_empty() {
        return when_empty.to_string();
    }
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Milliseconds as `12 ms` or `1.2 s`.
pub fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "-".to_string(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) => format!("{:.1} s", ms as f64 / 1000.0),
    }
}

/// A run's peak memory as `12.5 MiB`, or `-` when none was recorded (it
/// did not get as far as an instance).
pub fn memory(bytes: i64) -> String {
    if bytes <= 0 {
        "-".to_string()
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
}

/// The first line of a run's error, shortened for a table cell.
pub fn short_error(record: &RunRecord) -> String {
    let Some(message) = &record.error_message else {
        return String::new();
    };
    let first = slate::printable::one_line(message.lines().next().unwrap_or_default());
    let kind = record
        .error_kind
        .map(|k| format!("[{k}] "))
        .unwrap_or_default();
    if first.chars().count() > 100 {
        format!("{kind}{}…", first.chars().take(100).collect::<String>())
    } else {
        format!("{kind}{first}")
    }
}
