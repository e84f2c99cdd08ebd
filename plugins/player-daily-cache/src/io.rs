//! How PlayerDailyCacheProcessor's rows come in and go out: the columns it
//! reads, as [`PastGame`]s and [`ScheduledGame`]s, and its output row.
//!
//! Kept apart from `lib.rs` so that a changed version of the processor (the
//! shadow-deploy fixture `tests/components/player-daily-cache-v2`) reuses
//! it as it is.

use crate::cache::{CacheRow, PastGame, ScheduledGame};
use slate_sdk::{Date, Value, date_from_days};

/// One output row, in `schema.json` order.
pub fn output_row(row: CacheRow, analysis_date: Date) -> Vec<Value> {
    vec![
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
    ]
}

/// The player game summaries' player column, read coded.
pub const PLAYER_CODED: &str = "player_lookup";

slate_sdk::batch_reader! {
    /// The columns of the player game summaries the cache uses besides the
    /// player, who is read coded: 5 of 31 in all.
    pub const GAME_COLUMNS;
    /// The past games in `games`, borrowing their text from it.
    pub fn read_games(batch in games) -> PastGame<'_> {
        game_day: day = "game_date",
        team_abbr: string,
        points: int64,
        minutes: float64,
        ..
        player_lookup: games.coded(PLAYER_CODED)? => string,
        player_code: games.coded(PLAYER_CODED)? => code,
    }
}

slate_sdk::batch_reader! {
    /// The columns of the schedule the cache uses.
    pub const SCHEDULE_COLUMNS;
    /// The day's scheduled games in `batch`, borrowing their text from it.
    pub fn read_schedule(batch) -> ScheduledGame<'_> {
        home_team: string,
        away_team: string,
    }
}
