//! `TeamDefenseGameSummaryProcessor` (phase 3): one row per team per game,
//! from the raw box scores of the analysis date: what the opponent scored,
//! where it shot from, and how many possessions it used.
//!
//! This file is the binding layer only: it declares the processor, reads the
//! input rows into [`team_game_totals::BoxScoreLine`]s and writes the
//! [`defense::DefenseSummary`]s back out. The logic lives in [`defense`].

pub mod defense;

use defense::DefenseSummary;
use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase, ProcessError,
    ProcessorInfo, RowSet, RowSetBuilder, UpstreamPolicy, Value, field, table,
};

pub use team_game_totals::{BOX_SCORES, SCHEDULE};
/// The table this processor writes.
pub const OUTPUT: &str = "nba_analytics.team_defense_game_summary";

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
    ("team_abbr", Text, Required, "The defending team."),
    (
        "opponent_abbr",
        Text,
        Required,
        "The team it defended against.",
    ),
    (
        "is_home",
        Bool,
        Required,
        "Whether the defending team was at home.",
    ),
    ("opp_points", Int64, Required, "Points the opponent scored."),
    (
        "opp_ra_fga",
        Int64,
        Required,
        "Opponent restricted area attempts.",
    ),
    (
        "opp_ra_fgm",
        Int64,
        Required,
        "Opponent restricted area makes.",
    ),
    (
        "opp_paint_fga",
        Int64,
        Required,
        "Opponent non-restricted paint attempts.",
    ),
    (
        "opp_paint_fgm",
        Int64,
        Required,
        "Opponent non-restricted paint makes.",
    ),
    (
        "opp_mid_fga",
        Int64,
        Required,
        "Opponent mid-range attempts.",
    ),
    ("opp_mid_fgm", Int64, Required, "Opponent mid-range makes."),
    (
        "opp_corner3_fga",
        Int64,
        Required,
        "Opponent corner three attempts.",
    ),
    (
        "opp_corner3_fgm",
        Int64,
        Required,
        "Opponent corner three makes.",
    ),
    (
        "opp_atb3_fga",
        Int64,
        Required,
        "Opponent above-the-break three attempts.",
    ),
    (
        "opp_atb3_fgm",
        Int64,
        Required,
        "Opponent above-the-break three makes.",
    ),
    (
        "opp_fga",
        Int64,
        Required,
        "Opponent field goals attempted.",
    ),
    ("opp_fgm", Int64, Required, "Opponent field goals made."),
    (
        "opp_fta",
        Int64,
        Required,
        "Opponent free throws attempted.",
    ),
    ("opp_turnovers", Int64, Required, "Opponent turnovers."),
    (
        "possessions",
        Float64,
        Required,
        "Opponent possessions: fga + 0.44 * fta + turnovers.",
    ),
    (
        "pace",
        Float64,
        Nullable,
        "Opponent possessions per 48 minutes (game minutes = team minutes / 5); null without minutes.",
    ),
    (
        "defensive_rating",
        Float64,
        Nullable,
        "Opponent points per 100 possessions; null without possessions.",
    ),
];

/// The processor, exported as the component.
pub struct TeamDefenseGameSummaryProcessor;

impl Guest for TeamDefenseGameSummaryProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "TeamDefenseGameSummaryProcessor".into(),
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
        let summaries = defense::summarize(&lines).map_err(ProcessError::InvalidInput)?;
        let columns: Vec<&str> = SCHEMA.iter().map(|(name, ..)| *name).collect();
        let mut output = RowSetBuilder::new(&columns);
        for summary in &summaries {
            output.push(output_row(summary, analysis_date));
        }
        Ok(output.finish())
    }
}

/// One output row, in [`SCHEMA`] order.
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

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(TeamDefenseGameSummaryProcessor);

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
        slate_sdk::check_row(
            &TeamDefenseGameSummaryProcessor::info().schema,
            &output_row(&summary, date),
        )
        .unwrap();
        let info = TeamDefenseGameSummaryProcessor::info();
        assert!(SCHEMA.iter().any(|(n, ..)| *n == info.partition_column));
        for key in &info.key_columns {
            assert!(SCHEMA.iter().any(|(n, ..)| n == key), "{key}");
        }
    }
}
