//! What the team game summaries share: the raw box score lines a team's
//! game is summed from, the sum itself (checked line by line), the
//! possessions and pace estimates, and the scheduled games whose box scores
//! are missing.
//!
//! `TeamDefenseGameSummaryProcessor` and `TeamOffenseGameSummaryProcessor`
//! both build on it; each adds only its own view of a team's game. The
//! logic is plain Rust, unit-tested natively; [`summarize_complete_day`]
//! reads the host's rows into it.

use std::collections::BTreeMap;

use basketball::{ZoneShotColumns, require_box_scores, with_zone_shot_columns};
use slate_sdk::{Date, Declaration, Phase, ProcessError};

pub use basketball::{ScheduledGame, ZONES, ZoneShots};

/// Free throws count as 0.44 of a possession each in the possession estimate.
pub const FREE_THROW_POSSESSION_WEIGHT: f64 = 0.44;

/// One player's raw box score line for one game: the columns this processor
/// uses, its text borrowed from the batch it was read from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoxScoreLine<'a> {
    /// The game, e.g. `20260111_BOS_NYK`.
    pub game_id: &'a str,
    /// The player's lookup key, named in errors.
    pub player_lookup: &'a str,
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
    /// Turnovers.
    pub turnovers: i64,
    /// Free throws attempted.
    pub fta: i64,
    /// Free throws made.
    pub ftm: i64,
    /// Shots by zone, in [`ZONES`] order.
    pub zones: [ZoneShots; 5],
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

/// Rejects a line that cannot be right: negative counts or minutes, makes
/// above attempts, or points that do not add up from makes.
fn check_line(line: &BoxScoreLine<'_>) -> Result<(), String> {
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
pub fn team_games(lines: &[BoxScoreLine<'_>]) -> Result<Vec<TeamGame>, String> {
    let mut teams: BTreeMap<(&str, &str), TeamGame> = BTreeMap::new();
    for line in lines {
        check_line(line)?;
        let team = teams
            .entry((line.game_id, line.team_abbr))
            .or_insert_with(|| TeamGame {
                game_id: line.game_id.to_string(),
                team_abbr: line.team_abbr.to_string(),
                opponent_abbr: line.opponent_abbr.to_string(),
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
/// only one side ([`basketball::missing_box_scores`]).
pub fn missing_box_scores(
    scheduled: &[ScheduledGame<'_>],
    lines: &[BoxScoreLine<'_>],
) -> Vec<String> {
    basketball::missing_box_scores(scheduled, |game, team| {
        lines
            .iter()
            .any(|l| l.game_id == game && l.team_abbr == team)
    })
}

/// The raw box scores the team summaries read.
pub const BOX_SCORES: &str = "nba_raw.player_boxscores";
/// The schedule, to notice games whose box scores are missing.
pub const SCHEDULE: &str = "nba_raw.schedule";

/// The declaration both team game summaries share: phase 3, one row per
/// team per game partitioned by `game_date`, read from the day's box
/// scores and schedule, blocking on anything missing; each adds its name,
/// its version (`env!("CARGO_PKG_VERSION")`), its table and its schema.
pub const fn team_game_summary(
    name: &'static str,
    version: &'static str,
    output_table: &'static str,
    schema: &'static str,
) -> Declaration {
    Declaration {
        output_table,
        schema,
        partition_column: "game_date",
        key_columns: &["team_abbr", "game_id"],
        inputs: &[BOX_SCORES, SCHEDULE],
        ..Declaration::new(name, Phase::Analytics, version)
    }
}

/// Reads every box score line of `analysis_date` through the host and hands
/// them to `summarize`, provided each scheduled game has lines for both
/// teams; otherwise missing data naming the games (and the side) without
/// box scores. An error from `summarize` is invalid input.
pub fn summarize_complete_day<T>(
    analysis_date: Date,
    summarize: impl FnOnce(&[BoxScoreLine<'_>]) -> Result<T, String>,
) -> Result<T, ProcessError> {
    let line_columns = with_zone_shot_columns(LINE_COLUMNS, "");
    let box_scores = slate_sdk::read_day(BOX_SCORES, analysis_date, &line_columns)?;
    let schedule = slate_sdk::read_day(SCHEDULE, analysis_date, SCHEDULE_COLUMNS)?;
    let lines = read_lines(&box_scores)?;
    let scheduled = read_schedule(&schedule)?;
    let missing = missing_box_scores(&scheduled, &lines);
    require_box_scores(analysis_date, scheduled.len(), &missing)?;
    summarize(&lines).map_err(ProcessError::InvalidInput)
}

slate_sdk::batch_reader! {
    /// The box score columns a team's game is summed from, before the zones.
    const LINE_COLUMNS;
    /// The box score lines in `batch`, borrowing their text from it.
    pub fn read_lines(batch) -> BoxScoreLine<'_> {
        game_id: string,
        player_lookup: string,
        team_abbr: string,
        opponent_abbr: string,
        is_home: boolean,
        minutes: float64,
        points: int64,
        turnovers: int64,
        fta: int64,
        ftm: int64,
        ..
        zones: ZoneShotColumns::of(batch, "")? => read,
    }
}

slate_sdk::batch_reader! {
    /// The schedule columns that say which teams should have box scores.
    const SCHEDULE_COLUMNS;
    /// The scheduled games in `batch`, borrowing their text from it.
    pub fn read_schedule(batch) -> ScheduledGame<'_> {
        game_id: string,
        home_team: string,
        away_team: string,
    }
}

/// Box score lines for unit tests of the processors built on these totals.
pub mod fixtures {
    use super::{BoxScoreLine, ZoneShots};

    /// A line with `made_twos` restricted-area makes (of twice as many
    /// attempts), `made_threes` corner threes (of three times as many), and
    /// two free throws made of three.
    pub fn line(
        team: &'static str,
        opponent: &'static str,
        minutes: f64,
        made_twos: i64,
        made_threes: i64,
    ) -> BoxScoreLine<'static> {
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
            game_id: "20260111_NYK_BOS",
            player_lookup: if team == "BOS" {
                "BOS-player"
            } else {
                "NYK-player"
            },
            team_abbr: team,
            opponent_abbr: opponent,
            is_home: team == "BOS",
            minutes,
            points: 2 * made_twos + 3 * made_threes + 2,
            turnovers: 1,
            fta: 3,
            ftm: 2,
            zones,
        }
    }

    /// Boston (two players) hosting New York (one player) on 2026-01-11.
    pub fn boston_hosts_new_york() -> Vec<BoxScoreLine<'static>> {
        vec![
            line("BOS", "NYK", 120.0, 10, 2),
            line("BOS", "NYK", 120.0, 5, 1),
            line("NYK", "BOS", 240.0, 20, 5),
        ]
    }

    /// [`boston_hosts_new_york`] where New York's one player played no
    /// minutes and took no shot, free throw or turnover: a team with no
    /// possessions.
    pub fn boston_hosts_an_idle_new_york() -> Vec<BoxScoreLine<'static>> {
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
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::boston_hosts_new_york;
    use super::*;

    #[test]
    fn team_games_sum_the_lines_of_each_team() {
        let games = team_games(&boston_hosts_new_york()).unwrap();
        let teams: Vec<&str> = games.iter().map(|g| g.team_abbr.as_str()).collect();
        assert_eq!(teams, ["BOS", "NYK"], "ordered by game then team");
        assert_eq!(games[0].minutes, 240.0);
        assert_eq!(games[0].points, (2 * 10 + 3 * 2 + 2) + (2 * 5 + 3 + 2));
        assert_eq!((games[0].fga(), games[0].fgm()), (39, 18));
    }

    #[test]
    fn impossible_lines_are_rejected_naming_player_and_game() {
        let mut lines = boston_hosts_new_york();
        lines[0].zones[2] = ZoneShots {
            attempts: 1,
            makes: 2,
        };
        let error = team_games(&lines).unwrap_err();
        assert!(
            error.starts_with("BOS-player in 20260111_NYK_BOS: mid makes 2"),
            "{error}"
        );
        let mut lines = boston_hosts_new_york();
        lines[1].points += 1;
        assert!(team_games(&lines).unwrap_err().contains("do not add up"));
        let mut lines = boston_hosts_new_york();
        lines[1].minutes = -1.0;
        assert!(
            team_games(&lines)
                .unwrap_err()
                .contains("minutes -1 are not valid")
        );
    }

    #[test]
    fn teammates_must_agree_on_the_opponent() {
        let mut lines = boston_hosts_new_york();
        lines[1].opponent_abbr = "LAL";
        assert!(
            team_games(&lines)
                .unwrap_err()
                .contains("disagrees with teammates")
        );
    }

    #[test]
    fn pace_is_possessions_per_48_minutes_of_game_time() {
        let games = team_games(&boston_hosts_new_york()).unwrap();
        let new_york = &games[1];
        // 240 team minutes are a 48-minute game: pace equals possessions.
        assert!((new_york.pace().unwrap() - new_york.possessions()).abs() < 1e-9);
        let overtime = TeamGame {
            minutes: 265.0,
            ..new_york.clone()
        };
        assert!((overtime.pace().unwrap() - overtime.possessions() * 48.0 / 53.0).abs() < 1e-9);
        let idle = TeamGame {
            minutes: 0.0,
            ..new_york.clone()
        };
        assert_eq!(idle.pace(), None);
    }

    #[test]
    fn scheduled_games_missing_one_or_both_sides_are_reported() {
        let scheduled = vec![
            ScheduledGame {
                game_id: "20260111_NYK_BOS",
                home_team: "BOS",
                away_team: "NYK",
            },
            ScheduledGame {
                game_id: "20260111_GSW_LAL",
                home_team: "LAL",
                away_team: "GSW",
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
        assert_eq!(
            missing_box_scores(&scheduled, &boston_hosts_new_york()[2..]),
            ["20260111_NYK_BOS (BOS)", "20260111_GSW_LAL"]
        );
    }
}
