//! The PostgreSQL server the PostgreSQL tests run against.
//!
//! `SLATE_TEST_POSTGRES_URL` names a running one (CI's `.ci/run` starts it
//! with `scripts/postgres.sh start`). Without it, the tests use the one that
//! script runs, starting it if it is not running and then stopping it when
//! the test binary exits. A test never skips:
//! when no server can be reached or started, it fails and says why. Each
//! test gets a database of its own.

use std::sync::{Arc, OnceLock};

use slate::store::PostgresStore;

/// Runs `scripts/postgres.sh` with `command`.
fn server_script(command: &str) -> std::io::Result<std::process::Output> {
    crate::support::run_script("postgres.sh", command)
}

/// Stops the server this test run started, when the test binary exits.
fn stop_at_exit() {
    extern "C" fn stop() {
        let _ = server_script("stop");
    }
    crate::support::at_exit(stop);
}

/// The URL of the server's `slate` database, starting the server once if needed.
pub fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("SLATE_TEST_POSTGRES_URL") {
            return url;
        }
        // One a developer started is theirs to stop, and is left alone.
        let already_running = server_script("status").is_ok_and(|o| o.status.success());
        let output = server_script("start").expect("run scripts/postgres.sh");
        assert!(
            output.status.success(),
            "no PostgreSQL server, and `scripts/postgres.sh start` failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if !already_running {
            stop_at_exit();
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("SLATE_TEST_POSTGRES_URL="))
            .expect("scripts/postgres.sh prints the URL")
            .to_string()
    })
}

/// The URL of a new, empty database no other test uses.
pub fn isolated_url() -> String {
    let url = server_url();
    let name = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[16..]);
    let mut admin = postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let (base, _) = url.rsplit_once('/').expect("the URL names a database");
    format!("{base}/{name}")
}

/// A PostgreSQL store in a database of its own.
pub fn isolated_store() -> Arc<PostgresStore> {
    Arc::new(PostgresStore::connect(&isolated_url()).expect("connect to PostgreSQL"))
}
