//! `slate hosts`: the hosts sharing one PostgreSQL run state, with what
//! each runs and has compiled.

use std::process::ExitCode;

use anyhow::Result;

use super::{HostOptions, render, usage};

/// `slate hosts`: the cluster sharing `--state`.
pub fn list(options: &HostOptions, json: bool) -> Result<ExitCode> {
    if options.warehouse.state_url()?.is_none() {
        usage!("slate hosts shows the hosts sharing run state: pass --state postgres://...");
    }
    let store = super::open_store(options, false)?;
    let registry = super::plugins::registry(options)?;
    let views = slate::cluster::view(store.as_ref(), &registry, chrono::Utc::now())?;
    if json {
        return render::json(&views);
    }
    let mut output = render::table(&[
        "host",
        "address",
        "state",
        "last heartbeat",
        "running",
        "compiled",
        "serves",
    ]);
    for view in &views {
        let state = match (&view.host.stopped_at, view.live) {
            (Some(at), _) => format!("stopped {}", at.format("%H:%M:%S")),
            (None, true) => "live".to_string(),
            (None, false) => "gone (no heartbeat)".to_string(),
        };
        let running: Vec<String> = view
            .running
            .iter()
            .map(|run| format!("{} {}", run.processor, run.data_date))
            .collect();
        let compiled: Vec<&str> = view
            .compiled
            .iter()
            .map(|h| &h[..h.len().min(12)])
            .collect();
        output.add_row(vec![
            view.host.host_id.clone(),
            view.host.address.clone(),
            state,
            view.host
                .heartbeat_at
                .format("%Y-%m-%d %H:%M:%S%.3f")
                .to_string(),
            render::joined(&running, "-"),
            render::joined(&compiled, "-"),
            serves(&view.host),
        ]);
    }
    super::render::print(&output);
    Ok(ExitCode::SUCCESS)
}

/// How many processors `host` serves (`--json` lists them): none once it
/// stopped, and `-` when it did not say.
fn serves(host: &slate::store::hosts::HostRecord) -> String {
    match (&host.processors, host.stopped_at) {
        (_, Some(_)) => "none (stopped)".to_string(),
        (None, None) => "-".to_string(),
        (Some(processors), None) if processors.len() == 1 => "1 processor".to_string(),
        (Some(processors), None) => format!("{} processors", processors.len()),
    }
}
