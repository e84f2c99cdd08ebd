//! `PlayerGameSummaryProcessor` (phase 3): one row per player per game, from
//! the raw box scores of the analysis date.
//!
//! This file is the binding layer only: it declares the processor, reads the
//! input rows into [`summary::BoxScoreLine`]s and writes the
//! [`summary::GameSummary`]s back out. The logic lives in [`summary`].

pub mod summary;

use slate_sdk::{
    BadRowPolicy, Columns, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase,
    ProcessError, ProcessorInfo, RowExt, RowSet, RowSetBuilder, UpstreamPolicy, Value, field,
    table,
};
use summary::{BoxScoreLine, ZoneShots};

/// The raw box scores this processor reads.
pub const BOX_SCORES: &str = "nba_raw.player_boxscores";
/// The schedule, to notice games whose box scores are missing.
pub const SCHEDULE: &str = "nba_raw.schedule";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_analytics.player_game_summary";

use FieldMode::{Nullable, Required};
use FieldType::{Bool, Date as DateType, Float64, Int64, String as Text};

/// The output schema, in column order: (name, type, mode, description).
const SCHEMA: &[(&str, FieldType, FieldMode, &str)] = &[
    ("game_id", Text, Required, "The game, as date_away_home."),
    (
        "game_date",
        DateType,
        Required,
        "The date the game was played; the partition column.",
    ),
    ("player_lookup", Text, Required, "The player's lookup key."),
    ("player_name", Text, Required, "The player's display name."),
    ("team_abbr", Text, Required, "The player's team."),
    ("opponent_abbr", Text, Required, "The opposing team."),
    (
        "is_home",
        Bool,
        Required,
        "Whether the player's team was at home.",
    ),
    ("minutes", Float64, Required, "Minutes played."),
    ("points", Int64, Required, "Points scored."),
    ("rebounds", Int64, Required, "Total rebounds."),
    ("assists", Int64, Required, "Assists."),
    ("turnovers", Int64, Required, "Turnovers."),
    ("fga", Int64, Required, "Field goals attempted."),
    ("fgm", Int64, Required, "Field goals made."),
    ("three_pa", Int64, Required, "Three-pointers attempted."),
    ("three_pm", Int64, Required, "Three-pointers made."),
    ("fta", Int64, Required, "Free throws attempted."),
    ("ftm", Int64, Required, "Free throws made."),
    (
        "fg_pct",
        Float64,
        Nullable,
        "Field goal percentage; null without attempts.",
    ),
    (
        "ts_pct",
        Float64,
        Nullable,
        "True shooting percentage; null without shots.",
    ),
    (
        "usage_rate",
        Float64,
        Nullable,
        "Share of team possessions used on the floor, in percent.",
    ),
    ("ra_fga", Int64, Required, "Restricted area attempts."),
    ("ra_fgm", Int64, Required, "Restricted area makes."),
    (
        "paint_fga",
        Int64,
        Required,
        "Non-restricted paint attempts.",
    ),
    ("paint_fgm", Int64, Required, "Non-restricted paint makes."),
    ("mid_fga", Int64, Required, "Mid-range attempts."),
    ("mid_fgm", Int64, Required, "Mid-range makes."),
    ("corner3_fga", Int64, Required, "Corner three attempts."),
    ("corner3_fgm", Int64, Required, "Corner three makes."),
    (
        "atb3_fga",
        Int64,
        Required,
        "Above-the-break three attempts.",
    ),
    ("atb3_fgm", Int64, Required, "Above-the-break three makes."),
];

/// The processor, exported as the component.
pub struct PlayerGameSummaryProcessor;

impl Guest for PlayerGameSummaryProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "PlayerGameSummaryProcessor".into(),
            phase: Phase::Analytics,
            version: env!("CARGO_PKG_VERSION").into(),
            output_table: table(OUTPUT),
            schema: SCHEMA
                .iter()
                .map(|(n, t, m, d)| field(n, *t, *m, d))
                .collect(),
            partition_column: "game_date".into(),
            key_columns: vec!["player_lookup".into(), "game_id".into()],
            inputs: vec![table(BOX_SCORES), table(SCHEDULE)],
            upstream: vec![],
            lookback: Lookback::None,
            upstream_policy: UpstreamPolicy::Block,
            gap_policy: GapPolicy::Block,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let input = slate_sdk::read_rows(&table(BOX_SCORES), analysis_date, analysis_date)?;
        let lines = read_lines(&input)?;
        let schedule = slate_sdk::read_rows(&table(SCHEDULE), analysis_date, analysis_date)?;
        let game_column = Columns::new(&schedule).index("game_id")?;
        let scheduled = schedule
            .rows
            .iter()
            .map(|row| row.string(game_column, "game_id").map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?;
        let missing = summary::games_without_box_scores(&scheduled, &lines);
        if !missing.is_empty() {
            return Err(ProcessError::MissingData(format!(
                "no box scores for {} of {} scheduled games on {analysis_date}: {}",
                missing.len(),
                scheduled.len(),
                missing.join(", ")
            )));
        }
        let summaries = summary::summarize(&lines).map_err(ProcessError::InvalidInput)?;
        let columns: Vec<&str> = SCHEMA.iter().map(|(name, ..)| *name).collect();
        let mut output = RowSetBuilder::new(&columns);
        for s in summaries {
            let l = &s.line;
            let zones = [
                l.restricted_area,
                l.paint,
                l.mid_range,
                l.corner_three,
                l.above_break_three,
            ];
            let mut row = vec![
                Value::string(&l.game_id),
                Value::date(analysis_date),
                Value::string(&l.player_lookup),
                Value::string(&l.player_name),
                Value::string(&l.team_abbr),
                Value::string(&l.opponent_abbr),
                Value::boolean(l.is_home),
                Value::float64(l.minutes),
                Value::int64(l.points),
                Value::int64(l.rebounds),
                Value::int64(l.assists),
                Value::int64(l.turnovers),
                Value::int64(s.fga),
                Value::int64(s.fgm),
                Value::int64(s.three_pa),
                Value::int64(s.three_pm),
                Value::int64(l.fta),
                Value::int64(l.ftm),
                Value::float64_or_null(s.fg_pct),
                Value::float64_or_null(s.ts_pct),
                Value::float64_or_null(s.usage_rate),
            ];
            for zone in zones {
                row.push(Value::int64(zone.attempts));
                row.push(Value::int64(zone.makes));
            }
            output.push(row);
        }
        Ok(output.finish())
    }
}

/// Reads the raw box score rows into lines.
fn read_lines(input: &RowSet) -> Result<Vec<BoxScoreLine>, ProcessError> {
    let c = Columns::new(input);
    let col = |name| c.index(name).map(|i| (i, name));
    let text = [
        col("game_id")?,
        col("player_lookup")?,
        col("player_name")?,
        col("team_abbr")?,
        col("opponent_abbr")?,
    ];
    let is_home = col("is_home")?;
    let minutes = col("minutes")?;
    let counts = [
        col("points")?,
        col("rebounds")?,
        col("assists")?,
        col("turnovers")?,
        col("fta")?,
        col("ftm")?,
    ];
    let zone_columns = [
        (col("ra_fga")?, col("ra_fgm")?),
        (col("paint_fga")?, col("paint_fgm")?),
        (col("mid_fga")?, col("mid_fgm")?),
        (col("corner3_fga")?, col("corner3_fgm")?),
        (col("atb3_fga")?, col("atb3_fgm")?),
    ];
    input
        .rows
        .iter()
        .map(|row| {
            let s = |(i, n): (usize, &str)| row.string(i, n).map(str::to_string);
            let n = |(i, name): (usize, &str)| row.int64(i, name);
            let mut zones = [ZoneShots::default(); 5];
            for (zone, (attempts, makes)) in zones.iter_mut().zip(zone_columns) {
                *zone = ZoneShots {
                    attempts: n(attempts)?,
                    makes: n(makes)?,
                };
            }
            let [
                restricted_area,
                paint,
                mid_range,
                corner_three,
                above_break_three,
            ] = zones;
            Ok(BoxScoreLine {
                game_id: s(text[0])?,
                player_lookup: s(text[1])?,
                player_name: s(text[2])?,
                team_abbr: s(text[3])?,
                opponent_abbr: s(text[4])?,
                is_home: row.boolean(is_home.0, is_home.1)?,
                minutes: row.float64(minutes.0, minutes.1)?,
                points: n(counts[0])?,
                rebounds: n(counts[1])?,
                assists: n(counts[2])?,
                turnovers: n(counts[3])?,
                fta: n(counts[4])?,
                ftm: n(counts[5])?,
                restricted_area,
                paint,
                mid_range,
                corner_three,
                above_break_three,
            })
        })
        .collect()
}

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(PlayerGameSummaryProcessor);
