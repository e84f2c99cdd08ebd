//! How the PostgreSQL pool opens connections, and what it says when it
//! cannot. postgres's error text is only "db error", its reason being its
//! source, and r2d2 retries a failed connection until its timeout and, by
//! default, logs every try: with the database gone, a server's loops made
//! several lines a second of "db error", naming nothing.
//!
//! - [`Connector`] opens connections as postgres's own manager does, and
//!   its errors carry their causes ("database \"x\" does not exist"),
//!   also in the error a timed-out check-out returns;
//! - [`ConnectErrors`] logs the first failure, then at most one line per
//!   [`QUIET_FOR`], counting those it held back;
//! - each new connection first makes sure Slate's tables are there
//!   ([`EnsureSchema`]), so a database dropped and created again, empty,
//!   gets them back without a restart of every host.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

/// How long after a logged failure the next ones are only counted.
pub const QUIET_FOR: Duration = Duration::from_secs(30);

/// `error` and each of its sources, joined by `: `: postgres's own text
/// is only "db error", and the server's reason is its source.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut why = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        why.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    why
}

/// A connection that could not be opened: its error and every cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(String);

impl From<postgres::Error> for ConnectError {
    fn from(error: postgres::Error) -> Self {
        ConnectError(with_causes(&error))
    }
}

/// Creates what a pool's users need in the database when it is missing,
/// and does nothing (one cheap query) when it is there.
pub type EnsureSchema = fn(&mut postgres::Client) -> Result<(), postgres::Error>;

/// Opens the pool's connections with postgres's own manager, each made
/// sure of its schema; its errors say why.
pub struct Connector {
    manager: PostgresConnectionManager<NoTls>,
    ensure_schema: EnsureSchema,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Connector").field(&self.manager).finish()
    }
}

impl Connector {
    /// A connector to the database `config` names, which runs
    /// `ensure_schema` on each connection it opens.
    pub fn new(config: postgres::Config, ensure_schema: EnsureSchema) -> Self {
        Connector {
            manager: PostgresConnectionManager::new(config, NoTls),
            ensure_schema,
        }
    }
}

impl r2d2::ManageConnection for Connector {
    type Connection = postgres::Client;
    type Error = ConnectError;

    fn connect(&self) -> Result<postgres::Client, ConnectError> {
        let mut client = self.manager.connect()?;
        if (self.ensure_schema)(&mut client).is_ok() {
            return Ok(client);
        }
        // Once more on a new connection: one its database's drop ended as
        // it connected says only "connection closed" or "terminating
        // connection due to administrator command", where a new one says
        // why ("database \"x\" does not exist"). A real failure to set up
        // fails again, and is told.
        let mut client = self.manager.connect()?;
        (self.ensure_schema)(&mut client)?;
        Ok(client)
    }

    fn is_valid(&self, connection: &mut postgres::Client) -> Result<(), ConnectError> {
        Ok(self.manager.is_valid(connection)?)
    }

    fn has_broken(&self, connection: &mut postgres::Client) -> bool {
        self.manager.has_broken(connection)
    }
}

/// The pool's error handler, for the database at `url` (redacted).
#[derive(Debug)]
pub struct ConnectErrors {
    url: String,
    /// When a failure was last logged, and how many were held back since.
    logged: Mutex<Option<(Instant, usize)>>,
}

impl ConnectErrors {
    /// A handler naming the database at `redacted_url`.
    pub fn new(redacted_url: String) -> Self {
        ConnectErrors {
            url: redacted_url,
            logged: Mutex::new(None),
        }
    }

    /// Whether a failure at `now` is logged, and if so how many were held
    /// back before it; counts it otherwise.
    fn log_now(&self, now: Instant) -> Option<usize> {
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        match logged.as_mut() {
            Some((at, held_back)) if now.duration_since(*at) < QUIET_FOR => {
                *held_back += 1;
                None
            }
            Some((_, held_back)) => {
                let before = *held_back;
                *logged = Some((now, 0));
                Some(before)
            }
            None => {
                *logged = Some((now, 0));
                Some(0)
            }
        }
    }
}

impl r2d2::HandleError<ConnectError> for ConnectErrors {
    fn handle_error(&self, why: ConnectError) {
        let Some(held_back) = self.log_now(Instant::now()) else {
            return;
        };
        match held_back {
            0 => tracing::error!(url = %self.url, "cannot connect to PostgreSQL: {why}"),
            _ => tracing::error!(
                url = %self.url,
                "cannot connect to PostgreSQL: {why} ({held_back} more failures in the last \
                 {}s)",
                QUIET_FOR.as_secs()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_logged_then_one_a_quiet_period_with_the_count_held_back() {
        let errors = ConnectErrors::new("postgres://h/db".into());
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);

        assert_eq!(errors.log_now(at(0)), Some(0));
        for second in 1..30 {
            assert_eq!(errors.log_now(at(second)), None, "second {second}");
        }
        assert_eq!(errors.log_now(at(30)), Some(29));
        assert_eq!(errors.log_now(at(31)), None);
        assert_eq!(errors.log_now(at(75)), Some(1));
    }

    #[test]
    fn a_failure_names_its_cause_not_only_db_error() {
        let io = std::io::Error::other("database \"gone\" does not exist");
        #[derive(Debug, thiserror::Error)]
        #[error("db error")]
        struct DbError(#[source] std::io::Error);
        assert_eq!(
            with_causes(&DbError(io)),
            "db error: database \"gone\" does not exist"
        );
    }
}
