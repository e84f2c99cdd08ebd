//! `TeamDefenseZoneAnalysisProcessor` (phase 4): one row per team per
//! analysis date, with the shots it allowed by court zone over its last 15
//! games, against the league over the same windows.
//!
//! This file is the binding layer only; the logic lives in [`analysis`].

pub mod analysis;

use analysis::{DefenseGame, TeamZoneRow};
use basketball::{ZoneShotColumns, read_season_so_far, with_zone_shot_columns};
use slate_sdk::{Date, Declaration, Phase, ProcessError, RowSet, Value, days_from_date};

/// The per-game team defence summaries this processor aggregates.
pub const DEFENSE_SUMMARIES: &str = "nba_analytics.team_defense_game_summary";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_precompute.team_defense_zone_analysis";

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = Declaration {
    output_table: OUTPUT,
    schema: include_str!("../schema.json"),
    partition_column: "analysis_date",
    key_columns: &["team_abbr", "analysis_date"],
    inputs: &[DEFENSE_SUMMARIES],
    upstream: &["TeamDefenseGameSummaryProcessor"],
    season: basketball::over_the_season(&["TeamDefenseGameSummaryProcessor"]),
    ..Declaration::derived(
        "TeamDefenseZoneAnalysisProcessor",
        Phase::Precompute,
        env!("CARGO_PKG_VERSION"),
    )
};

slate_sdk::processor! {
    /// The processor, exported as the component.
    pub struct TeamDefenseZoneAnalysisProcessor(DECLARATION, process);
}

/// The zone defence of every team as of `analysis_date`.
fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let columns = with_zone_shot_columns(GAME_COLUMNS, "opp_");
    let batch = read_season_so_far(DEFENSE_SUMMARIES, analysis_date, &columns)?;
    let rows = analysis::analyze(days_from_date(analysis_date), &read_games(&batch)?);
    Ok(DECLARATION.rows(rows.iter().map(|row| output_row(row, analysis_date))))
}

/// One output row, in `schema.json` order.
fn output_row(row: &TeamZoneRow, analysis_date: Date) -> Vec<Value> {
    let mut values = vec![
        Value::date(analysis_date),
        Value::string(&row.team_abbr),
        Value::int64(row.games_in_window),
    ];
    for zone in &row.zones {
        values.extend([
            Value::float64_or_null(zone.opp_fg_pct),
            Value::float64_or_null(zone.opp_attempt_share),
            Value::float64_or_null(zone.league_fg_pct),
            Value::float64_or_null(zone.fg_pct_vs_league),
        ]);
    }
    // The host appends lookback gaps here; the processor has none of its own.
    values.push(Value::strings(Vec::<String>::new()));
    values
}

slate_sdk::batch_reader! {
    /// The columns of the team defence summaries a game is read from, before
    /// the opponents' zone shots.
    const GAME_COLUMNS;
    /// The past games in `batch`, borrowing their text from it.
    fn read_games(batch) -> DefenseGame<'_> {
        team_abbr: string,
        game_id: string,
        game_day: day = "game_date",
        ..
        opponent_zones: ZoneShotColumns::of(batch, "opp_")? => read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let row = TeamZoneRow {
            team_abbr: "BOS".into(),
            games_in_window: 3,
            zones: [analysis::ZoneDefense {
                opp_fg_pct: Some(0.5),
                ..Default::default()
            }; 5],
        };
        DECLARATION
            .check_output(&output_row(&row, Date::new(2026, 1, 11)))
            .unwrap();
    }
}
