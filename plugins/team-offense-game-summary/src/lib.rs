//! `TeamOffenseGameSummaryProcessor` (phase 3): one row per team per game,
//! from the raw box scores of the analysis date: points, shots, free throws,
//! turnovers, possessions, pace and offensive rating.
//!
//! This file is the binding layer only: it declares the processor, reads the
//! input rows into [`team_game_totals::BoxScoreLine`]s and writes the
//! [`offense::OffenseSummary`]s back out. The logic lives in [`offense`].

pub mod offense;

use offense::OffenseSummary;
use slate_sdk::{Date, Declaration, Guest, ProcessError, ProcessorInfo, RowSet, Value};

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

/// The processor, exported as the component.
pub struct TeamOffenseGameSummaryProcessor;

impl Guest for TeamOffenseGameSummaryProcessor {
    fn info() -> ProcessorInfo {
        DECLARATION.info()
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let summaries =
            team_game_totals::summarize_complete_day(analysis_date, offense::summarize)?;
        let mut output = DECLARATION.output();
        for summary in &summaries {
            output.push(output_row(summary, analysis_date));
        }
        Ok(output.finish())
    }
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

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(TeamOffenseGameSummaryProcessor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let date = Date {
            year: 2026,
            month: 1,
            day: 11,
        };
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
