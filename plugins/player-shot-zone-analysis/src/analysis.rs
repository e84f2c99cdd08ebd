//! The processor's logic: past player game summaries in, one row per player
//! with their shot mix and accuracy by court zone over their last 10 games.
//!
//! Dates are day numbers (days since 1970-01-01) so the logic stays plain
//! Rust, unit-tested natively. Only games strictly before the analysis date
//! are used: nothing on or after it can change a row.

use basketball::by_player;
pub use basketball::{ZONES, ZoneShots};

/// How many of a player's most recent games make their window.
pub const WINDOW_GAMES: usize = 10;

/// One past game of one player, from `nba_analytics.player_game_summary`,
/// borrowing its text from the rows it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct PastGame<'a> {
    /// The player's lookup key.
    pub player_lookup: &'a str,
    /// The player's code: the same for every game of the player, and
    /// small (an index into the read's dictionary of players).
    pub player_code: u32,
    /// The team the player played for.
    pub team_abbr: &'a str,
    /// The game, to order games played on the same day.
    pub game_id: &'a str,
    /// The day number of the game.
    pub game_day: i64,
    /// The player's shots by zone, in [`ZONES`] order.
    pub zones: [ZoneShots; 5],
}

/// How a player used and shot one zone over their window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PlayerZone {
    /// The zone's share of the player's attempts; `None` without any attempt.
    pub attempt_share: Option<f64>,
    /// Makes / attempts in the zone; `None` without attempts there.
    pub fg_pct: Option<f64>,
}

/// One row of `nba_precompute.player_shot_zone_analysis`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerZoneRow {
    /// The player's lookup key.
    pub player_lookup: String,
    /// The player's team, from their latest game.
    pub team_abbr: String,
    /// Games in the window: the last [`WINDOW_GAMES`] before the analysis
    /// date this season, fewer if fewer were played.
    pub games_in_window: i64,
    /// Field goals attempted per game over the window.
    pub fga_per_game: f64,
    /// The zones, in [`ZONES`] order.
    pub zones: [PlayerZone; 5],
}

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Builds one row per player with at least one game before `analysis_day`,
/// in player order. Games on or after `analysis_day` are ignored.
pub fn analyze(analysis_day: i64, games: &[PastGame<'_>]) -> Vec<PlayerZoneRow> {
    let before = games.iter().filter(|g| g.game_day < analysis_day);
    by_player(before, |g| (g.player_code, g.player_lookup))
        .into_iter()
        .map(|(player, mut played)| {
            played.sort_by(|a, b| (b.game_day, b.game_id).cmp(&(a.game_day, a.game_id)));
            played.truncate(WINDOW_GAMES);
            let mut totals = [ZoneShots::default(); 5];
            for game in &played {
                for (total, shots) in totals.iter_mut().zip(game.zones) {
                    total.attempts += shots.attempts;
                    total.makes += shots.makes;
                }
            }
            let all_attempts: i64 = totals.iter().map(|z| z.attempts).sum();
            let mut zones = [PlayerZone::default(); 5];
            for (zone, shots) in zones.iter_mut().zip(totals) {
                *zone = PlayerZone {
                    attempt_share: ratio(shots.attempts, all_attempts),
                    fg_pct: ratio(shots.makes, shots.attempts),
                };
            }
            let games_in_window = played.len() as i64;
            PlayerZoneRow {
                player_lookup: player.to_string(),
                team_abbr: played[0].team_abbr.to_string(),
                games_in_window,
                // A player in the map has at least one game.
                fga_per_game: all_attempts as f64 / games_in_window as f64,
                zones,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A game of `player` for BOS where they shot `ra` (attempts, makes) at
    /// the rim and `mid` from mid-range, nothing elsewhere.
    fn game(player: &str, day: i64, ra: (i64, i64), mid: (i64, i64)) -> PastGame<'_> {
        let mut zones = [ZoneShots::default(); 5];
        zones[0] = ZoneShots {
            attempts: ra.0,
            makes: ra.1,
        };
        zones[2] = ZoneShots {
            attempts: mid.0,
            makes: mid.1,
        };
        PastGame {
            player_lookup: player,
            player_code: u32::from(player.as_bytes()[0]),
            team_abbr: "BOS",
            // A test's games live as long as the test: leaking the id is fine.
            game_id: Box::leak(format!("{day}_BOS").into_boxed_str()),
            game_day: day,
            zones,
        }
    }

    #[test]
    fn shot_mix_and_accuracy_are_pooled_over_the_window() {
        let games = [
            game("a", 100, (6, 3), (2, 1)),
            game("a", 102, (2, 2), (6, 2)),
        ];
        let row = &analyze(110, &games)[0];
        assert_eq!(row.games_in_window, 2);
        assert_eq!(row.fga_per_game, 8.0);
        assert_eq!(row.zones[0].attempt_share, Some(0.5));
        assert_eq!(row.zones[0].fg_pct, Some(5.0 / 8.0));
        assert_eq!(row.zones[2].fg_pct, Some(3.0 / 8.0));
        assert_eq!(row.zones[3].attempt_share, Some(0.0));
    }

    #[test]
    fn the_window_is_the_players_last_ten_games() {
        let mut games = vec![game("a", 100, (10, 10), (0, 0))];
        games.extend((1..=10).map(|d| game("a", 100 + d, (4, 1), (0, 0))));
        let row = &analyze(200, &games)[0];
        assert_eq!(row.games_in_window, 10);
        assert_eq!(row.zones[0].fg_pct, Some(0.25));
        assert_eq!(row.fga_per_game, 4.0);
    }

    #[test]
    fn the_team_is_the_one_of_the_latest_game() {
        let mut traded = game("a", 105, (1, 1), (0, 0));
        traded.team_abbr = "LAL";
        let row = &analyze(110, &[game("a", 100, (1, 1), (0, 0)), traded])[0];
        assert_eq!(row.team_abbr, "LAL");
    }

    #[test]
    fn a_player_without_attempts_has_no_shares_or_percentages() {
        let row = &analyze(110, &[game("a", 100, (0, 0), (0, 0))])[0];
        assert_eq!(row.fga_per_game, 0.0);
        assert!(row.zones.iter().all(|z| *z == PlayerZone::default()));
        let row = &analyze(110, &[game("a", 100, (3, 0), (0, 0))])[0];
        assert_eq!(row.zones[0].fg_pct, Some(0.0));
        assert_eq!(row.zones[2].fg_pct, None);
        assert_eq!(row.zones[2].attempt_share, Some(0.0));
    }

    #[test]
    fn players_without_a_game_before_the_analysis_date_get_no_row() {
        let rows = analyze(
            110,
            &[
                game("a", 100, (1, 1), (0, 0)),
                game("b", 110, (1, 1), (0, 0)),
            ],
        );
        assert_eq!(
            rows.iter()
                .map(|r| r.player_lookup.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
    }

    #[test]
    fn games_on_or_after_the_analysis_date_never_change_a_row() {
        let past = vec![
            game("a", 100, (6, 3), (2, 1)),
            game("b", 105, (2, 2), (6, 2)),
        ];
        let mut with_future = past.clone();
        with_future.push(game("a", 110, (20, 20), (0, 0)));
        with_future.push(game("b", 111, (0, 0), (9, 0)));
        with_future.push(game("c", 110, (1, 1), (1, 1)));
        assert_eq!(analyze(110, &past), analyze(110, &with_future));
    }
}
