//! The demo season: a deterministic synthetic NBA season, loaded into the
//! raw tables the standard processors read.
//!
//! [`season`] generates it; this module owns the raw table schemas and the
//! load, which replaces the whole season in one transaction per table, so
//! loading twice never duplicates rows.

pub mod season;

use chrono::NaiveDate;

use crate::rows::{Row, RowSet, Scalar, Value, wit_date};
use crate::schema::{Column, ColumnMode, ColumnType, TableName, TableSchema};
use crate::store::{Store, StoreError};
use season::Season;

/// `nba_raw.schedule`: one row per scheduled game.
pub fn schedule_table() -> TableName {
    TableName::new("nba_raw", "schedule")
}

/// `nba_raw.player_boxscores`: one row per player per game played.
pub fn box_scores_table() -> TableName {
    TableName::new("nba_raw", "player_boxscores")
}

/// `nba_raw.prop_lines`: one points line per player per game, when posted.
pub fn prop_lines_table() -> TableName {
    TableName::new("nba_raw", "prop_lines")
}

/// Every raw input the demo loads: the host's from the start, before
/// any load ([`crate::ownership::HostOwned::raw_inputs`]).
pub fn raw_input_tables() -> Vec<TableName> {
    vec![schedule_table(), box_scores_table(), prop_lines_table()]
}

fn schema(columns: &[(&str, ColumnType)], keys: &[&str]) -> TableSchema {
    TableSchema {
        columns: columns
            .iter()
            .map(|(n, t)| Column::new(n, *t, ColumnMode::Required))
            .collect(),
        partition_column: "game_date".to_string(),
        key_columns: keys.iter().map(|k| k.to_string()).collect(),
    }
}

use ColumnType::{Bool, Date, Float64, Int64, String as Text, Timestamp};

/// The schedule's schema.
pub fn schedule_schema() -> TableSchema {
    schema(
        &[
            ("game_id", Text),
            ("game_date", Date),
            ("home_team", Text),
            ("away_team", Text),
            ("start_time_utc", Timestamp),
        ],
        &["game_id"],
    )
}

const BOX_SCORE_COUNTS: [&str; 16] = [
    "points",
    "rebounds",
    "assists",
    "turnovers",
    "fta",
    "ftm",
    "ra_fga",
    "ra_fgm",
    "paint_fga",
    "paint_fgm",
    "mid_fga",
    "mid_fgm",
    "corner3_fga",
    "corner3_fgm",
    "atb3_fga",
    "atb3_fgm",
];

/// The box scores' schema.
pub fn box_scores_schema() -> TableSchema {
    let mut columns = vec![
        ("game_id", Text),
        ("game_date", Date),
        ("player_lookup", Text),
        ("player_name", Text),
        ("team_abbr", Text),
        ("opponent_abbr", Text),
        ("is_home", Bool),
        ("minutes", Float64),
    ];
    columns.extend(BOX_SCORE_COUNTS.iter().map(|c| (*c, Int64)));
    schema(&columns, &["game_id", "player_lookup"])
}

/// The prop lines' schema.
pub fn prop_lines_schema() -> TableSchema {
    schema(
        &[
            ("game_id", Text),
            ("game_date", Date),
            ("player_lookup", Text),
            ("sportsbook", Text),
            ("points_line", Float64),
            ("over_price", Int64),
            ("under_price", Int64),
        ],
        &["game_id", "player_lookup"],
    )
}

fn text(s: &str) -> Value {
    Value::Scalar(Scalar::String(s.to_string()))
}
fn int(v: i64) -> Value {
    Value::Scalar(Scalar::Int64(v))
}
fn date(d: NaiveDate) -> Value {
    Value::Scalar(Scalar::Date(wit_date(d)))
}

fn row_set(schema: &TableSchema, rows: Vec<Row>) -> RowSet {
    RowSet {
        columns: schema.column_names(),
        rows,
    }
}

/// Rows per raw table after a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadedSeason {
    /// Scheduled games.
    pub games: usize,
    /// Player box score lines.
    pub box_scores: usize,
    /// Prop lines.
    pub prop_lines: usize,
}

/// Loads `season` into the raw tables, replacing every date it covers.
/// Each is recorded as a raw input, which no processor may write.
pub fn load_season(store: &dyn Store, season: &Season) -> Result<LoadedSeason, StoreError> {
    let dates: Vec<NaiveDate> = season
        .config
        .start
        .iter_days()
        .take_while(|d| *d <= season.config.end)
        .collect();

    let schedule = schedule_schema();
    let rows = season
        .schedule
        .iter()
        .map(|g| {
            vec![
                text(&g.game_id),
                date(g.game_date),
                text(&g.home_team),
                text(&g.away_team),
                Value::Scalar(Scalar::Timestamp(
                    g.start_time_utc.and_utc().timestamp_micros(),
                )),
            ]
        })
        .collect();
    store.ensure_table(&schedule_table(), &schedule)?;
    let games = store.replace_partitions(&schedule_table(), &dates, &row_set(&schedule, rows))?;

    let box_scores = box_scores_schema();
    let rows = season
        .box_scores
        .iter()
        .map(|b| {
            let mut row = vec![
                text(&b.game_id),
                date(b.game_date),
                text(&b.player_lookup),
                text(&b.player_name),
                text(&b.team_abbr),
                text(&b.opponent_abbr),
                Value::Scalar(Scalar::Boolean(b.is_home)),
                Value::Scalar(Scalar::Float64(b.minutes)),
            ];
            row.extend(
                [
                    b.points,
                    b.rebounds,
                    b.assists,
                    b.turnovers,
                    b.fta,
                    b.ftm,
                    b.ra_fga,
                    b.ra_fgm,
                    b.paint_fga,
                    b.paint_fgm,
                    b.mid_fga,
                    b.mid_fgm,
                    b.corner3_fga,
                    b.corner3_fgm,
                    b.atb3_fga,
                    b.atb3_fgm,
                ]
                .map(int),
            );
            row
        })
        .collect();
    store.ensure_table(&box_scores_table(), &box_scores)?;
    let box_score_rows =
        store.replace_partitions(&box_scores_table(), &dates, &row_set(&box_scores, rows))?;

    let props = prop_lines_schema();
    let rows = season
        .prop_lines
        .iter()
        .map(|p| {
            vec![
                text(&p.game_id),
                date(p.game_date),
                text(&p.player_lookup),
                text(&p.sportsbook),
                Value::Scalar(Scalar::Float64(p.points_line)),
                int(p.over_price),
                int(p.under_price),
            ]
        })
        .collect();
    store.ensure_table(&prop_lines_table(), &props)?;
    let prop_lines =
        store.replace_partitions(&prop_lines_table(), &dates, &row_set(&props, rows))?;

    Ok(LoadedSeason {
        games,
        box_scores: box_score_rows,
        prop_lines,
    })
}
