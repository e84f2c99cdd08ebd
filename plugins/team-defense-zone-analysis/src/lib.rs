//! `TeamDefenseZoneAnalysisProcessor` (phase 4): one row per team per
//! analysis date, with the shots it allowed by court zone over its last 15
//! games, against the league over the same windows.
//!
//! This file is the binding layer only; the logic lives in [`analysis`].

pub mod analysis;

use analysis::{DefenseGame, TeamZoneRow, ZONES, ZoneShots};
use basketball::season_start;
use slate_sdk::{
    BadRowPolicy, Columns, Date, FieldMode, FieldType, GapPolicy, Guest, Lookback, Phase,
    ProcessError, ProcessorInfo, RowExt, RowSet, RowSetBuilder, UpstreamPolicy, Value,
    days_from_date, field, table,
};

/// The per-game team defence summaries this processor aggregates.
pub const DEFENSE_SUMMARIES: &str = "nba_analytics.team_defense_game_summary";
/// The table this processor writes.
pub const OUTPUT: &str = "nba_precompute.team_defense_zone_analysis";

use FieldMode::{Nullable, Repeated, Required};
use FieldType::{Date as DateType, Float64, Int64, String as Text};

/// The output schema, in column order: (name, type, mode, description).
const SCHEMA: &[(&str, FieldType, FieldMode, &str)] = &[
    (
        "analysis_date",
        DateType,
        Required,
        "The analysis date; the partition column.",
    ),
    ("team_abbr", Text, Required, "The defending team."),
    (
        "games_in_window",
        Int64,
        Required,
        "The team's games in the window: its last 15 before the analysis date.",
    ),
    (
        "opp_fg_pct_ra",
        Float64,
        Nullable,
        "Opponents' restricted area FG% over the window; null without attempts.",
    ),
    (
        "opp_attempt_share_ra",
        Float64,
        Nullable,
        "The restricted area share of opponents' attempts; null without any attempt.",
    ),
    (
        "league_fg_pct_ra",
        Float64,
        Nullable,
        "League restricted area FG%, pooled over every team's window; null without attempts.",
    ),
    (
        "fg_pct_vs_league_ra",
        Float64,
        Nullable,
        "opp_fg_pct_ra - league_fg_pct_ra; null when either is null.",
    ),
    (
        "opp_fg_pct_paint",
        Float64,
        Nullable,
        "Opponents' non-restricted paint FG% over the window; null without attempts.",
    ),
    (
        "opp_attempt_share_paint",
        Float64,
        Nullable,
        "The non-restricted paint share of opponents' attempts; null without any attempt.",
    ),
    (
        "league_fg_pct_paint",
        Float64,
        Nullable,
        "League non-restricted paint FG%, pooled over every team's window; null without attempts.",
    ),
    (
        "fg_pct_vs_league_paint",
        Float64,
        Nullable,
        "opp_fg_pct_paint - league_fg_pct_paint; null when either is null.",
    ),
    (
        "opp_fg_pct_mid",
        Float64,
        Nullable,
        "Opponents' mid-range FG% over the window; null without attempts.",
    ),
    (
        "opp_attempt_share_mid",
        Float64,
        Nullable,
        "The mid-range share of opponents' attempts; null without any attempt.",
    ),
    (
        "league_fg_pct_mid",
        Float64,
        Nullable,
        "League mid-range FG%, pooled over every team's window; null without attempts.",
    ),
    (
        "fg_pct_vs_league_mid",
        Float64,
        Nullable,
        "opp_fg_pct_mid - league_fg_pct_mid; null when either is null.",
    ),
    (
        "opp_fg_pct_corner3",
        Float64,
        Nullable,
        "Opponents' corner three FG% over the window; null without attempts.",
    ),
    (
        "opp_attempt_share_corner3",
        Float64,
        Nullable,
        "The corner three share of opponents' attempts; null without any attempt.",
    ),
    (
        "league_fg_pct_corner3",
        Float64,
        Nullable,
        "League corner three FG%, pooled over every team's window; null without attempts.",
    ),
    (
        "fg_pct_vs_league_corner3",
        Float64,
        Nullable,
        "opp_fg_pct_corner3 - league_fg_pct_corner3; null when either is null.",
    ),
    (
        "opp_fg_pct_atb3",
        Float64,
        Nullable,
        "Opponents' above-the-break three FG% over the window; null without attempts.",
    ),
    (
        "opp_attempt_share_atb3",
        Float64,
        Nullable,
        "The above-the-break three share of opponents' attempts; null without any attempt.",
    ),
    (
        "league_fg_pct_atb3",
        Float64,
        Nullable,
        "League above-the-break three FG%, pooled over every team's window; null without attempts.",
    ),
    (
        "fg_pct_vs_league_atb3",
        Float64,
        Nullable,
        "opp_fg_pct_atb3 - league_fg_pct_atb3; null when either is null.",
    ),
    (
        "data_quality_issues",
        Text,
        Repeated,
        "Lookback gaps the host found; may be empty.",
    ),
];

/// The processor, exported as the component.
pub struct TeamDefenseZoneAnalysisProcessor;

impl Guest for TeamDefenseZoneAnalysisProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "TeamDefenseZoneAnalysisProcessor".into(),
            phase: Phase::Precompute,
            version: env!("CARGO_PKG_VERSION").into(),
            output_table: table(OUTPUT),
            schema: SCHEMA
                .iter()
                .map(|(n, t, m, d)| field(n, *t, *m, d))
                .collect(),
            partition_column: "analysis_date".into(),
            key_columns: vec!["team_abbr".into(), "analysis_date".into()],
            inputs: vec![table(DEFENSE_SUMMARIES)],
            upstream: vec!["TeamDefenseGameSummaryProcessor".into()],
            lookback: Lookback::Games(analysis::WINDOW_GAMES as u32),
            upstream_policy: UpstreamPolicy::ProceedIfDataPresent,
            gap_policy: GapPolicy::Flag,
            bad_row_policy: BadRowPolicy::FailRun,
        }
    }

    fn process(analysis_date: Date) -> Result<RowSet, ProcessError> {
        let (start, end) = (season_start(analysis_date), analysis_date.add_days(-1));
        // On the season's first day nothing came before: no read, no rows.
        let games = if start <= end {
            read_games(&slate_sdk::read_rows(
                &table(DEFENSE_SUMMARIES),
                start,
                end,
            )?)?
        } else {
            Vec::new()
        };
        let rows = analysis::analyze(days_from_date(analysis_date), &games);
        let columns: Vec<&str> = SCHEMA.iter().map(|(name, ..)| *name).collect();
        let mut output = RowSetBuilder::new(&columns);
        for row in &rows {
            output.push(output_row(row, analysis_date));
        }
        Ok(output.finish())
    }
}

/// One output row, in [`SCHEMA`] order.
fn output_row(row: &TeamZoneRow, analysis_date: Date) -> Vec<Value> {
    let mut values = vec![
        Value::date(analysis_date),
        Value::string(&row.team_abbr),
        Value::int64(row.games_in_window),
    ];
    for zone in &row.zones {
        values.extend([
            Value::float64_or_null(zone.opp_fg_pct),
            Value::float64_or_null(zone.opp_attempt_share),
            Value::float64_or_null(zone.league_fg_pct),
            Value::float64_or_null(zone.fg_pct_vs_league),
        ]);
    }
    // The host appends lookback gaps here; the processor has none of its own.
    values.push(Value::strings(Vec::<String>::new()));
    values
}

/// Reads the team defence summaries into games.
fn read_games(input: &RowSet) -> Result<Vec<DefenseGame>, ProcessError> {
    let c = Columns::new(input);
    let (team, game, date) = (
        c.index("team_abbr")?,
        c.index("game_id")?,
        c.index("game_date")?,
    );
    let mut zone_columns = Vec::with_capacity(ZONES.len());
    for zone in ZONES {
        let (fga, fgm) = (format!("opp_{zone}_fga"), format!("opp_{zone}_fgm"));
        zone_columns.push(((c.index(&fga)?, fga), (c.index(&fgm)?, fgm)));
    }
    input
        .rows
        .iter()
        .map(|row| {
            let mut opponent_zones = [ZoneShots::default(); 5];
            for (shots, ((fga, fga_name), (fgm, fgm_name))) in
                opponent_zones.iter_mut().zip(&zone_columns)
            {
                *shots = ZoneShots {
                    attempts: row.int64(*fga, fga_name)?,
                    makes: row.int64(*fgm, fgm_name)?,
                };
            }
            Ok(DefenseGame {
                team_abbr: row.string(team, "team_abbr")?.to_string(),
                game_id: row.string(game, "game_id")?.to_string(),
                game_day: days_from_date(row.date(date, "game_date")?),
                opponent_zones,
            })
        })
        .collect()
}

// Component exports only exist on wasm32; natively the logic is tested as a library.
#[cfg(target_arch = "wasm32")]
slate_sdk::export!(TeamDefenseZoneAnalysisProcessor);

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn output_rows_fit_the_declared_schema() {
        let row = TeamZoneRow {
            team_abbr: "BOS".into(),
            games_in_window: 3,
            zones: [analysis::ZoneDefense {
                opp_fg_pct: Some(0.5),
                ..Default::default()
            }; 5],
        };
        slate_sdk::check_row(
            &TeamDefenseZoneAnalysisProcessor::info().schema,
            &output_row(&row, date(2026, 1, 11)),
        )
        .unwrap();
        let info = TeamDefenseZoneAnalysisProcessor::info();
        assert!(SCHEMA.iter().any(|(n, ..)| *n == info.partition_column));
        for key in &info.key_columns {
            assert!(SCHEMA.iter().any(|(n, ..)| n == key), "{key}");
        }
    }
}
