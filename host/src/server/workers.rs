//! The bounded worker pool runs execute on. Runs are blocking (wasmtime
//! calls and SQLite writes), so each job runs on a blocking thread, never
//! on the threads that serve requests; at most `size` of them execute at
//! once, the rest wait for a slot. The pool counts its jobs, queued or
//! executing, so that a shutdown can wait for them to drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

/// A fixed number of slots for blocking jobs.
#[derive(Clone)]
pub struct WorkerPool {
    slots: Arc<Semaphore>,
    size: usize,
    jobs: Arc<AtomicUsize>,
    drained: Arc<Notify>,
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
            size,
            jobs: Arc::new(AtomicUsize::new(0)),
            drained: Arc::new(Notify::new()),
        }
    }

    /// How many slots the pool has.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Jobs queued or executing.
    pub fn jobs(&self) -> usize {
        self.jobs.load(Ordering::SeqCst)
    }

    /// Queues `job` to run on a blocking thread once `weight` slots are
    /// free (a backfill takes one per parallel run). Must be called from
    /// within the tokio runtime.
    pub fn spawn<T: Send + 'static>(
        &self,
        weight: usize,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        let count = JobCount {
            jobs: self.jobs.clone(),
            drained: self.drained.clone(),
        };
        let slots = self.slots.clone();
        let weight = weight.clamp(1, self.size) as u32;
        tokio::spawn(async move {
            let _count = count;
            let _slots = slots
                .acquire_many_owned(weight)
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
