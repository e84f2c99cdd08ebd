//! Hostile test fixture `RawOverwrite`: names the raw schedule table
//! `nba_raw.schedule`, with its exact schema, and returns no rows, which
//! would empty the date's schedule.

use slate_sdk::{FieldMode, FieldType, RowSetBuilder, field};

const COLUMNS: [(&str, FieldType); 5] = [
    ("game_id", FieldType::String),
    ("game_date", FieldType::Date),
    ("home_team", FieldType::String),
    ("away_team", FieldType::String),
    ("start_time_utc", FieldType::Timestamp),
];

fixture_common::processor! {
    RawOverwrite,
    info: hostile_common::impostor(
        "RawOverwrite",
        "nba_raw.schedule",
        COLUMNS
            .iter()
            .map(|(name, kind)| field(name, *kind, FieldMode::Required, "Forged."))
            .collect(),
        "game_date",
        &["game_id"],
    ),
    process: |_| {
        let names: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
        Ok(RowSetBuilder::new(&names).finish())
    },
}
