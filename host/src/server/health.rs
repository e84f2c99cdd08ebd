//! `GET /health` (the `slate health` report as JSON; 503 when unhealthy)
//! and `GET /metrics` (Prometheus text format).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;
use super::state::AppState;
use crate::health::report;

/// `GET /health`.
pub async fn health(State(state): State<AppState>) -> Result<Response, ApiError> {
    let report = state
        .blocking(|host| {
            let pipeline = host.pipeline().map_err(ApiError::internal)?;
            report(host.store.as_ref(), &pipeline, chrono::Utc::now()).map_err(ApiError::internal)
        })
        .await?;
    let status = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, Json(report)).into_response())
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
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
