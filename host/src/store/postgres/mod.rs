//! The PostgreSQL store: run state and tables in one PostgreSQL database,
//! shared by every host that connects to it.
//!
//! The host's bookkeeping lives in the schema `_slate`, which no processor
//! may name: `_slate.tables` (each table's schema and owner),
//! `_slate.table_transfers`, `_slate.runs` (run history, claims and leases)
//! and `_slate.quarantine`. A processor's table `dataset.table` is the
//! PostgreSQL table `table` in the schema `dataset`, with native column
//! types (`values`).
//!
//! What makes several hosts safe on one database:
//! - a claim is a partial unique index on the running (processor, date),
//!   taken with `INSERT ... ON CONFLICT DO NOTHING RETURNING`;
//! - a commit locks its run's row first, so a reaper waits for it and then
//!   finds the run no longer `running`;
//! - reaping is one `UPDATE ... RETURNING`, so two reapers fail a run once;
//! - a write bumps each date's version (`_slate.partition_versions`, from
//!   one sequence), so a host's cache of partitions already read
//!   (`read_cache`) reads again a date any host rewrote;
//! - creating, migrating and dropping a table take a transaction-scoped
//!   advisory lock on its name, so two hosts never race on its DDL;
//! - every state change is one transaction.
//!
//! - `tables.rs`: creating, migrating, reading and replacing tables, and
//!   who owns them ([`super::Tables`]);
//! - `runs.rs`: claims, leases, commits and run history ([`super::RunLedger`]);
//! - `alerts.rs`: the alert outbox those state changes write into
//!   ([`super::alerts::AlertOutbox`]), shared by every host;
//! - `hosts.rs`: the hosts serving, with their heartbeats
//!   ([`super::hosts::HostDirectory`]);
//! - `schedules.rs`: schedule ticks, each claimed by one host
//!   ([`super::schedules::TickLedger`]);
//! - `values.rs`: how typed values are kept in PostgreSQL columns;
//! - `connector.rs`: how the pool opens connections, and what it says when
//!   it cannot;
//! - `work_queue.rs`: backfill tasks every host takes
//!   ([`super::work_queue::WorkQueue`]).

mod alerts;
pub(crate) mod connector;
mod hosts;
mod runs;
mod schedules;
mod tables;
mod values;
mod work_queue;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDate;
use postgres::NoTls;

use super::StoreError;
use super::read_cache::{DEFAULT_READ_CACHE_BYTES, ReadCache};

/// The host's bookkeeping tables, created when a store connects. Every
/// statement is idempotent, so hosts may connect at once.
const SETUP: &str = "
    CREATE SCHEMA IF NOT EXISTS _slate;
    CREATE TABLE IF NOT EXISTS _slate.tables (
        table_name TEXT PRIMARY KEY,
        schema_json TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        owner_kind TEXT,
        owner_name TEXT,
        owner_since TIMESTAMPTZ
    );
    CREATE TABLE IF NOT EXISTS _slate.table_transfers (
        transfer_id BIGSERIAL PRIMARY KEY,
        table_name TEXT NOT NULL,
        from_kind TEXT,
        from_name TEXT,
        to_kind TEXT NOT NULL,
        to_name TEXT,
        transferred_at TIMESTAMPTZ NOT NULL,
        transferred_by TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _slate.runs (
        run_id TEXT PRIMARY KEY,
        processor TEXT NOT NULL,
        data_date DATE NOT NULL,
        attempt BIGINT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        error_kind TEXT,
        error_message TEXT,
        started_at TIMESTAMPTZ NOT NULL,
        heartbeat_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        duration_ms BIGINT,
        rows_read BIGINT NOT NULL DEFAULT 0,
        rows_written BIGINT NOT NULL DEFAULT 0,
        host_id TEXT NOT NULL,
        plugin_hash TEXT NOT NULL,
        run_trigger TEXT NOT NULL,
        lease_expires_at TIMESTAMPTZ NOT NULL,
        limit_value BIGINT,
        observed_value BIGINT,
        log_lines_dropped BIGINT NOT NULL DEFAULT 0,
        flag TEXT,
        peak_memory_bytes BIGINT NOT NULL DEFAULT 0,
        upstream_check_json TEXT,
        rows_with_quality_issues BIGINT NOT NULL DEFAULT 0,
        phase BIGINT
    );
    -- Runs recorded before run history kept their processor's phase have none.
    ALTER TABLE _slate.runs ADD COLUMN IF NOT EXISTS phase BIGINT;
    CREATE UNIQUE INDEX IF NOT EXISTS runs_one_running
        ON _slate.runs (processor, data_date) WHERE status = 'running';
    CREATE INDEX IF NOT EXISTS runs_by_date ON _slate.runs (data_date, processor);
    CREATE INDEX IF NOT EXISTS runs_by_processor ON _slate.runs (processor, data_date);
    CREATE INDEX IF NOT EXISTS runs_by_change
        ON _slate.runs ((COALESCE(finished_at, started_at)));
    CREATE INDEX IF NOT EXISTS runs_running_by_lease
        ON _slate.runs (lease_expires_at) WHERE status = 'running';
    CREATE SEQUENCE IF NOT EXISTS _slate.partition_version;
    CREATE TABLE IF NOT EXISTS _slate.partition_versions (
        table_name TEXT NOT NULL,
        data_date DATE NOT NULL,
        version BIGINT NOT NULL,
        PRIMARY KEY (table_name, data_date)
    );
    CREATE TABLE IF NOT EXISTS _slate.quarantine (
        run_id TEXT NOT NULL,
        processor TEXT NOT NULL,
        data_date DATE NOT NULL,
        table_name TEXT NOT NULL,
        row_index BIGINT NOT NULL,
        errors_json TEXT NOT NULL,
        raw_row_json TEXT NOT NULL,
        quarantined_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (run_id, row_index)
    );
";

/// The connections a store keeps open at most, by default: enough for
/// `slate serve`'s workers, the lease renewer and the reaper at once.
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// PostgreSQL's errors, kept whole as the backend's failure. The server's
/// own message (its SQLSTATE, text and detail) is what the error says:
/// the client's alone reads "db error". The database going away (shut
/// down, restarting, or the connection lost) is
/// [`StoreError::Unreachable`], which is worth trying again.
impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) => {
                let said = format!(
                    "PostgreSQL {}: {}{}",
                    db.code().code(),
                    db.message(),
                    db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                );
                if going_away(db.code()) {
                    StoreError::Unreachable(said)
                } else if *db.code() == postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION {
                    StoreError::read_only(said)
                } else if *db.code() == postgres::error::SqlState::DISK_FULL {
                    StoreError::full(said)
                } else {
                    StoreError::backend(said)
                }
            }
            None if connection_lost(&error) => {
                StoreError::Unreachable(format!("the connection to PostgreSQL was lost: {error}"))
            }
            None => StoreError::backend(error),
        }
    }
}

/// Whether the server said it is going away or cannot take the
/// connection: the connection exceptions (class 08), and an administrator's
/// or a shutdown's end of the session, or a server still starting (57P01
/// to 57P03).
fn going_away(code: &postgres::error::SqlState) -> bool {
    use postgres::error::SqlState;
    code.code().starts_with("08")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
        ]
        .contains(code)
}

/// Whether `error` is the connection failing (closed by the server, or
/// broken on the wire) rather than the statement: what a database going
/// down mid-statement gives, where a pooled connection's next use would
/// wait for the database instead.
fn connection_lost(error: &postgres::Error) -> bool {
    error.is_closed()
        || std::error::Error::source(error).is_some_and(|source| source.is::<std::io::Error>())
}

impl From<r2d2::Error> for StoreError {
    fn from(error: r2d2::Error) -> Self {
        StoreError::Unreachable(format!("no PostgreSQL connection: {error}"))
    }
}

/// A pool of connections to one database.
pub(crate) type Pool = r2d2::Pool<connector::Connector>;

/// A pool of at most `size` connections to the database at `url`, which
/// opens them as they are needed.
pub(crate) fn pool(
    url: &str,
    size: u32,
    ensure_schema: connector::EnsureSchema,
) -> Result<Pool, StoreError> {
    let mut config: postgres::Config = url.parse().map_err(|e| {
        StoreError::backend(format!("`{}` is not a PostgreSQL URL: {e}", redacted(url)))
    })?;
    bound_the_network(&mut config);
    // One connection first, whose error says why (the pool's says only
    // "db error"): no such database, no such role, the port refusing, or
    // Slate's tables that could not be made.
    outside_any_runtime(|| {
        let mut client = config.connect(NoTls).map_err(|e| ("reach", e))?;
        ensure_schema(&mut client).map_err(|e| ("set up Slate's tables in", e))
    })
    .map_err(|(could_not, e)| {
        StoreError::backend(format!(
            "cannot {could_not} PostgreSQL at {}: {}",
            redacted(url),
            connector::with_causes(&e)
        ))
    })?;
    let manager = connector::Connector::new(config, ensure_schema);
    outside_any_runtime(|| {
        r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(0))
            // A round trip saved on every operation: a connection the
            // server closed is noticed when it is returned, and dropped.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .error_handler(Box::new(connector::ConnectErrors::new(redacted(url))))
            .build(manager)
    })
    .map_err(|e| StoreError::backend(format!("cannot reach PostgreSQL at {}: {e}", redacted(url))))
}

/// How long a connection may take to open, unless the URL says.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may sit idle before TCP asks whether its server
/// is still there, how often after that, and how many unanswered asks
/// drop it; and how long data sent may go unacknowledged. Together: a
/// server behind a broken network, or on a machine gone, is noticed within
/// about 30 s, where TCP's own defaults (two hours of idle, then minutes of
/// retransmissions) left a heartbeat or a request waiting that long.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(15);
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVES_RETRIES: u32 = 3;
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// The network bounds above, on `config`, for each the URL did not set
/// itself (`connect_timeout`, `keepalives_idle`, `tcp_user_timeout`, ...).
/// They bound a server the network lost; a server that still acknowledges
/// but does not answer (overloaded, or stopped) is bounded by the URL's
/// own `options=-c statement_timeout=...` (see the README).
fn bound_the_network(config: &mut postgres::Config) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // A URL that set none of the keepalive settings gets them all: TCP's
    // idle default is two hours, which no URL asks for by accident.
    if config.get_keepalives()
        && config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60)
        && config.get_keepalives_interval().is_none()
        && config.get_keepalives_retries().is_none()
    {
        config
            .keepalives_idle(KEEPALIVES_IDLE)
            .keepalives_interval(KEEPALIVES_INTERVAL)
            .keepalives_retries(KEEPALIVES_RETRIES);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
}

/// Tables and run history in one PostgreSQL database.
pub struct PostgresStore {
    pool: Pool,
    /// Partitions already read as column batches.
    read_cache: ReadCache,
    /// The version of each partition when this store last read it, by
    /// table: a date whose version moved is read again.
    versions_read: Mutex<HashMap<String, BTreeMap<NaiveDate, i64>>>,
}

/// A lease in seconds, as `make_interval` takes it: at most a century.
fn lease_seconds(lease: Duration) -> f64 {
    lease.as_secs_f64().min(100.0 * 365.25 * 86_400.0)
}

/// An identifier quoted for PostgreSQL.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The setups of the store's tables, in order.
const SETUPS: [&str; 5] = [
    SETUP,
    schedules::SETUP,
    work_queue::SETUP,
    hosts::SETUP,
    alerts::SETUP,
];

/// Creates (and migrates) the store's tables, unless this very code set
/// them up before: run on every connection the pool opens, so a database
/// dropped and created again, empty, gets them back at the next one.
fn ensure_schema(client: &mut postgres::Client) -> Result<(), postgres::Error> {
    set_up_once(client, "_slate.setup", &SETUPS)
}

/// Runs `setups` in one transaction under the advisory lock `lock`, then
/// records them done by their fingerprint (a hash of their text); a
/// database where it is recorded is only read. So a host leaves alone a database set up by this very code: its
/// DDL (`CREATE INDEX IF NOT EXISTS` takes a share lock on the run table
/// before it finds the index there) would queue behind any open write
/// transaction, and every host's run claims and lease renewals behind it.
/// And a server that takes no writes (a standby) can be read: DDL, even
/// of what exists, is refused there.
pub(crate) fn set_up_once(
    client: &mut postgres::Client,
    lock: &str,
    setups: &[&str],
) -> Result<(), postgres::Error> {
    let fingerprint: String = {
        use sha2::Digest;
        (sha2::Sha256::digest(setups.concat().as_bytes()).iter())
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let done = client
        .query_one("SELECT to_regclass('_slate.setup_done') IS NOT NULL", &[])?
        .get::<_, bool>(0)
        && client
            .query_opt(
                "SELECT 1 FROM _slate.setup_done WHERE fingerprint = $1",
                &[&fingerprint],
            )?
            .is_some();
    if done {
        return Ok(());
    }
    // Two hosts creating the schema at once would race in the catalog: the
    // first takes this lock, the second then finds everything made.
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lock])?;
    for setup in setups {
        transaction.batch_execute(setup)?;
    }
    transaction.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS _slate;
         CREATE TABLE IF NOT EXISTS _slate.setup_done (fingerprint TEXT PRIMARY KEY)",
    )?;
    transaction.execute(
        "INSERT INTO _slate.setup_done (fingerprint) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&fingerprint],
    )?;
    transaction.commit()
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`)
    /// and creates the host's bookkeeping tables if they are missing.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_pool(url, DEFAULT_POOL_SIZE)
    }

    /// Like [`PostgresStore::connect`], keeping at most `size` connections.
    pub fn connect_with_pool(url: &str, size: u32) -> Result<Self, StoreError> {
        Ok(PostgresStore {
            pool: pool(url, size, ensure_schema)?,
            read_cache: ReadCache::new(DEFAULT_READ_CACHE_BYTES),
            versions_read: Mutex::default(),
        })
    }

    /// Runs `work` with a pooled connection, as [`on_a_live_connection`]
    /// does.
    fn with_client<T: Send>(
        &self,
        work: impl FnMut(&mut postgres::Client) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        on_a_live_connection(&self.pool, work)
    }
}

/// Runs `work` with a connection from `pool`. A pooled connection the
/// server has closed meanwhile (the server restarted, or an administrator
/// ended it) is found only when it is used: `work` then fails on it, and
/// runs again on another, until one is live. Each closed connection is
/// dropped from the pool as it is returned. Without this, one failover
/// fails the next operations of every host, and an operation that ends a
/// run leaves the run `running`, to be reaped later as if its host had
/// died. A closed connection's transaction was never committed, so running
/// `work` again is safe; a commit whose reply was lost finds its run
/// already ended, which every caller takes as done. The synchronous client
/// drives its own runtime, which cannot start inside another: called from
/// async code, `work` runs on a helper thread.
pub(crate) fn on_a_live_connection<T: Send, E: From<r2d2::Error> + Send>(
    pool: &Pool,
    mut work: impl FnMut(&mut postgres::Client) -> Result<T, E> + Send,
) -> Result<T, E> {
    outside_any_runtime(|| {
        // Every idle connection may have been closed at once: one more
        // attempt than the pool holds reaches a fresh one.
        let mut attempts_left = pool.max_size() + 1;
        loop {
            let mut client = pool.get()?;
            let done = work(&mut client);
            attempts_left -= 1;
            // A connection the server ended (57P01, an administrator or a
            // failover) can fail `work` before the client has noticed it
            // closed: a failure on one that no longer answers is retried
            // too, on another.
            let mut gone = || client.is_closed() || client.is_valid(LIVENESS_CHECK).is_err();
            if done.is_ok() || attempts_left == 0 || !gone() {
                return done;
            }
            tracing::debug!("a pooled PostgreSQL connection was closed; trying another");
        }
    })
}

/// How long a failed operation's connection has to answer a ping before it
/// is taken for closed.
const LIVENESS_CHECK: Duration = Duration::from_secs(2);

/// Runs `work` on this thread, or on a helper thread when this one is
/// inside a tokio runtime, where the synchronous client may not block.
pub(crate) fn outside_any_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| {
            scope
                .spawn(work)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    } else {
        work()
    }
}

/// `url` without its password, to be shown ([`without_password`]).
pub fn redacted(url: &str) -> String {
    without_password(url, "***")
}

/// `state`, a PostgreSQL connection string in either form libpq takes,
/// with its password replaced by `mask`: in a URL, the one after the user
/// name and a `password` query parameter; in `key=value` words, the value
/// of `password`.
pub fn without_password(state: &str, mask: &str) -> String {
    match url::Url::parse(state) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some(mask));
            }
            if url.query_pairs().any(|(key, _)| key == "password") {
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(key, value)| match key == "password" {
                        true => (key.into_owned(), mask.to_string()),
                        false => (key.into_owned(), value.into_owned()),
                    })
                    .collect();
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
            url.to_string()
        }
        Err(_) => without_conninfo_password(state, mask),
    }
}

/// `conninfo`, libpq's `key=value` words (a value may be quoted in single
/// quotes, and `=` may stand between spaces), with the value of
/// `password` replaced by `mask`.
fn without_conninfo_password(conninfo: &str, mask: &str) -> String {
    let mut out = String::with_capacity(conninfo.len());
    let mut rest = conninfo;
    while let Some(at) = rest.find("password") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let after_key = &from["password".len()..];
        let key_starts_a_word = before.chars().next_back().is_none_or(char::is_whitespace);
        let value = after_key.trim_start();
        match (key_starts_a_word, value.strip_prefix('=')) {
            (true, Some(value)) => {
                let value = value.trim_start();
                let length = match value.strip_prefix('\'') {
                    // Up to the closing quote; `\'` inside is a quote.
                    Some(quoted) => {
                        let mut end = quoted.len();
                        let mut chars = quoted.char_indices();
                        while let Some((i, c)) = chars.next() {
                            match c {
                                '\\' => {
                                    chars.next();
                                }
                                '\'' => {
                                    end = i + 1;
                                    break;
                                }
                                _ => {}
                            }
                        }
                        1 + end
                    }
                    None => value.find(char::is_whitespace).unwrap_or(value.len()),
                };
                out.push_str("password=");
                out.push_str(mask);
                rest = &value[length..];
            }
            _ => {
                out.push_str("password");
                rest = after_key;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_notices_a_lost_server_unless_its_url_says_otherwise() {
        let bounded = |url: &str| {
            let mut config: postgres::Config = url.parse().unwrap();
            bound_the_network(&mut config);
            config
        };
        let plain = bounded("postgres://slate@db/slate");
        assert_eq!(plain.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(plain.get_keepalives_idle(), KEEPALIVES_IDLE);
        assert_eq!(plain.get_keepalives_interval(), Some(KEEPALIVES_INTERVAL));
        assert_eq!(plain.get_keepalives_retries(), Some(KEEPALIVES_RETRIES));
        assert_eq!(plain.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));

        let own = bounded(
            "postgres://slate@db/slate?connect_timeout=3&keepalives_idle=60&tcp_user_timeout=9",
        );
        assert_eq!(own.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(own.get_keepalives_idle(), Duration::from_secs(60));
        assert_eq!(own.get_keepalives_interval(), None);
        assert_eq!(own.get_tcp_user_timeout(), Some(&Duration::from_secs(9)));
        let without = bounded("postgres://slate@db/slate?keepalives=0");
        assert!(!without.get_keepalives());
    }

    #[test]
    fn a_shown_url_hides_its_password_only() {
        assert_eq!(
            redacted("postgres://slate:secret@db:5432/slate"),
            "postgres://slate:***@db:5432/slate"
        );
        assert_eq!(
            redacted("postgres://slate@db/slate"),
            "postgres://slate@db/slate"
        );
        assert_eq!(redacted("host=db user=slate"), "host=db user=slate");
        for (state, shown) in [
            (
                "postgres://slate@db/slate?password=s3cr3t&sslmode=disable",
                "postgres://slate@db/slate?password=PASSWORD&sslmode=disable",
            ),
            (
                "host=db user=slate password=s3cr3t dbname=slate",
                "host=db user=slate password=PASSWORD dbname=slate",
            ),
            (
                "host=db password = 'it\\'s s3cr3t' dbname=slate",
                "host=db password=PASSWORD dbname=slate",
            ),
            ("host=db passwordless=1", "host=db passwordless=1"),
        ] {
            assert_eq!(without_password(state, "PASSWORD"), shown, "{state}");
        }
    }
}
