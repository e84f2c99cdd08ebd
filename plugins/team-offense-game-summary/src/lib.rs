//! `TeamOffenseGameSummaryProcessor` (phase 3): one row per team per game,
//! from the raw box scores of the analysis date: points, shots, free throws,
//! turnovers, possessions, pace and offensive rating.
//!
//! This file is the binding layer only: it declares the processor, reads the
//! input rows into [`team_game_totals::BoxScoreLine`]s and writes the
//! [`offense::OffenseSummary`]s back out. The logic lives in [`offense`].

pub mod offense;

use offense::OffenseSummary;
use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase, ProcessError,
    ProcessorInfo, RowSet, RowSetBuilder, UpstreamPolicy, Value, field, table,
};

pub use team_game_totals::{BOX_SCORES, SCHEDULE};
/// The table this processor writes.
pub const OUTPUT: &str = "nba_analytics.team_offense_game_summary";

use FieldMode::{Nullable, Required};
use FieldType::{Bool, Date as DateType, Float64, Int64, String as Text};

/// The output schema, in column order: (name, type, mode, description).
const SCHEMA: &[(&str, FieldType, FieldMode, &str)] = &[
    ("game_id", Text, Required, "The game, as date_away_home."),
    (
        "game_date",
        DateType,
        Required,
        "The date the game was played; the partition column.",
    ),
    ("team_abbr", Text, Required, "The team."),
    ("opponent_abbr", Text, Required, "The opposing team."),
    ("is_home", Bool, Required, "Whether the team was at home."),
    ("points", Int64, Required, "Points scored."),
    ("fga", Int64, Required, "Field goals attempted."),
    ("fgm", Int64, Required, "Field goals made."),
    ("fta", Int64, Required, "Free throws attempted."),
    ("ftm", Int64, Required, "Free throws made."),
    ("turnovers", Int64, Required, "Turnovers."),
    (
        "possessions",
        Float64,
        Required,
        "Possessions used: fga + 0.44 * fta + turnovers.",
    ),
    (
        "pace",
        Float64,
        Nullable,
        "Possessions per 48 minutes (game minutes = team minutes / 5); null without minutes.",
    ),
    (
        "offensive_rating",
        Float64,
        Nullable,
        "Points per 100 possessions; null without possessions.",
    ),
];

/// The processor, exported as the component.
pub struct TeamOffenseGameSummaryProcessor;

impl Guest for TeamOffenseGameSummaryProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "TeamOffenseGameSummaryProcessor".into(),
            phase: Phase::Analytics,
            version: env!("CARGO_PKG_VERSION").into(),
            output_table: table(OUTPUT),
            schema: SCHEMA
                .iter()
                .map(|(n, t, m, d)| field(n, *t, *m, d))
                .collect(),
            partition_column: "game_date".into(),
            key_columns: vec!["team_abbr".into(), "game_id".into()],
            inputs: vec![table(BOX_SCORES), table(SCHEDULE)],
            upstream: vec![],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let lines = team_game_totals::read_complete_day(analysis_date)?;
        let summaries = offense::summarize(&lines).map_err(ProcessError::InvalidInput)?;
        let columns: Vec<&str> = SCHEMA.iter().map(|(name, ..)| *name).collect();
        let mut output = RowSetBuilder::new(&columns);
        for summary in &summaries {
            output.push(output_row(summary, analysis_date));
        }
        Ok(output.finish())
    }
}

/// One output row, in [`SCHEMA`] order.
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
        slate_sdk::check_row(
            &TeamOffenseGameSummaryProcessor::info().schema,
            &output_row(&summary, date),
        )
        .unwrap();
        let info = TeamOffenseGameSummaryProcessor::info();
        assert!(SCHEMA.iter().any(|(n, ..)| *n == info.partition_column));
        for key in &info.key_columns {
            assert!(SCHEMA.iter().any(|(n, ..)| n == key), "{key}");
        }
    }
}
