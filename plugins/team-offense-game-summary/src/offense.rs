//! The processor's logic: box score lines in, one offensive summary per team
//! per game out.
//!
//! A team's offence is the sum of its players' lines: points, shots, free
//! throws and turnovers, with the possessions they used, the pace and the
//! points per 100 possessions. Plain Rust with no bindings, so it is
//! unit-tested natively.

pub use team_game_totals::{
    BoxScoreLine, FREE_THROW_POSSESSION_WEIGHT, TeamGame, ZONES, ZoneShots, missing_box_scores,
    team_games,
};

/// One row of `nba_analytics.team_offense_game_summary`.
#[derive(Debug, Clone, PartialEq)]
pub struct OffenseSummary {
    /// The team's totals in the game.
    pub team: TeamGame,
    /// Possessions used: `fga + 0.44 * fta + turnovers`.
    pub possessions: f64,
    /// Possessions per 48 minutes; `None` without minutes.
    pub pace: Option<f64>,
    /// Points per 100 possessions; `None` without possessions.
    pub offensive_rating: Option<f64>,
}

/// One offensive summary per team per game, ordered by game then team.
///
/// # Errors
/// An invalid line (see [`team_games`]).
pub fn summarize(lines: &[BoxScoreLine<'_>]) -> Result<Vec<OffenseSummary>, String> {
    Ok(team_games(lines)?
        .into_iter()
        .map(|team| {
            let possessions = team.possessions();
            OffenseSummary {
                possessions,
                pace: team.pace(),
                offensive_rating: (possessions > 0.0)
                    .then(|| 100.0 * team.points as f64 / possessions),
                team,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use team_game_totals::fixtures::{boston_hosts_an_idle_new_york, boston_hosts_new_york};

    fn boston(rows: &[OffenseSummary]) -> &OffenseSummary {
        rows.iter().find(|r| r.team.team_abbr == "BOS").unwrap()
    }

    #[test]
    fn a_teams_offense_sums_its_players_lines() {
        let rows = summarize(&boston_hosts_new_york()).unwrap();
        let b = &boston(&rows).team;
        assert_eq!((b.opponent_abbr.as_str(), b.is_home), ("NYK", true));
        assert_eq!(b.points, 2 * 15 + 3 * 3 + 4);
        assert_eq!((b.fga(), b.fgm()), (39, 18));
        assert_eq!((b.fta, b.ftm, b.turnovers), (6, 4, 2));
        assert_eq!(b.minutes, 240.0);
    }

    #[test]
    fn possessions_are_shots_free_throws_and_turnovers() {
        let rows = summarize(&boston_hosts_new_york()).unwrap();
        assert!((boston(&rows).possessions - (39.0 + 0.44 * 6.0 + 2.0)).abs() < 1e-9);
    }

    #[test]
    fn offensive_rating_is_points_per_100_possessions() {
        let rows = summarize(&boston_hosts_new_york()).unwrap();
        let b = boston(&rows);
        assert!((b.offensive_rating.unwrap() - 100.0 * 43.0 / b.possessions).abs() < 1e-9);
    }

    #[test]
    fn pace_is_possessions_per_48_minutes_of_game_time() {
        let rows = summarize(&boston_hosts_new_york()).unwrap();
        let b = boston(&rows);
        assert!((b.pace.unwrap() - b.possessions).abs() < 1e-9);
        let mut overtime = boston_hosts_new_york();
        overtime[0].minutes = 145.0;
        let rows = summarize(&overtime).unwrap();
        let b = boston(&rows);
        assert!((b.pace.unwrap() - b.possessions * 48.0 / 53.0).abs() < 1e-9);
    }

    #[test]
    fn a_team_without_minutes_or_possessions_has_no_pace_or_rating() {
        let rows = summarize(&boston_hosts_an_idle_new_york()).unwrap();
        let new_york = rows.iter().find(|r| r.team.team_abbr == "NYK").unwrap();
        assert_eq!(new_york.possessions, 0.0);
        assert_eq!((new_york.pace, new_york.offensive_rating), (None, None));
    }

    #[test]
    fn rows_are_ordered_by_game_then_team() {
        let rows = summarize(&boston_hosts_new_york()).unwrap();
        let teams: Vec<&str> = rows.iter().map(|r| r.team.team_abbr.as_str()).collect();
        assert_eq!(teams, ["BOS", "NYK"]);
    }
}
