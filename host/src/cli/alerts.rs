//! `slate alerts`: alerts with their delivery state, a test message, the
//! canary, resolving by hand and delivering now; and the delivery every
//! command that records events runs before it exits.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use slate::alerts::record::{
    AlertState, AttemptOutcome, ChannelHealth, ChannelState, DeliveryAttempt, RESOLVED_BY_HAND,
};
use slate::alerts::sweep::{first_active_dates, sweep};
use slate::alerts::{AlertsConfig, ChannelOutcome, Deliverer, EventKind};
use slate::store::Store;
use slate::store::alerts::{AlertOutbox, EVERY_ALERT};

use super::render::table;
use super::{Host, HostOptions, usage};

/// How long a command waits, before it exits, for a channel's rate limit
/// or backoff so that its alerts still go out.
pub(super) const AFTER_COMMAND_WAIT: Duration = Duration::from_secs(20);

/// What `slate alerts` does.
#[derive(clap::Subcommand)]
pub enum AlertsCommand {
    /// Sends a real, visible test message to one channel and prints the
    /// response.
    Test {
        /// The channel's name in slate.toml.
        channel: String,
    },
    /// Probes every channel without posting a visible message where the
    /// service allows it (Slack: an empty payload), and records which are dead.
    Check,
    /// Resolves an open alert by hand.
    Resolve {
        /// The alert's id.
        id: i64,
    },
    /// Delivers every due alert now.
    Deliver,
}

fn outbox(store: &dyn Store) -> Result<&dyn AlertOutbox> {
    store.alert_outbox().context(
        "this store keeps no alert outbox: alerts need run state in the embedded store or in \
             PostgreSQL (--state)",
    )
}

fn async_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// How `slate alerts` without a subcommand lists.
pub struct Listing {
    /// Only open alerts.
    pub open: bool,
    /// The most alerts to list.
    pub limit: u32,
    /// As JSON.
    pub json: bool,
}

/// Runs `slate alerts [COMMAND]`.
pub fn alerts(
    options: &HostOptions,
    command: Option<AlertsCommand>,
    listing: Listing,
) -> Result<ExitCode> {
    let store = super::open_store(options, false)?;
    let file = options.data_dir.config_file();
    let Some(command) = command else {
        // Listing names the channels; it needs none of their secrets.
        let config = AlertsConfig::load_without_secrets(&file)?;
        return list(store.as_ref(), &config, &listing);
    };
    let config = AlertsConfig::load(&file)?;
    match command {
        AlertsCommand::Resolve { id } => {
            let outbox = outbox(store.as_ref())?;
            let acknowledged = outbox
                .alerts(true, EVERY_ALERT)?
                .into_iter()
                .find(|alert| alert.alert_id == id)
                .filter(|alert| alert.raised.event == EventKind::NoRowsByDeadline);
            if outbox.resolve_alert(id, RESOLVED_BY_HAND)? {
                println!("alert {id} resolved");
                if let Some(alert) = acknowledged {
                    println!(
                        "{} on {}: acknowledged, the no-rows sweep raises it no more",
                        alert.raised.subject,
                        alert.raised.data_date.map_or("-".into(), |d| d.to_string())
                    );
                }
                deliver_after_command(options, &store)?;
                Ok(ExitCode::SUCCESS)
            } else {
                let resolved = (outbox.alerts(false, EVERY_ALERT)?.into_iter())
                    .find(|alert| alert.alert_id == id);
                match resolved {
                    Some(alert) if alert.state == AlertState::Notice => usage!(
                        "alert {id} is a notice ({}): a notice is never open, so there is \
                         nothing to resolve",
                        alert.raised.event
                    ),
                    Some(alert) => usage!(
                        "alert {id} is not open: it was resolved at {} by {} \
                         (see `slate alerts --open`)",
                        alert.resolved_at.map_or("-".into(), |at| at.to_rfc3339()),
                        alert.resolved_by.as_deref().unwrap_or("-")
                    ),
                    None => usage!("there is no alert {id} (see `slate alerts --open`)"),
                }
            }
        }
        AlertsCommand::Test { channel } => {
            if config.channel(&channel).is_none() {
                usage!("no alert channel named `{channel}` in [alerts] of slate.toml");
            }
            let deliverer = Deliverer::new(store, config, &slate::liveness::this_host_id())?;
            let attempt = async_runtime()?.block_on(deliverer.send_test(&channel))?;
            print_attempt(&attempt);
            Ok(exit_for(&[attempt]))
        }
        AlertsCommand::Check => {
            if config.channels.is_empty() {
                usage!("no alert channels in [alerts] of slate.toml");
            }
            let names: Vec<String> = config.channels.iter().map(|c| c.name.clone()).collect();
            let deliverer =
                Deliverer::new(store.clone(), config, &slate::liveness::this_host_id())?;
            let results = async_runtime()?.block_on(deliverer.check_channels())?;
            let mut attempts = Vec::new();
            let mut held = 0;
            for (channel, attempt) in results {
                match attempt {
                    Some(attempt) => {
                        print_attempt(&attempt);
                        attempts.push(attempt);
                    }
                    None => {
                        held += 1;
                        println!(
                            "{channel} canary: not checked: another deliverer is posting to \
                             it now (see `slate alerts`); try again"
                        );
                    }
                }
            }
            // A channel that answered, with alerts queued, has them tried
            // now: only their delivery shows it works (a receiver may take
            // canaries and refuse alerts).
            deliver_after_command(options, &store)?;
            let down: Vec<_> = (outbox(store.as_ref())?.channel_states()?.into_iter())
                .filter(|state| names.contains(&state.channel))
                .filter(|state| state.health != ChannelHealth::Up)
                .collect();
            for state in &down {
                println!(
                    "{} is {}: {}",
                    state.channel,
                    state.health,
                    state.reason.as_deref().unwrap_or("no answer")
                );
            }
            // A channel not checked is no channel known to work.
            match (held, down.is_empty()) {
                (0, true) => Ok(exit_for(&attempts)),
                _ => Ok(ExitCode::FAILURE),
            }
        }
        // Exit 1 when an alert stays queued: a delivery command that
        // delivered nothing has failed.
        AlertsCommand::Deliver => match deliver_after_command(options, &store)? {
            true => Ok(ExitCode::SUCCESS),
            false => Ok(ExitCode::FAILURE),
        },
    }
}

fn exit_for(attempts: &[DeliveryAttempt]) -> ExitCode {
    if attempts
        .iter()
        .all(|a| a.outcome == AttemptOutcome::Delivered)
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_attempt(attempt: &DeliveryAttempt) {
    let status = attempt
        .status_code
        .map_or("no response".to_string(), |c| c.to_string());
    println!(
        "{} {}: {} ({status}, {} ms) {}",
        attempt.channel,
        attempt.purpose,
        attempt.outcome.as_str(),
        attempt.latency_ms,
        attempt.response_excerpt.lines().next().unwrap_or("")
    );
}

/// The configured channels with their recorded state (a channel never
/// tried is up, with nothing delivered).
fn channel_states(outbox: &dyn AlertOutbox, config: &AlertsConfig) -> Result<Vec<ChannelState>> {
    let known = outbox.channel_states()?;
    Ok(config
        .channels
        .iter()
        .map(|channel| {
            known
                .iter()
                .find(|s| s.channel == channel.name)
                .cloned()
                .unwrap_or_else(|| ChannelState::new(&channel.name))
        })
        .collect())
}

/// What a channel whose URL or headers come from variables unset here
/// cannot tell: the server that delivers may have them, this shell not.
fn unset_env_note(channel: &slate::alerts::Channel) -> Option<String> {
    match channel.unset_env.as_slice() {
        [] => None,
        variables => Some(format!(
            "{} not set here: a process without it cannot deliver to it",
            variables.join(", ")
        )),
    }
}

/// A summary cut for a table cell; `--json` has it whole.
fn shortened(summary: &str) -> String {
    const CELL: usize = 120;
    if summary.chars().count() > CELL {
        format!("{}…", summary.chars().take(CELL).collect::<String>())
    } else {
        summary.to_string()
    }
}

fn list(store: &dyn Store, config: &AlertsConfig, listing: &Listing) -> Result<ExitCode> {
    let outbox = outbox(store)?;
    let limit = listing.limit as usize;
    let mut alerts = outbox.alerts(listing.open, limit + 1)?;
    let truncated = alerts.len() > limit;
    alerts.truncate(limit);
    let channels = channel_states(outbox, config)?;
    if listing.json {
        let mut listed = serde_json::to_value(&channels)?;
        for (state, listed) in channels
            .iter()
            .zip(listed.as_array_mut().into_iter().flatten())
        {
            let note = config.channel(&state.channel).and_then(unset_env_note);
            if let (Some(note), Some(listed)) = (note, listed.as_object_mut()) {
                listed.insert("unset_env".into(), note.into());
            }
        }
        println!(
            "{}",
            super::render::json_text(&serde_json::json!({
                "alerts": alerts,
                "truncated": truncated,
                "channels": listed,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut output = table(&[
        "id", "state", "severity", "event", "subject", "date", "kind", "seen", "last", "summary",
    ]);
    for alert in &alerts {
        output.add_row(vec![
            alert.alert_id.to_string(),
            alert.state.as_str().to_string(),
            alert.raised.severity.to_string(),
            alert.raised.event.to_string(),
            alert.raised.subject.clone(),
            alert.raised.data_date.map_or("-".into(), |d| d.to_string()),
            alert.raised.kind.chars().take(12).collect(),
            alert.occurrences.to_string(),
            alert.last_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            shortened(&alert.raised.summary),
        ]);
    }
    super::render::print(&output);
    match truncated {
        true => println!(
            "the newest {} alerts; older ones were left out (--limit N lists more)",
            alerts.len()
        ),
        false => println!("{} alerts", alerts.len()),
    }
    if channels.is_empty() {
        println!("no alert channels configured ([alerts] in slate.toml)");
        return Ok(ExitCode::SUCCESS);
    }
    let mut output = table(&["channel", "kind", "health", "queued", "since", "last sent"]);
    for state in &channels {
        let channel = config
            .channel(&state.channel)
            .expect("a configured channel");
        let queued = slate::alerts::delivery::queued_for(outbox, channel, state)?;
        let mut health = match &state.reason {
            Some(reason) => format!("{} ({reason})", state.health.as_str()),
            None => state.health.as_str().to_string(),
        };
        if let Some(note) = unset_env_note(channel) {
            health = format!("{health}; {note}");
        }
        output.add_row(vec![
            state.channel.clone(),
            format!("{:?}", channel.kind).to_lowercase(),
            health,
            queued.to_string(),
            state.since.map_or("-".into(), |t| t.to_rfc3339()),
            state.last_sent_at.map_or("-".into(), |t| t.to_rfc3339()),
        ]);
    }
    super::render::print(&output);
    Ok(ExitCode::SUCCESS)
}

/// Sweeps `pipeline`'s tables for dates without rows past their deadline,
/// then delivers what the command recorded.
pub fn sweep_and_deliver(options: &HostOptions, host: &Host) -> Result<()> {
    host.judge_phases_of_runs_reaped_meanwhile();
    let config = AlertsConfig::load(&options.data_dir.config_file())?;
    sweep(
        host.store.as_ref(),
        &host.pipeline,
        &first_active_dates(&host.registry, &host.pipeline)?,
        config.no_rows_deadline,
        Utc::now(),
    )?;
    deliver_after_command(options, &host.store).map(drop)
}

/// Delivers the alerts a command recorded, before it exits: waits up to
/// [`AFTER_COMMAND_WAIT`] for a channel's rate limit or backoff, then says
/// on stderr what stays queued and why. Nothing is dropped: what is not
/// delivered now goes with the next command or `slate serve`. True when
/// nothing stays queued.
pub fn deliver_after_command(options: &HostOptions, store: &Arc<dyn Store>) -> Result<bool> {
    let config = AlertsConfig::load(&options.data_dir.config_file())?;
    if config.channels.is_empty() {
        return Ok(true);
    }
    let deliverer = Deliverer::new(store.clone(), config, &slate::liveness::this_host_id())?;
    let deadline = Utc::now() + chrono::Duration::from_std(AFTER_COMMAND_WAIT).unwrap_or_default();
    async_runtime()?.block_on(drain_and_report(&deliverer, deadline))
}

/// Delivers what `deliverer`'s channels have queued, waiting until
/// `deadline` at the latest for a rate limit or backoff (a deadline
/// already past makes one pass), then says on stderr what stays queued and
/// why: how a command ends, and how a server stops. True when nothing
/// stays queued.
pub async fn drain_and_report(deliverer: &Deliverer, deadline: DateTime<Utc>) -> Result<bool> {
    let drained = deliverer.drain_until(deadline).await?;
    let mut outcomes = Vec::new();
    for (channel, messages, outcome) in drained {
        if messages > 0 {
            say!("alerts: {messages} message(s) delivered to `{channel}`");
        }
        outcomes.push((channel, outcome));
    }
    // Drained only when the last pass found nothing left to send.
    let drained = outcomes
        .iter()
        .all(|(_, outcome)| matches!(outcome, ChannelOutcome::Idle));
    for (channel, outcome) in outcomes {
        match outcome {
            ChannelOutcome::Waiting {
                queued,
                until,
                dead,
            } => say!(
                "alerts: {queued} message(s) for `{channel}` stay queued until {}{}",
                until.to_rfc3339(),
                if dead { " (channel dead)" } else { "" }
            ),
            ChannelOutcome::Failed {
                queued,
                reason,
                dead,
            } => say!(
                "alerts: {queued} message(s) for `{channel}` stay queued: {reason}{}",
                if dead { " (channel dead)" } else { "" }
            ),
            ChannelOutcome::Busy => {
                say!("alerts: another process is delivering `{channel}`'s messages")
            }
            ChannelOutcome::Delivered { .. } => {
                say!("alerts: more messages for `{channel}` stay queued for the next delivery")
            }
            ChannelOutcome::Idle => {}
        }
    }
    Ok(drained)
}
