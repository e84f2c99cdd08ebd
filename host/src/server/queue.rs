//! A server's share of the cluster's backfills: when its store keeps a
//! work queue ([`crate::store::work_queue`]), every worker slot but one
//! takes ready tasks (one at a time, or a chunk of one processor's dates
//! where the store commits dates together) until the server drains; the
//! one left is for `POST /process-date` and schedules, as a one-host
//! backfill leaves it. Each task runs on the worker pool like any other
//! run, with the pipeline of the moment.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::state::ServedHost;
use crate::work_queue::{self, Worked};

/// How long a slot waits before asking again when no task was ready.
const IDLE: Duration = Duration::from_millis(250);

/// Takes and runs tasks with one loop per worker slot a backfill may take
/// ([`super::workers::WorkerPool::backfill_room`]: all but one) until the
/// server drains; returns at once when the store keeps no work queue.
pub async fn follow(host: Arc<ServedHost>) {
    if host.store.work_queue().is_none() {
        return;
    }
    // What an earlier process under this id held is let go first: this
    // host renews by its id, and would keep it taken for ever.
    let released = {
        let host = host.clone();
        tokio::task::spawn_blocking(move || {
            let queue = host.store.work_queue().expect("checked above");
            work_queue::release_held_before(queue, host.executor.host_id())
        })
        .await
    };
    if let Ok(Err(error)) = released {
        tracing::warn!(%error, "cannot let go of the tasks an earlier process under this id held");
    }
    let mut slots = tokio::task::JoinSet::new();
    for _ in 0..host.workers.backfill_room() {
        slots.spawn(take_tasks(host.clone()));
    }
    while slots.join_next().await.is_some() {}
}

async fn take_tasks(host: Arc<ServedHost>) {
    // The failures in a row, and the last one's message: a failure is
    // logged when it first happens or says something new, not at every
    // try (with the database gone, four slots had logged four lines a
    // second).
    let mut failing: Option<(u32, String)> = None;
    while !host.draining.load(Ordering::SeqCst) {
        let served = host.clone();
        let worked = host
            .workers
            .spawn(move || {
                // The slot may have waited for a worker past the start of
                // a shutdown: a draining server takes no task.
                if served.draining.load(Ordering::SeqCst) {
                    return Ok(Worked::Nothing);
                }
                let pipeline = served.pipeline().map_err(|e| e.to_string())?;
                let queue = served.store.work_queue().expect("checked in follow");
                work_queue::work_one(queue, &pipeline, &served.executor).map_err(|e| e.to_string())
            })
            .await;
        if let (Ok(Ok(_)), Some((failures, _))) = (&worked, &failing) {
            tracing::info!(failures, "the backfill queue answers again");
            failing = None;
        }
        match worked {
            Ok(Ok(Worked::Ended { .. })) => {}
            Ok(Ok(Worked::Nothing | Worked::Released)) => tokio::time::sleep(IDLE).await,
            Ok(Err(error)) => {
                let failures = failing.as_ref().map_or(0, |(n, _)| *n) + 1;
                if failing.as_ref().is_none_or(|(_, said)| *said != error) {
                    tracing::warn!(%error, "cannot work on the backfill queue");
                }
                failing = Some((failures, error));
                tokio::time::sleep(work_queue::backoff(failures)).await;
            }
            Err(error) => {
                tracing::error!(%error, "a backfill task's job failed");
                tokio::time::sleep(IDLE * 4).await;
            }
        }
    }
}
