//! `PlayerDailyCacheProcessor` (phase 4): one row per active player per
//! analysis date, with rolling form as of that date.
//!
//! This file is the binding layer only; the logic lives in [`cache`].

pub mod cache;

use basketball::season_start;
use cache::{PastGame, ScheduledGame};
use slate_sdk::{
    BadRowPolicy, ColumnBatch, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase,
    ProcessError, ProcessorInfo, RowSet, RowSetBuilder, UpstreamPolicy, Value, date_from_days,
    days_from_date, field, table,
};

/// The per-game summaries this processor aggregates.
pub const GAME_SUMMARIES: &str = "nba_analytics.player_game_summary";
/// The schedule, to find who plays on the analysis date.
pub const SCHEDULE: &str = "nba_raw.schedule";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_precompute.player_daily_cache";

use FieldMode::{Repeated, Required};
use FieldType::{Bool, Date as DateType, Float64, Int64, String as Text};

/// The output schema, in column order: (name, type, mode, description).
const SCHEMA: &[(&str, FieldType, FieldMode, &str)] = &[
    ("player_lookup", Text, Required, "The player's lookup key."),
    (
        "cache_date",
        DateType,
        Required,
        "The analysis date; the partition column.",
    ),
    (
        "team_abbr",
        Text,
        Required,
        "The player's team, from their latest game.",
    ),
    (
        "opponent_abbr",
        Text,
        Required,
        "The team they face on the cache date.",
    ),
    (
        "is_home",
        Bool,
        Required,
        "Whether they play at home on the cache date.",
    ),
    (
        "games_played",
        Int64,
        Required,
        "Games played this season before the cache date.",
    ),
    (
        "points_avg_last_5",
        Float64,
        Required,
        "Mean points over the last 5 games.",
    ),
    (
        "points_avg_last_10",
        Float64,
        Required,
        "Mean points over the last 10 games.",
    ),
    (
        "minutes_avg_last_5",
        Float64,
        Required,
        "Mean minutes over the last 5 games.",
    ),
    (
        "minutes_avg_last_10",
        Float64,
        Required,
        "Mean minutes over the last 10 games.",
    ),
    (
        "points_avg_season",
        Float64,
        Required,
        "Mean points this season.",
    ),
    (
        "minutes_avg_season",
        Float64,
        Required,
        "Mean minutes this season.",
    ),
    (
        "games_in_last_7_days",
        Int64,
        Required,
        "Games in the 7 days before the cache date.",
    ),
    (
        "days_rest",
        Int64,
        Required,
        "Full days off since the latest game.",
    ),
    (
        "back_to_back",
        Bool,
        Required,
        "Whether the latest game was the day before.",
    ),
    (
        "last_game_date",
        DateType,
        Required,
        "The date of the latest game.",
    ),
    (
        "data_quality_issues",
        Text,
        Repeated,
        "Why this row is less trustworthy; may be empty.",
    ),
];

/// The processor, exported as the component.
pub struct PlayerDailyCacheProcessor;

impl Guest for PlayerDailyCacheProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "PlayerDailyCacheProcessor".into(),
            phase: Phase::Precompute,
            version: env!("CARGO_PKG_VERSION").into(),
            output_table: table(OUTPUT),
            schema: SCHEMA
                .iter()
                .map(|(n, t, m, d)| field(n, *t, *m, d))
                .collect(),
            partition_column: "cache_date".into(),
            key_columns: vec!["player_lookup".into(), "cache_date".into()],
            inputs: vec![table(GAME_SUMMARIES), table(SCHEDULE)],
            upstream: vec!["PlayerGameSummaryProcessor".into()],
            lookback: Lookback::Games(10),
            upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
            gap_policy: GapPolicy::Flag,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let day = days_from_date(analysis_date);
        let summaries = slate_sdk::read_column_batch(
            &table(GAME_SUMMARIES),
            season_start(analysis_date),
            analysis_date.add_days(-1),
            &GAME_COLUMNS,
        )?;
        let schedule = slate_sdk::read_column_batch(
            &table(SCHEDULE),
            analysis_date,
            analysis_date,
            &SCHEDULE_COLUMNS,
        )?;
        let rows = cache::build_cache(day, &read_games(&summaries)?, &read_schedule(&schedule)?);

        let columns: Vec<&str> = SCHEMA.iter().map(|(name, ..)| *name).collect();
        let mut output = RowSetBuilder::new(&columns);
        for row in rows {
            output.push(vec![
                Value::string(row.player_lookup),
                Value::date(analysis_date),
                Value::string(row.team_abbr),
                Value::string(row.opponent_abbr),
                Value::boolean(row.is_home),
                Value::int64(row.games_played),
                Value::float64(row.points_avg_last_5),
                Value::float64(row.points_avg_last_10),
                Value::float64(row.minutes_avg_last_5),
                Value::float64(row.minutes_avg_last_10),
                Value::float64(row.points_avg_season),
                Value::float64(row.minutes_avg_season),
                Value::int64(row.games_in_last_7_days),
                Value::int64(row.days_rest),
                Value::boolean(row.back_to_back),
                Value::date(date_from_days(row.last_game_day)),
                Value::strings(row.data_quality_issues),
            ]);
        }
        Ok(output.finish())
    }
}

/// The columns of the player game summaries the cache uses: 5 of 31.
const GAME_COLUMNS: [&str; 5] = [
    "player_lookup",
    "game_date",
    "team_abbr",
    "points",
    "minutes",
];

/// The columns of the schedule the cache uses.
const SCHEDULE_COLUMNS: [&str; 2] = ["home_team", "away_team"];

/// The past games in `batch`, borrowing their text from it.
fn read_games(batch: &ColumnBatch) -> Result<Vec<PastGame<'_>>, ProcessError> {
    let [player, date, team, points, minutes] = batch.columns(GAME_COLUMNS)?;
    batch.map_rows(|row| {
        Ok(PastGame {
            player_lookup: player.string(row)?,
            game_day: date.day(row)?,
            team_abbr: team.string(row)?,
            points: points.int64(row)?,
            minutes: minutes.float64(row)?,
        })
    })
}

/// The day's scheduled games in `batch`, borrowing their text from it.
fn read_schedule(batch: &ColumnBatch) -> Result<Vec<ScheduledGame<'_>>, ProcessError> {
    let [home, away] = batch.columns(SCHEDULE_COLUMNS)?;
    batch.map_rows(|row| {
        Ok(ScheduledGame {
            home_team: home.string(row)?,
            away_team: away.string(row)?,
        })
    })
}

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(PlayerDailyCacheProcessor);
