//! `GET /events`: run state changes as server-sent events, for the
//! dashboard's live grid.
//!
//! [`RunEvents`] observes the executor: every claimed run (`running`),
//! every ended one and every one the server reaps (its final status) is
//! broadcast as a `run` event whose data is a [`RunChange`]. A client that falls behind the broadcast, or
//! reconnects after a lost connection, gets a `resync` event and should
//! read the grid again: the stream carries changes, the grid carries state.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::NaiveDate;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::{Stream, StreamExt};

use super::state::AppState;
use crate::executor::RunObserver;
use crate::runs::{ErrorKind, RunRecord, RunStatus};

/// How many changes the broadcast holds for a slow client before it lags.
const BUFFERED_CHANGES: usize = 1024;

/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

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
}

impl Default for RunEvents {
    fn default() -> Self {
        RunEvents {
            sender: broadcast::channel(BUFFERED_CHANGES).0,
        }
    }
}

impl RunEvents {
    /// A receiver of every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RunChange> {
        self.sender.subscribe()
    }

    fn publish(&self, record: &RunRecord) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(RunChange::from(record));
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
        self.publish(record);
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

/// `GET /events`.
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(event_stream(state.host.events.subscribe()))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
