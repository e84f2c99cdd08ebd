//! `PlayerCompositeFactorsProcessor` (phase 4): one row per player who plays
//! on the analysis date, with the zone matchup, fatigue and pace factors for
//! that game and one composite adjustment.
//!
//! This file is the binding layer only; the logic lives in [`factors`].

pub mod factors;

use basketball::season_so_far;
use factors::{
    CompositeRow, DefenseZones, Inputs, PastGame, ScheduledGame, ShotZones, TeamGame, ZONES,
};
use slate_sdk::{
    Column, ColumnBatch, Date, Declaration, GapPolicy, Guest, Lookback, Phase, ProcessError,
    ProcessorInfo, ReadError, RowSet, TableRef, UpstreamPolicy, Value, days_from_date, table,
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
    lookback: Lookback::Games(factors::PACE_WINDOW_GAMES as u32),
    upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
    gap_policy: GapPolicy::Flag,
    ..Declaration::new(
        "PlayerCompositeFactorsProcessor",
        Phase::Precompute,
        env!("CARGO_PKG_VERSION"),
    )
};

/// The processor, exported as the component.
pub struct PlayerCompositeFactorsProcessor;

impl Guest for PlayerCompositeFactorsProcessor {
    fn info() -> ProcessorInfo {
        DECLARATION.info()
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        compute(analysis_date, |table, start, end, columns| {
            slate_sdk::read_column_batch(table, start, end, columns)
        })
    }
}

/// The columns of the player game summaries the factors use: 3 of 31.
const PLAYER_GAME_COLUMNS: [&str; 3] = ["player_lookup", "team_abbr", "game_date"];

/// The columns of the team offense summaries the factors use.
const TEAM_GAME_COLUMNS: [&str; 4] = ["team_abbr", "game_id", "game_date", "pace"];

/// The columns of the schedule the factors use.
const SCHEDULE_COLUMNS: [&str; 3] = ["game_date", "home_team", "away_team"];

/// `key_columns` followed by `<prefix><zone>` for every prefix and zone.
fn zone_table_columns(key_columns: &[&str], prefixes: &[&str]) -> Vec<String> {
    let zones = prefixes
        .iter()
        .flat_map(|prefix| ZONES.iter().map(move |zone| format!("{prefix}{zone}")));
    key_columns
        .iter()
        .map(|c| c.to_string())
        .chain(zones)
        .collect()
}

fn as_strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

/// The whole of `process`, with the host's `read-column-batch` passed in,
/// so the same logic can also run natively (the benchmarks compare the two).
pub fn compute(
    analysis_date: Date,
    read_column_batch: impl Fn(&TableRef, Date, Date, &[&str]) -> Result<ColumnBatch, ReadError>,
) -> Result<RowSet, ProcessError> {
    let read = |name: &str, start: Date, end: Date, columns: &[&str]| {
        read_column_batch(&table(name), start, end, columns)
    };
    // On the season's first day nothing came before: no past games.
    let (player_summaries, team_summaries) = match season_so_far(analysis_date) {
        Some((start, end)) => (
            Some(read(GAME_SUMMARIES, start, end, &PLAYER_GAME_COLUMNS)?),
            Some(read(TEAM_OFFENSE, start, end, &TEAM_GAME_COLUMNS)?),
        ),
        None => (None, None),
    };
    let today = |name: &str, columns: &[&str]| read(name, analysis_date, analysis_date, columns);
    let shot_zone_columns =
        zone_table_columns(&["analysis_date", "player_lookup"], &["attempt_share_"]);
    let defense_zone_columns = zone_table_columns(
        &["analysis_date", "team_abbr"],
        &["opp_fg_pct_", "league_fg_pct_"],
    );
    let shot_zone_rows = today(SHOT_ZONES, &as_strs(&shot_zone_columns))?;
    let defense_zone_rows = today(DEFENSE_ZONES, &as_strs(&defense_zone_columns))?;
    let schedule_rows = today(SCHEDULE, &SCHEDULE_COLUMNS)?;
    let player_games = match &player_summaries {
        Some(batch) => read_player_games(batch)?,
        None => Vec::new(),
    };
    let team_games = match &team_summaries {
        Some(batch) => read_team_games(batch)?,
        None => Vec::new(),
    };
    let shot_zones = read_shot_zones(&shot_zone_rows)?;
    let defense_zones = read_defense_zones(&defense_zone_rows)?;
    let schedule = read_schedule(&schedule_rows)?;
    let rows = factors::build(
        days_from_date(analysis_date),
        Inputs {
            player_games: &player_games,
            team_games: &team_games,
            shot_zones: &shot_zones,
            defense_zones: &defense_zones,
            schedule: &schedule,
        },
    );
    let mut output = DECLARATION.output();
    for row in rows {
        output.push(output_row(row, analysis_date));
    }
    Ok(output.finish())
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

/// The columns `<prefix><zone>`, one per zone.
fn zone_columns<'b>(batch: &'b ColumnBatch, prefix: &str) -> Result<[&'b Column; 5], ProcessError> {
    let mut columns = Vec::with_capacity(ZONES.len());
    for zone in ZONES {
        columns.push(batch.column(&format!("{prefix}{zone}"))?);
    }
    Ok(columns.try_into().expect("one column per zone"))
}

/// Reads one NULLABLE FLOAT64 per zone from `row`.
fn zone_values(columns: &[&Column; 5], row: usize) -> Result<[Option<f64>; 5], ProcessError> {
    let mut values = [None; 5];
    for (value, column) in values.iter_mut().zip(columns) {
        *value = column.optional_float64(row)?;
    }
    Ok(values)
}

/// Reads the player game summaries into past games, borrowing their text.
fn read_player_games(input: &ColumnBatch) -> Result<Vec<PastGame<'_>>, ProcessError> {
    let [player, team, date] = input.columns(PLAYER_GAME_COLUMNS)?;
    input.map_rows(|row| {
        Ok(PastGame {
            player_lookup: player.string(row)?,
            team_abbr: team.string(row)?,
            game_day: date.day(row)?,
        })
    })
}

/// Reads the team offence summaries into past team games.
fn read_team_games(input: &ColumnBatch) -> Result<Vec<TeamGame<'_>>, ProcessError> {
    let [team, game, date, pace] = input.columns(TEAM_GAME_COLUMNS)?;
    input.map_rows(|row| {
        Ok(TeamGame {
            team_abbr: team.string(row)?,
            game_id: game.string(row)?,
            game_day: date.day(row)?,
            pace: pace.optional_float64(row)?,
        })
    })
}

/// Reads the shot zone rows.
fn read_shot_zones(input: &ColumnBatch) -> Result<Vec<ShotZones<'_>>, ProcessError> {
    let (date, player) = (
        input.column("analysis_date")?,
        input.column("player_lookup")?,
    );
    let shares = zone_columns(input, "attempt_share_")?;
    input.map_rows(|row| {
        Ok(ShotZones {
            analysis_day: date.day(row)?,
            player_lookup: player.string(row)?,
            attempt_share: zone_values(&shares, row)?,
        })
    })
}

/// Reads the team zone defence rows.
fn read_defense_zones(input: &ColumnBatch) -> Result<Vec<DefenseZones<'_>>, ProcessError> {
    let (date, team) = (input.column("analysis_date")?, input.column("team_abbr")?);
    let (allowed, league) = (
        zone_columns(input, "opp_fg_pct_")?,
        zone_columns(input, "league_fg_pct_")?,
    );
    input.map_rows(|row| {
        Ok(DefenseZones {
            analysis_day: date.day(row)?,
            team_abbr: team.string(row)?,
            opp_fg_pct: zone_values(&allowed, row)?,
            league_fg_pct: zone_values(&league, row)?,
        })
    })
}

/// Reads the schedule of the analysis date.
fn read_schedule(input: &ColumnBatch) -> Result<Vec<ScheduledGame<'_>>, ProcessError> {
    let [date, home, away] = input.columns(SCHEDULE_COLUMNS)?;
    input.map_rows(|row| {
        Ok(ScheduledGame {
            game_day: date.day(row)?,
            home_team: home.string(row)?,
            away_team: away.string(row)?,
        })
    })
}

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(PlayerCompositeFactorsProcessor);

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
        let date = Date {
            year: 2026,
            month: 1,
            day: 11,
        };
        DECLARATION.check_output(&output_row(row, date)).unwrap();
    }
}
