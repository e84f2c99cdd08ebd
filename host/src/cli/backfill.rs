//! `slate backfill`: a range of dates with a progress bar and a summary table.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use slate::backfill::{self, BackfillRequest, Ended, Outcome, Reprocess, Tally};
use slate::pipeline::Pipeline;
use slate::runs::error_headline;

use super::render::table;
use super::{Host, HostOptions, parse_range};

/// The options of `slate backfill`.
#[derive(clap::Args)]
pub struct BackfillArgs {
    /// The first date, YYYY-MM-DD.
    #[arg(long)]
    from: String,
    /// The last date, YYYY-MM-DD, included.
    #[arg(long)]
    to: String,
    /// Only these processors (comma-separated); all when omitted.
    #[arg(long, value_delimiter = ',', value_parser = super::processor_name)]
    processors: Vec<String>,
    /// Which runs to redo: missing (never ran), failed (latest run failed
    /// or blocked), outdated (written by another version than the active
    /// one, or downstream of such a date; see `slate runs --outdated`) or
    /// all.
    #[arg(long, default_value = "missing")]
    reprocess: String,
    /// How many runs may execute at once (1 to 256; 2 when not given).
    /// On a shared PostgreSQL run ledger the limit holds across every
    /// host, counting a chunk of dates run together as one; when not
    /// given there, every host's workers take part, and this host works
    /// with 2.
    #[arg(long, value_parser = super::concurrent_runs)]
    parallelism: Option<usize>,
    /// Print the plan without running anything.
    #[arg(long)]
    dry_run: bool,
}

/// How many runs a backfill executes at once when `--parallelism` is not
/// given.
const DEFAULT_PARALLELISM: usize = 2;

/// Plans and runs the backfill; exits non-zero when any run failed.
pub fn backfill(options: &HostOptions, args: BackfillArgs) -> Result<ExitCode> {
    let (start, end) = parse_range(&args.from, &args.to)?;
    let reprocess: Reprocess = args
        .reprocess
        .parse()
        .map_err(|e| super::UsageError(format!("--reprocess: {e}")))?;
    let parallelism = args.parallelism.unwrap_or(DEFAULT_PARALLELISM);
    let interrupt = super::interrupt::Interrupt::watch()?;
    let host = Host::open(options, false, parallelism)?;
    interrupt.stops(&host.executor);
    let (start, end) = (host.served(start)?, host.served(end)?);
    let request = BackfillRequest {
        start,
        end,
        selection: host.pipeline.select(&args.processors)?,
        reprocess,
        parallelism,
    };
    let plan = backfill::plan(host.store.as_ref(), &host.pipeline, &request)?;
    if plan.dates_without_games > 0 {
        say!(
            "{} dates of the range have no games scheduled; they are not run",
            plan.dates_without_games
        );
    }
    if args.dry_run {
        let mut output = table(&["date", "processor"]);
        for run in &plan.runs {
            output.add_row(vec![run.date.to_string(), run.processor.clone()]);
        }
        super::render::print(&output);
        println!(
            "dry run: {} runs planned over {} dates, {} left alone (--reprocess {reprocess})",
            plan.runs.len(),
            plan.dates.len(),
            plan.left_alone
        );
        warn_of_outdated_in_range(options, &host, &host.pipeline, &request)?;
        return Ok(interrupt.exit_code(ExitCode::SUCCESS));
    }
    if host.store.work_queue().is_some() {
        let cap = args.parallelism;
        return backfill_over_the_cluster(options, &host, &request, &plan, cap, &interrupt);
    }

    // The bar counts dates: a date is done when all its planned runs ended,
    // failed when one of them failed, blocked when one was blocked.
    let mut runs_per_date: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for run in &plan.runs {
        *runs_per_date.entry(run.date).or_default() += 1;
    }
    let bar = ProgressBar::new(runs_per_date.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} dates [{elapsed_precise}, ETA {eta}] {msg}",
        )
        .expect("a valid progress template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let dates = Mutex::new(DateProgress {
        remaining: runs_per_date,
        ..DateProgress::default()
    });
    let on_outcome = |outcome: &Outcome| {
        let mut dates = dates.lock().unwrap_or_else(|e| e.into_inner());
        if dates.record(outcome) {
            bar.inc(1);
        }
        bar.set_message(format!(
            "done {}, failed {}, blocked {}",
            dates.done, dates.failed, dates.blocked
        ));
    };
    let outcomes = backfill::run(
        &host.pipeline,
        &host.executor,
        &plan,
        parallelism,
        interrupt.flag(),
        &on_outcome,
    );
    bar.finish();

    let tallies = backfill::tally(&outcomes);
    let mut output = table(&[
        "processor",
        "success",
        "failed",
        "blocked",
        "not started",
        "rows",
        "flagged gaps",
    ]);
    let mut all = Tally::default();
    for name in &plan.selection {
        let tally = tallies.get(name).cloned().unwrap_or_default();
        output.add_row(vec![
            name.clone(),
            tally.succeeded.to_string(),
            tally.failed.to_string(),
            tally.blocked.to_string(),
            tally.not_started.to_string(),
            tally.rows.to_string(),
            tally.flagged_gaps.to_string(),
        ]);
    }
    super::render::print(&output);
    print_flagged_gaps(&outcomes);
    for outcome in &outcomes {
        all.count(outcome);
    }
    let mut unsuccessful: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.ended() != Ended::Succeeded)
        .collect();
    unsuccessful.sort_by_key(|o| (o.date, o.processor.clone()));
    for outcome in &unsuccessful {
        let how = match outcome.ended() {
            Ended::Blocked => "blocked",
            Ended::NotStarted => "not started",
            _ => "failed",
        };
        let headline = error_headline(outcome.error.as_deref().unwrap_or_default());
        say!("{} {} {how}: {headline}", outcome.date, outcome.processor);
    }
    // An interrupt leaves the planned runs it did not start out of the
    // outcomes: counted here, so that every planned run is.
    let not_run = match plan.runs.len() - outcomes.len() {
        0 => String::new(),
        n => format!(", {n} not run (interrupted)"),
    };
    println!(
        "{} runs over {} dates ({} left alone under --reprocess {reprocess}): {} failed, {} blocked, \
         {} not started (held by another run){not_run}",
        outcomes.len(),
        plan.dates.len(),
        plan.left_alone,
        all.failed,
        all.blocked,
        all.not_started
    );
    say_runs_the_store_failed(options, &outcomes);
    warn_of_outdated_in_range(options, &host, &host.pipeline, &request)?;
    super::alerts::sweep_and_deliver(options, &host)?;
    Ok(interrupt.exit_code(if all.all_well() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }))
}

/// Says which runs failed because the store did, not their processors,
/// and the backfill that runs them again: `--reprocess all` over their
/// dates and processors, for a claim the store refused recorded nothing
/// (under `--reprocess failed` it is not found), a run it gave up is
/// reaped `failed` (under `--reprocess missing` it is not), and a date
/// that had rows before may have been asked for under `all` (neither
/// finds it).
pub(super) fn say_runs_the_store_failed(options: &HostOptions, outcomes: &[Outcome]) {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.store_failed).collect();
    let (Some(first), Some(from), Some(to)) = (
        failed.first(),
        failed.iter().map(|o| o.date).min(),
        failed.iter().map(|o| o.date).max(),
    ) else {
        return;
    };
    let mut processors: Vec<&str> = Vec::new();
    for outcome in &failed {
        if !processors.contains(&outcome.processor.as_str()) {
            processors.push(&outcome.processor);
        }
    }
    let again = options.command_line(&format!(
        "backfill --from {from} --to {to} --processors {} --reprocess all",
        processors.join(",")
    ));
    say!(
        "warning: {} runs failed because the store did ({}), not their processors: `{again}` \
         runs them again",
        failed.len(),
        error_headline(first.error.as_deref().unwrap_or_default())
    );
}

/// The pipeline a `slate backfill` on a cluster works with: the one it
/// opened with, then loaded again whenever the registry's generation moves,
/// so that a version deployed or undeployed on any host meanwhile is taken
/// up here as a server takes it up (before, the command ran the versions it
/// started with to its end).
struct FollowedPipeline<'a> {
    options: &'a HostOptions,
    host: &'a Host,
    /// The generation last seen, and the pipeline loaded since the one the
    /// command opened with, if any.
    current: Mutex<(i64, Option<Arc<Pipeline>>)>,
}

/// The pipeline of the moment: the command's own, or one loaded since.
enum CurrentPipeline<'a> {
    Opened(&'a Pipeline),
    Loaded(Arc<Pipeline>),
}

impl std::ops::Deref for CurrentPipeline<'_> {
    type Target = Pipeline;

    fn deref(&self) -> &Pipeline {
        match self {
            CurrentPipeline::Opened(pipeline) => pipeline,
            CurrentPipeline::Loaded(pipeline) => pipeline,
        }
    }
}

impl<'a> FollowedPipeline<'a> {
    /// Follows from the generation of now: `host`'s pipeline was loaded a
    /// moment before, and a switch in between is taken up at the next.
    fn new(options: &'a HostOptions, host: &'a Host) -> Result<Self> {
        let generation = host.registry.generation()?;
        Ok(FollowedPipeline {
            options,
            host,
            current: Mutex::new((generation, None)),
        })
    }

    /// The pipeline of the moment; the one before, when the registry
    /// cannot be read or the new set does not load (said once per
    /// generation).
    fn current(&self) -> CurrentPipeline<'a> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(generation) = self.host.registry.generation()
            && generation != current.0
        {
            current.0 = generation;
            let host = self.host;
            match super::load_pipeline(
                self.options,
                host.store.as_ref(),
                &host.runtime,
                &host.registry,
            ) {
                Ok(pipeline) => {
                    tracing::info!(generation, "the registry moved: this backfill takes it up");
                    current.1 = Some(Arc::new(pipeline));
                }
                Err(error) => tracing::warn!(
                    generation,
                    error = %super::one_line(&error),
                    "the registry moved, but its versions do not load: this backfill goes on \
                     with the ones it had"
                ),
            }
        }
        match &current.1 {
            Some(loaded) => CurrentPipeline::Loaded(loaded.clone()),
            None => CurrentPipeline::Opened(&self.host.pipeline),
        }
    }
}

/// Enqueues `plan` on the store's work queue, with at most `cap` takes of
/// it worked on at once across the cluster (`--parallelism`; `None`: no
/// limit), works on it here with the request's parallelism in threads
/// beside every other host, and follows the whole cluster's progress
/// until every task ended; exits non-zero when any task's run failed or
/// was blocked, or the backfill was cancelled (`DELETE /backfills/{id}` on
/// a server) before every task ran.
fn backfill_over_the_cluster(
    options: &HostOptions,
    host: &Host,
    request: &BackfillRequest,
    plan: &backfill::Plan,
    cap: Option<usize>,
    interrupt: &super::interrupt::Interrupt,
) -> Result<ExitCode> {
    let queue = host.store.work_queue().expect("checked by the caller");
    let id = slate::work_queue::enqueue(
        queue,
        &host.pipeline,
        request,
        plan,
        host.executor.host_id(),
        cap,
    )?;
    say!(
        "backfill {id}: {} tasks enqueued for every host sharing the store",
        plan.runs.len()
    );
    let bar = ProgressBar::new(plan.runs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs, cluster-wide [{elapsed_precise}, ETA {eta}] {msg}",
        )
        .expect("a valid progress template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let progress = || queue.progress(&id).ok().flatten();
    // Without a terminal the bar shows nothing: a line at the first
    // progress, then every half minute, says the command is alive and
    // where the cluster is.
    let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let now = std::time::Instant::now();
    let said = Mutex::new(now.checked_sub(Duration::from_secs(30)).unwrap_or(now));
    let show = |_: &slate::work_queue::Worked| {
        if let Some(p) = progress() {
            bar.set_position(p.ended() as u64);
            let mut waiting = match p.waiting_on_runs.len() {
                0 => String::new(),
                n => format!(", {n} waiting for runs elsewhere"),
            };
            // This process runs its own processors' tasks; others wait for
            // a server that has theirs.
            for unserved in &p.unserved {
                if host.pipeline.plugin(&unserved.processor).is_none() {
                    waiting.push_str(&format!(
                        ", {} of {} waiting for a server that has it",
                        unserved.queued, unserved.processor
                    ));
                }
            }
            // `by_host` counts the hosts that ended tasks, not those running
            // them: said so, it does not read as the hosts at work now.
            let message = format!(
                "succeeded {}, failed {}, blocked {}, running {}; tasks ended by {} host(s) \
                 so far{waiting}",
                p.succeeded,
                p.failed,
                p.blocked,
                p.taken,
                p.by_host.len()
            );
            let mut said = said.lock().unwrap_or_else(|e| e.into_inner());
            if quiet && said.elapsed() >= Duration::from_secs(30) {
                say!(
                    "backfill {id}: {}/{} runs ended: {message}",
                    p.ended(),
                    p.planned
                );
                *said = std::time::Instant::now();
            }
            bar.set_message(message);
        }
    };
    slate::work_queue::release_held_before(queue, host.executor.host_id())?;
    let followed = FollowedPipeline::new(options, host)?;
    slate::work_queue::work_until(
        queue,
        &|| followed.current(),
        &host.executor,
        request.parallelism,
        interrupt.flag(),
        &|| progress().is_some_and(|p| p.is_finished() || stranded(&p, &followed.current())),
        &show,
    )
    .with_context(|| {
        format!(
            "backfill {id} stopped: the tasks it has not run stay queued, for a `slate serve` \
             on the same database to take (`GET /backfills/{id}` follows it, \
             `DELETE /backfills/{id}` cancels it)"
        )
    })?;
    // Dates the backfill's cancel cut short are judged once every task
    // has ended, by whichever host comes first: this one, if none did.
    slate::work_queue::judge_cancelled_dates(queue, host.store.as_ref(), &host.pipeline)?;
    let done = queue
        .progress(&id)?
        .ok_or_else(|| anyhow::anyhow!("backfill {id} is gone from the queue"))?;
    bar.set_position(done.ended() as u64 + done.cancelled as u64);
    bar.finish();
    let mut output = table(&["host", "runs"]);
    for (host_id, runs) in &done.by_host {
        output.add_row(vec![host_id.clone(), runs.to_string()]);
    }
    super::render::print(&output);
    for problem in &done.problems {
        let headline = error_headline(problem.error.as_deref().unwrap_or_default());
        say!(
            "{} {} {}: {headline}",
            problem.date,
            problem.processor,
            problem.status
        );
    }
    let cancelled = match done.cancelled_at {
        Some(at) => format!(
            ", {} not run: cancelled at {}",
            done.cancelled,
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => String::new(),
    };
    println!(
        "backfill {id}: {} runs over {} dates on {} host(s) ({} left alone under --reprocess {}): \
         {} succeeded, {} failed, {} blocked{cancelled}",
        done.planned,
        plan.dates.len(),
        done.by_host.len(),
        done.left_alone,
        request.reprocess,
        done.succeeded,
        done.failed,
        done.blocked
    );
    for mixed in &done.mixed_versions {
        let versions: Vec<String> = mixed
            .versions
            .iter()
            .map(|v| {
                format!(
                    "{} ({} runs, on {})",
                    slate::alerts::event::short_hash(&v.hash),
                    v.runs,
                    v.hosts.join(", ")
                )
            })
            .collect();
        say!(
            "warning: {} ran {} versions in this backfill: {}; `{}` lists the dates the active \
             version has not produced",
            mixed.processor,
            mixed.versions.len(),
            versions.join(", "),
            options.command_line("runs --outdated")
        );
    }
    for left in &done.unserved {
        say!(
            "{} tasks of {} are left queued: no live server has it, nor this command \
             (deploy it again, or cancel the backfill: DELETE /backfills/{id})",
            left.queued,
            left.processor
        );
    }
    // Against the versions active now: a deploy during the backfill made
    // the dates the old version ran outdated, not the new one's.
    warn_of_outdated_in_range(options, host, &followed.current(), request)?;
    super::alerts::sweep_and_deliver(options, host)?;
    let all_ran = done.failed == 0 && done.blocked == 0 && done.queued == 0;
    Ok(
        interrupt.exit_code(if all_ran && done.cancelled_at.is_none() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
    )
}

/// Whether every task of the backfill still queued is stranded: no task is
/// taken, and each queued one is of a processor no live server serves and
/// this command does not have (undeployed meanwhile, say). Waiting for
/// them would never end.
fn stranded(progress: &slate::store::work_queue::ClusterProgress, pipeline: &Pipeline) -> bool {
    let unserved: usize = progress
        .unserved
        .iter()
        .filter(|u| pipeline.plugin(&u.processor).is_none())
        .map(|u| u.queued)
        .sum();
    progress.taken == 0 && progress.queued > 0 && unserved == progress.queued
}

/// Dates finished so far, by how they ended.
#[derive(Default)]
struct DateProgress {
    /// Runs still to end, per date.
    remaining: BTreeMap<NaiveDate, usize>,
    /// Dates with a failed run so far.
    failing: BTreeSet<NaiveDate>,
    /// Dates with a blocked run so far.
    blocking: BTreeSet<NaiveDate>,
    done: usize,
    failed: usize,
    blocked: usize,
}

impl DateProgress {
    /// Counts one ended run; true when it was its date's last.
    fn record(&mut self, outcome: &Outcome) -> bool {
        match outcome.ended() {
            Ended::Failed => {
                self.failing.insert(outcome.date);
            }
            Ended::Blocked => {
                self.blocking.insert(outcome.date);
            }
            Ended::Succeeded | Ended::NotStarted => {}
        }
        let Some(remaining) = self.remaining.get_mut(&outcome.date) else {
            return false;
        };
        *remaining -= 1;
        if *remaining > 0 {
            return false;
        }
        if self.failing.contains(&outcome.date) {
            self.failed += 1;
        } else if self.blocking.contains(&outcome.date) {
            self.blocked += 1;
        } else {
            self.done += 1;
        }
        true
    }
}

/// Reruns, from `first` to `last`, every outdated (processor, date) (what
/// `slate promote --backfill` does once the new version is active: its
/// dates, and downstream of them), printing a one-line summary per
/// processor; returns whether a run failed.
pub fn rerun_outdated(
    options: &HostOptions,
    (first, last): (NaiveDate, NaiveDate),
) -> Result<bool> {
    const PARALLELISM: usize = 2;
    let host = Host::open(options, false, PARALLELISM)?;
    let request = BackfillRequest {
        start: first,
        end: last,
        selection: host.pipeline.select(&[])?,
        reprocess: Reprocess::Outdated,
        parallelism: PARALLELISM,
    };
    let plan = backfill::plan(host.store.as_ref(), &host.pipeline, &request)?;
    let never = AtomicBool::new(false);
    let outcomes = backfill::run(
        &host.pipeline,
        &host.executor,
        &plan,
        PARALLELISM,
        &never,
        &|_| {},
    );
    let mut failed = false;
    for (processor, tally) in backfill::tally(&outcomes) {
        println!(
            "reran {processor} from {first} to {last}: {} succeeded, {} failed, {} blocked, \
             {} not started, {} rows, {} flagging lookback gaps",
            tally.succeeded,
            tally.failed,
            tally.blocked,
            tally.not_started,
            tally.rows,
            tally.flagged_gaps
        );
        failed |= !tally.all_well();
    }
    print_flagged_gaps(&outcomes);
    Ok(failed)
}

/// Warns of the selected processors' outdated dates in the range, as the
/// backfill leaves them: a run that read an upstream another invocation
/// reran meanwhile (two backfills over one range), or one `--reprocess`
/// left alone. The rows may still be right, but nothing says so, and the
/// summary's counts would not tell. Outdated against `pipeline`: the
/// versions active as the backfill ends.
fn warn_of_outdated_in_range(
    options: &HostOptions,
    host: &Host,
    pipeline: &Pipeline,
    request: &BackfillRequest,
) -> Result<()> {
    let range = (request.start, request.end);
    let outdated =
        slate::outdated::in_range(host.store.as_ref(), pipeline, &request.selection, range)?;
    let Some(first) = outdated.first() else {
        return Ok(());
    };
    // The same selection, when it was one: the reruns are the outdated
    // runs of those processors.
    let selected = match request.selection.len() < pipeline.order().len() {
        true => format!(" --processors {}", request.selection.join(",")),
        false => String::new(),
    };
    let count = match outdated.len() {
        1 => "1 run in the range is".to_string(),
        n => format!("{n} runs in the range are"),
    };
    let rerun = options.command_line(&format!(
        "backfill --from {} --to {}{selected} --reprocess outdated",
        request.start, request.end
    ));
    let list = options.command_line("runs --outdated");
    say!(
        "warning: {count} outdated, e.g. {} {}: {}; `{rerun}` reruns them (`{list}` lists them)",
        first.processor,
        first.date,
        first.why(),
    );
    Ok(())
}

/// The lookback gaps the runs of `outcomes` flagged in their rows, in one
/// line, if any: an expected condition, shown once in the summary rather
/// than logged per run.
pub(super) fn print_flagged_gaps(outcomes: &[Outcome]) {
    let gaps = backfill::flagged_gaps(outcomes);
    if !gaps.is_empty() {
        println!(
            "lookback gaps flagged in rows' data_quality_issues: {}",
            slate::upstream_check::summarize_gaps(&gaps)
        );
    }
}
