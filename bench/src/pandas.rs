//! Slate against the stack it replaces: two processors written in pandas as
//! the source pipeline wrote them (`bench/reference/`), over the same season
//! from a copy of the same store, against Slate running each alone.
//!
//! For each processor, interleaved so that the machine's noise falls on
//! both alike, repeated and reduced to medians:
//!
//! - Slate: `slate backfill --processors NAME --reprocess all
//!   --parallelism 1` over the season's dates, in process through the
//!   library (planning, checks, runs and commits; plugins load warm);
//! - pandas: the reference script as its own process, whole wall time
//!   (interpreter start and `import pandas` included), on a copy of the
//!   store whose output table was emptied before the first run.
//!
//! Then both output tables are read back through the host, from the store
//! and from the copy, and compared: the same keys, the same values (floats
//! within a relative 1e-9), REPEATED cells as lists. A mismatch names the
//! first differing key and column, and fails the bench.
//!
//! The reference runs in `target/bench-venv`, made with `python3 -m venv`
//! and `bench/reference/requirements.txt`; without python3, venv or pip it
//! is reported as skipped, with the reason. Besides that folder, this
//! module writes only the season's store (the two processors' tables,
//! rewritten with the same rows, and their new runs in the history) and the
//! copy beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Deserialize;
use slate::backfill::{self, BackfillRequest, Reprocess, Tally};
use slate::executor::Executor;
use slate::pipeline::Pipeline;
use slate::plugin::Runtime;
use slate::rows::{Row, RowSet, Scalar, Value, value_json};
use slate::schema::{TableName, TableSchema};
use slate::store::{EmbeddedStore, InputSource, Store};

use crate::backfill::SeasonStore;
use crate::report::Report;
use crate::{Effort, median};

/// A processor and its pandas reference in `bench/reference/`.
struct Reference {
    /// The processor's name in Slate.
    processor: &'static str,
    /// A short name for the tables.
    short: &'static str,
    /// The reference script.
    script: &'static str,
}

const REFERENCES: [Reference; 2] = [
    Reference {
        processor: "PlayerDailyCacheProcessor",
        short: "PlayerDailyCache",
        script: "player_daily_cache.py",
    },
    Reference {
        processor: "PlayerShotZoneAnalysisProcessor",
        short: "PlayerShotZoneAnalysis",
        script: "player_shot_zone_analysis.py",
    },
];

/// How close two FLOAT64 cells must be, relative to the larger.
const FLOAT_TOLERANCE: f64 = 1e-9;

/// The first difference between Slate's table and the reference's.
#[derive(Debug, Clone, PartialEq)]
pub struct RowMismatch {
    /// The processor.
    pub processor: String,
    /// The row's key, e.g. `cache_date="2026-01-11", player_lookup="x"`.
    pub key: String,
    /// The differing column; `None` when the row itself is on one side only.
    pub column: Option<String>,
    /// Slate's cell (or whether it has the row).
    pub slate: String,
    /// The reference's cell (or whether it has the row).
    pub pandas: String,
}

impl fmt::Display for RowMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = self.column.as_deref().unwrap_or("the row");
        write!(
            f,
            "{}: rows differ first at {}, {column}: Slate {}, pandas {}",
            self.processor, self.key, self.slate, self.pandas
        )
    }
}

/// What the reference script prints last: its own summary of the season.
#[derive(Debug, Deserialize)]
struct ScriptSummary {
    dates_run: usize,
    dates_skipped: usize,
    rows: i64,
    /// The dates' loop alone, without the interpreter and the imports.
    seconds: f64,
}

/// The workspace's root, where `bench/reference/` and `target/` are.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the bench crate sits in the workspace")
        .to_path_buf()
}

/// Runs one step of setting up Python; the error is `failure` with the
/// step's last line of stderr.
fn setup_step(command: &mut Command, failure: &str) -> Result<(), String> {
    match command.output() {
        Err(error) => Err(format!("{failure}: {error}")),
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr
                .lines()
                .map(str::trim)
                .rfind(|line| !line.is_empty())
                .unwrap_or("no message");
            Err(format!("{failure} ({}): {last}", output.status))
        }
    }
}

/// The reference's interpreter in `target/bench-venv`, set up when missing
/// or when the requirements changed; the error says why it cannot be.
fn python_env(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    let requirements = root.join("bench/reference/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    let stamp = venv.join("installed-requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|had| had == wanted) {
        return Ok(python);
    }
    setup_step(
        Command::new("python3").arg("--version"),
        "python3 is not available",
    )?;
    println!(
        "setting up the pandas reference: python3 -m venv {}, pip install -r {}",
        venv.display(),
        requirements.display()
    );
    setup_step(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv failed",
    )?;
    setup_step(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
        "pip could not install bench/reference/requirements.txt",
    )?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(python)
}

/// A consistent copy of the store at `to` (in WAL mode, as the store
/// runs), with `emptied` tables left without rows.
fn copy_store(from: &Path, to: &Path, emptied: &[TableName]) -> anyhow::Result<()> {
    if to.exists() {
        std::fs::remove_file(to)?;
    }
    let source =
        rusqlite::Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let target = to.to_str().context("a UTF-8 path for the copy")?;
    source.execute("VACUUM INTO ?1", [target])?;
    let copy = rusqlite::Connection::open(to)?;
    copy.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    for table in emptied {
        copy.execute(&format!("DELETE FROM \"{table}\""), [])?;
    }
    Ok(())
}

/// Slate's season of one processor alone, as `slate backfill --processors
/// NAME --reprocess all --parallelism 1` runs it; any failed run fails it.
fn slate_season(
    pipeline: &Pipeline,
    executor: &Executor,
    store: &dyn Store,
    processor: &str,
    (first, last): (NaiveDate, NaiveDate),
) -> anyhow::Result<Tally> {
    let request = BackfillRequest {
        start: first,
        end: last,
        selection: pipeline.select(&[processor.to_string()])?,
        reprocess: Reprocess::All,
        parallelism: 1,
    };
    let plan = backfill::plan(store, pipeline, &request)?;
    let outcomes = backfill::run(
        pipeline,
        executor,
        &plan,
        request.parallelism,
        &AtomicBool::new(false),
        &|_| {},
    );
    if let Some(failed) = outcomes.iter().find(|o| o.is_failure()) {
        bail!(
            "{processor} failed on {}: {}",
            failed.date,
            failed.error.as_deref().unwrap_or("no message")
        );
    }
    Ok(backfill::tally(&outcomes)
        .remove(processor)
        .unwrap_or_default())
}

/// The reference's season as its own process, timed whole.
fn pandas_season(
    python: &Path,
    script: &Path,
    store: &Path,
    (first, last): (NaiveDate, NaiveDate),
) -> anyhow::Result<(Duration, ScriptSummary)> {
    let started = Instant::now();
    let output = Command::new(python)
        .arg(script)
        .arg("--store")
        .arg(store)
        .args(["--from", &first.to_string(), "--to", &last.to_string()])
        // Byte-compiled modules go under target/, not beside the scripts.
        .env(
            "PYTHONPYCACHEPREFIX",
            workspace_root().join("target/bench-venv/pycache"),
        )
        .output()
        .with_context(|| format!("cannot start {}", python.display()))?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "{} failed ({}):\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let summary = stdout
        .lines()
        .next_back()
        .with_context(|| format!("{} printed no summary", script.display()))?;
    let summary = serde_json::from_str(summary)
        .with_context(|| format!("{}'s summary `{summary}`", script.display()))?;
    Ok((elapsed, summary))
}

/// A cell as the mismatch shows it.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        other => value_json(other).to_string(),
    }
}

fn same_scalar(a: &Scalar, b: &Scalar) -> bool {
    match (a, b) {
        (Scalar::Float64(x), Scalar::Float64(y)) => {
            x == y || (x - y).abs() <= FLOAT_TOLERANCE * x.abs().max(y.abs())
        }
        _ => a == b,
    }
}

/// Whether two cells hold the same value: floats within the tolerance,
/// lists item by item.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Scalar(x), Value::Scalar(y)) => same_scalar(x, y),
        (Value::Repeated(x), Value::Repeated(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_scalar(x, y))
        }
        _ => a == b,
    }
}

/// A row's key: its key cells as shown, partition date first.
type RowKey = Vec<String>;

/// The rows under each key; a key should hold exactly one.
fn keyed<'r>(rows: &'r RowSet, key_positions: &[usize]) -> BTreeMap<RowKey, Vec<&'r Row>> {
    let mut keyed: BTreeMap<RowKey, Vec<&Row>> = BTreeMap::new();
    for row in &rows.rows {
        let key = key_positions.iter().map(|&p| shown(&row[p])).collect();
        keyed.entry(key).or_default().push(row);
    }
    keyed
}

/// "no row", "1 row", "2 rows".
fn row_count(n: usize) -> String {
    match n {
        0 => "no row".to_string(),
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    }
}

/// Compares Slate's rows with the reference's, row by row in key order;
/// returns how many rows matched, or the first difference.
pub fn compare(
    processor: &str,
    schema: &TableSchema,
    slate: &RowSet,
    pandas: &RowSet,
) -> Result<usize, RowMismatch> {
    let key_names: Vec<&str> = std::iter::once(schema.partition_column.as_str())
        .chain(
            schema
                .key_columns
                .iter()
                .map(String::as_str)
                .filter(|k| *k != schema.partition_column),
        )
        .collect();
    let describe = |key: &[String]| {
        key_names
            .iter()
            .zip(key)
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mismatch =
        |key: &[String], column: Option<&str>, slate: String, pandas: String| RowMismatch {
            processor: processor.to_string(),
            key: describe(key),
            column: column.map(str::to_string),
            slate,
            pandas,
        };
    let positions = |rows: &RowSet, names: &[&str]| -> Vec<usize> {
        names
            .iter()
            .map(|n| {
                rows.columns
                    .iter()
                    .position(|c| c == n)
                    .expect("a column of the recorded schema")
            })
            .collect()
    };
    let columns: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
    let (slate_columns, pandas_columns) = (positions(slate, &columns), positions(pandas, &columns));
    let slate_rows = keyed(slate, &positions(slate, &key_names));
    let pandas_rows = keyed(pandas, &positions(pandas, &key_names));
    let all_keys: BTreeSet<&RowKey> = slate_rows.keys().chain(pandas_rows.keys()).collect();
    let under =
        |rows: &BTreeMap<RowKey, Vec<&'_ Row>>, key: &RowKey| rows.get(key).map_or(0, Vec::len);
    for key in all_keys {
        let (&[s], &[p]) = (
            slate_rows.get(key).map_or(&[][..], Vec::as_slice),
            pandas_rows.get(key).map_or(&[][..], Vec::as_slice),
        ) else {
            return Err(mismatch(
                key,
                None,
                row_count(under(&slate_rows, key)),
                row_count(under(&pandas_rows, key)),
            ));
        };
        for (i, name) in columns.iter().enumerate() {
            let (a, b) = (&s[slate_columns[i]], &p[pandas_columns[i]]);
            if !same(a, b) {
                return Err(mismatch(key, Some(name), shown(a), shown(b)));
            }
        }
    }
    Ok(slate_rows.len())
}

/// One processor's figures.
struct Compared {
    reference: &'static Reference,
    slate: Duration,
    pandas: Duration,
    pandas_loop: f64,
    tally: Tally,
    summary: ScriptSummary,
    verdict: Result<usize, RowMismatch>,
}

/// Times Slate and the pandas reference over the season, compares their
/// rows, and records the figures; returns the mismatches found.
pub fn measure(
    report: &mut Report,
    effort: Effort,
    season: &SeasonStore,
) -> anyhow::Result<Vec<RowMismatch>> {
    let root = workspace_root();
    let python = match python_env(&root) {
        Ok(python) => python,
        Err(why) => {
            println!("skipped Slate against pandas: {why}");
            report.skip("Slate against the pandas reference", &why);
            return Ok(Vec::new());
        }
    };
    let runtime = Runtime::new(Some(&season.compile_cache()))?;
    let store: Arc<dyn Store> = season.store.clone();
    let (pipeline, executor) = crate::backfill::bundled_pipeline(&runtime, store.clone())?;
    let range = (
        *season.dates.first().context("the backfill ran dates")?,
        *season.dates.last().context("the backfill ran dates")?,
    );
    let spec = |reference: &Reference| {
        pipeline
            .plugin(reference.processor)
            .map(|p| p.spec.clone())
            .with_context(|| format!("{} is not bundled", reference.processor))
    };
    let outputs = REFERENCES
        .iter()
        .map(|r| spec(r).map(|s| s.output_table.clone()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let copy_path = season.scratch("pandas-reference.db");
    copy_store(&season.path(), &copy_path, &outputs)?;

    let mut compared = Vec::new();
    for reference in &REFERENCES {
        let spec = spec(reference)?;
        let script = root.join("bench/reference").join(reference.script);
        let (mut slate_times, mut pandas_times, mut loops) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = None;
        for _ in 0..effort.pandas_repeats.max(1) {
            let started = Instant::now();
            let tally = slate_season(
                &pipeline,
                &executor,
                store.as_ref(),
                reference.processor,
                range,
            )?;
            slate_times.push(started.elapsed());
            let (elapsed, summary) = pandas_season(&python, &script, &copy_path, range)?;
            pandas_times.push(elapsed);
            loops.push(Duration::from_secs_f64(summary.seconds));
            last = Some((tally, summary));
        }
        let (tally, summary) = last.expect("at least one repeat");
        let copy = EmbeddedStore::open_existing(&copy_path)?;
        let read = |source: &dyn InputSource| {
            source
                .read_rows(&spec.output_table, range.0, range.1)
                .with_context(|| format!("reading {}", spec.output_table))
        };
        let verdict = compare(
            reference.processor,
            &spec.schema,
            &read(season.store.as_ref())?,
            &read(&copy)?,
        );
        compared.push(Compared {
            reference,
            slate: median(slate_times),
            pandas: median(pandas_times),
            pandas_loop: median(loops).as_secs_f64(),
            tally,
            summary,
            verdict,
        });
    }
    print_table(&compared, effort);
    record(report, &compared, effort);
    Ok(compared
        .into_iter()
        .filter_map(|c| c.verdict.err())
        .collect())
}

/// "Slate is 4.2x faster", or slower.
fn speedup(slate: Duration, pandas: Duration) -> String {
    let ratio = pandas.as_secs_f64() / slate.as_secs_f64();
    if ratio >= 1.0 {
        format!("Slate is {ratio:.1}x faster")
    } else {
        format!("Slate is {:.1}x slower", 1.0 / ratio)
    }
}

/// A duration as the table shows it: milliseconds below a second.
fn shown_time(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}

fn print_table(compared: &[Compared], effort: Effort) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "processor",
        "Slate",
        "pandas",
        "pandas / Slate",
        "rows",
    ]);
    for c in compared {
        let verdict = match &c.verdict {
            Ok(rows) => format!("{rows} rows equal"),
            Err(mismatch) => format!(
                "MISMATCH at {}, {}",
                mismatch.key,
                mismatch.column.as_deref().unwrap_or("the row")
            ),
        };
        table.add_row(vec![
            c.reference.processor.to_string(),
            shown_time(c.slate),
            shown_time(c.pandas),
            format!(
                "{:.2}x: {}",
                c.pandas.as_secs_f64() / c.slate.as_secs_f64(),
                speedup(c.slate, c.pandas)
            ),
            verdict,
        ]);
    }
    println!(
        "Slate against pandas, one season each, median of {} runs:",
        effort.pandas_repeats.max(1)
    );
    println!("{table}");
}

fn record(report: &mut Report, compared: &[Compared], effort: Effort) {
    let group = "vs pandas";
    let repeats = effort.pandas_repeats.max(1);
    for c in compared {
        let name = c.reference.short;
        report.add(
            group,
            format!("{name}, Slate season"),
            c.slate.as_secs_f64(),
            "s",
            format!(
                "backfill --reprocess all --parallelism 1, in process: {} runs, {} blocked, {} rows; median of {repeats}",
                c.tally.succeeded, c.tally.blocked, c.tally.rows
            ),
        );
        report.add(
            group,
            format!("{name}, pandas season"),
            c.pandas.as_secs_f64(),
            "s",
            format!(
                "whole process: {} dates run, {} skipped, {} rows; median of {repeats}",
                c.summary.dates_run, c.summary.dates_skipped, c.summary.rows
            ),
        );
        report.add(
            group,
            format!("{name}, of which pandas' dates"),
            c.pandas_loop,
            "s",
            "the script's loop over the dates, without starting Python and importing pandas",
        );
        report.add(
            group,
            format!("{name}, ratio pandas / Slate"),
            c.pandas.as_secs_f64() / c.slate.as_secs_f64(),
            "x",
            speedup(c.slate, c.pandas),
        );
        report.add(
            group,
            format!("{name}, ratio pandas' dates alone / Slate"),
            c.pandas_loop / c.slate.as_secs_f64(),
            "x",
            "without Python's start and imports, which the in-process Slate figure has no equivalent of",
        );
        match &c.verdict {
            Ok(rows) => report.add(
                group,
                format!("{name}, rows compared"),
                *rows as f64,
                "rows",
                "equal: same keys, same values (floats within 1e-9), lists as lists",
            ),
            Err(mismatch) => report.fail(
                group,
                format!("{name}, rows compared"),
                format!("MISMATCH: {mismatch}"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slate::rows::Date;
    use slate::schema::{Column, ColumnMode, ColumnType};

    fn schema() -> TableSchema {
        TableSchema {
            columns: vec![
                Column::new("player_lookup", ColumnType::String, ColumnMode::Required),
                Column::new("cache_date", ColumnType::Date, ColumnMode::Required),
                Column::new("points_avg", ColumnType::Float64, ColumnMode::Nullable),
                Column::new("issues", ColumnType::String, ColumnMode::Repeated),
            ],
            partition_column: "cache_date".into(),
            key_columns: vec!["player_lookup".into(), "cache_date".into()],
        }
    }

    fn row(player: &str, day: u8, points: Option<f64>, issues: &[&str]) -> Row {
        vec![
            Value::Scalar(Scalar::String(player.into())),
            Value::Scalar(Scalar::Date(Date {
                year: 2026,
                month: 1,
                day,
            })),
            points.map_or(Value::Null, |p| Value::Scalar(Scalar::Float64(p))),
            Value::Repeated(
                issues
                    .iter()
                    .map(|i| Scalar::String(i.to_string()))
                    .collect(),
            ),
        ]
    }

    fn rows(rows: Vec<Row>) -> RowSet {
        RowSet {
            columns: schema().columns.iter().map(|c| c.name.clone()).collect(),
            rows,
        }
    }

    fn compared(slate: Vec<Row>, pandas: Vec<Row>) -> Result<usize, RowMismatch> {
        compare("P", &schema(), &rows(slate), &rows(pandas))
    }

    #[test]
    fn rows_in_any_order_match_with_floats_within_the_tolerance() {
        let slate = vec![row("a", 11, Some(12.4), &["x"]), row("b", 11, None, &[])];
        let pandas = vec![
            row("b", 11, None, &[]),
            row("a", 11, Some(12.4 + 1e-12), &["x"]),
        ];
        assert_eq!(compared(slate, pandas), Ok(2));
    }

    #[test]
    fn the_first_differing_key_and_column_are_named() {
        let slate = vec![row("a", 12, Some(1.0), &[]), row("b", 11, Some(2.0), &[])];
        let pandas = vec![row("a", 12, Some(1.5), &[]), row("b", 11, Some(2.5), &[])];
        let mismatch = compared(slate, pandas).unwrap_err();
        // Partition date first: 2026-01-11 comes before 2026-01-12.
        assert_eq!(
            mismatch.key,
            r#"cache_date="2026-01-11", player_lookup="b""#
        );
        assert_eq!(mismatch.column.as_deref(), Some("points_avg"));
        assert_eq!(
            (mismatch.slate.as_str(), mismatch.pandas.as_str()),
            ("2.0", "2.5")
        );
    }

    #[test]
    fn lists_compare_item_by_item_in_order() {
        let mismatch = compared(
            vec![row("a", 11, None, &["x", "y"])],
            vec![row("a", 11, None, &["y", "x"])],
        )
        .unwrap_err();
        assert_eq!(mismatch.column.as_deref(), Some("issues"));
        assert_eq!(mismatch.pandas, r#"["y","x"]"#);
    }

    #[test]
    fn a_null_is_not_a_value() {
        let mismatch = compared(
            vec![row("a", 11, None, &[])],
            vec![row("a", 11, Some(0.0), &[])],
        )
        .unwrap_err();
        assert_eq!(
            (mismatch.slate.as_str(), mismatch.pandas.as_str()),
            ("null", "0.0")
        );
    }

    #[test]
    fn a_missing_or_doubled_row_is_a_mismatch_of_the_row() {
        let mismatch = compared(vec![row("a", 11, None, &[])], vec![]).unwrap_err();
        assert_eq!(mismatch.column, None);
        assert_eq!(
            (mismatch.slate.as_str(), mismatch.pandas.as_str()),
            ("1 row", "no row")
        );
        let doubled = vec![row("a", 11, None, &[]), row("a", 11, None, &[])];
        let mismatch = compared(vec![row("a", 11, None, &[])], doubled).unwrap_err();
        assert_eq!(mismatch.pandas, "2 rows");
    }
}
