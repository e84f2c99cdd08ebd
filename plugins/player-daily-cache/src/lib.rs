//! `PlayerDailyCacheProcessor` (phase 4): one row per active player per
//! analysis date, with rolling form as of that date.
//!
//! This file is the binding layer only: the declaration and `process`.
//! The logic lives in [`cache`]; the columns read and the row written, in
//! [`io`].

pub mod cache;
pub mod io;

use basketball::read_season_so_far_coded;
use io::{GAME_COLUMNS, PLAYER_CODED, SCHEDULE_COLUMNS, output_row, read_games, read_schedule};
use slate_sdk::{Date, Declaration, Phase, ProcessError, RowSet, days_from_date};

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
    season: basketball::over_the_season(&["PlayerGameSummaryProcessor"]),
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
    let summaries =
        read_season_so_far_coded(GAME_SUMMARIES, analysis_date, GAME_COLUMNS, &[PLAYER_CODED])?;
    let schedule = slate_sdk::read_day(SCHEDULE, analysis_date, SCHEDULE_COLUMNS)?;
    let rows = cache::build_cache(
        days_from_date(analysis_date),
        &read_games(&summaries)?,
        &read_schedule(&schedule)?,
    );
    Ok(DECLARATION.rows(rows.into_iter().map(|row| output_row(row, analysis_date))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cache::CacheRow;
    use slate_sdk::date_from_days;

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
