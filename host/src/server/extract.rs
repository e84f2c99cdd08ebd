//! Reading request bodies with checks that name what is wrong: the content
//! type, the size, and (for JSON) the field that does not parse. Nothing is
//! started for a body that fails them.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::errors::ApiError;
use super::state::AppState;

/// Reads at most `limit` bytes of a body whose content type is one of `accepted`.
pub async fn read_body(
    request: Request,
    accepted: &[&str],
    limit: usize,
) -> Result<Bytes, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match content_type {
        Some(found) if accepted.contains(&found.as_str()) => {}
        found => {
            return Err(ApiError::with_status(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("content-type"),
                format!(
                    "content type {} is not accepted here; send {}",
                    found.map_or("(none)".to_string(), |f| format!("`{f}`")),
                    accepted.join(" or ")
                ),
            ));
        }
    }
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| {
            ApiError::with_status(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                Some("body"),
                format!("the body is larger than the limit of {limit} bytes"),
            )
        })
}

/// Parses JSON, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let field = if path == "." {
            // An unknown or missing field is named in the message itself.
            message
                .split('`')
                .nth(1)
                .map(str::to_string)
                .unwrap_or_else(|| "body".to_string())
        } else {
            path
        };
        ApiError::bad_field(&field, format!("invalid `{field}`: {message}"))
    })
}

/// A JSON body of `application/json`, within the configured size limit.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(request, &["application/json"], state.config.max_body_bytes).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// An optional JSON body: empty is `None`.
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let has_body = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v != "0")
            || request.headers().contains_key(header::CONTENT_TYPE);
        if !has_body {
            return Ok(OptionalJsonBody(None));
        }
        let bytes = read_body(request, &["application/json"], state.config.max_body_bytes).await?;
        if bytes.is_empty() {
            return Ok(OptionalJsonBody(None));
        }
        parse_json(&bytes).map(|v| OptionalJsonBody(Some(v)))
    }
}
