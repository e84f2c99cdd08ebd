//! `PlayerDailyCacheProcessor` (phase 4): one row per active player per
//! analysis date, with rolling form as of that date.
//!
//! This file is the binding layer only; the logic lives in [`cache`].

pub mod cache;

use basketball::read_season_so_far;
use cache::{CacheRow, PastGame, ScheduledGame};
use slate_sdk::{
    Date, Declaration, Lookback, Phase, ProcessError, RowSet, Value, date_from_days, days_from_date,
};

/// The per-game summaries this processor aggregates.
pub const GAME_SUMMARIES: &str = "nba_analytics.player_game_summary";
/// The schedule, to find who plays on the analysis date.
pub const SCHEDULE: &str = "nba_raw.schedule";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_precompute.player_daily_cache";

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = Declaration {
    output_table: OUTPUT,
    schema: include_str!("../schema.json"),
    partition_column: "cache_date",
    key_columns: &["player_lookup", "cache_date"],
    inputs: &[GAME_SUMMARIES, SCHEDULE],
    upstream: &["PlayerGameSummaryProcessor"],
    lookback: Lookback::Games(10),
    ..Declaration::derived(
        "PlayerDailyCacheProcessor",
        Phase::Precompute,
        env!("CARGO_PKG_VERSION"),
    )
};

slate_sdk::processor! {
    /// The processor, exported as the component.
    pub struct PlayerDailyCacheProcessor(DECLARATION, process);
}

/// The cache rows of the players who play on `analysis_date`.
fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let summaries = read_season_so_far(GAME_SUMMARIES, analysis_date, GAME_COLUMNS)?;
    let schedule = slate_sdk::read_day(SCHEDULE, analysis_date, SCHEDULE_COLUMNS)?;
    let rows = cache::build_cache(
        days_from_date(analysis_date),
        &read_games(&summaries)?,
        &read_schedule(&schedule)?,
    );
    Ok(DECLARATION.rows(rows.into_iter().map(|row| output_row(row, analysis_date))))
}

/// One output row, in `schema.json` order.
fn output_row(row: CacheRow, analysis_date: Date) -> Vec<Value> {
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

slate_sdk::batch_reader! {
    /// The columns of the player game summaries the cache uses: 5 of 31.
    const GAME_COLUMNS;
    /// The past games in `batch`, borrowing their text from it.
    fn read_games(batch) -> PastGame<'_> {
        player_lookup: string,
        game_day: day = "game_date",
        team_abbr: string,
        points: int64,
        minutes: float64,
    }
}

slate_sdk::batch_reader! {
    /// The columns of the schedule the cache uses.
    const SCHEDULE_COLUMNS;
    /// The day's scheduled games in `batch`, borrowing their text from it.
    fn read_schedule(batch) -> ScheduledGame<'_> {
        home_team: string,
        away_team: string,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let row = CacheRow {
            player_lookup: "a".into(),
            team_abbr: "BOS".into(),
            opponent_abbr: "NYK".into(),
            is_home: true,
            games_played: 3,
            points_avg_last_5: 20.0,
            points_avg_last_10: 20.0,
            minutes_avg_last_5: 30.0,
            minutes_avg_last_10: 30.0,
            points_avg_season: 20.0,
            minutes_avg_season: 30.0,
            games_in_last_7_days: 2,
            days_rest: 1,
            back_to_back: false,
            last_game_day: 20_460,
            data_quality_issues: vec!["lookback gap".into()],
        };
        let date = date_from_days(20_462);
        DECLARATION.check_output(&output_row(row, date)).unwrap();
    }
}
