//! One call of a processor's `process`, checked: the part of a run that
//! production runs and `slate test` share, so a test exercises exactly the
//! imports, limits and validation that production applies.
//!
//! Instantiate the plugin in a fresh sandbox, call `process`, classify a
//! trap or error, check the output limits, add data quality issues, and
//! validate every row against the schema; under the `quarantine` policy,
//! set the bad rows aside. Nothing here writes anywhere.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::bindings::ProcessError;
use crate::limits::{LimitBreach, RunLimits};
use crate::plugin::Cancelled;
use crate::plugin::Plugin;
use crate::plugin::sandbox::{InputFailure, RunIdentity};
use crate::plugin::spec::BadRowPolicy;
use crate::quarantine::{self, QuarantinedRow};
use crate::rows::{RowSet, Scalar, Value};
use crate::runs::{ErrorKind, RunUsage};
use crate::schema::{ColumnMode, ColumnType, TableSchema};
use crate::store::input::InputSource;
use crate::upstream_check::ReadWindow;
use crate::validate::validate;

/// How many validation errors a failure's message lists.
pub const VALIDATION_ERRORS_SHOWN: usize = 20;

/// Rows that passed every check, and (under the `quarantine` policy) the
/// rows that did not.
#[derive(Debug)]
pub struct Evaluated {
    /// The rows to load, quality issues added.
    pub rows: RowSet,
    /// Rows the processor read through the host.
    pub rows_read: u64,
    /// Bad rows kept aside under the `quarantine` policy; always empty
    /// under `fail_run`, where any bad row fails the run.
    pub quarantined: Vec<QuarantinedRow>,
    /// Rows in `rows` whose `data_quality_issues` is not empty.
    pub rows_with_quality_issues: u64,
    /// What the guest used.
    pub usage: RunUsage,
}

/// Why the rows cannot be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The run's error kind.
    pub kind: ErrorKind,
    /// The full message.
    pub message: String,
    /// Rows read before it failed.
    pub rows_read: u64,
    /// For a limit breach: the limit and the observed value.
    pub limit: Option<(u64, u64)>,
    /// What the guest used.
    pub usage: RunUsage,
}

/// The most bytes of a failure's message the run's record keeps: what a
/// processor says (its error's text, the values its rows hold) is its
/// own, and a run of 200 MB of it made every later `slate runs` slow.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

impl Failure {
    /// A failure with no limit breached and no usage recorded.
    pub(crate) fn new(kind: ErrorKind, message: String, rows_read: u64) -> Self {
        Failure {
            kind,
            message: recorded(message),
            rows_read,
            limit: None,
            usage: RunUsage::default(),
        }
    }

    /// A limit breach: its kind, its words, the limit and the observed value.
    fn breach(breach: &LimitBreach, rows_read: u64) -> Self {
        Failure {
            limit: Some(breach.values()),
            ..Failure::new(breach.kind(), breach.to_string(), rows_read)
        }
    }

    /// A trap (at instantiation or in `process`), classified by
    /// [`classify_trap`], with what the guest wrote to stderr first.
    fn trap(error: &wasmtime::Error, limits: &RunLimits, guest_stderr: &str) -> Self {
        let (kind, mut message, limit) = classify_trap(error, limits);
        if let Some(last) = last_error_line(guest_stderr) {
            // The line a table shows first: the guest's own last word (a
            // panic's message, a Python exception), not a traceback's start.
            message = format!("{last}\n{guest_stderr}\n{message}");
        }
        Failure {
            kind,
            message: recorded(message),
            rows_read: 0,
            limit,
            usage: RunUsage::default(),
        }
    }
}

/// A failure's `message` as the run's record keeps it: at most
/// [`MAX_MESSAGE_BYTES`], its control characters but line feeds and tabs
/// escaped ([`crate::printable::lines`]). Most of it is the processor's
/// own words, which every table, log line and alert shows.
fn recorded(message: String) -> String {
    crate::rows::cut_short(crate::printable::into_lines(message), MAX_MESSAGE_BYTES)
}

/// The last line of a guest's stderr that says what went wrong: not blank,
/// and not a runtime's `note:` about backtraces.
pub fn last_error_line(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .map(str::trim)
        .rev()
        .find(|line| !line.is_empty() && !line.starts_with("note:"))
}

/// Runs `plugin` once for `identity.date` in a fresh sandbox reading from
/// `source` within `window`, and checks what it returns. Also returns how
/// long instantiating the plugin took (`None` when instantiation failed),
/// for the host's metrics.
pub fn evaluate(
    plugin: &Plugin,
    identity: RunIdentity,
    source: Arc<dyn InputSource>,
    window: ReadWindow,
    limits: RunLimits,
    cancel: Arc<AtomicBool>,
    quality_issues: &[String],
) -> (Result<Evaluated, Failure>, Option<Duration>) {
    let started = Instant::now();
    let instance = plugin.instantiate(identity.clone(), source, window, limits, cancel);
    let instantiation = instance.is_ok().then(|| started.elapsed());
    let outcome = instance
        .map_err(|error| {
            let mut failure = Failure::trap(&error, &limits, "");
            failure.message = format!("instantiation failed: {}", failure.message);
            failure
        })
        .and_then(|instance| {
            check_process(plugin, identity.date, instance, limits, quality_issues)
        });
    (outcome, instantiation)
}

/// Calls `process` on a fresh instance and checks what it returns.
fn check_process(
    plugin: &Plugin,
    date: chrono::NaiveDate,
    mut instance: crate::plugin::Instance,
    limits: RunLimits,
    quality_issues: &[String],
) -> Result<Evaluated, Failure> {
    let spec = &plugin.spec;
    let outcome = instance.process(date);
    let rows_read = instance.rows_read();
    let usage = instance.usage();
    let guest_stderr = instance.guest_stderr();
    let input_failure = instance.input_failure();
    drop(instance);
    if usage.log_lines_dropped > 0 {
        tracing::warn!(
            log_lines_dropped = usage.log_lines_dropped,
            "the processor spent its log budget ({} lines, {} bytes); later lines were dropped",
            limits.max_log_lines,
            limits.max_log_bytes
        );
    }
    let counted = |mut failure: Failure| {
        failure.rows_read = rows_read;
        failure.usage = usage;
        failure
    };
    // A read the store failed is the run's failure, whatever the processor
    // made of it: an error it passed on, or rows it made without the data.
    // So is a read past the limit on rows read.
    if let Some(failure) = input_failure {
        let (kind, message) = match failure {
            InputFailure::Refused(message) => (ErrorKind::Input, message),
            InputFailure::Unreachable(message) => (ErrorKind::Unreachable, message),
            InputFailure::OverLimit(breach) => {
                return Err(counted(Failure::breach(&breach, rows_read)));
            }
        };
        return Err(counted(Failure::new(
            kind,
            format!("reading an input failed: {message}"),
            rows_read,
        )));
    }
    let mut rows = match outcome {
        Err(trap) => return Err(counted(Failure::trap(&trap, &limits, &guest_stderr))),
        Ok(Err(error)) => {
            return Err(counted(Failure::new(
                ErrorKind::Plugin,
                describe_process_error(&error),
                rows_read,
            )));
        }
        Ok(Ok(rows)) => rows,
    };
    if let Some(breach) = output_breach(&rows, &limits) {
        return Err(counted(Failure::breach(&breach, rows_read)));
    }
    if !quality_issues.is_empty() && !add_quality_issues(&mut rows, &spec.schema, quality_issues) {
        tracing::warn!(
            "{} has no data_quality_issues column to record: {}",
            spec.output_table,
            quality_issues.join("; ")
        );
    }
    let report = validate(&rows, &spec.schema, date);
    if report.is_valid() {
        return Ok(Evaluated {
            rows_with_quality_issues: rows_with_quality_issues(&rows),
            rows,
            rows_read,
            quarantined: Vec::new(),
            usage,
        });
    }
    let message = report.summary(VALIDATION_ERRORS_SHOWN);
    if spec.bad_row_policy == BadRowPolicy::Quarantine
        && let Some((rows, quarantined)) = quarantine::split(rows, &report)
    {
        tracing::warn!("quarantining bad rows: {message}");
        return Ok(Evaluated {
            rows_with_quality_issues: rows_with_quality_issues(&rows),
            rows,
            rows_read,
            quarantined,
            usage,
        });
    }
    Err(counted(Failure::new(
        ErrorKind::Validation,
        message,
        rows_read,
    )))
}

/// The column where data quality issues are recorded.
pub const DATA_QUALITY_ISSUES: &str = "data_quality_issues";

/// Appends `issues` to every row's `data_quality_issues` cell; false when
/// the schema has no such REPEATED STRING column.
fn add_quality_issues(rows: &mut RowSet, schema: &TableSchema, issues: &[String]) -> bool {
    let is_list_of_strings = schema.columns.iter().any(|c| {
        c.name == DATA_QUALITY_ISSUES
            && c.mode == ColumnMode::Repeated
            && c.column_type == ColumnType::String
    });
    let Some(index) = rows.columns.iter().position(|c| c == DATA_QUALITY_ISSUES) else {
        return false;
    };
    if !is_list_of_strings {
        return false;
    }
    for row in &mut rows.rows {
        if let Some(Value::Repeated(items)) = row.get_mut(index) {
            items.extend(issues.iter().map(|i| Scalar::String(i.clone())));
        }
    }
    true
}

/// How many rows carry a `data_quality_issues` that is not empty (a list
/// with an item, or text): what a dashboard cell marks.
pub fn rows_with_quality_issues(rows: &RowSet) -> u64 {
    let Some(index) = rows.columns.iter().position(|c| c == DATA_QUALITY_ISSUES) else {
        return 0;
    };
    let has_issues = |value: Option<&Value>| match value {
        Some(Value::Repeated(items)) => !items.is_empty(),
        Some(Value::Scalar(Scalar::String(text))) => !text.is_empty(),
        Some(Value::Scalar(_)) => true,
        Some(Value::Null) | None => false,
    };
    rows.rows
        .iter()
        .filter(|row| has_issues(row.get(index)))
        .count() as u64
}

/// The root cause wasmtime gives when a guest passes the host more data in
/// one call than the store's hostcall fuel allows. Its error type is
/// private to wasmtime, so this text is the only way to recognise it.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// The kind, message and (for a limit) the limit and observed value of a
/// trap under `limits`: each limit has its own kind.
pub fn classify_trap(
    error: &wasmtime::Error,
    limits: &RunLimits,
) -> (ErrorKind, String, Option<(u64, u64)>) {
    if let Some(cancelled) = error.downcast_ref::<Cancelled>() {
        return (ErrorKind::LimitTime, cancelled.to_string(), None);
    }
    let transfer = LimitBreach::OutputTransfer {
        limit: limits.hostcall_bytes() as u64,
    };
    let breach = error.downcast_ref::<LimitBreach>().or_else(|| {
        error
            .root_cause()
            .to_string()
            .contains(HOSTCALL_FUEL_EXHAUSTED)
            .then_some(&transfer)
    });
    if let Some(breach) = breach {
        return (breach.kind(), breach.to_string(), Some(breach.values()));
    }
    // The error chain (trap, then the guest backtrace), never the host's
    // Rust backtrace: that describes Slate, not the processor.
    let message = format!("{}\n{error:#}", error.root_cause());
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => {
            let breach = LimitBreach::Fuel {
                limit: limits.fuel.unwrap_or(u64::MAX),
            };
            (breach.kind(), breach.to_string(), Some(breach.values()))
        }
        _ => (ErrorKind::Trap, message, None),
    }
}

/// A breach of the output limits, if the rows go past them.
fn output_breach(rows: &RowSet, limits: &RunLimits) -> Option<LimitBreach> {
    let count = rows.rows.len() as u64;
    if count > limits.max_output_rows {
        return Some(LimitBreach::OutputRows {
            limit: limits.max_output_rows,
            observed: count,
        });
    }
    let bytes = approximate_bytes(rows);
    (bytes > limits.max_output_bytes).then_some(LimitBreach::OutputBytes {
        limit: limits.max_output_bytes,
        observed: bytes,
    })
}

/// Roughly what the rows take up: text by length, other values 8 bytes.
fn approximate_bytes(rows: &RowSet) -> u64 {
    fn scalar(s: &Scalar) -> u64 {
        match s {
            Scalar::String(t) | Scalar::Numeric(t) | Scalar::Json(t) => t.len() as u64,
            _ => 8,
        }
    }
    rows.rows
        .iter()
        .flatten()
        .map(|value| match value {
            Value::Null => 1,
            Value::Scalar(s) => scalar(s),
            Value::Repeated(items) => items.iter().map(scalar).sum::<u64>() + 2,
        })
        .sum()
}

/// A processor's typed error as a message.
pub fn describe_process_error(error: &ProcessError) -> String {
    match error {
        ProcessError::InvalidInput(m) => format!("invalid input: {m}"),
        ProcessError::MissingData(m) => format!("missing data: {m}"),
        ProcessError::Internal(m) => format!("internal error: {m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{
        ErrorKind, Failure, MAX_MESSAGE_BYTES, RowSet, Scalar, Value, last_error_line,
        rows_with_quality_issues,
    };

    #[test]
    fn a_failures_message_is_kept_to_its_budget() {
        let failure = Failure::new(ErrorKind::Plugin, "E".repeat(90 << 20), 0);
        assert!(failure.message.len() < MAX_MESSAGE_BYTES + 40);
        let left_out = (90 << 20) - MAX_MESSAGE_BYTES;
        assert!(
            failure
                .message
                .ends_with(&format!("({left_out} more bytes)"))
        );
    }

    #[test]
    fn the_last_error_line_is_a_panics_message_or_a_python_exception() {
        let rust = "thread '<unnamed>' panicked at src/lib.rs:15:9:\nno box scores\n\
                    note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(last_error_line(rust), Some("no box scores"));
        let python = "Traceback (most recent call last):\n  File \"app.py\", line 3, in process\n\
                      KeyError: 'points'\n";
        assert_eq!(last_error_line(python), Some("KeyError: 'points'"));
        assert_eq!(last_error_line("\n  \n"), None);
    }

    #[test]
    fn rows_with_quality_issues_counts_rows_whose_issues_are_not_empty() {
        let issue = || Value::Repeated(vec![Scalar::String("lookback gap".into())]);
        let rows = RowSet {
            columns: vec!["player".into(), "data_quality_issues".into()],
            rows: vec![
                vec![Value::Scalar(Scalar::String("a".into())), issue()],
                vec![
                    Value::Scalar(Scalar::String("b".into())),
                    Value::Repeated(vec![]),
                ],
                vec![Value::Scalar(Scalar::String("c".into())), Value::Null],
                vec![Value::Scalar(Scalar::String("d".into())), issue()],
            ],
        };
        assert_eq!(rows_with_quality_issues(&rows), 2);
        let without_the_column = RowSet {
            columns: vec!["player".into()],
            rows: vec![vec![Value::Scalar(Scalar::String("a".into()))]],
        };
        assert_eq!(rows_with_quality_issues(&without_the_column), 0);
    }
}
