//! The processor's logic: a player's recent games, their shot zones, their
//! opponent's zone defence and both teams' pace in; one row of adjustment
//! factors per player who plays on the analysis date out.
//!
//! The factors, each documented where it is computed:
//!
//! - [`zone_matchup_factor`]: how much better (positive) or worse the
//!   opponent defends the zones the player shoots from than the league.
//! - [`fatigue_factor`]: a penalty for a back-to-back and a crowded week.
//! - the pace factor: the expected game pace (the mean of both teams' recent
//!   pace) over the league's.
//! - [`composite_adjustment`]: the three combined into one multiplier.
//!
//! Dates are day numbers (days since 1970-01-01) so the logic stays plain
//! Rust, unit-tested natively. Text is borrowed from the rows read (`&str`
//! into the input batches), so a season's games cost no allocation each. Only games strictly before the analysis date,
//! and only the zone analyses made for the analysis date itself, are used.

use std::collections::BTreeMap;

use basketball::opponent_of;
use rustc_hash::FxHashMap;

pub use basketball::ZONES;

/// How many of a team's most recent games its pace is averaged over.
pub const PACE_WINDOW_GAMES: usize = 10;

/// The fatigue penalty for playing the day after a game.
pub const BACK_TO_BACK_PENALTY: f64 = 0.03;

/// Games in the 7 days before the analysis date that are normal; each game
/// beyond this adds [`EXTRA_GAME_PENALTY`].
pub const NORMAL_GAMES_IN_7_DAYS: i64 = 3;

/// The fatigue penalty for each game beyond [`NORMAL_GAMES_IN_7_DAYS`].
pub const EXTRA_GAME_PENALTY: f64 = 0.01;

/// How much of the zone matchup factor goes into the composite adjustment.
pub const ZONE_WEIGHT: f64 = 0.5;

/// How much of the pace factor's distance from 1 goes into the composite adjustment.
pub const PACE_WEIGHT: f64 = 0.5;

/// The composite adjustment is kept within these bounds.
pub const COMPOSITE_BOUNDS: (f64, f64) = (0.75, 1.25);

/// One past game of one player, from `nba_analytics.player_game_summary`.
#[derive(Debug, Clone, PartialEq)]
pub struct PastGame<'a> {
    /// The player's lookup key.
    pub player_lookup: &'a str,
    /// The player's code: the same for every game of the player, and
    /// small (an index into the read's dictionary of players).
    pub player_code: u32,
    /// The team the player played for.
    pub team_abbr: &'a str,
    /// The day number of the game.
    pub game_day: i64,
}

/// One past game of one team, from `nba_analytics.team_offense_game_summary`.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamGame<'a> {
    /// The team.
    pub team_abbr: &'a str,
    /// The game, to order games played on the same day.
    pub game_id: &'a str,
    /// The day number of the game.
    pub game_day: i64,
    /// Possessions per 48 minutes, when known.
    pub pace: Option<f64>,
}

/// A player's shot mix, from `nba_precompute.player_shot_zone_analysis`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShotZones<'a> {
    /// The day number the analysis was made for.
    pub analysis_day: i64,
    /// The player's lookup key.
    pub player_lookup: &'a str,
    /// The share of the player's attempts by zone, in [`ZONES`] order.
    pub attempt_share: [Option<f64>; 5],
}

/// A team's zone defence, from `nba_precompute.team_defense_zone_analysis`.
#[derive(Debug, Clone, PartialEq)]
pub struct DefenseZones<'a> {
    /// The day number the analysis was made for.
    pub analysis_day: i64,
    /// The defending team.
    pub team_abbr: &'a str,
    /// Opponents' FG% against the team by zone, in [`ZONES`] order.
    pub opp_fg_pct: [Option<f64>; 5],
    /// The league's FG% by zone, in [`ZONES`] order.
    pub league_fg_pct: [Option<f64>; 5],
}

/// A game on the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledGame<'a> {
    /// The day number of the game.
    pub game_day: i64,
    /// The home team.
    pub home_team: &'a str,
    /// The away team.
    pub away_team: &'a str,
}

/// One row of `nba_precompute.player_composite_factors`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeRow {
    /// The player's lookup key.
    pub player_lookup: String,
    /// The player's team, from their latest game.
    pub team_abbr: String,
    /// The team they face on the analysis date.
    pub opponent_abbr: String,
    /// See [`zone_matchup_factor`]; `None` when it cannot be computed.
    pub zone_matchup_factor: Option<f64>,
    /// Games in the 7 days before the analysis date.
    pub games_in_last_7_days: i64,
    /// See [`fatigue_factor`].
    pub fatigue_factor: f64,
    /// Full days off between the latest game and the analysis date.
    pub days_rest: i64,
    /// Whether the latest game was the day before.
    pub back_to_back: bool,
    /// The mean of both teams' recent pace over the league's recent pace;
    /// `None` when a team or the league has no pace.
    pub pace_factor: Option<f64>,
    /// See [`composite_adjustment`].
    pub composite_adjustment: f64,
    /// Why this row is less trustworthy than usual; empty when it is fine.
    pub data_quality_issues: Vec<String>,
}

/// Σ over zones of the player's attempt share × (the opponent's FG% allowed
/// − the league's FG%) / the league's FG%.
///
/// Positive when the opponent allows more than the league where the player
/// shoots. A zone counts only when all three numbers are known and the
/// league's FG% is above zero; `None` when no zone counts.
pub fn zone_matchup_factor(shares: &[Option<f64>; 5], defense: &DefenseZones<'_>) -> Option<f64> {
    let terms: Vec<f64> = shares
        .iter()
        .zip(defense.opp_fg_pct.iter().zip(&defense.league_fg_pct))
        .filter_map(|(share, (opp, league))| match (share, opp, league) {
            (Some(share), Some(opp), Some(league)) if *league > 0.0 => {
                Some(share * (opp - league) / league)
            }
            _ => None,
        })
        .collect();
    (!terms.is_empty()).then(|| terms.iter().sum())
}

/// [`BACK_TO_BACK_PENALTY`] on a back-to-back, plus [`EXTRA_GAME_PENALTY`]
/// for each game beyond [`NORMAL_GAMES_IN_7_DAYS`] in the 7 days before the
/// analysis date. Zero for a rested player; at most 0.07.
pub fn fatigue_factor(back_to_back: bool, games_in_last_7_days: i64) -> f64 {
    let back_to_back = if back_to_back {
        BACK_TO_BACK_PENALTY
    } else {
        0.0
    };
    let extra_games = (games_in_last_7_days - NORMAL_GAMES_IN_7_DAYS).max(0) as f64;
    back_to_back + EXTRA_GAME_PENALTY * extra_games
}

/// `1 + ZONE_WEIGHT × zone + PACE_WEIGHT × (pace − 1) − fatigue`, kept
/// within [`COMPOSITE_BOUNDS`]: a multiplier for the player's expected
/// scoring. A missing zone or pace factor counts as neutral (0 and 1).
pub fn composite_adjustment(zone: Option<f64>, pace: Option<f64>, fatigue: f64) -> f64 {
    let raw = 1.0 + ZONE_WEIGHT * zone.unwrap_or(0.0) + PACE_WEIGHT * (pace.unwrap_or(1.0) - 1.0)
        - fatigue;
    raw.clamp(COMPOSITE_BOUNDS.0, COMPOSITE_BOUNDS.1)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Each team's known paces over its last [`PACE_WINDOW_GAMES`] games before
/// `analysis_day`.
fn recent_paces<'a>(analysis_day: i64, games: &[TeamGame<'a>]) -> BTreeMap<&'a str, Vec<f64>> {
    let mut by_team: BTreeMap<&str, Vec<&TeamGame>> = BTreeMap::new();
    for game in games.iter().filter(|g| g.game_day < analysis_day) {
        by_team.entry(game.team_abbr).or_default().push(game);
    }
    by_team
        .into_iter()
        .map(|(team, mut played)| {
            played.sort_by(|a, b| (b.game_day, &b.game_id).cmp(&(a.game_day, &a.game_id)));
            played.truncate(PACE_WINDOW_GAMES);
            (team, played.iter().filter_map(|g| g.pace).collect())
        })
        .collect()
}

/// The first of `items` for each key; an item whose key is `None` is left out.
fn first_by_key<'a, T>(
    items: &'a [T],
    key: impl Fn(&T) -> Option<&'a str>,
) -> FxHashMap<&'a str, &'a T> {
    let mut first = FxHashMap::default();
    for item in items {
        if let Some(key) = key(item) {
            first.entry(key).or_insert(item);
        }
    }
    first
}

/// What the factors need of a player's games before the analysis day.
struct Form<'a> {
    /// The latest game: of several on that day, the first read.
    latest: &'a PastGame<'a>,
    /// How many of the games fall in the 7 days before the analysis day.
    games_in_last_7_days: i64,
}

impl<'a> Form<'a> {
    /// Counts in one more game; `recent` is 1 when it is in the last 7 days.
    fn add(&mut self, game: &'a PastGame<'a>, recent: i64) {
        if game.game_day > self.latest.game_day {
            self.latest = game;
        }
        self.games_in_last_7_days += recent;
    }
}

/// Everything the factors are computed from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// Players' past games this season.
    pub player_games: &'a [PastGame<'a>],
    /// Teams' past games this season.
    pub team_games: &'a [TeamGame<'a>],
    /// Players' shot zones as of the analysis date.
    pub shot_zones: &'a [ShotZones<'a>],
    /// Teams' zone defence as of the analysis date.
    pub defense_zones: &'a [DefenseZones<'a>],
    /// The games on the analysis date.
    pub schedule: &'a [ScheduledGame<'a>],
}

/// Builds one row per player whose latest team plays on `analysis_day`, in
/// player order. Games on or after `analysis_day`, and zone analyses made
/// for any other day, are ignored.
pub fn build(analysis_day: i64, inputs: Inputs<'_>) -> Vec<CompositeRow> {
    // Each player's form, gathered in one pass in a vector indexed by the
    // player's code (no hashing, no text compared), then put in player
    // order once: a season's ~25,000 games would otherwise cost a hash and
    // a comparison each, or a dozen comparisons in an ordered map.
    let mut forms: Vec<Option<(&str, Form)>> = Vec::new();
    for game in inputs
        .player_games
        .iter()
        .filter(|g| g.game_day < analysis_day)
    {
        let recent = i64::from(game.game_day >= analysis_day - 7);
        let code = game.player_code as usize;
        if code >= forms.len() {
            forms.resize_with(code + 1, || None);
        }
        match &mut forms[code] {
            Some((_, form)) => form.add(game, recent),
            empty => {
                let form = Form {
                    latest: game,
                    games_in_last_7_days: recent,
                };
                *empty = Some((game.player_lookup, form));
            }
        }
    }
    let mut by_player: Vec<(&str, Form)> = forms.into_iter().flatten().collect();
    by_player.sort_unstable_by_key(|(player, _)| *player);
    let paces = recent_paces(analysis_day, inputs.team_games);
    let team_pace = |team: &str| paces.get(team).and_then(|p| mean(p));
    let league_pace = mean(&paces.values().flatten().copied().collect::<Vec<_>>());
    let today = inputs
        .schedule
        .iter()
        .filter(|g| g.game_day == analysis_day);
    // The zone analyses for the analysis date, found by hash rather than
    // by a scan per player.
    let shot_zones = first_by_key(inputs.shot_zones, |s| {
        (s.analysis_day == analysis_day).then_some(s.player_lookup)
    });
    let defense_zones = first_by_key(inputs.defense_zones, |d| {
        (d.analysis_day == analysis_day).then_some(d.team_abbr)
    });

    let mut rows = Vec::new();
    for (player, form) in by_player {
        let latest = form.latest;
        let team = latest.team_abbr;
        let Some((opponent, _)) = today
            .clone()
            .find_map(|g| opponent_of(team, g.home_team, g.away_team))
        else {
            continue;
        };
        let mut issues = Vec::new();

        let shots = shot_zones.get(player).copied();
        let defense = defense_zones.get(opponent).copied();
        let zone = match (shots, defense) {
            (Some(shots), Some(defense)) => {
                let zone = zone_matchup_factor(&shots.attempt_share, defense);
                if zone.is_none() {
                    issues.push(
                        "no zone with player attempts and opponent and league accuracy".to_string(),
                    );
                }
                zone
            }
            (shots, defense) => {
                if shots.is_none() {
                    issues.push("no shot zone row for player".to_string());
                }
                if defense.is_none() {
                    issues.push(format!("no defense zone row for opponent {opponent}"));
                }
                None
            }
        };

        let days_rest = analysis_day - latest.game_day - 1;
        let back_to_back = days_rest == 0;
        let games_in_last_7_days = form.games_in_last_7_days;
        let fatigue = fatigue_factor(back_to_back, games_in_last_7_days);

        let (ours, theirs) = (team_pace(team), team_pace(opponent));
        if ours.is_none() {
            issues.push(format!("no pace for team {team} in its last 10 games"));
        }
        if theirs.is_none() {
            issues.push(format!(
                "no pace for opponent {opponent} in its last 10 games"
            ));
        }
        let league = league_pace.filter(|p| *p > 0.0);
        if league.is_none() {
            issues.push("no league pace before the analysis date".to_string());
        }
        let pace = match (ours, theirs, league) {
            (Some(ours), Some(theirs), Some(league)) => Some((ours + theirs) / 2.0 / league),
            _ => None,
        };

        rows.push(CompositeRow {
            player_lookup: player.to_string(),
            team_abbr: team.to_string(),
            opponent_abbr: opponent.to_string(),
            zone_matchup_factor: zone,
            games_in_last_7_days,
            fatigue_factor: fatigue,
            days_rest,
            back_to_back,
            pace_factor: pace,
            composite_adjustment: composite_adjustment(zone, pace, fatigue),
            data_quality_issues: issues,
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 110;

    /// A game of `player`, whose code is its first letter: the tests'
    /// players each start with another.
    fn game(player: &'static str, day: i64) -> PastGame<'static> {
        PastGame {
            player_lookup: player,
            player_code: u32::from(player.as_bytes()[0]),
            team_abbr: "BOS",
            game_day: day,
        }
    }

    /// One game of `team` on `day`: a team plays once a day here, so one
    /// game id serves.
    fn team_game(team: &'static str, day: i64, pace: f64) -> TeamGame<'static> {
        TeamGame {
            team_abbr: team,
            game_id: "game",
            game_day: day,
            pace: Some(pace),
        }
    }

    /// A player who takes every shot at the rim.
    fn rim_only(player: &'static str) -> ShotZones<'static> {
        ShotZones {
            analysis_day: DAY,
            player_lookup: player,
            attempt_share: [Some(1.0), Some(0.0), Some(0.0), Some(0.0), Some(0.0)],
        }
    }

    /// A defence that allows `rim` at the rim against a league 50%, and
    /// league accuracy everywhere else.
    fn defense(team: &'static str, rim: f64) -> DefenseZones<'static> {
        DefenseZones {
            analysis_day: DAY,
            team_abbr: team,
            opp_fg_pct: [Some(rim), Some(0.4), Some(0.4), Some(0.35), Some(0.35)],
            league_fg_pct: [Some(0.5), Some(0.4), Some(0.4), Some(0.35), Some(0.35)],
        }
    }

    fn boston_hosts_new_york() -> Vec<ScheduledGame<'static>> {
        vec![ScheduledGame {
            game_day: DAY,
            home_team: "BOS",
            away_team: "NYK",
        }]
    }

    struct Owned {
        player_games: Vec<PastGame<'static>>,
        team_games: Vec<TeamGame<'static>>,
        shot_zones: Vec<ShotZones<'static>>,
        defense_zones: Vec<DefenseZones<'static>>,
        schedule: Vec<ScheduledGame<'static>>,
    }

    impl Owned {
        /// Player `a` of Boston, rested, shooting at the rim against a New
        /// York defence that allows 60% there; both teams at league pace.
        fn typical() -> Owned {
            Owned {
                player_games: vec![game("a", 100), game("a", 105)],
                team_games: vec![team_game("BOS", 105, 100.0), team_game("NYK", 105, 100.0)],
                shot_zones: vec![rim_only("a")],
                defense_zones: vec![defense("NYK", 0.6)],
                schedule: boston_hosts_new_york(),
            }
        }

        fn build(&self) -> Vec<CompositeRow> {
            build(
                DAY,
                Inputs {
                    player_games: &self.player_games,
                    team_games: &self.team_games,
                    shot_zones: &self.shot_zones,
                    defense_zones: &self.defense_zones,
                    schedule: &self.schedule,
                },
            )
        }
    }

    #[test]
    fn zone_matchup_weighs_the_opponents_relative_accuracy_by_the_players_shot_mix() {
        let row = &Owned::typical().build()[0];
        // All shots at the rim, where New York allows 0.6 against 0.5.
        assert!((row.zone_matchup_factor.unwrap() - 0.2).abs() < 1e-12);
        let half = ShotZones {
            attempt_share: [Some(0.5), Some(0.5), Some(0.0), Some(0.0), Some(0.0)],
            ..rim_only("a")
        };
        let factor = zone_matchup_factor(&half.attempt_share, &defense("NYK", 0.4)).unwrap();
        assert!((factor - 0.5 * (0.4 - 0.5) / 0.5).abs() < 1e-12);
    }

    #[test]
    fn zones_without_attempts_or_league_accuracy_are_skipped() {
        let mut unknown = defense("NYK", 0.6);
        unknown.opp_fg_pct[0] = None;
        let shares = [Some(0.5), Some(0.5), None, None, None];
        // Only the paint counts, and New York allows exactly the league there.
        assert_eq!(zone_matchup_factor(&shares, &unknown), Some(0.0));
        let mut zero_league = defense("NYK", 0.6);
        zero_league.league_fg_pct = [Some(0.0); 5];
        assert_eq!(zone_matchup_factor(&shares, &zero_league), None);
        assert_eq!(zone_matchup_factor(&[None; 5], &defense("NYK", 0.6)), None);
    }

    #[test]
    fn a_player_without_shot_attempts_gets_no_zone_factor_and_an_issue() {
        let mut inputs = Owned::typical();
        inputs.shot_zones[0].attempt_share = [None; 5];
        let row = &inputs.build()[0];
        assert_eq!(row.zone_matchup_factor, None);
        assert_eq!(
            row.data_quality_issues,
            ["no zone with player attempts and opponent and league accuracy"]
        );
        assert!(row.composite_adjustment.is_finite());
    }

    #[test]
    fn missing_zone_rows_are_data_quality_issues_and_count_as_neutral() {
        let mut inputs = Owned::typical();
        inputs.shot_zones.clear();
        inputs.defense_zones.clear();
        let row = &inputs.build()[0];
        assert_eq!(row.zone_matchup_factor, None);
        assert_eq!(
            row.data_quality_issues,
            [
                "no shot zone row for player",
                "no defense zone row for opponent NYK"
            ]
        );
        assert_eq!(row.composite_adjustment, 1.0);
    }

    #[test]
    fn fatigue_penalises_back_to_backs_and_crowded_weeks() {
        assert_eq!(fatigue_factor(false, 3), 0.0);
        assert_eq!(fatigue_factor(true, 1), BACK_TO_BACK_PENALTY);
        assert!((fatigue_factor(true, 5) - (0.03 + 0.02)).abs() < 1e-12);
        let mut inputs = Owned::typical();
        inputs.player_games = [103, 104, 105, 107, 109].map(|d| game("a", d)).to_vec();
        let row = &inputs.build()[0];
        assert_eq!((row.days_rest, row.back_to_back), (0, true));
        assert_eq!(row.games_in_last_7_days, 5);
        assert!((row.fatigue_factor - 0.05).abs() < 1e-12);
    }

    #[test]
    fn pace_factor_is_the_mean_of_both_teams_recent_pace_over_the_leagues() {
        let mut inputs = Owned::typical();
        inputs.team_games = vec![
            team_game("BOS", 104, 104.0),
            team_game("NYK", 104, 100.0),
            team_game("LAL", 104, 96.0),
            // Older than Los Angeles' last 10 games: out of its window.
            team_game("LAL", 50, 200.0),
        ];
        inputs
            .team_games
            .extend((60..70).map(|d| team_game("LAL", d, 96.0)));
        let row = &inputs.build()[0];
        // Los Angeles' window is its games on days 104 and 61 to 69: ten at 96.
        // League: (104 + 100 + 10 × 96) / 12 = 97; teams: (104 + 100) / 2.
        let league = (104.0 + 100.0 + 10.0 * 96.0) / 12.0;
        assert!((row.pace_factor.unwrap() - 102.0 / league).abs() < 1e-12);
    }

    #[test]
    fn a_team_without_pace_has_no_pace_factor_and_an_issue() {
        let mut inputs = Owned::typical();
        inputs.team_games[1].pace = None;
        let row = &inputs.build()[0];
        assert_eq!(row.pace_factor, None);
        assert_eq!(
            row.data_quality_issues,
            ["no pace for opponent NYK in its last 10 games"]
        );
        inputs.team_games.clear();
        let row = &inputs.build()[0];
        assert_eq!(row.pace_factor, None);
        assert_eq!(row.data_quality_issues.len(), 3);
    }

    #[test]
    fn the_composite_adds_weighted_zone_and_pace_and_subtracts_fatigue() {
        assert!((composite_adjustment(Some(0.2), Some(1.04), 0.03) - 1.09).abs() < 1e-12);
        assert_eq!(composite_adjustment(None, None, 0.0), 1.0);
        assert_eq!(
            composite_adjustment(Some(5.0), None, 0.0),
            COMPOSITE_BOUNDS.1
        );
        assert_eq!(
            composite_adjustment(Some(-5.0), None, 0.0),
            COMPOSITE_BOUNDS.0
        );
        let row = &Owned::typical().build()[0];
        assert!((row.composite_adjustment - 1.1).abs() < 1e-12);
        assert!(row.data_quality_issues.is_empty());
    }

    #[test]
    fn players_whose_team_is_idle_get_no_row() {
        let mut inputs = Owned::typical();
        let mut traded = game("b", 100);
        traded.team_abbr = "LAL";
        inputs.player_games.push(traded);
        let rows = inputs.build();
        assert_eq!(
            rows.iter()
                .map(|r| r.player_lookup.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(
            (rows[0].team_abbr.as_str(), rows[0].opponent_abbr.as_str()),
            ("BOS", "NYK")
        );
    }

    #[test]
    fn the_first_zone_row_for_a_player_or_a_team_is_the_one_used() {
        let mut doubled = Owned::typical();
        doubled.shot_zones.push(ShotZones {
            attempt_share: [Some(0.0), Some(0.0), Some(0.0), Some(0.0), Some(1.0)],
            ..rim_only("a")
        });
        doubled.defense_zones.push(defense("NYK", 0.9));
        assert_eq!(doubled.build(), Owned::typical().build());
    }

    #[test]
    fn games_on_or_after_the_analysis_date_never_change_a_row() {
        let past = Owned::typical();
        let mut future = Owned::typical();
        future.player_games.push(game("a", DAY));
        future.player_games.push(game("a", DAY + 1));
        future.team_games.push(team_game("BOS", DAY, 150.0));
        future.team_games.push(team_game("NYK", DAY + 2, 50.0));
        future.shot_zones.insert(
            0,
            ShotZones {
                analysis_day: DAY + 1,
                attempt_share: [Some(0.0), Some(0.0), Some(0.0), Some(0.0), Some(1.0)],
                ..rim_only("a")
            },
        );
        future.defense_zones.insert(
            0,
            DefenseZones {
                analysis_day: DAY + 1,
                ..defense("NYK", 0.9)
            },
        );
        future.schedule.push(ScheduledGame {
            game_day: DAY + 1,
            home_team: "BOS",
            away_team: "LAL",
        });
        assert_eq!(past.build(), future.build());
    }
}
