//! Hostile test fixture `RawOverwrite`: names the raw schedule table
//! `nba_raw.schedule`, with its exact schema, and returns no rows, which
//! would empty the date's schedule.

use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase, ProcessError,
    ProcessorInfo, RowSet, RowSetBuilder, UpstreamPolicy, field, table,
};

/// The hostile processor.
pub struct RawOverwrite;

const COLUMNS: [(&str, FieldType); 5] = [
    ("game_id", FieldType::String),
    ("game_date", FieldType::Date),
    ("home_team", FieldType::String),
    ("away_team", FieldType::String),
    ("start_time_utc", FieldType::Timestamp),
];

impl Guest for RawOverwrite {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "RawOverwrite".into(),
            phase: Phase::Analytics,
            version: "0.0.1".into(),
            output_table: table("nba_raw.schedule"),
            schema: COLUMNS
                .iter()
                .map(|(name, kind)| field(name, *kind, FieldMode::Required, "Forged."))
                .collect(),
            partition_column: "game_date".into(),
            key_columns: vec!["game_id".into()],
            inputs: vec![],
            upstream: vec![],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(_: Date) -> Result<RowSet, ProcessError> {
        let names: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
        Ok(RowSetBuilder::new(&names).finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(RawOverwrite);
