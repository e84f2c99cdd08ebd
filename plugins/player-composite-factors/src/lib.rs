//! `PlayerCompositeFactorsProcessor` (phase 4): one row per player who plays
//! on the analysis date, with the zone matchup, fatigue and pace factors for
//! that game and one composite adjustment.
//!
//! This file is the binding layer only; the logic lives in [`factors`].

pub mod factors;

use factors::{
    CompositeRow, DefenseZones, Inputs, PastGame, ScheduledGame, ShotZones, TeamGame, ZONES,
};
use slate_sdk::{
    BadRowPolicy, Columns, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase,
    ProcessError, ProcessorInfo, ReadError, Row, RowExt, RowSet, RowSetBuilder, TableRef,
    UpstreamPolicy, Value, days_from_date, field, table,
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

use FieldMode::{Nullable, Repeated, Required};
use FieldType::{Bool, Date as DateType, Float64, Int64, String as Text};

/// The output schema, in column order: (name, type, mode, description).
const SCHEMA: &[(&str, FieldType, FieldMode, &str)] = &[
    (
        "analysis_date",
        DateType,
        Required,
        "The analysis date; the partition column.",
    ),
    ("player_lookup", Text, Required, "The player's lookup key."),
    (
        "team_abbr",
        Text,
        Required,
        "The player's team, from their latest game.",
    ),
    (
        "opponent_abbr",
        Text,
        Required,
        "The team they face on the analysis date.",
    ),
    (
        "zone_matchup_factor",
        Float64,
        Nullable,
        "Sum over zones of attempt share * (opponent FG% allowed - league FG%) / league FG%; null when no zone has all three.",
    ),
    (
        "pace_factor",
        Float64,
        Nullable,
        "Mean of both teams' pace over their last 10 games / the league's; null when a pace is unknown.",
    ),
    (
        "fatigue_factor",
        Float64,
        Required,
        "0.03 on a back-to-back + 0.01 per game beyond 3 in the last 7 days.",
    ),
    (
        "days_rest",
        Int64,
        Required,
        "Full days off since the latest game.",
    ),
    (
        "back_to_back",
        Bool,
        Required,
        "Whether the latest game was the day before.",
    ),
    (
        "games_in_last_7_days",
        Int64,
        Required,
        "Games in the 7 days before the analysis date.",
    ),
    (
        "composite_adjustment",
        Float64,
        Required,
        "1 + 0.5 * zone + 0.5 * (pace - 1) - fatigue, within [0.75, 1.25]; a missing factor counts as neutral.",
    ),
    (
        "data_quality_issues",
        Text,
        Repeated,
        "Why this row is less trustworthy; may be empty.",
    ),
];

/// The processor, exported as the component.
pub struct PlayerCompositeFactorsProcessor;

/// The first day of the season `date` belongs to: seasons start in October.
fn season_start(date: Date) -> Date {
    let year = if date.month >= 10 {
        date.year
    } else {
        date.year - 1
    };
    Date {
        year,
        month: 10,
        day: 1,
    }
}

impl Guest for PlayerCompositeFactorsProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "PlayerCompositeFactorsProcessor".into(),
            phase: Phase::Precompute,
            version: env!("CARGO_PKG_VERSION").into(),
            output_table: table(OUTPUT),
            schema: SCHEMA
                .iter()
                .map(|(n, t, m, d)| field(n, *t, *m, d))
                .collect(),
            partition_column: "analysis_date".into(),
            key_columns: vec!["player_lookup".into(), "analysis_date".into()],
            inputs: vec![
                table(SHOT_ZONES),
                table(DEFENSE_ZONES),
                table(TEAM_OFFENSE),
                table(GAME_SUMMARIES),
                table(SCHEDULE),
            ],
            upstream: vec![
                "PlayerShotZoneAnalysisProcessor".into(),
                "TeamDefenseZoneAnalysisProcessor".into(),
                "TeamOffenseGameSummaryProcessor".into(),
                "PlayerGameSummaryProcessor".into(),
            ],
            lookback: Lookback::Games(factors::PACE_WINDOW_GAMES as u32),
            upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
            gap_policy: GapPolicy::Flag,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        compute(analysis_date, slate_sdk::read_columns)
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

/// The whole of `process`, with the host's `read-columns` passed in, so the
/// same logic can also run natively (the benchmarks compare the two).
pub fn compute(
    analysis_date: Date,
    read_columns: impl Fn(&TableRef, Date, Date, &[&str]) -> Result<RowSet, ReadError>,
) -> Result<RowSet, ProcessError> {
    let (start, end) = (season_start(analysis_date), analysis_date.add_days(-1));
    // On the season's first day nothing came before: no past games.
    let (player_games, team_games) = if start <= end {
        let past = |name: &str, columns: &[&str]| read_columns(&table(name), start, end, columns);
        (
            read_player_games(&past(GAME_SUMMARIES, &PLAYER_GAME_COLUMNS)?)?,
            read_team_games(&past(TEAM_OFFENSE, &TEAM_GAME_COLUMNS)?)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let today = |name: &str, columns: &[&str]| {
        read_columns(&table(name), analysis_date, analysis_date, columns)
    };
    let shot_zone_columns =
        zone_table_columns(&["analysis_date", "player_lookup"], &["attempt_share_"]);
    let defense_zone_columns = zone_table_columns(
        &["analysis_date", "team_abbr"],
        &["opp_fg_pct_", "league_fg_pct_"],
    );
    let shot_zones = read_shot_zones(&today(SHOT_ZONES, &as_strs(&shot_zone_columns))?)?;
    let defense_zones =
        read_defense_zones(&today(DEFENSE_ZONES, &as_strs(&defense_zone_columns))?)?;
    let schedule = read_schedule(&today(SCHEDULE, &SCHEDULE_COLUMNS)?)?;
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
    let columns: Vec<&str> = SCHEMA.iter().map(|(name, ..)| *name).collect();
    let mut output = RowSetBuilder::new(&columns);
    for row in rows {
        output.push(output_row(row, analysis_date));
    }
    Ok(output.finish())
}

/// One output row, in [`SCHEMA`] order.
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

/// The positions of `<prefix><zone>` for every zone, with their names.
fn zone_columns(c: &Columns, prefix: &str) -> Result<Vec<(usize, String)>, ProcessError> {
    ZONES
        .iter()
        .map(|zone| {
            let name = format!("{prefix}{zone}");
            c.index(&name).map(|i| (i, name))
        })
        .collect()
}

/// Reads one NULLABLE FLOAT64 per zone.
fn zone_values(row: &Row, columns: &[(usize, String)]) -> Result<[Option<f64>; 5], ProcessError> {
    let mut values = [None; 5];
    for (value, (index, name)) in values.iter_mut().zip(columns) {
        *value = row.optional_float64(*index, name)?;
    }
    Ok(values)
}

/// Reads the player game summaries into past games.
fn read_player_games(input: &RowSet) -> Result<Vec<PastGame>, ProcessError> {
    let c = Columns::new(input);
    let (player, team, date) = (
        c.index("player_lookup")?,
        c.index("team_abbr")?,
        c.index("game_date")?,
    );
    input
        .rows
        .iter()
        .map(|row| {
            Ok(PastGame {
                player_lookup: row.string(player, "player_lookup")?.to_string(),
                team_abbr: row.string(team, "team_abbr")?.to_string(),
                game_day: days_from_date(row.date(date, "game_date")?),
            })
        })
        .collect()
}

/// Reads the team offence summaries into past team games.
fn read_team_games(input: &RowSet) -> Result<Vec<TeamGame>, ProcessError> {
    let c = Columns::new(input);
    let (team, game, date, pace) = (
        c.index("team_abbr")?,
        c.index("game_id")?,
        c.index("game_date")?,
        c.index("pace")?,
    );
    input
        .rows
        .iter()
        .map(|row| {
            Ok(TeamGame {
                team_abbr: row.string(team, "team_abbr")?.to_string(),
                game_id: row.string(game, "game_id")?.to_string(),
                game_day: days_from_date(row.date(date, "game_date")?),
                pace: row.optional_float64(pace, "pace")?,
            })
        })
        .collect()
}

/// Reads the shot zone rows.
fn read_shot_zones(input: &RowSet) -> Result<Vec<ShotZones>, ProcessError> {
    let c = Columns::new(input);
    let (date, player) = (c.index("analysis_date")?, c.index("player_lookup")?);
    let shares = zone_columns(&c, "attempt_share_")?;
    input
        .rows
        .iter()
        .map(|row| {
            Ok(ShotZones {
                analysis_day: days_from_date(row.date(date, "analysis_date")?),
                player_lookup: row.string(player, "player_lookup")?.to_string(),
                attempt_share: zone_values(row, &shares)?,
            })
        })
        .collect()
}

/// Reads the team zone defence rows.
fn read_defense_zones(input: &RowSet) -> Result<Vec<DefenseZones>, ProcessError> {
    let c = Columns::new(input);
    let (date, team) = (c.index("analysis_date")?, c.index("team_abbr")?);
    let (allowed, league) = (
        zone_columns(&c, "opp_fg_pct_")?,
        zone_columns(&c, "league_fg_pct_")?,
    );
    input
        .rows
        .iter()
        .map(|row| {
            Ok(DefenseZones {
                analysis_day: days_from_date(row.date(date, "analysis_date")?),
                team_abbr: row.string(team, "team_abbr")?.to_string(),
                opp_fg_pct: zone_values(row, &allowed)?,
                league_fg_pct: zone_values(row, &league)?,
            })
        })
        .collect()
}

/// Reads the schedule of the analysis date.
fn read_schedule(input: &RowSet) -> Result<Vec<ScheduledGame>, ProcessError> {
    let c = Columns::new(input);
    let (date, home, away) = (
        c.index("game_date")?,
        c.index("home_team")?,
        c.index("away_team")?,
    );
    input
        .rows
        .iter()
        .map(|row| {
            Ok(ScheduledGame {
                game_day: days_from_date(row.date(date, "game_date")?),
                home_team: row.string(home, "home_team")?.to_string(),
                away_team: row.string(away, "away_team")?.to_string(),
            })
        })
        .collect()
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
        slate_sdk::check_row(
            &PlayerCompositeFactorsProcessor::info().schema,
            &output_row(row, date),
        )
        .unwrap();
        let info = PlayerCompositeFactorsProcessor::info();
        assert!(SCHEMA.iter().any(|(n, ..)| *n == info.partition_column));
        for key in &info.key_columns {
            assert!(SCHEMA.iter().any(|(n, ..)| n == key), "{key}");
        }
    }
}
