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

/// A proxy in front of the emulator that loses answers: a request whose
/// body holds one of its words is passed on and done, but its client gets
/// a 503 instead of the answer, as from a BigQuery whose answer was lost
/// on the way back. Each word loses one answer.
pub struct LosingProxy {
    /// The proxy's endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The words whose answer is still to be lost.
    words: Arc<std::sync::Mutex<Vec<&'static str>>>,
}

const LOST_ANSWER: &str = r#"{"error":{"code":503,"message":"the answer was lost","errors":[{"reason":"backendError","message":"the answer was lost"}],"status":"UNAVAILABLE"}}"#;

impl LosingProxy {
    /// Starts a proxy to the emulator losing one answer to a request
    /// holding each of `words`.
    pub fn start(words: &[&'static str]) -> LosingProxy {
        use std::io::{BufRead, BufReader, Read, Write};
        let upstream = endpoint().trim_start_matches("http://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let words = Arc::new(std::sync::Mutex::new(words.to_vec()));
        let to_lose = words.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let (upstream, to_lose) = (upstream.clone(), to_lose.clone());
                std::thread::spawn(move || -> std::io::Result<()> {
                    let mut client = client?;
                    let mut reader = BufReader::new(client.try_clone()?);
                    // The head, with `Connection: close` so that the answer
                    // ends where the upstream closes.
                    let mut head = String::new();
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line)? == 0 {
                            return Ok(());
                        }
                        let lowered = line.to_ascii_lowercase();
                        if let Some(value) = lowered.strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            head.push_str("Connection: close\r\n\r\n");
                            break;
                        }
                        if !lowered.starts_with("connection:") {
                            head.push_str(&line);
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body)?;
                    let mut server = std::net::TcpStream::connect(&upstream)?;
                    server.write_all(head.as_bytes())?;
                    server.write_all(&body)?;
                    let mut answer = Vec::new();
                    server.read_to_end(&mut answer)?;
                    let text = String::from_utf8_lossy(&body);
                    let lost = {
                        let mut words = to_lose.lock().unwrap();
                        let found = words.iter().position(|word| text.contains(word));
                        found.map(|at| words.remove(at)).is_some()
                    };
                    if lost {
                        write!(
                            client,
                            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{LOST_ANSWER}",
                            LOST_ANSWER.len()
                        )?;
                    } else {
                        client.write_all(&answer)?;
                    }
                    Ok(())
                });
            }
        });
        LosingProxy { endpoint, words }
    }

    /// The words whose answer was not lost yet: none, once each was.
    pub fn words_left(&self) -> Vec<&'static str> {
        self.words.lock().unwrap().clone()
    }

    /// A store on the emulator through this proxy, in datasets of its own.
    pub fn store(&self) -> Arc<BigQueryStore> {
        let mut config = isolated_config();
        config.endpoint = self.endpoint.clone();
        Arc::new(BigQueryStore::connect(&config).expect("connect through the proxy"))
    }
}
