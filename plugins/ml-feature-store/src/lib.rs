//! `MLFeatureStoreProcessor` (phase 4): one feature vector per player who
//! plays on the analysis date, gathered from that date's precomputed tables,
//! with its missing inputs named and a quality tier.
//!
//! This file is the binding layer only; the logic lives in [`features`].

pub mod features;

use basketball::{ZoneFigureColumns, with_zone_columns};
use features::{CacheRow, CompositeRow, DefenseRow, FeatureRow, Inputs, ShotZoneRow};
use slate_sdk::{Date, Declaration, Phase, ProcessError, RowSet, Value, days_from_date};

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

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = Declaration {
    output_table: OUTPUT,
    schema: include_str!("../schema.json"),
    partition_column: "analysis_date",
    key_columns: &["player_lookup", "analysis_date"],
    inputs: &[DAILY_CACHE, SHOT_ZONES, COMPOSITE_FACTORS, DEFENSE_ZONES],
    upstream: &[
        "PlayerDailyCacheProcessor",
        "PlayerShotZoneAnalysisProcessor",
        "PlayerCompositeFactorsProcessor",
        "TeamDefenseZoneAnalysisProcessor",
    ],
    ..Declaration::derived(
        "MLFeatureStoreProcessor",
        Phase::Precompute,
        env!("CARGO_PKG_VERSION"),
    )
};

slate_sdk::processor! {
    /// The processor, exported as the component.
    pub struct MLFeatureStoreProcessor(DECLARATION, process);
}

/// The feature vectors of the players who play on `analysis_date`.
fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let cache = slate_sdk::read_day(DAILY_CACHE, analysis_date, CACHE_COLUMNS)?;
    let shot_zones = slate_sdk::read_day(SHOT_ZONES, analysis_date, SHOT_ZONE_COLUMNS)?;
    let composites = slate_sdk::read_day(COMPOSITE_FACTORS, analysis_date, COMPOSITE_COLUMNS)?;
    let defense_columns = with_zone_columns(DEFENSE_COLUMNS, &DEFENSE_ZONE_PREFIXES);
    let defenses = slate_sdk::read_day(DEFENSE_ZONES, analysis_date, &defense_columns)?;
    let rows = features::build(
        days_from_date(analysis_date),
        Inputs {
            cache: &read_cache(&cache)?,
            shot_zones: &read_shot_zones(&shot_zones)?,
            composites: &read_composites(&composites)?,
            defenses: &read_defenses(&defenses)?,
        },
    );
    Ok(DECLARATION.rows(rows.into_iter().map(|row| output_row(row, analysis_date))))
}

/// One output row, in `schema.json` order.
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

slate_sdk::batch_reader! {
    /// The columns of the daily cache the features use.
    const CACHE_COLUMNS;
    /// Reads the daily cache rows.
    fn read_cache(batch) -> CacheRow<'_> {
        analysis_day: day = "cache_date",
        player_lookup: string,
        team_abbr: string,
        opponent_abbr: string,
        games_played: int64,
        points_avg_last_5: float64,
        points_avg_last_10: float64,
        points_avg_season: float64,
        minutes_avg_last_10: float64,
        days_rest: int64,
        back_to_back: boolean,
        games_in_last_7_days: int64,
        data_quality_issues: strings,
    }
}

slate_sdk::batch_reader! {
    /// The columns of the shot zone analysis the features use.
    const SHOT_ZONE_COLUMNS;
    /// Reads the shot zone rows.
    fn read_shot_zones(batch) -> ShotZoneRow<'_> {
        analysis_day: day = "analysis_date",
        player_lookup: string,
        fga_per_game: float64,
    }
}

slate_sdk::batch_reader! {
    /// The columns of the composite factors the features use.
    const COMPOSITE_COLUMNS;
    /// Reads the composite factor rows.
    fn read_composites(batch) -> CompositeRow<'_> {
        analysis_day: day = "analysis_date",
        player_lookup: string,
        zone_matchup_factor: optional_float64,
        pace_factor: optional_float64,
        composite_adjustment: float64,
        data_quality_issues: strings,
    }
}

/// The zone defence columns behind each zone's figure, in [`ZONES`](basketball::ZONES) order.
const DEFENSE_ZONE_PREFIXES: [&str; 2] = ["opp_fg_pct_", "opp_attempt_share_"];

slate_sdk::batch_reader! {
    /// The columns of the team zone defence the features use, before each
    /// of [`DEFENSE_ZONE_PREFIXES`]' zones.
    const DEFENSE_COLUMNS;
    /// Reads the team zone defence rows.
    fn read_defenses(batch) -> DefenseRow<'_> {
        analysis_day: day = "analysis_date",
        team_abbr: string,
        ..
        opp_fg_pct: ZoneFigureColumns::of(batch, DEFENSE_ZONE_PREFIXES[0])? => read,
        opp_attempt_share: ZoneFigureColumns::of(batch, DEFENSE_ZONE_PREFIXES[1])? => read,
    }
}

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
        let date = Date::new(2026, 1, 11);
        let values = output_row(row, date);
        DECLARATION.check_output(&values).unwrap();
        for (name, column) in features::FEATURE_NAMES
            .iter()
            .zip(&DECLARATION.fields()[5..17])
        {
            assert_eq!(*name, column.name, "features follow the schema's order");
        }
    }
}
