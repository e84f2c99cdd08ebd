//! `MLFeatureStoreProcessor` (phase 4): one feature vector per player who
//! plays on the analysis date, gathered from that date's precomputed tables,
//! with its missing inputs named and a quality tier.
//!
//! This file is the binding layer only; the logic lives in [`features`].

pub mod features;

use basketball::ZONES;
use features::{CacheRow, CompositeRow, DefenseRow, FeatureRow, Inputs, ShotZoneRow};
use slate_sdk::{
    BadRowPolicy, Columns, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase,
    ProcessError, ProcessorInfo, Row, RowExt, RowSet, RowSetBuilder, UpstreamPolicy, Value,
    days_from_date, field, table,
};

/// The players who play on the analysis date, with their recent form.
pub const DAILY_CACHE: &str = "nba_precompute.player_daily_cache";
/// Players' shot zones as of the analysis date.
pub const SHOT_ZONES: &str = "nba_precompute.player_shot_zone_analysis";
/// Players' composite factors for the analysis date.
pub const COMPOSITE_FACTORS: &str = "nba_precompute.player_composite_factors";
/// Teams' zone defence as of the analysis date.
pub const DEFENSE_ZONES: &str = "nba_precompute.team_defense_zone_analysis";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_precompute.ml_feature_store";

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
    ("team_abbr", Text, Required, "The player's team."),
    (
        "opponent_abbr",
        Text,
        Required,
        "The team they face on the analysis date.",
    ),
    (
        "games_played",
        Int64,
        Required,
        "Games played this season before the analysis date.",
    ),
    (
        "points_avg_last_5",
        Float64,
        Nullable,
        "Mean points over the last 5 games (daily cache).",
    ),
    (
        "points_avg_last_10",
        Float64,
        Nullable,
        "Mean points over the last 10 games (daily cache).",
    ),
    (
        "points_avg_season",
        Float64,
        Nullable,
        "Mean points this season (daily cache).",
    ),
    (
        "minutes_avg_last_10",
        Float64,
        Nullable,
        "Mean minutes over the last 10 games (daily cache).",
    ),
    (
        "days_rest",
        Float64,
        Nullable,
        "Full days off since the latest game (daily cache).",
    ),
    (
        "back_to_back",
        Float64,
        Nullable,
        "1 when the latest game was the day before, else 0 (daily cache).",
    ),
    (
        "games_in_last_7_days",
        Float64,
        Nullable,
        "Games in the 7 days before the analysis date (daily cache).",
    ),
    (
        "zone_matchup_factor",
        Float64,
        Nullable,
        "The zone matchup factor (composite factors).",
    ),
    (
        "pace_factor",
        Float64,
        Nullable,
        "The pace factor (composite factors).",
    ),
    (
        "composite_adjustment",
        Float64,
        Nullable,
        "The composite adjustment (composite factors).",
    ),
    (
        "fga_per_game",
        Float64,
        Nullable,
        "Field goals attempted per game over the last 10 games (shot zones).",
    ),
    (
        "opponent_def_rating",
        Float64,
        Nullable,
        "The opponent's FG% allowed over its last 15 games: zone FG% weighted by attempt share (zone defense).",
    ),
    (
        "feature_count",
        Int64,
        Required,
        "How many of the 12 features are present (not null).",
    ),
    (
        "quality_tier",
        Text,
        Required,
        "gold: no missing feature and 10+ games; silver: at most one missing or fewer games; bronze: more missing.",
    ),
    (
        "data_quality_issues",
        Text,
        Repeated,
        "The cache's and the composite's issues, then one per missing feature; may be empty.",
    ),
];

/// The processor, exported as the component.
pub struct MLFeatureStoreProcessor;

impl Guest for MLFeatureStoreProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "MLFeatureStoreProcessor".into(),
            phase: Phase::Precompute,
            version: env!("CARGO_PKG_VERSION").into(),
            output_table: table(OUTPUT),
            schema: SCHEMA
                .iter()
                .map(|(n, t, m, d)| field(n, *t, *m, d))
                .collect(),
            partition_column: "analysis_date".into(),
            key_columns: vec!["player_lookup".into(), "analysis_date".into()],
            inputs: vec![
                table(DAILY_CACHE),
                table(SHOT_ZONES),
                table(COMPOSITE_FACTORS),
                table(DEFENSE_ZONES),
            ],
            upstream: vec![
                "PlayerDailyCacheProcessor".into(),
                "PlayerShotZoneAnalysisProcessor".into(),
                "PlayerCompositeFactorsProcessor".into(),
                "TeamDefenseZoneAnalysisProcessor".into(),
            ],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
            gap_policy: GapPolicy::Flag,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let today = |name: &str| slate_sdk::read_rows(&table(name), analysis_date, analysis_date);
        let cache = read_cache(&today(DAILY_CACHE)?)?;
        let shot_zones = read_shot_zones(&today(SHOT_ZONES)?)?;
        let composites = read_composites(&today(COMPOSITE_FACTORS)?)?;
        let defenses = read_defenses(&today(DEFENSE_ZONES)?)?;
        let rows = features::build(
            days_from_date(analysis_date),
            Inputs {
                cache: &cache,
                shot_zones: &shot_zones,
                composites: &composites,
                defenses: &defenses,
            },
        );
        let columns: Vec<&str> = SCHEMA.iter().map(|(name, ..)| *name).collect();
        let mut output = RowSetBuilder::new(&columns);
        for row in rows {
            output.push(output_row(row, analysis_date));
        }
        Ok(output.finish())
    }
}

/// One output row, in [`SCHEMA`] order.
fn output_row(row: FeatureRow, analysis_date: Date) -> Vec<Value> {
    let mut values = vec![
        Value::date(analysis_date),
        Value::string(row.player_lookup),
        Value::string(row.team_abbr),
        Value::string(row.opponent_abbr),
        Value::int64(row.games_played),
    ];
    values.extend(row.features.map(Value::float64_or_null));
    values.extend([
        Value::int64(row.feature_count),
        Value::string(row.quality_tier.as_str()),
        Value::strings(row.data_quality_issues),
    ]);
    values
}

/// Reads the daily cache rows.
fn read_cache(input: &RowSet) -> Result<Vec<CacheRow>, ProcessError> {
    let c = Columns::new(input);
    let col = |name| c.index(name).map(|i| (i, name));
    let (date, player, team, opponent) = (
        col("cache_date")?,
        col("player_lookup")?,
        col("team_abbr")?,
        col("opponent_abbr")?,
    );
    let (games, last_5, last_10, season, minutes) = (
        col("games_played")?,
        col("points_avg_last_5")?,
        col("points_avg_last_10")?,
        col("points_avg_season")?,
        col("minutes_avg_last_10")?,
    );
    let (rest, back_to_back, last_7, issues) = (
        col("days_rest")?,
        col("back_to_back")?,
        col("games_in_last_7_days")?,
        col("data_quality_issues")?,
    );
    input
        .rows
        .iter()
        .map(|row| {
            let text = |(i, n): (usize, &str)| row.string(i, n).map(str::to_string);
            let float = |(i, n): (usize, &str)| row.float64(i, n);
            let int = |(i, n): (usize, &str)| row.int64(i, n);
            Ok(CacheRow {
                analysis_day: days_from_date(row.date(date.0, date.1)?),
                player_lookup: text(player)?,
                team_abbr: text(team)?,
                opponent_abbr: text(opponent)?,
                games_played: int(games)?,
                points_avg_last_5: float(last_5)?,
                points_avg_last_10: float(last_10)?,
                points_avg_season: float(season)?,
                minutes_avg_last_10: float(minutes)?,
                days_rest: int(rest)?,
                back_to_back: row.boolean(back_to_back.0, back_to_back.1)?,
                games_in_last_7_days: int(last_7)?,
                data_quality_issues: row.strings(issues.0, issues.1)?,
            })
        })
        .collect()
}

/// Reads the shot zone rows.
fn read_shot_zones(input: &RowSet) -> Result<Vec<ShotZoneRow>, ProcessError> {
    let c = Columns::new(input);
    let (date, player, fga) = (
        c.index("analysis_date")?,
        c.index("player_lookup")?,
        c.index("fga_per_game")?,
    );
    input
        .rows
        .iter()
        .map(|row| {
            Ok(ShotZoneRow {
                analysis_day: days_from_date(row.date(date, "analysis_date")?),
                player_lookup: row.string(player, "player_lookup")?.to_string(),
                fga_per_game: row.float64(fga, "fga_per_game")?,
            })
        })
        .collect()
}

/// Reads the composite factor rows.
fn read_composites(input: &RowSet) -> Result<Vec<CompositeRow>, ProcessError> {
    let c = Columns::new(input);
    let (date, player, zone, pace, composite, issues) = (
        c.index("analysis_date")?,
        c.index("player_lookup")?,
        c.index("zone_matchup_factor")?,
        c.index("pace_factor")?,
        c.index("composite_adjustment")?,
        c.index("data_quality_issues")?,
    );
    input
        .rows
        .iter()
        .map(|row| {
            Ok(CompositeRow {
                analysis_day: days_from_date(row.date(date, "analysis_date")?),
                player_lookup: row.string(player, "player_lookup")?.to_string(),
                zone_matchup_factor: row.optional_float64(zone, "zone_matchup_factor")?,
                pace_factor: row.optional_float64(pace, "pace_factor")?,
                composite_adjustment: row.float64(composite, "composite_adjustment")?,
                data_quality_issues: row.strings(issues, "data_quality_issues")?,
            })
        })
        .collect()
}

/// Reads the team zone defence rows.
fn read_defenses(input: &RowSet) -> Result<Vec<DefenseRow>, ProcessError> {
    let c = Columns::new(input);
    let (date, team) = (c.index("analysis_date")?, c.index("team_abbr")?);
    let zone_columns = |prefix: &str| -> Result<Vec<(usize, String)>, ProcessError> {
        ZONES
            .iter()
            .map(|zone| {
                let name = format!("{prefix}{zone}");
                c.index(&name).map(|i| (i, name))
            })
            .collect()
    };
    let (pct, share) = (
        zone_columns("opp_fg_pct_")?,
        zone_columns("opp_attempt_share_")?,
    );
    let zone_values = |row: &Row, columns: &[(usize, String)]| {
        let mut values = [None; 5];
        for (value, (index, name)) in values.iter_mut().zip(columns) {
            *value = row.optional_float64(*index, name)?;
        }
        Ok::<_, ProcessError>(values)
    };
    input
        .rows
        .iter()
        .map(|row| {
            Ok(DefenseRow {
                analysis_day: days_from_date(row.date(date, "analysis_date")?),
                team_abbr: row.string(team, "team_abbr")?.to_string(),
                opp_fg_pct: zone_values(row, &pct)?,
                opp_attempt_share: zone_values(row, &share)?,
            })
        })
        .collect()
}

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(MLFeatureStoreProcessor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let mut features = [Some(1.5); 12];
        features[7] = None;
        let row = FeatureRow {
            player_lookup: "a".into(),
            team_abbr: "BOS".into(),
            opponent_abbr: "NYK".into(),
            games_played: 12,
            features,
            feature_count: 11,
            quality_tier: features::QualityTier::Silver,
            data_quality_issues: vec!["missing feature zone_matchup_factor".into()],
        };
        let date = Date {
            year: 2026,
            month: 1,
            day: 11,
        };
        let values = output_row(row, date);
        slate_sdk::check_row(&MLFeatureStoreProcessor::info().schema, &values).unwrap();
        for (name, column) in features::FEATURE_NAMES.iter().zip(&SCHEMA[5..17]) {
            assert_eq!(*name, column.0, "features follow the schema's order");
        }
        let info = MLFeatureStoreProcessor::info();
        assert!(SCHEMA.iter().any(|(n, ..)| *n == info.partition_column));
        for key in &info.key_columns {
            assert!(SCHEMA.iter().any(|(n, ..)| n == key), "{key}");
        }
    }
}
