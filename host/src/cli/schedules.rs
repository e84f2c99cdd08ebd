//! `slate schedules`: the `[[schedule]]`s of `slate.toml`, each with its
//! next tick and what its last one came to.

use std::process::ExitCode;

use anyhow::Result;

use slate::catalog::LeftOut;
use slate::pipeline::Pipeline;
use slate::registry::Registry;
use slate::schedule::Schedule;

use super::{HostOptions, render, usage};

/// `slate schedules`: the schedules with their next and last ticks. A
/// schedule `slate serve` would refuse (naming an unknown processor) is
/// refused here too, exit 2: listed with a next tick, it would seem to
/// fire.
pub fn list(options: &HostOptions, json: bool) -> Result<ExitCode> {
    let schedules = slate::schedule::load(&options.data_dir.config_file())?;
    // Listing creates no store: without one yet, no tick has fired.
    let store = super::plugins::existing_store(options)?;
    // The processors a schedule names are checked as a server checks them
    // (compiling into the data folder's cache those not compiled yet).
    let mut fires_nothing = std::collections::HashMap::new();
    if schedules
        .iter()
        .any(|schedule| !schedule.processors.is_empty())
    {
        let registry = super::plugins::existing_registry(options)?;
        let ledger = super::plugins::ledger(options)?;
        let (pipeline, left_out) = super::plugins::processors_as_served(
            &super::plugins::runtime(options)?,
            registry.as_ref(),
            options,
            &ledger,
        )?;
        fires_nothing = refuse_unknown_processors(
            options,
            &schedules,
            &pipeline,
            registry.as_ref(),
            &left_out,
        )?;
    }
    let store = store
        .as_ref()
        .map(|store| store.as_ref() as &dyn slate::store::Store);
    let fires_nothing = |schedule: &Schedule| fires_nothing.get(&schedule.name).cloned();
    let views =
        slate::server::schedules::views(store, &schedules, fires_nothing, chrono::Utc::now())?;
    if json {
        return render::json(&views);
    }
    let mut output = render::table(&[
        "schedule",
        "cron",
        "timezone",
        "date",
        "processors",
        "next",
        "last tick",
        "outcome",
        "its runs now",
    ]);
    for view in &views {
        output.add_row(vec![
            view.name.clone(),
            view.cron.clone(),
            view.timezone.clone(),
            match view.days_before {
                0 => "today".to_string(),
                1 => "yesterday".to_string(),
                n => format!("-{n}"),
            },
            render::joined(&view.processors, "all"),
            match (view.next_fire, &view.fires_nothing) {
                (Some(next), Some(why)) => format!("{}, fires nothing: {why}", next.to_rfc3339()),
                (None, Some(why)) => format!("-, fires nothing: {why}"),
                (next, None) => next.map_or("-".into(), |t| t.to_rfc3339()),
            },
            view.last_tick.as_ref().map_or("-".into(), |t| {
                format!("{} ({})", t.tick_at.to_rfc3339(), t.data_date)
            }),
            view.last_tick
                .as_ref()
                .map_or(String::new(), |t| t.outcome.clone()),
            match view.last_runs.is_empty() {
                true => "-".to_string(),
                false => (view.last_runs.iter())
                    .map(|(status, n)| format!("{n} {status}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        ]);
    }
    super::render::print(&output);
    if views.is_empty() {
        println!(
            "no [[schedule]] in {}",
            options.data_dir.config_file().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses (exit 2) a schedule naming a processor this host does not
/// know: it would fire no run at any tick. One left out here is known, and
/// so is one undeployed (the registry has its history): refusing a server
/// over it would take the host down with the undeploy. Its ticks fire
/// nothing, each recorded with an alert, until it is deployed again or
/// taken out of the schedule; an error log says so. Returns, by schedule
/// name, why those schedules' ticks fire nothing.
pub fn refuse_unknown_processors(
    options: &HostOptions,
    schedules: &[Schedule],
    pipeline: &Pipeline,
    registry: Option<&Registry>,
    left_out: &[LeftOut],
) -> Result<std::collections::HashMap<String, String>> {
    let mut fires_nothing = std::collections::HashMap::new();
    for schedule in schedules {
        let mut held = Vec::new();
        let mut known = Vec::new();
        for name in &schedule.processors {
            let left = left_out.iter().find(|out| &out.processor == name);
            let undeployed = left.is_none()
                && pipeline.plugin(name).is_none()
                && match registry {
                    Some(registry) => !registry.history(name)?.is_empty(),
                    None => false,
                };
            if let Some(out) = left.filter(|out| out.is_gone()) {
                held.push(format!("{name} is left out on this host: {}", out.reason));
                tracing::error!(
                    schedule = %schedule.name,
                    processor = %name,
                    "the schedule names a processor left out on this host ({}): its ticks \
                     fire nothing (each raises schedule_not_fired) until it loads",
                    out.reason
                );
            }
            if undeployed {
                held.push(format!("{name} is no longer deployed"));
                tracing::error!(
                    schedule = %schedule.name,
                    processor = %name,
                    "the schedule names a processor no longer deployed: its ticks fire \
                     nothing (each raises schedule_not_fired) until it is deployed again \
                     or taken out of the schedule"
                );
            }
            if left.is_none() && !undeployed {
                known.push(name.clone());
            }
        }
        if let Err(error) = pipeline.select(&known) {
            usage!(
                "{}: [[schedule]] `{}`: processors: {error}",
                options.data_dir.config_file().display(),
                schedule.name
            );
        }
        if !held.is_empty() {
            fires_nothing.insert(schedule.name.clone(), held.join("; "));
        }
    }
    Ok(fires_nothing)
}
