//! Test fixture: version 2 of `PlayerDailyCacheProcessor`, the change a
//! shadow deploy is for: `points_avg_last_5` is rounded to one decimal (a
//! changed formula) and a new NULLABLE column, `points_trend`, is the last
//! 5 games' points per game less the last 10's. Everything else is the
//! bundled processor's own logic and row I/O, compiled in from its
//! `cache.rs` and `io.rs`; see the README's Expectations.

#[path = "../../../../plugins/player-daily-cache/src/cache.rs"]
mod cache;
#[path = "../../../../plugins/player-daily-cache/src/io.rs"]
mod io;

use basketball::read_season_so_far_coded;
use cache::CacheRow;
use io::{GAME_COLUMNS, PLAYER_CODED, SCHEDULE_COLUMNS, read_games, read_schedule};
use slate_sdk::{Date, Declaration, Phase, ProcessError, RowSet, Value, days_from_date};

/// Where v1's row has `points_avg_last_5`.
const POINTS_AVG_LAST_5: usize = 6;

/// As the bundled processor's, with v2's schema and version.
const DECLARATION: Declaration = Declaration {
    output_table: "nba_precompute.player_daily_cache",
    schema: include_str!("../schema.json"),
    partition_column: "cache_date",
    key_columns: &["player_lookup", "cache_date"],
    inputs: &["nba_analytics.player_game_summary", "nba_raw.schedule"],
    upstream: &["PlayerGameSummaryProcessor"],
    season: basketball::over_the_season(&["PlayerGameSummaryProcessor"]),
    ..Declaration::derived("PlayerDailyCacheProcessor", Phase::Precompute, "2.0.0")
};

slate_sdk::processor! {
    /// Version 2, exported as the component.
    pub struct PlayerDailyCacheProcessorV2(DECLARATION, process);
}

fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let summaries = read_season_so_far_coded(
        "nba_analytics.player_game_summary",
        analysis_date,
        GAME_COLUMNS,
        &[PLAYER_CODED],
    )?;
    let schedule = slate_sdk::read_day("nba_raw.schedule", analysis_date, SCHEDULE_COLUMNS)?;
    let rows = cache::build_cache(
        days_from_date(analysis_date),
        &read_games(&summaries)?,
        &read_schedule(&schedule)?,
    );
    Ok(DECLARATION.rows(rows.into_iter().map(|row| output_row(row, analysis_date))))
}

/// v1's row with the changed formula and the new column at the end.
fn output_row(row: CacheRow, analysis_date: Date) -> Vec<Value> {
    let (last_5, last_10) = (row.points_avg_last_5, row.points_avg_last_10);
    let mut values = io::output_row(row, analysis_date);
    values[POINTS_AVG_LAST_5] = Value::float64((last_5 * 10.0).round() / 10.0);
    values.push(Value::float64(last_5 - last_10));
    values
}
