//! `TeamDefenseGameSummaryProcessor` (phase 3): one row per team per game,
//! from the raw box scores of the analysis date: what the opponent scored,
//! where it shot from, and how many possessions it used.
//!
//! This file is the binding layer only: it declares the processor, reads the
//! input rows into [`team_game_totals::BoxScoreLine`]s and writes the
//! [`defense::DefenseSummary`]s back out. The logic lives in [`defense`].

pub mod defense;

use defense::DefenseSummary;
use slate_sdk::{Date, Declaration, ProcessError, RowSet, Value};

pub use team_game_totals::{BOX_SCORES, SCHEDULE};
/// The table this processor writes.
pub const OUTPUT: &str = "nba_analytics.team_defense_game_summary";

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = team_game_totals::team_game_summary(
    "TeamDefenseGameSummaryProcessor",
    env!("CARGO_PKG_VERSION"),
    OUTPUT,
    include_str!("../schema.json"),
);

slate_sdk::processor! {
    /// The processor, exported as the component.
    pub struct TeamDefenseGameSummaryProcessor(DECLARATION, process);
}

/// The defense summary of every team in a game on `analysis_date`.
fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let summaries = team_game_totals::summarize_complete_day(analysis_date, defense::summarize)?;
    Ok(DECLARATION.rows(summaries.iter().map(|s| output_row(s, analysis_date))))
}

/// One output row, in `schema.json` order.
fn output_row(s: &DefenseSummary, analysis_date: Date) -> Vec<Value> {
    let mut row = vec![
        Value::string(&s.game_id),
        Value::date(analysis_date),
        Value::string(&s.team_abbr),
        Value::string(&s.opponent_abbr),
        Value::boolean(s.is_home),
        Value::int64(s.opponent.points),
    ];
    for zone in s.opponent.zones {
        row.push(Value::int64(zone.attempts));
        row.push(Value::int64(zone.makes));
    }
    row.extend([
        Value::int64(s.opponent.fga()),
        Value::int64(s.opponent.fgm()),
        Value::int64(s.opponent.fta),
        Value::int64(s.opponent.turnovers),
        Value::float64(s.possessions),
        Value::float64_or_null(s.pace),
        Value::float64_or_null(s.defensive_rating),
    ]);
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let date = Date::new(2026, 1, 11);
        let summary = DefenseSummary {
            game_id: "20260111_NYK_BOS".into(),
            team_abbr: "BOS".into(),
            opponent_abbr: "NYK".into(),
            is_home: true,
            opponent: defense::TeamGame::default(),
            possessions: 0.0,
            pace: None,
            defensive_rating: Some(110.0),
        };
        DECLARATION
            .check_output(&output_row(&summary, date))
            .unwrap();
    }
}
