//! `slate serve`: the HTTP service on a tokio runtime, until SIGTERM or SIGINT;
//! SIGHUP reads `slate.toml` again.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use slate::alerts::{AlertsConfig, Deliverer};
use slate::limits::LimitsConfig;
use slate::server::alerts;
use slate::server::metrics::Metrics;
use slate::server::schedules::Scheduler;
use slate::server::{
    AllowedHosts, AppState, BearerToken, FileSettings, ServedHost, ServerConfig, StartingSet, watch,
};

use super::{Host, HostOptions, UsageError, seconds, usage};

/// The options of `slate serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The address to listen on, IP:PORT or HOST:PORT (`localhost:8080`);
    /// port 0 picks a free port (printed at start).
    #[arg(long, env = "SLATE_LISTEN", default_value = "127.0.0.1:8080", value_parser = listen_address)]
    listen: ListenAddress,
    /// How many runs may execute at once (1 to 256).
    #[arg(long, env = "SLATE_WORKERS", default_value_t = 4, value_parser = super::concurrent_runs)]
    workers: usize,
    /// The bearer token mutating endpoints require. On the command line
    /// every user of the machine sees it (`ps`): prefer --token-file or
    /// SLATE_TOKEN.
    #[arg(long, env = "SLATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Whether `--token` came from the command line (where `ps` shows
    /// it), not from `SLATE_TOKEN`.
    #[arg(skip)]
    pub token_on_command_line: bool,
    /// A file holding the bearer token.
    #[arg(long, env = "SLATE_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Require the token on read-only endpoints too.
    #[arg(long)]
    protect_reads: bool,
    /// A host name the server is reached by (repeat it, or separate names
    /// by commas; `*.example.com` for every name below; `*` for any). The
    /// server answers only to IP addresses, `localhost`, the name
    /// `--listen` gives and these names, so that no page of another site
    /// can read it through DNS rebinding.
    #[arg(
        long = "allowed-host",
        env = "SLATE_ALLOWED_HOSTS",
        value_name = "NAME",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// Seconds a shutdown lets in-flight runs finish before stopping them
    /// (a second SIGTERM or SIGINT ends it at once).
    #[arg(
        long = "grace-secs",
        env = "SLATE_GRACE_SECS",
        default_value = "20",
        value_name = "SECONDS",
        value_parser = seconds
    )]
    grace: Duration,
    /// The largest JSON request body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_body_bytes: usize,
    /// Deploy every `.wasm` file written to this folder.
    #[arg(long)]
    watch: Option<PathBuf>,
    /// Seconds a client may take to send a request's headers; a keep-alive
    /// connection idle for as long is closed too.
    #[arg(
        long = "header-timeout-secs",
        env = "SLATE_HEADER_TIMEOUT_SECS",
        default_value = "10",
        value_name = "SECONDS",
        value_parser = seconds
    )]
    header_timeout: Duration,
    /// Seconds a client may take to send a request's body.
    #[arg(
        long = "body-timeout-secs",
        env = "SLATE_BODY_TIMEOUT_SECS",
        default_value = "30",
        value_name = "SECONDS",
        value_parser = seconds
    )]
    body_timeout: Duration,
    /// The most connections served at once; more are answered 503 at once.
    #[arg(long, env = "SLATE_MAX_CONNECTIONS", default_value_t = 512)]
    max_connections: usize,
    /// Seconds `GET /health` serves the same report (`?fresh=1` bypasses it).
    #[arg(
        long = "health-cache-secs",
        default_value = "2",
        value_name = "SECONDS",
        value_parser = seconds
    )]
    health_cache: Duration,
}

/// The bounds of `--max-body-bytes`.
const MIN_BODY_BYTES: usize = 256;
const MAX_BODY_BYTES: usize = 1 << 30;
/// The longest `--health-cache-secs`.
const MAX_HEALTH_CACHE_SECS: f64 = 3600.0;

/// Serves until SIGTERM or SIGINT, then shuts down gracefully.
pub fn serve(options: &HostOptions, args: ServeArgs) -> Result<ExitCode> {
    // An empty token beside a token file is no token: a deployment that
    // sets every variable, empty or not, gives its token in the file.
    let token = args
        .token
        .as_ref()
        .filter(|token| !(token.is_empty() && args.token_file.is_some()));
    let secret = match (token, &args.token_file) {
        (Some(_), Some(_)) => usage!(
            "give the API token once: --token (or SLATE_TOKEN) or --token-file (or \
             SLATE_TOKEN_FILE), not both"
        ),
        (Some(token), None) => token.clone(),
        (None, Some(file)) => std::fs::read_to_string(file).map_err(|e| {
            UsageError(format!(
                "cannot read the token file {}: {e}",
                file.display()
            ))
        })?,
        (None, None) => usage!("give the API token with --token-file FILE or SLATE_TOKEN"),
    };
    if secret.trim().is_empty() {
        usage!("the API token is empty");
    }
    // What an `Authorization` header carries: a token of other characters
    // could never be sent, and every request would be refused.
    if !secret.trim().bytes().all(|b| b.is_ascii_graphic()) {
        usage!(
            "the API token holds a character no HTTP header carries: give one of visible \
             ASCII characters, without spaces"
        );
    }
    if args.token_on_command_line {
        say!(
            "warning: --token shows the API token to every user of this machine (`ps`); give \
             it with --token-file FILE or SLATE_TOKEN"
        );
    }
    if let Some(dir) = &args.watch
        && !dir.is_dir()
    {
        usage!("--watch {}: not a folder", dir.display());
    }
    // A file there would be served from the plugin folder and refused as
    // a deployment over itself, at every start.
    if let (Some(watch), Some(plugins)) = (&args.watch, &options.plugin_dir)
        && same_folder(watch, plugins)
    {
        usage!(
            "--watch {} is the --plugin-dir too: a watched folder deploys its files \
             through the registry, a plugin folder serves its own; give them different folders",
            watch.display()
        );
    }
    let mut config = ServerConfig::new(BearerToken::new(&secret));
    config.protect_reads = args.protect_reads;
    let listed: Vec<String> = (args.allowed_hosts.iter().cloned())
        .chain(args.listen.name.clone())
        .collect();
    config.allowed_hosts = AllowedHosts::listed(&listed).map_err(|e| UsageError(e.to_string()))?;
    // Below a few hundred bytes no request body fits: every POST would be
    // a 413.
    if !(MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&args.max_body_bytes) {
        usage!(
            "--max-body-bytes must be from {MIN_BODY_BYTES} to {MAX_BODY_BYTES}, not {}",
            args.max_body_bytes
        );
    }
    config.max_body_bytes = args.max_body_bytes;
    config.grace = args.grace;
    let grace = config.grace;
    config.header_read_timeout = args.header_timeout;
    config.body_read_timeout = args.body_timeout;
    if args.max_connections == 0 {
        usage!("--max-connections must be at least 1");
    }
    config.max_connections = args.max_connections;
    room_for_connections(args.max_connections);
    // A report kept longer than an hour would be no health check at all.
    if args.health_cache.as_secs_f64() > MAX_HEALTH_CACHE_SECS {
        usage!(
            "--health-cache-secs must be at most {MAX_HEALTH_CACHE_SECS}, not {}",
            args.health_cache.as_secs_f64()
        );
    }
    config.health_ttl = args.health_cache;

    // What a reload may not change: the instance pool is sized from it.
    let limits = LimitsConfig::load(&options.data_dir.config_file())?;
    // A processor the table owners refuse is left out, not the server:
    // `/health` names it.
    let host = Host::open_with(options, true, args.workers, true)?;
    let (generation, left_out) = host.starting.expect("loaded as a server starts");
    let metrics = Arc::new(Metrics::new());
    let executor = host.executor.clone().with_observer(metrics.clone());
    // The set checked above is the one served: loaded once.
    let served = Arc::new(ServedHost::new(
        executor,
        host.runtime.clone(),
        host.registry.clone(),
        options.plugin_dir.clone(),
        args.workers,
        metrics,
        StartingSet {
            generation,
            pipeline: host.pipeline,
            left_out,
        },
    ));
    served.judge_phases_of_reaped_runs();
    // Checked as every reload checks it.
    config.set_settings(read_settings(options, &served, &limits)?);
    let config = Arc::new(config);
    let state = AppState {
        config: config.clone(),
        host: served.clone(),
    };
    // Made before the server listens: a tick another host fires as this
    // one starts counts as fired after its start.
    let scheduler = Arc::new(
        Scheduler::new(
            served.clone(),
            config.settings().schedules.clone(),
            config.settings().dates,
        )
        .printing_backfill_as(options.command_line("backfill")),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let stop_watching = Arc::new(AtomicBool::new(false));
    let watcher = args
        .watch
        .clone()
        .map(|dir| watch::spawn(served.clone(), dir, stop_watching.clone()));
    let registry_follower = ServedHost::follow_registry(served.clone(), stop_watching.clone());
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen.address)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen.address))?;
        let address = listener.local_addr()?;
        // Whoever started the server may have stopped reading its output:
        // that must not stop the server.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening on http://{address}");
        if let Some(dir) = &args.watch {
            let _ = writeln!(out, "watching {} for .wasm files", dir.display());
        }
        let _ = out.flush();
        let delivery =
            tokio::sync::Mutex::new(Delivery::start(&served, &config.settings().alerts)?);
        let scheduling = tokio::spawn(scheduler.clone().run());
        let taking_tasks = tokio::spawn(slate::server::queue::follow(served.clone()));
        let following = tokio::spawn(slate::server::events::follow_ledger(served.clone()));
        let announcing = tokio::spawn(slate::server::hosts::announce(
            served.clone(),
            format!("http://{address}"),
        ));
        let signals = Signals::listen();
        let serving = slate::server::serve(
            listener,
            state,
            signals.count_reaches(1),
            signals.count_reaches(2),
        );
        tokio::pin!(serving);
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot listen for SIGHUP")?;
        let running = || Running {
            served: &served,
            config: &config,
            scheduler: &scheduler,
        };
        // A reload waits for the alert posts in flight before delivery
        // starts again: it goes on beside the serving, which must not stop
        // accepting meanwhile. A SIGHUP during a reload is taken after it;
        // once a shutdown began, none is, and a reload going on then is
        // dropped: it would start a delivery the shutdown then stops.
        let mut reloading = None;
        let mut reload_again = false;
        let mut shutting_down = false;
        let served_out = loop {
            tokio::select! {
                served_out = &mut serving => break served_out,
                () = signals.count_reaches(1), if !shutting_down => {
                    shutting_down = true;
                    reloading = None;
                    reload_again = false;
                }
                Some(()) = hangups.recv() => match (shutting_down, &reloading) {
                    (true, _) => tracing::warn!("SIGHUP ignored: the server is shutting down"),
                    (false, Some(_)) => reload_again = true,
                    (false, None) => {
                        reloading = Some(Box::pin(reload(options, &limits, running(), &delivery)));
                    }
                },
                () = async { reloading.as_mut().expect("a reload is going on").await },
                    if reloading.is_some() =>
                {
                    reloading = None;
                    if std::mem::take(&mut reload_again) {
                        reloading = Some(Box::pin(reload(options, &limits, running(), &delivery)));
                    }
                }
            }
        };
        drop(reloading);
        let mut delivery = delivery.into_inner();
        // The shutdown has until its deadline for alerts (or until told
        // again): the posts in flight end first, then what is queued goes.
        let deadline = signals.delivery_deadline(grace);
        let until = |at: DateTime<Utc>| tokio::time::sleep((at - Utc::now()).to_std().unwrap_or_default());
        let told_again = signals.count_reaches(2);
        let posts_ended = delivery
            .stop_unless(async {
                tokio::select! {
                    () = told_again => {}
                    () = until(deadline) => {}
                }
            })
            .await;
        scheduling.abort();
        taking_tasks.abort();
        following.abort();
        announcing.abort();
        let deliverer = delivery.deliverer;
        // What the shutdown itself recorded (runs it stopped) goes out too,
        // waiting out a channel's rate limit as a command's end does, but
        // never past the deadline: a post begun just before it is cut
        // there, not let run its whole timeout. After a post was cut short,
        // or told again, no pass starts (it could send a cut post again):
        // what is queued stays in the outbox for the next start, and is
        // named.
        let drain_for_at_least = chrono::Duration::from_std(SHORTEST_PASS).unwrap_or_default();
        let delivered = match posts_ended {
            false => None,
            true => tokio::select! {
                delivered = super::alerts::drain_and_report(&deliverer, deadline) => Some(delivered),
                () = until(deadline.max(Utc::now() + drain_for_at_least)) => None,
                () = signals.count_reaches(2) => None,
            },
        };
        match delivered {
            Some(Err(error)) => tracing::warn!(%error, "alert delivery at shutdown failed"),
            Some(Ok(_)) => {}
            None => match deliverer.queued() {
                Ok(queued) => {
                    for (channel, count) in queued {
                        say!(
                            "alerts: {count} message(s) for `{channel}` stay queued for the next \
                             start: the shutdown cut their delivery short"
                        );
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read the alerts left queued"),
            },
        }
        served_out?;
        anyhow::Ok(())
    });
    stop_watching.store(true, std::sync::atomic::Ordering::SeqCst);
    for thread in watcher.into_iter().chain(registry_follower) {
        let _ = thread.join();
    }
    // A run stuck in a host call is abandoned: its record is already failed.
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome?;
    let _ = writeln!(std::io::stderr(), "stopped");
    Ok(ExitCode::SUCCESS)
}

/// How long past the grace period a shutdown may still deliver the alerts
/// it leaves queued: with the default 20 s grace and the 5 s that stopped
/// runs get to end ([`slate::server::STOP_WAIT`]), a shutdown ends within
/// Kubernetes' default 30 s between SIGTERM and SIGKILL.
const DELIVERY_AT_SHUTDOWN: chrono::TimeDelta = chrono::TimeDelta::seconds(8);

/// How long a shutdown's delivery pass may take at least, when it starts
/// with its deadline already past (a pass it starts then is not cut at
/// once).
const SHORTEST_PASS: Duration = Duration::from_secs(2);

/// Alert delivery, with the no-rows sweep and the channel probes: what a
/// reload starts again on the channels it reads.
struct Delivery {
    deliverer: Arc<Deliverer>,
    delivering: tokio::task::JoinHandle<()>,
}

impl Delivery {
    /// Starts delivering to the channels of `alerts` (a channel new to
    /// the store joins its outbox first). Within the runtime.
    fn start(served: &Arc<ServedHost>, alerts: &AlertsConfig) -> Result<Self> {
        super::add_alert_channels(served.store.as_ref(), alerts)?;
        let deliverer = Arc::new(Deliverer::new(
            served.store.clone(),
            alerts.clone(),
            &slate::liveness::this_host_id(),
        )?);
        Ok(Delivery {
            delivering: tokio::spawn(alerts::run_deliverer(deliverer.clone(), served.clone())),
            deliverer,
        })
    }

    /// Stops delivering, and waits until it has: the posts and probes in
    /// flight end first (a post cut short would reach its receiver twice,
    /// as it goes again), each within `timeout_secs`; what is still in
    /// flight a few seconds past that is cut short.
    async fn stop(&mut self) {
        let _ = self.stop_unless(std::future::pending()).await;
    }

    /// [`Delivery::stop`], cutting short what is in flight once
    /// `cut_short` resolves (a second SIGTERM, the shutdown's deadline):
    /// whether it ended without being cut short.
    async fn stop_unless(&mut self, cut_short: impl Future<Output = ()>) -> bool {
        self.deliverer.stop();
        let bound = self.deliverer.config().timeout + Duration::from_secs(5);
        let ended = tokio::select! {
            ended = tokio::time::timeout(bound, &mut self.delivering) => ended.is_ok(),
            () = cut_short => false,
        };
        if !ended {
            self.delivering.abort();
            let _ = (&mut self.delivering).await;
        }
        ended
    }
}

/// What a reload changes in a running server.
struct Running<'a> {
    served: &'a Arc<ServedHost>,
    config: &'a ServerConfig,
    scheduler: &'a Scheduler,
}

/// Reads `slate.toml` again, for a SIGHUP. What it sets is checked as at
/// the start ([`read_settings`]); then delivery starts again on its
/// channels, the scheduler takes its schedules and dates, and every
/// request reads it. Refused, nothing changes and the error is logged.
async fn reload(
    options: &HostOptions,
    limits: &LimitsConfig,
    running: Running<'_>,
    delivery: &tokio::sync::Mutex<Delivery>,
) {
    let refused = |error: &anyhow::Error| {
        tracing::error!(
            "slate.toml not reloaded; the server goes on with what it read before: {}",
            super::one_line(error)
        );
    };
    let file = options.data_dir.config_file();
    tracing::warn!("SIGHUP received: reading {} again", file.display());
    let read = tokio::task::block_in_place(|| read_settings(options, running.served, limits));
    let settings = match read {
        Ok(settings) => settings,
        Err(error) => return refused(&error),
    };
    // The old delivery ends first: two deliverers of one host would both
    // hold its claim on a channel, and post the same messages.
    let mut delivery = delivery.lock().await;
    delivery.stop().await;
    match Delivery::start(running.served, &settings.alerts) {
        Ok(started) => *delivery = started,
        Err(error) => {
            refused(&error);
            let before = running.config.settings();
            match Delivery::start(running.served, &before.alerts) {
                Ok(started) => *delivery = started,
                Err(error) => tracing::error!(
                    "alert delivery is stopped until a restart: {}",
                    super::one_line(&error)
                ),
            }
            return;
        }
    }
    running
        .scheduler
        .take(settings.schedules.clone(), settings.dates);
    tracing::warn!(
        channels = settings.alerts.channels.len(),
        schedules = settings.schedules.len(),
        "slate.toml reloaded"
    );
    running.config.set_settings(settings);
}

/// What `slate.toml` sets for `served`, checked as the server's start and
/// each reload check it: every section well formed, `[dates]` holding a
/// date, the processors schedules name known, a store that keeps ticks. `[limits]` must be as `running`
/// (the instance pool is sized from it): a change needs a restart.
fn read_settings(
    options: &HostOptions,
    served: &ServedHost,
    running: &LimitsConfig,
) -> Result<FileSettings> {
    let file = options.data_dir.config_file();
    if LimitsConfig::load(&file)? != *running {
        anyhow::bail!(
            "{}: [limits] changed, and a server keeps the limits it started with (its \
             instance pool is sized from them): restart it to apply them",
            file.display()
        );
    }
    let alerts = AlertsConfig::load(&file)?;
    let schedules = slate::schedule::load(&file)?;
    let dates = slate::dates::DatesConfig::load(&file)?;
    super::refuse_dates_serving_none(served.store.as_ref(), &file, &dates)?;
    if !schedules.is_empty() && served.store.tick_ledger().is_none() {
        usage!("[[schedule]] needs a store that keeps schedule ticks: use the embedded store");
    }
    let pipeline = served.pipeline()?;
    let left_out: Vec<slate::catalog::LeftOut> = (served.refused_versions().into_iter())
        .flat_map(|refused| {
            let reason = refused.reason.clone();
            (refused.left_out.into_iter()).map(move |processor| slate::catalog::LeftOut {
                processor,
                reason: reason.clone(),
                serving_before: None,
            })
        })
        .collect();
    super::schedules::refuse_unknown_processors(
        options,
        &schedules,
        &pipeline,
        Some(&served.registry),
        &left_out,
    )?;
    Ok(FileSettings {
        dates,
        alerts,
        schedules,
    })
}

/// The SIGTERMs and SIGINTs the server was sent: the first begins the
/// shutdown, the second ends its grace period at once.
struct Signals {
    count: tokio::sync::watch::Receiver<usize>,
    first_at: Arc<std::sync::OnceLock<DateTime<Utc>>>,
}

impl Signals {
    /// Counts the signals from now on. Must be called within the runtime.
    fn listen() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).expect("listen for SIGTERM");
        let mut interrupt = signal(SignalKind::interrupt()).expect("listen for SIGINT");
        let (count_tx, count) = tokio::sync::watch::channel(0);
        let first_at = Arc::new(std::sync::OnceLock::new());
        let first = first_at.clone();
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = terminate.recv() => "SIGTERM",
                    _ = interrupt.recv() => "SIGINT",
                };
                first.get_or_init(Utc::now);
                count_tx.send_modify(|count| *count += 1);
                match *count_tx.borrow() {
                    1 => tracing::warn!("{name} received"),
                    _ => tracing::warn!(
                        "{name} received again: stopping without the rest of the grace period"
                    ),
                }
            }
        });
        Signals { count, first_at }
    }

    /// Resolves once `n` signals have come.
    fn count_reaches(&self, n: usize) -> impl Future<Output = ()> + Send + 'static {
        let mut count = self.count.clone();
        async move {
            // A closed channel means no more signals can come.
            if count.wait_for(|count| *count >= n).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Until when the shutdown that began with the first signal, with
    /// `grace` for the work, may still deliver alerts: at most
    /// [`super::alerts::AFTER_COMMAND_WAIT`] from now and
    /// [`DELIVERY_AT_SHUTDOWN`] past the grace. (A second signal cuts the
    /// delivery to one pass where it is awaited.)
    fn delivery_deadline(&self, grace: Duration) -> DateTime<Utc> {
        let now = Utc::now();
        let past_the_grace = self.first_at.get().map_or(now, |first| {
            *first + chrono::Duration::from_std(grace).unwrap_or_default() + DELIVERY_AT_SHUTDOWN
        });
        past_the_grace.min(
            now + chrono::Duration::from_std(super::alerts::AFTER_COMMAND_WAIT).unwrap_or_default(),
        )
    }
}

/// Whether `a` and `b` name the same folder (through links, `.` and the
/// like).
fn same_folder(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// What `--listen` gives: the address, and the host name it was given
/// by, if any (`localhost:8080`), which the server then answers to.
#[derive(Debug, Clone)]
struct ListenAddress {
    address: SocketAddr,
    name: Option<String>,
}

/// `--listen`: IP:PORT, or HOST:PORT resolved, its IPv4 address first
/// (`localhost:8080` listens on 127.0.0.1:8080).
fn listen_address(text: &str) -> Result<ListenAddress, String> {
    if let Ok(address) = text.parse() {
        return Ok(ListenAddress {
            address,
            name: None,
        });
    }
    let no_address = |why: String| {
        format!("`{text}` is no address to listen on ({why}): give IP:PORT or HOST:PORT")
    };
    let resolved: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| no_address(e.to_string()))?
        .collect();
    let address = (resolved.iter().find(|a| a.is_ipv4()).or(resolved.first()))
        .copied()
        .ok_or_else(|| no_address("it resolves to no address".to_string()))?;
    // The name it was given by, unless that was an address (`::1:8080`).
    let name = text
        .rsplit_once(':')
        .map(|(host, _)| host.trim_start_matches('[').trim_end_matches(']'))
        .filter(|host| host.parse::<std::net::IpAddr>().is_err())
        .map(str::to_string);
    Ok(ListenAddress { address, name })
}

/// Raises the open-file limit to what `connections` connections need, and
/// says so; warns, naming the numbers, when the hard limit falls short.
fn room_for_connections(connections: usize) {
    use slate::server::descriptors::{FOR_ITSELF, Room, make_room_for};
    match make_room_for(connections) {
        Ok(Room::Enough { .. }) => {}
        Ok(Room::Raised { from, to }) => tracing::info!(
            "raised the open-file limit from {from} to {to}, for --max-connections {connections}"
        ),
        Ok(Room::Short { limit, needed }) => {
            let fits = limit.saturating_sub(FOR_ITSELF);
            let or_lower = match fits {
                0 => String::new(),
                fits => format!(" or lower --max-connections to {fits}"),
            };
            tracing::warn!(
                "the open-file limit is {limit} (the hard limit, `ulimit -Hn`), below the \
                 {needed} that --max-connections {connections} needs (one per connection, \
                 {FOR_ITSELF} for the server): past the limit, new connections are not refused \
                 with a 503 but left unanswered; raise the hard limit{or_lower}"
            )
        }
        Err(error) => tracing::warn!("the open-file limit could not be read or raised: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::listen_address;

    #[test]
    fn listen_takes_an_ip_and_port_or_a_host_name_and_port() {
        let address = |text: &str| listen_address(text).unwrap().address.to_string();
        assert_eq!(address("127.0.0.1:0"), "127.0.0.1:0");
        assert_eq!(address("[::1]:8080"), "[::1]:8080");
        assert_eq!(listen_address("[::1]:8080").unwrap().name, None);
        let local = listen_address("localhost:8080").unwrap();
        assert!(
            local.address.ip().is_loopback() && local.address.port() == 8080,
            "{local:?}"
        );
        assert_eq!(local.name.as_deref(), Some("localhost"), "answered to");
        let unbracketed = listen_address("::1:8080").unwrap();
        assert_eq!(unbracketed.address.to_string(), "[::1]:8080");
        assert_eq!(unbracketed.name, None, "an address is no name");
        for bad in ["localhost", "8080", "no such host.invalid:80", ""] {
            let error = listen_address(bad).unwrap_err();
            assert!(
                error.contains("give IP:PORT or HOST:PORT"),
                "{bad}: {error}"
            );
        }
    }
}
