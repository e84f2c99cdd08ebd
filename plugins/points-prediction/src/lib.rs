//! `PointsPredictionProcessor` (phase 5): one points prediction per player
//! with a feature vector on the analysis date: a projection, the prop line
//! (posted, or estimated when no sportsbook posted one), the edge, a
//! recommendation and a confidence.
//!
//! This file is the binding layer only; the logic lives in [`prediction`].

pub mod prediction;

use prediction::{FeatureVector, Prediction, PropLine, ScheduledGame};
use slate_sdk::{Date, Declaration, Phase, ProcessError, RowSet, Value, days_from_date};

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
    ..Declaration::derived(
        "PointsPredictionProcessor",
        Phase::Predictions,
        env!("CARGO_PKG_VERSION"),
    )
};

slate_sdk::processor! {
    /// The processor, exported as the component.
    pub struct PointsPredictionProcessor(DECLARATION, process);
}

/// Predicts the points of every player with a feature vector on `analysis_date`.
fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let vectors = slate_sdk::read_day(FEATURES, analysis_date, VECTOR_COLUMNS)?;
    let lines = slate_sdk::read_day(PROP_LINES, analysis_date, LINE_COLUMNS)?;
    let schedule = slate_sdk::read_day(SCHEDULE, analysis_date, SCHEDULE_COLUMNS)?;
    let predictions = prediction::predict(
        days_from_date(analysis_date),
        &read_vectors(&vectors)?,
        &read_lines(&lines)?,
        &read_schedule(&schedule)?,
    )
    .map_err(ProcessError::MissingData)?;
    Ok(DECLARATION.rows(
        predictions
            .into_iter()
            .map(|p| output_row(p, analysis_date)),
    ))
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

slate_sdk::batch_reader! {
    /// The columns of the feature store a prediction uses.
    const VECTOR_COLUMNS;
    /// Reads the feature vectors.
    fn read_vectors(batch) -> FeatureVector<'_> {
        analysis_day: day = "analysis_date",
        player_lookup: string,
        team_abbr: string,
        opponent_abbr: string,
        points_avg_last_5: optional_float64,
        points_avg_last_10: optional_float64,
        points_avg_season: optional_float64,
        composite_adjustment: optional_float64,
        quality_tier: string,
        data_quality_issues: strings,
    }
}

slate_sdk::batch_reader! {
    /// The columns of the prop lines a prediction uses.
    const LINE_COLUMNS;
    /// Reads the prop lines.
    fn read_lines(batch) -> PropLine<'_> {
        game_day: day = "game_date",
        player_lookup: string,
        sportsbook: string,
        points_line: float64,
    }
}

slate_sdk::batch_reader! {
    /// The columns of the schedule a prediction uses.
    const SCHEDULE_COLUMNS;
    /// Reads the schedule of the analysis date.
    fn read_schedule(batch) -> ScheduledGame<'_> {
        game_day: day = "game_date",
        game_id: string,
        home_team: string,
        away_team: string,
    }
}

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
        let date = Date::new(2026, 1, 11);
        let odds = output_row(prediction(LineSource::Odds, Some("FanDuel")), date);
        DECLARATION.check_output(&odds).unwrap();
        assert!(matches!(&odds[8], Value::Scalar(Scalar::String(s)) if s == "FanDuel"));
        let estimated = output_row(prediction(LineSource::Estimated, None), date);
        DECLARATION.check_output(&estimated).unwrap();
        assert!(matches!(&estimated[7], Value::Scalar(Scalar::String(s)) if s == "ESTIMATED"));
        assert!(matches!(estimated[8], Value::Null));
    }
}
