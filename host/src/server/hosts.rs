//! The cluster a server belongs to: `GET /hosts` (every host sharing the
//! run ledger, [`crate::cluster::view`]), and the heartbeat by which this
//! server announces itself in the ledger's host directory while it serves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;

use super::errors::ApiError;
use super::extract::NoParams;
use super::state::{AppState, ServedHost};
use crate::cluster::{self, ClusterError, HostView};
use crate::store::hosts::Heartbeat;

/// `GET /hosts`.
pub async fn list_hosts(
    State(state): State<AppState>,
    _: NoParams,
) -> Result<Json<Vec<HostView>>, ApiError> {
    state
        .blocking(|host| {
            cluster::view(host.store.as_ref(), &host.registry, chrono::Utc::now())
                .map(Json)
                .map_err(|error| match error {
                    ClusterError::NoDirectory => ApiError::not_found("hosts", error.to_string()),
                    other => ApiError::internal(other),
                })
        })
        .await
}

/// Announces this server, serving at `address`, in the ledger's host
/// directory every heartbeat until the task is dropped; does nothing when
/// the ledger keeps no directory.
pub async fn announce(host: Arc<ServedHost>, address: String) {
    if host.store.host_directory().is_none() {
        return;
    }
    let leases = host.executor.leases().config();
    let mut ticks = tokio::time::interval(leases.heartbeat);
    let mut first = true;
    loop {
        ticks.tick().await;
        let served = host.clone();
        let address = address.clone();
        let beat = tokio::task::spawn_blocking(move || {
            // The processors served now, so that a backfill's progress can
            // tell which of its tasks no live host serves; none once the
            // server drains, for it takes no task then.
            // With what each depends on, so that an undeploy elsewhere
            // can tell the dependants of this host's plugin folder.
            let pipeline = match served.draining.load(Ordering::SeqCst) {
                true => Ok(None),
                false => served.pipeline().map(Some),
            };
            let (processors, upstream) = match &pipeline {
                Ok(Some(pipeline)) => (
                    Some(pipeline.order().to_vec()),
                    pipeline
                        .plugins()
                        .filter(|p| !p.spec.upstream.is_empty())
                        .map(|p| (p.spec.name.clone(), p.spec.upstream.clone()))
                        .collect(),
                ),
                Ok(None) => (Some(Vec::new()), BTreeMap::new()),
                Err(_) => (None, BTreeMap::new()),
            };
            let directory = served.store.host_directory().expect("checked above");
            let beat = directory.heartbeat(&Heartbeat {
                host_id: served.executor.host_id(),
                address: &address,
                lease: leases.lease,
                processors: processors.as_deref(),
                upstream: &upstream,
                first,
            });
            (pipeline.err(), beat)
        })
        .await;
        // Until its start is recorded, each beat records it.
        if let Ok((_, Ok(()))) = &beat {
            first = false;
        }
        if let Ok((reload_failed, beat)) = beat {
            if let Err(error) = beat {
                tracing::warn!(%error, "cannot renew this host's heartbeat in the host directory");
            }
            if let Some(error) = reload_failed {
                tracing::warn!(%error, "cannot load the registry's versions for the heartbeat");
            }
        }
    }
}

/// Records in the ledger's host directory that this server, draining,
/// serves no processor: a backfill's tasks it would have taken are told
/// unserved at once.
pub fn draining(host: &ServedHost) {
    if let Some(directory) = host.store.host_directory()
        && let Err(error) = directory.serves(host.executor.host_id(), &[])
    {
        tracing::warn!(%error, "cannot record in the host directory that this host drains");
    }
}

/// Records in the ledger's host directory that this server stopped.
pub fn stopped(host: &ServedHost) {
    if let Some(directory) = host.store.host_directory()
        && let Err(error) = directory.stopped(host.executor.host_id())
    {
        tracing::warn!(%error, "cannot record this host's stop in the host directory");
    }
}
