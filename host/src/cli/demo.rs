//! `slate demo`: generate the demo season and run the whole pipeline over it.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use chrono::NaiveDate;
use slate::demo::{
    load_season,
    season::{Season, SeasonConfig},
};
use slate::runs::{RunStatus, Trigger};

use super::render::table;
use super::{Host, HostOptions};

/// Loads the season, runs every game date in `from..=to`, prints a summary.
pub fn demo(
    options: &HostOptions,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<ExitCode> {
    let started = Instant::now();
    let data_dir = &options.data_dir;
    let host = Host::open(options, true, 1)?;
    let season = Season::generate(SeasonConfig::default());
    let loaded = load_season(host.store.as_ref(), &season)?;
    eprintln!(
        "loaded the demo season into {}: {} games, {} box score lines, {} prop lines",
        options.warehouse.describe(data_dir),
        loaded.games,
        loaded.box_scores,
        loaded.prop_lines
    );
    let from = from.unwrap_or(season.config.start);
    let to = to.unwrap_or(season.config.end);
    let dates: Vec<NaiveDate> = season
        .game_dates()
        .into_iter()
        .filter(|d| (from..=to).contains(d))
        .collect();
    let selection = host.pipeline.select(&[])?;

    let mut tally: BTreeMap<String, BTreeMap<RunStatus, usize>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, date) in dates.iter().enumerate() {
        for record in
            host.pipeline
                .run_date(&host.executor, *date, &selection, Trigger::Backfill)?
        {
            *tally
                .entry(record.processor.clone())
                .or_default()
                .entry(record.status)
                .or_default() += 1;
            if record.status != RunStatus::Success {
                problems.push(format!(
                    "{date} {} {}: {}",
                    record.processor,
                    record.status,
                    slate::health::first_line(record.error_message.as_deref())
                ));
            }
        }
        if (i + 1) % 25 == 0 || i + 1 == dates.len() {
            eprintln!("ran {}/{} dates", i + 1, dates.len());
        }
    }

    let mut processors = table(&["processor", "success", "failed", "blocked"]);
    for name in &selection {
        let counts = tally.get(name).cloned().unwrap_or_default();
        let count = |s| counts.get(&s).copied().unwrap_or(0).to_string();
        processors.add_row(vec![
            name.clone(),
            count(RunStatus::Success),
            count(RunStatus::Failed),
            count(RunStatus::Blocked),
        ]);
    }
    println!("{processors}");
    let mut tables = table(&["table", "rows", "dates", "first date", "last date"]);
    for name in &selection {
        let output = &host
            .pipeline
            .plugin(name)
            .expect("selected")
            .spec
            .output_table;
        // A processor blocked on every date never created its table.
        let counts = match host.store.table_schema(output)? {
            Some(_) => host.store.partition_counts(output)?,
            None => Vec::new(),
        };
        tables.add_row(vec![
            output.to_string(),
            counts.iter().map(|(_, n)| n).sum::<u64>().to_string(),
            counts.len().to_string(),
            counts
                .first()
                .map(|(d, _)| d.to_string())
                .unwrap_or_default(),
            counts
                .last()
                .map(|(d, _)| d.to_string())
                .unwrap_or_default(),
        ]);
    }
    println!("{tables}");
    for problem in &problems {
        println!("not a success: {problem}");
    }
    println!(
        "{} dates in {:.1} s",
        dates.len(),
        started.elapsed().as_secs_f64()
    );
    super::alerts::sweep_and_deliver(options, &host.store, &host.pipeline)?;
    Ok(ExitCode::SUCCESS)
}
