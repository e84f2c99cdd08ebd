//! Which BigQuery failures are worth another try, and how long to wait.
//!
//! Transient: HTTP 429 and 5xx, the `rateLimitExceeded`, `backendError` and
//! `internalError` reasons, a transaction aborted by a concurrent update,
//! and a connection or timeout failure. Everything else (a bad query, a
//! missing table, a bad row) is permanent and fails at once. Waits grow
//! exponentially with full jitter, so hosts that failed together do not
//! retry together.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A failed call, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFailure {
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// BigQuery's error reasons, e.g. `rateLimitExceeded`.
    pub reasons: Vec<String>,
    /// The message, in full.
    pub message: String,
    /// True when no response came (connection refused, reset, timed out).
    pub no_response: bool,
}

impl CallFailure {
    /// Whether another try may succeed.
    pub fn is_transient(&self) -> bool {
        if self.no_response {
            return true;
        }
        if matches!(self.status, Some(429) | Some(500..=599)) {
            return true;
        }
        const TRANSIENT_REASONS: [&str; 4] = [
            "rateLimitExceeded",
            "backendError",
            "internalError",
            "jobRateLimitExceeded",
        ];
        self.reasons
            .iter()
            .any(|r| TRANSIENT_REASONS.contains(&r.as_str()))
            || self.message.contains("due to concurrent update")
    }
}

/// How many tries, and the waits between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The cap of the first wait; it doubles after each try.
    pub base: Duration,
    /// No wait is longer than this.
    pub max: Duration,
    /// The most one call may take, its tries and waits together: a try
    /// still unanswered then is given up, and no try starts after it. A
    /// BigQuery that takes connections and never answers otherwise held
    /// each call for every try's whole request timeout (5 x 120 s).
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(200),
            max: Duration::from_secs(10),
            deadline: DEFAULT_CALL_DEADLINE,
        }
    }
}

/// How long one call may take by default: a request's own timeout (120 s,
/// a page of a large result) and time for a retry of a quick failure.
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(180);

impl RetryPolicy {
    /// The wait after failed try number `attempt` (1-based): a random
    /// duration up to `base * 2^(attempt-1)`, capped at `max`.
    pub fn wait(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.max);
        let micros = ceiling.as_micros() as u64;
        Duration::from_micros(rng.random_range(0..=micros))
    }

    /// Runs `call` until it succeeds, fails permanently, the tries run out
    /// or the [`RetryPolicy::deadline`] passes; each transient failure is
    /// logged with its wait.
    pub async fn run<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, CallFailure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, CallFailure>>,
    {
        let deadline = tokio::time::Instant::now() + self.deadline;
        let mut attempt = 1;
        loop {
            let answered = tokio::time::timeout_at(deadline, call()).await;
            let outcome = answered.unwrap_or_else(|_| {
                Err(CallFailure {
                    status: None,
                    reasons: vec![],
                    message: format!(
                        "no answer within {} s ({}): BigQuery takes the connection but does \
                         not answer",
                        self.deadline.as_secs_f64(),
                        match attempt {
                            1 => "1 try".to_string(),
                            tries => format!("{tries} tries"),
                        }
                    ),
                    no_response: true,
                })
            });
            match outcome {
                Ok(value) => return Ok(value),
                Err(failure)
                    if failure.is_transient()
                        && attempt < self.attempts
                        && tokio::time::Instant::now() < deadline =>
                {
                    // Jitter needs spread, not secrecy: seed from a v7
                    // uuid's random bits.
                    let seed = uuid::Uuid::now_v7().as_u64_pair().1;
                    let wait = self.wait(attempt, &mut StdRng::seed_from_u64(seed));
                    let wait = wait.min(deadline - tokio::time::Instant::now());
                    tracing::warn!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "BigQuery {what} failed, retrying: {}",
                        failure.message
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(failure) => return Err(failure),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: Option<u16>, reasons: &[&str], message: &str) -> CallFailure {
        CallFailure {
            status,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            message: message.to_string(),
            no_response: false,
        }
    }

    #[test]
    fn rate_limits_server_errors_and_lost_connections_are_transient() {
        assert!(failure(Some(429), &[], "Too Many Requests").is_transient());
        assert!(failure(Some(503), &[], "Service Unavailable").is_transient());
        assert!(failure(Some(403), &["rateLimitExceeded"], "Exceeded rate limits").is_transient());
        assert!(
            failure(
                Some(400),
                &[],
                "Could not serialize access to table t due to concurrent update"
            )
            .is_transient()
        );
        let lost = CallFailure {
            no_response: true,
            ..failure(None, &[], "connection refused")
        };
        assert!(lost.is_transient());
    }

    #[test]
    fn bad_queries_missing_tables_and_bad_rows_are_permanent() {
        assert!(!failure(Some(400), &["invalidQuery"], "Syntax error").is_transient());
        assert!(!failure(Some(404), &["notFound"], "Not found: table").is_transient());
        assert!(!failure(Some(400), &["invalid"], "Failed to cast value").is_transient());
        assert!(!failure(Some(403), &["accessDenied"], "Access Denied").is_transient());
    }

    #[test]
    fn waits_grow_exponentially_with_full_jitter_up_to_the_cap() {
        let policy = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for attempt in 1..=8 {
            let ceiling = Duration::from_millis((100u64 << (attempt - 1)).min(1000));
            let waits: Vec<Duration> = (0..200).map(|_| policy.wait(attempt, &mut rng)).collect();
            assert!(waits.iter().all(|w| *w <= ceiling), "attempt {attempt}");
            // Jitter: the waits spread over the range rather than repeat.
            assert!(waits.iter().any(|w| *w < ceiling / 4), "attempt {attempt}");
            assert!(
                waits.iter().any(|w| *w > ceiling * 3 / 4),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn a_transient_failure_is_retried_and_a_permanent_one_is_not() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let policy = RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
            ..RetryPolicy::default()
        };
        let mut calls = 0;
        let result = runtime.block_on(policy.run("test", || {
            calls += 1;
            let outcome = if calls < 3 {
                Err(failure(Some(503), &[], "unavailable"))
            } else {
                Ok(calls)
            };
            async move { outcome }
        }));
        assert_eq!(result, Ok(3));

        let mut calls = 0;
        let result: Result<(), _> = runtime.block_on(policy.run("test", || {
            calls += 1;
            async { Err(failure(Some(400), &["invalidQuery"], "bad")) }
        }));
        assert_eq!(calls, 1);
        assert_eq!(result.unwrap_err().message, "bad");

        let mut calls = 0;
        let result: Result<(), _> = runtime.block_on(policy.run("test", || {
            calls += 1;
            async { Err(failure(Some(429), &[], "slow down")) }
        }));
        assert_eq!(calls, 4, "gives up after the last try");
        assert!(result.is_err());
    }
}
