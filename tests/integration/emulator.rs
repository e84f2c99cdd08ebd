//! The BigQuery emulator the BigQuery tests run against.
//!
//! `BIGQUERY_EMULATOR_HOST` names a running one (CI's `.ci/run` starts it
//! with `scripts/bigquery-emulator.sh start`). Without it, the tests use one
//! answering on 127.0.0.1:9050, or start it with that script, and stop it
//! again when the test binary exits. A test never skips: when no emulator
//! can be reached or started, it fails and says why.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use slate::store::bigquery::RetryPolicy;
use slate::store::{BigQueryConfig, BigQueryStore};

const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9050";

/// The project the emulator serves.
pub const PROJECT: &str = "test-project";

/// Runs `scripts/bigquery-emulator.sh` with `command` (`start` or `stop`).
fn emulator_script(command: &str) -> std::io::Result<std::process::Output> {
    crate::support::run_script("bigquery-emulator.sh", command)
}

fn answers(endpoint: &str) -> bool {
    let address = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let Ok(mut addresses) = std::net::ToSocketAddrs::to_socket_addrs(&address) else {
        return false;
    };
    addresses.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

/// Stops the emulator this test run started, when the test binary exits:
/// one a developer or CI started is theirs to stop, and is left alone.
fn stop_at_exit() {
    extern "C" fn stop() {
        let _ = emulator_script("stop");
    }
    crate::support::at_exit(stop);
}

/// The emulator's endpoint, starting it once if needed.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(host) = std::env::var("BIGQUERY_EMULATOR_HOST") {
            let endpoint = if host.contains("://") {
                host
            } else {
                format!("http://{host}")
            };
            assert!(
                answers(&endpoint),
                "BIGQUERY_EMULATOR_HOST={endpoint} does not answer; start it with \
                 `scripts/bigquery-emulator.sh start`"
            );
            return endpoint;
        }
        if !answers(DEFAULT_ENDPOINT) {
            let output = emulator_script("start").expect("run scripts/bigquery-emulator.sh");
            assert!(
                output.status.success(),
                "no BigQuery emulator on {DEFAULT_ENDPOINT}, and starting one failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            stop_at_exit();
        }
        DEFAULT_ENDPOINT.to_string()
    })
}

/// A configuration whose datasets no other test uses: every dataset,
/// history included, gets a prefix unique to this call.
pub fn isolated_config() -> BigQueryConfig {
    let mut config = BigQueryConfig::emulator(endpoint(), PROJECT);
    config.dataset_prefix = format!("t{}_", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    config.retry = RetryPolicy {
        attempts: 3,
        base: Duration::from_millis(50),
        max: Duration::from_millis(500),
        ..RetryPolicy::default()
    };
    config
}

/// A BigQuery store on the emulator, in datasets of its own.
pub fn isolated_store() -> Arc<BigQueryStore> {
    Arc::new(BigQueryStore::connect(&isolated_config()).expect("connect to the BigQuery emulator"))
}
