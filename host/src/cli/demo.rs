//! `slate demo`: generate the demo season and run the whole pipeline over it.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Result;
use chrono::NaiveDate;
use slate::backfill::{self, BackfillRequest, Outcome, Reprocess};
use slate::demo::{
    load_season,
    season::{Season, SeasonConfig},
};
use slate::runs::RunStatus;

use super::render::table;
use super::{Host, HostOptions};

/// Loads the season, runs every game date in `from..=to` with up to
/// `parallelism` runs at once, prints a summary.
pub fn demo(
    options: &HostOptions,
    (from, to): (Option<NaiveDate>, Option<NaiveDate>),
    parallelism: usize,
) -> Result<ExitCode> {
    let started = Instant::now();
    let data_dir = &options.data_dir;
    let season = Season::generate(SeasonConfig::default());
    // A range holding no game date of the season ran nothing, and said
    // "0 dates" with exit 0: the command line's mistake, refused first.
    let (first, last) = (season.config.start, season.config.end);
    if let Some(date) = from.filter(|d| *d > last).or(to.filter(|d| *d < first)) {
        super::usage!(
            "{date} is outside the demo season, {first} to {last}: --from and --to pick \
             dates within it"
        );
    }
    let interrupt = super::interrupt::Interrupt::watch()?;
    let host = Host::open(options, true, parallelism)?;
    interrupt.stops(&host.executor);
    let loaded = load_season(host.store.as_ref(), &season)?;
    say!(
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

    let (mut outcomes, planned) =
        run_season(&host, &dates, &selection, parallelism, interrupt.flag())?;
    // Runs end in any order when several run at once: the summary lists
    // them by date, each date in pipeline order.
    outcomes.sort_by_key(|o| {
        (
            o.date,
            selection.iter().position(|name| *name == o.processor),
        )
    });
    let tallies = backfill::tally(&outcomes);
    // The planted missing date's failures and blocks are what the demo is
    // there to show: a processor that found no box scores, and those
    // downstream of it blocked. Any other run that did not succeed is a
    // surprise (a deployed version that crashes, say, on that date too),
    // and the command exits 1.
    let planted = &season.config.dates_missing_box_scores;
    let expected = |o: &Outcome| {
        let found_no_box_scores = o
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with(PLANTED_FAILURE));
        planted.contains(&o.date)
            && match o.status {
                Some(RunStatus::Blocked) => true,
                Some(RunStatus::Failed) => found_no_box_scores,
                _ => false,
            }
    };
    // Runs the store failed (a full disk) are surprises too, but said
    // once, with the backfill that runs them again, not a line each.
    let store_failed = outcomes.iter().filter(|o| o.store_failed).count();
    let mut surprises = store_failed;
    let problems: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status != Some(RunStatus::Success) && !o.store_failed)
        .map(|o| {
            let status = o.status.map_or("unclaimed".to_string(), |s| s.to_string());
            let stopped = o.error.as_deref() == Some(slate::executor::SHUTDOWN_MESSAGE);
            let why = match expected(o) {
                true => "the planted missing date",
                // A run the interrupt stopped is no surprise.
                false if stopped && interrupt.came() => "interrupted",
                false => {
                    surprises += 1;
                    "UNEXPECTED"
                }
            };
            format!(
                "({why}): {} {} {status}: {}",
                o.date,
                o.processor,
                slate::runs::error_headline(o.error.as_deref().unwrap_or_default())
            )
        })
        .collect();

    let mut processors = table(&["processor", "success", "failed", "blocked", "flagged gaps"]);
    for name in &selection {
        let tally = tallies.get(name).cloned().unwrap_or_default();
        processors.add_row(vec![
            name.clone(),
            tally.succeeded.to_string(),
            tally.failed.to_string(),
            tally.blocked.to_string(),
            tally.flagged_gaps.to_string(),
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
        println!("not a success {problem}");
    }
    super::backfill::print_flagged_gaps(&outcomes);
    super::backfill::say_runs_the_store_failed(options, &outcomes);
    match interrupt.came() {
        true => println!(
            "interrupted after {} of {} planned runs, in {:.1} s",
            outcomes.len(),
            planned,
            started.elapsed().as_secs_f64()
        ),
        false => println!(
            "{} dates in {:.1} s",
            dates.len(),
            started.elapsed().as_secs_f64()
        ),
    }
    super::alerts::sweep_and_deliver(options, &host)?;
    if surprises > 0 {
        say!(
            "{surprises} {} not succeed beyond the planted missing date's: see {} above",
            if surprises == 1 {
                "run did"
            } else {
                "runs did"
            },
            match store_failed {
                0 => "UNEXPECTED",
                _ => "UNEXPECTED and the runs the store failed",
            }
        );
        return Ok(interrupt.exit_code(ExitCode::FAILURE));
    }
    Ok(interrupt.exit_code(ExitCode::SUCCESS))
}

/// How a run that reads the box scores fails on the planted missing date:
/// the processor's own missing-data error.
const PLANTED_FAILURE: &str = "missing data: no box scores for";

/// Runs every processor of `selection` on each of `dates`, as `slate
/// backfill --reprocess all` does: on the embedded store up to
/// `parallelism` runs at once, each as soon as the runs it reads have
/// ended; on a store that commits dates together (BigQuery) in chunks,
/// each processor's dates of a chunk claimed, checked and committed
/// together, so that a season costs a few jobs per chunk rather than a
/// dozen per run. Returns the outcomes, and how many runs were planned.
fn run_season(
    host: &Host,
    dates: &[NaiveDate],
    selection: &[String],
    parallelism: usize,
    stop: &AtomicBool,
) -> Result<(Vec<Outcome>, usize)> {
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return Ok((Vec::new(), 0));
    };
    let request = BackfillRequest {
        start: *first,
        end: *last,
        selection: selection.to_vec(),
        reprocess: Reprocess::All,
        parallelism,
    };
    let mut plan = backfill::plan(host.store.as_ref(), &host.pipeline, &request)?;
    // Only game dates.
    plan.dates.retain(|date| dates.contains(date));
    plan.runs.retain(|run| dates.contains(&run.date));
    let total = plan.runs.len();
    let done = AtomicUsize::new(0);
    let outcomes = backfill::run(
        &host.pipeline,
        &host.executor,
        &plan,
        parallelism,
        stop,
        &|_| {
            let done = done.fetch_add(1, Ordering::Relaxed) + 1;
            if done.is_multiple_of(250) || done == total {
                say!("ran {done}/{total} runs");
            }
        },
    );
    Ok((outcomes, total))
}
