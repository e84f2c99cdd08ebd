//! The processor's logic: the precomputed tables of the analysis date in,
//! one feature vector per player who plays that day out, with the missing
//! inputs named and a quality tier.
//!
//! Dates are day numbers (days since 1970-01-01) so the logic stays plain
//! Rust, unit-tested natively. Only rows made for the analysis date itself
//! are used: a precompute of a later date, which has seen later games, can
//! never change a row.

/// The feature columns, in output order.
pub const FEATURE_NAMES: [&str; 12] = [
    "points_avg_last_5",
    "points_avg_last_10",
    "points_avg_season",
    "minutes_avg_last_10",
    "days_rest",
    "back_to_back",
    "games_in_last_7_days",
    "zone_matchup_factor",
    "pace_factor",
    "composite_adjustment",
    "fga_per_game",
    "opponent_def_rating",
];

/// Games played this season from which a vector can be `gold`.
pub const GOLD_MIN_GAMES: i64 = 10;

/// A player's row of `nba_precompute.player_daily_cache`: the columns used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheRow<'a> {
    /// The day number of the cache date.
    pub analysis_day: i64,
    /// The player's lookup key.
    pub player_lookup: &'a str,
    /// The player's team.
    pub team_abbr: &'a str,
    /// The team they face on the analysis date.
    pub opponent_abbr: &'a str,
    /// Games played this season before the analysis date.
    pub games_played: i64,
    /// Mean points over the last 5 games.
    pub points_avg_last_5: f64,
    /// Mean points over the last 10 games.
    pub points_avg_last_10: f64,
    /// Mean points this season.
    pub points_avg_season: f64,
    /// Mean minutes over the last 10 games.
    pub minutes_avg_last_10: f64,
    /// Full days off since the latest game.
    pub days_rest: i64,
    /// Whether the latest game was the day before.
    pub back_to_back: bool,
    /// Games in the 7 days before the analysis date.
    pub games_in_last_7_days: i64,
    /// The cache row's own issues.
    pub data_quality_issues: Vec<&'a str>,
}

/// A player's row of `nba_precompute.player_shot_zone_analysis`: the columns used.
#[derive(Debug, Clone, PartialEq)]
pub struct ShotZoneRow<'a> {
    /// The day number of the analysis date.
    pub analysis_day: i64,
    /// The player's lookup key.
    pub player_lookup: &'a str,
    /// Field goals attempted per game over the player's window.
    pub fga_per_game: f64,
}

/// A player's row of `nba_precompute.player_composite_factors`: the columns used.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeRow<'a> {
    /// The day number of the analysis date.
    pub analysis_day: i64,
    /// The player's lookup key.
    pub player_lookup: &'a str,
    /// The zone matchup factor, when known.
    pub zone_matchup_factor: Option<f64>,
    /// The pace factor, when known.
    pub pace_factor: Option<f64>,
    /// The composite adjustment.
    pub composite_adjustment: f64,
    /// The composite row's own issues.
    pub data_quality_issues: Vec<&'a str>,
}

/// A team's row of `nba_precompute.team_defense_zone_analysis`: the columns used.
#[derive(Debug, Clone, PartialEq)]
pub struct DefenseRow<'a> {
    /// The day number of the analysis date.
    pub analysis_day: i64,
    /// The defending team.
    pub team_abbr: &'a str,
    /// Opponents' FG% by zone.
    pub opp_fg_pct: [Option<f64>; 5],
    /// Each zone's share of opponents' attempts.
    pub opp_attempt_share: [Option<f64>; 5],
}

/// Every input row of the analysis date.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The daily cache rows: one per player who plays.
    pub cache: &'a [CacheRow<'a>],
    /// The shot zone rows.
    pub shot_zones: &'a [ShotZoneRow<'a>],
    /// The composite factor rows.
    pub composites: &'a [CompositeRow<'a>],
    /// The team zone defence rows.
    pub defenses: &'a [DefenseRow<'a>],
}

/// How much a feature vector can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualityTier {
    /// No missing feature, and at least [`GOLD_MIN_GAMES`] games played.
    Gold,
    /// At most one missing feature, or fewer than [`GOLD_MIN_GAMES`] games.
    Silver,
    /// More than one missing feature.
    Bronze,
}

impl QualityTier {
    /// The tier as stored: `gold`, `silver` or `bronze`.
    pub fn as_str(self) -> &'static str {
        match self {
            QualityTier::Gold => "gold",
            QualityTier::Silver => "silver",
            QualityTier::Bronze => "bronze",
        }
    }

    /// Bronze with more than one missing feature; otherwise gold with none
    /// missing and at least [`GOLD_MIN_GAMES`] games, silver if not.
    pub fn of(missing_features: usize, games_played: i64) -> QualityTier {
        match missing_features {
            0 if games_played >= GOLD_MIN_GAMES => QualityTier::Gold,
            0 | 1 => QualityTier::Silver,
            _ => QualityTier::Bronze,
        }
    }
}

/// One row of `nba_precompute.ml_feature_store`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRow {
    /// The player's lookup key.
    pub player_lookup: String,
    /// The player's team.
    pub team_abbr: String,
    /// The team they face on the analysis date.
    pub opponent_abbr: String,
    /// Games played this season before the analysis date.
    pub games_played: i64,
    /// The features, in [`FEATURE_NAMES`] order; `None` when missing.
    pub features: [Option<f64>; 12],
    /// How many features are present.
    pub feature_count: i64,
    /// The quality tier.
    pub quality_tier: QualityTier,
    /// The cache's and the composite's issues, then one per missing feature.
    pub data_quality_issues: Vec<String>,
}

/// The opponent's FG% allowed over all zones: each zone's FG% weighted by
/// its share of attempts, over the zones where both are known; `None` when
/// no zone has attempts.
pub fn opponent_def_rating(defense: &DefenseRow) -> Option<f64> {
    let (weighted, shares) = defense
        .opp_fg_pct
        .iter()
        .zip(&defense.opp_attempt_share)
        .filter_map(|(pct, share)| pct.zip(*share))
        .fold((0.0, 0.0), |(w, s), (pct, share)| {
            (w + pct * share, s + share)
        });
    (shares > 0.0).then(|| weighted / shares)
}

fn push_unique(issues: &mut Vec<String>, issue: String) {
    if !issues.contains(&issue) {
        issues.push(issue);
    }
}

/// Builds one feature vector per player in the daily cache of
/// `analysis_day`, in player order. Rows made for any other day are ignored.
pub fn build(analysis_day: i64, inputs: Inputs<'_>) -> Vec<FeatureRow> {
    let mut cache: Vec<&CacheRow> = inputs
        .cache
        .iter()
        .filter(|c| c.analysis_day == analysis_day)
        .collect();
    cache.sort_by(|a, b| a.player_lookup.cmp(b.player_lookup));
    cache
        .into_iter()
        .map(|c| {
            let player = c.player_lookup;
            let composite = inputs
                .composites
                .iter()
                .find(|r| r.analysis_day == analysis_day && r.player_lookup == player);
            let shots = inputs
                .shot_zones
                .iter()
                .find(|r| r.analysis_day == analysis_day && r.player_lookup == player);
            let defense = inputs
                .defenses
                .iter()
                .find(|r| r.analysis_day == analysis_day && r.team_abbr == c.opponent_abbr);

            let mut issues = Vec::new();
            for issue in c.data_quality_issues.iter().chain(
                composite
                    .map(|r| r.data_quality_issues.as_slice())
                    .unwrap_or_default(),
            ) {
                push_unique(&mut issues, issue.to_string());
            }

            let no_composite = "no player_composite_factors row";
            let (zone, pace, composite_adjustment) = match composite {
                Some(r) => (
                    r.zone_matchup_factor
                        .ok_or("null in player_composite_factors"),
                    r.pace_factor.ok_or("null in player_composite_factors"),
                    Ok(r.composite_adjustment),
                ),
                None => (Err(no_composite), Err(no_composite), Err(no_composite)),
            };
            let fga_per_game = shots
                .map(|s| s.fga_per_game)
                .ok_or_else(|| "no player_shot_zone_analysis row".to_string());
            let def_rating = match defense {
                Some(d) => opponent_def_rating(d).ok_or_else(|| {
                    format!("no opponent attempts in {}'s zone defense", c.opponent_abbr)
                }),
                None => Err(format!(
                    "no team_defense_zone_analysis row for opponent {}",
                    c.opponent_abbr
                )),
            };
            let sourced: [Result<f64, String>; 12] = [
                Ok(c.points_avg_last_5),
                Ok(c.points_avg_last_10),
                Ok(c.points_avg_season),
                Ok(c.minutes_avg_last_10),
                Ok(c.days_rest as f64),
                Ok(if c.back_to_back { 1.0 } else { 0.0 }),
                Ok(c.games_in_last_7_days as f64),
                zone.map_err(str::to_string),
                pace.map_err(str::to_string),
                composite_adjustment.map_err(str::to_string),
                fga_per_game,
                def_rating,
            ];
            let mut features = [None; 12];
            let mut missing = 0;
            for ((feature, value), name) in features.iter_mut().zip(sourced).zip(FEATURE_NAMES) {
                match value {
                    // The host refuses non-finite floats: treat them as missing.
                    Ok(v) if v.is_finite() => *feature = Some(v),
                    Ok(_) => {
                        missing += 1;
                        push_unique(&mut issues, format!("missing feature {name}: not finite"));
                    }
                    Err(why) => {
                        missing += 1;
                        push_unique(&mut issues, format!("missing feature {name}: {why}"));
                    }
                }
            }
            FeatureRow {
                player_lookup: c.player_lookup.to_string(),
                team_abbr: c.team_abbr.to_string(),
                opponent_abbr: c.opponent_abbr.to_string(),
                games_played: c.games_played,
                features,
                feature_count: (FEATURE_NAMES.len() - missing) as i64,
                quality_tier: QualityTier::of(missing, c.games_played),
                data_quality_issues: issues,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 110;

    fn cache(player: &'static str, games_played: i64) -> CacheRow<'static> {
        CacheRow {
            analysis_day: DAY,
            player_lookup: player,
            team_abbr: "BOS",
            opponent_abbr: "NYK",
            games_played,
            points_avg_last_5: 20.0,
            points_avg_last_10: 18.0,
            points_avg_season: 17.0,
            minutes_avg_last_10: 32.0,
            days_rest: 0,
            back_to_back: true,
            games_in_last_7_days: 4,
            data_quality_issues: vec![],
        }
    }

    fn shots(player: &'static str) -> ShotZoneRow<'static> {
        ShotZoneRow {
            analysis_day: DAY,
            player_lookup: player,
            fga_per_game: 15.0,
        }
    }

    fn composite(player: &'static str) -> CompositeRow<'static> {
        CompositeRow {
            analysis_day: DAY,
            player_lookup: player,
            zone_matchup_factor: Some(0.02),
            pace_factor: Some(1.01),
            composite_adjustment: 0.985,
            data_quality_issues: vec![],
        }
    }

    /// New York allows 60% at the rim on 40% of attempts, 30% above the
    /// break on 60%: 0.42 overall.
    fn new_york() -> DefenseRow<'static> {
        DefenseRow {
            analysis_day: DAY,
            team_abbr: "NYK",
            opp_fg_pct: [Some(0.6), None, None, None, Some(0.3)],
            opp_attempt_share: [Some(0.4), Some(0.0), Some(0.0), Some(0.0), Some(0.6)],
        }
    }

    struct Owned {
        cache: Vec<CacheRow<'static>>,
        shot_zones: Vec<ShotZoneRow<'static>>,
        composites: Vec<CompositeRow<'static>>,
        defenses: Vec<DefenseRow<'static>>,
    }

    impl Owned {
        fn complete(games_played: i64) -> Owned {
            Owned {
                cache: vec![cache("a", games_played)],
                shot_zones: vec![shots("a")],
                composites: vec![composite("a")],
                defenses: vec![new_york()],
            }
        }

        fn build(&self) -> Vec<FeatureRow> {
            build(
                DAY,
                Inputs {
                    cache: &self.cache,
                    shot_zones: &self.shot_zones,
                    composites: &self.composites,
                    defenses: &self.defenses,
                },
            )
        }
    }

    #[test]
    fn a_complete_vector_carries_every_feature_in_order() {
        let row = &Owned::complete(12).build()[0];
        let features = row.features.map(Option::unwrap);
        assert_eq!(features[..7], [20.0, 18.0, 17.0, 32.0, 0.0, 1.0, 4.0]);
        assert_eq!(features[7..11], [0.02, 1.01, 0.985, 15.0]);
        assert!((features[11] - 0.42).abs() < 1e-12);
        assert_eq!(row.feature_count, 12);
        assert_eq!(
            (row.team_abbr.as_str(), row.opponent_abbr.as_str()),
            ("BOS", "NYK")
        );
        assert!(row.data_quality_issues.is_empty());
    }

    #[test]
    fn the_opponent_rating_weighs_zone_accuracy_by_attempt_share() {
        assert!((opponent_def_rating(&new_york()).unwrap() - 0.42).abs() < 1e-12);
        let no_attempts = DefenseRow {
            opp_fg_pct: [None; 5],
            opp_attempt_share: [None; 5],
            ..new_york()
        };
        assert_eq!(opponent_def_rating(&no_attempts), None);
    }

    #[test]
    fn gold_needs_every_feature_and_ten_games() {
        assert_eq!(
            Owned::complete(10).build()[0].quality_tier,
            QualityTier::Gold
        );
        assert_eq!(
            Owned::complete(9).build()[0].quality_tier,
            QualityTier::Silver
        );
    }

    #[test]
    fn one_missing_feature_is_silver_and_more_are_bronze() {
        let mut inputs = Owned::complete(20);
        inputs.shot_zones.clear();
        let row = &inputs.build()[0];
        assert_eq!(row.features[10], None);
        assert_eq!(
            (row.feature_count, row.quality_tier),
            (11, QualityTier::Silver)
        );
        assert_eq!(
            row.data_quality_issues,
            ["missing feature fga_per_game: no player_shot_zone_analysis row"]
        );
        inputs.composites.clear();
        let row = &inputs.build()[0];
        assert_eq!(
            (row.feature_count, row.quality_tier),
            (8, QualityTier::Bronze)
        );
        assert_eq!(row.features[7..10], [None, None, None]);
    }

    #[test]
    fn null_factors_are_missing_features_named_with_the_reason() {
        let mut inputs = Owned::complete(20);
        inputs.composites[0].zone_matchup_factor = None;
        inputs.composites[0].data_quality_issues = vec!["no shot zone row for player"];
        inputs.defenses.clear();
        let row = &inputs.build()[0];
        assert_eq!(
            row.data_quality_issues,
            [
                "no shot zone row for player",
                "missing feature zone_matchup_factor: null in player_composite_factors",
                "missing feature opponent_def_rating: no team_defense_zone_analysis row for opponent NYK",
            ]
        );
        assert_eq!(row.quality_tier, QualityTier::Bronze);
    }

    #[test]
    fn issues_from_the_cache_and_the_composite_are_carried_once() {
        let mut inputs = Owned::complete(3);
        let gap =
            "lookback gap: PlayerGameSummaryProcessor has no rows for scheduled date 2026-01-06";
        inputs.cache[0].data_quality_issues = vec!["only 3 games played, fewer than 5", gap];
        inputs.composites[0].data_quality_issues = vec![gap];
        let row = &inputs.build()[0];
        assert_eq!(
            row.data_quality_issues,
            ["only 3 games played, fewer than 5", gap]
        );
        assert_eq!(row.quality_tier, QualityTier::Silver);
    }

    #[test]
    fn non_finite_inputs_become_missing_features() {
        let mut inputs = Owned::complete(20);
        inputs.shot_zones[0].fga_per_game = f64::NAN;
        let row = &inputs.build()[0];
        assert_eq!(row.features[10], None);
        assert_eq!(
            row.data_quality_issues,
            ["missing feature fga_per_game: not finite"]
        );
    }

    #[test]
    fn only_players_in_the_daily_cache_get_a_vector() {
        let mut inputs = Owned::complete(20);
        inputs.shot_zones.push(shots("b"));
        inputs.composites.push(composite("b"));
        inputs.cache.insert(0, cache("c", 4));
        let players: Vec<String> = inputs
            .build()
            .into_iter()
            .map(|r| r.player_lookup)
            .collect();
        assert_eq!(players, ["a", "c"]);
    }

    #[test]
    fn games_on_or_after_the_analysis_date_never_change_a_row() {
        // Later precomputes have seen games on or after the analysis date.
        let past = Owned::complete(12);
        let mut future = Owned::complete(12);
        future.cache.insert(
            0,
            CacheRow {
                analysis_day: DAY + 1,
                points_avg_last_5: 40.0,
                ..cache("a", 13)
            },
        );
        future.cache.push(CacheRow {
            analysis_day: DAY + 1,
            ..cache("z", 1)
        });
        future.shot_zones.insert(
            0,
            ShotZoneRow {
                analysis_day: DAY + 1,
                fga_per_game: 30.0,
                ..shots("a")
            },
        );
        future.composites.insert(
            0,
            CompositeRow {
                analysis_day: DAY + 1,
                zone_matchup_factor: None,
                ..composite("a")
            },
        );
        future.defenses.insert(
            0,
            DefenseRow {
                analysis_day: DAY + 1,
                opp_fg_pct: [Some(0.9); 5],
                ..new_york()
            },
        );
        assert_eq!(past.build(), future.build());
    }
}
