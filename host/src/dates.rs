//! Analysis dates as every entry point takes them (HTTP, the command line,
//! backfills, `slate test`): exactly `YYYY-MM-DD`, a real calendar day, and
//! within the range the pipeline serves.
//!
//! The range is, by default, the schedule's seasons plus a margin on each
//! side; `slate.toml` may set it (`[dates]`). A pipeline with no schedule
//! yet serves from 1970 to a year from today. Parsing and the range check
//! are pure; only [`serving_range`] and [`scheduled_games`] read the store.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate, Utc};
use serde::Deserialize;

use crate::schema::TableName;
use crate::store::{Store, StoreError};

/// Why a date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not exactly four digits, a dash, two digits, a dash, two digits.
    #[error("invalid date `{0}`: expected exactly YYYY-MM-DD")]
    Format(String),
    /// The right shape, but no such day (2026-02-30).
    #[error("invalid date `{0}`: expected a real calendar date as YYYY-MM-DD")]
    NoSuchDay(String),
    /// A real day outside the range the pipeline serves.
    #[error(
        "date {date} is outside the range this pipeline serves, {earliest} to {latest} ({basis})"
    )]
    OutOfRange {
        /// The date given.
        date: NaiveDate,
        /// The earliest date served.
        earliest: NaiveDate,
        /// The latest date served.
        latest: NaiveDate,
        /// Where the range comes from.
        basis: RangeBasis,
    },
}

/// Where a [`DateRange`] comes from, as its refusals say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeBasis {
    /// The schedule's seasons, widened by the margin.
    Schedule,
    /// No schedule yet: 1970-01-01 to a year from today.
    NoSchedule,
    /// `[dates]` in `slate.toml` sets both ends.
    Configured,
    /// `[dates]` in `slate.toml` sets one end; the other is the schedule's
    /// (with the margin), or, with no schedule, 1970-01-01 or a year from
    /// today.
    PartlyConfigured {
        /// Whether a schedule gives the other end.
        scheduled: bool,
    },
}

impl std::fmt::Display for RangeBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RangeBasis::Schedule => {
                "the schedule's seasons with a margin; set [dates] in slate.toml to change it"
            }
            RangeBasis::NoSchedule => {
                "no game schedule is loaded: 1970-01-01 to a year from today; set [dates] in \
                 slate.toml to change it"
            }
            RangeBasis::Configured => "as [dates] in slate.toml sets it",
            RangeBasis::PartlyConfigured { scheduled: true } => {
                "one end as [dates] in slate.toml sets it, the other the schedule's seasons \
                 with a margin"
            }
            RangeBasis::PartlyConfigured { scheduled: false } => {
                "one end as [dates] in slate.toml sets it, the other 1970-01-01 or a year from \
                 today, as no game schedule is loaded"
            }
        })
    }
}

/// Parses exactly `YYYY-MM-DD`: no sign, no spaces, no single-digit month
/// or day, nothing before or after.
pub fn parse(text: &str) -> Result<NaiveDate, DateError> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(DateError::Format(text.to_string()));
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
    NaiveDate::from_ymd_opt(number(0..4) as i32, number(5..7), number(8..10))
        .ok_or_else(|| DateError::NoSuchDay(text.to_string()))
}

/// The dates a pipeline serves, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// The earliest date served.
    pub earliest: NaiveDate,
    /// The latest date served.
    pub latest: NaiveDate,
    /// Where it comes from.
    pub basis: RangeBasis,
}

impl DateRange {
    /// `date`, when it lies in the range.
    pub fn check(&self, date: NaiveDate) -> Result<NaiveDate, DateError> {
        if date < self.earliest || date > self.latest {
            return Err(DateError::OutOfRange {
                date,
                earliest: self.earliest,
                latest: self.latest,
                basis: self.basis,
            });
        }
        Ok(date)
    }

    /// Parses `text` strictly and checks it against the range.
    pub fn parse(&self, text: &str) -> Result<NaiveDate, DateError> {
        self.check(parse(text)?)
    }
}

/// The `[dates]` section of `slate.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatesConfig {
    /// The earliest date served, instead of the schedule's first less the margin.
    pub earliest: Option<NaiveDate>,
    /// The latest date served, instead of the schedule's last plus the margin.
    pub latest: Option<NaiveDate>,
    /// Days served before the schedule's first date and after its last.
    pub margin_days: u32,
}

impl Default for DatesConfig {
    fn default() -> Self {
        DatesConfig {
            earliest: None,
            latest: None,
            margin_days: 366,
        }
    }
}

/// Why `slate.toml` gave no date range.
pub type DatesConfigError = crate::config_file::ConfigFileError<DatesSectionError>;

/// What is wrong with the text of a `[dates]` section.
#[derive(Debug, thiserror::Error)]
pub enum DatesSectionError {
    /// The file is not TOML, or the section has an unknown key or a value
    /// of the wrong type; the TOML error names the line and the key.
    #[error(transparent)]
    Toml(#[from] crate::config_file::TomlError),
    /// A date key holds text that is not a date.
    #[error("[dates] {key}")]
    BadDate {
        /// The key, `earliest` or `latest`.
        key: &'static str,
        /// Why its value is not a date.
        #[source]
        source: DateError,
    },
    /// `earliest` comes after `latest`: no date would be served.
    #[error("[dates] earliest = {earliest} comes after latest = {latest}: no date would be served")]
    Reversed {
        /// The earliest date.
        earliest: NaiveDate,
        /// The latest date.
        latest: NaiveDate,
    },
}

/// One end `[dates]` sets lies beyond the other end, which the schedule
/// gives: the range holds no date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "[dates] leaves no date to serve: {set} = {value} lies {side} the {other} date the \
     schedule gives, {other_value} (its dates with margin_days = {margin_days}); set both \
     earliest and latest, or neither"
)]
pub struct NoDateServed {
    /// The key set, `earliest` or `latest`.
    pub set: &'static str,
    /// Where its value lies from the other end: `after` the latest date,
    /// or `before` the earliest.
    pub side: &'static str,
    /// Its value.
    pub value: NaiveDate,
    /// The end the schedule gives.
    pub other: &'static str,
    /// That end's date.
    pub other_value: NaiveDate,
    /// The margin around the schedule's dates.
    pub margin_days: u32,
}

/// `[dates]` as written: dates as `"YYYY-MM-DD"` strings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatesSection {
    earliest: Option<String>,
    latest: Option<String>,
    margin_days: Option<u32>,
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    dates: Option<DatesSection>,
}

impl DatesConfig {
    /// Reads the `[dates]` section of a `slate.toml`; a missing file or
    /// section gives the defaults. A bad value is an error naming it.
    pub fn load(path: &Path) -> Result<Self, DatesConfigError> {
        crate::config_file::load(path, DatesConfig::default, Self::parse)
    }

    /// Parses the text of a `slate.toml`.
    pub fn parse(text: &str) -> Result<Self, DatesSectionError> {
        let file: ConfigFile = crate::config_file::from_toml(text)?;
        let Some(section) = file.dates else {
            return Ok(DatesConfig::default());
        };
        let date = |key: &'static str, text: Option<String>| {
            text.map(|t| parse(&t).map_err(|source| DatesSectionError::BadDate { key, source }))
                .transpose()
        };
        let (earliest, latest) = (
            date("earliest", section.earliest)?,
            date("latest", section.latest)?,
        );
        if let (Some(earliest), Some(latest)) = (earliest, latest)
            && earliest > latest
        {
            return Err(DatesSectionError::Reversed { earliest, latest });
        }
        Ok(DatesConfig {
            earliest,
            latest,
            margin_days: section
                .margin_days
                .unwrap_or(DatesConfig::default().margin_days),
        })
    }

    /// The range for a schedule spanning `scheduled` (first and last
    /// scheduled dates), or none yet; `today` bounds a pipeline without one.
    pub fn range(&self, scheduled: Option<(NaiveDate, NaiveDate)>, today: NaiveDate) -> DateRange {
        let margin = chrono::Days::new(u64::from(self.margin_days));
        let (first, last) = match scheduled {
            Some((first, last)) => (
                first.checked_sub_days(margin).unwrap_or(NaiveDate::MIN),
                last.checked_add_days(margin).unwrap_or(NaiveDate::MAX),
            ),
            None => (
                NaiveDate::from_ymd_opt(1970, 1, 1).expect("a real date"),
                today
                    .with_year(today.year() + 1)
                    .unwrap_or(today + chrono::Days::new(366)),
            ),
        };
        let basis = match (self.earliest.is_some(), self.latest.is_some()) {
            (true, true) => RangeBasis::Configured,
            (true, false) | (false, true) => RangeBasis::PartlyConfigured {
                scheduled: scheduled.is_some(),
            },
            (false, false) if scheduled.is_some() => RangeBasis::Schedule,
            (false, false) => RangeBasis::NoSchedule,
        };
        DateRange {
            earliest: self.earliest.unwrap_or(first),
            latest: self.latest.unwrap_or(last),
            basis,
        }
    }
}

impl DatesConfig {
    /// Whether it sets one end of the range and leaves the other to the
    /// schedule: then only the schedule can tell whether the range holds
    /// a date ([`DatesConfig::holding_dates`]).
    pub fn sets_one_end(&self) -> bool {
        self.earliest.is_some() != self.latest.is_some()
    }

    /// `range` (which [`DatesConfig::range`] made), unless it holds no
    /// date: one end set here lies beyond the end the schedule gives. Both
    /// ends set here are checked as the file is read.
    pub fn holding_dates(&self, range: DateRange) -> Result<DateRange, NoDateServed> {
        if range.earliest <= range.latest {
            return Ok(range);
        }
        let (set, value, side, other, other_value) = match self.earliest {
            Some(earliest) => ("earliest", earliest, "after", "latest", range.latest),
            None => ("latest", range.latest, "before", "earliest", range.earliest),
        };
        Err(NoDateServed {
            set,
            side,
            value,
            other,
            other_value,
            margin_days: self.margin_days,
        })
    }
}

/// The range a pipeline whose schedule is `calendar` serves today.
pub fn serving_range(
    store: &dyn Store,
    calendar: &TableName,
    config: &DatesConfig,
) -> Result<DateRange, StoreError> {
    let games = scheduled_games(store, calendar)?;
    let scheduled = games.first_key_value().zip(games.last_key_value());
    Ok(config.range(
        scheduled.map(|((first, _), (last, _))| (*first, *last)),
        Utc::now().date_naive(),
    ))
}

/// The scheduled game dates of the schedule table `calendar`, each with its
/// number of games; none while the table does not exist.
pub fn scheduled_games(
    store: &dyn Store,
    calendar: &TableName,
) -> Result<BTreeMap<NaiveDate, u64>, StoreError> {
    Ok(match store.table_schema(calendar)? {
        Some(_) => store.partition_counts(calendar)?.into_iter().collect(),
        None => BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_end_set_beyond_the_schedules_other_end_leaves_no_date() {
        let schedule = Some((day("2025-10-21"), day("2026-04-12")));
        let today = day("2026-12-03");
        let late = DatesConfig::parse("[dates]\nearliest = \"2031-01-01\"\n").unwrap();
        let empty = late.holding_dates(late.range(schedule, today)).unwrap_err();
        assert_eq!((empty.set, empty.value), ("earliest", day("2031-01-01")));
        assert_eq!(empty.other_value, day("2027-04-13"));
        assert!(empty.to_string().contains("set both earliest and latest"));
        assert!(
            empty
                .to_string()
                .contains("earliest = 2031-01-01 lies after the latest date"),
            "{empty}"
        );
        let early = DatesConfig::parse("[dates]\nlatest = \"2001-01-01\"\n").unwrap();
        let empty = early
            .holding_dates(early.range(schedule, today))
            .unwrap_err();
        assert_eq!((empty.set, empty.value), ("latest", day("2001-01-01")));
        assert_eq!(empty.other_value, day("2024-10-20"));
        assert!(
            empty
                .to_string()
                .contains("latest = 2001-01-01 lies before the earliest date"),
            "{empty}"
        );
        let within = DatesConfig::parse("[dates]\nearliest = \"2026-01-01\"\n").unwrap();
        assert!(within.holding_dates(within.range(schedule, today)).is_ok());
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn only_exactly_yyyy_mm_dd_parses() {
        assert_eq!(parse("2026-01-10"), Ok(day("2026-01-10")));
        for lenient in [
            " 2026-01-10",
            "2026-01-10 ",
            "2026-1-5",
            "+2026-01-10",
            "-0001-01-01",
            "20260110",
            "2026/01/10",
            "２０２６-01-10",
            "",
        ] {
            assert_eq!(
                parse(lenient),
                Err(DateError::Format(lenient.to_string())),
                "`{lenient}`"
            );
        }
        assert_eq!(
            parse("2026-02-30"),
            Err(DateError::NoSuchDay("2026-02-30".into()))
        );
    }

    #[test]
    fn the_range_is_the_schedule_with_a_margin_unless_configured() {
        let config = DatesConfig::default();
        let season = Some((day("2025-10-21"), day("2026-04-12")));
        let range = config.range(season, day("2026-11-30"));
        assert_eq!(
            (range.earliest, range.latest),
            (day("2024-10-20"), day("2027-04-13"))
        );
        assert!(range.check(day("2026-01-11")).is_ok());
        assert!(matches!(
            range.check(day("2031-01-01")),
            Err(DateError::OutOfRange { .. })
        ));
        let configured =
            DatesConfig::parse("[dates]\nearliest = \"2020-01-01\"\nmargin_days = 0\n")
                .unwrap()
                .range(season, day("2026-11-30"));
        assert_eq!(
            (configured.earliest, configured.latest),
            (day("2020-01-01"), day("2026-04-12"))
        );
        let unscheduled = config.range(None, day("2026-11-30"));
        assert_eq!(unscheduled.latest, day("2027-11-30"));

        // A refusal says where its range comes from: before, `slate test`
        // without a schedule blamed "the schedule's seasons" for 1970.
        let refusal = |range: DateRange| range.check(day("1900-01-01")).unwrap_err().to_string();
        assert_eq!(
            refusal(range),
            "date 1900-01-01 is outside the range this pipeline serves, 2024-10-20 to \
             2027-04-13 (the schedule's seasons with a margin; set [dates] in slate.toml to \
             change it)"
        );
        assert_eq!(
            refusal(unscheduled),
            "date 1900-01-01 is outside the range this pipeline serves, 1970-01-01 to \
             2027-11-30 (no game schedule is loaded: 1970-01-01 to a year from today; set \
             [dates] in slate.toml to change it)"
        );
        let configured = refusal(configured);
        assert!(
            configured.ends_with(
                "(one end as [dates] in slate.toml sets it, the other the schedule's seasons \
                 with a margin)"
            ),
            "{configured}"
        );
        let both =
            DatesConfig::parse("[dates]\nearliest = \"2020-01-01\"\nlatest = \"2020-12-31\"\n")
                .unwrap()
                .range(season, day("2026-11-30"));
        let both = refusal(both);
        assert!(
            both.ends_with("(as [dates] in slate.toml sets it)"),
            "{both}"
        );
    }

    #[test]
    fn a_bad_dates_section_is_an_error_naming_the_key() {
        let error = DatesConfig::parse("[dates]\nfirst = \"2020-01-01\"\n").unwrap_err();
        assert!(
            matches!(&error, DatesSectionError::Toml(toml) if toml.message().contains("first")),
            "{error:?}"
        );
        let error = DatesConfig::parse("[dates]\nlatest = \"2026-1-5\"\n").unwrap_err();
        let DatesSectionError::BadDate { key, source } = &error else {
            panic!("not a bad date: {error:?}");
        };
        assert_eq!(
            (*key, source),
            ("latest", &DateError::Format("2026-1-5".into()))
        );
        assert_eq!(error.to_string(), "[dates] latest");
        let error =
            DatesConfig::parse("[dates]\nearliest = \"2026-02-01\"\nlatest = \"2026-01-01\"\n")
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "[dates] earliest = 2026-02-01 comes after latest = 2026-01-01: no date would be served"
        );
        let one_day = "[dates]\nearliest = \"2026-01-01\"\nlatest = \"2026-01-01\"\n";
        assert!(DatesConfig::parse(one_day).is_ok());
    }

    #[test]
    fn a_bad_file_is_an_error_naming_the_file_with_what_is_wrong_as_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slate.toml");
        assert_eq!(DatesConfig::load(&path).unwrap(), DatesConfig::default());
        std::fs::write(&path, "[dates]\nearliest = \"2026-02-30\"\n").unwrap();
        let error = DatesConfig::load(&path).unwrap_err();
        assert!(
            matches!(
                &error,
                DatesConfigError::Invalid {
                    path: named,
                    source: DatesSectionError::BadDate { key: "earliest", .. },
                } if named == &path
            ),
            "{error:?}"
        );
        let error = DatesConfig::load(dir.path()).unwrap_err();
        assert!(
            matches!(&error, DatesConfigError::Read { path, .. } if path == dir.path()),
            "{error:?}"
        );
    }
}
