//! JSON answers safe to print: what `curl` shows in a terminal. JSON
//! escapes only U+0000 to U+001F, so a processor's C1 controls (U+009B is
//! CSI on terminals that take C1) and bidirectional overrides in a run's
//! quarantined values or its error would otherwise reach the terminal raw.
//! Each is written as JSON escapes it (`\u009b`): the same JSON.

use axum::body::Body;
use axum::http::header;
use axum::response::Response;

/// Middleware: a JSON answer with an unprintable character
/// ([`crate::printable::is_unprintable`]) has it escaped.
pub async fn escape_unprintable(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Made whole in memory by the handler already.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let escaped = match std::str::from_utf8(&bytes) {
        Ok(text) => match crate::printable::json(text) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(escaped) => Some(escaped),
        },
        Err(_) => None,
    };
    match escaped {
        Some(escaped) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(escaped))
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}
