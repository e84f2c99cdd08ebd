//! `TeamOffenseGameSummaryProcessor` (phase 3): one row per team per game,
//! from the raw box scores of the analysis date: points, shots, free throws,
//! turnovers, possessions, pace and offensive rating.
//!
//! This file is the binding layer only: it declares the processor, reads the
//! input rows into [`team_game_totals::BoxScoreLine`]s and writes the
//! [`offense::OffenseSummary`]s back out. The logic lives in [`offense`].

pub mod offense;

use offense::OffenseSummary;
use slate_sdk::{Date, Declaration, ProcessError, RowSet, Value};

pub use team_game_totals::{BOX_SCORES, SCHEDULE};
/// The table this processor writes.
pub const OUTPUT: &str = "nba_analytics.team_offense_game_summary";

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = team_game_totals::team_game_summary(
    "TeamOffenseGameSummaryProcessor",
    env!("CARGO_PKG_VERSION"),
    OUTPUT,
    include_str!("../schema.json"),
);

slate_sdk::processor! {
    /// The processor, exported as the component.
    pub struct TeamOffenseGameSummaryProcessor(DECLARATION, process);
}

/// The offense summary of every team in a game on `analysis_date`.
fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let summaries = team_game_totals::summarize_complete_day(analysis_date, offense::summarize)?;
    Ok(DECLARATION.rows(summaries.iter().map(|s| output_row(s, analysis_date))))
}

/// One output row, in `schema.json` order.
fn output_row(s: &OffenseSummary, analysis_date: Date) -> Vec<Value> {
    let t = &s.team;
    vec![
        Value::string(&t.game_id),
        Value::date(analysis_date),
        Value::string(&t.team_abbr),
        Value::string(&t.opponent_abbr),
        Value::boolean(t.is_home),
        Value::int64(t.points),
        Value::int64(t.fga()),
        Value::int64(t.fgm()),
        Value::int64(t.fta),
        Value::int64(t.ftm),
        Value::int64(t.turnovers),
        Value::float64(s.possessions),
        Value::float64_or_null(s.pace),
        Value::float64_or_null(s.offensive_rating),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let date = Date::new(2026, 1, 11);
        let summary = OffenseSummary {
            team: offense::TeamGame::default(),
            possessions: 0.0,
            pace: None,
            offensive_rating: Some(110.0),
        };
        DECLARATION
            .check_output(&output_row(&summary, date))
            .unwrap();
    }
}
