//! `POST /process-date` under load: the real server (`slate::server`, the
//! one `slate serve` runs) on loopback, a no-op processor, and `wrk` as the
//! load generator, each request a new date so that no two claim the same
//! run. Runs per second and latency percentiles, at a few connection
//! counts, so that where the rate stops growing shows what caps it.
//!
//! Without `wrk` on the PATH (`apt-get install wrk`) the measurement is
//! reported as skipped.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, bail};
use slate::executor::Executor;
use slate::liveness::LeaseConfig;
use slate::plugin::{KEEP_RESIDENT_BYTES, RunLimits, Runtime, RuntimeOptions};
use slate::registry::Registry;
use slate::runs::{RunFilter, RunStatus};
use slate::server::auth::BearerToken;
use slate::server::metrics::Metrics;
use slate::server::state::{AppState, ServedHost, ServerConfig, StartingSet};
use slate::store::{EmbeddedStore, Store};

use crate::report::Report;
use crate::served::Served;
use crate::{Effort, components};

/// The token the load generator sends.
const TOKEN: &str = "bench-token";

/// The server's workers: one per core.
const WORKERS: usize = 2;

/// Each request runs the no-op processor for a date no other connection
/// is running: thread `id` of `wrk` sends days `id`, `id + 8`, `id + 16`,
/// ... after 1971-01-01, wrapping after 20,000 days (before the dates a
/// host serves end), so a date comes round again only as a rerun.
const SCRIPT: &str = r#"
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  sent = 0
  base = os.time{year = 1971, month = 1, day = 1, hour = 12}
end
function request()
  local day = (sent * 8 + id) % 20000
  sent = sent + 1
  local date = os.date("!%Y-%m-%d", base + day * 86400)
  local body = '{"processors":["NoopProcessor"],"analysis_date":"' .. date .. '"}'
  return wrk.format("POST", "/process-date", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer TOKEN",
  }, body)
end
"#;

/// What one `wrk` run reported.
#[derive(Debug, Default, PartialEq)]
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    failed: u64,
}

/// Measures `POST /process-date` throughput and latency at 1, 2, 4 and 16
/// connections (one, 1 s each, with `--smoke`).
pub fn measure(report: &mut Report, effort: Effort) -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        report.skip(
            "POST /process-date under wrk",
            "wrk is not installed (apt-get install wrk)",
        );
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(components::NOOP_PROCESSOR, plugins.join("noop.wasm"))?;
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir.path().join("slate.db"))?);
    // As `slate serve --workers 2` builds it: pooled, sized to its workers.
    let runtime = Arc::new(Runtime::with_options(
        Some(&dir.path().join("compiled")),
        RuntimeOptions {
            pooled_runs: Some(WORKERS as u32 + 8),
            keep_resident_bytes: KEEP_RESIDENT_BYTES,
            ..RuntimeOptions::default()
        },
    )?);
    let metrics = Arc::new(Metrics::new());
    let executor = Executor::new(
        store.clone(),
        "bench",
        RunLimits::default(),
        LeaseConfig::default(),
    )?
    .with_observer(metrics.clone());
    let registry = Arc::new(Registry::open(&dir.path().join("registry"))?);
    let ledger = store.clone();
    let starting = StartingSet::load(
        &runtime,
        &registry,
        Some(plugins.as_path()),
        executor.store().as_ref(),
    )?;
    let host = Arc::new(ServedHost::new(
        executor,
        runtime,
        registry,
        Some(plugins),
        WORKERS,
        metrics,
        starting,
    ));
    let state = AppState {
        config: Arc::new(ServerConfig::new(BearerToken::new(TOKEN))),
        host,
    };
    let script = dir.path().join("process-date.lua");
    std::fs::File::create(&script)?.write_all(SCRIPT.replace("TOKEN", TOKEN).as_bytes())?;

    let served = Served::start(state, None)?;
    let address = served.address;

    let (connections, seconds): (&[u32], u32) = if effort.repeats < 10 {
        (&[2], 1)
    } else {
        (&[1, 2, 4, 16], 10)
    };
    let mut answered = 0;
    for &count in connections {
        let load = run_wrk(
            &format!("http://{address}/process-date"),
            &script,
            count,
            seconds,
        )?;
        answered += load.requests - load.failed;
        let name = format!("{count} connection{}", if count == 1 { "" } else { "s" });
        report.add(
            "http",
            format!("runs per second, {name}"),
            load.requests_per_second,
            "runs/s",
            format!(
                "{} runs in {seconds} s, {} not 200; target >= 1000 runs/s",
                load.requests, load.failed
            ),
        );
        report.add(
            "http",
            format!("p50 latency, {name}"),
            load.p50_ms,
            "ms",
            "",
        );
        report.add(
            "http",
            format!("p99 latency, {name}"),
            load.p99_ms,
            "ms",
            "",
        );
        if load.failed > 0 {
            bail!(
                "{} of {} requests at {name} did not succeed",
                load.failed,
                load.requests
            );
        }
    }
    // A 200 names the run's status; each must be a success in the history.
    let succeeded = ledger
        .runs(&RunFilter {
            processor: Some("NoopProcessor".into()),
            status: Some(RunStatus::Success),
            ..RunFilter::default()
        })?
        .len() as u64;
    report.add(
        "http",
        "runs recorded as succeeded",
        succeeded as f64,
        "runs",
        format!("of {answered} answered 200"),
    );
    if succeeded < answered {
        bail!("{answered} requests were answered 200, but only {succeeded} runs succeeded");
    }
    served.stop()
}

/// Runs `wrk` with `script` against `url` and reads its report.
fn run_wrk(
    url: &str,
    script: &std::path::Path,
    connections: u32,
    seconds: u32,
) -> anyhow::Result<Load> {
    let threads = connections.min(2);
    let output = Command::new("wrk")
        .args([
            "--latency",
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
        ])
        .args(["-d", &format!("{seconds}s"), "-s"])
        .arg(script)
        .arg(url)
        .output()
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("cannot read wrk's report:\n{text}"))
}

/// Reads requests per second, the 50th and 99th latency percentiles, the
/// request count and the failed requests out of `wrk --latency`'s report.
fn parse_wrk(text: &str) -> anyhow::Result<Load> {
    let mut load = Load::default();
    let mut seen = 0;
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(rate)) => {
                load.requests_per_second = rate.parse()?;
                seen += 1;
            }
            (Some("50%"), Some(latency)) => {
                load.p50_ms = milliseconds(latency)?;
                seen += 1;
            }
            (Some("99%"), Some(latency)) => {
                load.p99_ms = milliseconds(latency)?;
                seen += 1;
            }
            (Some(count), Some("requests")) => load.requests = count.parse()?,
            (Some("Non-2xx"), _) => {
                load.failed += line.rsplit(' ').next().unwrap_or("0").parse::<u64>()?;
            }
            (Some("Socket"), Some("errors:")) => {
                for part in line.split(',') {
                    let count = part.rsplit(' ').next().unwrap_or("0");
                    load.failed += count.parse::<u64>().unwrap_or(0);
                }
            }
            _ => {}
        }
    }
    if seen < 3 {
        bail!("no rate or latency percentiles");
    }
    Ok(load)
}

/// `wrk`'s latency (`850.00us`, `1.20ms`, `2.01s`) in milliseconds.
fn milliseconds(text: &str) -> anyhow::Result<f64> {
    let (number, factor) = if let Some(us) = text.strip_suffix("us") {
        (us, 1e-3)
    } else if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1.0)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1e3)
    } else {
        bail!("`{text}` is not a latency");
    };
    Ok(number.parse::<f64>()? * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 1s test @ http://127.0.0.1:4000/process-date
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.01ms  12.66ms   80.00%
    Req/Sec   650.50     40.12   700.00     70.00%
  Latency Distribution
     50%    2.95ms
     75%    3.50ms
     90%    4.20ms
     99%  850.00us
  1301 requests in 1.00s, 400.00KB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   1299.80
Transfer/sec:    399.00KB
";

    #[test]
    fn wrk_reports_give_the_rate_percentiles_and_failures() {
        assert_eq!(
            parse_wrk(REPORT).unwrap(),
            Load {
                requests_per_second: 1299.80,
                p50_ms: 2.95,
                p99_ms: 0.85,
                requests: 1301,
                failed: 7,
            }
        );
        assert!(parse_wrk("nothing useful").is_err());
    }

    #[test]
    fn latencies_read_in_any_unit() {
        assert_eq!(milliseconds("850.00us").unwrap(), 0.85);
        assert_eq!(milliseconds("1.5ms").unwrap(), 1.5);
        assert_eq!(milliseconds("2.00s").unwrap(), 2000.0);
        assert!(milliseconds("fast").is_err());
    }
}
