//! `slate run`, `slate runs` and `slate runs --outdated`.

use std::process::ExitCode;

use anyhow::Result;
use chrono::NaiveDate;
use slate::liveness::{is_abandoned, reap_on_start};
use slate::pipeline::DateRun;
use slate::runs::{RunFilter, RunRecord, RunStatus, Trigger};
use slate::store::Store;
use slate::store::listing::{self, list_runs};
use slate::upstream_check::summarize_gaps;

use super::render::{duration, memory, short_error, table};
use super::{Host, HostOptions};

/// Runs the selected processors for `date`, in order; exits non-zero if
/// any did not succeed. A processor whose date another process holds is
/// "not started" (named, with the run holding it), as `POST
/// /process-date` answers, and the rest go on, a downstream one checked as
/// usual (and blocked while its upstream has no success).
pub fn run(options: &HostOptions, date: NaiveDate, processors: &[String]) -> Result<ExitCode> {
    let interrupt = super::interrupt::Interrupt::watch()?;
    let host = Host::open(options, false, 1)?;
    interrupt.stops(&host.executor);
    let date = host.served(date)?;
    let selection = host.pipeline.select(processors)?;
    let started = chrono::Utc::now();
    let DateRun {
        records,
        not_started,
    } = host.pipeline.run_date_until(
        &host.executor,
        date,
        &selection,
        Trigger::Cli,
        interrupt.flag(),
    )?;
    let mut output = table(&[
        "processor",
        "status",
        "rows",
        "duration",
        "run",
        "error or note",
    ]);
    // In the pipeline's order, each processor run or not started.
    for name in &selection {
        if let Some((_, error)) = not_started.iter().find(|(processor, _)| processor == name) {
            output.add_row(vec![
                name.clone(),
                "not started".to_string(),
                String::new(),
                String::new(),
                String::new(),
                error.to_string(),
            ]);
            continue;
        }
        let Some(record) = records.iter().find(|r| &r.processor == name) else {
            if interrupt.came() {
                output.add_row(vec![
                    name.clone(),
                    "not run".to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    "interrupted before it started".to_string(),
                ]);
            }
            continue;
        };
        // A success says more than its row count when it set rows aside,
        // and when its rows flag lookback gaps.
        let note = match record.status {
            RunStatus::Success => {
                let set_aside = record.reason.clone().filter(|r| {
                    let written = usize::try_from(record.rows_written).unwrap_or(0);
                    *r != slate::quarantine::commit_reason(written, 0, &record.run_id)
                });
                let gaps = record.upstream_check.as_ref().map_or(&[][..], |c| &c.gaps);
                let flagged = (!gaps.is_empty())
                    .then(|| format!("rows flag lookback gaps: {}", summarize_gaps(gaps)));
                set_aside
                    .into_iter()
                    .chain(flagged)
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            _ => short_error(record),
        };
        output.add_row(vec![
            record.processor.clone(),
            record.status.to_string(),
            record.rows_written.to_string(),
            duration(record.duration_ms),
            record.run_id.clone(),
            note,
        ]);
        if let Some(shadow) = shadow_run_since(&host, name, date, started)? {
            let note = match shadow.status {
                RunStatus::Success => {
                    format!(
                        "compare: `{}`",
                        options.command_line(&format!("diff {name}"))
                    )
                }
                _ => short_error(&shadow),
            };
            output.add_row(vec![
                format!("{} (shadow)", shadow.processor),
                shadow.status.to_string(),
                shadow.rows_written.to_string(),
                duration(shadow.duration_ms),
                shadow.run_id.clone(),
                note,
            ]);
        }
    }
    super::render::print(&output);
    for phase in slate::alerts::phase::phase_completion(host.store.as_ref(), &host.pipeline, date)?
    {
        let state = if phase.complete {
            "complete"
        } else {
            "incomplete"
        };
        let members: Vec<String> = phase
            .processors
            .iter()
            .map(|(name, status)| {
                format!(
                    "{name} {}",
                    status.map_or("not run".to_string(), |s| s.to_string())
                )
            })
            .collect();
        println!(
            "phase {} for {date}: {state} ({})",
            phase.phase,
            members.join(", ")
        );
    }
    warn_of_outdated_on(options, &host, date)?;
    for (processor, error) in &not_started {
        say!("{processor} not started: {error}");
    }
    for record in records.iter().filter(|r| r.status != RunStatus::Success) {
        if let Some(message) = &record.error_message {
            // The message's own lines (a traceback) indented under it, so
            // that none of them reads as a line of the host's.
            let message = slate::printable::lines(message).replace('\n', "\n    ");
            say!("{} {}: {message}", record.processor, record.status);
        }
    }
    super::alerts::sweep_and_deliver(options, &host)?;
    let all_succeeded =
        not_started.is_empty() && records.iter().all(|r| r.status == RunStatus::Success);
    Ok(interrupt.exit_code(if all_succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }))
}

/// Warns of the processors whose latest success on `date` is outdated once
/// the command ran: typically those downstream of a `--processors` run,
/// which read what it rewrote. Their phase may still read "complete"; the
/// warning says which runs' rows predate what they read, and the command
/// that reruns them.
fn warn_of_outdated_on(options: &HostOptions, host: &Host, date: NaiveDate) -> Result<()> {
    let everyone = host.pipeline.order().to_vec();
    let mut outdated =
        slate::outdated::in_range(host.store.as_ref(), &host.pipeline, &everyone, (date, date))?;
    // In the pipeline's order, the order a rerun takes them in.
    outdated.sort_by_key(|o| everyone.iter().position(|name| *name == o.processor));
    let Some(first) = outdated.first() else {
        return Ok(());
    };
    let names: Vec<&str> = outdated.iter().map(|o| o.processor.as_str()).collect();
    let count = match outdated.len() {
        1 => "1 run is".to_string(),
        n => format!("{n} runs are"),
    };
    let rerun = options.command_line(&format!(
        "run --date {date} --processors {}",
        names.join(",")
    ));
    say!(
        "warning: on {date}, {count} outdated, e.g. {}: {}; `{rerun}` reruns them",
        first.processor,
        first.why(),
    );
    Ok(())
}

/// The run of `name`'s shadow version for `date` that this invocation
/// made (started at `since` or later), if it has a shadow that ran: it runs
/// after its live run, and its result is not the command's.
fn shadow_run_since(
    host: &Host,
    name: &str,
    date: NaiveDate,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Option<RunRecord>> {
    if host.pipeline.shadow(name).is_none() {
        return Ok(None);
    }
    let latest = host.store.runs(&RunFilter {
        processor: Some(slate::shadow::shadow_name(name)),
        date: Some(date),
        limit: Some(1),
        ..RunFilter::default()
    })?;
    Ok(latest.into_iter().find(|run| run.started_at >= since))
}

/// Prints run history matching `filter`, newest first.
pub fn runs(options: &HostOptions, filter: &RunFilter, json: bool) -> Result<ExitCode> {
    let store = super::open_store(options, false)?;
    let page = match filter.stale_as_of {
        // Stale by the same rule every reaping command applies: a lease
        // that expired, or a host that was an earlier process on this
        // machine and is gone. The limit counts stale runs, not running
        // ones (the live ones hid the stale ones past it).
        Some(now) => {
            let me = slate::liveness::this_host_id();
            let running = RunFilter {
                status: Some(RunStatus::Running),
                stale_as_of: None,
                limit: None,
                ..filter.clone()
            };
            let stale = list_runs(store.as_ref(), &running)?
                .runs
                .into_iter()
                .filter(|r| is_abandoned(r, now, &me))
                .collect();
            listing::page(stale, filter.limit)
        }
        None => list_runs(store.as_ref(), filter)?,
    };
    let records = page.runs;
    if page.truncated {
        let listed = match records.len() {
            1 => "the newest matching run is listed".to_string(),
            n => format!("the newest {n} matching runs are listed"),
        };
        say!("{listed}; more match (raise --limit, or filter)");
    }
    if records.is_empty()
        && let Some(name) = &filter.processor
    {
        refuse_an_unknown_processor(options, store.as_ref(), name)?;
    }
    if json {
        return super::render::json(&records);
    }
    let mut output = table(&[
        "run",
        "processor",
        "date",
        "attempt",
        "status",
        "rows",
        "duration",
        "memory",
        "started",
        "heartbeat",
        "host",
        "trigger",
        "error",
    ]);
    // A run whose host is gone reads `running` until a command reaps it:
    // the listing says it is stale, by the rule `--stale` and reaping use.
    let (now, me) = (chrono::Utc::now(), slate::liveness::this_host_id());
    for r in &records {
        let stale = is_abandoned(r, now, &me);
        output.add_row(vec![
            r.run_id.clone(),
            r.processor.clone(),
            r.data_date.to_string(),
            r.attempt.to_string(),
            match stale {
                true => "running (stale)".to_string(),
                false => r.status.to_string(),
            },
            r.rows_written.to_string(),
            duration(r.duration_ms),
            memory(r.peak_memory_bytes),
            r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.heartbeat_at.format("%H:%M:%S").to_string(),
            r.host_id.clone(),
            r.trigger.to_string(),
            short_error(r),
        ]);
    }
    super::render::print(&output);
    Ok(ExitCode::SUCCESS)
}

/// A usage error when `name` is no processor this host loads and none by
/// that name ever ran here: `--processor` of a typo lists nothing, and must
/// not look like a processor with no runs.
fn refuse_an_unknown_processor(options: &HostOptions, store: &dyn Store, name: &str) -> Result<()> {
    let ever = store.runs(&RunFilter {
        processor: Some(name.to_string()),
        limit: Some(1),
        skip_upstream_check: true,
        ..RunFilter::default()
    })?;
    if !ever.is_empty() {
        return Ok(());
    }
    let runtime = super::plugins::runtime(options)?;
    let registry = super::plugins::registry(options)?;
    let pipeline = super::load_pipeline(options, store, &runtime, &registry)?;
    pipeline.select(&[name.to_string()])?;
    Ok(())
}

/// Prints the outdated (processor, date) pairs ([`slate::outdated`]) of
/// `only`, or of every processor, in pipeline order.
pub fn outdated(options: &HostOptions, only: Option<&str>, json: bool) -> Result<ExitCode> {
    let store = super::open_store(options, false)?;
    let runtime = super::plugins::runtime(options)?;
    let registry = super::plugins::registry(options)?;
    let pipeline = super::load_pipeline(options, store.as_ref(), &runtime, &registry)?;
    if let Some(name) = only {
        pipeline.select(&[name.to_string()])?;
    }
    let found = slate::outdated::in_store(store.as_ref(), &pipeline, only)?;
    if json {
        return super::render::json(&found);
    }
    let mut output = table(&["processor", "date", "run", "why"]);
    for pair in &found {
        output.add_row(vec![
            pair.processor.clone(),
            pair.date.to_string(),
            pair.run_id.clone(),
            pair.why(),
        ]);
    }
    super::render::print(&output);
    // The backfill over the dates they span, of the processor asked for:
    // it reruns what is outdated there and nothing else.
    let dates =
        (found.iter().map(|pair| pair.date).min()).zip(found.iter().map(|pair| pair.date).max());
    let rerun = match dates {
        Some((from, to)) => {
            let selected = only.map_or(String::new(), |name| format!(" --processors {name}"));
            let command = options.command_line(&format!(
                "backfill --from {from} --to {to}{selected} --reprocess outdated"
            ));
            format!("; `{command}` reruns them")
        }
        None => String::new(),
    };
    println!("{} outdated{rerun}", found.len());
    Ok(ExitCode::SUCCESS)
}

/// Reaps stale runs now and lists what was reaped.
pub fn reap(options: &HostOptions) -> Result<ExitCode> {
    let store = super::open_store(options, false)?;
    let reaped = reap_on_start(
        store.as_ref(),
        &slate::liveness::this_host_id(),
        slate::liveness::process_started(),
        chrono::Utc::now(),
    )?;
    for run in &reaped.runs {
        println!(
            "reaped {} {} {}: {}",
            run.run_id,
            run.processor,
            run.data_date,
            run.reason.as_deref().unwrap_or("")
        );
    }
    for table in &reaped.staging {
        println!("dropped staging table {table}");
    }
    let count = reaped.runs.len();
    println!(
        "{count} stale {} reaped",
        if count == 1 { "run" } else { "runs" }
    );
    if !reaped.runs.is_empty() {
        // Each reaped run failed, so its phase is incomplete on its date.
        // The reap stands whether or not the processors load.
        let pipeline = super::plugins::runtime(options).and_then(|runtime| {
            let registry = super::plugins::registry(options)?;
            super::load_pipeline(options, store.as_ref(), &runtime, &registry)
        });
        match pipeline {
            Ok(pipeline) => slate::alerts::phase::record_phase_events_of_reaped(
                store.as_ref(),
                &pipeline,
                &reaped.runs,
            ),
            Err(error) => say!(
                "warning: the reaped runs' phase events were not recorded: {}",
                super::one_line(&error)
            ),
        }
    }
    super::alerts::deliver_after_command(options, &store)?;
    Ok(ExitCode::SUCCESS)
}
