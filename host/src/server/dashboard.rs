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
/// The escape its script applies to every text a processor wrote, made
/// from the host's own list ([`crate::printable::javascript_pattern`]).
pub static PRINTABLE_JS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "// What draws as nothing or steers how text is drawn: controls but line feeds\n\
         // and tabs, bidirectional overrides, zero-width and tag characters (made by\n\
         // the host from printable.rs, its own list).\n\
         const UNPRINTABLE = /{}/gu;\n",
        crate::printable::javascript_pattern()
    )
});
/// Its style sheet.
pub const DASHBOARD_CSS: &str = include_str!("dashboard/dashboard.css");

/// The routes of the page and its assets.
pub fn assets() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/printable.js", get(printable_script))
        .route("/dashboard.js", get(script))
        .route("/dashboard.css", get(style))
}

/// What the page may load and who may frame it: its own script, style
/// sheet and API, nothing else, and no page of another site may frame it.
/// The script escapes every text it shows; should one slip, a page under
/// this policy still runs no script but its own.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// An asset's answer: `body` as `content_type`, checked again on every
/// load, never sniffed as another type, never framed.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
}

async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", DASHBOARD_JS)
}

async fn printable_script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", PRINTABLE_JS.as_str())
}

async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", DASHBOARD_CSS)
}
