//! `PlayerShotZoneAnalysisProcessor` (phase 4): one row per player per
//! analysis date, with their shot mix and accuracy by court zone over their
//! last 10 games of the season.
//!
//! This file is the binding layer only; the logic lives in [`analysis`].

pub mod analysis;

use analysis::{PastGame, PlayerZoneRow, ZoneShots};
use basketball::season_start;
use slate_sdk::{
    BadRowPolicy, ColumnBatch, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase,
    ProcessError, ProcessorInfo, RowSet, RowSetBuilder, UpstreamPolicy, Value, days_from_date,
    field, table,
};

/// The per-game player summaries this processor aggregates.
pub const GAME_SUMMARIES: &str = "nba_analytics.player_game_summary";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_precompute.player_shot_zone_analysis";

use FieldMode::{Nullable, Repeated, Required};
use FieldType::{Date as DateType, Float64, Int64, String as Text};

/// The output schema, in column order: (name, type, mode, description).
const SCHEMA: &[(&str, FieldType, FieldMode, &str)] = &[
    (
        "analysis_date",
        DateType,
        Required,
        "The analysis date; the partition column.",
    ),
    ("player_lookup", Text, Required, "The player's lookup key."),
    (
        "team_abbr",
        Text,
        Required,
        "The player's team, from their latest game.",
    ),
    (
        "games_in_window",
        Int64,
        Required,
        "Games in the window: the last 10 before the analysis date this season.",
    ),
    (
        "fga_per_game",
        Float64,
        Required,
        "Field goals attempted per game over the window.",
    ),
    (
        "attempt_share_ra",
        Float64,
        Nullable,
        "The restricted area share of the player's attempts; null without any attempt.",
    ),
    (
        "fg_pct_ra",
        Float64,
        Nullable,
        "The player's restricted area FG% over the window; null without attempts there.",
    ),
    (
        "attempt_share_paint",
        Float64,
        Nullable,
        "The non-restricted paint share of the player's attempts; null without any attempt.",
    ),
    (
        "fg_pct_paint",
        Float64,
        Nullable,
        "The player's non-restricted paint FG% over the window; null without attempts there.",
    ),
    (
        "attempt_share_mid",
        Float64,
        Nullable,
        "The mid-range share of the player's attempts; null without any attempt.",
    ),
    (
        "fg_pct_mid",
        Float64,
        Nullable,
        "The player's mid-range FG% over the window; null without attempts there.",
    ),
    (
        "attempt_share_corner3",
        Float64,
        Nullable,
        "The corner three share of the player's attempts; null without any attempt.",
    ),
    (
        "fg_pct_corner3",
        Float64,
        Nullable,
        "The player's corner three FG% over the window; null without attempts there.",
    ),
    (
        "attempt_share_atb3",
        Float64,
        Nullable,
        "The above-the-break three share of the player's attempts; null without any attempt.",
    ),
    (
        "fg_pct_atb3",
        Float64,
        Nullable,
        "The player's above-the-break three FG% over the window; null without attempts there.",
    ),
    (
        "data_quality_issues",
        Text,
        Repeated,
        "Lookback gaps the host found; may be empty.",
    ),
];

/// The processor, exported as the component.
pub struct PlayerShotZoneAnalysisProcessor;

impl Guest for PlayerShotZoneAnalysisProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "PlayerShotZoneAnalysisProcessor".into(),
            phase: Phase::Precompute,
            version: env!("CARGO_PKG_VERSION").into(),
            output_table: table(OUTPUT),
            schema: SCHEMA
                .iter()
                .map(|(n, t, m, d)| field(n, *t, *m, d))
                .collect(),
            partition_column: "analysis_date".into(),
            key_columns: vec!["player_lookup".into(), "analysis_date".into()],
            inputs: vec![table(GAME_SUMMARIES)],
            upstream: vec!["PlayerGameSummaryProcessor".into()],
            lookback: Lookback::Games(analysis::WINDOW_GAMES as u32),
            upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
            gap_policy: GapPolicy::Flag,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let (start, end) = (season_start(analysis_date), analysis_date.add_days(-1));
        // On the season's first day nothing came before: no read, no rows.
        let batch = if start <= end {
            slate_sdk::read_column_batch(&table(GAME_SUMMARIES), start, end, &GAME_COLUMNS)?
        } else {
            ColumnBatch {
                row_count: 0,
                columns: Vec::new(),
            }
        };
        let games = if batch.is_empty() {
            Vec::new()
        } else {
            read_games(&batch)?
        };
        let rows = analysis::analyze(days_from_date(analysis_date), &games);
        let columns: Vec<&str> = SCHEMA.iter().map(|(name, ..)| *name).collect();
        let mut output = RowSetBuilder::new(&columns);
        for row in &rows {
            output.push(output_row(row, analysis_date));
        }
        Ok(output.finish())
    }
}

/// One output row, in [`SCHEMA`] order.
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

/// The columns of the player game summaries the analysis uses: 14 of 31.
const GAME_COLUMNS: [&str; 14] = [
    "player_lookup",
    "team_abbr",
    "game_id",
    "game_date",
    "ra_fga",
    "ra_fgm",
    "paint_fga",
    "paint_fgm",
    "mid_fga",
    "mid_fgm",
    "corner3_fga",
    "corner3_fgm",
    "atb3_fga",
    "atb3_fgm",
];

/// The past games in `batch`, borrowing their text from it.
fn read_games(batch: &ColumnBatch) -> Result<Vec<PastGame<'_>>, ProcessError> {
    let [player, team, game, date, zone_columns @ ..] = batch.columns(GAME_COLUMNS)?;
    // GAME_COLUMNS holds each zone's attempts then makes, in ZONES order.
    batch.map_rows(|row| {
        let mut zones = [ZoneShots::default(); 5];
        for (shots, pair) in zones.iter_mut().zip(zone_columns.chunks_exact(2)) {
            *shots = ZoneShots {
                attempts: pair[0].int64(row)?,
                makes: pair[1].int64(row)?,
            };
        }
        Ok(PastGame {
            player_lookup: player.string(row)?,
            team_abbr: team.string(row)?,
            game_id: game.string(row)?,
            game_day: date.day(row)?,
            zones,
        })
    })
}

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(PlayerShotZoneAnalysisProcessor);

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

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
        slate_sdk::check_row(
            &PlayerShotZoneAnalysisProcessor::info().schema,
            &output_row(&row, date(2026, 1, 11)),
        )
        .unwrap();
        let info = PlayerShotZoneAnalysisProcessor::info();
        assert!(SCHEMA.iter().any(|(n, ..)| *n == info.partition_column));
        for key in &info.key_columns {
            assert!(SCHEMA.iter().any(|(n, ..)| n == key), "{key}");
        }
    }
}

#[cfg(test)]
mod column_tests {
    use super::*;
    use crate::analysis::ZONES;

    #[test]
    fn the_zone_columns_are_each_zones_attempts_then_makes() {
        let expected: Vec<String> = ZONES
            .iter()
            .flat_map(|zone| [format!("{zone}_fga"), format!("{zone}_fgm")])
            .collect();
        assert_eq!(GAME_COLUMNS[4..], expected);
    }
}
