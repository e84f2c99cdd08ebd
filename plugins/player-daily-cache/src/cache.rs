//! The processor's logic: past game summaries in, one cache row per active
//! player out, as of the analysis date.
//!
//! Dates are day numbers (days since 1970-01-01) so the logic stays plain
//! Rust, unit-tested natively. Only games strictly before the analysis date
//! are used: nothing on or after it can change a row.

use basketball::{by_player, opponent_of};

/// One past game of one player, from `nba_analytics.player_game_summary`,
/// borrowing its text from the rows it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct PastGame<'a> {
    /// The player's lookup key.
    pub player_lookup: &'a str,
    /// The player's code: the same for every game of the player, and
    /// small (an index into the read's dictionary of players).
    pub player_code: u32,
    /// The day number of the game.
    pub game_day: i64,
    /// The team the player played for.
    pub team_abbr: &'a str,
    /// Points scored.
    pub points: i64,
    /// Minutes played.
    pub minutes: f64,
}

/// A game scheduled on the analysis date.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledGame<'a> {
    /// The home team.
    pub home_team: &'a str,
    /// The away team.
    pub away_team: &'a str,
}

/// One row of `nba_precompute.player_daily_cache`.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheRow {
    /// The player's lookup key.
    pub player_lookup: String,
    /// The player's team, from their latest game.
    pub team_abbr: String,
    /// The team they face on the analysis date.
    pub opponent_abbr: String,
    /// Whether they play at home on the analysis date.
    pub is_home: bool,
    /// Games played this season before the analysis date.
    pub games_played: i64,
    /// Mean points over the last 5 games (fewer if fewer were played).
    pub points_avg_last_5: f64,
    /// Mean points over the last 10 games (fewer if fewer were played).
    pub points_avg_last_10: f64,
    /// Mean minutes over the last 5 games.
    pub minutes_avg_last_5: f64,
    /// Mean minutes over the last 10 games.
    pub minutes_avg_last_10: f64,
    /// Mean points this season.
    pub points_avg_season: f64,
    /// Mean minutes this season.
    pub minutes_avg_season: f64,
    /// Games in the 7 days before the analysis date.
    pub games_in_last_7_days: i64,
    /// Full days off between the latest game and the analysis date.
    pub days_rest: i64,
    /// Whether the latest game was the day before.
    pub back_to_back: bool,
    /// The day number of the latest game.
    pub last_game_day: i64,
    /// Why this row is less trustworthy than usual; empty when it is fine.
    pub data_quality_issues: Vec<String>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Builds the cache rows for `analysis_day`: one per player whose latest team
/// plays that day, in player order. Games on or after `analysis_day` are ignored.
pub fn build_cache(
    analysis_day: i64,
    games: &[PastGame<'_>],
    schedule: &[ScheduledGame<'_>],
) -> Vec<CacheRow> {
    let before = games.iter().filter(|g| g.game_day < analysis_day);
    let mut rows = Vec::new();
    for (player, mut played) in by_player(before, |g| (g.player_code, g.player_lookup)) {
        played.sort_by_key(|g| std::cmp::Reverse(g.game_day));
        let latest = played[0];
        let Some((opponent, is_home)) = schedule
            .iter()
            .find_map(|s| opponent_of(latest.team_abbr, s.home_team, s.away_team))
        else {
            continue;
        };
        let last = |n: usize, f: fn(&PastGame) -> f64| mean(played.iter().take(n).map(|g| f(g)));
        let points = |g: &PastGame| g.points as f64;
        let minutes = |g: &PastGame| g.minutes;
        let games_played = played.len() as i64;
        let mut data_quality_issues = Vec::new();
        for window in [5, 10] {
            if played.len() < window {
                data_quality_issues.push(format!(
                    "only {games_played} games played, fewer than {window}"
                ));
            }
        }
        let days_rest = analysis_day - latest.game_day - 1;
        rows.push(CacheRow {
            player_lookup: player.to_string(),
            team_abbr: latest.team_abbr.to_string(),
            opponent_abbr: opponent.to_string(),
            is_home,
            games_played,
            points_avg_last_5: last(5, points),
            points_avg_last_10: last(10, points),
            minutes_avg_last_5: last(5, minutes),
            minutes_avg_last_10: last(10, minutes),
            points_avg_season: last(usize::MAX, points),
            minutes_avg_season: last(usize::MAX, minutes),
            games_in_last_7_days: played
                .iter()
                .filter(|g| g.game_day >= analysis_day - 7)
                .count() as i64,
            days_rest,
            back_to_back: days_rest == 0,
            last_game_day: latest.game_day,
            data_quality_issues,
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(player: &str, day: i64, points: i64) -> PastGame<'_> {
        PastGame {
            player_lookup: player,
            player_code: u32::from(player.as_bytes()[0]),
            game_day: day,
            team_abbr: "BOS",
            points,
            minutes: 30.0,
        }
    }

    fn boston_hosts_new_york() -> Vec<ScheduledGame<'static>> {
        vec![ScheduledGame {
            home_team: "BOS",
            away_team: "NYK",
        }]
    }

    #[test]
    fn rolling_averages_use_the_most_recent_games() {
        let games: Vec<_> = (0..12).map(|d| game("a", 100 + d, d)).collect();
        let row = &build_cache(112, &games, &boston_hosts_new_york())[0];
        assert_eq!(row.points_avg_last_5, (7 + 8 + 9 + 10 + 11) as f64 / 5.0);
        assert_eq!(row.points_avg_last_10, (2..12).sum::<i64>() as f64 / 10.0);
        assert_eq!(row.points_avg_season, (0..12).sum::<i64>() as f64 / 12.0);
        assert_eq!(row.games_played, 12);
        assert!(row.data_quality_issues.is_empty());
    }

    #[test]
    fn rest_and_back_to_backs_count_full_days_off() {
        let row = &build_cache(110, &[game("a", 109, 10)], &boston_hosts_new_york())[0];
        assert_eq!((row.days_rest, row.back_to_back), (0, true));
        let row = &build_cache(110, &[game("a", 107, 10)], &boston_hosts_new_york())[0];
        assert_eq!((row.days_rest, row.back_to_back), (2, false));
    }

    #[test]
    fn games_in_last_seven_days_exclude_older_games() {
        let games = [
            game("a", 102, 1),
            game("a", 103, 1),
            game("a", 105, 1),
            game("a", 109, 1),
        ];
        assert_eq!(
            build_cache(110, &games, &boston_hosts_new_york())[0].games_in_last_7_days,
            3
        );
    }

    #[test]
    fn players_whose_team_is_idle_get_no_row() {
        let mut idle = game("b", 100, 10);
        idle.team_abbr = "LAL";
        let rows = build_cache(110, &[game("a", 100, 10), idle], &boston_hosts_new_york());
        assert_eq!(
            rows.iter()
                .map(|r| r.player_lookup.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(
            (rows[0].opponent_abbr.as_str(), rows[0].is_home),
            ("NYK", true)
        );
    }

    #[test]
    fn short_histories_are_flagged_as_data_quality_issues() {
        let rows = build_cache(110, &[game("a", 100, 10)], &boston_hosts_new_york());
        assert_eq!(
            rows[0].data_quality_issues,
            [
                "only 1 games played, fewer than 5",
                "only 1 games played, fewer than 10"
            ]
        );
    }

    #[test]
    fn games_on_or_after_the_analysis_date_never_change_a_row() {
        let past = vec![game("a", 100, 10), game("a", 105, 20)];
        let mut with_future = past.clone();
        with_future.push(game("a", 110, 50));
        with_future.push(game("a", 111, 60));
        let schedule = boston_hosts_new_york();
        assert_eq!(
            build_cache(110, &past, &schedule),
            build_cache(110, &with_future, &schedule)
        );
    }
}
