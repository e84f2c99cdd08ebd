//! Ctrl-C (SIGINT) and SIGTERM for the commands that run processors in the
//! foreground (`slate run`, `slate backfill`, `slate demo`). The first
//! signal starts no further run and stops the runs in flight, which end
//! `failed`, kind `shutdown`, as a server's shutdown ends them: no record
//! is left `running` for a later command to reap as a dead host's. The
//! command then prints what it did and exits [`INTERRUPTED`]. A second
//! signal quits at once.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use slate::executor::Executor;

/// The exit code of a command a signal interrupted: 128 + SIGINT, as a
/// shell reports it.
pub const INTERRUPTED: u8 = 130;

/// Whether an interrupt came, watched from the moment it is made.
pub struct Interrupt {
    watched: Arc<Watched>,
}

/// What the signal thread and the command share.
#[derive(Default)]
struct Watched {
    stop: AtomicBool,
    /// The executor whose runs the interrupt stops, once the command's host
    /// is open. Its lock orders the two: either the signal finds it here,
    /// or [`Interrupt::stops`] finds the flag set.
    executor: Mutex<Option<Executor>>,
}

impl Watched {
    /// Stops the runs in flight of the executor, if there is one yet;
    /// returns how many.
    fn stop_runs(&self) -> usize {
        let executor = self.executor.lock().unwrap_or_else(|e| e.into_inner());
        executor
            .as_ref()
            .map_or(0, |executor| executor.leases().stop_all_for_shutdown())
    }
}

impl Interrupt {
    /// Watches for SIGINT and SIGTERM on a thread of its own. Made first
    /// thing, before the command opens its host, so that no signal falls
    /// to the default action, which kills: one that comes before the host
    /// is open is kept, and the command starts no run.
    pub fn watch() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let watched = Arc::new(Watched::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let (mut interrupt, mut terminate) = runtime.block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })?;
        let shared = watched.clone();
        std::thread::Builder::new()
            .name("slate-interrupt".into())
            .spawn(move || {
                runtime.block_on(async {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                    shared.stop.store(true, Ordering::SeqCst);
                    let stopped = shared.stop_runs();
                    say!(
                        "interrupted: no further run starts, and the {stopped} in flight \
                         {} (failed, kind shutdown); interrupt again to quit at once",
                        if stopped == 1 { "stops" } else { "stop" }
                    );
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                    std::process::exit(i32::from(INTERRUPTED));
                })
            })?;
        Ok(Interrupt { watched })
    }

    /// Stops `executor`'s runs in flight when the interrupt comes (at
    /// once, if it came already).
    pub fn stops(&self, executor: &Executor) {
        *self
            .watched
            .executor
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(executor.clone());
        if self.came() {
            self.watched.stop_runs();
        }
    }

    /// The flag the interrupt sets: what a backfill's loop watches.
    pub fn flag(&self) -> &AtomicBool {
        &self.watched.stop
    }

    /// Whether the command was interrupted.
    pub fn came(&self) -> bool {
        self.watched.stop.load(Ordering::SeqCst)
    }

    /// `code`, or [`INTERRUPTED`] if the command was interrupted, saying so.
    pub fn exit_code(&self, code: ExitCode) -> ExitCode {
        if self.came() {
            say!("interrupted: the runs not started were left for a later command");
            ExitCode::from(INTERRUPTED)
        } else {
            code
        }
    }
}
