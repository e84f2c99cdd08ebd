//! `PlayerCompositeFactorsProcessor` (phase 4): one row per player who plays
//! on the analysis date, with the zone matchup, fatigue and pace factors for
//! that game and one composite adjustment.
//!
//! This file is the binding layer only; the logic lives in [`factors`].

pub mod factors;

use basketball::{ZoneFigureColumns, season_so_far, with_zone_columns};
use factors::{CompositeRow, DefenseZones, Inputs, PastGame, ScheduledGame, ShotZones, TeamGame};
use slate_sdk::{
    BatchReads, CodedColumnBatch, ColumnBatch, Date, Declaration, Host, Phase, ProcessError,
    RowSet, Value, days_from_date, table,
};

/// The per-game player summaries, for rest and the player's team.
pub const GAME_SUMMARIES: &str = "nba_analytics.player_game_summary";
/// The per-game team offence summaries, for pace.
pub const TEAM_OFFENSE: &str = "nba_analytics.team_offense_game_summary";
/// Players' shot zones as of the analysis date.
pub const SHOT_ZONES: &str = "nba_precompute.player_shot_zone_analysis";
/// Teams' zone defence as of the analysis date.
pub const DEFENSE_ZONES: &str = "nba_precompute.team_defense_zone_analysis";
/// The schedule, to find who plays on the analysis date.
pub const SCHEDULE: &str = "nba_raw.schedule";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_precompute.player_composite_factors";

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = Declaration {
    output_table: OUTPUT,
    schema: include_str!("../schema.json"),
    partition_column: "analysis_date",
    key_columns: &["player_lookup", "analysis_date"],
    inputs: &[
        SHOT_ZONES,
        DEFENSE_ZONES,
        TEAM_OFFENSE,
        GAME_SUMMARIES,
        SCHEDULE,
    ],
    upstream: &[
        "PlayerShotZoneAnalysisProcessor",
        "TeamDefenseZoneAnalysisProcessor",
        "TeamOffenseGameSummaryProcessor",
        "PlayerGameSummaryProcessor",
    ],
    season: basketball::over_the_season(&[
        "PlayerGameSummaryProcessor",
        "TeamOffenseGameSummaryProcessor",
    ]),
    ..Declaration::derived(
        "PlayerCompositeFactorsProcessor",
        Phase::Precompute,
        env!("CARGO_PKG_VERSION"),
    )
};

slate_sdk::processor! {
    /// The processor, exported as the component.
    pub struct PlayerCompositeFactorsProcessor(DECLARATION, process);
}

/// [`compute`] through the host's reads.
fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    compute(analysis_date, &Host)
}

/// The whole of `process`, with the host's reads passed in, so the same
/// logic can also run natively (the benchmarks compare the two).
pub fn compute(analysis_date: Date, host: &dyn BatchReads) -> Result<RowSet, ProcessError> {
    let read = |name: &str, start: Date, end: Date, columns: &[&str]| {
        host.column_batch(&table(name), start, end, columns)
    };
    // On the season's first day nothing came before: no past games. The
    // season's player games come with the player coded, to group by code.
    let (player_summaries, team_summaries) = match season_so_far(analysis_date) {
        Some((start, end)) => (
            host.coded_column_batch(
                &table(GAME_SUMMARIES),
                start,
                end,
                PLAYER_GAME_COLUMNS,
                &[PLAYER_CODED],
            )?,
            read(TEAM_OFFENSE, start, end, TEAM_GAME_COLUMNS)?,
        ),
        None => (
            CodedColumnBatch::empty(PLAYER_GAME_COLUMNS, &[PLAYER_CODED]),
            ColumnBatch::empty(TEAM_GAME_COLUMNS),
        ),
    };
    let today = |name: &str, columns: &[&str]| read(name, analysis_date, analysis_date, columns);
    let shot_zone_columns = with_zone_columns(SHOT_ZONE_COLUMNS, &[ATTEMPT_SHARE]);
    let defense_zone_columns =
        with_zone_columns(DEFENSE_ZONE_COLUMNS, &[OPP_FG_PCT, LEAGUE_FG_PCT]);
    let shot_zone_rows = today(SHOT_ZONES, &as_strs(&shot_zone_columns))?;
    let defense_zone_rows = today(DEFENSE_ZONES, &as_strs(&defense_zone_columns))?;
    let schedule_rows = today(SCHEDULE, SCHEDULE_COLUMNS)?;
    let rows = factors::build(
        days_from_date(analysis_date),
        Inputs {
            player_games: &read_player_games(&player_summaries)?,
            team_games: &read_team_games(&team_summaries)?,
            shot_zones: &read_shot_zones(&shot_zone_rows)?,
            defense_zones: &read_defense_zones(&defense_zone_rows)?,
            schedule: &read_schedule(&schedule_rows)?,
        },
    );
    Ok(DECLARATION.rows(rows.into_iter().map(|row| output_row(row, analysis_date))))
}

fn as_strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

/// One output row, in `schema.json` order.
fn output_row(row: CompositeRow, analysis_date: Date) -> Vec<Value> {
    vec![
        Value::date(analysis_date),
        Value::string(row.player_lookup),
        Value::string(row.team_abbr),
        Value::string(row.opponent_abbr),
        Value::float64_or_null(row.zone_matchup_factor),
        Value::float64_or_null(row.pace_factor),
        Value::float64(row.fatigue_factor),
        Value::int64(row.days_rest),
        Value::boolean(row.back_to_back),
        Value::int64(row.games_in_last_7_days),
        Value::float64(row.composite_adjustment),
        Value::strings(row.data_quality_issues),
    ]
}

/// The player game summaries' player column, read coded.
const PLAYER_CODED: &str = "player_lookup";

slate_sdk::batch_reader! {
    /// The columns of the player game summaries the factors use besides
    /// the player, who is read coded: 3 of 31 in all.
    const PLAYER_GAME_COLUMNS;
    /// Reads the player game summaries into past games, borrowing their text.
    fn read_player_games(batch in games) -> PastGame<'_> {
        team_abbr: string,
        game_day: day = "game_date",
        ..
        player_lookup: games.coded(PLAYER_CODED)? => string,
        player_code: games.coded(PLAYER_CODED)? => code,
    }
}

slate_sdk::batch_reader! {
    /// The columns of the team offense summaries the factors use.
    const TEAM_GAME_COLUMNS;
    /// Reads the team offence summaries into past team games.
    fn read_team_games(batch) -> TeamGame<'_> {
        team_abbr: string,
        game_id: string,
        game_day: day = "game_date",
        pace: optional_float64,
    }
}

/// The prefix of the shot zone columns the factors use, one per zone.
const ATTEMPT_SHARE: &str = "attempt_share_";
/// The prefix of the zone defence columns of opponents' FG%, one per zone.
const OPP_FG_PCT: &str = "opp_fg_pct_";
/// The prefix of the zone defence columns of the league's FG%, one per zone.
const LEAGUE_FG_PCT: &str = "league_fg_pct_";

slate_sdk::batch_reader! {
    /// The columns of the shot zone rows before their zones' attempt shares.
    const SHOT_ZONE_COLUMNS;
    /// Reads the shot zone rows.
    fn read_shot_zones(batch) -> ShotZones<'_> {
        analysis_day: day = "analysis_date",
        player_lookup: string,
        ..
        attempt_share: ZoneFigureColumns::of(batch, ATTEMPT_SHARE)? => read,
    }
}

slate_sdk::batch_reader! {
    /// The columns of the team zone defence rows before their zones' figures.
    const DEFENSE_ZONE_COLUMNS;
    /// Reads the team zone defence rows.
    fn read_defense_zones(batch) -> DefenseZones<'_> {
        analysis_day: day = "analysis_date",
        team_abbr: string,
        ..
        opp_fg_pct: ZoneFigureColumns::of(batch, OPP_FG_PCT)? => read,
        league_fg_pct: ZoneFigureColumns::of(batch, LEAGUE_FG_PCT)? => read,
    }
}

slate_sdk::batch_reader! {
    /// The columns of the schedule the factors use.
    const SCHEDULE_COLUMNS;
    /// Reads the schedule of the analysis date.
    fn read_schedule(batch) -> ScheduledGame<'_> {
        game_day: day = "game_date",
        home_team: string,
        away_team: string,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let row = CompositeRow {
            player_lookup: "a".into(),
            team_abbr: "BOS".into(),
            opponent_abbr: "NYK".into(),
            zone_matchup_factor: None,
            games_in_last_7_days: 3,
            fatigue_factor: 0.03,
            days_rest: 0,
            back_to_back: true,
            pace_factor: Some(1.01),
            composite_adjustment: 0.98,
            data_quality_issues: vec!["no shot zone row for player".into()],
        };
        let date = Date::new(2026, 1, 11);
        DECLARATION.check_output(&output_row(row, date)).unwrap();
    }
}
