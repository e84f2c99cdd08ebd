//! The processor's logic: box score lines in, one defensive summary per team
//! per game out.
//!
//! A team's defence is what its opponent did against it: the opponent's
//! points, its shots by court zone, and the possessions it used. Plain Rust
//! with no bindings, so it is unit-tested natively.

use std::collections::BTreeMap;

/// The court zones, in box score order: restricted area, paint (outside the
/// restricted area), mid-range, corner three, above-the-break three.
pub const ZONES: [&str; 5] = ["ra", "paint", "mid", "corner3", "atb3"];

/// Free throws count as 0.44 of a possession each in the possession estimate.
pub const FREE_THROW_POSSESSION_WEIGHT: f64 = 0.44;

/// Shot attempts and makes in one zone.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ZoneShots {
    /// Field goals attempted.
    pub attempts: i64,
    /// Field goals made.
    pub makes: i64,
}

/// One player's raw box score line for one game: the columns this processor uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoxScoreLine {
    /// The game, e.g. `20260111_BOS_NYK`.
    pub game_id: String,
    /// The player's lookup key, named in errors.
    pub player_lookup: String,
    /// The player's team.
    pub team_abbr: String,
    /// The opposing team.
    pub opponent_abbr: String,
    /// Whether the player's team was at home.
    pub is_home: bool,
    /// Minutes played.
    pub minutes: f64,
    /// Points scored.
    pub points: i64,
    /// Turnovers.
    pub turnovers: i64,
    /// Free throws attempted.
    pub fta: i64,
    /// Free throws made.
    pub ftm: i64,
    /// Shots by zone, in [`ZONES`] order.
    pub zones: [ZoneShots; 5],
}

/// A game scheduled on the analysis date.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledGame {
    /// The game id.
    pub game_id: String,
    /// The home team.
    pub home_team: String,
    /// The away team.
    pub away_team: String,
}

/// One team's totals in one game, summed over its players' lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamGame {
    /// The game.
    pub game_id: String,
    /// The team.
    pub team_abbr: String,
    /// Its opponent.
    pub opponent_abbr: String,
    /// Whether it played at home.
    pub is_home: bool,
    /// Minutes played by all its players (240 in regulation).
    pub minutes: f64,
    /// Points scored.
    pub points: i64,
    /// Turnovers.
    pub turnovers: i64,
    /// Free throws attempted.
    pub fta: i64,
    /// Free throws made.
    pub ftm: i64,
    /// Shots by zone, in [`ZONES`] order.
    pub zones: [ZoneShots; 5],
}

impl TeamGame {
    /// Field goals attempted, over every zone.
    pub fn fga(&self) -> i64 {
        self.zones.iter().map(|z| z.attempts).sum()
    }

    /// Field goals made, over every zone.
    pub fn fgm(&self) -> i64 {
        self.zones.iter().map(|z| z.makes).sum()
    }

    /// Possessions used: `fga + 0.44 * fta + turnovers` (offensive rebounds
    /// are not in the box scores, so they are not subtracted).
    pub fn possessions(&self) -> f64 {
        self.fga() as f64 + FREE_THROW_POSSESSION_WEIGHT * self.fta as f64 + self.turnovers as f64
    }

    /// Possessions per 48 minutes, taking the team's minutes / 5 as the
    /// game's length; `None` when the team played no minutes.
    pub fn pace(&self) -> Option<f64> {
        let game_minutes = self.minutes / 5.0;
        (game_minutes > 0.0).then(|| self.possessions() * 48.0 / game_minutes)
    }
}

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

/// Rejects a line that cannot be right: negative counts or minutes, makes
/// above attempts, or points that do not add up from makes.
fn check_line(line: &BoxScoreLine) -> Result<(), String> {
    let who = format!("{} in {}", line.player_lookup, line.game_id);
    if line.minutes.is_nan() || line.minutes < 0.0 {
        return Err(format!("{who}: minutes {} are not valid", line.minutes));
    }
    for (name, value) in [
        ("points", line.points),
        ("turnovers", line.turnovers),
        ("fta", line.fta),
        ("ftm", line.ftm),
    ] {
        if value < 0 {
            return Err(format!("{who}: {name} {value} is negative"));
        }
    }
    if line.ftm > line.fta {
        return Err(format!(
            "{who}: free throws made {} exceed attempts {}",
            line.ftm, line.fta
        ));
    }
    for (zone, shots) in ZONES.iter().zip(line.zones) {
        if shots.makes < 0 || shots.makes > shots.attempts {
            return Err(format!(
                "{who}: {zone} makes {} exceed attempts {} or are negative",
                shots.makes, shots.attempts
            ));
        }
    }
    let threes = line.zones[3].makes + line.zones[4].makes;
    let twos: i64 = line.zones[..3].iter().map(|z| z.makes).sum();
    let expected = 2 * twos + 3 * threes + line.ftm;
    if expected != line.points {
        return Err(format!(
            "{who}: points {} do not add up from makes ({expected})",
            line.points
        ));
    }
    Ok(())
}

/// Sums the lines into one total per team per game, ordered by game then team.
///
/// # Errors
/// An invalid line, or lines of one team in one game that disagree on the
/// opponent or on home and away; the message names the player and game.
pub fn team_games(lines: &[BoxScoreLine]) -> Result<Vec<TeamGame>, String> {
    let mut teams: BTreeMap<(&str, &str), TeamGame> = BTreeMap::new();
    for line in lines {
        check_line(line)?;
        let team = teams
            .entry((&line.game_id, &line.team_abbr))
            .or_insert_with(|| TeamGame {
                game_id: line.game_id.clone(),
                team_abbr: line.team_abbr.clone(),
                opponent_abbr: line.opponent_abbr.clone(),
                is_home: line.is_home,
                ..TeamGame::default()
            });
        if team.opponent_abbr != line.opponent_abbr || team.is_home != line.is_home {
            return Err(format!(
                "{} in {}: opponent {} (home {}) disagrees with teammates' {} (home {})",
                line.player_lookup,
                line.game_id,
                line.opponent_abbr,
                line.is_home,
                team.opponent_abbr,
                team.is_home
            ));
        }
        team.minutes += line.minutes;
        team.points += line.points;
        team.turnovers += line.turnovers;
        team.fta += line.fta;
        team.ftm += line.ftm;
        for (total, shots) in team.zones.iter_mut().zip(line.zones) {
            total.attempts += shots.attempts;
            total.makes += shots.makes;
        }
    }
    Ok(teams.into_values().collect())
}

/// The scheduled games with no box score line at all, or with lines for
/// only one side; a one-sided game is named with the team that is missing,
/// e.g. `20260111_BOS_NYK (NYK)`. In schedule order.
pub fn missing_box_scores(scheduled: &[ScheduledGame], lines: &[BoxScoreLine]) -> Vec<String> {
    let has = |game: &str, team: &str| {
        lines
            .iter()
            .any(|l| l.game_id == game && l.team_abbr == team)
    };
    scheduled
        .iter()
        .filter_map(|game| {
            let missing: Vec<&str> = [&game.home_team, &game.away_team]
                .into_iter()
                .filter(|team| !has(&game.game_id, team))
                .map(String::as_str)
                .collect();
            match missing.len() {
                0 => None,
                2 => Some(game.game_id.clone()),
                _ => Some(format!("{} ({})", game.game_id, missing.join(", "))),
            }
        })
        .collect()
}

/// One defensive summary per team per game, ordered by game then team.
///
/// # Errors
/// An invalid line (see [`team_games`]), or a team whose opponent has no
/// lines in the same game.
pub fn summarize(lines: &[BoxScoreLine]) -> Result<Vec<DefenseSummary>, String> {
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

    /// A line with `made_twos` restricted-area makes (of twice as many
    /// attempts), `made_threes` corner threes (of three times as many), and
    /// two free throws made of three.
    fn line(
        team: &str,
        opponent: &str,
        minutes: f64,
        made_twos: i64,
        made_threes: i64,
    ) -> BoxScoreLine {
        let mut zones = [ZoneShots::default(); 5];
        zones[0] = ZoneShots {
            attempts: 2 * made_twos,
            makes: made_twos,
        };
        zones[3] = ZoneShots {
            attempts: 3 * made_threes,
            makes: made_threes,
        };
        BoxScoreLine {
            game_id: "20260111_NYK_BOS".into(),
            player_lookup: format!("{team}-player"),
            team_abbr: team.into(),
            opponent_abbr: opponent.into(),
            is_home: team == "BOS",
            minutes,
            points: 2 * made_twos + 3 * made_threes + 2,
            turnovers: 1,
            fta: 3,
            ftm: 2,
            zones,
        }
    }

    fn boston_hosts_new_york() -> Vec<BoxScoreLine> {
        vec![
            line("BOS", "NYK", 120.0, 10, 2),
            line("BOS", "NYK", 120.0, 5, 1),
            line("NYK", "BOS", 240.0, 20, 5),
        ]
    }

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
        let mut lines = boston_hosts_new_york();
        lines[2] = BoxScoreLine {
            zones: [ZoneShots::default(); 5],
            points: 0,
            turnovers: 0,
            fta: 0,
            ftm: 0,
            minutes: 0.0,
            ..lines[2].clone()
        };
        let rows = summarize(&lines).unwrap();
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

    #[test]
    fn impossible_lines_are_rejected_naming_player_and_game() {
        let mut lines = boston_hosts_new_york();
        lines[0].zones[2] = ZoneShots {
            attempts: 1,
            makes: 2,
        };
        let error = summarize(&lines).unwrap_err();
        assert!(
            error.starts_with("BOS-player in 20260111_NYK_BOS: mid makes 2"),
            "{error}"
        );
        let mut lines = boston_hosts_new_york();
        lines[1].points += 1;
        assert!(summarize(&lines).unwrap_err().contains("do not add up"));
    }

    #[test]
    fn teammates_must_agree_on_the_opponent() {
        let mut lines = boston_hosts_new_york();
        lines[1].opponent_abbr = "LAL".into();
        assert!(
            summarize(&lines)
                .unwrap_err()
                .contains("disagrees with teammates")
        );
    }

    #[test]
    fn scheduled_games_missing_one_or_both_sides_are_reported() {
        let scheduled = vec![
            ScheduledGame {
                game_id: "20260111_NYK_BOS".into(),
                home_team: "BOS".into(),
                away_team: "NYK".into(),
            },
            ScheduledGame {
                game_id: "20260111_GSW_LAL".into(),
                home_team: "LAL".into(),
                away_team: "GSW".into(),
            },
        ];
        assert_eq!(
            missing_box_scores(&scheduled, &boston_hosts_new_york()),
            ["20260111_GSW_LAL"]
        );
        assert_eq!(
            missing_box_scores(&scheduled, &boston_hosts_new_york()[..2]),
            ["20260111_NYK_BOS (NYK)", "20260111_GSW_LAL"]
        );
    }
}
