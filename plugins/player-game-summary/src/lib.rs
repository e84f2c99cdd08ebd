//! `PlayerGameSummaryProcessor` (phase 3): one row per player per game, from
//! the raw box scores of the analysis date.
//!
//! This file is the binding layer only: it declares the processor, reads the
//! input rows into [`summary::BoxScoreLine`]s and writes the
//! [`summary::GameSummary`]s back out. The logic lives in [`summary`].

pub mod summary;

use basketball::{ZoneShotColumns, with_zone_shot_columns};
use slate_sdk::{
    ColumnBatch, Date, Declaration, Guest, Phase, ProcessError, ProcessorInfo, RowSet, Value, table,
};
use summary::{BoxScoreLine, GameSummary};

/// The raw box scores this processor reads.
pub const BOX_SCORES: &str = "nba_raw.player_boxscores";
/// The schedule, to notice games whose box scores are missing.
pub const SCHEDULE: &str = "nba_raw.schedule";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_analytics.player_game_summary";

/// What this processor is, reads and writes: its `info`.
pub const DECLARATION: Declaration = Declaration {
    output_table: OUTPUT,
    schema: include_str!("../schema.json"),
    partition_column: "game_date",
    key_columns: &["player_lookup", "game_id"],
    inputs: &[BOX_SCORES, SCHEDULE],
    ..Declaration::new(
        "PlayerGameSummaryProcessor",
        Phase::Analytics,
        env!("CARGO_PKG_VERSION"),
    )
};

/// The processor, exported as the component.
pub struct PlayerGameSummaryProcessor;

impl Guest for PlayerGameSummaryProcessor {
    fn info() -> ProcessorInfo {
        DECLARATION.info()
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let box_scores = slate_sdk::read_column_batch(
            &table(BOX_SCORES),
            analysis_date,
            analysis_date,
            &with_zone_shot_columns(&LINE_COLUMNS, ""),
        )?;
        let lines = read_lines(&box_scores)?;
        let schedule = slate_sdk::read_column_batch(
            &table(SCHEDULE),
            analysis_date,
            analysis_date,
            &["game_id"],
        )?;
        let [game] = schedule.columns(["game_id"])?;
        let scheduled = schedule.map_rows(|row| game.string(row))?;
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
        let mut output = DECLARATION.output();
        for summary in &summaries {
            output.push(output_row(summary, analysis_date));
        }
        Ok(output.finish())
    }
}

/// One output row, in `schema.json` order.
fn output_row(s: &GameSummary<'_>, analysis_date: Date) -> Vec<Value> {
    let l = &s.line;
    let zones = [
        l.restricted_area,
        l.paint,
        l.mid_range,
        l.corner_three,
        l.above_break_three,
    ];
    let mut row = vec![
        Value::string(l.game_id),
        Value::date(analysis_date),
        Value::string(l.player_lookup),
        Value::string(l.player_name),
        Value::string(l.team_abbr),
        Value::string(l.opponent_abbr),
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
    row
}

/// The box score columns a summary is made from, before the zones.
const LINE_COLUMNS: [&str; 13] = [
    "game_id",
    "player_lookup",
    "player_name",
    "team_abbr",
    "opponent_abbr",
    "is_home",
    "minutes",
    "points",
    "rebounds",
    "assists",
    "turnovers",
    "fta",
    "ftm",
];

/// The box score lines in `batch`, borrowing their text from it.
fn read_lines(batch: &ColumnBatch) -> Result<Vec<BoxScoreLine<'_>>, ProcessError> {
    let [
        game,
        player,
        name,
        team,
        opponent,
        is_home,
        minutes,
        points,
        rebounds,
        assists,
        turnovers,
        fta,
        ftm,
    ] = batch.columns(LINE_COLUMNS)?;
    let zones = ZoneShotColumns::of(batch, "")?;
    batch.map_rows(|row| {
        let [
            restricted_area,
            paint,
            mid_range,
            corner_three,
            above_break_three,
        ] = zones.read(row)?;
        Ok(BoxScoreLine {
            game_id: game.string(row)?,
            player_lookup: player.string(row)?,
            player_name: name.string(row)?,
            team_abbr: team.string(row)?,
            opponent_abbr: opponent.string(row)?,
            is_home: is_home.boolean(row)?,
            minutes: minutes.float64(row)?,
            points: points.int64(row)?,
            rebounds: rebounds.int64(row)?,
            assists: assists.int64(row)?,
            turnovers: turnovers.int64(row)?,
            fta: fta.int64(row)?,
            ftm: ftm.int64(row)?,
            restricted_area,
            paint,
            mid_range,
            corner_three,
            above_break_three,
        })
    })
}

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(PlayerGameSummaryProcessor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let line = BoxScoreLine {
            game_id: "20260111_BOS_NYK",
            player_lookup: "a",
            minutes: 30.0,
            ..BoxScoreLine::default()
        };
        let summary = &summary::summarize(&[line]).unwrap()[0];
        let date = Date {
            year: 2026,
            month: 1,
            day: 11,
        };
        DECLARATION
            .check_output(&output_row(summary, date))
            .unwrap();
    }
}
