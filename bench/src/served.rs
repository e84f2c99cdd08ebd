//! The HTTP API on a loopback port, for the benchmarks that measure it
//! (`grid`, `http`): served on a runtime of its own, stopped gracefully.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use slate::server::state::AppState;

/// `slate serve`'s service, listening on a loopback port until [`Served::stop`].
pub struct Served {
    /// Where it listens.
    pub address: SocketAddr,
    runtime: tokio::runtime::Runtime,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Serves `state` on a free loopback port, on a runtime of
    /// `worker_threads` threads (tokio's default when `None`).
    pub fn start(state: AppState, worker_threads: Option<usize>) -> anyhow::Result<Self> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(threads) = worker_threads {
            builder.worker_threads(threads);
        }
        let runtime = builder.enable_all().build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = runtime.spawn(slate::server::serve(
            listener,
            state,
            async {
                let _ = stopped.await;
            },
            std::future::pending(),
        ));
        Ok(Served {
            address,
            runtime,
            stop,
            serving,
        })
    }

    /// Shuts the service down gracefully and reports how it ended.
    pub fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.runtime
            .block_on(self.serving)
            .context("the server task")?
            .context("the server")?;
        self.runtime.shutdown_timeout(Duration::from_secs(1));
        Ok(())
    }
}
