//! The whole pipeline: each schema file survives the trip through `info`, a slice of the
//! season runs through every phase, and no phase 4 row ever depends on a
//! game on or after its analysis date.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use slate::bundled::PLUGINS;
use slate::demo::box_scores_table;
use slate::pipeline::Pipeline;
use slate::plugin::spec::Phase;
use slate::rows::{RowSet, Scalar, Value, row_json};
use slate::runs::{RunRecord, RunStatus, Trigger};
use slate::store::InputSource;
use slate::store::Tables;

use crate::support::{TestHost, date, season};

/// Runs every processor of `pipeline` on `day`, as a backfill does.
fn run_every_processor(host: &TestHost, pipeline: &Pipeline, day: NaiveDate) -> Vec<RunRecord> {
    let all = pipeline.select(&[]).unwrap();
    pipeline
        .run_date(&host.executor, day, &all, Trigger::Backfill)
        .unwrap()
        .records
}

fn game_dates(from: &str, to: &str) -> Vec<NaiveDate> {
    let (from, to) = (date(from), date(to));
    season()
        .game_dates()
        .into_iter()
        .filter(|d| (from..=to).contains(d))
        .collect()
}

#[test]
fn each_processors_schema_file_is_the_schema_the_host_reads_from_it() {
    let host = TestHost::empty();
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    for bundled in PLUGINS {
        let spec = host.bundled(bundled.package).spec.clone();
        let path = plugins.join(bundled.package).join("schema.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} has no schema file {}", spec.name, path.display()));
        let on_file: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            on_file,
            serde_json::to_value(&spec.schema.columns).unwrap(),
            "{} differs from the schema the host read from {}'s `info`",
            path.display(),
            spec.name
        );
    }
}

fn column<'a>(rows: &'a RowSet, name: &str) -> impl Iterator<Item = &'a Value> {
    let index = rows.columns.iter().position(|c| c == name).unwrap();
    rows.rows.iter().map(move |row| &row[index])
}

#[test]
fn a_season_slice_runs_through_every_phase_with_estimated_lines_when_odds_are_missing() {
    let host = TestHost::with_demo_season();
    let pipeline = host.every_bundled_processor();
    let dates = game_dates("2025-11-14", "2025-12-03");
    assert!(dates.len() >= 15, "{} game dates", dates.len());
    for day in &dates {
        for record in run_every_processor(&host, &pipeline, *day) {
            assert_eq!(
                record.status,
                RunStatus::Success,
                "{day} {}: {:?}",
                record.processor,
                record.error_message
            );
        }
    }
    let last = *dates.last().unwrap();
    for phase in pipeline
        .phase_completion(host.store.as_ref(), last)
        .unwrap()
    {
        assert!(phase.complete, "{phase:?}");
    }
    for name in pipeline.order() {
        let table = &pipeline.plugin(name).unwrap().spec.output_table;
        assert!(
            !host.rows(table, last).rows.is_empty(),
            "{table} is empty on {last}"
        );
    }
    assert!(
        pipeline
            .order()
            .iter()
            .any(|n| pipeline.plugin(n).unwrap().spec.phase == Phase::Predictions)
    );

    // 2025-11-27 has no odds at all: every line is estimated, with no sportsbook.
    let predictions = slate::schema::TableName::new("nba_predictions", "points_predictions");
    let no_odds = host.rows(&predictions, date("2025-11-27"));
    assert!(!no_odds.rows.is_empty());
    assert!(
        column(&no_odds, "line_source")
            .all(|v| *v == Value::Scalar(Scalar::String("ESTIMATED".into())))
    );
    assert!(column(&no_odds, "sportsbook").all(|v| *v == Value::Null));
    // A day with odds has lines from a sportsbook.
    let with_odds = host.rows(&predictions, last);
    let sourced: Vec<(&Value, &Value)> = column(&with_odds, "line_source")
        .zip(column(&with_odds, "sportsbook"))
        .collect();
    assert!(sourced.iter().any(|(source, book)| **source
        == Value::Scalar(Scalar::String("ODDS".into()))
        && **book != Value::Null));
}

/// Phase 4 rows of `day`, as JSON text per table, for comparison.
fn phase_four_rows(
    host: &TestHost,
    pipeline: &Pipeline,
    day: NaiveDate,
) -> BTreeMap<String, Vec<String>> {
    pipeline
        .order()
        .iter()
        .map(|n| &pipeline.plugin(n).unwrap().spec)
        .filter(|spec| spec.phase == Phase::Precompute)
        .map(|spec| {
            let rows = host.rows(&spec.output_table, day);
            let mut text: Vec<String> = rows
                .rows
                .iter()
                .map(|r| row_json(&rows.columns, r).to_string())
                .collect();
            text.sort();
            (spec.output_table.to_string(), text)
        })
        .collect()
}

/// Turns one made two-pointer into a miss in some box score lines, keeping
/// each line consistent (points still add up from the makes).
fn perturb(rows: &mut RowSet, rng: &mut ChaCha8Rng) -> usize {
    let index = |name: &str| rows.columns.iter().position(|c| c == name).unwrap();
    let (points, makes, minutes) = (index("points"), index("ra_fgm"), index("minutes"));
    let mut changed = 0;
    for row in &mut rows.rows {
        if !rng.random_bool(0.4) {
            continue;
        }
        if let (Value::Scalar(Scalar::Int64(made)), Value::Scalar(Scalar::Int64(scored))) =
            (&row[makes], &row[points])
            && *made > 0
        {
            let (made, scored) = (*made, *scored);
            row[makes] = Value::Scalar(Scalar::Int64(made - 1));
            row[points] = Value::Scalar(Scalar::Int64(scored - 2));
            changed += 1;
        }
        if let Value::Scalar(Scalar::Float64(played)) = row[minutes] {
            row[minutes] = Value::Scalar(Scalar::Float64(played + rng.random_range(0.0..6.0)));
        }
    }
    changed
}

#[test]
fn changing_games_on_or_after_the_analysis_date_never_changes_its_phase_four_rows() {
    let host = TestHost::with_demo_season();
    let pipeline = host.every_bundled_processor();
    let dates = game_dates("2025-11-10", "2025-11-24");
    let analysis = dates[dates.len() - 4];
    for day in &dates {
        run_every_processor(&host, &pipeline, *day);
    }
    let before = phase_four_rows(&host, &pipeline, analysis);
    assert!(
        before.values().all(|rows| !rows.is_empty()),
        "every phase 4 table has rows on {analysis}"
    );

    let future: Vec<NaiveDate> = dates.iter().copied().filter(|d| *d >= analysis).collect();
    for seed in 0..3 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rows = host
            .store
            .read_rows(&box_scores_table(), analysis, *future.last().unwrap())
            .unwrap();
        assert!(
            perturb(&mut rows, &mut rng) > 0,
            "seed {seed} changed nothing"
        );
        host.store
            .replace_partitions(&box_scores_table(), &future, &rows)
            .unwrap();
        for day in &future {
            run_every_processor(&host, &pipeline, *day);
        }
        assert_eq!(
            phase_four_rows(&host, &pipeline, analysis),
            before,
            "seed {seed} leaked the future into {analysis}"
        );
    }
    // The perturbation was real: phase 3 for the analysis date itself changed.
    let summaries = slate::schema::TableName::new("nba_analytics", "player_game_summary");
    let points: i64 = column(&host.rows(&summaries, analysis), "points")
        .map(|v| {
            if let Value::Scalar(Scalar::Int64(p)) = v {
                *p
            } else {
                0
            }
        })
        .sum();
    let original: i64 = season()
        .box_scores
        .iter()
        .filter(|b| b.game_date == analysis)
        .map(|b| b.points)
        .sum();
    assert!(
        points < original,
        "the analysis date's own games were changed"
    );
}
