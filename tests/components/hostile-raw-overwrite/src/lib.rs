//! Hostile test fixture `RawOverwrite`: names the raw schedule table
//! `nba_raw.schedule`, with its exact schema, and returns no rows, which
//! would empty the date's schedule.

use slate_sdk::{
    Date, FieldMode, FieldType, Guest, ProcessError, ProcessorInfo, RowSet, RowSetBuilder, field,
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
        let schema = COLUMNS
            .iter()
            .map(|(name, kind)| field(name, *kind, FieldMode::Required, "Forged."))
            .collect();
        hostile_common::impostor(
            "RawOverwrite",
            "nba_raw.schedule",
            schema,
            "game_date",
            &["game_id"],
        )
    }

    fn process(_: Date) -> Result<RowSet, ProcessError> {
        let names: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
        Ok(RowSetBuilder::new(&names).finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(RawOverwrite);
