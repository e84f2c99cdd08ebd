//! The hosts a shared run ledger knows: each `slate serve` announces
//! itself when it starts, renews its heartbeat while it serves, and says
//! when it stops, so that `slate hosts` and `GET /hosts` can show the
//! cluster: who is live, what each runs, which versions each compiled.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;

/// A host as the directory records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRecord {
    /// The host's id (`hostname[boot B]:pid`, see [`crate::liveness::this_host_id`]), as its runs record it.
    pub host_id: String,
    /// Where it serves HTTP.
    pub address: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// How long a heartbeat holds: past `heartbeat_at` plus this, a host
    /// that did not stop is presumed dead.
    pub lease_secs: f64,
    /// When it stopped, if it said so.
    pub stopped_at: Option<DateTime<Utc>>,
    /// The processors it serves, as of its last heartbeat; empty once it
    /// drains to stop, so that no task waits for it; `None` for a host
    /// that did not say (one started before hosts said).
    pub processors: Option<Vec<String>>,
    /// The upstream processors of each it serves that has any, as of its
    /// last heartbeat: so that an undeploy can tell the processors of
    /// another host's plugin folder that depend on the one it ends.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub upstream: BTreeMap<String, Vec<String>>,
}

impl HostRecord {
    /// Whether the host is serving at `now`: not stopped, and its last
    /// heartbeat still holds.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        let lease = chrono::Duration::from_std(Duration::from_secs_f64(self.lease_secs))
            .unwrap_or(chrono::Duration::MAX);
        self.stopped_at.is_none() && self.heartbeat_at + lease >= now
    }

    /// The processors it serves that depend on `name`.
    pub fn dependants_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.processors
            .iter()
            .flatten()
            .filter(move |served| {
                *served != name
                    && self
                        .upstream
                        .get(served.as_str())
                        .is_some_and(|upstream| upstream.iter().any(|u| u == name))
            })
            .map(String::as_str)
    }
}

/// One heartbeat of a host, as its directory records it.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat<'a> {
    /// The host's id.
    pub host_id: &'a str,
    /// Where it serves HTTP.
    pub address: &'a str,
    /// How long the beat holds.
    pub lease: Duration,
    /// The processors it serves now; `None`: those it last said, when it
    /// cannot tell.
    pub processors: Option<&'a [String]>,
    /// The upstream processors of each it serves that has any; read with
    /// `processors`, and kept as last said when that is `None`.
    pub upstream: &'a BTreeMap<String, Vec<String>>,
    /// Its first beat since it started: a new start, with no stop, even
    /// for an id an earlier process had (a container restarted keeps its
    /// hostname and pid 1).
    pub first: bool,
}

/// The directory of hosts sharing a run ledger.
pub trait HostDirectory: Send + Sync {
    /// Records `beat`: its host is alive now, with a heartbeat that holds
    /// for its lease; a first beat records the host's start.
    fn heartbeat(&self, beat: &Heartbeat<'_>) -> Result<(), StoreError>;

    /// Records that `host_id` serves `processors` now (none, once it
    /// drains), between heartbeats.
    fn serves(&self, host_id: &str, processors: &[String]) -> Result<(), StoreError>;

    /// Records that `host_id` stopped.
    fn stopped(&self, host_id: &str) -> Result<(), StoreError>;

    /// Every host seen since `since`, newest heartbeat first.
    fn hosts(&self, since: DateTime<Utc>) -> Result<Vec<HostRecord>, StoreError>;
}
