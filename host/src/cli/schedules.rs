//! `slate schedules`: the `[[schedule]]`s of `slate.toml`, each with its
//! next tick and what its last one came to.

use std::process::ExitCode;

use anyhow::Result;

use super::{HostOptions, render};

/// `slate schedules`: the schedules with their next and last ticks.
pub fn list(options: &HostOptions, json: bool) -> Result<ExitCode> {
    let schedules = slate::schedule::load(&options.data_dir.config_file())?;
    // Listing creates nothing: without a store yet, no tick has fired.
    let store = super::plugins::existing_store(options)?;
    let store = store
        .as_ref()
        .map(|store| store.as_ref() as &dyn slate::store::Store);
    let views = slate::server::schedules::views(store, &schedules, chrono::Utc::now())?;
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
            view.next_fire.map_or("-".into(), |t| t.to_rfc3339()),
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
    println!("{output}");
    if views.is_empty() {
        println!(
            "no [[schedule]] in {}",
            options.data_dir.config_file().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
