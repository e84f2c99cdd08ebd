//! The bounded worker pool runs execute on. Runs are blocking (wasmtime
//! calls and SQLite writes), so each job runs on a blocking thread, never
//! on the threads that serve requests; at most `size` of them execute at
//! once, the rest wait for a slot. The pool counts its jobs, queued or
//! executing, so that a shutdown can wait for them to drain.
//!
//! Backfills take at most all slots but one ([`WorkerPool::backfill_room`]),
//! and wait for their turn among themselves, not in the pool's queue: a
//! run asked for over HTTP or by a schedule never waits for a backfill of
//! a season to end. Backfills start in the order they were queued.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::task::JoinHandle;

/// A fixed number of slots for blocking jobs.
#[derive(Clone)]
pub struct WorkerPool {
    slots: Arc<Semaphore>,
    /// The slots backfills may hold at once: all but one.
    backfill_slots: Arc<Semaphore>,
    /// What the backfill queued last says once it holds its backfill
    /// slots. The next one asks for them only then: the semaphore serves
    /// waiters in the order they first asked, and tasks spawned one after
    /// another may first run in any order.
    last_in_line: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
    size: usize,
    jobs: Arc<AtomicUsize>,
    drained: Arc<Notify>,
}

/// How many of `size` slots backfills may hold at once.
fn backfill_room(size: usize) -> usize {
    size.saturating_sub(1).max(1)
}

/// Counts a job until it is dropped.
struct JobCount {
    jobs: Arc<AtomicUsize>,
    drained: Arc<Notify>,
}

impl Drop for JobCount {
    fn drop(&mut self) {
        if self.jobs.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.drained.notify_waiters();
        }
    }
}

impl WorkerPool {
    /// A pool of `size` slots (at least one).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        WorkerPool {
            slots: Arc::new(Semaphore::new(size)),
            backfill_slots: Arc::new(Semaphore::new(backfill_room(size))),
            last_in_line: Arc::new(Mutex::new(None)),
            size,
            jobs: Arc::new(AtomicUsize::new(0)),
            drained: Arc::new(Notify::new()),
        }
    }

    /// How many slots the pool has.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many slots backfills may hold at once: all but one, which
    /// stays free for runs asked for one by one (a pool of one slot has
    /// none to keep).
    pub fn backfill_room(&self) -> usize {
        backfill_room(self.size)
    }

    /// Queues a backfill's `job`, which runs `weight` runs at once (at most
    /// [`WorkerPool::backfill_room`]), to run once as many slots are free.
    /// It waits behind the backfills queued before it, not in the pool's
    /// queue. Must be called from within the tokio runtime.
    pub fn spawn_backfill<T: Send + 'static>(
        &self,
        weight: usize,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let count = self.count_job();
        let (backfill_slots, slots) = (self.backfill_slots.clone(), self.slots.clone());
        let weight = weight.clamp(1, self.backfill_room()) as u32;
        let (holds_its_turn, turn_held) = oneshot::channel();
        let ahead = self
            .last_in_line
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(turn_held);
        tokio::spawn(async move {
            let _count = count;
            if let Some(ahead) = ahead {
                // An error: the one ahead was dropped before its turn.
                let _ = ahead.await;
            }
            let _turn = backfill_slots
                .acquire_many_owned(weight)
                .await
                .expect("the pool's semaphore is never closed");
            let _ = holds_its_turn.send(());
            let _slots = slots
                .acquire_many_owned(weight)
                .await
                .expect("the pool's semaphore is never closed");
            tokio::task::spawn_blocking(job)
                .await
                .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
        })
    }

    /// Counts a job from now until the guard is dropped.
    fn count_job(&self) -> JobCount {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        JobCount {
            jobs: self.jobs.clone(),
            drained: self.drained.clone(),
        }
    }

    /// Jobs queued or executing.
    pub fn jobs(&self) -> usize {
        self.jobs.load(Ordering::SeqCst)
    }

    /// Queues `job` to run on a blocking thread once a slot is free. Must
    /// be called from within the tokio runtime.
    pub fn spawn<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let count = self.count_job();
        let slots = self.slots.clone();
        tokio::spawn(async move {
            let _count = count;
            let _slot = slots
                .acquire_owned()
                .await
                .expect("the pool's semaphore is never closed");
            tokio::task::spawn_blocking(job)
                .await
                .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
        })
    }

    /// Waits until no job is queued or executing, or `timeout` passes;
    /// true when the pool drained.
    pub async fn wait_drained(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let drained = self.drained.notified();
            if self.jobs() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() {
                return self.jobs() == 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A backfill that takes every slot it may, and a second one queued
    /// behind it, leave a slot to a run asked for one by one: before, a
    /// backfill could take the whole pool, and a request waited for the
    /// backfill to end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backfills_leave_one_slot_to_single_runs() {
        let pool = WorkerPool::new(2);
        assert_eq!(pool.backfill_room(), 1);
        let (release, held) = mpsc::channel::<()>();
        let (started, first_started) = mpsc::channel::<()>();
        let first = pool.spawn_backfill(2, move || {
            started.send(()).unwrap();
            held.recv().unwrap();
        });
        tokio::task::spawn_blocking(move || first_started.recv().unwrap())
            .await
            .unwrap();
        let second = pool.spawn_backfill(1, || "second backfill");
        let single = pool.spawn(|| "single run");
        let answered = tokio::time::timeout(Duration::from_secs(30), single).await;
        assert_eq!(answered.unwrap().unwrap(), "single run");
        assert!(!second.is_finished(), "the second backfill waits its turn");
        release.send(()).unwrap();
        first.await.unwrap();
        assert_eq!(second.await.unwrap(), "second backfill");
        assert_eq!(WorkerPool::new(1).backfill_room(), 1);
    }

    /// Backfills queued behind one that holds the pool start in the order
    /// they were queued. Before, each asked for its slots when its task
    /// first ran, and tasks spawned in a row may first run in any order: a
    /// server's second `missing` backfill of some dates could start before
    /// the first, which then found them filled.
    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn backfills_start_in_the_order_they_were_queued() {
        let pool = WorkerPool::new(2);
        let (release, held) = mpsc::channel::<()>();
        let holding = pool.spawn_backfill(1, move || held.recv().unwrap());
        let started = Arc::new(Mutex::new(Vec::new()));
        let queued: Vec<_> = (0..128)
            .map(|n| {
                let started = started.clone();
                pool.spawn_backfill(1, move || started.lock().unwrap().push(n))
            })
            .collect();
        // Time for every queued task to run until it waits.
        tokio::time::sleep(Duration::from_millis(200)).await;
        release.send(()).unwrap();
        holding.await.unwrap();
        for backfill in queued {
            backfill.await.unwrap();
        }
        assert_eq!(*started.lock().unwrap(), (0..128).collect::<Vec<_>>());
    }
}
