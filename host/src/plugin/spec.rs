//! What a processor declares about itself, as the host keeps it.
//!
//! [`ProcessorSpec`] is read once from a plugin's `info` export, checked,
//! and then drives scheduling, input access, validation and storage.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::bindings::{self, MonthDay, ProcessorInfo};
use crate::schema::{Column, SHADOW_DATASET, TableName, TableSchema};

pub use crate::phase::Phase;

/// How far back a processor reads from its analysis date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lookback {
    /// Only the analysis date.
    None,
    /// The N calendar days before the analysis date.
    Days(u32),
    /// The N most recent scheduled game dates before the analysis date.
    Games(u32),
    /// Every scheduled game date from the season's start to the day before
    /// the analysis date, declared through the contract's `season` export
    /// (0.1.2).
    SeasonToDate(SeasonStart),
}

/// As listings show it: "none", "3 days", "10 game dates", "the season
/// from 10-01".
impl fmt::Display for Lookback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lookback::None => write!(f, "none"),
            Lookback::Days(days) => write!(f, "{days} days"),
            Lookback::Games(games) => write!(f, "{games} game dates"),
            Lookback::SeasonToDate(start) => {
                write!(f, "the season from {:02}-{:02}", start.month, start.day)
            }
        }
    }
}

/// The upstreams a processor reads over the season to date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeasonReads {
    /// The day the season starts each year.
    pub start: SeasonStart,
    /// The upstream processors read over the season to date.
    pub upstreams: Vec<String>,
}

/// The day of the year a season starts, e.g. the first of October for the
/// NBA: a [`Lookback::SeasonToDate`] reaches back to the latest such day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SeasonStart {
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month.
    pub day: u32,
}

impl SeasonStart {
    /// The first day of the season `date` is in: this year's start if it
    /// is not after `date`, else last year's. `None` if the start is not a
    /// day every year has ([`SeasonStart::problem`]).
    pub fn season_of(self, date: NaiveDate) -> Option<NaiveDate> {
        let this_year = NaiveDate::from_ymd_opt(date.year(), self.month, self.day)?;
        if this_year <= date {
            Some(this_year)
        } else {
            NaiveDate::from_ymd_opt(date.year() - 1, self.month, self.day)
        }
    }

    /// Why this is no day to start a season on, if it is none: a month
    /// outside 1 to 12, a day its month lacks, or the 29th of February,
    /// which three years in four lack.
    fn problem(self) -> Option<&'static str> {
        // 2001 is no leap year: every day it has, every year has.
        match NaiveDate::from_ymd_opt(2001, self.month, self.day) {
            Some(_) => None,
            None if (self.month, self.day) == (2, 29) => {
                Some("the 29th of February is not a day every year has")
            }
            None => Some("that is not a day of the year"),
        }
    }
}

/// What to do when an upstream run failed or went stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UpstreamPolicy {
    /// Record the run as blocked.
    Block,
    /// Run when the upstream's rows for the date are present.
    ProceedIfDataPresent,
}

/// What to do when the lookback window has a scheduled date with no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum GapPolicy {
    /// Record the run as blocked.
    Block,
    /// Run, recording each gap as a data quality issue.
    Flag,
}

/// What to do with output rows that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BadRowPolicy {
    /// Write nothing and fail the run.
    FailRun,
    /// Write the good rows and quarantine the bad ones.
    Quarantine,
}

/// A processor's `info` that describes an unusable processor: every
/// problem found, in the order they were checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidSpec {
    /// The processor's name, as `info` gave it.
    pub processor: String,
    /// What is wrong; never empty.
    pub problems: Vec<SpecProblem>,
}

/// One thing wrong with a processor's declaration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecProblem {
    /// The name is empty or has characters other than letters, digits and `_`.
    #[error("processor name `{0}` must be letters, digits and _")]
    Name(String),
    /// The version is empty or blank.
    #[error("the version is empty")]
    EmptyVersion,
    /// The version (as [`quoted`]) is longer than [`MAX_VERSION_CHARS`] or
    /// holds a character other than visible ASCII and spaces: every
    /// listing, alert and log line shows it, and a processor's escape
    /// sequence would reach a terminal, or an override or an invisible
    /// character draw it as another version.
    #[error(
        "the version `{0}` must be at most {MAX_VERSION_CHARS} characters of visible ASCII \
         (letters, digits, punctuation) and spaces"
    )]
    Version(String),
    /// The output table is not `dataset.table`.
    #[error("output table `{0}` is not dataset.table")]
    OutputTable(TableName),
    /// An input table is not `dataset.table`.
    #[error("input table `{0}` is not dataset.table")]
    InputTable(TableName),
    /// A table name, output or input, has an upper-case letter.
    #[error(
        "table `{0}` has upper-case letters: table names are lower case, for the embedded \
         store (SQLite) takes names that differ only in case for the same table"
    )]
    UpperCaseTable(TableName),
    /// The output table's dataset is a name a store keeps for itself:
    /// SQLite refuses every table whose name starts `sqlite_`, PostgreSQL
    /// every schema starting `pg_`, and both have an `information_schema`.
    #[error(
        "output table `{0}`: no store can create it, for its dataset's name is one stores keep \
         for themselves (names starting `sqlite_` or `pg_`, or `information_schema`)"
    )]
    ReservedDataset(TableName),
    /// The processor names a shadow table, as its output or an input.
    #[error("`{0}` is a shadow table: only the host reads and writes the {SHADOW_DATASET} dataset")]
    ShadowTable(TableName),
    /// The processor names itself among its upstreams.
    #[error("`{0}` lists itself as upstream")]
    OwnUpstream(String),
    /// The output schema is unusable, as [`TableSchema::problems`] words it.
    #[error("{0}")]
    Schema(String),
    /// The declared season start is no day every year has.
    #[error("season start {}-{}: {}", .start.month, .start.day, .problem)]
    SeasonStart {
        /// The day declared.
        start: SeasonStart,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The `season` export names no upstream to read over the season.
    #[error("the `season` export names no upstream it reads over the season to date")]
    SeasonOfNoUpstream,
    /// The `season` export names a processor that is not an upstream.
    #[error("the `season` export names `{0}`, which is not among its upstream processors")]
    SeasonOfAStranger(String),
    /// The lookback reaches further back than any pipeline keeps dates.
    #[error(
        "lookback {0:?} reaches further back than a processor may look: at most \
         {MAX_LOOKBACK_DAYS} days or {MAX_LOOKBACK_GAMES} game dates"
    )]
    Lookback(Lookback),
}

/// The longest version a processor may declare, in characters.
pub const MAX_VERSION_CHARS: usize = 64;

/// `text`, a processor's own, as an error quotes it: escaped, and at
/// most 100 characters of it.
fn quoted(text: &str) -> String {
    crate::printable::quoted(text, 100)
}

/// The longest lookback in days: a century. Longer ones name no date a
/// pipeline keeps, and overflowed the host's date arithmetic.
pub const MAX_LOOKBACK_DAYS: u32 = 36_600;

/// The longest lookback in game dates.
pub const MAX_LOOKBACK_GAMES: u32 = 100_000;

/// A processor's declaration, checked.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessorSpec {
    /// The unique processor name.
    pub name: String,
    /// The pipeline phase.
    pub phase: Phase,
    /// The processor's own version string.
    pub version: String,
    /// Where its rows go.
    pub output_table: TableName,
    /// The output schema, partition column and key columns.
    pub schema: TableSchema,
    /// The tables it may read.
    pub inputs: Vec<TableName>,
    /// The processors it depends on, by name.
    pub upstream: Vec<String>,
    /// How far back it reads the upstreams [`ProcessorSpec::season`] does
    /// not name.
    pub lookback: Lookback,
    /// The upstreams it reads over the season to date, if any: declared
    /// through the contract's `season` export (0.1.2).
    pub season: Option<SeasonReads>,
    /// Its upstream failure policy.
    pub upstream_policy: UpstreamPolicy,
    /// Its lookback gap policy.
    pub gap_policy: GapPolicy,
    /// Its bad-row policy.
    pub bad_row_policy: BadRowPolicy,
}

impl ProcessorSpec {
    /// Whether `other`'s run on a date gates this processor's run there:
    /// under the `block` upstream policy, a run waits for every processor
    /// of an earlier phase in the same invocation, and goes ahead only if
    /// each succeeded (the phase gate).
    pub fn gated_by(&self, other: &ProcessorSpec) -> bool {
        self.upstream_policy == UpstreamPolicy::Block && other.phase < self.phase
    }

    /// How far back it reads `upstream`'s output: the season to date if
    /// its `season` export names it, else its declared lookback.
    pub fn lookback_of(&self, upstream: &str) -> Lookback {
        match &self.season {
            Some(season) if season.upstreams.iter().any(|u| u == upstream) => {
                Lookback::SeasonToDate(season.start)
            }
            _ => self.lookback,
        }
    }

    /// Its upstreams as listings show them, each with how far back it
    /// reads it when it reads more than its own date: "A (10 game dates)".
    pub fn upstream_reads(&self) -> Vec<String> {
        self.upstream
            .iter()
            .map(|upstream| match self.lookback_of(upstream) {
                Lookback::None => upstream.clone(),
                lookback => format!("{upstream} ({lookback})"),
            })
            .collect()
    }

    /// Whether it reads any upstream on dates before its own.
    pub fn looks_back(&self) -> bool {
        self.lookback != Lookback::None || self.season.is_some()
    }

    /// Converts and checks a plugin's `info`; the error lists every problem.
    pub fn from_info(info: &ProcessorInfo) -> Result<Self, InvalidSpec> {
        Self::from_declaration(info, None)
    }

    /// Converts and checks a plugin's `info` and the answer of its `season`
    /// export (`None` without one); the error lists every problem.
    pub fn from_declaration(
        info: &ProcessorInfo,
        season: Option<bindings::SeasonReads>,
    ) -> Result<Self, InvalidSpec> {
        let mut problems = Vec::new();
        let season = season.map(|reads| {
            let MonthDay { month, day } = reads.start;
            let start = SeasonStart {
                month: month.into(),
                day: day.into(),
            };
            if let Some(problem) = start.problem() {
                problems.push(SpecProblem::SeasonStart { start, problem });
            }
            if reads.upstreams.is_empty() {
                problems.push(SpecProblem::SeasonOfNoUpstream);
            }
            SeasonReads {
                start,
                upstreams: reads.upstreams,
            }
        });
        let spec = ProcessorSpec {
            name: info.name.clone(),
            phase: match info.phase {
                bindings::Phase::Analytics => Phase::Analytics,
                bindings::Phase::Precompute => Phase::Precompute,
                bindings::Phase::Predictions => Phase::Predictions,
            },
            version: info.version.clone(),
            output_table: TableName::from(&info.output_table),
            schema: TableSchema {
                columns: info.schema.iter().map(Column::from).collect(),
                partition_column: info.partition_column.clone(),
                key_columns: info.key_columns.clone(),
            },
            inputs: info.inputs.iter().map(TableName::from).collect(),
            upstream: info.upstream.clone(),
            lookback: match info.lookback {
                bindings::Lookback::None => Lookback::None,
                bindings::Lookback::Days(n) => Lookback::Days(n),
                bindings::Lookback::Games(n) => Lookback::Games(n),
            },
            season,
            upstream_policy: match info.upstream_policy {
                bindings::UpstreamPolicy::Block => UpstreamPolicy::Block,
                bindings::UpstreamPolicy::ProceedIfDataPresent => {
                    UpstreamPolicy::ProceedIfDataPresent
                }
            },
            gap_policy: match info.gap_policy {
                bindings::GapPolicy::Block => GapPolicy::Block,
                bindings::GapPolicy::Flag => GapPolicy::Flag,
            },
            bad_row_policy: match info.bad_row_policy {
                bindings::BadRowPolicy::FailRun => BadRowPolicy::FailRun,
                bindings::BadRowPolicy::Quarantine => BadRowPolicy::Quarantine,
            },
        };
        problems.extend(spec.problems());
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(InvalidSpec {
                processor: spec.name,
                problems,
            })
        }
    }

    fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        let identifier =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier(&self.name) {
            problems.push(SpecProblem::Name(quoted(&self.name)));
        }
        if self.version.trim().is_empty() {
            problems.push(SpecProblem::EmptyVersion);
        } else if self.version.chars().count() > MAX_VERSION_CHARS
            || !self
                .version
                .chars()
                .all(|c| c.is_ascii_graphic() || c == ' ')
        {
            problems.push(SpecProblem::Version(quoted(&self.version)));
        }
        let dataset = self.output_table.dataset.to_ascii_lowercase();
        if dataset.starts_with("sqlite_")
            || dataset.starts_with("pg_")
            || dataset == "information_schema"
        {
            problems.push(SpecProblem::ReservedDataset(self.output_table.clone()));
        }
        for table in std::iter::once(&self.output_table).chain(&self.inputs) {
            if table.has_upper_case() {
                problems.push(SpecProblem::UpperCaseTable(table.clone()));
            }
        }
        // Whether a name is `dataset.table` whatever its case, which is
        // a problem of its own, above.
        let well_formed =
            |table: &TableName| TableName::parse(&table.to_string().to_ascii_lowercase()).is_some();
        if !well_formed(&self.output_table) {
            problems.push(SpecProblem::OutputTable(self.output_table.clone()));
        }
        for input in &self.inputs {
            if !well_formed(input) {
                problems.push(SpecProblem::InputTable(input.clone()));
            }
        }
        for table in std::iter::once(&self.output_table).chain(&self.inputs) {
            if table.dataset == SHADOW_DATASET {
                problems.push(SpecProblem::ShadowTable(table.clone()));
            }
        }
        if self.upstream.contains(&self.name) {
            problems.push(SpecProblem::OwnUpstream(self.name.clone()));
        }
        for named in self.season.iter().flat_map(|season| &season.upstreams) {
            if !self.upstream.contains(named) {
                problems.push(SpecProblem::SeasonOfAStranger(named.clone()));
            }
        }
        match self.lookback {
            Lookback::Days(days) if days > MAX_LOOKBACK_DAYS => {
                problems.push(SpecProblem::Lookback(self.lookback))
            }
            Lookback::Games(games) if games > MAX_LOOKBACK_GAMES => {
                problems.push(SpecProblem::Lookback(self.lookback))
            }
            _ => {}
        }
        problems.extend(self.schema.problems().into_iter().map(SpecProblem::Schema));
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::{Field, FieldMode, FieldType, TableRef};

    fn info(name: &str, output: (&str, &str)) -> ProcessorInfo {
        let table = |(dataset, table): (&str, &str)| TableRef {
            dataset: dataset.into(),
            table: table.into(),
        };
        ProcessorInfo {
            name: name.into(),
            phase: bindings::Phase::Analytics,
            version: "1".into(),
            output_table: table(output),
            schema: vec![Field {
                name: "day".into(),
                field_type: FieldType::Date,
                mode: FieldMode::Required,
                allow_non_finite: false,
                description: String::new(),
            }],
            partition_column: "day".into(),
            key_columns: Vec::new(),
            inputs: vec![table(("raw", "box_scores"))],
            upstream: Vec::new(),
            lookback: bindings::Lookback::None,
            upstream_policy: bindings::UpstreamPolicy::Block,
            gap_policy: bindings::GapPolicy::Block,
            bad_row_policy: bindings::BadRowPolicy::FailRun,
        }
    }

    #[test]
    fn a_lookback_past_a_century_is_refused() {
        let mut far = info("Far", ("nba", "far"));
        far.lookback = bindings::Lookback::Days(u32::MAX);
        let error = ProcessorSpec::from_info(&far).unwrap_err();
        assert_eq!(
            error.problems,
            [SpecProblem::Lookback(Lookback::Days(u32::MAX))]
        );
        far.lookback = bindings::Lookback::Games(MAX_LOOKBACK_GAMES + 1);
        assert!(ProcessorSpec::from_info(&far).is_err());
        far.lookback = bindings::Lookback::Days(MAX_LOOKBACK_DAYS);
        assert!(ProcessorSpec::from_info(&far).is_ok());
    }

    #[test]
    fn the_upstreams_read_over_the_season_look_back_to_its_start_and_the_rest_as_declared() {
        let mut reader = info("SeasonReader", ("nba", "season"));
        reader.upstream = vec!["Games".into(), "Zones".into()];
        reader.lookback = bindings::Lookback::Games(3);
        let reads = |month, day, upstreams: &[&str]| bindings::SeasonReads {
            start: MonthDay { month, day },
            upstreams: upstreams.iter().map(|u| u.to_string()).collect(),
        };
        let spec =
            ProcessorSpec::from_declaration(&reader, Some(reads(10, 1, &["Games"]))).unwrap();
        let october = SeasonStart { month: 10, day: 1 };
        assert_eq!(spec.lookback_of("Games"), Lookback::SeasonToDate(october));
        assert_eq!(spec.lookback_of("Zones"), Lookback::Games(3));
        let plain = ProcessorSpec::from_declaration(&reader, None).unwrap();
        assert_eq!(plain.lookback_of("Games"), Lookback::Games(3));
        assert_eq!(
            spec.upstream_reads(),
            ["Games (the season from 10-01)", "Zones (3 game dates)"]
        );

        let refused = |month, day, upstreams: &[&str]| {
            ProcessorSpec::from_declaration(&reader, Some(reads(month, day, upstreams)))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refused(2, 29, &["Games"]),
            "season start 2-29: the 29th of February is not a day every year has"
        );
        assert_eq!(
            refused(13, 1, &["Games"]),
            "season start 13-1: that is not a day of the year"
        );
        assert!(refused(4, 31, &["Games"]).starts_with("season start 4-31"));
        assert_eq!(
            refused(10, 1, &[]),
            "the `season` export names no upstream it reads over the season to date"
        );
        assert_eq!(
            refused(10, 1, &["Games", "Odds"]),
            "the `season` export names `Odds`, which is not among its upstream processors"
        );
    }

    #[test]
    fn a_season_begins_on_the_latest_start_not_after_the_date() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        for (month, date, start) in [
            (10, "2026-01-11", "2025-10-01"),
            (10, "2025-10-01", "2025-10-01"),
            (10, "2025-09-30", "2024-10-01"),
            (10, "2025-12-31", "2025-10-01"),
            (3, "2024-02-29", "2023-03-01"),
        ] {
            let season = SeasonStart { month, day: 1 };
            assert_eq!(season.season_of(day(date)), Some(day(start)), "{date}");
        }
    }

    #[test]
    fn a_sound_declaration_is_accepted() {
        let spec = ProcessorSpec::from_info(&info("Totals", ("nba", "totals"))).unwrap();
        assert_eq!(spec.output_table, TableName::new("nba", "totals"));
    }

    #[test]
    fn an_unusable_declaration_lists_every_problem_as_a_value() {
        let mut bad = info("my-proc", ("nba", ""));
        bad.version = " ".into();
        bad.upstream = vec!["my-proc".into()];
        bad.partition_column = "date".into();
        let error = ProcessorSpec::from_info(&bad).unwrap_err();
        assert_eq!(error.processor, "my-proc");
        assert_eq!(
            error.problems,
            [
                SpecProblem::Name("my-proc".into()),
                SpecProblem::EmptyVersion,
                SpecProblem::OutputTable(TableName::new("nba", "")),
                SpecProblem::OwnUpstream("my-proc".into()),
                SpecProblem::Schema("partition column `date` is not in the schema".into()),
            ]
        );
        assert_eq!(
            error.to_string(),
            "processor name `my-proc` must be letters, digits and _; the version is empty; \
             output table `nba.` is not dataset.table; `my-proc` lists itself as upstream; \
             partition column `date` is not in the schema"
        );
    }

    /// Every listing, alert and log line shows a version: one of 2 MB was
    /// served whole, and escape sequences in it reached the terminal.
    #[test]
    fn a_version_too_long_or_holding_a_control_character_is_refused_quoted_escaped() {
        let refused = |name: &str, version: String| {
            let mut bad = info(name, ("nba", "totals"));
            bad.version = version;
            ProcessorSpec::from_info(&bad).unwrap_err().to_string()
        };
        assert_eq!(
            refused("Totals", "6.6.6\u{1b}]0;PWNED\u{7}\r".into()),
            "the version `6.6.6\\u{1b}]0;PWNED\\u{7}\\r` must be at most 64 characters of \
             visible ASCII (letters, digits, punctuation) and spaces"
        );
        let reversed = refused("Totals", "2.0\u{202e}0.1-REVERSED".into());
        assert!(
            reversed.starts_with("the version `2.0\\u{202e}0.1-REVERSED` must be"),
            "{reversed}"
        );
        // Drawn as `1.0`, as a version that is `1.0` is.
        let invisible = refused("Totals", "1.0\u{e0031}".into());
        assert!(
            invisible.starts_with("the version `1.0\\u{e0031}` must be"),
            "{invisible}"
        );
        let long = refused("Totals", "9".repeat(2_000_000));
        assert!(long.len() < 250, "{}", long.len());
        assert!(
            refused("Totals\u{1b}[2J", "1".into()).starts_with("processor name `Totals\\u{1b}[2J`")
        );
        let longest = info("Totals", ("nba", "totals"));
        assert!(
            ProcessorSpec::from_info(&ProcessorInfo {
                version: "v".repeat(MAX_VERSION_CHARS),
                ..longest
            })
            .is_ok()
        );
    }

    #[test]
    fn table_names_in_other_letter_case_are_refused_as_the_same_table_in_sqlite() {
        let mut shouting = info("Totals", ("nba", "Totals"));
        shouting.inputs.push(TableRef {
            dataset: "RAW".into(),
            table: "box scores".into(),
        });
        let error = ProcessorSpec::from_info(&shouting).unwrap_err();
        assert_eq!(
            error.problems,
            [
                SpecProblem::UpperCaseTable(TableName::new("nba", "Totals")),
                SpecProblem::UpperCaseTable(TableName::new("RAW", "box scores")),
                SpecProblem::InputTable(TableName::new("RAW", "box scores")),
            ]
        );
        assert!(
            error.to_string().starts_with(
                "table `nba.Totals` has upper-case letters: table names are lower case"
            ),
            "{error}"
        );
    }

    #[test]
    fn an_output_table_in_a_dataset_a_store_keeps_for_itself_is_refused() {
        for dataset in ["sqlite_mst", "pg_temp", "information_schema"] {
            let error = ProcessorSpec::from_info(&info("Squatter", (dataset, "rows"))).unwrap_err();
            assert_eq!(
                error.problems,
                [SpecProblem::ReservedDataset(TableName::new(
                    dataset, "rows"
                ))]
            );
        }
        assert!(ProcessorSpec::from_info(&info("Fine", ("nba_sqlite", "rows"))).is_ok());
    }

    #[test]
    fn a_processor_may_neither_read_nor_write_a_shadow_table() {
        let mut reader = info("Reader", ("nba", "totals"));
        reader.inputs.push(TableRef {
            dataset: SHADOW_DATASET.into(),
            table: "nba__totals__0123456789ab".into(),
        });
        let writer = info("Writer", (SHADOW_DATASET, "nba__totals__0123456789ab"));
        let table = "slate_shadow.nba__totals__0123456789ab";
        for declared in [reader, writer] {
            let error = ProcessorSpec::from_info(&declared).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "`{table}` is a shadow table: only the host reads and writes the \
                     slate_shadow dataset"
                )
            );
        }
    }
}
