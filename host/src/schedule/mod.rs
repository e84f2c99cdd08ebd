//! Schedules: `[[schedule]]` in `slate.toml` fires processors for a date on
//! a cron expression, in a time zone. `slate serve` fires each tick once,
//! even with several hosts on one store: a tick is claimed in the store
//! like a run ([`crate::store::schedules::TickLedger`]).
//!
//! ```toml
//! [[schedule]]
//! name = "nightly"
//! cron = "0 6 * * *"              # 5 fields, or 6 with seconds first
//! timezone = "America/New_York"   # default UTC
//! date = "yesterday"              # today, yesterday, or -N days (N <= 3653); default yesterday
//! processors = []                 # default: the whole DAG
//! catch_up = false                # fire ticks missed while down, on start
//! ```
//!
//! The decisions ([`due_ticks`], [`date_for`], [`Schedule::next_after`])
//! are pure; `server::schedules` does the firing.

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::Deserialize;

/// The most missed ticks one catch-up fires.
pub const MAX_CATCH_UP: usize = 100;

/// The most days before its tick a schedule may process: ten years.
pub const MAX_DAYS_BEFORE: u32 = 3653;

/// Which date a tick processes, relative to the tick's local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateOffset {
    /// Days before the tick's local date: 0 today, 1 yesterday.
    pub days_before: u32,
}

impl FromStr for DateOffset {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let days_before = match text {
            "today" => 0,
            "yesterday" => 1,
            other => other
                .strip_prefix('-')
                .and_then(|n| n.parse::<u32>().ok())
                .ok_or_else(|| {
                    format!("`{other}` is not today, yesterday, or -N (days before the tick)")
                })?,
        };
        Ok(DateOffset { days_before })
    }
}

/// One schedule, parsed.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Its name, unique among schedules.
    pub name: String,
    /// The cron expression as written.
    pub cron_text: String,
    cron: Cron,
    /// The time zone its cron expression and dates are in.
    pub timezone: Tz,
    /// Which date each tick processes.
    pub date: DateOffset,
    /// The processors it runs; every one when empty.
    pub processors: Vec<String>,
    /// Whether ticks missed while no server ran are fired on start.
    pub catch_up: bool,
}

impl Schedule {
    /// `at` on the schedule's clock, as its messages give a tick's time:
    /// `2026-12-01 06:00:00 EST` for a schedule in America/New_York.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.timezone)
    }

    /// The first tick strictly after `after`. In the hour repeated when
    /// clocks go back, a wall-clock time fires once, at its first instance:
    /// the search gives that first instance even when `after` is already
    /// in the second pass, so a tick at or before `after` is passed over.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut from = after.with_timezone(&self.timezone);
        // Each pass moves past one wall-clock time of the repeated hour.
        for _ in 0..=3600 {
            let tick = self.cron.find_next_occurrence(&from, false).ok()?;
            if tick.with_timezone(&Utc) > after {
                return Some(tick.with_timezone(&Utc));
            }
            from = tick;
        }
        None
    }
}

/// The analysis date a tick at `tick` processes: its local date in the
/// schedule's time zone, less the offset.
pub fn date_for(schedule: &Schedule, tick: DateTime<Utc>) -> NaiveDate {
    let local = tick.with_timezone(&schedule.timezone).date_naive();
    local
        .checked_sub_days(Days::new(u64::from(schedule.date.days_before)))
        .unwrap_or(local)
}

/// One due tick ([`due_ticks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTick {
    /// When it was due.
    pub at: DateTime<Utc>,
    /// The date it processes.
    pub date: NaiveDate,
    /// The later due tick of the same date that fires instead, if any: an
    /// hourly schedule of `today` catching up, say, fires the date once,
    /// where each tick would only find the date's runs already going.
    pub superseded_by: Option<DateTime<Utc>>,
}

/// What is due of one schedule at `now` ([`due_ticks`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueTicks {
    /// The due ticks, oldest first, at most [`MAX_CATCH_UP`] (the latest).
    pub ticks: Vec<DueTick>,
    /// Dates that due ticks left out past [`MAX_CATCH_UP`] would have
    /// processed, and that no tick kept processes: the first and the
    /// last, and how many.
    pub dropped: Option<(NaiveDate, NaiveDate, usize)>,
}

/// The ticks due at `now`: after the last one fired (or, without one, after
/// the server started), never before the server started unless the
/// schedule catches up; at most [`MAX_CATCH_UP`], the latest ones, naming
/// the dates left out. Of several due ticks of one date, the latest fires.
pub fn due_ticks(
    schedule: &Schedule,
    last_fired: Option<DateTime<Utc>>,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DueTicks {
    let from = match (last_fired, schedule.catch_up) {
        (Some(last), true) => last,
        (Some(last), false) => last.max(started),
        (None, _) => started,
    };
    let mut kept: std::collections::VecDeque<(DateTime<Utc>, NaiveDate)> = Default::default();
    // A tick's date never goes back as ticks go forward.
    let mut dropped_dates: Vec<NaiveDate> = Vec::new();
    let mut cursor = from;
    while let Some(tick) = schedule.next_after(cursor) {
        if tick > now {
            break;
        }
        kept.push_back((tick, date_for(schedule, tick)));
        cursor = tick;
        if kept.len() > MAX_CATCH_UP
            && let Some((_, date)) = kept.pop_front()
            && dropped_dates.last() != Some(&date)
        {
            dropped_dates.push(date);
        }
    }
    // A date a kept tick fires, or the last fired tick fired, is not left
    // out.
    let fired_before = last_fired.map(|tick| date_for(schedule, tick));
    let first_kept = kept.front().map(|(_, date)| *date);
    dropped_dates.retain(|date| Some(*date) != first_kept && Some(*date) != fired_before);
    // Newest first, each tick learns the latest of its date so far.
    let mut latest: Option<(NaiveDate, DateTime<Utc>)> = None;
    let mut ticks: Vec<DueTick> = (kept.into_iter().rev())
        .map(|(at, date)| {
            let superseded_by = match latest {
                Some((of, later)) if of == date => Some(later),
                _ => {
                    latest = Some((date, at));
                    None
                }
            };
            DueTick {
                at,
                date,
                superseded_by,
            }
        })
        .collect();
    ticks.reverse();
    DueTicks {
        ticks,
        dropped: match (dropped_dates.first(), dropped_dates.last()) {
            (Some(first), Some(last)) => Some((*first, *last, dropped_dates.len())),
            _ => None,
        },
    }
}

/// The ticks a schedule that does not catch up missed before a server
/// started at `started`, none having fired since `last_fired`: the first
/// and the last, each with its date. `None` when none was missed, the
/// schedule catches up (its server fires them), or it never fired (it is
/// new: nothing was missed).
pub fn missed_before_start(
    schedule: &Schedule,
    last_fired: Option<DateTime<Utc>>,
    started: DateTime<Utc>,
) -> Option<[(DateTime<Utc>, NaiveDate); 2]> {
    if schedule.catch_up {
        return None;
    }
    let first = schedule
        .next_after(last_fired?)
        .filter(|tick| *tick <= started)?;
    let last = last_tick_by(schedule, started).unwrap_or(first);
    Some([first, last].map(|tick| (tick, date_for(schedule, tick))))
}

/// The latest tick of `schedule` at or before `instant`: looked for in a
/// second before it, then a minute, an hour, a day, a month, a year and
/// four, so that a frequent schedule is not stepped through from long ago.
fn last_tick_by(schedule: &Schedule, instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let windows = [
        1,
        60,
        3_600,
        86_400,
        31 * 86_400,
        366 * 86_400,
        4 * 366 * 86_400,
    ];
    windows.into_iter().find_map(|seconds| {
        let mut cursor = instant - chrono::TimeDelta::seconds(seconds);
        let mut latest = None;
        while let Some(tick) = schedule.next_after(cursor).filter(|tick| *tick <= instant) {
            latest = Some(tick);
            cursor = tick;
        }
        latest
    })
}

impl DueTicks {
    /// The ticks that fire: the latest due tick of each date.
    pub fn firing(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        (self.ticks.iter())
            .filter(|tick| tick.superseded_by.is_none())
            .map(|tick| tick.at)
    }
}

/// Why `[[schedule]]` is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleSectionError {
    /// Not TOML, or a key of the wrong shape; names the line.
    #[error(transparent)]
    Toml(#[from] crate::config_file::TomlError),
    /// A value is wrong; names the schedule and the key.
    #[error("[[schedule]] `{name}` {key}: {message}")]
    Invalid {
        /// The schedule.
        name: String,
        /// The key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Two schedules share a name.
    #[error("[[schedule]] `{0}` is defined twice")]
    Duplicate(String),
}

/// `slate.toml` could not give the schedules.
pub type SchedulesConfigError = crate::config_file::ConfigFileError<ScheduleSectionError>;

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    schedule: Vec<ScheduleSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleSection {
    name: String,
    cron: String,
    timezone: Option<String>,
    date: Option<String>,
    #[serde(default)]
    processors: Vec<String>,
    #[serde(default)]
    catch_up: bool,
}

use crate::printable::one_line;

/// Reads every `[[schedule]]` of a `slate.toml`; none without the file.
pub fn load(path: &Path) -> Result<Vec<Schedule>, SchedulesConfigError> {
    crate::config_file::load(path, Vec::new, parse)
}

/// Parses the schedules of a `slate.toml`'s text.
pub fn parse(text: &str) -> Result<Vec<Schedule>, ScheduleSectionError> {
    let file: ConfigFile = crate::config_file::from_toml(text)?;
    let mut schedules: Vec<Schedule> = Vec::new();
    for section in file.schedule {
        let name = section.name;
        // What the file says is quoted with its control characters
        // escaped: the error stays one line, and sends no escape sequence.
        let invalid = |key: &'static str, message: String| ScheduleSectionError::Invalid {
            name: one_line(&name).into_owned(),
            key,
            message: one_line(&message).into_owned(),
        };
        if let Some(problem) = crate::config_file::name_problem(&name) {
            return Err(invalid("name", problem.to_string()));
        }
        if schedules.iter().any(|s| s.name == name) {
            return Err(ScheduleSectionError::Duplicate(name));
        }
        let cron: Cron = Cron::new(&section.cron)
            .with_seconds_optional()
            .parse()
            .map_err(|e| {
                let field = out_of_range_field(&section.cron)
                    .map_or(String::new(), |field| format!(" ({field})"));
                invalid("cron", format!("`{}`: {e}{field}", section.cron))
            })?;
        let timezone = match section.timezone.as_deref() {
            None => Tz::UTC,
            Some(zone) => zone
                .parse::<Tz>()
                .map_err(|_| invalid("timezone", format!("`{zone}` is not an IANA time zone")))?,
        };
        let date: DateOffset = section
            .date
            .as_deref()
            .unwrap_or("yesterday")
            .parse()
            .map_err(|e| invalid("date", e))?;
        if date.days_before > MAX_DAYS_BEFORE {
            return Err(invalid(
                "date",
                format!(
                    "-{} is more than {MAX_DAYS_BEFORE} days (ten years) before the tick",
                    date.days_before
                ),
            ));
        }
        // An expression no day of the calendar matches (February 30th)
        // would be accepted and never fire.
        let now = Utc::now().with_timezone(&timezone);
        if cron.find_next_occurrence(&now, false).is_err() {
            return Err(invalid(
                "cron",
                format!("`{}` never fires: no date matches it", section.cron),
            ));
        }
        schedules.push(Schedule {
            cron_text: section.cron,
            cron,
            timezone,
            date,
            processors: section.processors,
            catch_up: section.catch_up,
            name,
        });
    }
    Ok(schedules)
}

/// The first field of a cron expression holding a number out of its
/// range, named with the number and the range: what the parser's "Number
/// out of bounds" leaves unsaid.
fn out_of_range_field(cron: &str) -> Option<String> {
    const FIVE: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of month", 1, 31),
        ("month", 1, 12),
        ("day of week", 0, 7),
    ];
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let names: Vec<(&str, u32, u32)> = match fields.len() {
        5 => FIVE.to_vec(),
        6 => std::iter::once(("second", 0, 59)).chain(FIVE).collect(),
        _ => return None,
    };
    fields
        .iter()
        .zip(names)
        .find_map(|(field, (name, low, high))| {
            // The numbers of `1,5-10/2`: a step is a count, not a value.
            let values = field
                .split(',')
                .flat_map(|part| part.split('/').next().unwrap_or_default().split('-'));
            values
                .filter_map(|value| value.parse::<u32>().ok())
                .find(|value| !(low..=high).contains(value))
                .map(|value| format!("the {name} field holds {value}, not from {low} to {high}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn nightly(catch_up: bool) -> Schedule {
        let text = format!(
            "[[schedule]]\nname = \"nightly\"\ncron = \"0 6 * * *\"\n\
             timezone = \"America/New_York\"\ncatch_up = {catch_up}\n"
        );
        parse(&text).unwrap().remove(0)
    }

    #[test]
    fn a_ticks_time_is_given_on_the_schedules_clock() {
        let tick = nightly(false)
            .next_after(at("2026-12-01T00:00:00Z"))
            .unwrap();
        assert_eq!(tick, at("2026-12-01T11:00:00Z"));
        assert_eq!(
            nightly(false).local(tick).to_string(),
            "2026-12-01 06:00:00 EST"
        );
    }

    #[test]
    fn in_the_hour_repeated_when_clocks_go_back_a_time_fires_once_and_never_in_the_past() {
        let daily = |cron: &str| {
            let text = format!(
                "[[schedule]]\nname = \"fall\"\ncron = \"{cron}\"\n\
                 timezone = \"America/New_York\"\n"
            );
            parse(&text).unwrap().remove(0)
        };
        // 2026-11-01: 01:00-02:00 EDT (05:00Z-06:00Z), then 01:00-02:00 EST
        // (06:00Z-07:00Z). 01:30 fired at 05:30Z; from 06:00Z the next is
        // the next day's. Before, it was 05:30Z, in the past.
        let half_past_one = daily("30 1 * * *");
        assert_eq!(
            half_past_one.next_after(at("2026-11-01T05:00:00Z")),
            Some(at("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            half_past_one.next_after(at("2026-11-01T06:00:00Z")),
            Some(at("2026-11-02T06:30:00Z"))
        );
        let quarterly = daily("*/15 * * * *");
        assert_eq!(
            quarterly.next_after(at("2026-11-01T06:10:00Z")),
            Some(at("2026-11-01T07:00:00Z"))
        );
        // A server started in the second pass fires no tick from before it.
        let started = at("2026-11-01T06:10:00Z");
        assert_eq!(
            due_ticks(&half_past_one, None, started, at("2026-11-01T06:20:00Z")).ticks,
            []
        );
    }

    #[test]
    fn ticks_missed_before_a_start_are_named_first_and_last_unless_the_schedule_catches_up() {
        // Nightly at 06:00 New York (11:00Z), last fired on the 5th; the
        // server was down until the 8th at noon: the 6th, 7th and 8th
        // were missed, processing the days before each.
        let last = at("2026-01-05T11:00:00Z");
        let started = at("2026-01-08T12:00:00Z");
        assert_eq!(
            missed_before_start(&nightly(false), Some(last), started),
            Some([
                (at("2026-01-06T11:00:00Z"), "2026-01-05".parse().unwrap()),
                (at("2026-01-08T11:00:00Z"), "2026-01-07".parse().unwrap()),
            ])
        );
        // Restarted before the next tick: nothing missed.
        let early = at("2026-01-06T10:59:59Z");
        assert_eq!(
            missed_before_start(&nightly(false), Some(last), early),
            None
        );
        // A tick due the very instant the server started is missed.
        let on_time = at("2026-01-06T11:00:00Z");
        assert_eq!(
            missed_before_start(&nightly(false), Some(last), on_time).map(|[first, _]| first.0),
            Some(on_time)
        );
        // A schedule that catches up fires them; one never fired missed none.
        assert_eq!(
            missed_before_start(&nightly(true), Some(last), started),
            None
        );
        assert_eq!(missed_before_start(&nightly(false), None, started), None);
        // Every second, down a day: the last is found without stepping
        // through the 86,400 ticks before it.
        let text = "[[schedule]]\nname = \"s\"\ncron = \"* * * * * *\"\n";
        let every_second = parse(text).unwrap().remove(0);
        let [first, last] = missed_before_start(
            &every_second,
            Some(at("2026-01-05T00:00:00Z")),
            at("2026-01-06T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            (first.0, last.0),
            (at("2026-01-05T00:00:01Z"), at("2026-01-06T00:00:00Z"))
        );
    }

    /// A name or value holding a control character is quoted escaped: the
    /// error stays one line, and an escape sequence does not reach the
    /// terminal (it recoloured it).
    #[test]
    fn a_control_character_in_a_schedule_is_quoted_escaped() {
        let said = |text: &str| parse(text).map(|_| ()).unwrap_err().to_string();
        let name = said("[[schedule]]\nname = \"night\\u001b[31mly\"\ncron = \"0 6 * * *\"\n");
        assert_eq!(
            name,
            "[[schedule]] `night\\u{1b}[31mly` name: the name holds a control character"
        );
        let zone = said(
            "[[schedule]]\nname = \"s\"\ncron = \"0 6 * * *\"\ntimezone = \"Europe/\\nParis\"\n",
        );
        assert_eq!(
            zone,
            "[[schedule]] `s` timezone: `Europe/\\nParis` is not an IANA time zone"
        );
    }

    #[test]
    fn a_tick_fires_at_local_time_and_processes_the_local_day_before() {
        let schedule = nightly(false);
        // 06:00 in New York in January is 11:00 UTC.
        let tick = schedule.next_after(at("2026-01-07T00:00:00Z")).unwrap();
        assert_eq!(tick, at("2026-01-07T11:00:00Z"));
        assert_eq!(
            date_for(&schedule, tick),
            NaiveDate::from_ymd_opt(2026, 1, 6).unwrap()
        );
        // And 10:00 UTC in July, daylight saving time.
        let summer = schedule.next_after(at("2026-07-07T00:00:00Z")).unwrap();
        assert_eq!(summer, at("2026-07-07T10:00:00Z"));
    }

    #[test]
    fn ticks_missed_while_down_fire_only_with_catch_up() {
        let last = Some(at("2026-01-03T11:00:00Z"));
        let started = at("2026-01-06T12:00:00Z");
        let now = at("2026-01-07T11:00:30Z");
        let skipped: Vec<_> = due_ticks(&nightly(false), last, started, now)
            .firing()
            .collect();
        assert_eq!(
            skipped,
            [at("2026-01-07T11:00:00Z")],
            "only after the start"
        );
        let caught_up: Vec<_> = due_ticks(&nightly(true), last, started, now)
            .firing()
            .collect();
        assert_eq!(
            caught_up,
            [
                at("2026-01-04T11:00:00Z"),
                at("2026-01-05T11:00:00Z"),
                at("2026-01-06T11:00:00Z"),
                at("2026-01-07T11:00:00Z"),
            ]
        );
        assert!(
            due_ticks(
                &nightly(true),
                Some(at("2026-01-07T11:00:00Z")),
                started,
                now
            )
            .ticks
            .is_empty()
        );
    }

    #[test]
    fn ticks_of_one_date_fire_once_the_latest() {
        let hourly_today = parse(
            "[[schedule]]\nname = \"h\"\ncron = \"0 * * * *\"\ndate = \"today\"\n\
             catch_up = true\n",
        )
        .unwrap()
        .remove(0);
        // Down from 10:00 to 15:30: five missed ticks, all of the 8th.
        let last = Some(at("2026-01-08T10:00:00Z"));
        let now = at("2026-01-08T15:30:00Z");
        let due = due_ticks(&hourly_today, last, now, now);
        assert_eq!(due.ticks.len(), 5);
        assert!(
            due.ticks[..4]
                .iter()
                .all(|t| t.superseded_by == Some(at("2026-01-08T15:00:00Z")))
        );
        assert_eq!(
            due.firing().collect::<Vec<_>>(),
            [at("2026-01-08T15:00:00Z")]
        );
        assert_eq!(due.dropped, None);
        // Across midnight: the 8th's last tick, then the 9th's.
        let now = at("2026-01-09T01:30:00Z");
        let due = due_ticks(&hourly_today, last, now, now);
        assert_eq!(
            due.firing().collect::<Vec<_>>(),
            [at("2026-01-08T23:00:00Z"), at("2026-01-09T01:00:00Z")]
        );
        assert_eq!(due.ticks.len(), 15);
    }

    #[test]
    fn a_catch_up_fires_the_latest_ticks_and_names_the_dates_it_leaves_out() {
        let daily = parse("[[schedule]]\nname = \"d\"\ncron = \"0 6 * * *\"\ncatch_up = true\n")
            .unwrap()
            .remove(0);
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        // Last fired on 22 October; back on 15 March: 144 missed days.
        let last = Some(at("2025-10-22T06:00:00Z"));
        let now = at("2026-03-15T12:00:00Z");
        let due = due_ticks(&daily, last, now, now);
        let firing: Vec<_> = due.firing().collect();
        assert_eq!(firing.len(), MAX_CATCH_UP);
        assert_eq!(firing.first(), Some(&at("2025-12-06T06:00:00Z")));
        assert_eq!(firing.last(), Some(&at("2026-03-15T06:00:00Z")));
        assert_eq!(
            due.dropped,
            Some((day("2025-10-22"), day("2025-12-04"), 44)),
            "the dates (yesterday's of each tick) left out"
        );

        // Hourly ticks of yesterday: the dropped ticks of the date the last
        // fired tick processed are no date left out.
        let hourly = parse("[[schedule]]\nname = \"h\"\ncron = \"0 * * * *\"\ncatch_up = true\n")
            .unwrap()
            .remove(0);
        let now = at("2026-01-06T05:30:00Z");
        let due = due_ticks(&hourly, Some(at("2026-01-01T01:00:00Z")), now, now);
        assert_eq!(due.ticks.len(), MAX_CATCH_UP);
        assert_eq!(
            due.dropped, None,
            "2025-12-31 ran at the last tick fired, and the 1st's latest ticks are kept"
        );

        // A seconds schedule of today behind by more: the ticks left out
        // process the date a kept tick fires, so no date is left out.
        let every_second =
            parse("[[schedule]]\nname = \"s\"\ncron = \"* * * * * *\"\ndate = \"today\"\ncatch_up = true\n")
                .unwrap()
                .remove(0);
        let now = at("2026-01-07T12:00:00Z");
        let due = due_ticks(&every_second, Some(at("2026-01-07T11:00:00Z")), now, now);
        assert_eq!(due.ticks.len(), MAX_CATCH_UP);
        assert_eq!(due.firing().collect::<Vec<_>>(), [now]);
        assert_eq!(due.dropped, None);
    }

    #[test]
    fn a_bad_schedule_is_an_error_naming_it_and_the_key() {
        let cases = [
            (
                "cron = \"61 * * * *\"",
                "`s` cron: `61 * * * *`: Component error: Number out of bounds. (the minute \
                 field holds 61, not from 0 to 59)",
            ),
            (
                "cron = \"0 0 6 * 1-13 *\"",
                "(the month field holds 13, not from 1 to 12)",
            ),
            (
                "cron = \"0 6 * * *\"\ntimezone = \"Mars/Olympus\"",
                "`Mars/Olympus` is not an IANA time zone",
            ),
            (
                "cron = \"0 6 * * *\"\ndate = \"tomorrow\"",
                "`tomorrow` is not today, yesterday, or -N",
            ),
            ("cron = \"0 6 * * *\"\nevery = 1", "unknown field `every`"),
            // Accepted before, and never fired.
            (
                "cron = \"0 6 30 2 *\"",
                "`s` cron: `0 6 30 2 *` never fires: no date matches it",
            ),
            // Processed today before: the offset fell back to the tick's day.
            (
                "cron = \"0 6 * * *\"\ndate = \"-4000000000\"",
                "-4000000000 is more than 3653 days (ten years) before the tick",
            ),
        ];
        for (body, expected) in cases {
            let error = parse(&format!("[[schedule]]\nname = \"s\"\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
        for (name, expected) in [
            ("", "[[schedule]] `` name: the name is empty"),
            (" nightly", "name: the name begins or ends with white space"),
        ] {
            let text = format!("[[schedule]]\nname = \"{name}\"\ncron = \"0 6 * * *\"\n");
            let error = parse(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
        assert_eq!(
            "-3".parse::<DateOffset>(),
            Ok(DateOffset { days_before: 3 })
        );
    }
}
