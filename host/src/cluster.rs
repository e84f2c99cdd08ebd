//! The cluster as `slate hosts` and `GET /hosts` show it: every host the
//! shared run ledger has seen in the last day, whether it is live, the
//! runs it has running, and the plugin versions it has compiled.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::registry::{Registry, RegistryError};
use crate::runs::{RunFilter, RunStatus};
use crate::store::hosts::HostRecord;
use crate::store::{Store, StoreError};

/// Why the cluster view could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The store keeps no host directory: it serves one machine.
    #[error(
        "this store serves one machine and keeps no directory of hosts: \
         pass --state postgres://... to share run state between hosts"
    )]
    NoDirectory,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// A run a host has running.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunningRun {
    /// The run.
    pub run_id: String,
    /// Its processor.
    pub processor: String,
    /// Its date.
    pub data_date: NaiveDate,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// One host of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostView {
    /// What the directory records.
    #[serde(flatten)]
    pub host: HostRecord,
    /// Whether it serves now.
    pub live: bool,
    /// Its runs still running.
    pub running: Vec<RunningRun>,
    /// The hashes of the plugin versions it compiled.
    pub compiled: Vec<String>,
}

/// Every host seen in the day before `now`, newest heartbeat first.
pub fn view(
    store: &dyn Store,
    registry: &Registry,
    now: DateTime<Utc>,
) -> Result<Vec<HostView>, ClusterError> {
    let directory = store.host_directory().ok_or(ClusterError::NoDirectory)?;
    let hosts = directory.hosts(now - chrono::Duration::days(1))?;
    let running = store.runs(&RunFilter {
        status: Some(RunStatus::Running),
        ..RunFilter::default()
    })?;
    let compiled = registry.compiled()?;
    Ok(hosts
        .into_iter()
        .map(|host| HostView {
            live: host.is_live(now),
            running: running
                .iter()
                .filter(|run| run.host_id == host.host_id)
                .map(|run| RunningRun {
                    run_id: run.run_id.clone(),
                    processor: run.processor.clone(),
                    data_date: run.data_date,
                    started_at: run.started_at,
                })
                .collect(),
            compiled: compiled
                .iter()
                .filter(|c| c.host_id == host.host_id)
                .map(|c| c.hash.clone())
                .collect(),
            host,
        })
        .collect())
}
