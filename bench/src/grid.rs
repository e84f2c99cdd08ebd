//! `GET /api/grid`, the dashboard's grid, on the backfilled season: the
//! real server (`slate::server`) on loopback and a plain HTTP/1.1 client,
//! one request at a time. The whole season (every date from the first game
//! date to the last) and the default range (the last 30 scheduled dates).
//! Target: under 50 ms.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use slate::executor::Executor;
use slate::liveness::LeaseConfig;
use slate::plugin::{RunLimits, Runtime};
use slate::registry::Registry;
use slate::server::auth::BearerToken;
use slate::server::metrics::Metrics;
use slate::server::state::{AppState, ServedHost, ServerConfig, StartingSet};
use slate::store::Store;

use crate::backfill::SeasonStore;
use crate::report::Report;
use crate::served::Served;
use crate::{Effort, median};

/// One `GET` of `path`: its time to the last byte, and its status line and body.
fn get(address: SocketAddr, path: &str) -> anyhow::Result<(Duration, String)> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let elapsed = started.elapsed();
    let answer = String::from_utf8(answer)?;
    if !answer.starts_with("HTTP/1.1 200") {
        bail!(
            "GET {path}: {}",
            answer.lines().next().unwrap_or("no answer")
        );
    }
    Ok((elapsed, answer))
}

/// Measures `GET /api/grid` over the whole season and the default range.
pub fn measure(report: &mut Report, effort: Effort, season: &SeasonStore) -> anyhow::Result<()> {
    let (Some(first), Some(last)) = (season.dates.first(), season.dates.last()) else {
        bail!("the season backfill ran no dates");
    };
    let store: Arc<dyn Store> = season.store.clone();
    let runtime = Arc::new(Runtime::new(Some(&season.compile_cache()))?);
    let metrics = Arc::new(Metrics::new());
    let executor = Executor::new(
        store,
        "bench-grid",
        RunLimits::default(),
        LeaseConfig::default(),
    )?
    .with_observer(metrics.clone());
    let registry = Arc::new(Registry::open(&season.scratch("grid-registry"))?);
    let starting = StartingSet::load(&runtime, &registry, None, executor.store().as_ref())?;
    let host = Arc::new(ServedHost::new(
        executor, runtime, registry, None, 2, metrics, starting,
    ));
    let state = AppState {
        config: Arc::new(ServerConfig::new(BearerToken::new("bench-token"))),
        host,
    };
    let served = Served::start(state, Some(2))?;
    let address = served.address;

    let repeats = effort.repeats.clamp(3, 50);
    let ranges = [
        (
            format!("/api/grid?from={first}&to={last}"),
            format!(
                "the backfilled season ({} days from {first} to {last}, {} game dates)",
                (*last - *first).num_days() + 1,
                season.dates.len()
            ),
        ),
        (
            "/api/grid".to_string(),
            "default range (last 30 scheduled dates)".to_string(),
        ),
    ];
    for (path, what) in ranges {
        let (_, answer) = get(address, &path)?; // warm: the pipeline is loaded once
        let mut samples = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            samples.push(get(address, &path)?.0);
        }
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
        report.add(
            "dashboard",
            format!("GET /api/grid, {what}"),
            median(samples).as_secs_f64() * 1000.0,
            "ms",
            format!(
                "median of {repeats}, {} KiB of JSON; target < 50 ms",
                body.len() / 1024
            ),
        );
    }
    served.stop()
}
