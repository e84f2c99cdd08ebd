//! Test fixture: version 2 of `PlayerDailyCacheProcessor`, the change a
//! shadow deploy is for: `points_avg_last_5` is rounded to one decimal (a
//! changed formula) and a new NULLABLE column, `points_trend`, is the last
//! 5 games' points per game less the last 10's. Everything else is the
//! bundled processor's own logic, compiled in from its `cache.rs`; see the
//! README's Expectations.

#[path = "../../../../plugins/player-daily-cache/src/cache.rs"]
mod cache;

use basketball::read_season_so_far;
use cache::{CacheRow, PastGame, ScheduledGame};
use slate_sdk::{
    Date, Declaration, Lookback, Phase, ProcessError, RowSet, Value, date_from_days, days_from_date,
};

/// As the bundled processor's, with v2's schema and version.
const DECLARATION: Declaration = Declaration {
    output_table: "nba_precompute.player_daily_cache",
    schema: include_str!("../schema.json"),
    partition_column: "cache_date",
    key_columns: &["player_lookup", "cache_date"],
    inputs: &["nba_analytics.player_game_summary", "nba_raw.schedule"],
    upstream: &["PlayerGameSummaryProcessor"],
    lookback: Lookback::Games(10),
    ..Declaration::derived("PlayerDailyCacheProcessor", Phase::Precompute, "2.0.0")
};

slate_sdk::processor! {
    /// Version 2, exported as the component.
    pub struct PlayerDailyCacheProcessorV2(DECLARATION, process);
}

fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let summaries = read_season_so_far(
        "nba_analytics.player_game_summary",
        analysis_date,
        GAME_COLUMNS,
    )?;
    let schedule = slate_sdk::read_day("nba_raw.schedule", analysis_date, SCHEDULE_COLUMNS)?;
    let rows = cache::build_cache(
        days_from_date(analysis_date),
        &read_games(&summaries)?,
        &read_schedule(&schedule)?,
    );
    Ok(DECLARATION.rows(rows.into_iter().map(|row| output_row(row, analysis_date))))
}

/// v2's row: the changed formula and the new column.
fn output_row(row: CacheRow, analysis_date: Date) -> Vec<Value> {
    let last_5 = (row.points_avg_last_5 * 10.0).round() / 10.0;
    let trend = row.points_avg_last_5 - row.points_avg_last_10;
    vec![
        Value::string(row.player_lookup),
        Value::date(analysis_date),
        Value::string(row.team_abbr),
        Value::string(row.opponent_abbr),
        Value::boolean(row.is_home),
        Value::int64(row.games_played),
        Value::float64(last_5),
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
        Value::float64(trend),
    ]
}

slate_sdk::batch_reader! {
    /// The columns of the player game summaries the cache uses.
    const GAME_COLUMNS;
    /// The past games in `batch`.
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
    /// The day's scheduled games in `batch`.
    fn read_schedule(batch) -> ScheduledGame<'_> {
        home_team: string,
        away_team: string,
    }
}
