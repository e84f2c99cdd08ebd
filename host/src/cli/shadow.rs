//! `slate shadow run` (a shadow version replayed over past dates), `slate
//! shadow drop` (a shadow ended unpromoted) and `slate diff` (a shadow
//! compared with its active version, row by row).

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use slate::backfill::Outcome;
use slate::diff::TableDiff;
use slate::runs::RunStatus;
use slate::shadow::{self, ShadowDiff};

use super::render::table;
use super::{Host, HostOptions, load_pipeline};

/// Ends `name`'s shadow version, and drops its tables unless `keep`: the
/// way out of a failed experiment other than promoting it or replacing it.
pub fn drop(options: &HostOptions, name: &str, keep: bool) -> Result<ExitCode> {
    // The store first: a mistyped --data-dir is refused before the
    // registry is opened, which would create it there.
    let store = super::open_store(options, false)?;
    let runtime = super::plugins::runtime(options)?;
    let registry = super::plugins::registry(options)?;
    let pipeline = load_pipeline(options, store.as_ref(), &runtime, &registry)?;
    // An undeployed processor's shadow tables may stay behind.
    super::plugins::known_processor(&pipeline, &registry, name)?;
    let cleared = registry.clear_shadow(name)?;
    // Tables of a shadow that ended otherwise (its bytes deployed) go too.
    let dropped = match keep {
        true => Vec::new(),
        false => shadow::drop_tables(store.as_ref(), name)?,
    };
    if !cleared && dropped.is_empty() {
        super::usage!("{name} has no shadow version to drop, nor shadow tables");
    }
    if cleared {
        println!("{name} has no shadow version now: its shadow runs stop");
        let resolved = slate::deploy::resolve_alerts_of_ended_shadow(store.as_ref(), name)
            .context("the shadow is dropped, but its open alerts were not resolved")?;
        if resolved > 0 {
            println!("{resolved} open alerts of its shadow runs resolved");
        }
    }
    for table in &dropped {
        println!("dropped {table}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Replays `name`'s shadow from `from` to `to`, with a progress bar;
/// exits 1 when a shadow run failed, or when the version stopped being the
/// shadow before every date ran.
pub fn replay(
    options: &HostOptions,
    name: &str,
    (from, to): (NaiveDate, NaiveDate),
    parallelism: usize,
) -> Result<ExitCode> {
    let host = Host::open(options, false, parallelism)?;
    let range = (host.served(from)?, host.served(to)?);
    host.pipeline.select(&[name.to_string()])?;
    let days = (range.1 - range.0).num_days().max(0) as u64 + 1;
    let bar = ProgressBar::new(days);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} dates [{elapsed_precise}] {msg}")
            .expect("a valid progress template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let failed = Mutex::new(0usize);
    let on_outcome = |outcome: &Outcome| {
        let mut failed = failed.lock().unwrap_or_else(|e| e.into_inner());
        if outcome.status != Some(RunStatus::Success) {
            *failed += 1;
        }
        bar.inc(1);
        bar.set_message(format!("failed {failed}"));
    };
    let replay = shadow::replay(
        &host.executor,
        &host.pipeline,
        name,
        range,
        parallelism,
        &on_outcome,
        &|hash| {
            // A registry that cannot be read now does not stop the replay.
            host.registry.shadows().map_or(true, |shadows| {
                shadows
                    .iter()
                    .any(|s| s.stored.name == name && s.stored.hash == hash)
            })
        },
    )?;
    bar.inc((replay.skipped.len() + replay.not_run.len()) as u64);
    bar.finish();
    let succeeded = replay
        .outcomes
        .iter()
        .filter(|o| o.status == Some(RunStatus::Success))
        .count();
    let rows: i64 = replay.outcomes.iter().map(|o| o.rows).sum();
    println!(
        "shadow of {name}: {succeeded} of {} dates succeeded, {rows} rows; {} dates skipped \
         (no successful live run to compare with)",
        replay.outcomes.len(),
        replay.skipped.len()
    );
    let failures: Vec<&Outcome> = replay
        .outcomes
        .iter()
        .filter(|o| o.status != Some(RunStatus::Success))
        .collect();
    for failure in &failures {
        let first_line = failure
            .error
            .as_deref()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("");
        say!("{} failed: {first_line}", failure.date);
    }
    if let (Some(first), Some(last)) = (replay.not_run.first(), replay.not_run.last()) {
        say!(
            "{} dates ({first} to {last}) not run: this version stopped being the shadow of \
             {name} during the replay (dropped, promoted or replaced)",
            replay.not_run.len()
        );
    }
    Ok(if failures.is_empty() && replay.not_run.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

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
    let since = shadow::shadow_since(&registry, name)?;
    let compared = shadow::compare(store.as_ref(), &pipeline, name, range, since)?;
    if json {
        println!("{}", super::render::json_text(&compared)?);
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
    for (hash, dates) in &compared.live_written_by {
        if *hash != compared.live_hash {
            let listed: Vec<String> = dates.iter().map(ToString::to_string).collect();
            let which = if *hash == compared.shadow_hash {
                " (the shadow's own version: those dates compare it with itself)"
            } else {
                ""
            };
            println!(
                "note: the live rows of {} were written by version {}{which}, not the active \
                 {}: the shadow is compared with that version there (`slate runs --outdated`)",
                listed.join(", "),
                short(hash),
                short(&compared.live_hash),
            );
        }
    }
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
        let examples: Vec<String> = column
            .examples
            .iter()
            .map(|c| {
                let key: Vec<String> = c.key.iter().map(ToString::to_string).collect();
                format!(
                    "{}: {} → {}",
                    key.join(", "),
                    cell(&c.old.to_string()),
                    cell(&c.new.to_string())
                )
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
    super::render::print(&output);
}

/// A difference as the table shows it: six decimals, or in scientific
/// notation when that would read 0.000000 for a difference that is not
/// zero.
fn number(value: Option<f64>) -> String {
    match value {
        None => "-".to_string(),
        Some(v) if v != 0.0 && v.abs() < 5e-7 => format!("{v:.2e}"),
        Some(v) => format!("{v:.6}"),
    }
}

/// A value cut for a table cell (`--json` has it whole): a long text
/// would make the table as wide as the text.
fn cell(text: &str) -> String {
    const WIDTH: usize = 60;
    match text.chars().count() > WIDTH {
        true => format!("{}…", text.chars().take(WIDTH).collect::<String>()),
        false => text.to_string(),
    }
}

/// The first 12 characters of a content hash.
fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_difference_is_not_shown_as_zero_and_a_long_value_is_cut() {
        assert_eq!(number(Some(1e-9)), "1.00e-9");
        assert_eq!(number(Some(0.0)), "0.000000");
        assert_eq!(number(Some(0.25)), "0.250000");
        assert_eq!(number(None), "-");
        let long = "x".repeat(1000);
        assert_eq!(cell(&long).chars().count(), 61);
        assert_eq!(cell("short"), "short");
    }
}
