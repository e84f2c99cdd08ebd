//! The basketball vocabulary every processor shares: the court zones a box
//! score splits shots into, attempts and makes in one zone, the box score
//! columns that hold them, and the first day of a season. A library, not a
//! component: processors link it in.

use slate_sdk::{
    CodedColumnBatch, Column, ColumnBatch, Date, MonthDay, ProcessError, ReadError, SeasonToDate,
    table,
};

/// The court zones, in box score order: restricted area, paint (outside the
/// restricted area), mid-range, corner three, above-the-break three.
pub const ZONES: [&str; 5] = ["ra", "paint", "mid", "corner3", "atb3"];

/// Shot attempts and makes in one zone.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ZoneShots {
    /// Field goals attempted.
    pub attempts: i64,
    /// Field goals made.
    pub makes: i64,
}

/// `columns` followed by each zone's attempts and makes columns,
/// `<prefix><zone>_fga` and `<prefix><zone>_fgm` in [`ZONES`] order: what
/// to read of a table to get these columns and every zone's shots.
pub fn with_zone_shot_columns(columns: &[&str], prefix: &str) -> Vec<String> {
    let zones = ZONES
        .iter()
        .flat_map(|zone| [format!("{prefix}{zone}_fga"), format!("{prefix}{zone}_fgm")]);
    columns.iter().map(|c| c.to_string()).chain(zones).collect()
}

/// The zone shot columns of a batch, found by name once.
pub struct ZoneShotColumns<'b>(Vec<[&'b Column; 2]>);

impl<'b> ZoneShotColumns<'b> {
    /// Finds each zone's `<prefix><zone>_fga` and `<prefix><zone>_fgm` in
    /// `batch`, or a `missing-data` error naming the first absent one.
    pub fn of(batch: &'b ColumnBatch, prefix: &str) -> Result<Self, ProcessError> {
        let mut found = Vec::with_capacity(ZONES.len());
        for zone in ZONES {
            let (attempts, makes) = (format!("{prefix}{zone}_fga"), format!("{prefix}{zone}_fgm"));
            found.push([batch.column(&attempts)?, batch.column(&makes)?]);
        }
        Ok(ZoneShotColumns(found))
    }

    /// Row `row`'s shots in every zone, in [`ZONES`] order.
    pub fn read(&self, row: usize) -> Result<[ZoneShots; 5], ProcessError> {
        let mut zones = [ZoneShots::default(); 5];
        for (zone, [attempts, makes]) in zones.iter_mut().zip(&self.0) {
            *zone = ZoneShots {
                attempts: attempts.int64(row)?,
                makes: makes.int64(row)?,
            };
        }
        Ok(zones)
    }
}

/// `columns` followed by `<prefix><zone>` for each of `prefixes`, each
/// over the zones in [`ZONES`] order: what to read of a table that holds
/// one figure per zone for each prefix, such as `opp_fg_pct_ra`.
pub fn with_zone_columns(columns: &[&str], prefixes: &[&str]) -> Vec<String> {
    let zones = prefixes
        .iter()
        .flat_map(|prefix| ZONES.iter().map(move |zone| format!("{prefix}{zone}")));
    columns.iter().map(|c| c.to_string()).chain(zones).collect()
}

/// The columns `<prefix><zone>` of a batch, one per zone, found by name
/// once: a NULLABLE FLOAT64 figure per zone, such as a zone's share of
/// attempts.
pub struct ZoneFigureColumns<'b>([&'b Column; 5]);

impl<'b> ZoneFigureColumns<'b> {
    /// Finds `<prefix><zone>` in `batch` for each zone, or a
    /// `missing-data` error naming the first absent one.
    pub fn of(batch: &'b ColumnBatch, prefix: &str) -> Result<Self, ProcessError> {
        let mut found = Vec::with_capacity(ZONES.len());
        for zone in ZONES {
            found.push(batch.column(&format!("{prefix}{zone}"))?);
        }
        Ok(ZoneFigureColumns(
            found.try_into().expect("one column per zone"),
        ))
    }

    /// Row `row`'s figure in every zone, in [`ZONES`] order.
    pub fn read(&self, row: usize) -> Result<[Option<f64>; 5], ProcessError> {
        let mut figures = [None; 5];
        for (figure, column) in figures.iter_mut().zip(&self.0) {
            *figure = column.optional_float64(row)?;
        }
        Ok(figures)
    }
}

/// A game scheduled on the analysis date.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledGame<'a> {
    /// The game id.
    pub game_id: &'a str,
    /// The home team.
    pub home_team: &'a str,
    /// The away team.
    pub away_team: &'a str,
}

/// The `scheduled` games with no box score line at all, or with lines for
/// only one side, as `has_line(game, team)` says; a one-sided game is
/// named with the team that is missing, e.g. `20260111_BOS_NYK (NYK)`. In
/// schedule order.
pub fn missing_box_scores(
    scheduled: &[ScheduledGame<'_>],
    has_line: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    scheduled
        .iter()
        .filter_map(|game| {
            let missing: Vec<&str> = [game.home_team, game.away_team]
                .into_iter()
                .filter(|team| !has_line(game.game_id, team))
                .collect();
            match missing.len() {
                0 => None,
                2 => Some(game.game_id.to_string()),
                _ => Some(format!("{} ({})", game.game_id, missing.join(", "))),
            }
        })
        .collect()
}

/// Nothing when every game scheduled on `date` has its box scores;
/// otherwise missing data naming `missing`, the games (or sides of games)
/// without, of the `scheduled` games that day.
pub fn require_box_scores<S: AsRef<str>>(
    date: Date,
    scheduled: usize,
    missing: &[S],
) -> Result<(), ProcessError> {
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(AsRef::as_ref).collect();
    Err(ProcessError::MissingData(format!(
        "no box scores for {} of {scheduled} scheduled games on {date}: {}",
        missing.len(),
        names.join(", ")
    )))
}

/// `team`'s opponent in the game of `home_team` against `away_team`, and
/// whether `team` plays at home; `None` when `team` is neither.
pub fn opponent_of<'a>(
    team: &str,
    home_team: &'a str,
    away_team: &'a str,
) -> Option<(&'a str, bool)> {
    if home_team == team {
        Some((away_team, true))
    } else if away_team == team {
        Some((home_team, false))
    } else {
        None
    }
}

/// The day each season starts: the first of October. The processors that
/// read the season to date declare it, so the host checks that window.
pub const SEASON_START: MonthDay = MonthDay { month: 10, day: 1 };

/// A declaration's reads of `upstreams` over the season to date, from
/// [`SEASON_START`]: what the host then checks for gaps.
pub const fn over_the_season(upstreams: &'static [&'static str]) -> Option<SeasonToDate> {
    Some(SeasonToDate {
        start: SEASON_START,
        upstreams,
    })
}

/// The first day of the season `date` belongs to: the latest
/// [`SEASON_START`] not after it, so January belongs to the season of the
/// October before.
pub fn season_start(date: Date) -> Date {
    let MonthDay { month, day } = SEASON_START;
    let year = if (date.month, date.day) >= (month, day) {
        date.year
    } else {
        date.year - 1
    };
    Date::new(year, month, day)
}

/// The season so far as of `date`: from the season's first day to the day
/// before `date`, or `None` on the season's first day, when nothing came
/// before.
pub fn season_so_far(date: Date) -> Option<(Date, Date)> {
    let (start, end) = (season_start(date), date.add_days(-1));
    (start <= end).then_some((start, end))
}

/// `columns` of `table` over the [`season_so_far`] as of `date`, through
/// the host; on the season's first day no read, and an empty batch with
/// those columns.
pub fn read_season_so_far<S: AsRef<str>>(
    table_name: &str,
    date: Date,
    columns: &[S],
) -> Result<ColumnBatch, ReadError> {
    match season_so_far(date) {
        Some((start, end)) => slate_sdk::read_column_batch(&table(table_name), start, end, columns),
        None => Ok(ColumnBatch::empty(columns)),
    }
}

/// Like [`read_season_so_far`], with the STRING columns `coded` coded
/// (`slate_sdk::read_coded_column_batch`).
pub fn read_season_so_far_coded<S: AsRef<str>, C: AsRef<str>>(
    table_name: &str,
    date: Date,
    columns: &[S],
    coded: &[C],
) -> Result<CodedColumnBatch, ReadError> {
    match season_so_far(date) {
        Some((start, end)) => {
            slate_sdk::read_coded_column_batch(&table(table_name), start, end, columns, coded)
        }
        None => Ok(CodedColumnBatch::empty(columns, coded)),
    }
}

/// `games` grouped by player, in player order, each player's games in the
/// order given. `player` gives a game's player: its code (small: an index
/// into a coded read's dictionary) and its name. The groups are kept in a
/// vector indexed by code, so grouping a season's games hashes and
/// compares no name; only the players are sorted, once.
pub fn by_player<'g, 'p, G>(
    games: impl IntoIterator<Item = &'g G>,
    player: impl Fn(&G) -> (u32, &'p str),
) -> Vec<(&'p str, Vec<&'g G>)> {
    let mut groups: Vec<Option<(&'p str, Vec<&'g G>)>> = Vec::new();
    for game in games {
        let (code, name) = player(game);
        let code = code as usize;
        if code >= groups.len() {
            groups.resize_with(code + 1, || None);
        }
        groups[code]
            .get_or_insert_with(|| (name, Vec::new()))
            .1
            .push(game);
    }
    let mut grouped: Vec<(&'p str, Vec<&'g G>)> = groups.into_iter().flatten().collect();
    grouped.sort_unstable_by_key(|(name, _)| *name);
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn games_are_grouped_by_code_in_player_order_keeping_each_players_order() {
        let games = [
            (2, "curry", 1),
            (0, "tatum", 2),
            (2, "curry", 3),
            (7, "brown", 4),
        ];

        let grouped = by_player(&games, |(code, name, _)| (*code, *name));

        let days: Vec<(&str, Vec<i32>)> = grouped
            .into_iter()
            .map(|(name, games)| (name, games.iter().map(|g| g.2).collect()))
            .collect();
        assert_eq!(
            days,
            [
                ("brown", vec![4]),
                ("curry", vec![1, 3]),
                ("tatum", vec![2])
            ]
        );
    }

    #[test]
    fn a_teams_opponent_is_the_other_side_of_its_game_and_no_one_outside_it() {
        assert_eq!(opponent_of("BOS", "BOS", "NYK"), Some(("NYK", true)));
        assert_eq!(opponent_of("NYK", "BOS", "NYK"), Some(("BOS", false)));
        assert_eq!(opponent_of("LAL", "BOS", "NYK"), None);
    }

    #[test]
    fn zone_shot_columns_come_after_the_named_columns_in_zone_order() {
        let columns = with_zone_shot_columns(&["game_id"], "opp_");
        assert_eq!(columns.len(), 11);
        assert_eq!(columns[..3], ["game_id", "opp_ra_fga", "opp_ra_fgm"]);
        assert_eq!(columns[10], "opp_atb3_fgm");
    }

    #[test]
    fn zone_columns_follow_the_named_columns_prefix_by_prefix() {
        let columns = with_zone_columns(&["team_abbr"], &["opp_fg_pct_", "league_fg_pct_"]);
        assert_eq!(columns.len(), 11);
        assert_eq!(
            columns[..3],
            ["team_abbr", "opp_fg_pct_ra", "opp_fg_pct_paint"]
        );
        assert_eq!(columns[6], "league_fg_pct_ra");
    }

    #[test]
    fn the_season_so_far_ends_the_day_before_and_is_none_on_the_first_day() {
        assert_eq!(
            season_so_far(Date::new(2026, 1, 11)),
            Some((Date::new(2025, 10, 1), Date::new(2026, 1, 10)))
        );
        assert_eq!(
            season_so_far(Date::new(2025, 10, 2)),
            Some((Date::new(2025, 10, 1), Date::new(2025, 10, 1)))
        );
        assert_eq!(season_so_far(Date::new(2025, 10, 1)), None);
    }

    #[test]
    fn a_game_missing_one_sides_box_scores_is_named_with_that_side() {
        let scheduled = [
            ScheduledGame {
                game_id: "20260108_CHI_PHI",
                home_team: "PHI",
                away_team: "CHI",
            },
            ScheduledGame {
                game_id: "20260108_LAL_GSW",
                home_team: "GSW",
                away_team: "LAL",
            },
        ];
        // PHI's players are there, CHI's are not; nobody of the other game.
        let missing = missing_box_scores(&scheduled, |game, team| {
            game == "20260108_CHI_PHI" && team == "PHI"
        });
        assert_eq!(missing, ["20260108_CHI_PHI (CHI)", "20260108_LAL_GSW"]);
        assert!(missing_box_scores(&scheduled, |_, _| true).is_empty());
    }

    #[test]
    fn missing_box_scores_are_missing_data_naming_the_games() {
        let day = Date::new(2026, 1, 6);
        assert!(require_box_scores::<&str>(day, 7, &[]).is_ok());
        let error = require_box_scores(day, 7, &["g1", "g2 (NYK)"]).unwrap_err();
        assert!(matches!(
            error,
            ProcessError::MissingData(m)
                if m == "no box scores for 2 of 7 scheduled games on 2026-01-06: g1, g2 (NYK)"
        ));
    }

    #[test]
    fn the_season_starts_on_the_first_of_october() {
        assert_eq!(season_start(Date::new(2026, 1, 11)), Date::new(2025, 10, 1));
        assert_eq!(
            season_start(Date::new(2025, 10, 21)),
            Date::new(2025, 10, 1)
        );
        assert_eq!(season_start(Date::new(2025, 10, 1)), Date::new(2025, 10, 1));
        assert_eq!(season_start(Date::new(2026, 9, 30)), Date::new(2025, 10, 1));
    }
}
