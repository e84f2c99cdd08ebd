//! `PlayerGameSummaryProcessor` (phase 3): one row per player per game, from
//! the raw box scores of the analysis date.
//!
//! This file is the binding layer only: it declares the processor, reads the
//! input rows into [`summary::BoxScoreLine`]s and writes the
//! [`summary::GameSummary`]s back out. The logic lives in [`summary`].

pub mod summary;

use basketball::{ScheduledGame, ZoneShotColumns, require_box_scores, with_zone_shot_columns};
use slate_sdk::{Date, Declaration, Phase, ProcessError, RowSet, Value};
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

slate_sdk::processor! {
    /// The processor, exported as the component.
    pub struct PlayerGameSummaryProcessor(DECLARATION, process);
}

/// The game summaries of every player in a game on `analysis_date`,
/// provided every scheduled game has box scores.
fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
    let line_columns = with_zone_shot_columns(LINE_COLUMNS, "");
    let box_scores = slate_sdk::read_day(BOX_SCORES, analysis_date, &line_columns)?;
    let lines = read_lines(&box_scores)?;
    let schedule_columns = ["game_id", "home_team", "away_team"];
    let schedule = slate_sdk::read_day(SCHEDULE, analysis_date, &schedule_columns)?;
    let [game, home, away] = schedule.columns(schedule_columns)?;
    let scheduled = schedule.map_rows(|row| {
        Ok(ScheduledGame {
            game_id: game.string(row)?,
            home_team: home.string(row)?,
            away_team: away.string(row)?,
        })
    })?;
    // A game with one side's box scores missing is missing data too: its
    // players would be summarised without their opponents'.
    let missing = basketball::missing_box_scores(&scheduled, |game, team| {
        lines
            .iter()
            .any(|l| l.game_id == game && l.team_abbr == team)
    });
    require_box_scores(analysis_date, scheduled.len(), &missing)?;
    let summaries = summary::summarize(&lines).map_err(ProcessError::InvalidInput)?;
    Ok(DECLARATION.rows(summaries.iter().map(|s| output_row(s, analysis_date))))
}

/// One output row, in `schema.json` order.
fn output_row(s: &GameSummary<'_>, analysis_date: Date) -> Vec<Value> {
    let l = &s.line;
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
    for zone in l.zones {
        row.push(Value::int64(zone.attempts));
        row.push(Value::int64(zone.makes));
    }
    row
}

slate_sdk::batch_reader! {
    /// The box score columns a summary is made from, before the zones.
    const LINE_COLUMNS;
    /// The box score lines in `batch`, borrowing their text from it.
    fn read_lines(batch) -> BoxScoreLine<'_> {
        game_id: string,
        player_lookup: string,
        player_name: string,
        team_abbr: string,
        opponent_abbr: string,
        is_home: boolean,
        minutes: float64,
        points: int64,
        rebounds: int64,
        assists: int64,
        turnovers: int64,
        fta: int64,
        ftm: int64,
        ..
        zones: ZoneShotColumns::of(batch, "")? => read,
    }
}

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
        let date = Date::new(2026, 1, 11);
        DECLARATION
            .check_output(&output_row(summary, date))
            .unwrap();
    }
}
