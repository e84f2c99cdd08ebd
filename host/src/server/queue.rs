//! A server's share of the cluster's backfills: when its store keeps a
//! work queue ([`crate::store::work_queue`]), every worker slot takes ready
//! tasks (one at a time, or a chunk of one processor's dates where the
//! store commits dates together) until the server drains. Each task runs on the
//! worker pool like any other run, with the pipeline of the moment.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::state::ServedHost;
use crate::work_queue::{self, Worked};

/// How long a slot waits before asking again when no task was ready.
const IDLE: Duration = Duration::from_millis(250);

/// Takes and runs tasks with one loop per worker slot until the server
/// drains; returns at once when the store keeps no work queue.
pub async fn follow(host: Arc<ServedHost>) {
    if host.store.work_queue().is_none() {
        return;
    }
    let mut slots = tokio::task::JoinSet::new();
    for _ in 0..host.workers.size() {
        slots.spawn(take_tasks(host.clone()));
    }
    while slots.join_next().await.is_some() {}
}

async fn take_tasks(host: Arc<ServedHost>) {
    while !host.draining.load(Ordering::SeqCst) {
        let served = host.clone();
        let worked = host
            .workers
            .spawn(1, move || {
                let pipeline = served.pipeline().map_err(|e| e.to_string())?;
                let queue = served.store.work_queue().expect("checked in follow");
                work_queue::work_one(queue, &pipeline, &served.executor).map_err(|e| e.to_string())
            })
            .await;
        match worked {
            Ok(Ok(Worked::Ended { .. })) => {}
            Ok(Ok(Worked::Nothing | Worked::Released)) => tokio::time::sleep(IDLE).await,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot work on the backfill queue");
                tokio::time::sleep(IDLE * 4).await;
            }
            Err(error) => {
                tracing::error!(%error, "a backfill task's job failed");
                tokio::time::sleep(IDLE * 4).await;
            }
        }
    }
}
