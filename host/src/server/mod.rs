//! `slate serve`: the HTTP service.
//!
//! - [`router`] maps every endpoint to its handler, with bearer-token
//!   authentication on every mutating endpoint (and, if configured, on
//!   reads), answering only to the `Host` names it may ([`host_names`]);
//! - [`serve`] serves a router on a listener until a shutdown signal, then
//!   shuts down gracefully: it stops accepting work (new requests for work
//!   get 503), lets the work already accepted (runs in flight or queued,
//!   backfills) go on for the grace period (cut short by a second signal),
//!   then starts no more runs and stops the ones in flight (each ends
//!   `failed`, kind `shutdown`), and never leaves a `running` record behind.
//!
//! Handlers live in one module per resource; they check every request
//! before starting anything and answer errors as JSON ([`errors`]); every
//! JSON answer is safe to print ([`printable_answers`]). The
//! dashboard ([`dashboard`]) is a page over the same API: its assets are
//! open, its data (`/api/grid`, `/api/runs/{id}`, `/events`) are reads.

pub mod alerts;
pub mod auth;
pub mod backfill_jobs;
pub mod backfill_runner;
pub mod backfills;
pub mod dashboard;
pub mod descriptors;
pub mod errors;
pub mod events;
pub mod extract;
pub mod grid;
pub mod health;
pub mod host_names;
pub mod hosts;
pub mod metrics;
pub mod plugins;
pub mod printable_answers;
pub mod process;
pub mod queue;
pub mod run_detail;
pub mod runs;
pub mod schedules;
pub mod state;
pub mod watch;
pub mod workers;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{MethodRouter, delete, get, post, put};

pub use auth::BearerToken;
pub use host_names::AllowedHosts;
pub use state::{AppState, FileSettings, ServedHost, ServerConfig, StartingSet};

/// Every endpoint.
pub fn router(state: AppState) -> Router {
    let token = state.config.token.clone();
    let allowed_hosts = state.config.allowed_hosts.clone();
    // The token is checked per method, so that a method a path does not
    // take is a 405 whatever the token.
    let guarded = |methods: MethodRouter<AppState>| {
        methods.route_layer(from_fn_with_state(token.clone(), auth::require_token))
    };
    // A draining server changes no processor: a deploy it accepted could
    // start a shadow's replay as it stops, or land after the rest of the
    // cluster took its place. The token is checked first.
    let changes_processors = |methods: MethodRouter<AppState>| {
        guarded(methods.route_layer(from_fn_with_state(
            state.clone(),
            state::refuse_while_draining,
        )))
    };
    let mutating = Router::new()
        .route("/process-date", guarded(post(process::process_date)))
        .route("/backfill", guarded(post(backfills::start_backfill)))
        .route(
            "/backfills/{id}",
            guarded(delete(backfills::cancel_backfill)),
        )
        .route(
            "/plugins/{name}",
            changes_processors(put(plugins::deploy_plugin).delete(plugins::undeploy_plugin)),
        )
        .route(
            "/plugins/{name}/rollback",
            changes_processors(post(plugins::rollback_plugin)),
        )
        .route(
            "/plugins/{name}/shadow",
            changes_processors(delete(plugins::drop_shadow)),
        );
    let mut reads = Router::new()
        .route("/runs", get(runs::list_runs))
        .route("/runs/{id}", get(runs::get_run))
        .route("/backfills/{id}", get(backfills::get_backfill))
        .route("/health", get(health::health))
        .route("/alerts", get(alerts::list_alerts))
        .route("/schedules", get(schedules::list_schedules))
        .route("/hosts", get(hosts::list_hosts))
        .route("/plugins", get(plugins::list_plugins))
        .route("/plugins/{name}/history", get(plugins::plugin_history))
        .route("/plugins/{name}/diff", get(plugins::plugin_diff))
        .route("/metrics", get(health::metrics))
        .route("/api/grid", get(grid::grid))
        .route("/api/runs/{id}", get(run_detail::run_detail))
        .route("/events", get(events::events));
    if state.config.protect_reads {
        reads = reads.route_layer(from_fn_with_state(token, auth::require_token));
    }
    let endpoints = mutating
        .merge(reads)
        .merge(dashboard::assets())
        .fallback(no_such_endpoint)
        .layer(from_fn(errors::refuse_nul_bytes))
        .with_state(state);
    // Outside the endpoints' router, so that the JSON errors see what
    // that router adds last, like a 405's `Allow` header.
    Router::new()
        .fallback_service(endpoints)
        .layer(from_fn_with_state(
            allowed_hosts,
            host_names::refuse_other_hosts,
        ))
        .layer(from_fn(errors::json_errors))
        .layer(from_fn(printable_answers::escape_unprintable))
}

/// The answer for a path no endpoint serves.
async fn no_such_endpoint(uri: axum::http::Uri) -> errors::ApiError {
    errors::ApiError::not_found("path", format!("no endpoint at {}", uri.path()))
}

/// What one client may hold of the server.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    header_read_timeout: Duration,
    max_connections: usize,
}

/// Serves `app` on every connection `listener` accepts until `until`
/// resolves, then waits for the requests in flight. A connection gets
/// `header_read_timeout` to send each request's headers (the same timer
/// closes it once idle between requests that long); past
/// `max_connections`, a new connection is answered 503 and closed at once,
/// so idle or slow clients can never take the file descriptors and the
/// memory that answering everyone else needs.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    until: impl Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut until = std::pin::pin!(until);
    let mut accept_errors = AcceptErrors::default();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: back off rather
                    // than spin, and keep serving the connections we have.
                    accept_errors.seen(&error, limits.max_connections);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut until => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse_connection(stream));
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("connection ended: {error}");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// How long the accept loop waits after an accept error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How often the accept loop logs its errors while they go on.
const ACCEPT_ERRORS_LOGGED_EVERY: Duration = Duration::from_secs(10);

/// The accept loop's errors, logged once per
/// [`ACCEPT_ERRORS_LOGGED_EVERY`] with how many came since: out of
/// descriptors, the loop fails 20 times a second, and a line for each
/// would bury the log (and fill its disk).
#[derive(Default)]
struct AcceptErrors {
    logged_at: Option<std::time::Instant>,
    since: u64,
}

impl AcceptErrors {
    fn seen(&mut self, error: &std::io::Error, max_connections: usize) {
        self.since += 1;
        if self
            .logged_at
            .is_some_and(|at| at.elapsed() < ACCEPT_ERRORS_LOGGED_EVERY)
        {
            return;
        }
        let more = match self.since - 1 {
            0 => String::new(),
            n => format!(" ({n} more since the last logged)"),
        };
        let why = match descriptors::is_out_of_descriptors(error) {
            true => format!(
                ": the process is out of file descriptors, and new connections wait unanswered; \
                 raise `ulimit -n` to at least {} or lower --max-connections (now {max_connections})",
                descriptors::needed_for(max_connections)
            ),
            false => String::new(),
        };
        tracing::warn!("accept error: {error}{more}{why}");
        self.logged_at = Some(std::time::Instant::now());
        self.since = 0;
    }
}

/// Answers a connection past the cap with a 503 and closes it, spending at
/// most a second on it.
async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    const BODY: &str = r#"{"error":"the server is at its connection limit; retry shortly"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// How long the last step of a shutdown waits for stopped runs to end
/// before failing what is left directly in the store.
pub const STOP_WAIT: Duration = Duration::from_secs(5);

/// Serves `state` on `listener` until `shutdown` resolves, then shuts down
/// gracefully (see the module documentation). Should `hurry` resolve
/// during the grace period (a second signal), the grace ends there: the
/// runs still in flight are stopped at once.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    hurry: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let host = state.host.clone();
    let grace = state.config.grace;
    // The backfills an earlier server stopped go on before any request;
    // those another server of this machine leaves, as it goes.
    {
        let host = host.clone();
        tokio::task::spawn_blocking(move || backfill_runner::resume_saved(&host))
            .await
            .map_err(std::io::Error::other)?;
    }
    let adopting = {
        let host = host.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(backfill_runner::ADOPT_EVERY).await;
                let host = host.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    backfill_runner::adopt_abandoned(&host);
                })
                .await;
            }
        })
    };
    // Once the shutdown begins: no new work (a request for it gets 503,
    // reads are still answered, so clients can follow the work accepted);
    // accepted work gets the grace period, then no run starts and the runs
    // in flight are stopped. Only then does the server stop accepting.
    let (drained_tx, mut drained_rx) = tokio::sync::watch::channel(false);
    let stopper = {
        let host = host.clone();
        tokio::spawn(async move {
            shutdown.await;
            host.draining.store(true, Ordering::SeqCst);
            // It takes no task from now: say so in the host directory at
            // once, not at the next heartbeat.
            let draining = host.clone();
            let _ = tokio::task::spawn_blocking(move || hosts::draining(&draining)).await;
            tracing::warn!(
                jobs = host.workers.jobs(),
                "shutting down: no new work; accepted work has {grace:?} to finish"
            );
            let drained = tokio::select! {
                drained = host.workers.wait_drained(grace) => drained,
                () = hurry => {
                    tracing::warn!("told again to stop: the grace period ends now");
                    host.workers.jobs() == 0
                }
            };
            if !drained {
                host.stopping.store(true, Ordering::SeqCst);
                host.stop_backfills();
                let stopped = host.executor.stop_all_for_shutdown();
                tracing::warn!(
                    runs = stopped,
                    "grace period over: stopping the runs still in flight"
                );
            }
            let _ = drained_tx.send(true);
        })
    };
    let connections = ConnectionLimits {
        header_read_timeout: state.config.header_read_timeout,
        max_connections: state.config.max_connections,
    };
    let drained = async move {
        let _ = drained_rx.wait_for(|drained| *drained).await;
    };
    serve_connections(listener, router(state), connections, drained).await;
    // The server stops serving only once the stopper has drained.
    let _ = stopper.await;
    adopting.abort();
    if !host.workers.wait_drained(STOP_WAIT).await {
        tracing::error!("runs did not stop within {STOP_WAIT:?} of being told to");
    }
    let leftover = tokio::task::spawn_blocking(move || {
        hosts::stopped(&host);
        host.executor.fail_leftover_runs()
    })
    .await
    .map_err(std::io::Error::other)?
    .map_err(std::io::Error::other)?;
    if !leftover.is_empty() {
        tracing::warn!(runs = ?leftover, "failed the runs left running, kind shutdown");
    }
    Ok(())
}
