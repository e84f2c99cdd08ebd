//! The processor's logic: past team defence summaries in, one row per team
//! with the shots it allowed by court zone over its last 15 games, against
//! the league over the same windows.
//!
//! Dates are day numbers (days since 1970-01-01) so the logic stays plain
//! Rust, unit-tested natively. Only games strictly before the analysis date
//! are used: nothing on or after it can change a row.

use std::collections::BTreeMap;

pub use basketball::{ZONES, ZoneShots};

/// How many of a team's most recent games make its window.
pub const WINDOW_GAMES: usize = 15;

/// One past game of one team, from `nba_analytics.team_defense_game_summary`.
#[derive(Debug, Clone, PartialEq)]
pub struct DefenseGame<'a> {
    /// The defending team.
    pub team_abbr: &'a str,
    /// The game, to order games played on the same day.
    pub game_id: &'a str,
    /// The day number of the game.
    pub game_day: i64,
    /// The opponent's shots by zone, in [`ZONES`] order.
    pub opponent_zones: [ZoneShots; 5],
}

/// How a team defended one zone over its window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ZoneDefense {
    /// Opponents' makes / attempts in the zone; `None` without attempts.
    pub opp_fg_pct: Option<f64>,
    /// The zone's share of all opponent attempts; `None` without any attempt.
    pub opp_attempt_share: Option<f64>,
    /// Every team's opponents' makes / attempts in the zone, pooled over
    /// every team's window; `None` when the league has no attempts there.
    pub league_fg_pct: Option<f64>,
    /// `opp_fg_pct - league_fg_pct`; `None` when either is `None`.
    pub fg_pct_vs_league: Option<f64>,
}

/// One row of `nba_precompute.team_defense_zone_analysis`.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamZoneRow {
    /// The team.
    pub team_abbr: String,
    /// Games in its window: its last [`WINDOW_GAMES`] before the analysis
    /// date, fewer if it played fewer.
    pub games_in_window: i64,
    /// The zones, in [`ZONES`] order.
    pub zones: [ZoneDefense; 5],
}

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Builds one row per team with at least one game before `analysis_day`, in
/// team order. Games on or after `analysis_day` are ignored.
pub fn analyze(analysis_day: i64, games: &[DefenseGame<'_>]) -> Vec<TeamZoneRow> {
    let mut by_team: BTreeMap<&str, Vec<&DefenseGame<'_>>> = BTreeMap::new();
    for game in games.iter().filter(|g| g.game_day < analysis_day) {
        by_team.entry(game.team_abbr).or_default().push(game);
    }
    let windows: Vec<(&str, Vec<&DefenseGame<'_>>)> = by_team
        .into_iter()
        .map(|(team, mut played)| {
            played.sort_by(|a, b| (b.game_day, &b.game_id).cmp(&(a.game_day, &a.game_id)));
            played.truncate(WINDOW_GAMES);
            (team, played)
        })
        .collect();
    let totals = |window: &[&DefenseGame<'_>]| {
        let mut zones = [ZoneShots::default(); 5];
        for game in window {
            for (total, shots) in zones.iter_mut().zip(game.opponent_zones) {
                total.attempts += shots.attempts;
                total.makes += shots.makes;
            }
        }
        zones
    };
    let mut league = [ZoneShots::default(); 5];
    for (_, window) in &windows {
        for (total, shots) in league.iter_mut().zip(totals(window)) {
            total.attempts += shots.attempts;
            total.makes += shots.makes;
        }
    }
    windows
        .into_iter()
        .map(|(team, window)| {
            let allowed = totals(&window);
            let all_attempts: i64 = allowed.iter().map(|z| z.attempts).sum();
            let mut zones = [ZoneDefense::default(); 5];
            for ((zone, shots), league) in zones.iter_mut().zip(allowed).zip(league) {
                let opp_fg_pct = ratio(shots.makes, shots.attempts);
                let league_fg_pct = ratio(league.makes, league.attempts);
                *zone = ZoneDefense {
                    opp_fg_pct,
                    opp_attempt_share: ratio(shots.attempts, all_attempts),
                    league_fg_pct,
                    fg_pct_vs_league: opp_fg_pct.zip(league_fg_pct).map(|(o, l)| o - l),
                };
            }
            TeamZoneRow {
                team_abbr: team.to_string(),
                games_in_window: window.len() as i64,
                zones,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A game where the opponent shot `ra` (attempts, makes) at the rim and
    /// `atb3` above the break, nothing elsewhere.
    /// Its game id is the team's: a team plays once a day.
    fn game(team: &str, day: i64, ra: (i64, i64), atb3: (i64, i64)) -> DefenseGame<'_> {
        let mut opponent_zones = [ZoneShots::default(); 5];
        opponent_zones[0] = ZoneShots {
            attempts: ra.0,
            makes: ra.1,
        };
        opponent_zones[4] = ZoneShots {
            attempts: atb3.0,
            makes: atb3.1,
        };
        DefenseGame {
            team_abbr: team,
            game_id: team,
            game_day: day,
            opponent_zones,
        }
    }

    fn row<'a>(rows: &'a [TeamZoneRow], team: &str) -> &'a TeamZoneRow {
        rows.iter().find(|r| r.team_abbr == team).unwrap()
    }

    #[test]
    fn opponent_accuracy_and_shot_mix_are_pooled_over_the_window() {
        let games = [
            game("BOS", 100, (20, 10), (30, 9)),
            game("BOS", 102, (20, 14), (10, 3)),
        ];
        let rows = analyze(110, &games);
        let boston = row(&rows, "BOS");
        assert_eq!(boston.games_in_window, 2);
        assert_eq!(boston.zones[0].opp_fg_pct, Some(24.0 / 40.0));
        assert_eq!(boston.zones[4].opp_fg_pct, Some(12.0 / 40.0));
        assert_eq!(boston.zones[0].opp_attempt_share, Some(0.5));
        assert_eq!(boston.zones[4].opp_attempt_share, Some(0.5));
        assert_eq!(boston.zones[2].opp_attempt_share, Some(0.0));
    }

    #[test]
    fn the_window_is_each_teams_last_fifteen_games() {
        // Sixteen games: the oldest, with every shot made, falls out.
        let mut games = vec![game("BOS", 100, (10, 10), (0, 0))];
        games.extend((1..=15).map(|d| game("BOS", 100 + d, (10, 5), (0, 0))));
        let boston = row(&analyze(200, &games), "BOS").clone();
        assert_eq!(boston.games_in_window, 15);
        assert_eq!(boston.zones[0].opp_fg_pct, Some(0.5));
    }

    #[test]
    fn the_league_pools_every_teams_window_and_each_team_is_compared_to_it() {
        let games = [
            game("BOS", 100, (10, 4), (10, 3)),
            game("NYK", 100, (30, 18), (10, 5)),
        ];
        let rows = analyze(110, &games);
        let (boston, new_york) = (row(&rows, "BOS"), row(&rows, "NYK"));
        assert_eq!(boston.zones[0].league_fg_pct, Some(22.0 / 40.0));
        assert_eq!(new_york.zones[0].league_fg_pct, Some(22.0 / 40.0));
        let vs_league = boston.zones[0].fg_pct_vs_league.unwrap();
        assert!((vs_league - (0.4 - 0.55)).abs() < 1e-12);
        assert!(new_york.zones[0].fg_pct_vs_league.unwrap() > 0.0);
    }

    #[test]
    fn zones_without_attempts_have_no_percentages() {
        let rows = analyze(110, &[game("BOS", 100, (10, 4), (0, 0))]);
        let atb3 = row(&rows, "BOS").zones[4];
        assert_eq!(atb3.opp_fg_pct, None);
        assert_eq!(atb3.league_fg_pct, None);
        assert_eq!(atb3.fg_pct_vs_league, None);
        assert_eq!(atb3.opp_attempt_share, Some(0.0));
        let none_at_all = analyze(110, &[game("BOS", 100, (0, 0), (0, 0))]);
        assert!(
            none_at_all[0]
                .zones
                .iter()
                .all(|z| *z == ZoneDefense::default())
        );
    }

    #[test]
    fn teams_without_a_game_before_the_analysis_date_get_no_row() {
        let rows = analyze(
            110,
            &[
                game("BOS", 100, (1, 1), (0, 0)),
                game("NYK", 110, (1, 1), (0, 0)),
            ],
        );
        assert_eq!(
            rows.iter()
                .map(|r| r.team_abbr.as_str())
                .collect::<Vec<_>>(),
            ["BOS"]
        );
    }

    #[test]
    fn games_on_or_after_the_analysis_date_never_change_a_row() {
        let past = vec![
            game("BOS", 100, (10, 4), (10, 3)),
            game("NYK", 105, (20, 12), (5, 1)),
        ];
        let mut with_future = past.clone();
        with_future.push(game("BOS", 110, (40, 40), (0, 0)));
        with_future.push(game("NYK", 111, (0, 0), (40, 0)));
        with_future.push(game("LAL", 110, (5, 5), (5, 5)));
        assert_eq!(analyze(110, &past), analyze(110, &with_future));
    }
}
