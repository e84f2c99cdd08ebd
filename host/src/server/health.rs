//! `GET /health` (the `slate health` report as JSON; 503 when unhealthy)
//! and `GET /metrics` (Prometheus text format).
//!
//! Load balancers poll `/health`, so it must be cheap: the report is built
//! once and served to every caller for `health_ttl` (2 s by default); while
//! one is being built, callers wait for it rather than build their own.
//! `?fresh=1` builds a new one at once, for operators.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;
use super::extract::{NoParams, Params, flag_param, only_params};
use super::state::AppState;
use crate::health::{HealthReport, report};

/// The latest health report and when it was built. Built by one caller at
/// a time: the lock is held while building, so concurrent callers wait
/// for that report instead of each building their own.
#[derive(Default)]
pub struct HealthCache {
    latest: tokio::sync::Mutex<Option<(Instant, Arc<HealthReport>)>>,
}

impl HealthCache {
    /// The cached report if it is younger than `ttl` and `fresh` is not
    /// asked for; otherwise a new one, built by `build`, cached.
    pub async fn report<F>(
        &self,
        ttl: Duration,
        fresh: bool,
        build: impl FnOnce() -> F,
    ) -> Result<Arc<HealthReport>, ApiError>
    where
        F: Future<Output = Result<HealthReport, ApiError>>,
    {
        let mut latest = self.latest.lock().await;
        if !fresh
            && let Some((built, cached)) = latest.as_ref()
            && built.elapsed() < ttl
        {
            return Ok(cached.clone());
        }
        let report = Arc::new(build().await?);
        *latest = Some((Instant::now(), report.clone()));
        Ok(report)
    }
}

/// `GET /health[?fresh=1]`.
pub async fn health(
    State(state): State<AppState>,
    Params(query): Params,
) -> Result<Response, ApiError> {
    only_params(&query, &["fresh"])?;
    let fresh = flag_param(&query, "fresh")?;
    let channels = state.config.alert_channel_names();
    let deadline = state.config.settings().alerts.no_rows_deadline;
    let build = || {
        state.blocking(move |host| {
            let pipeline = host.pipeline().map_err(cannot_check)?;
            report(host.store.as_ref(), &pipeline, chrono::Utc::now(), deadline)
                .and_then(|r| r.with_alert_channels(host.store.as_ref(), &channels))
                .map(|r| r.with_refused_versions(host.refused_versions()))
                .map_err(cannot_check)?
                .forgiving_ended(|name| host.registry.ended_at(name))
                .map_err(cannot_check)
        })
    };
    let report = state
        .host
        .health
        .report(state.config.health_ttl, fresh, build)
        .await?;
    let status = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, Json(report.as_ref())).into_response())
}

/// A health check that could not read what it checks (the store is gone,
/// the registry unreachable): unhealthy, a 503 as a load balancer expects
/// of a host that cannot do its work, not a 500. The cause goes to the
/// server log.
fn cannot_check(error: impl std::fmt::Display) -> ApiError {
    tracing::error!("the health check cannot read the run state: {error}");
    ApiError::with_status(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "unhealthy: the health check cannot read the run state; see the server log",
    )
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>, _: NoParams) -> Response {
    let configured = state.config.alert_channel_names();
    let alerts = state
        .blocking(|host| {
            let outbox = host.store.alert_outbox()?;
            Some((
                outbox.delivery_counts().ok()?,
                outbox.channel_states().ok()?,
            ))
        })
        .await;
    if let Some((counts, states)) = alerts {
        state
            .host
            .metrics
            .observe_alerts(&configured, &counts, &states);
    }
    let host = &state.host;
    let text = host.metrics.render(host.executor.leases().reaped_total());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn empty_report() -> HealthReport {
        HealthReport {
            healthy: true,
            checked_at: chrono::Utc::now(),
            reached: None,
            tables: Vec::new(),
            problem_runs: Vec::new(),
            last_success: Vec::new(),
            dead_alert_channels: Vec::new(),
            failing_alert_channels: Vec::new(),
            refused_versions: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_report_until_it_is_stale() {
        let cache = Arc::new(HealthCache::default());
        let builds = Arc::new(AtomicUsize::new(0));
        let mut callers = Vec::new();
        for _ in 0..50 {
            let (cache, builds) = (cache.clone(), builds.clone());
            callers.push(tokio::spawn(async move {
                cache
                    .report(Duration::from_secs(60), false, || async {
                        builds.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(empty_report())
                    })
                    .await
                    .unwrap()
            }));
        }
        for caller in callers {
            caller.await.unwrap();
        }
        assert_eq!(
            builds.load(Ordering::SeqCst),
            1,
            "built once for 50 callers"
        );
        let fresh = cache
            .report(Duration::from_secs(60), true, || async {
                builds.fetch_add(1, Ordering::SeqCst);
                Ok(empty_report())
            })
            .await;
        assert!(fresh.is_ok());
        assert_eq!(builds.load(Ordering::SeqCst), 2, "fresh=1 builds anew");
        let stale = cache
            .report(Duration::ZERO, false, || async {
                builds.fetch_add(1, Ordering::SeqCst);
                Ok(empty_report())
            })
            .await;
        assert!(stale.is_ok());
        assert_eq!(
            builds.load(Ordering::SeqCst),
            3,
            "a stale report is rebuilt"
        );
    }
}
