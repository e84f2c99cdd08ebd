//! The dashboard's page: HTML, CSS and JavaScript embedded in the binary
//! (no CDN, nothing fetched at run time, no build step), served at `/`.
//!
//! The page reads `/api/grid`, `/api/runs/{id}`, `/health`, `/plugins`,
//! `/backfills/{id}` and `/events`, and acts through the same JSON API a
//! `curl` user has, with the bearer token the operator types once (kept in
//! `sessionStorage`). The assets themselves hold no data, so they are open
//! even with `--protect-reads`: the page asks for the token first.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::state::AppState;

/// The page.
pub const INDEX_HTML: &str = include_str!("dashboard/index.html");
/// Its script.
pub const DASHBOARD_JS: &str = include_str!("dashboard/dashboard.js");
/// Its style sheet.
pub const DASHBOARD_CSS: &str = include_str!("dashboard/dashboard.css");

/// The routes of the page and its assets.
pub fn assets() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/dashboard.js", get(script))
        .route("/dashboard.css", get(style))
}

async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DASHBOARD_JS,
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DASHBOARD_CSS,
    )
}
