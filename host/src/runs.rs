//! Run records: one row of run history per attempt of a processor on a date.

use std::ops::RangeInclusive;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Serialize, Serializer};

use crate::phase::Phase;
use crate::upstream_check::UpstreamCheck;

/// Where a run stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// In progress; its host holds the claim on (processor, date).
    Running,
    /// Its rows were committed.
    Success,
    /// It ended without committing rows; `error_kind` says why.
    Failed,
    /// It did not start because an upstream check said no.
    Blocked,
}

/// Why a run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The processor returned its own typed error.
    Plugin,
    /// The processor trapped (a panic, an out-of-bounds access, ...).
    Trap,
    /// The processor ran past its memory limit.
    LimitMemory,
    /// The processor ran past its CPU time.
    LimitTime,
    /// The processor ran out of fuel.
    LimitFuel,
    /// The processor returned too many rows or bytes.
    LimitOutput,
    /// The processor read more rows than its limit.
    LimitRead,
    /// Output rows failed schema validation.
    Validation,
    /// Writing to the warehouse failed.
    Load,
    /// The host running it stopped renewing its lease.
    Stale,
    /// An upstream check failed.
    Upstream,
    /// The host shut down before the run finished.
    Shutdown,
    /// The processor named a table it does not own: another processor's,
    /// a raw input, or one of the host's.
    Ownership,
    /// Reading a declared input failed: the store holds a row the input's
    /// schema refuses (a wrong type, a NULL in a REQUIRED column, a
    /// non-finite FLOAT64), or the store could not be read. The run fails
    /// with the host's error, whatever the processor made of it.
    Input,
    /// The host itself failed while the run was in progress: it panicked,
    /// which is a bug in Slate. The panic is in the host's log.
    Host,
    /// The store could not be reached while the run read an input or
    /// committed its rows (a database down or a connection lost), so
    /// nothing was written. Not the run's fault: a backfill runs it again.
    Unreachable,
}

impl ErrorKind {
    /// Whether a run that failed with this kind was cut short rather than
    /// ended: its host shut down or died, or the store could not be
    /// reached. Its work is still to do, and running it again is the
    /// remedy, which backfills do.
    pub fn interrupted_the_run(self) -> bool {
        matches!(
            self,
            ErrorKind::Stale | ErrorKind::Shutdown | ErrorKind::Unreachable
        )
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The `slate` command line.
    Cli,
    /// The HTTP service.
    Http,
    /// A backfill over a range of dates.
    Backfill,
    /// A `[[schedule]]` tick fired by `slate serve`.
    Schedule,
    /// A shadow version run beside its live run ([`crate::shadow`]).
    Shadow,
}

/// Text that names none of a field's values, such as a run status of
/// `exploded`: the text and the names it may take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not one of: {}", choices.join(", "))]
pub struct UnknownName {
    /// The text given.
    pub given: String,
    /// The names accepted, in their documented order.
    pub choices: &'static [&'static str],
}

/// Gives a fieldless enum its stored names: `as_str`, `Display`, and a
/// `FromStr` whose error ([`UnknownName`]) lists the names it accepts.
macro_rules! text_enum {
    ($type:ty { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $type {
            /// The name stored and shown.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
        }
        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::str::FromStr for $type {
            type Err = $crate::runs::UnknownName;
            fn from_str(text: &str) -> Result<Self, $crate::runs::UnknownName> {
                match text {
                    $($text => Ok(Self::$variant),)*
                    other => Err($crate::runs::UnknownName {
                        given: other.to_string(),
                        choices: &[$($text),*],
                    }),
                }
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(RunStatus {
    Running => "running", Success => "success", Failed => "failed",
    Blocked => "blocked",
});
text_enum!(ErrorKind {
    Plugin => "plugin", Trap => "trap", LimitMemory => "limit_memory",
    LimitTime => "limit_time", LimitFuel => "limit_fuel", LimitOutput => "limit_output",
    LimitRead => "limit_read",
    Validation => "validation", Load => "load", Stale => "stale", Upstream => "upstream",
    Shutdown => "shutdown", Ownership => "ownership", Input => "input", Host => "host",
    Unreachable => "unreachable",
});
text_enum!(Trigger {
    Cli => "cli", Http => "http", Backfill => "backfill", Schedule => "schedule",
    Shadow => "shadow",
});

/// One attempt of one processor on one date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// A unique, time-ordered id.
    pub run_id: String,
    /// The processor's name.
    pub processor: String,
    /// The phase its processor declared, as a number (3, 4 or 5): what a
    /// host that does not load the processor judges its phase by. `None`
    /// for runs recorded before run history kept it.
    #[serde(serialize_with = "phase_number")]
    pub phase: Option<Phase>,
    /// The analysis date.
    pub data_date: NaiveDate,
    /// 1 for the first attempt at (processor, date), then 2, 3, ...
    pub attempt: i64,
    /// Where the run stands.
    pub status: RunStatus,
    /// Why it ended as it did, in words.
    pub reason: Option<String>,
    /// Why it failed, for failed and blocked runs.
    pub error_kind: Option<ErrorKind>,
    /// The full error message.
    pub error_message: Option<String>,
    /// For a limit breach: the limit (bytes, ms, rows or fuel).
    pub limit_value: Option<i64>,
    /// For a limit breach: what was observed, in the limit's unit.
    pub observed_value: Option<i64>,
    /// When the run was claimed.
    pub started_at: DateTime<Utc>,
    /// When its host last renewed its lease.
    pub heartbeat_at: DateTime<Utc>,
    /// When the lease runs out: a `running` run past this is stale.
    pub lease_expires_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// How long it took, in milliseconds. A run reaped as stale took
    /// until its last heartbeat, not until the reap, which may come days
    /// after its host died.
    pub duration_ms: Option<i64>,
    /// Rows the processor read through the host.
    pub rows_read: i64,
    /// Rows committed to the output table.
    pub rows_written: i64,
    /// The host that ran it.
    pub host_id: String,
    /// The content hash of the plugin version that ran.
    pub plugin_hash: String,
    /// What started it.
    pub trigger: Trigger,
    /// Guest log lines the host dropped because the run spent its log budget.
    pub log_lines_dropped: i64,
    /// The most memory (linear memories and tables) its instance held at
    /// once, in bytes: what to size `memory_mib` by.
    pub peak_memory_bytes: i64,
    /// Why its host flagged it while it ran (e.g. past its max runtime);
    /// kept when the run ends.
    pub flag: Option<String>,
    /// What the completeness check before it found: each upstream run it
    /// relied on, or the one that blocked it, and the lookback gaps. None
    /// for a run that was not checked (run alone, or stopped earlier).
    pub upstream_check: Option<UpstreamCheck>,
    /// Committed rows whose `data_quality_issues` is not empty.
    pub rows_with_quality_issues: i64,
}

/// A phase as its number, the way run history stores it.
fn phase_number<S: Serializer>(phase: &Option<Phase>, serializer: S) -> Result<S::Ok, S::Error> {
    phase.map(Phase::number).serialize(serializer)
}

/// A run about to be claimed.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The processor's name.
    pub processor: String,
    /// The phase its processor declares.
    pub phase: Phase,
    /// The analysis date.
    pub data_date: NaiveDate,
    /// This host's id.
    pub host_id: String,
    /// The content hash of the plugin version that will run.
    pub plugin_hash: String,
    /// What started it.
    pub trigger: Trigger,
    /// How long the claim holds without a heartbeat.
    pub lease: std::time::Duration,
}

/// How a run ended without committing rows.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// `failed` or `blocked`.
    pub status: RunStatus,
    /// Why, as a kind.
    pub error_kind: Option<ErrorKind>,
    /// Why, in full.
    pub message: String,
    /// Rows read before it ended.
    pub rows_read: i64,
    /// For a limit breach: the limit and the observed value.
    pub limit: Option<(u64, u64)>,
    /// What the guest used, as far as it got.
    pub usage: RunUsage,
    /// The completeness check that decided it, if one did.
    pub upstream_check: Option<UpstreamCheck>,
}

/// What a run's guest used, counted by its sandbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunUsage {
    /// Guest log lines the host dropped over the run's log budget.
    pub log_lines_dropped: u64,
    /// The most memory (linear memories and tables) the instance held at
    /// once, in bytes.
    pub peak_memory_bytes: u64,
}

/// Which runs to list; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this analysis date.
    pub date: Option<NaiveDate>,
    /// Only analysis dates in this range, both ends included: the
    /// completeness check reads an upstream's history over its lookback
    /// window, not over all time.
    pub dates: Option<RangeInclusive<NaiveDate>>,
    /// Only this processor.
    pub processor: Option<String>,
    /// Only this status.
    pub status: Option<RunStatus>,
    /// Only runs of this plugin version.
    pub plugin_hash: Option<String>,
    /// Only `running` runs whose lease had expired at this instant.
    pub stale_as_of: Option<DateTime<Utc>>,
    /// Only runs that started or ended at this instant or later: what
    /// changed since then ([`RunRecord::changed_at`]).
    pub changed_since: Option<DateTime<Utc>>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
    /// Leave each record's `upstream_check` unread (`None`): for readers
    /// of statuses and counts (the completeness check, the grid, health),
    /// which need not parse every record's check.
    pub skip_upstream_check: bool,
}

impl RunRecord {
    /// When the run last changed state: when it ended, or, still running,
    /// when it started.
    pub fn changed_at(&self) -> DateTime<Utc> {
        self.finished_at.unwrap_or(self.started_at)
    }

    /// Whether the run is `running` with a lease that expired before `now`.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.status == RunStatus::Running && self.lease_expires_at < now
    }
}

/// What a summary shows of a run's error (health, a backfill's problems,
/// an alert): its first line, and when the lines after it are the details
/// it counts (indented, as a validation failure's rows and fields), the
/// first of them, with how many more there are. A count alone
/// ("2 of 199 rows failed validation with 2 errors") names no row, field
/// or value. One line, its control characters escaped.
pub fn error_headline(message: &str) -> String {
    let headline = headline_of(message);
    crate::printable::one_line(&headline).into_owned()
}

/// [`error_headline`], as the message has it.
fn headline_of(message: &str) -> String {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or_default().trim();
    let details: Vec<&str> = lines
        .take_while(|line| line.starts_with(char::is_whitespace))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    // A long list ends "... and K more" (the errors past those listed).
    let (listed, unlisted) = match details.split_last() {
        Some((last, listed)) => match more_count(last) {
            Some(unlisted) => (listed, unlisted),
            None => (details.as_slice(), 0),
        },
        None => (details.as_slice(), 0),
    };
    match listed {
        [] => first.to_string(),
        [only] if unlisted == 0 => format!("{first}: {only}"),
        [detail, rest @ ..] => format!("{first}: {detail} (and {} more)", rest.len() + unlisted),
    }
}

/// K of a line "... and K more".
fn more_count(line: &str) -> Option<usize> {
    line.strip_prefix("... and ")?
        .strip_suffix(" more")?
        .parse()
        .ok()
}

/// A new, time-ordered run id.
pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_headline_is_the_first_line_with_the_first_detail_it_counts() {
        assert_eq!(
            error_headline("trap: unreachable\nwasm backtrace:\n  0: f"),
            "trap: unreachable"
        );
        assert_eq!(
            error_headline("1 of 3 rows failed validation with 1 error\n  row 1: field n bad"),
            "1 of 3 rows failed validation with 1 error: row 1: field n bad"
        );
        assert_eq!(
            error_headline(
                "2 of 3 rows failed validation with 3 errors\n  row 1: a\n  row 2: b\n  row 2: c"
            ),
            "2 of 3 rows failed validation with 3 errors: row 1: a (and 2 more)"
        );
        // Past the errors a message lists, it counts the rest.
        assert_eq!(
            error_headline(
                "25 of 25 rows failed validation with 25 errors\n  row 0: a\n  row 1: b\n  ... and 23 more"
            ),
            "25 of 25 rows failed validation with 25 errors: row 0: a (and 24 more)"
        );
        assert_eq!(error_headline(""), "");
    }

    #[test]
    fn stored_names_read_back_and_an_unknown_one_names_the_choices() {
        assert_eq!("blocked".parse::<RunStatus>(), Ok(RunStatus::Blocked));
        assert_eq!("limit_time".parse::<ErrorKind>(), Ok(ErrorKind::LimitTime));
        let error = "exploded".parse::<RunStatus>().unwrap_err();
        assert_eq!(error.given, "exploded");
        assert_eq!(error.choices, ["running", "success", "failed", "blocked"]);
        assert_eq!(
            error.to_string(),
            "`exploded` is not one of: running, success, failed, blocked"
        );
        assert_eq!("cron".parse::<Trigger>().unwrap_err().choices.len(), 5);
    }
}
