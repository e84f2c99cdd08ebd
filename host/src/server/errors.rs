//! The JSON error every endpoint answers with: a status, a message, and the
//! request field at fault when there is one. Caller mistakes get a 4xx that
//! says what to fix; host failures get a logged 500 that leaks no internals.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// How long a client answered 503 is told to wait before trying again.
const RETRY_AFTER_SECONDS: &str = "5";

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, in words.
    pub message: String,
    /// The request field at fault (`analysis_date`, `processors`, `body`,
    /// `content-type`, `authorization`, ...), if any.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// A 400 naming `field`.
    pub fn bad_field(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    /// An error with any status, naming `field`.
    pub fn with_status(
        status: StatusCode,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: field.map(str::to_string),
        }
    }

    /// A 404 for something that does not exist.
    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::with_status(StatusCode::NOT_FOUND, Some(field), message)
    }

    /// A 401: the bearer token is missing or wrong.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::with_status(StatusCode::UNAUTHORIZED, Some("authorization"), message)
    }

    /// A 503: the server is shutting down.
    pub fn shutting_down() -> Self {
        Self::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "the server is shutting down and accepts no new work and no change to its processors",
        )
    }

    /// A 500 for a failure of the host itself; the detail is logged, not
    /// sent. A store or registry whose database cannot be reached is a 503
    /// with `Retry-After` instead: the request may well work shortly.
    pub fn internal(error: impl std::fmt::Display + 'static) -> Self {
        tracing::error!("request failed: {error}");
        match is_unreachable(&error) {
            true => Self::with_status(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the state database is unreachable; try again shortly (see the server log)",
            ),
            false => Self::with_status(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "internal error; see the server log",
            ),
        }
    }
}

/// Whether `error` says a database could not be reached (the store's or
/// the registry's), directly or as the cause a host error carries.
pub(super) fn is_unreachable(error: &dyn std::any::Any) -> bool {
    use crate::registry::RegistryError;
    use crate::server::state::HostError;
    use crate::store::StoreError;
    let store = |e: &StoreError| matches!(e, StoreError::Unreachable(_));
    let registry = |e: &RegistryError| matches!(e, RegistryError::Unreachable(_));
    let catalog = |e: &crate::catalog::CatalogError| matches!(e, crate::catalog::CatalogError::Registry(e) if registry(e));
    error.downcast_ref().is_some_and(store)
        || error.downcast_ref().is_some_and(registry)
        || error.downcast_ref().is_some_and(catalog)
        || error
            .downcast_ref()
            .is_some_and(|e: &crate::cluster::ClusterError| match e {
                crate::cluster::ClusterError::Store(e) => store(e),
                crate::cluster::ClusterError::Registry(e) => registry(e),
                crate::cluster::ClusterError::NoDirectory => false,
            })
        || error.downcast_ref().is_some_and(|e: &HostError| match e {
            HostError::Store(e) => store(e),
            HostError::Registry(e) => registry(e),
            HostError::Catalog(e) => catalog(e),
            HostError::Dag(_) => false,
        })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A request's own value, echoed in its refusal, is cut short: a
        // 20,000-character name is not sent back whole.
        let message = crate::rows::cut_short(self.message, MAX_ERROR_BYTES);
        let body = Body {
            error: &message,
            field: self.field.as_deref(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            retry_later(&mut response);
        }
        response
    }
}

/// The most bytes of an error message an answer carries, an
/// [`ApiError`]'s or a refused deployment's.
pub const MAX_ERROR_BYTES: usize = 4096;

/// Says when a 503 `response` may be tried again.
pub fn retry_later(response: &mut Response) {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
}

/// Refuses with 400 a request whose path or query holds an encoded NUL
/// byte (`%00`): no name, id or date holds one, and PostgreSQL cannot
/// even compare text with one, which made a 500 of a plain 404.
pub async fn refuse_nul_bytes(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let uri = request.uri();
    let encoded = |text: &str| text.contains("%00");
    if encoded(uri.path()) || uri.query().is_some_and(encoded) {
        let field = if encoded(uri.path()) { "path" } else { "query" };
        return ApiError::bad_field(field, format!("the {field} holds a NUL byte (%00)"))
            .into_response();
    }
    next.run(request).await
}

/// Makes every error answer JSON, including those axum's extractors and
/// router make themselves: an error response that is not JSON gets its
/// text as the `error` of an [`ApiError`] body, status and headers kept. A
/// path that does not decode names the field `path`; a method not allowed
/// names `method`, and says which methods the path takes.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Cheap clones (shared bytes): every request pays them, few use them.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let (field, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            let path = uri.path();
            let message = format!("{path} does not take {method}; it takes {allowed}");
            (Some("method"), message)
        }
        // The 400 axum's own extractors make before a handler runs is a
        // path segment that does not decode (queries go through `Params`).
        StatusCode::BAD_REQUEST => (Some("path"), message),
        _ => (None, message),
    };
    let mut answer = ApiError::with_status(status, field, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}
