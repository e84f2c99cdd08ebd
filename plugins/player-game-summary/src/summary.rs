//! The processor's logic: box score lines in, per-player game summaries out.
//!
//! Plain Rust with no bindings, so it is unit-tested natively.

pub use basketball::{ZONES, ZoneShots};

/// One player's raw box score line for one game, its text borrowed from
/// the batch it was read from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoxScoreLine<'a> {
    /// The game, e.g. `20260111_BOS_NYK`.
    pub game_id: &'a str,
    /// The player's lookup key, e.g. `jaylenbrown`.
    pub player_lookup: &'a str,
    /// The player's display name.
    pub player_name: &'a str,
    /// The player's team.
    pub team_abbr: &'a str,
    /// The opposing team.
    pub opponent_abbr: &'a str,
    /// Whether the player's team was at home.
    pub is_home: bool,
    /// Minutes played.
    pub minutes: f64,
    /// Points scored.
    pub points: i64,
    /// Total rebounds.
    pub rebounds: i64,
    /// Assists.
    pub assists: i64,
    /// Turnovers.
    pub turnovers: i64,
    /// Free throws attempted.
    pub fta: i64,
    /// Free throws made.
    pub ftm: i64,
    /// Shots by zone, in [`ZONES`] order: restricted area, paint outside
    /// it, mid-range twos, corner threes, above-the-break threes.
    pub zones: [ZoneShots; 5],
}

/// The zones as an invalid line's error names them, in [`ZONES`] order.
const ZONE_NAMES: [&str; 5] = [
    "restricted_area",
    "paint",
    "mid_range",
    "corner_three",
    "above_break_three",
];

/// One row of `nba_analytics.player_game_summary`.
#[derive(Debug, Clone, PartialEq)]
pub struct GameSummary<'a> {
    /// The line this summary was made from.
    pub line: BoxScoreLine<'a>,
    /// All field goals attempted.
    pub fga: i64,
    /// All field goals made.
    pub fgm: i64,
    /// Three-pointers attempted.
    pub three_pa: i64,
    /// Three-pointers made.
    pub three_pm: i64,
    /// Field goal percentage, or `None` with no attempts.
    pub fg_pct: Option<f64>,
    /// True shooting percentage, or `None` with no shots at all.
    pub ts_pct: Option<f64>,
    /// Usage rate: the share of the team's possessions the player used
    /// while on the floor, in percent; `None` when either side played no minutes.
    pub usage_rate: Option<f64>,
}

fn possessions_used(fga: i64, fta: i64, turnovers: i64) -> f64 {
    fga as f64 + 0.44 * fta as f64 + turnovers as f64
}

/// Team totals used for usage rate: minutes, and possessions used.
#[derive(Default)]
struct TeamTotals {
    minutes: f64,
    possessions: f64,
}

/// Summarises every line, computing usage against the player's team totals
/// in the same game.
///
/// # Errors
/// A line whose makes exceed attempts, or whose points do not add up from
/// its makes, is invalid input: the message names the player and the game.
pub fn summarize<'a>(lines: &[BoxScoreLine<'a>]) -> Result<Vec<GameSummary<'a>>, String> {
    let mut team_totals: Vec<((&str, &str), TeamTotals)> = Vec::new();
    for line in lines {
        let fga: i64 = line.zones.iter().map(|z| z.attempts).sum();
        let key = (line.game_id, line.team_abbr);
        let position = match team_totals.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                team_totals.push((key, TeamTotals::default()));
                team_totals.len() - 1
            }
        };
        let totals = &mut team_totals[position].1;
        totals.minutes += line.minutes;
        totals.possessions += possessions_used(fga, line.fta, line.turnovers);
    }

    lines
        .iter()
        .map(|line| {
            let zones = line.zones;
            for (zone, shots) in ZONE_NAMES.iter().zip(zones) {
                if shots.makes > shots.attempts || shots.makes < 0 {
                    return Err(format!(
                        "{} in {}: {zone} makes {} exceed attempts {}",
                        line.player_lookup, line.game_id, shots.makes, shots.attempts
                    ));
                }
            }
            let fga: i64 = zones.iter().map(|z| z.attempts).sum();
            let fgm: i64 = zones.iter().map(|z| z.makes).sum();
            let [.., corner_three, above_break_three] = zones;
            let three_pa = corner_three.attempts + above_break_three.attempts;
            let three_pm = corner_three.makes + above_break_three.makes;
            let expected_points = 2 * (fgm - three_pm) + 3 * three_pm + line.ftm;
            if expected_points != line.points {
                return Err(format!(
                    "{} in {}: points {} do not add up from makes ({expected_points})",
                    line.player_lookup, line.game_id, line.points
                ));
            }
            let fg_pct = (fga > 0).then(|| fgm as f64 / fga as f64);
            let shots = fga as f64 + 0.44 * line.fta as f64;
            let ts_pct = (shots > 0.0).then(|| line.points as f64 / (2.0 * shots));
            let team = team_totals
                .iter()
                .find(|(k, _)| *k == (line.game_id, line.team_abbr))
                .map(|(_, t)| t)
                .expect("every line's team was totalled above");
            let usage_rate = (line.minutes > 0.0 && team.possessions > 0.0).then(|| {
                100.0 * possessions_used(fga, line.fta, line.turnovers) * (team.minutes / 5.0)
                    / (line.minutes * team.possessions)
            });
            Ok(GameSummary {
                line: line.clone(),
                fga,
                fgm,
                three_pa,
                three_pm,
                fg_pct,
                ts_pct,
                usage_rate,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(player: &str, minutes: f64, made_twos: i64, made_threes: i64) -> BoxScoreLine<'_> {
        let mut zones = [ZoneShots::default(); 5];
        zones[0] = ZoneShots {
            attempts: made_twos + 2,
            makes: made_twos,
        };
        zones[4] = ZoneShots {
            attempts: made_threes * 2,
            makes: made_threes,
        };
        BoxScoreLine {
            game_id: "20260111_BOS_NYK",
            player_lookup: player,
            team_abbr: "BOS",
            opponent_abbr: "NYK",
            minutes,
            points: 2 * made_twos + 3 * made_threes,
            zones,
            ..BoxScoreLine::default()
        }
    }

    #[test]
    fn field_goals_and_threes_add_up_from_zones() {
        let summary = &summarize(&[line("a", 30.0, 4, 2)]).unwrap()[0];
        assert_eq!((summary.fga, summary.fgm), (10, 6));
        assert_eq!((summary.three_pa, summary.three_pm), (4, 2));
        assert_eq!(summary.fg_pct, Some(0.6));
        assert_eq!(summary.ts_pct, Some(14.0 / 20.0));
    }

    #[test]
    fn usage_is_the_players_share_of_team_possessions_per_minute() {
        let summaries = summarize(&[line("a", 24.0, 4, 0), line("b", 24.0, 4, 0)]).unwrap();
        // Two identical players who split 48 minutes: team minutes / 5 = 9.6,
        // so each used 6 / 12 of the possessions in 24 of 9.6 "team-minutes".
        let usage = summaries[0].usage_rate.unwrap();
        assert!((usage - 100.0 * 6.0 * 9.6 / (24.0 * 12.0)).abs() < 1e-9);
        assert_eq!(summaries[0].usage_rate, summaries[1].usage_rate);
    }

    #[test]
    fn a_player_without_shots_has_no_percentages() {
        let summary = &summarize(&[line("a", 3.0, 0, 0)]).unwrap()[0];
        assert_eq!(summary.fg_pct, Some(0.0));
        let mut no_shots = line("b", 0.0, 0, 0);
        no_shots.zones[0] = ZoneShots::default();
        let summary = &summarize(&[no_shots]).unwrap()[0];
        assert_eq!(
            (summary.fg_pct, summary.ts_pct, summary.usage_rate),
            (None, None, None)
        );
    }

    #[test]
    fn makes_above_attempts_are_rejected_naming_player_and_zone() {
        let mut bad = line("a", 30.0, 1, 0);
        bad.zones[1] = ZoneShots {
            attempts: 1,
            makes: 2,
        };
        let error = summarize(&[bad]).unwrap_err();
        assert!(
            error.contains("a in 20260111_BOS_NYK: paint makes 2 exceed attempts 1"),
            "{error}"
        );
    }

    #[test]
    fn points_that_do_not_add_up_are_rejected() {
        let mut bad = line("a", 30.0, 1, 0);
        bad.points = 40;
        assert!(
            summarize(&[bad])
                .unwrap_err()
                .contains("points 40 do not add up")
        );
    }
}
