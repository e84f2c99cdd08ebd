//! `GET /alerts` (alerts with every channel's delivery state) and the
//! background deliverer `slate serve` runs: every second it posts what is
//! due, every minute it sweeps for dates without rows past their
//! deadline, and every `check_interval` it probes each channel (the canary).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::errors::ApiError;
use super::extract::{Params, flag_param, only_params};
use super::state::{AppState, ServedHost};
use crate::alerts::Deliverer;
use crate::alerts::record::{AlertRecord, ChannelState};
use crate::alerts::sweep::{first_active_dates, sweep};

/// How often the deliverer looks for due messages.
pub const DELIVERY_TICK: Duration = Duration::from_secs(1);

/// How often the server sweeps for scheduled dates without rows.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The most alerts one answer lists, unless `?limit=` says otherwise.
const LIMIT: usize = 500;

/// The most `?limit=` may ask for.
const MAX_LIMIT: usize = 100_000;

/// What `GET /alerts` answers.
#[derive(Debug, Serialize)]
pub struct AlertsView {
    /// Alerts, newest first.
    pub alerts: Vec<AlertRecord>,
    /// Whether older alerts were left out past the limit.
    pub truncated: bool,
    /// The configured channels' delivery state.
    pub channels: Vec<ChannelState>,
}

/// `GET /alerts[?open=1][&limit=N]`: the newest alerts, saying whether
/// older ones were left out.
pub async fn list_alerts(
    State(state): State<AppState>,
    Params(query): Params,
) -> Result<Json<AlertsView>, ApiError> {
    only_params(&query, &["open", "limit"])?;
    let open_only = flag_param(&query, "open")?;
    let limit = match query.get("limit") {
        None => LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_field(
                    "limit",
                    format!("invalid limit `{text}`: expected 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let configured = state.config.alert_channel_names();
    let view = state
        .blocking(move |host| {
            let Some(outbox) = host.store.alert_outbox() else {
                return Ok(AlertsView {
                    alerts: Vec::new(),
                    truncated: false,
                    channels: Vec::new(),
                });
            };
            let known = outbox.channel_states()?;
            let channels = configured
                .iter()
                .map(|name| {
                    known
                        .iter()
                        .find(|s| &s.channel == name)
                        .cloned()
                        .unwrap_or_else(|| ChannelState::new(name))
                })
                .collect();
            let mut alerts = outbox.alerts(open_only, limit + 1)?;
            let truncated = alerts.len() > limit;
            alerts.truncate(limit);
            Ok::<_, crate::store::StoreError>(AlertsView {
                alerts,
                truncated,
                channels,
            })
        })
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(view))
}

/// Delivers due alerts (each channel on its own, looking every
/// [`DELIVERY_TICK`]; see [`Deliverer::deliver_continuously`]), sweeps for
/// dates without rows every [`SWEEP_INTERVAL`] and probes every channel
/// every `check_interval`, until [`Deliverer::stop`] (once what is in
/// flight has ended) or the task is dropped. Failures are logged
/// (without any URL) and retried later. A channel that hangs, in a post or
/// a probe, holds up neither the other channels nor the sweep.
pub async fn run_deliverer(deliverer: Arc<Deliverer>, host: Arc<ServedHost>) {
    tokio::join!(
        deliverer.deliver_continuously(DELIVERY_TICK),
        sweep_and_check(&deliverer, host)
    );
}

/// The sweep every [`SWEEP_INTERVAL`] and the channel probes every
/// `check_interval` of [`run_deliverer`], each on its own.
async fn sweep_and_check(deliverer: &Deliverer, host: Arc<ServedHost>) {
    let check_interval = deliverer.config().check_interval;
    let deadline = deliverer.config().no_rows_deadline;
    let sweeping = async {
        loop {
            let host = host.clone();
            let swept = tokio::task::spawn_blocking(move || {
                let pipeline = host.pipeline().map_err(|e| e.to_string())?;
                let first_active =
                    first_active_dates(&host.registry, &pipeline).map_err(|e| e.to_string())?;
                sweep(
                    host.store.as_ref(),
                    &pipeline,
                    &first_active,
                    deadline,
                    chrono::Utc::now(),
                )
                .map_err(|e| e.to_string())
            })
            .await;
            if let Ok(Err(error)) = swept {
                tracing::warn!(%error, "the no-rows sweep failed");
            }
            tokio::select! {
                () = tokio::time::sleep(SWEEP_INTERVAL) => {}
                () = deliverer.until_stopped() => break,
            }
        }
    };
    tokio::join!(sweeping, deliverer.check_continuously(check_interval));
}
