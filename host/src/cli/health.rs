//! `slate health`: the pipeline health check, as text or JSON.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use slate::alerts::AlertsConfig;
use slate::health::report;

use super::{Host, HostOptions};

/// How many missing dates a table lists one by one before it sums up the
/// rest: a pipeline stalled for a month should not print a page per table.
const MISSING_DATES_LISTED: usize = 5;

/// Prints the health report; exits non-zero when the pipeline is unhealthy.
pub fn health(options: &HostOptions, json: bool) -> Result<ExitCode> {
    // A probe needs the channels' names, not their secrets.
    let config_file = options.data_dir.config_file();
    let alerts = AlertsConfig::load_without_secrets(&config_file)?;
    let channels: Vec<String> = alerts.channels.into_iter().map(|c| c.name).collect();
    let (store, pipeline, registry) = match Host::open(options, false, 0) {
        Ok(host) => {
            // Opening the host reaps stale runs, recording an alert for
            // each: they go out now, as `slate reap`'s do, where the
            // channels' secrets are at hand; a probe without them says so
            // and leaves them queued.
            if host.executor.leases().reaped_total() > 0 && !channels.is_empty() {
                match AlertsConfig::load(&config_file) {
                    Ok(_) => {
                        super::alerts::deliver_after_command(options, &host.store)?;
                    }
                    Err(error) => say!(
                        "alerts: the reaped runs' alerts stay queued for the next delivering command: {error:#}"
                    ),
                }
            }
            (host.store, host.pipeline, host.registry)
        }
        // A probe of a store it may only read (a read-only mount, a
        // standby server, a store another process holds locked) reports
        // what it reads: a stale run shows as `stale_running`, left for a
        // host that can write to reap.
        Err(error) if super::only_reads(&error) => {
            let error = super::naming_the_store_file(error, options);
            say!(
                "note: {}; stale runs are reported, not reaped",
                super::one_line(&error)
            );
            let (store, pipeline, registry) = super::open_to_read(options)?;
            (store, pipeline, Arc::new(registry))
        }
        Err(error) => return Err(error),
    };
    let report = report(
        store.as_ref(),
        &pipeline,
        chrono::Utc::now(),
        alerts.no_rows_deadline,
    )?
    .with_alert_channels(store.as_ref(), &channels)?
    .forgiving_ended(|name| registry.ended_at(name))?;
    if json {
        println!("{}", super::render::json_text(&report)?);
    } else {
        let reached = report
            .reached
            .map_or("nothing yet".to_string(), |d| d.to_string());
        println!("pipeline reached {reached}");
        for table in &report.tables {
            println!("{} ({})", table.table, table.processor);
            let latest: Vec<String> = table
                .latest_dates
                .iter()
                .map(|(d, n)| format!("{d}: {n}"))
                .collect();
            println!(
                "  latest rows: {}",
                if latest.is_empty() {
                    "none".to_string()
                } else {
                    latest.join(", ")
                }
            );
            let (listed, more) = table
                .missing_dates
                .split_at(table.missing_dates.len().min(MISSING_DATES_LISTED));
            for date in listed {
                println!("  FAIL {date}: scheduled, but no rows");
            }
            if let (Some(first), Some(last)) = (more.first(), more.last()) {
                println!(
                    "  FAIL {} more scheduled dates with no rows, {first} to {last} (`--json` lists them)",
                    more.len()
                );
            }
            for emptied in &table.emptied_dates {
                println!(
                    "  FAIL {}: emptied: run {} succeeded with 0 rows where run {} wrote {}",
                    emptied.date, emptied.run_id, emptied.previous_run_id, emptied.rows_before
                );
            }
            let mismatches = [
                ("rows lost", &table.lost_rows),
                ("rows added past the host", &table.added_rows),
            ];
            for (what, held) in mismatches {
                for held in held {
                    println!(
                        "  FAIL {}: {what}: run {} wrote {}, the table holds {}",
                        held.date, held.run_id, held.rows_written, held.rows_held
                    );
                }
            }
            for set_aside in &table.quarantined_dates {
                println!(
                    "  FAIL {}: every row quarantined: run {} set aside {} and wrote none \
                     (`{}`)",
                    set_aside.date,
                    set_aside.run_id,
                    set_aside.rows_quarantined,
                    options.command_line(&format!("quarantine --run {}", set_aside.run_id))
                );
            }
            for date in &table.empty_successes {
                println!("  note {date}: succeeded with 0 rows");
            }
        }
        for run in &report.problem_runs {
            let kind = run
                .error_kind
                .map(|k| format!(" [{k}]"))
                .unwrap_or_default();
            let not_loaded = if run.loaded {
                ""
            } else {
                " (not loaded by this check: give it the --plugin-dir, or SLATE_PLUGIN_DIR, the \
                 processor runs from)"
            };
            println!(
                "{} {} {}{kind} (run {}): {}{not_loaded}",
                run.status.to_uppercase(),
                run.processor,
                run.date,
                run.run_id,
                run.message
            );
        }
        let since = |channel: &slate::health::DeadChannel| {
            channel
                .since
                .map(|t| format!(" since {}", t.format("%Y-%m-%dT%H:%MZ")))
                .unwrap_or_default()
        };
        for dead in &report.dead_alert_channels {
            println!(
                "FAIL alert channel `{}` is dead: {}{}",
                dead.channel,
                dead.reason,
                since(dead)
            );
        }
        for failing in &report.failing_alert_channels {
            println!(
                "FAIL alert channel `{}` has been failing{}: {}",
                failing.channel,
                since(failing),
                failing.reason
            );
        }
        for last in &report.last_success {
            match (&last.date, &last.finished_at) {
                (Some(date), Some(at)) => {
                    println!("last success {}: {date} at {at}", last.processor)
                }
                _ => println!("last success {}: never", last.processor),
            }
        }
        println!(
            "{}",
            if report.healthy {
                "HEALTHY"
            } else {
                "UNHEALTHY"
            }
        );
    }
    Ok(if report.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
