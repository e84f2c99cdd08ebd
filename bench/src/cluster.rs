//! A backfill spread over 1, 2 and 3 hosts through PostgreSQL's work
//! queue: `WaitingProcessor` (40 ms of waiting per run, no CPU) over a
//! range of dates, each host with its own store (connection pool),
//! executor and host id, taking tasks with two worker threads. The hosts
//! run in this process, sharing the compiled component; everything they
//! coordinate goes through the database, as separate processes would.
//!
//! And the cost of one take from a queue as large as a backfill of whole
//! seasons of the bundled pipeline: every processor on every date, each
//! waiting for its upstreams, as `POST /backfill` enqueues them.
//!
//! PostgreSQL is the server `SLATE_TEST_POSTGRES_URL` names, else the one
//! `scripts/postgres.sh` runs; with neither, the measurement says it
//! skipped.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use slate::backfill::{self, BackfillRequest, Reprocess};
use slate::executor::Executor;
use slate::limits::RunLimits;
use slate::liveness::LeaseConfig;
use slate::pipeline::Pipeline;
use slate::plugin::Runtime;
use slate::store::{PostgresStore, RunLedger, Store};
use slate::work_queue;

use crate::report::Report;
use crate::{Effort, components, ledger};

/// Worker threads per host.
const WORKERS_PER_HOST: usize = 2;

/// Runs a backfill of `dates` days over `hosts` hosts on a fresh database
/// at `url`; returns the wall time and how many runs each host ran.
fn backfill_over(
    url: &str,
    hosts: usize,
    dates: u64,
    pipeline: &Pipeline,
) -> anyhow::Result<(Duration, Vec<usize>)> {
    let database = ledger::fresh_database(url)?;
    let stores: Vec<Arc<PostgresStore>> = (0..hosts)
        .map(|_| PostgresStore::connect(&database).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let executors: Vec<Executor> = stores
        .iter()
        .enumerate()
        .map(|(host, store)| {
            Executor::new(
                store.clone() as Arc<dyn Store>,
                format!("bench-host-{host}:{}", std::process::id()),
                RunLimits::default(),
                LeaseConfig::default(),
            )
        })
        .collect::<Result<_, _>>()?;
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
    let request = BackfillRequest {
        start,
        end: start + chrono::Days::new(dates - 1),
        selection: pipeline.select(&[])?,
        reprocess: Reprocess::Missing,
        parallelism: WORKERS_PER_HOST,
    };
    let queue = stores[0]
        .work_queue()
        .expect("PostgreSQL keeps a work queue");
    let plan = backfill::plan(stores[0].as_ref(), pipeline, &request)?;
    let id = work_queue::enqueue(queue, pipeline, &request, &plan, "bench", None)?;
    let began = Instant::now();
    let never = AtomicBool::new(false);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = stores
            .iter()
            .zip(&executors)
            .map(|(store, executor)| {
                let queue = store.work_queue().expect("PostgreSQL keeps a work queue");
                let finished = || {
                    queue
                        .progress(&id)
                        .ok()
                        .flatten()
                        .is_some_and(|p| p.is_finished())
                };
                let never = &never;
                scope.spawn(move || {
                    work_queue::work_until(
                        queue,
                        &|| pipeline,
                        executor,
                        WORKERS_PER_HOST,
                        never,
                        &finished,
                        &|_| {},
                    )
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a host")?;
        }
        Ok(())
    })?;
    let elapsed = began.elapsed();
    let progress = queue
        .progress(&id)?
        .ok_or_else(|| anyhow::anyhow!("backfill {id} is gone"))?;
    anyhow::ensure!(
        progress.succeeded == plan.runs.len(),
        "only {} of {} runs succeeded: {:?}",
        progress.succeeded,
        plan.runs.len(),
        progress.problems
    );
    Ok((elapsed, progress.by_host.iter().map(|(_, n)| *n).collect()))
}

/// Enqueues every bundled processor on every day of `seasons` seasons
/// (167 days each) on a fresh database at `url`, then takes `takes` tasks
/// one at a time, ending each as a success as its run would: how many
/// tasks were queued, and the mean time of a take with its end.
fn takes_from_a_season_queue(
    url: &str,
    pipeline: &Pipeline,
    seasons: u64,
    takes: usize,
) -> anyhow::Result<(usize, Duration)> {
    use slate::backfill::{Plan, PlannedRun};
    let database = ledger::fresh_database(url)?;
    let store = PostgresStore::connect(&database)?;
    let queue = store.work_queue().expect("PostgreSQL keeps a work queue");
    let start = NaiveDate::from_ymd_opt(2023, 10, 21).expect("a date");
    let dates: Vec<NaiveDate> = (0..seasons * 167)
        .map(|day| start + chrono::Days::new(day))
        .collect();
    let selection = pipeline.select(&[])?;
    let runs: Vec<PlannedRun> = (dates.iter())
        .flat_map(|date| {
            (selection.iter()).map(|processor| PlannedRun {
                processor: processor.clone(),
                date: *date,
            })
        })
        .collect();
    let request = BackfillRequest {
        start,
        end: *dates.last().expect("a date"),
        selection: selection.clone(),
        reprocess: Reprocess::All,
        parallelism: 1,
    };
    let plan = Plan {
        dates,
        dates_without_games: 0,
        selection: selection.clone(),
        runs,
        left_alone: 0,
    };
    work_queue::enqueue(queue, pipeline, &request, &plan, "bench", None)?;
    let host = format!("bench-taker:{}", std::process::id());
    let lease = Duration::from_secs(60);
    let began = Instant::now();
    for n in 0..takes {
        let task = (queue.take_tasks(&host, lease, 1, &selection)?.pop())
            .ok_or_else(|| anyhow::anyhow!("take {n} found no ready task"))?;
        let run = slate::runs::RunRecord {
            run_id: format!("bench-run-{n}"),
            ..slate::testing::samples::run_record(
                &task.processor,
                task.date,
                slate::runs::RunStatus::Success,
            )
        };
        queue.finish_task(&task, &host, &run)?;
    }
    Ok((plan.runs.len(), began.elapsed() / takes as u32))
}

/// Records the backfill's wall time and rate with 1, 2 and 3 hosts.
pub fn measure(report: &mut Report, effort: Effort) -> anyhow::Result<()> {
    let Some(url) = ledger::postgres_url() else {
        report.skip(
            "backfill over several hosts",
            "no PostgreSQL server answers (set SLATE_TEST_POSTGRES_URL or run \
             scripts/postgres.sh start)",
        );
        return Ok(());
    };
    let dates: u64 = if effort.backfill_dates.is_some() {
        12
    } else {
        120
    };
    let runtime = Runtime::new(None)?;
    let pipeline = Pipeline::new(vec![
        runtime.load(&std::fs::read(components::WAITING_PROCESSOR)?)?,
    ])?;
    let (seasons, takes) = match effort.backfill_dates {
        Some(_) => (1, 20),
        None => (3, 300),
    };
    let bundled = crate::backfill::bundled_only(&runtime)?;
    for seasons in [1, seasons] {
        let (queued, per_take) = takes_from_a_season_queue(&url, &bundled, seasons, takes)?;
        report.add(
            "cluster",
            format!("one take from a queue of {queued} tasks ({seasons} season(s), every bundled processor)"),
            per_take.as_secs_f64() * 1000.0,
            "ms",
            format!("the mean of {takes} takes, each ended as a success"),
        );
        if seasons == 1 && effort.backfill_dates.is_some() {
            break;
        }
    }
    let mut one_host = None;
    for hosts in 1..=3 {
        let (elapsed, by_host) = backfill_over(&url, hosts, dates, &pipeline)?;
        let rate = dates as f64 / elapsed.as_secs_f64();
        let single = *one_host.get_or_insert(rate);
        report.add(
            "cluster",
            format!("backfill of {dates} waiting runs, {hosts} host(s)"),
            rate,
            "runs/s",
            format!(
                "{:.2} s wall; {:.2}x one host; runs per host {by_host:?}; \
                 {WORKERS_PER_HOST} workers per host, 40 ms wait per run",
                elapsed.as_secs_f64(),
                rate / single
            ),
        );
    }
    Ok(())
}
