//! `PointsPredictionProcessor` (phase 5): one points prediction per player
//! with a feature vector on the analysis date: a projection, the prop line
//! (posted, or estimated when no sportsbook posted one), the edge, a
//! recommendation and a confidence.
//!
//! This file is the binding layer only; the logic lives in [`prediction`].

pub mod prediction;

use prediction::{FeatureVector, Prediction, PropLine, ScheduledGame};
use slate_sdk::{
    BadRowPolicy, Columns, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase,
    ProcessError, ProcessorInfo, RowExt, RowSet, RowSetBuilder, UpstreamPolicy, Value,
    days_from_date, field, table,
};

/// The feature vectors of the analysis date.
pub const FEATURES: &str = "nba_precompute.ml_feature_store";
/// The sportsbooks' points lines.
pub const PROP_LINES: &str = "nba_raw.prop_lines";
/// The schedule, for each player's game.
pub const SCHEDULE: &str = "nba_raw.schedule";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_predictions.points_predictions";

use FieldMode::{Nullable, Repeated, Required};
use FieldType::{Date as DateType, Float64, String as Text};

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
        "game_id",
        Text,
        Required,
        "The game the player's team plays on the analysis date.",
    ),
    ("team_abbr", Text, Required, "The player's team."),
    ("opponent_abbr", Text, Required, "The team they face."),
    (
        "projected_points",
        Float64,
        Nullable,
        "(0.5 * last-5 + 0.3 * last-10 + 0.2 * season points average) * composite adjustment; null without any average.",
    ),
    (
        "prop_line",
        Float64,
        Nullable,
        "The posted points line, or the season average rounded to the nearest 0.5 when estimated.",
    ),
    (
        "line_source",
        Text,
        Required,
        "ODDS when a sportsbook posted the line, ESTIMATED otherwise.",
    ),
    (
        "sportsbook",
        Text,
        Nullable,
        "The sportsbook of a posted line; null when estimated.",
    ),
    (
        "recommendation",
        Text,
        Required,
        "OVER or UNDER when the edge is at least 1.5 points, else PASS.",
    ),
    (
        "edge",
        Float64,
        Nullable,
        "projected_points - prop_line; null when either is null.",
    ),
    (
        "confidence",
        Float64,
        Required,
        "min(|edge| / 6, 1) * tier weight (gold 1, silver 0.75, bronze 0.5) * 0.8 if estimated; in [0, 1].",
    ),
    (
        "quality_tier",
        Text,
        Required,
        "The feature vector's quality tier.",
    ),
    (
        "data_quality_issues",
        Text,
        Repeated,
        "The feature vector's issues, then the prediction's own; may be empty.",
    ),
];

/// The processor, exported as the component.
pub struct PointsPredictionProcessor;

impl Guest for PointsPredictionProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "PointsPredictionProcessor".into(),
            phase: Phase::Predictions,
            version: env!("CARGO_PKG_VERSION").into(),
            output_table: table(OUTPUT),
            schema: SCHEMA
                .iter()
                .map(|(n, t, m, d)| field(n, *t, *m, d))
                .collect(),
            partition_column: "analysis_date".into(),
            key_columns: vec!["player_lookup".into(), "analysis_date".into()],
            inputs: vec![table(FEATURES), table(PROP_LINES), table(SCHEDULE)],
            upstream: vec!["MLFeatureStoreProcessor".into()],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
            gap_policy: GapPolicy::Flag,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let today = |name: &str| slate_sdk::read_rows(&table(name), analysis_date, analysis_date);
        let vectors = read_vectors(&today(FEATURES)?)?;
        let lines = read_lines(&today(PROP_LINES)?)?;
        let schedule = read_schedule(&today(SCHEDULE)?)?;
        let predictions =
            prediction::predict(days_from_date(analysis_date), &vectors, &lines, &schedule)
                .map_err(ProcessError::MissingData)?;
        let columns: Vec<&str> = SCHEMA.iter().map(|(name, ..)| *name).collect();
        let mut output = RowSetBuilder::new(&columns);
        for p in predictions {
            output.push(output_row(p, analysis_date));
        }
        Ok(output.finish())
    }
}

/// One output row, in [`SCHEMA`] order.
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

/// Reads the feature vectors.
fn read_vectors(input: &RowSet) -> Result<Vec<FeatureVector>, ProcessError> {
    let c = Columns::new(input);
    let col = |name| c.index(name).map(|i| (i, name));
    let (date, player, team, opponent) = (
        col("analysis_date")?,
        col("player_lookup")?,
        col("team_abbr")?,
        col("opponent_abbr")?,
    );
    let (last_5, last_10, season, composite) = (
        col("points_avg_last_5")?,
        col("points_avg_last_10")?,
        col("points_avg_season")?,
        col("composite_adjustment")?,
    );
    let (tier, issues) = (col("quality_tier")?, col("data_quality_issues")?);
    input
        .rows
        .iter()
        .map(|row| {
            let text = |(i, n): (usize, &str)| row.string(i, n).map(str::to_string);
            let float = |(i, n): (usize, &str)| row.optional_float64(i, n);
            Ok(FeatureVector {
                analysis_day: days_from_date(row.date(date.0, date.1)?),
                player_lookup: text(player)?,
                team_abbr: text(team)?,
                opponent_abbr: text(opponent)?,
                points_avg_last_5: float(last_5)?,
                points_avg_last_10: float(last_10)?,
                points_avg_season: float(season)?,
                composite_adjustment: float(composite)?,
                quality_tier: text(tier)?,
                data_quality_issues: row.strings(issues.0, issues.1)?,
            })
        })
        .collect()
}

/// Reads the prop lines.
fn read_lines(input: &RowSet) -> Result<Vec<PropLine>, ProcessError> {
    let c = Columns::new(input);
    let (date, player, book, points) = (
        c.index("game_date")?,
        c.index("player_lookup")?,
        c.index("sportsbook")?,
        c.index("points_line")?,
    );
    input
        .rows
        .iter()
        .map(|row| {
            Ok(PropLine {
                game_day: days_from_date(row.date(date, "game_date")?),
                player_lookup: row.string(player, "player_lookup")?.to_string(),
                sportsbook: row.string(book, "sportsbook")?.to_string(),
                points_line: row.float64(points, "points_line")?,
            })
        })
        .collect()
}

/// Reads the schedule of the analysis date.
fn read_schedule(input: &RowSet) -> Result<Vec<ScheduledGame>, ProcessError> {
    let c = Columns::new(input);
    let (date, game, home, away) = (
        c.index("game_date")?,
        c.index("game_id")?,
        c.index("home_team")?,
        c.index("away_team")?,
    );
    input
        .rows
        .iter()
        .map(|row| {
            Ok(ScheduledGame {
                game_day: days_from_date(row.date(date, "game_date")?),
                game_id: row.string(game, "game_id")?.to_string(),
                home_team: row.string(home, "home_team")?.to_string(),
                away_team: row.string(away, "away_team")?.to_string(),
            })
        })
        .collect()
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
        slate_sdk::check_row(&PointsPredictionProcessor::info().schema, &odds).unwrap();
        assert!(matches!(&odds[8], Value::Scalar(Scalar::String(s)) if s == "FanDuel"));
        let estimated = output_row(prediction(LineSource::Estimated, None), date);
        slate_sdk::check_row(&PointsPredictionProcessor::info().schema, &estimated).unwrap();
        assert!(matches!(&estimated[7], Value::Scalar(Scalar::String(s)) if s == "ESTIMATED"));
        assert!(matches!(estimated[8], Value::Null));
        let info = PointsPredictionProcessor::info();
        assert!(SCHEMA.iter().any(|(n, ..)| *n == info.partition_column));
        for key in &info.key_columns {
            assert!(SCHEMA.iter().any(|(n, ..)| n == key), "{key}");
        }
    }
}
