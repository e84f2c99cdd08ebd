//! The processor's logic: box score lines in, one defensive summary per team
//! per game out.
//!
//! A team's defence is what its opponent did against it: the opponent's
//! points, its shots by court zone, and the possessions it used. Plain Rust
//! with no bindings, so it is unit-tested natively.

pub use team_game_totals::{
    BoxScoreLine, FREE_THROW_POSSESSION_WEIGHT, TeamGame, ZONES, ZoneShots, missing_box_scores,
    team_games,
};

/// One row of `nba_analytics.team_defense_game_summary`.
#[derive(Debug, Clone, PartialEq)]
pub struct DefenseSummary {
    /// The game.
    pub game_id: String,
    /// The defending team.
    pub team_abbr: String,
    /// The team it defended against.
    pub opponent_abbr: String,
    /// Whether the defending team was at home.
    pub is_home: bool,
    /// What the opponent did in this game.
    pub opponent: TeamGame,
    /// The opponent's possessions: `fga + 0.44 * fta + turnovers`.
    pub possessions: f64,
    /// The opponent's possessions per 48 minutes; `None` without minutes.
    pub pace: Option<f64>,
    /// Opponent points per 100 of its possessions; `None` without possessions.
    pub defensive_rating: Option<f64>,
}

/// One defensive summary per team per game, ordered by game then team.
///
/// # Errors
/// An invalid line (see [`team_games`]), or a team whose opponent has no
/// lines in the same game.
pub fn summarize(lines: &[BoxScoreLine<'_>]) -> Result<Vec<DefenseSummary>, String> {
    let games = team_games(lines)?;
    games
        .iter()
        .map(|team| {
            let opponent = games
                .iter()
                .find(|o| o.game_id == team.game_id && o.team_abbr == team.opponent_abbr)
                .ok_or_else(|| {
                    format!(
                        "{}: no box score lines for {}, the opponent of {}",
                        team.game_id, team.opponent_abbr, team.team_abbr
                    )
                })?;
            let possessions = opponent.possessions();
            Ok(DefenseSummary {
                game_id: team.game_id.clone(),
                team_abbr: team.team_abbr.clone(),
                opponent_abbr: team.opponent_abbr.clone(),
                is_home: team.is_home,
                opponent: opponent.clone(),
                possessions,
                pace: opponent.pace(),
                defensive_rating: (possessions > 0.0)
                    .then(|| 100.0 * opponent.points as f64 / possessions),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use team_game_totals::fixtures::{boston_hosts_an_idle_new_york, boston_hosts_new_york};

    #[test]
    fn a_teams_defense_is_what_its_opponent_did_against_it() {
        let rows = summarize(&boston_hosts_new_york()).unwrap();
        let boston = rows.iter().find(|r| r.team_abbr == "BOS").unwrap();
        assert_eq!(boston.opponent_abbr, "NYK");
        assert!(boston.is_home);
        assert_eq!(boston.opponent.points, 2 * 20 + 3 * 5 + 2);
        assert_eq!(
            boston.opponent.zones[0],
            ZoneShots {
                attempts: 40,
                makes: 20
            }
        );
        assert_eq!(
            boston.opponent.zones[3],
            ZoneShots {
                attempts: 15,
                makes: 5
            }
        );
        assert_eq!((boston.opponent.fga(), boston.opponent.fgm()), (55, 25));
        let new_york = rows.iter().find(|r| r.team_abbr == "NYK").unwrap();
        assert_eq!(new_york.opponent.points, 2 * 15 + 3 * 3 + 4);
        assert_eq!((new_york.opponent.fga(), new_york.opponent.fgm()), (39, 18));
        assert!(!new_york.is_home);
    }

    #[test]
    fn possessions_are_opponent_shots_free_throws_and_turnovers() {
        let rows = summarize(&boston_hosts_new_york()).unwrap();
        let boston = rows.iter().find(|r| r.team_abbr == "BOS").unwrap();
        // New York: 55 attempts, 3 free throw attempts, 1 turnover.
        assert!((boston.possessions - (55.0 + 0.44 * 3.0 + 1.0)).abs() < 1e-9);
        assert!(
            (boston.defensive_rating.unwrap() - 100.0 * 57.0 / boston.possessions).abs() < 1e-9
        );
    }

    #[test]
    fn pace_is_possessions_per_48_minutes_of_game_time() {
        let rows = summarize(&boston_hosts_new_york()).unwrap();
        let boston = rows.iter().find(|r| r.team_abbr == "BOS").unwrap();
        // 240 team minutes are a 48-minute game: pace equals possessions.
        assert!((boston.pace.unwrap() - boston.possessions).abs() < 1e-9);
        let mut overtime = boston_hosts_new_york();
        overtime[2].minutes = 265.0;
        let rows = summarize(&overtime).unwrap();
        let boston = rows.iter().find(|r| r.team_abbr == "BOS").unwrap();
        assert!((boston.pace.unwrap() - boston.possessions * 48.0 / 53.0).abs() < 1e-9);
    }

    #[test]
    fn an_opponent_without_minutes_or_possessions_has_no_pace_or_rating() {
        let rows = summarize(&boston_hosts_an_idle_new_york()).unwrap();
        let boston = rows.iter().find(|r| r.team_abbr == "BOS").unwrap();
        assert_eq!(boston.possessions, 0.0);
        assert_eq!((boston.pace, boston.defensive_rating), (None, None));
    }

    #[test]
    fn rows_are_ordered_by_game_then_team() {
        let rows = summarize(&boston_hosts_new_york()).unwrap();
        let teams: Vec<&str> = rows.iter().map(|r| r.team_abbr.as_str()).collect();
        assert_eq!(teams, ["BOS", "NYK"]);
    }

    #[test]
    fn a_team_whose_opponent_has_no_lines_is_an_error() {
        let error = summarize(&boston_hosts_new_york()[..2]).unwrap_err();
        assert!(
            error.contains("20260111_NYK_BOS: no box score lines for NYK, the opponent of BOS"),
            "{error}"
        );
    }
}
