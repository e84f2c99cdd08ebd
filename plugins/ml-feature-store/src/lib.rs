//! `MLFeatureStoreProcessor` (phase 4): one feature vector per player who
//! plays on the analysis date, gathered from that date's precomputed tables,
//! with its missing inputs named and a quality tier.
//!
//! This file is the binding layer only; the logic lives in [`features`].

pub mod features;

use basketball::ZONES;
use features::{CacheRow, CompositeRow, DefenseRow, FeatureRow, Inputs, ShotZoneRow};
use slate_sdk::{
    Column, ColumnBatch, Date, Declaration, GapPolicy, Guest, Phase, ProcessError, ProcessorInfo,
    RowSet, UpstreamPolicy, Value, days_from_date, table,
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
    upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
    gap_policy: GapPolicy::Flag,
    ..Declaration::new(
        "MLFeatureStoreProcessor",
        Phase::Precompute,
        env!("CARGO_PKG_VERSION"),
    )
};

/// The processor, exported as the component.
pub struct MLFeatureStoreProcessor;

impl Guest for MLFeatureStoreProcessor {
    fn info() -> ProcessorInfo {
        DECLARATION.info()
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let today = |name: &str, columns: &[String]| {
            slate_sdk::read_column_batch(&table(name), analysis_date, analysis_date, columns)
        };
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let batches = [
            today(DAILY_CACHE, &names(&CACHE_COLUMNS))?,
            today(SHOT_ZONES, &names(&SHOT_ZONE_COLUMNS))?,
            today(COMPOSITE_FACTORS, &names(&COMPOSITE_COLUMNS))?,
            today(DEFENSE_ZONES, &defense_columns())?,
        ];
        let cache = read_cache(&batches[0])?;
        let shot_zones = read_shot_zones(&batches[1])?;
        let composites = read_composites(&batches[2])?;
        let defenses = read_defenses(&batches[3])?;
        let rows = features::build(
            days_from_date(analysis_date),
            Inputs {
                cache: &cache,
                shot_zones: &shot_zones,
                composites: &composites,
                defenses: &defenses,
            },
        );
        let mut output = DECLARATION.output();
        for row in rows {
            output.push(output_row(row, analysis_date));
        }
        Ok(output.finish())
    }
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

/// The columns of the daily cache the features use.
const CACHE_COLUMNS: [&str; 13] = [
    "cache_date",
    "player_lookup",
    "team_abbr",
    "opponent_abbr",
    "games_played",
    "points_avg_last_5",
    "points_avg_last_10",
    "points_avg_season",
    "minutes_avg_last_10",
    "days_rest",
    "back_to_back",
    "games_in_last_7_days",
    "data_quality_issues",
];

/// Reads the daily cache rows.
fn read_cache(batch: &ColumnBatch) -> Result<Vec<CacheRow<'_>>, ProcessError> {
    let [
        date,
        player,
        team,
        opponent,
        games,
        last_5,
        last_10,
        season,
        minutes,
        rest,
        back_to_back,
        last_7,
        issues,
    ] = batch.columns(CACHE_COLUMNS)?;
    batch.map_rows(|row| {
        Ok(CacheRow {
            analysis_day: date.day(row)?,
            player_lookup: player.string(row)?,
            team_abbr: team.string(row)?,
            opponent_abbr: opponent.string(row)?,
            games_played: games.int64(row)?,
            points_avg_last_5: last_5.float64(row)?,
            points_avg_last_10: last_10.float64(row)?,
            points_avg_season: season.float64(row)?,
            minutes_avg_last_10: minutes.float64(row)?,
            days_rest: rest.int64(row)?,
            back_to_back: back_to_back.boolean(row)?,
            games_in_last_7_days: last_7.int64(row)?,
            data_quality_issues: issues.strings(row)?,
        })
    })
}

/// The columns of the shot zone analysis the features use.
const SHOT_ZONE_COLUMNS: [&str; 3] = ["analysis_date", "player_lookup", "fga_per_game"];

/// Reads the shot zone rows.
fn read_shot_zones(batch: &ColumnBatch) -> Result<Vec<ShotZoneRow<'_>>, ProcessError> {
    let [date, player, fga] = batch.columns(SHOT_ZONE_COLUMNS)?;
    batch.map_rows(|row| {
        Ok(ShotZoneRow {
            analysis_day: date.day(row)?,
            player_lookup: player.string(row)?,
            fga_per_game: fga.float64(row)?,
        })
    })
}

/// The columns of the composite factors the features use.
const COMPOSITE_COLUMNS: [&str; 6] = [
    "analysis_date",
    "player_lookup",
    "zone_matchup_factor",
    "pace_factor",
    "composite_adjustment",
    "data_quality_issues",
];

/// Reads the composite factor rows.
fn read_composites(batch: &ColumnBatch) -> Result<Vec<CompositeRow<'_>>, ProcessError> {
    let [date, player, zone, pace, composite, issues] = batch.columns(COMPOSITE_COLUMNS)?;
    batch.map_rows(|row| {
        Ok(CompositeRow {
            analysis_day: date.day(row)?,
            player_lookup: player.string(row)?,
            zone_matchup_factor: zone.optional_float64(row)?,
            pace_factor: pace.optional_float64(row)?,
            composite_adjustment: composite.float64(row)?,
            data_quality_issues: issues.strings(row)?,
        })
    })
}

/// The zone defence columns behind each zone's figure, in [`ZONES`] order.
const DEFENSE_ZONE_PREFIXES: [&str; 2] = ["opp_fg_pct_", "opp_attempt_share_"];

/// The columns of the team zone defence the features use: the date, the
/// team, then each prefix's zones.
fn defense_columns() -> Vec<String> {
    let zones = DEFENSE_ZONE_PREFIXES
        .iter()
        .flat_map(|prefix| ZONES.iter().map(move |zone| format!("{prefix}{zone}")));
    ["analysis_date".to_string(), "team_abbr".to_string()]
        .into_iter()
        .chain(zones)
        .collect()
}

/// Reads the team zone defence rows.
fn read_defenses(batch: &ColumnBatch) -> Result<Vec<DefenseRow<'_>>, ProcessError> {
    let [date, team] = batch.columns(["analysis_date", "team_abbr"])?;
    let zone_columns = |prefix: &str| {
        ZONES
            .iter()
            .map(|zone| batch.column(&format!("{prefix}{zone}")))
            .collect::<Result<Vec<_>, _>>()
    };
    let [pct, share] = [
        zone_columns(DEFENSE_ZONE_PREFIXES[0])?,
        zone_columns(DEFENSE_ZONE_PREFIXES[1])?,
    ];
    let zone_values = |row: usize, columns: &[&Column]| {
        let mut values = [None; 5];
        for (value, column) in values.iter_mut().zip(columns) {
            *value = column.optional_float64(row)?;
        }
        Ok::<_, ProcessError>(values)
    };
    batch.map_rows(|row| {
        Ok(DefenseRow {
            analysis_day: date.day(row)?,
            team_abbr: team.string(row)?,
            opp_fg_pct: zone_values(row, &pct)?,
            opp_attempt_share: zone_values(row, &share)?,
        })
    })
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
        DECLARATION.check_output(&values).unwrap();
        for (name, column) in features::FEATURE_NAMES
            .iter()
            .zip(&DECLARATION.fields()[5..17])
        {
            assert_eq!(*name, column.name, "features follow the schema's order");
        }
    }
}
