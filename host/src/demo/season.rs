//! Deterministic synthetic NBA season generator.
//!
//! Builds a made-up but plausible 2025-26 regular season: the 30 real team
//! abbreviations, 450 invented players (15 per team), a 1,230-game schedule
//! (82 games per team, 41 at home, with back-to-backs and an All-Star break),
//! per-player box scores with shots split by court zone, and one points prop
//! line per game for each team's top eight rotation players.
//!
//! Everything is drawn from ChaCha8 streams seeded from [`SeasonConfig::seed`]
//! (no hash-map iteration order is involved), so a given config always yields
//! exactly the same season. Gaps can be configured on purpose: dates whose box
//! scores are left out, and dates with no prop lines at all.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

/// Seed used by [`SeasonConfig::default`].
pub const DEFAULT_SEED: u64 = 20251021;
/// First day of the regular season (year, month, day).
pub const SEASON_START: (i32, u32, u32) = (2025, 10, 21);
/// Last day of the regular season (year, month, day).
pub const SEASON_END: (i32, u32, u32) = (2026, 4, 12);
/// Games each team plays.
pub const GAMES_PER_TEAM: usize = 82;
/// Players on each roster.
pub const PLAYERS_PER_TEAM: usize = 15;
/// Sportsbooks that post prop lines, rotated per player.
pub const SPORTSBOOKS: [&str; 3] = ["DraftKings", "FanDuel", "BetMGM"];
/// How many players per team (by minutes role) get prop lines.
pub const PROP_PLAYERS_PER_TEAM: usize = 8;

/// Turns a `(year, month, day)` tuple such as [`SEASON_START`] into a date.
pub fn ymd((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

/// What to generate: the seed, the season window and the deliberate data gaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeasonConfig {
    /// Seed for every random draw; same seed, same season.
    pub seed: u64,
    /// First day games may be scheduled.
    pub start: NaiveDate,
    /// Last day games may be scheduled (inclusive).
    pub end: NaiveDate,
    /// All-Star break: inclusive range with no games
    pub all_star_break: (NaiveDate, NaiveDate),
    /// Scheduled game dates whose box scores are deliberately left out (games still in schedule)
    pub dates_missing_box_scores: Vec<NaiveDate>,
    /// Game dates with no prop lines at all (dates without games have no effect)
    pub dates_missing_odds: Vec<NaiveDate>,
}

impl Default for SeasonConfig {
    /// Seed [`DEFAULT_SEED`], 2025-10-21..=2026-04-12, All-Star break
    /// 2026-02-13..=2026-02-18, no box scores on 2026-01-06 and no odds on
    /// 2025-11-27, 2025-12-25, 2026-01-20 and 2026-03-15 (all game dates).
    fn default() -> Self {
        SeasonConfig {
            seed: DEFAULT_SEED,
            start: ymd(SEASON_START),
            end: ymd(SEASON_END),
            all_star_break: (ymd((2026, 2, 13)), ymd((2026, 2, 18))),
            dates_missing_box_scores: vec![ymd((2026, 1, 6))],
            dates_missing_odds: [(2025, 11, 27), (2025, 12, 25), (2026, 1, 20), (2026, 3, 15)]
                .into_iter()
                .map(ymd)
                .collect(),
        }
    }
}

/// A franchise.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// Three-letter abbreviation, e.g. "BOS".
    pub team_abbr: String,
    /// Full name, e.g. "Boston Celtics".
    pub team_name: String,
    /// Possessions per 48 minutes (about 96-104); scales box-score volume.
    pub pace: f64,
}

/// A rostered player.
#[derive(Debug, Clone, PartialEq)]
pub struct Player {
    /// Lowercase letters-only key, unique in the league, e.g. "jaylenbrown".
    pub player_lookup: String,
    /// Display name.
    pub player_name: String,
    /// Team abbreviation.
    pub team_abbr: String,
    /// "G", "F" or "C".
    pub position: String,
}

/// One game on the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledGame {
    /// `YYYYMMDD_AWAY_HOME`, e.g. "20260111_BOS_NYK".
    pub game_id: String,
    /// Local (US) game date.
    pub game_date: NaiveDate,
    /// Home team abbreviation.
    pub home_team: String,
    /// Away team abbreviation.
    pub away_team: String,
    /// Tip-off in UTC (may fall on the next calendar day).
    pub start_time_utc: NaiveDateTime,
}

/// One player's line in one game he played (DNPs are omitted).
/// `points == 2 * (ra + paint + mid makes) + 3 * (corner3 + atb3 makes) + ftm`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BoxScore {
    /// Game id, as in [`ScheduledGame::game_id`].
    pub game_id: String,
    /// Game date.
    pub game_date: NaiveDate,
    /// Player key.
    pub player_lookup: String,
    /// Player display name.
    pub player_name: String,
    /// Player's team.
    pub team_abbr: String,
    /// Opponent team.
    pub opponent_abbr: String,
    /// Whether the player's team was at home.
    pub is_home: bool,
    /// Minutes played, one decimal.
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
    /// Restricted-area attempts (2pt).
    pub ra_fga: i64,
    /// Restricted-area makes.
    pub ra_fgm: i64,
    /// Non-restricted-area paint attempts (2pt).
    pub paint_fga: i64,
    /// Non-restricted-area paint makes.
    pub paint_fgm: i64,
    /// Mid-range attempts (2pt).
    pub mid_fga: i64,
    /// Mid-range makes.
    pub mid_fgm: i64,
    /// Corner three attempts.
    pub corner3_fga: i64,
    /// Corner three makes.
    pub corner3_fgm: i64,
    /// Above-the-break three attempts.
    pub atb3_fga: i64,
    /// Above-the-break three makes.
    pub atb3_fgm: i64,
}

/// A pre-game points over/under line from one sportsbook.
#[derive(Debug, Clone, PartialEq)]
pub struct PropLine {
    /// Game id.
    pub game_id: String,
    /// Game date.
    pub game_date: NaiveDate,
    /// Player key.
    pub player_lookup: String,
    /// "DraftKings", "FanDuel" or "BetMGM".
    pub sportsbook: String,
    /// Points line, always ending in .5.
    pub points_line: f64,
    /// American odds for the over, e.g. -110.
    pub over_price: i64,
    /// American odds for the under, e.g. -110.
    pub under_price: i64,
}

/// A whole generated season.
#[derive(Debug, Clone, PartialEq)]
pub struct Season {
    /// The config it was generated from.
    pub config: SeasonConfig,
    /// The 30 teams.
    pub teams: Vec<Team>,
    /// All 450 players, team by team, best rotation role first.
    pub players: Vec<Player>,
    /// All games, sorted by tip-off.
    pub schedule: Vec<ScheduledGame>,
    /// Box scores in schedule order (none for `dates_missing_box_scores`).
    pub box_scores: Vec<BoxScore>,
    /// Prop lines in schedule order (none for `dates_missing_odds`).
    pub prop_lines: Vec<PropLine>,
}

impl Season {
    /// Generates the season described by `config`; deterministic for its seed.
    pub fn generate(config: SeasonConfig) -> Season {
        let mut rng = stream(config.seed, 0);
        let teams: Vec<Team> = TEAMS
            .iter()
            .map(|(abbr, name, _)| Team {
                team_abbr: abbr.to_string(),
                team_name: name.to_string(),
                pace: tenth(rng.random_range(96.0..104.0)),
            })
            .collect();
        let (players, skills) = make_players(&mut rng);
        let games = build_schedule(&config, &mut stream(config.seed, 1));
        let schedule = games
            .iter()
            .map(|&(date, h, a, tip)| ScheduledGame {
                game_id: format!("{}_{}_{}", date.format("%Y%m%d"), TEAMS[a].0, TEAMS[h].0),
                game_date: date,
                home_team: TEAMS[h].0.to_string(),
                away_team: TEAMS[a].0.to_string(),
                start_time_utc: tip,
            })
            .collect();
        let (box_scores, prop_lines) = (Vec::new(), Vec::new());
        let mut season = Season {
            config,
            teams,
            players,
            schedule,
            box_scores,
            prop_lines,
        };
        season.simulate(&games, &skills);
        season
    }

    /// Sorted distinct dates that have at least one scheduled game.
    pub fn game_dates(&self) -> Vec<NaiveDate> {
        let set: BTreeSet<NaiveDate> = self.schedule.iter().map(|g| g.game_date).collect();
        set.into_iter().collect()
    }

    /// Plays every game in schedule order, filling box scores and prop lines.
    /// Every game is simulated (so form carries over) even when its output is withheld.
    fn simulate(&mut self, games: &[Slot], skills: &[Skill]) {
        let mut form: Vec<f64> = skills.iter().map(|s| s.expected_points).collect();
        let mut lines_posted = vec![0usize; self.players.len()];
        for (gi, &(date, home, away, _)) in games.iter().enumerate() {
            let mut rng = stream(self.config.seed, 1000 + gi as u64);
            let game_id = &self.schedule[gi].game_id;
            let game_minutes = if rng.random_bool(0.06) { 265.0 } else { 240.0 };
            let pace = (self.teams[home].pace + self.teams[away].pace) / 200.0;
            let keep_box = !self.config.dates_missing_box_scores.contains(&date);
            let post_odds = !self.config.dates_missing_odds.contains(&date);
            for (team, opp, is_home) in [(home, away, true), (away, home, false)] {
                let roster = team * PLAYERS_PER_TEAM..(team + 1) * PLAYERS_PER_TEAM;
                let mut minutes: Vec<f64> = skills[roster.clone()]
                    .iter()
                    .map(
                        |s| match rng.random::<f64>() < 0.04 || rng.random::<f64>() < s.dnp {
                            true => 0.0,
                            false => normal(&mut rng, s.mean_minutes, 3.5).max(1.5),
                        },
                    )
                    .collect();
                let scale = game_minutes / minutes.iter().sum::<f64>().max(1.0);
                minutes
                    .iter_mut()
                    .for_each(|m| *m = tenth((*m * scale).min(game_minutes / 5.0)));
                for (rank, p) in roster.enumerate().filter(|&(rank, _)| minutes[rank] > 0.0) {
                    let player = &self.players[p];
                    if rank < PROP_PLAYERS_PER_TEAM && post_odds {
                        let skew = [-10, -5, 0, 0, 5, 10][rng.random_range(0..6)];
                        self.prop_lines.push(PropLine {
                            game_id: game_id.clone(),
                            game_date: date,
                            player_lookup: player.player_lookup.clone(),
                            sportsbook: SPORTSBOOKS[(lines_posted[p] + p) % 3].to_string(),
                            points_line: (form[p] + normal(&mut rng, 0.0, 0.6)).max(0.0).floor()
                                + 0.5,
                            over_price: american(-110 + skew),
                            under_price: american(-110 - skew),
                        });
                        lines_posted[p] += 1;
                    }
                    let mut b = BoxScore {
                        game_id: game_id.clone(),
                        game_date: date,
                        player_lookup: player.player_lookup.clone(),
                        player_name: player.player_name.clone(),
                        team_abbr: TEAMS[team].0.to_string(),
                        opponent_abbr: TEAMS[opp].0.to_string(),
                        is_home,
                        minutes: minutes[rank],
                        ..BoxScore::default()
                    };
                    play(&mut rng, &skills[p], pace, &mut b);
                    form[p] = 0.85 * form[p] + 0.15 * b.points as f64;
                    if keep_box {
                        self.box_scores.push(b);
                    }
                }
            }
        }
    }
}

/// (abbreviation, name, home time zone: 0 Eastern, 1 Central, 2 Mountain, 3 Pacific).
#[rustfmt::skip]
const TEAMS: [(&str, &str, u32); 30] = [
    ("ATL", "Atlanta Hawks", 0), ("BOS", "Boston Celtics", 0), ("BKN", "Brooklyn Nets", 0),
    ("CHA", "Charlotte Hornets", 0), ("CHI", "Chicago Bulls", 1),
    ("CLE", "Cleveland Cavaliers", 0), ("DAL", "Dallas Mavericks", 1),
    ("DEN", "Denver Nuggets", 2), ("DET", "Detroit Pistons", 0),
    ("GSW", "Golden State Warriors", 3), ("HOU", "Houston Rockets", 1),
    ("IND", "Indiana Pacers", 0), ("LAC", "LA Clippers", 3), ("LAL", "Los Angeles Lakers", 3),
    ("MEM", "Memphis Grizzlies", 1), ("MIA", "Miami Heat", 0), ("MIL", "Milwaukee Bucks", 1),
    ("MIN", "Minnesota Timberwolves", 1), ("NOP", "New Orleans Pelicans", 1),
    ("NYK", "New York Knicks", 0), ("OKC", "Oklahoma City Thunder", 1),
    ("ORL", "Orlando Magic", 0), ("PHI", "Philadelphia 76ers", 0), ("PHX", "Phoenix Suns", 2),
    ("POR", "Portland Trail Blazers", 3), ("SAC", "Sacramento Kings", 3),
    ("SAS", "San Antonio Spurs", 1), ("TOR", "Toronto Raptors", 0), ("UTA", "Utah Jazz", 2),
    ("WAS", "Washington Wizards", 0),
];

const FIRST_NAMES: &str = "Marcus Darius Tyrese Jalen Malik Andre Devin Isaiah Caleb Jordan Trey \
    Keon Dante Xavier Elijah Cameron Julian Terrence Quentin Brandon Nikola Luka Mateo Oskar \
    Henrik Bruno Amari Kendrick Rashad Tobias Desmond Miles Noah Ethan Grant Cole Emeka Chidi \
    Tariq Omari Jarrett Reggie Kobe Zion Landry Bennett Ismael Santiago";
const LAST_NAMES: &str = "Whitfield Okafor Castellanos Brightwater Delaney Mbeki Harrowgate \
    Fontaine Kowalczyk Ashby Redmond Sokolov Trammell Vasquez Ellington Pryor Nwosu Galloway \
    Hargrove Lindqvist Mabry Odom-Reyes Petrakis Quarles Rutledge Stanhope Thibault Underwood \
    Varga Winslow Yeboah Zeller-Haas Abernathy Blackwood Crenshaw Dunleavy Eastman Fairbanks \
    Goodwin Holloway Ingram-Cole Jefferies Kensington Lockhart Merriweather Norwood Osei \
    Pemberton Radcliffe Sutherland Tillman Vanterpool Wardlaw Youngblood Adeyemi Bellamy \
    Coltrane Dorsey Easley Fenwick";

/// Court zones in box-score order: RA, paint, mid, corner three, above-the-break three.
const ZONE_POINTS: [i64; 5] = [2, 2, 2, 3, 3];

/// Relative number of games per weekday, Monday first (busy Wednesdays, light Thursdays).
const WEEKDAY_WEIGHTS: [f64; 7] = [7.0, 6.5, 10.0, 5.0, 9.0, 7.5, 6.5];

/// (date, home team index, away team index, tip-off UTC).
type Slot = (NaiveDate, usize, usize, NaiveDateTime);

/// Latent per-player ability, hidden from the public output.
struct Skill {
    mean_minutes: f64,
    dnp: f64,
    fga36: f64,
    zone_cum: [f64; 5],
    zone_pct: [f64; 5],
    fta_rate: f64,
    ft_pct: f64,
    reb36: f64,
    ast36: f64,
    tov36: f64,
    expected_points: f64,
}

fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

fn normal(rng: &mut ChaCha8Rng, mean: f64, sd: f64) -> f64 {
    let (u1, u2) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
    mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> i64 {
    let (limit, mut k, mut p) = ((-lambda.max(0.0)).exp(), 0, rng.random::<f64>());
    while p > limit {
        (k, p) = (k + 1, p * rng.random::<f64>());
    }
    k
}

fn binomial(rng: &mut ChaCha8Rng, n: i64, p: f64) -> i64 {
    (0..n).filter(|_| rng.random::<f64>() < p).count() as i64
}

/// American odds: -100 is written as +100.
fn american(price: i64) -> i64 {
    if price == -100 { 100 } else { price }
}

/// Position profile: (position, zone mix, rebounds/36, assists/36, FT%, restricted-area FG%).
type Profile = (
    &'static str,
    [f64; 5],
    (f64, f64),
    (f64, f64),
    (f64, f64),
    f64,
);

/// Guard, forward and center profiles.
#[rustfmt::skip]
const PROFILES: [Profile; 3] = [
    ("G", [0.22, 0.09, 0.13, 0.08, 0.48], (3.2, 5.5), (4.0, 7.0), (0.78, 0.91), 0.62),
    ("F", [0.28, 0.12, 0.12, 0.13, 0.35], (5.5, 8.5), (2.0, 4.0), (0.72, 0.86), 0.62),
    ("C", [0.52, 0.22, 0.08, 0.05, 0.13], (9.5, 12.5), (1.8, 3.4), (0.60, 0.78), 0.67),
];

/// Minutes role by roster rank: (mean minutes, DNP chance, FGA per 36 range).
#[rustfmt::skip]
fn role(rank: usize) -> (f64, f64, (f64, f64)) {
    match rank {
        0 => (35.5, 0.0, (18.5, 21.5)),   1 => (34.0, 0.0, (15.0, 18.0)),
        2..=4 => (32.0, 0.0, (10.0, 13.5)), 5 => (25.0, 0.0, (12.0, 15.0)),
        6 => (21.0, 0.02, (9.5, 13.0)),   7 => (18.0, 0.05, (8.5, 12.0)),
        8 => (13.0, 0.15, (9.0, 12.5)),   9 => (10.0, 0.3, (8.0, 12.0)),
        10 => (8.0, 0.5, (8.0, 12.0)),    _ => (6.0, 0.75, (8.0, 12.0)),
    }
}

fn make_players(rng: &mut ChaCha8Rng) -> (Vec<Player>, Vec<Skill>) {
    let first: Vec<&str> = FIRST_NAMES.split_whitespace().collect();
    let last: Vec<&str> = LAST_NAMES.split_whitespace().collect();
    let (mut taken, mut players, mut skills) = (BTreeSet::new(), Vec::new(), Vec::new());
    for (abbr, _, _) in TEAMS {
        let mut starters = ["G", "G", "F", "F", "C"];
        starters.shuffle(rng);
        let bench = ["G", "F", "C", "G", "F", "G", "F", "C", "G", "F"];
        for (rank, pos) in starters.into_iter().chain(bench).enumerate() {
            let (player_name, player_lookup) = loop {
                let name = format!(
                    "{} {}",
                    first.choose(rng).unwrap(),
                    last.choose(rng).unwrap()
                );
                let lookup: String = name.chars().filter(char::is_ascii_alphabetic).collect();
                if taken.insert(lookup.to_lowercase()) {
                    break (name, lookup.to_lowercase());
                }
            };
            let (team_abbr, position) = (abbr.to_string(), pos.to_string());
            players.push(Player {
                player_lookup,
                player_name,
                team_abbr,
                position,
            });
            skills.push(make_skill(rng, rank, pos));
        }
    }
    (players, skills)
}

fn make_skill(rng: &mut ChaCha8Rng, rank: usize, pos: &str) -> Skill {
    let (mean_minutes, dnp, (lo, hi)) = role(rank);
    let fga36 = rng.random_range(lo..hi);
    let &(_, mix, reb, ast, ft, ra) = PROFILES.iter().find(|p| p.0 == pos).unwrap_or(&PROFILES[2]);
    let mix = mix.map(|w| w * rng.random_range(0.7..1.3));
    let total: f64 = mix.iter().sum();
    let mut zone_cum = mix.map(|w| w / total);
    (1..5).for_each(|z| zone_cum[z] += zone_cum[z - 1]);
    let zone_pct =
        [ra, 0.44, 0.42, 0.39, 0.36].map(|p| (p + normal(rng, 0.0, 0.03)).clamp(0.25, 0.8));
    let fta_rate = match rank {
        0 | 1 => rng.random_range(0.27..0.36),
        _ => rng.random_range(0.12..0.26),
    } + if pos == "C" { 0.05 } else { 0.0 };
    let ft_pct = rng.random_range(ft.0..ft.1);
    let ast36 = rng.random_range(ast.0..ast.1) + if rank == 0 { 1.5 } else { 0.0 };
    let pts_per_fga: f64 = (0..5)
        .map(|z| mix[z] / total * zone_pct[z] * ZONE_POINTS[z] as f64)
        .sum();
    let expected_points =
        (1.0 - dnp) * mean_minutes * 0.95 / 36.0 * fga36 * (pts_per_fga + fta_rate * ft_pct);
    let (reb36, tov36) = (
        rng.random_range(reb.0..reb.1),
        0.6 + 0.06 * fga36 + 0.15 * ast36,
    );
    Skill {
        mean_minutes,
        dnp,
        fga36,
        zone_cum,
        zone_pct,
        fta_rate,
        ft_pct,
        reb36,
        ast36,
        tov36,
        expected_points,
    }
}

/// Fills the stat fields of `b` (whose `minutes` and `is_home` are set) for one game.
fn play(rng: &mut ChaCha8Rng, s: &Skill, pace: f64, b: &mut BoxScore) {
    let share = b.minutes / 36.0 * pace;
    let form = normal(rng, 1.0, 0.18).max(0.4);
    let heat = (normal(rng, 1.0, 0.07) + if b.is_home { 0.015 } else { 0.0 }).clamp(0.7, 1.3);
    let fga_mean = s.fga36 * share * form;
    let (mut fga, mut fgm) = ([0i64; 5], [0i64; 5]);
    for _ in 0..poisson(rng, fga_mean) {
        let roll = rng.random::<f64>();
        let zone = s.zone_cum.iter().position(|&c| roll < c).unwrap_or(4);
        fga[zone] += 1;
        fgm[zone] += i64::from(rng.random::<f64>() < s.zone_pct[zone] * heat);
    }
    b.fta = poisson(rng, fga_mean * s.fta_rate);
    b.ftm = binomial(rng, b.fta, s.ft_pct);
    b.points = (0..5).map(|z| fgm[z] * ZONE_POINTS[z]).sum::<i64>() + b.ftm;
    b.rebounds = poisson(rng, s.reb36 * share);
    b.assists = poisson(rng, s.ast36 * share * form.sqrt());
    b.turnovers = poisson(rng, s.tov36 * b.minutes / 36.0);
    [b.ra_fga, b.paint_fga, b.mid_fga, b.corner3_fga, b.atb3_fga] = fga;
    [b.ra_fgm, b.paint_fgm, b.mid_fgm, b.corner3_fgm, b.atb3_fgm] = fgm;
}

/// Hours UTC is ahead of US Eastern time on `date` (4 in daylight time, else 5).
fn eastern_offset(date: NaiveDate) -> i64 {
    let sunday = |m, n| NaiveDate::from_weekday_of_month_opt(date.year(), m, Weekday::Sun, n);
    match (sunday(3, 2), sunday(11, 1)) {
        (Some(from), Some(to)) if from <= date && date < to => 4,
        _ => 5,
    }
}

/// Whether `team` would play three days running by also playing on day `d`.
fn tired(played: &[Vec<bool>], (home, away): (usize, usize), d: usize) -> bool {
    [home, away].into_iter().any(|t| {
        let on = |k: usize| {
            k == 2
                || (d + k)
                    .checked_sub(2)
                    .is_some_and(|x| played[t].get(x) == Some(&true))
        };
        (0..3).any(|s| (s..s + 3).all(on))
    })
}

/// Builds the 1,230 matchups and places them on dates, sorted by tip-off.
fn build_schedule(cfg: &SeasonConfig, rng: &mut ChaCha8Rng) -> Vec<Slot> {
    // Every ordered pair once (58 games each), plus 12 extra home and 12 extra
    // away games along a shuffled circle: 82 games, 41 at home, for everyone.
    let n = TEAMS.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let mut pool: Vec<(usize, usize)> = (0..n * n)
        .map(|k| (k / n, k % n))
        .filter(|(h, a)| h != a)
        .collect();
    pool.extend((0..n * 12).map(|k| (order[k / 12], order[(k / 12 + k % 12 + 1) % n])));
    pool.shuffle(rng);

    // Game days: the season window less the All-Star break and Christmas Eve.
    let days = (cfg.end - cfg.start).num_days().max(0) as usize + 1;
    let date_of = |d: usize| cfg.start + Duration::days(d as i64);
    let (b0, b1) = cfg.all_star_break;
    let dark = |t: NaiveDate| (b0..=b1).contains(&t) || (t.month(), t.day()) == (12, 24);
    let open: Vec<usize> = (0..days).filter(|&d| !dark(date_of(d))).collect();
    let weights: Vec<f64> = open
        .iter()
        .map(
            |&d| match date_of(d).weekday().num_days_from_monday() as usize {
                _ if d == open[0] => 1.5, // opening night: a couple of marquee games
                weekday => WEEKDAY_WEIGHTS[weekday] * rng.random_range(0.8..1.2),
            },
        )
        .collect();

    // Greedy pass: fill each day with the matchups of the teams furthest behind.
    let (mut played, mut left) = (vec![vec![false; days]; n], vec![GAMES_PER_TEAM; n]);
    let mut per_day: Vec<Vec<(usize, usize)>> = vec![Vec::new(); days];
    for (i, &day) in open.iter().enumerate() {
        let share = weights[i] / weights[i..].iter().sum::<f64>();
        let target = ((pool.len() as f64 * share).round() as usize).clamp(1, 15);
        let tired_today = |t: usize| f64::from(u8::from(day > 0 && played[t][day - 1]));
        let urgency = |t: usize| left[t] as f64 / (open.len() - i) as f64 - 0.03 * tired_today(t);
        let mut ranked: Vec<(f64, usize)> = (0..pool.len())
            .filter(|&k| !tired(&played, pool[k], day))
            .map(|k| {
                (
                    urgency(pool[k].0) + urgency(pool[k].1) + rng.random::<f64>() * 0.3,
                    k,
                )
            })
            .collect();
        ranked.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        let mut picked = Vec::new();
        for (_, k) in ranked {
            let (h, a) = pool[k];
            if picked.len() < target && !played[h][day] && !played[a][day] {
                (played[h][day], played[a][day]) = (true, true);
                picked.push(k);
            }
        }
        picked.sort_unstable_by(|x, y| y.cmp(x));
        for (h, a) in picked.into_iter().map(|k| pool.swap_remove(k)) {
            (left[h], left[a]) = (left[h] - 1, left[a] - 1);
            per_day[day].push((h, a));
        }
    }
    // Repair pass (rarely needed): leftovers go to the least busy day where
    // both teams are free, avoiding three games in three days if possible.
    for (h, a) in std::mem::take(&mut pool) {
        let free = |d: usize, strict: bool| {
            let ok = !played[h][d] && !played[a][d] && per_day[d].len() < 15;
            ok && !(strict && tired(&played, (h, a), d))
        };
        let day = [true, false]
            .into_iter()
            .find_map(|s| {
                open.iter()
                    .copied()
                    .filter(|&d| free(d, s))
                    .min_by_key(|&d| per_day[d].len())
            })
            .expect("a free date for every matchup");
        (played[h][day], played[a][day]) = (true, true);
        per_day[day].push((h, a));
    }

    // Tip-offs around 7-7:30pm home time (written in US Eastern time, then
    // shifted to UTC), with a couple of afternoon games on Sundays.
    let mut games = Vec::with_capacity(per_day.iter().map(Vec::len).sum());
    for (d, matchups) in per_day.iter().enumerate() {
        let date = date_of(d);
        for (slot, &(h, a)) in matchups.iter().enumerate() {
            let half = 30 * rng.random_range(0..2);
            let (hour, min) = match TEAMS[h].2 {
                0 if date.weekday() == Weekday::Sun && slot < 2 => (15, 30),
                2 => (21, 0),
                zone => (19 + zone, half),
            };
            let eastern = date.and_hms_opt(hour, min, 0).expect("valid time");
            games.push((date, h, a, eastern + Duration::hours(eastern_offset(date))));
        }
    }
    games.sort_by_key(|g| (g.3, TEAMS[g.1].0));
    games
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn season() -> &'static Season {
        static SEASON: OnceLock<Season> = OnceLock::new();
        SEASON.get_or_init(|| Season::generate(SeasonConfig::default()))
    }

    fn games_on(date: NaiveDate) -> usize {
        season()
            .schedule
            .iter()
            .filter(|g| g.game_date == date)
            .count()
    }

    fn attempts_and_makes(b: &BoxScore) -> [(i64, i64); 6] {
        [
            (b.ra_fga, b.ra_fgm),
            (b.paint_fga, b.paint_fgm),
            (b.mid_fga, b.mid_fgm),
            (b.corner3_fga, b.corner3_fgm),
            (b.atb3_fga, b.atb3_fgm),
            (b.fta, b.ftm),
        ]
    }

    #[test]
    fn league_has_30_teams_of_15_players_with_unique_lookups() {
        let s = season();
        assert_eq!((s.teams.len(), s.players.len()), (30, 450));
        let lookups: BTreeSet<&str> = s.players.iter().map(|p| p.player_lookup.as_str()).collect();
        assert_eq!(lookups.len(), 450);
        assert!(
            lookups
                .iter()
                .all(|l| l.chars().all(|c| c.is_ascii_lowercase()))
        );
        assert!(s.teams.iter().all(|t| (96.0..=104.0).contains(&t.pace)));
        for t in &s.teams {
            assert_eq!(
                s.players
                    .iter()
                    .filter(|p| p.team_abbr == t.team_abbr)
                    .count(),
                15
            );
        }
    }

    #[test]
    fn every_team_plays_82_games_41_at_home() {
        let s = season();
        assert_eq!(s.schedule.len(), 1230);
        for t in &s.teams {
            let home = s
                .schedule
                .iter()
                .filter(|g| g.home_team == t.team_abbr)
                .count();
            let away = s
                .schedule
                .iter()
                .filter(|g| g.away_team == t.team_abbr)
                .count();
            assert_eq!((home, away), (41, 41), "{}", t.team_abbr);
        }
    }

    #[test]
    fn no_team_plays_twice_on_one_date() {
        let mut seen = BTreeSet::new();
        for g in &season().schedule {
            assert!(seen.insert((g.game_date, &g.home_team)), "{}", g.game_id);
            assert!(seen.insert((g.game_date, &g.away_team)), "{}", g.game_id);
        }
    }

    #[test]
    fn season_has_160_to_170_game_dates_with_1_to_15_games_each() {
        let (s, dates) = (season(), season().game_dates());
        assert!((160..=170).contains(&dates.len()), "{} dates", dates.len());
        assert!(dates.iter().all(|&d| (1..=15).contains(&games_on(d))));
        assert!(
            dates
                .iter()
                .all(|&d| s.config.start <= d && d <= s.config.end)
        );
    }

    #[test]
    fn back_to_backs_occur_but_never_three_games_in_three_days() {
        let s = season();
        for t in &s.teams {
            let dates: Vec<NaiveDate> = s
                .schedule
                .iter()
                .filter(|g| g.home_team == t.team_abbr || g.away_team == t.team_abbr)
                .map(|g| g.game_date)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let b2b = dates
                .windows(2)
                .filter(|w| w[1] - w[0] == Duration::days(1))
                .count();
            assert!(
                (5..=25).contains(&b2b),
                "{} has {b2b} back-to-backs",
                t.team_abbr
            );
            assert!(dates.windows(3).all(|w| w[2] - w[0] > Duration::days(2)));
        }
    }

    #[test]
    fn all_star_break_has_no_games() {
        let (from, to) = season().config.all_star_break;
        assert!(
            season()
                .schedule
                .iter()
                .all(|g| g.game_date < from || g.game_date > to)
        );
    }

    #[test]
    fn jan_11_2026_and_jan_6_2026_are_game_dates() {
        assert!(games_on(ymd((2026, 1, 11))) > 0 && games_on(ymd((2026, 1, 6))) > 0);
    }

    #[test]
    fn game_ids_are_date_away_home_and_tip_offs_are_us_evenings() {
        for g in &season().schedule {
            let id = format!(
                "{}_{}_{}",
                g.game_date.format("%Y%m%d"),
                g.away_team,
                g.home_team
            );
            assert_eq!(g.game_id, id);
            let hours = (g.start_time_utc - g.game_date.and_hms_opt(0, 0, 0).unwrap()).num_hours();
            assert!(
                (19..=27).contains(&hours),
                "{} tips {}",
                g.game_id,
                g.start_time_utc
            );
        }
    }

    #[test]
    fn generation_is_deterministic_for_a_seed() {
        assert!(Season::generate(SeasonConfig::default()) == *season());
        let other = Season::generate(SeasonConfig {
            seed: 7,
            ..SeasonConfig::default()
        });
        assert!(other.schedule != season().schedule && other.box_scores != season().box_scores);
    }

    #[test]
    fn points_add_up_from_makes() {
        for b in &season().box_scores {
            let makes = attempts_and_makes(b).map(|(_, m)| m);
            let twos = makes[0] + makes[1] + makes[2];
            assert_eq!(
                b.points,
                2 * twos + 3 * (makes[3] + makes[4]) + b.ftm,
                "{b:?}"
            );
        }
    }

    #[test]
    fn makes_never_exceed_attempts() {
        for b in &season().box_scores {
            assert!(
                attempts_and_makes(b).iter().all(|&(a, m)| 0 <= m && m <= a),
                "{b:?}"
            );
            assert!(b.minutes > 0.0 && b.minutes <= 53.0, "{b:?}");
            assert!(b.rebounds >= 0 && b.assists >= 0 && b.turnovers >= 0);
        }
    }

    #[test]
    fn scoring_is_realistic() {
        let s = season();
        let rows = s.box_scores.len() as f64;
        let team_games = 2 * s
            .box_scores
            .iter()
            .map(|b| &b.game_id)
            .collect::<BTreeSet<_>>()
            .len();
        let total: i64 = s.box_scores.iter().map(|b| b.points).sum();
        let (per_row, per_team_game) = (total as f64 / rows, total as f64 / team_games as f64);
        let mut stars: Vec<f64> = s
            .players
            .iter()
            .step_by(PLAYERS_PER_TEAM)
            .map(|p| {
                let pts = s
                    .box_scores
                    .iter()
                    .filter(|b| b.player_lookup == p.player_lookup);
                let (n, sum) = pts.fold((0, 0), |(n, sum), b| (n + 1, sum + b.points));
                sum as f64 / n as f64
            })
            .collect();
        stars.sort_by(f64::total_cmp);
        println!(
            "{per_row:.2} points per player-game, {per_team_game:.1} per team-game, \
             best player per team {:.1}..{:.1}",
            stars[0], stars[29]
        );
        assert!((9.5..=13.0).contains(&per_row) && (105.0..=125.0).contains(&per_team_game));
        assert!(
            (22.0..=31.0).contains(&stars[15]) && stars[29] <= 36.0,
            "{stars:?}"
        );
    }

    #[test]
    fn missing_box_score_date_is_scheduled_but_has_no_box_scores() {
        let s = season();
        let missing = &s.config.dates_missing_box_scores;
        assert!(missing.iter().all(|&d| games_on(d) > 0));
        assert!(s.box_scores.iter().all(|b| !missing.contains(&b.game_date)));
        let with_box: BTreeSet<&str> = s.box_scores.iter().map(|b| b.game_id.as_str()).collect();
        let expected = s
            .schedule
            .iter()
            .filter(|g| !missing.contains(&g.game_date))
            .count();
        assert_eq!(with_box.len(), expected);
    }

    #[test]
    fn odds_are_missing_only_on_the_configured_dates() {
        let s = season();
        let with_odds: BTreeSet<NaiveDate> = s.prop_lines.iter().map(|p| p.game_date).collect();
        for d in s.game_dates() {
            assert_eq!(
                with_odds.contains(&d),
                !s.config.dates_missing_odds.contains(&d),
                "{d}"
            );
        }
        assert!(s.config.dates_missing_odds.iter().all(|&d| games_on(d) > 0));
    }

    #[test]
    fn prop_lines_cover_top_eight_players_once_per_game_at_half_points() {
        let s = season();
        let top: BTreeSet<&str> = s
            .players
            .chunks(PLAYERS_PER_TEAM)
            .flat_map(|roster| roster[..PROP_PLAYERS_PER_TEAM].iter())
            .map(|p| p.player_lookup.as_str())
            .collect();
        let mut seen = BTreeSet::new();
        for p in &s.prop_lines {
            assert!(top.contains(p.player_lookup.as_str()) && p.points_line.fract() == 0.5);
            assert!(seen.insert((&p.game_id, &p.player_lookup)), "{p:?}");
            let prices = [p.over_price, p.under_price];
            assert!(
                prices
                    .iter()
                    .all(|&x| (-120..=-100).contains(&x) || x == 100),
                "{p:?}"
            );
        }
        for book in SPORTSBOOKS {
            assert!(s.prop_lines.iter().filter(|p| p.sportsbook == book).count() > 4000);
        }
        println!(
            "games {}, game dates {}, box score rows {}, prop line rows {}",
            s.schedule.len(),
            s.game_dates().len(),
            s.box_scores.len(),
            s.prop_lines.len()
        );
    }
}
