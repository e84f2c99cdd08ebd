//! The processor's logic: feature vectors, prop lines and the schedule of
//! the analysis date in; one points prediction per player out.
//!
//! - The projection is a recency-weighted points average times the
//!   composite adjustment ([`projected_points`]).
//! - The line is the sportsbook's when one was posted (`ODDS`), otherwise
//!   the season average rounded to the nearest half point (`ESTIMATED`).
//! - The recommendation is `OVER` or `UNDER` when the projection is at least
//!   [`MIN_EDGE`] points from the line, else `PASS`; the confidence grows
//!   with the edge and shrinks with the quality tier and an estimated line.
//!
//! Dates are day numbers (days since 1970-01-01) so the logic stays plain
//! Rust, unit-tested natively. Only rows of the analysis date itself are used.

/// The weights of the last-5, last-10 and season points averages in the
/// projection's baseline.
pub const AVERAGE_WEIGHTS: [f64; 3] = [0.5, 0.3, 0.2];

/// Points between projection and line from which a side is recommended.
pub const MIN_EDGE: f64 = 1.5;

/// Points of edge at which the confidence, before discounts, reaches 1.
pub const FULL_CONFIDENCE_EDGE: f64 = 6.0;

/// The confidence multiplier when the line is estimated, not posted.
pub const ESTIMATED_LINE_DISCOUNT: f64 = 0.8;

/// The issue recorded when no sportsbook posted a line.
pub const ESTIMATED_LINE_ISSUE: &str =
    "no prop line posted: line estimated from the season average";

/// A player's row of `nba_precompute.ml_feature_store`: the columns used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureVector<'a> {
    /// The day number of the analysis date.
    pub analysis_day: i64,
    /// The player's lookup key.
    pub player_lookup: &'a str,
    /// The player's team.
    pub team_abbr: &'a str,
    /// The team they face.
    pub opponent_abbr: &'a str,
    /// Mean points over the last 5 games, when known.
    pub points_avg_last_5: Option<f64>,
    /// Mean points over the last 10 games, when known.
    pub points_avg_last_10: Option<f64>,
    /// Mean points this season, when known.
    pub points_avg_season: Option<f64>,
    /// The composite adjustment, when known.
    pub composite_adjustment: Option<f64>,
    /// `gold`, `silver` or `bronze`.
    pub quality_tier: &'a str,
    /// The feature vector's issues.
    pub data_quality_issues: Vec<&'a str>,
}

/// A posted points line, from `nba_raw.prop_lines`.
#[derive(Debug, Clone, PartialEq)]
pub struct PropLine<'a> {
    /// The day number of the game.
    pub game_day: i64,
    /// The player's lookup key.
    pub player_lookup: &'a str,
    /// The sportsbook that posted it.
    pub sportsbook: &'a str,
    /// The points line.
    pub points_line: f64,
}

/// A game on the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledGame<'a> {
    /// The day number of the game.
    pub game_day: i64,
    /// The game id.
    pub game_id: &'a str,
    /// The home team.
    pub home_team: &'a str,
    /// The away team.
    pub away_team: &'a str,
}

/// Where a prediction's line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSource {
    /// Posted by a sportsbook.
    Odds,
    /// The season average, rounded to the nearest half point.
    Estimated,
}

impl LineSource {
    /// As stored: `ODDS` or `ESTIMATED`.
    pub fn as_str(self) -> &'static str {
        match self {
            LineSource::Odds => "ODDS",
            LineSource::Estimated => "ESTIMATED",
        }
    }
}

/// Which side of the line to take, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recommendation {
    /// The projection is at least [`MIN_EDGE`] above the line.
    Over,
    /// The projection is at least [`MIN_EDGE`] below the line.
    Under,
    /// Too close to call, or no projection or line.
    Pass,
}

impl Recommendation {
    /// As stored: `OVER`, `UNDER` or `PASS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Recommendation::Over => "OVER",
            Recommendation::Under => "UNDER",
            Recommendation::Pass => "PASS",
        }
    }
}

/// One row of `nba_predictions.points_predictions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The player's lookup key.
    pub player_lookup: String,
    /// The game the player's team plays on the analysis date.
    pub game_id: String,
    /// The player's team.
    pub team_abbr: String,
    /// The team they face.
    pub opponent_abbr: String,
    /// See [`projected_points`]; `None` without any points average.
    pub projected_points: Option<f64>,
    /// The line; `None` only when estimated and there is no season average.
    pub prop_line: Option<f64>,
    /// Where the line comes from.
    pub line_source: LineSource,
    /// The sportsbook of a posted line; `None` when estimated.
    pub sportsbook: Option<String>,
    /// Which side to take.
    pub recommendation: Recommendation,
    /// `projected_points - prop_line`; `None` when either is.
    pub edge: Option<f64>,
    /// See [`confidence`]; in [0, 1].
    pub confidence: f64,
    /// The feature vector's quality tier.
    pub quality_tier: String,
    /// The feature vector's issues, then this prediction's own.
    pub data_quality_issues: Vec<String>,
}

/// The baseline, the last-5, last-10 and season points averages weighted
/// by [`AVERAGE_WEIGHTS`] (the weights of the known ones, rescaled to sum
/// to 1), times the composite adjustment (1 when unknown). `None` without
/// any points average.
pub fn projected_points(features: &FeatureVector<'_>) -> Option<f64> {
    let averages = [
        features.points_avg_last_5,
        features.points_avg_last_10,
        features.points_avg_season,
    ];
    let (sum, weights) = averages
        .iter()
        .zip(AVERAGE_WEIGHTS)
        .filter_map(|(average, weight)| average.map(|a| (a * weight, weight)))
        .fold((0.0, 0.0), |(s, w), (v, weight)| (s + v, w + weight));
    let baseline = (weights > 0.0).then(|| sum / weights)?;
    let projected = baseline * features.composite_adjustment.unwrap_or(1.0);
    projected.is_finite().then_some(projected)
}

/// The season average rounded to the nearest half point: 17.3 → 17.5.
pub fn estimated_line(points_avg_season: f64) -> f64 {
    (points_avg_season * 2.0).round() / 2.0
}

/// `OVER` or `UNDER` when `edge` is at least [`MIN_EDGE`] either way, else `PASS`.
pub fn recommend(edge: Option<f64>) -> Recommendation {
    match edge {
        Some(e) if e >= MIN_EDGE => Recommendation::Over,
        Some(e) if e <= -MIN_EDGE => Recommendation::Under,
        _ => Recommendation::Pass,
    }
}

/// `min(|edge| / FULL_CONFIDENCE_EDGE, 1)` times the tier's weight (gold 1,
/// silver 0.75, anything else 0.5), times [`ESTIMATED_LINE_DISCOUNT`] for an
/// estimated line; 0 without an edge. Always in [0, 1].
pub fn confidence(edge: Option<f64>, quality_tier: &str, source: LineSource) -> f64 {
    let Some(edge) = edge.filter(|e| e.is_finite()) else {
        return 0.0;
    };
    let tier = match quality_tier {
        "gold" => 1.0,
        "silver" => 0.75,
        _ => 0.5,
    };
    let source = match source {
        LineSource::Odds => 1.0,
        LineSource::Estimated => ESTIMATED_LINE_DISCOUNT,
    };
    ((edge.abs() / FULL_CONFIDENCE_EDGE).min(1.0) * tier * source).clamp(0.0, 1.0)
}

/// The posted line for `player` on `analysis_day`: when several sportsbooks
/// posted one, the alphabetically first sportsbook's.
fn posted_line<'l, 'a>(
    analysis_day: i64,
    player: &str,
    lines: &'l [PropLine<'a>],
) -> Option<&'l PropLine<'a>> {
    lines
        .iter()
        .filter(|l| l.game_day == analysis_day && l.player_lookup == player)
        .filter(|l| l.points_line.is_finite())
        .min_by(|a, b| {
            a.sportsbook
                .cmp(b.sportsbook)
                .then(a.points_line.total_cmp(&b.points_line))
        })
}

/// Predicts for every feature vector of `analysis_day`, in player order.
/// Vectors, lines and games of other days are ignored.
///
/// # Errors
/// A vector whose team has no game on `analysis_day` (the feature store and
/// the schedule disagree); the message names the teams and players.
pub fn predict(
    analysis_day: i64,
    vectors: &[FeatureVector<'_>],
    lines: &[PropLine<'_>],
    schedule: &[ScheduledGame<'_>],
) -> Result<Vec<Prediction>, String> {
    let mut vectors: Vec<&FeatureVector<'_>> = vectors
        .iter()
        .filter(|v| v.analysis_day == analysis_day)
        .collect();
    vectors.sort_by(|a, b| a.player_lookup.cmp(b.player_lookup));
    let mut unscheduled = Vec::new();
    let mut predictions = Vec::new();
    for v in vectors {
        let game = schedule.iter().find(|g| {
            g.game_day == analysis_day && (g.home_team == v.team_abbr || g.away_team == v.team_abbr)
        });
        let Some(game) = game else {
            unscheduled.push(format!("{} ({})", v.team_abbr, v.player_lookup));
            continue;
        };
        let mut issues: Vec<String> = v
            .data_quality_issues
            .iter()
            .map(|i| i.to_string())
            .collect();
        let projected = projected_points(v);
        if projected.is_none() {
            issues.push("no projection: no points average".to_string());
        }
        let (prop_line, line_source, sportsbook) =
            match posted_line(analysis_day, v.player_lookup, lines) {
                Some(line) => (
                    Some(line.points_line),
                    LineSource::Odds,
                    Some(line.sportsbook.to_string()),
                ),
                None => {
                    issues.push(ESTIMATED_LINE_ISSUE.to_string());
                    let estimated = v
                        .points_avg_season
                        .map(estimated_line)
                        .filter(|l| l.is_finite());
                    (estimated, LineSource::Estimated, None)
                }
            };
        let edge = projected
            .zip(prop_line)
            .map(|(p, l)| p - l)
            .filter(|e| e.is_finite());
        predictions.push(Prediction {
            player_lookup: v.player_lookup.to_string(),
            game_id: game.game_id.to_string(),
            team_abbr: v.team_abbr.to_string(),
            opponent_abbr: v.opponent_abbr.to_string(),
            projected_points: projected,
            prop_line,
            line_source,
            sportsbook,
            recommendation: recommend(edge),
            edge,
            confidence: confidence(edge, v.quality_tier, line_source),
            quality_tier: v.quality_tier.to_string(),
            data_quality_issues: issues,
        });
    }
    if unscheduled.is_empty() {
        Ok(predictions)
    } else {
        Err(format!(
            "no scheduled game on the analysis date for {}",
            unscheduled.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 110;

    fn vector(player: &'static str, averages: [f64; 3], composite: f64) -> FeatureVector<'static> {
        FeatureVector {
            analysis_day: DAY,
            player_lookup: player,
            team_abbr: "BOS",
            opponent_abbr: "NYK",
            points_avg_last_5: Some(averages[0]),
            points_avg_last_10: Some(averages[1]),
            points_avg_season: Some(averages[2]),
            composite_adjustment: Some(composite),
            quality_tier: "gold",
            data_quality_issues: vec![],
        }
    }

    fn line(player: &'static str, sportsbook: &'static str, points: f64) -> PropLine<'static> {
        PropLine {
            game_day: DAY,
            player_lookup: player,
            sportsbook,
            points_line: points,
        }
    }

    fn boston_hosts_new_york() -> Vec<ScheduledGame<'static>> {
        vec![ScheduledGame {
            game_day: DAY,
            game_id: "20260111_NYK_BOS",
            home_team: "BOS",
            away_team: "NYK",
        }]
    }

    #[test]
    fn the_projection_weighs_recent_form_and_applies_the_composite() {
        let v = vector("a", [20.0, 18.0, 16.0], 1.1);
        let expected = (0.5 * 20.0 + 0.3 * 18.0 + 0.2 * 16.0) * 1.1;
        assert!((projected_points(&v).unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn missing_averages_rescale_the_weights_and_none_means_no_projection() {
        let mut v = vector("a", [20.0, 18.0, 16.0], 1.0);
        v.points_avg_last_5 = None;
        v.composite_adjustment = None;
        let expected = (0.3 * 18.0 + 0.2 * 16.0) / 0.5;
        assert!((projected_points(&v).unwrap() - expected).abs() < 1e-12);
        v.points_avg_last_10 = None;
        v.points_avg_season = None;
        assert_eq!(projected_points(&v), None);
        let p = &predict(DAY, &[v], &[], &boston_hosts_new_york()).unwrap()[0];
        assert_eq!(
            (p.projected_points, p.prop_line, p.edge),
            (None, None, None)
        );
        assert_eq!(
            (p.recommendation, p.confidence),
            (Recommendation::Pass, 0.0)
        );
    }

    #[test]
    fn a_posted_line_is_used_with_its_sportsbook() {
        let vectors = [vector("a", [20.0, 20.0, 20.0], 1.0)];
        let lines = [line("a", "FanDuel", 17.5), line("b", "BetMGM", 9.5)];
        let p = &predict(DAY, &vectors, &lines, &boston_hosts_new_york()).unwrap()[0];
        assert_eq!(p.line_source, LineSource::Odds);
        assert_eq!(p.sportsbook.as_deref(), Some("FanDuel"));
        assert_eq!(p.prop_line, Some(17.5));
        assert_eq!(p.edge, Some(2.5));
        assert_eq!(p.recommendation, Recommendation::Over);
        assert_eq!(p.game_id, "20260111_NYK_BOS");
        assert!(p.data_quality_issues.is_empty());
    }

    #[test]
    fn without_a_posted_line_the_season_average_is_the_line_and_the_sportsbook_is_null() {
        let vectors = [vector("a", [20.0, 20.0, 17.3], 1.0)];
        let lines = [line("b", "BetMGM", 9.5)];
        let p = &predict(DAY, &vectors, &lines, &boston_hosts_new_york()).unwrap()[0];
        assert_eq!(p.line_source, LineSource::Estimated);
        assert_eq!(p.sportsbook, None);
        assert_eq!(p.prop_line, Some(17.5));
        assert_eq!(p.data_quality_issues, [ESTIMATED_LINE_ISSUE]);
    }

    #[test]
    fn estimated_lines_round_to_the_nearest_half_point() {
        assert_eq!(estimated_line(17.3), 17.5);
        assert_eq!(estimated_line(17.2), 17.0);
        assert_eq!(estimated_line(17.75), 18.0);
        assert_eq!(estimated_line(0.0), 0.0);
    }

    #[test]
    fn several_sportsbooks_resolve_to_the_alphabetically_first() {
        let vectors = [vector("a", [20.0, 20.0, 20.0], 1.0)];
        let lines = [line("a", "FanDuel", 18.5), line("a", "BetMGM", 19.5)];
        let p = &predict(DAY, &vectors, &lines, &boston_hosts_new_york()).unwrap()[0];
        assert_eq!(
            (p.sportsbook.as_deref(), p.prop_line),
            (Some("BetMGM"), Some(19.5))
        );
    }

    #[test]
    fn small_edges_pass_and_large_ones_pick_a_side() {
        assert_eq!(recommend(Some(1.49)), Recommendation::Pass);
        assert_eq!(recommend(Some(-1.49)), Recommendation::Pass);
        assert_eq!(recommend(Some(1.5)), Recommendation::Over);
        assert_eq!(recommend(Some(-3.0)), Recommendation::Under);
        assert_eq!(recommend(None), Recommendation::Pass);
    }

    #[test]
    fn confidence_grows_with_the_edge_and_shrinks_with_tier_and_estimates() {
        assert_eq!(confidence(Some(3.0), "gold", LineSource::Odds), 0.5);
        assert_eq!(confidence(Some(-12.0), "gold", LineSource::Odds), 1.0);
        assert_eq!(confidence(Some(6.0), "silver", LineSource::Odds), 0.75);
        assert_eq!(confidence(Some(6.0), "bronze", LineSource::Odds), 0.5);
        assert!((confidence(Some(6.0), "gold", LineSource::Estimated) - 0.8).abs() < 1e-12);
        assert_eq!(confidence(None, "gold", LineSource::Odds), 0.0);
        assert_eq!(confidence(Some(f64::NAN), "gold", LineSource::Odds), 0.0);
    }

    #[test]
    fn a_player_whose_team_has_no_game_is_an_error_naming_them() {
        let mut v = vector("a", [20.0, 20.0, 20.0], 1.0);
        v.team_abbr = "LAL";
        let error = predict(DAY, &[v], &[], &boston_hosts_new_york()).unwrap_err();
        assert_eq!(error, "no scheduled game on the analysis date for LAL (a)");
    }

    #[test]
    fn vectors_lines_and_games_of_other_dates_never_change_a_prediction() {
        let vectors = vec![vector("a", [20.0, 20.0, 20.0], 1.0)];
        let lines = vec![line("a", "FanDuel", 17.5)];
        let schedule = boston_hosts_new_york();
        let mut later_vectors = vectors.clone();
        later_vectors.insert(
            0,
            FeatureVector {
                analysis_day: DAY + 1,
                ..vector("a", [40.0, 40.0, 40.0], 1.2)
            },
        );
        let mut later_lines = lines.clone();
        later_lines.insert(
            0,
            PropLine {
                game_day: DAY + 1,
                ..line("a", "BetMGM", 30.5)
            },
        );
        let mut later_schedule = schedule.clone();
        later_schedule.insert(
            0,
            ScheduledGame {
                game_day: DAY + 1,
                game_id: "later",
                ..schedule[0].clone()
            },
        );
        assert_eq!(
            predict(DAY, &vectors, &lines, &schedule),
            predict(DAY, &later_vectors, &later_lines, &later_schedule)
        );
    }
}
