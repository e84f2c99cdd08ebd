//! `slate test`: a plugin run against fixture tables (or a real date's
//! data, read-only) with the production imports, limits and validation,
//! its output diffed against a golden file. No store is written.
//!
//! - [`fixtures`]: reading NDJSON and CSV fixture tables.
//! - [`golden`]: golden files and the per-row, per-field diff.
//! - [`samples`]: sample values tests and benchmarks build alike.

pub mod fixtures;
pub mod golden;
pub mod samples;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;

use crate::completeness;
use crate::demo;
use crate::evaluation::{Evaluated, Failure, evaluate};
use crate::limits::RunLimits;
use crate::plugin::Plugin;
use crate::plugin::sandbox::RunIdentity;
use crate::runs::ErrorKind;
use crate::schema::{TableName, TableSchema};
use crate::store::input::InputSource;
use crate::store::{Store, StoreError};
use crate::upstream_check::{ReadWindow, UpstreamCheck};
use fixtures::Fixtures;
use golden::Difference;

/// The exit code of a test whose output matches (or that only rewrote its golden file).
pub const EXIT_PASS: u8 = 0;
/// The exit code of a test whose output differs from the golden file.
pub const EXIT_DIFF: u8 = 1;
/// The exit code of a test whose plugin failed: a trap, an error, a limit, invalid rows.
pub const EXIT_PLUGIN_FAILURE: u8 = 3;
/// The exit code of a test whose fixtures or golden file cannot be used.
pub const EXIT_BAD_FIXTURE: u8 = 4;

/// Where a test's input rows come from.
pub enum Inputs {
    /// Fixture files in a folder.
    Fixtures(PathBuf),
    /// A real store, read-only.
    Replay(Arc<dyn InputSource>),
}

/// What to test.
pub struct TestCase {
    /// The analysis date.
    pub date: NaiveDate,
    /// Where inputs come from.
    pub inputs: Inputs,
    /// The golden file, if any.
    pub expect: Option<PathBuf>,
    /// Rewrite the golden file instead of comparing.
    pub update: bool,
    /// Relative tolerance for numbers.
    pub tolerance: f64,
    /// The run's limits.
    pub limits: RunLimits,
    /// The issues production would add to every row: the lookback gaps
    /// of the replayed date ([`replayed_check`]); none for fixtures.
    pub quality_issues: Vec<String>,
    /// How far back it may read each upstream's output
    /// ([`replayed_check`], [`fixture_window`]).
    pub window: ReadWindow,
}

/// The completeness check production makes for `plugin` on `date` in
/// `store`: its lookback gaps become the rows' data quality issues, so
/// that a replay writes the rows the live table holds, and its window
/// bounds the reads as production's does. Upstreams are looked up among
/// `plugins` (those a host would load beside it), the calendar is the schedule.
pub fn replayed_check(
    store: &dyn Store,
    plugin: &Plugin,
    plugins: &[Plugin],
    date: NaiveDate,
) -> Result<UpstreamCheck, StoreError> {
    completeness::check(
        store,
        &plugin.spec,
        date,
        output_of(plugins),
        &crate::pipeline::default_calendar(),
        chrono::Utc::now(),
    )
}

/// How far back `plugin` may read on `date` from fixtures: its window
/// without a calendar, for the upstreams among `plugins` (those a host
/// would load beside it). A games lookback has no floor here: no schedule says which
/// dates it covers.
pub fn fixture_window(plugin: &Plugin, plugins: &[Plugin], date: NaiveDate) -> ReadWindow {
    completeness::read_window(&plugin.spec, date, output_of(plugins), &BTreeSet::new())
}

/// An upstream's output table, looked up among `plugins`.
fn output_of(plugins: &[Plugin]) -> impl Fn(&str) -> Option<TableName> + '_ {
    |name: &str| {
        plugins
            .iter()
            .find(|p| p.spec.name == name)
            .map(|p| p.spec.output_table.clone())
    }
}

/// How a test ended.
#[derive(Debug)]
pub enum Outcome {
    /// The output is valid, and matches the golden file if one was given.
    Passed {
        /// Rows produced.
        rows: usize,
        /// Whether a golden file was compared.
        compared: bool,
    },
    /// The golden file was rewritten with the output.
    Updated {
        /// Rows written to it.
        rows: usize,
    },
    /// The output differs from the golden file.
    Differs(Vec<Difference>),
    /// The plugin failed as a production run would.
    PluginFailed(Failure),
    /// The fixtures or the golden file cannot be used.
    BadFixture(String),
}

impl Outcome {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Passed { .. } | Outcome::Updated { .. } => EXIT_PASS,
            Outcome::Differs(_) => EXIT_DIFF,
            Outcome::PluginFailed(_) => EXIT_PLUGIN_FAILURE,
            Outcome::BadFixture(_) => EXIT_BAD_FIXTURE,
        }
    }
}

/// The schemas fixtures may use without a `.schema.json`: the demo raw
/// tables, and the output tables of `plugins`.
pub fn known_schemas(plugins: &[Plugin]) -> BTreeMap<TableName, TableSchema> {
    let mut schemas = BTreeMap::from([
        (demo::schedule_table(), demo::schedule_schema()),
        (demo::box_scores_table(), demo::box_scores_schema()),
        (demo::prop_lines_table(), demo::prop_lines_schema()),
    ]);
    for plugin in plugins {
        schemas.insert(plugin.spec.output_table.clone(), plugin.spec.schema.clone());
    }
    schemas
}

/// Runs one test of `plugin`.
pub fn run(plugin: &Plugin, case: &TestCase, known: &BTreeMap<TableName, TableSchema>) -> Outcome {
    let source: Arc<dyn InputSource> = match &case.inputs {
        Inputs::Replay(store) => store.clone(),
        Inputs::Fixtures(dir) => {
            match Fixtures::load(dir, &plugin.spec.inputs, &|table| known.get(table).cloned()) {
                Ok(fixtures) => Arc::new(fixtures),
                Err(error) => return Outcome::BadFixture(error.to_string()),
            }
        }
    };
    let identity = RunIdentity {
        processor: plugin.spec.name.clone(),
        date: case.date,
        run_id: "slate-test".into(),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let issues = &case.quality_issues;
    let window = case.window.clone();
    let rows = match evaluate(
        plugin,
        identity,
        source,
        window,
        case.limits,
        cancel,
        issues,
    )
    .0
    {
        Ok(Evaluated {
            rows, quarantined, ..
        }) if quarantined.is_empty() => rows,
        // Production would load the good rows and set these aside; a test
        // must not pass quietly over them.
        Ok(Evaluated {
            quarantined,
            rows_read,
            usage,
            ..
        }) => {
            let errors: Vec<String> = quarantined
                .iter()
                .flat_map(|row| row.errors.iter().map(ToString::to_string))
                .collect();
            return Outcome::PluginFailed(Failure {
                kind: ErrorKind::Validation,
                message: format!(
                    "{} rows would be quarantined:\n  {}",
                    quarantined.len(),
                    errors.join("\n  ")
                ),
                rows_read,
                limit: None,
                usage,
            });
        }
        Err(failure) => return Outcome::PluginFailed(failure),
    };
    let Some(path) = &case.expect else {
        return Outcome::Passed {
            rows: rows.rows.len(),
            compared: false,
        };
    };
    if case.update {
        return match std::fs::write(path, golden::to_ndjson(&rows)) {
            Ok(()) => Outcome::Updated {
                rows: rows.rows.len(),
            },
            Err(e) => Outcome::BadFixture(format!("cannot write {}: {e}", path.display())),
        };
    }
    // The golden file is read as fixtures are: UTF-8 named by line, a
    // byte-order mark skipped.
    let expected = match fixtures::read_text(path) {
        Ok(text) => text,
        Err(e) => return Outcome::BadFixture(e.to_string()),
    };
    let file = path.display().to_string();
    match golden::compare(
        &file,
        &expected,
        &rows,
        &plugin.spec.schema,
        case.tolerance,
        (case.date, case.date),
    ) {
        Ok(differences) if differences.is_empty() => Outcome::Passed {
            rows: rows.rows.len(),
            compared: true,
        },
        Ok(differences) => Outcome::Differs(differences),
        Err(error) => Outcome::BadFixture(error.to_string()),
    }
}
