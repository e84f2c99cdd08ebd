//! `GET /events`: run state changes as server-sent events, for the
//! dashboard's live grid.
//!
//! [`RunEvents`] observes the executor: every claimed run (`running`),
//! every ended one and every one the server reaps (its final status) is
//! broadcast as a `run` event whose data is a [`RunChange`]. Runs other
//! processes on the same store start and end (a `slate run`, a CLI
//! backfill, another server of a cluster) are read from the run ledger
//! while anyone follows the stream, each second on most stores
//! ([`follow_ledger`]), and broadcast the same way. A client that falls
//! behind the broadcast, or reconnects after a lost connection, gets a
//! `resync` event and should read the grid again: the stream carries
//! changes, the grid carries state.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::{Stream, StreamExt};

use super::errors::ApiError;
use super::extract::NoParams;
use super::state::{AppState, ServedHost};
use crate::executor::RunObserver;
use crate::runs::{ErrorKind, RunFilter, RunRecord, RunStatus};
use crate::store::StoreError;

/// How many changes the broadcast holds for a slow client before it lags.
const BUFFERED_CHANGES: usize = 1024;

/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How far before the last read each read of the ledger looks again, so
/// that a change committed after the instant it records (a commit that
/// took a while, another host's clock a little behind) is still found.
/// A change found twice is published once.
const LOOK_AGAIN: chrono::Duration = chrono::Duration::seconds(5);

/// At most this many changes are read at once.
const MOST_PER_READ: usize = 10_000;

/// One run's new state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunChange {
    /// The run.
    pub run_id: String,
    /// Its processor.
    pub processor: String,
    /// Its date.
    pub date: NaiveDate,
    /// Its status now.
    pub status: RunStatus,
    /// Why it failed or was blocked.
    pub error_kind: Option<ErrorKind>,
    /// Its attempt number.
    pub attempt: i64,
    /// Rows it wrote.
    pub rows_written: i64,
    /// Rows it wrote whose `data_quality_issues` is not empty.
    pub rows_with_quality_issues: i64,
}

impl From<&RunRecord> for RunChange {
    fn from(record: &RunRecord) -> Self {
        RunChange {
            run_id: record.run_id.clone(),
            processor: record.processor.clone(),
            date: record.data_date,
            status: record.status,
            error_kind: record.error_kind,
            attempt: record.attempt,
            rows_written: record.rows_written,
            rows_with_quality_issues: record.rows_with_quality_issues,
        }
    }
}

/// The broadcast of run changes: an executor observer, and the source of
/// every `/events` stream.
pub struct RunEvents {
    sender: broadcast::Sender<RunChange>,
    /// The changes of other hosts' runs published lately, by run and
    /// status, with when they happened: a change the ledger shows again
    /// (its reads overlap, and this host reaps other hosts' runs) is not
    /// published twice.
    published: Mutex<HashMap<(String, RunStatus), DateTime<Utc>>>,
    /// When the first of the clients following now subscribed: what
    /// changed before, they read in the grid, so the ledger is not read
    /// from before it.
    subscribed_at: Mutex<DateTime<Utc>>,
}

impl Default for RunEvents {
    fn default() -> Self {
        RunEvents {
            sender: broadcast::channel(BUFFERED_CHANGES).0,
            published: Mutex::default(),
            subscribed_at: Mutex::new(Utc::now()),
        }
    }
}

impl RunEvents {
    /// How many follow the changes now (open `GET /events` streams).
    pub fn followers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// A receiver of every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RunChange> {
        if self.sender.receiver_count() == 0 {
            *self.subscribed_at.lock().unwrap_or_else(|e| e.into_inner()) = Utc::now();
        }
        self.sender.subscribe()
    }

    fn publish(&self, record: &RunRecord) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(RunChange::from(record));
    }

    /// Publishes `record`'s change unless it was published already;
    /// remembers it either way.
    fn publish_once(&self, record: &RunRecord) {
        let first = self
            .published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((record.run_id.clone(), record.status), record.changed_at())
            .is_none();
        if first {
            self.publish(record);
        }
    }

    /// Publishes the changes the ledger of `store` holds from `since` on
    /// of runs that are not `own_host`'s (whose changes its executor
    /// reports), oldest first, each once; forgets the changes published
    /// before `since`.
    fn publish_ledger_changes(
        &self,
        store: &dyn crate::store::Store,
        own_host: &str,
        since: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut changed = store.runs(&RunFilter {
            changed_since: Some(since),
            limit: Some(MOST_PER_READ),
            skip_upstream_check: true,
            ..RunFilter::default()
        })?;
        changed.retain(|run| run.host_id != own_host);
        changed.sort_by(|a, b| (a.changed_at(), &a.run_id).cmp(&(b.changed_at(), &b.run_id)));
        for run in &changed {
            self.publish_once(run);
        }
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, changed_at| *changed_at >= since);
        Ok(())
    }
}

/// Publishes on `host`'s broadcast the runs other processes on its store
/// start and end, reading the ledger as often as the store says
/// ([`crate::store::RunLedger::changes_read_every`]) while anyone follows
/// `/events` (each read looks [`LOOK_AGAIN`] before the last); nothing is
/// read while nobody does. Runs until aborted.
pub async fn follow_ledger(host: Arc<ServedHost>) {
    let every = host.store.changes_read_every();
    let mut last_read = Utc::now();
    let mut failing = false;
    loop {
        tokio::time::sleep(every).await;
        let now = Utc::now();
        if host.events.sender.receiver_count() == 0 {
            last_read = now;
            host.events
                .published
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            continue;
        }
        let served = host.clone();
        // Never from before the clients subscribed: they read what changed
        // earlier in the grid (the look back had replayed the runs of the
        // seconds before a client connected).
        let subscribed_at = *host
            .events
            .subscribed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let since = (last_read - LOOK_AGAIN).max(subscribed_at);
        let read = tokio::task::spawn_blocking(move || {
            let own_host = served.executor.host_id();
            served
                .events
                .publish_ledger_changes(served.store.as_ref(), own_host, since)
        })
        .await;
        match read {
            Ok(Ok(())) => {
                last_read = now;
                failing = false;
            }
            // Said once, not every second; the next read covers the gap.
            Ok(Err(error)) if !failing => {
                failing = true;
                tracing::warn!(%error, "cannot read the run ledger for /events");
            }
            Ok(Err(_)) => {}
            Err(error) => tracing::error!(%error, "reading the run ledger for /events failed"),
        }
    }
}

impl RunObserver for RunEvents {
    fn run_started(&self, record: &RunRecord) {
        self.publish(record);
    }

    fn run_ended(&self, record: &RunRecord, _instantiation: Option<Duration>) {
        self.publish(record);
    }

    fn run_reaped(&self, record: &RunRecord) {
        // Often another host's run, which the ledger shows too.
        self.publish_once(record);
    }
}

/// The events of one stream: a `resync` first (so a reconnecting client
/// re-reads the grid), then a `run` per change, and another `resync`
/// whenever this client fell behind and changes were dropped.
pub fn event_stream(
    receiver: broadcast::Receiver<RunChange>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let first = tokio_stream::once(Ok(Event::default().event("resync").data("connected")));
    let changes = BroadcastStream::new(receiver).map(|change| {
        Ok(match change {
            Ok(change) => Event::default()
                .event("run")
                .id(change.run_id.clone())
                .json_data(&change)
                .unwrap_or_else(|_| Event::default().event("resync").data("unencodable")),
            Err(BroadcastStreamRecvError::Lagged(missed)) => Event::default()
                .event("resync")
                .data(format!("missed {missed} changes")),
        })
    });
    first.chain(changes)
}

/// `GET /events`. A stream holds its connection for as long as its client
/// likes, and the keep-alive comments outlast the idle timeout, so streams
/// may take at most half of `--max-connections`: past that a new one is a
/// 503, and the other half stays for requests, a token holder's included.
pub async fn events(
    State(state): State<AppState>,
    _: NoParams,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let most = (state.config.max_connections / 2).max(1);
    if state.host.events.followers() >= most {
        return Err(ApiError::with_status(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            None,
            format!("{most} event streams are open, the most this server keeps; retry shortly"),
        ));
    }
    Ok(Sse::new(event_stream(state.host.events.subscribe()))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
