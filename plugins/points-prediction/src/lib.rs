//! `PointsPredictionProcessor` (phase 5): one points prediction per player
//! with a feature vector on the analysis date: a projection, the prop line
//! (posted, or estimated when no sportsbook posted one), the edge, a
//! recommendation and a confidence.
//!
//! This file is the binding layer only; the logic lives in [`prediction`].

pub mod prediction;

use prediction::{FeatureVector, Prediction, PropLine, ScheduledGame};
use slate_sdk::{
    ColumnBatch, Date, Declaration, GapPolicy, Guest, Phase, ProcessError, ProcessorInfo, RowSet,
    UpstreamPolicy, Value, days_from_date, table,
};

/// The feature vectors of the analysis date.
pub const FEATURES: &str = "nba_precompute.ml_feature_store";
/// The sportsbooks' points lines.
pub const PROP_LINES: &str = "nba_raw.prop_lines";
/// The schedule, for each player's game.
pub const SCHEDULE: &str = "nba_raw.schedule";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_predictions.points_predictions";

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = Declaration {
    output_table: OUTPUT,
    schema: include_str!("../schema.json"),
    partition_column: "analysis_date",
    key_columns: &["player_lookup", "analysis_date"],
    inputs: &[FEATURES, PROP_LINES, SCHEDULE],
    upstream: &["MLFeatureStoreProcessor"],
    upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
    gap_policy: GapPolicy::Flag,
    ..Declaration::new(
        "PointsPredictionProcessor",
        Phase::Predictions,
        env!("CARGO_PKG_VERSION"),
    )
};

/// The processor, exported as the component.
pub struct PointsPredictionProcessor;

impl Guest for PointsPredictionProcessor {
    fn info() -> ProcessorInfo {
        DECLARATION.info()
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let today = |name: &str, columns: &[&str]| {
            slate_sdk::read_column_batch(&table(name), analysis_date, analysis_date, columns)
        };
        let batches = [
            today(FEATURES, &VECTOR_COLUMNS)?,
            today(PROP_LINES, &LINE_COLUMNS)?,
            today(SCHEDULE, &SCHEDULE_COLUMNS)?,
        ];
        let vectors = read_vectors(&batches[0])?;
        let lines = read_lines(&batches[1])?;
        let schedule = read_schedule(&batches[2])?;
        let predictions =
            prediction::predict(days_from_date(analysis_date), &vectors, &lines, &schedule)
                .map_err(ProcessError::MissingData)?;
        let mut output = DECLARATION.output();
        for p in predictions {
            output.push(output_row(p, analysis_date));
        }
        Ok(output.finish())
    }
}

/// One output row, in `schema.json` order.
fn output_row(p: Prediction, analysis_date: Date) -> Vec<Value> {
    vec![
        Value::date(analysis_date),
        Value::string(p.player_lookup),
        Value::string(p.game_id),
        Value::string(p.team_abbr),
        Value::string(p.opponent_abbr),
        Value::float64_or_null(p.projected_points),
        Value::float64_or_null(p.prop_line),
        Value::string(p.line_source.as_str()),
        p.sportsbook.map_or(Value::Null, Value::string),
        Value::string(p.recommendation.as_str()),
        Value::float64_or_null(p.edge),
        Value::float64(p.confidence),
        Value::string(p.quality_tier),
        Value::strings(p.data_quality_issues),
    ]
}

/// The columns of the feature store a prediction uses.
const VECTOR_COLUMNS: [&str; 10] = [
    "analysis_date",
    "player_lookup",
    "team_abbr",
    "opponent_abbr",
    "points_avg_last_5",
    "points_avg_last_10",
    "points_avg_season",
    "composite_adjustment",
    "quality_tier",
    "data_quality_issues",
];

/// Reads the feature vectors.
fn read_vectors(batch: &ColumnBatch) -> Result<Vec<FeatureVector<'_>>, ProcessError> {
    let [
        date,
        player,
        team,
        opponent,
        last_5,
        last_10,
        season,
        composite,
        tier,
        issues,
    ] = batch.columns(VECTOR_COLUMNS)?;
    batch.map_rows(|row| {
        Ok(FeatureVector {
            analysis_day: date.day(row)?,
            player_lookup: player.string(row)?,
            team_abbr: team.string(row)?,
            opponent_abbr: opponent.string(row)?,
            points_avg_last_5: last_5.optional_float64(row)?,
            points_avg_last_10: last_10.optional_float64(row)?,
            points_avg_season: season.optional_float64(row)?,
            composite_adjustment: composite.optional_float64(row)?,
            quality_tier: tier.string(row)?,
            data_quality_issues: issues.strings(row)?,
        })
    })
}

/// The columns of the prop lines a prediction uses.
const LINE_COLUMNS: [&str; 4] = ["game_date", "player_lookup", "sportsbook", "points_line"];

/// Reads the prop lines.
fn read_lines(batch: &ColumnBatch) -> Result<Vec<PropLine<'_>>, ProcessError> {
    let [date, player, book, points] = batch.columns(LINE_COLUMNS)?;
    batch.map_rows(|row| {
        Ok(PropLine {
            game_day: date.day(row)?,
            player_lookup: player.string(row)?,
            sportsbook: book.string(row)?,
            points_line: points.float64(row)?,
        })
    })
}

/// The columns of the schedule a prediction uses.
const SCHEDULE_COLUMNS: [&str; 4] = ["game_date", "game_id", "home_team", "away_team"];

/// Reads the schedule of the analysis date.
fn read_schedule(batch: &ColumnBatch) -> Result<Vec<ScheduledGame<'_>>, ProcessError> {
    let [date, game, home, away] = batch.columns(SCHEDULE_COLUMNS)?;
    batch.map_rows(|row| {
        Ok(ScheduledGame {
            game_day: date.day(row)?,
            game_id: game.string(row)?,
            home_team: home.string(row)?,
            away_team: away.string(row)?,
        })
    })
}

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(PointsPredictionProcessor);

#[cfg(test)]
mod tests {
    use super::*;
    use prediction::{LineSource, Recommendation};
    use slate_sdk::Scalar;

    fn prediction(line_source: LineSource, sportsbook: Option<&str>) -> Prediction {
        Prediction {
            player_lookup: "a".into(),
            game_id: "20260111_NYK_BOS".into(),
            team_abbr: "BOS".into(),
            opponent_abbr: "NYK".into(),
            projected_points: Some(19.2),
            prop_line: Some(17.5),
            line_source,
            sportsbook: sportsbook.map(str::to_string),
            recommendation: Recommendation::Over,
            edge: Some(1.7),
            confidence: 0.28,
            quality_tier: "gold".into(),
            data_quality_issues: vec![],
        }
    }

    #[test]
    fn output_rows_fit_the_declared_schema_with_a_null_sportsbook_when_estimated() {
        let date = Date {
            year: 2026,
            month: 1,
            day: 11,
        };
        let odds = output_row(prediction(LineSource::Odds, Some("FanDuel")), date);
        DECLARATION.check_output(&odds).unwrap();
        assert!(matches!(&odds[8], Value::Scalar(Scalar::String(s)) if s == "FanDuel"));
        let estimated = output_row(prediction(LineSource::Estimated, None), date);
        DECLARATION.check_output(&estimated).unwrap();
        assert!(matches!(&estimated[7], Value::Scalar(Scalar::String(s)) if s == "ESTIMATED"));
        assert!(matches!(estimated[8], Value::Null));
    }
}
