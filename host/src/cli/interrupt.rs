//! Ctrl-C (SIGINT) and SIGTERM for the commands that run processors in the
//! foreground (`slate run`, `slate backfill`, `slate demo`). The first
//! signal starts no further run and stops the runs in flight, which end
//! `failed`, kind `shutdown`, as a server's shutdown ends them: no record
//! is left `running` for a later command to reap as a dead host's. The
//! command then prints what it did and exits [`INTERRUPTED`]. A second
//! signal quits at once.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use slate::executor::Executor;

/// The exit code of a command a signal interrupted: 128 + SIGINT, as a
/// shell reports it.
pub const INTERRUPTED: u8 = 130;

/// Whether an interrupt came, watched from the moment it is made.
pub struct Interrupt {
    stop: Arc<AtomicBool>,
}

impl Interrupt {
    /// Watches for SIGINT and SIGTERM on a thread of its own, stopping
    /// `executor`'s runs on the first.
    pub fn watch(executor: &Executor) -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let stop = Arc::new(AtomicBool::new(false));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        // Registered before the command starts its runs, so that no
        // signal between falls to the default action, which kills.
        let (mut interrupt, mut terminate) = runtime.block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })?;
        let (flag, executor) = (stop.clone(), executor.clone());
        std::thread::Builder::new()
            .name("slate-interrupt".into())
            .spawn(move || {
                runtime.block_on(async {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                    flag.store(true, Ordering::SeqCst);
                    let stopped = executor.leases().stop_all_for_shutdown();
                    eprintln!(
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
        Ok(Interrupt { stop })
    }

    /// The flag the interrupt sets: what a backfill's loop watches.
    pub fn flag(&self) -> &AtomicBool {
        &self.stop
    }

    /// Whether the command was interrupted.
    pub fn came(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// `code`, or [`INTERRUPTED`] if the command was interrupted, saying so.
    pub fn exit_code(&self, code: ExitCode) -> ExitCode {
        if self.came() {
            eprintln!("interrupted: the runs not started were left for a later command");
            ExitCode::from(INTERRUPTED)
        } else {
            code
        }
    }
}
