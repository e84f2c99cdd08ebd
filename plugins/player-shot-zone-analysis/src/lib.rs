//! `PlayerShotZoneAnalysisProcessor` (phase 4): one row per player per
//! analysis date, with their shot mix and accuracy by court zone over their
//! last 10 games of the season.
//!
//! This file is the binding layer only; the logic lives in [`analysis`].

pub mod analysis;

use analysis::{PastGame, PlayerZoneRow};
use basketball::{ZoneShotColumns, read_season_so_far_coded, with_zone_shot_columns};
use slate_sdk::{Date, Declaration, Phase, ProcessError, RowSet, Value, days_from_date};

/// The per-game player summaries this processor aggregates.
pub const GAME_SUMMARIES: &str = "nba_analytics.player_game_summary";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_precompute.player_shot_zone_analysis";

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = Declaration {
    output_table: OUTPUT,
    schema: include_str!("../schema.json"),
    partition_column: "analysis_date",
    key_columns: &["player_lookup", "analysis_date"],
    inputs: &[GAME_SUMMARIES],
    upstream: &["PlayerGameSummaryProcessor"],
    season: basketball::over_the_season(&["PlayerGameSummaryProcessor"]),
    ..Declaration::derived(
        "PlayerShotZoneAnalysisProcessor",
        Phase::Precompute,
        env!("CARGO_PKG_VERSION"),
    )
};

slate_sdk::processor! {
    /// The processor, exported as the component.
    pub struct PlayerShotZoneAnalysisProcessor(DECLARATION, process);
}

/// The zone shot mix and accuracy of every player as of `analysis_date`.
fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let columns = with_zone_shot_columns(GAME_COLUMNS, "");
    let games = read_season_so_far_coded(GAME_SUMMARIES, analysis_date, &columns, &[PLAYER_CODED])?;
    let rows = analysis::analyze(days_from_date(analysis_date), &read_games(&games)?);
    Ok(DECLARATION.rows(rows.iter().map(|row| output_row(row, analysis_date))))
}

/// One output row, in `schema.json` order.
fn output_row(row: &PlayerZoneRow, analysis_date: Date) -> Vec<Value> {
    let mut values = vec![
        Value::date(analysis_date),
        Value::string(&row.player_lookup),
        Value::string(&row.team_abbr),
        Value::int64(row.games_in_window),
        Value::float64(row.fga_per_game),
    ];
    for zone in &row.zones {
        values.extend([
            Value::float64_or_null(zone.attempt_share),
            Value::float64_or_null(zone.fg_pct),
        ]);
    }
    // The host appends lookback gaps here; the processor has none of its own.
    values.push(Value::strings(Vec::<String>::new()));
    values
}

/// The player game summaries' player column, read coded.
const PLAYER_CODED: &str = "player_lookup";

slate_sdk::batch_reader! {
    /// The columns of the player game summaries the analysis uses besides
    /// the player, who is read coded, and each zone's attempts and makes:
    /// 14 of 31 in all.
    const GAME_COLUMNS;
    /// The past games in `games`, borrowing their text from it.
    fn read_games(batch in games) -> PastGame<'_> {
        team_abbr: string,
        game_id: string,
        game_day: day = "game_date",
        ..
        zones: ZoneShotColumns::of(batch, "")? => read,
        player_lookup: games.coded(PLAYER_CODED)? => string,
        player_code: games.coded(PLAYER_CODED)? => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let row = PlayerZoneRow {
            player_lookup: "a".into(),
            team_abbr: "BOS".into(),
            games_in_window: 3,
            fga_per_game: 12.5,
            zones: [analysis::PlayerZone {
                attempt_share: Some(0.2),
                fg_pct: None,
            }; 5],
        };
        DECLARATION
            .check_output(&output_row(&row, Date::new(2026, 1, 11)))
            .unwrap();
    }
}
