//! Reading requests with checks that name what is wrong: a body's content
//! type, size and arrival (a body that ends early is a 400, one past the
//! limit a 413, one that does not arrive in time a 408), the JSON field
//! that does not parse, and dates, which must be exactly `YYYY-MM-DD` and
//! within the range the pipeline serves; and query strings, whose unknown
//! parameters and bad flags are named. Nothing is started for a request
//! that fails them.

use std::time::Duration;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chrono::NaiveDate;
use serde::de::DeserializeOwned;

use super::errors::ApiError;
use super::state::{AppState, ServedHost};
use crate::dates::{self, DateError, DatesConfig};
use crate::pipeline::Pipeline;

/// A request's query parameters, each given at most once: a repeated one
/// is a 400 naming it, where a map would silently keep its last value, and
/// so is one that is not UTF-8 text.
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if let Some(refused) = parts.uri.query().and_then(not_utf8) {
            return Err(refused);
        }
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::bad_field("query", e.body_text()))?;
        let mut params = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if params.contains_key(&name) {
                return Err(ApiError::bad_field(
                    &name,
                    format!("parameter `{name}` is given more than once"),
                ));
            }
            params.insert(name, value);
        }
        Ok(Params(params))
    }
}

/// The first parameter of `query` whose name or value is not UTF-8 once
/// percent-decoded, as a 400 naming it: decoding it as text would put
/// U+FFFD in its place, and a processor or a date would be looked up under
/// a name no one sent.
fn not_utf8(query: &str) -> Option<ApiError> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = |part: &str| {
            percent_encoding::percent_decode_str(&part.replace('+', " "))
                .decode_utf8()
                .map(|text| text.into_owned())
        };
        let (name_text, value_text) = (decoded(name), decoded(value));
        if name_text.is_ok() && value_text.is_ok() {
            return None;
        }
        Some(ApiError::bad_field(
            &name_text.unwrap_or_else(|_| name.to_string()),
            format!("query parameter `{pair}` is not UTF-8 text once percent-decoded"),
        ))
    })
}

/// A read that takes no query parameters: any is a 400 naming it, as the
/// endpoints that take some name an unknown one. Before, such endpoints
/// ignored one (`/plugins?procesor=X` listed them all).
pub struct NoParams;

impl<S: Send + Sync> FromRequestParts<S> for NoParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Params(query) = Params::from_request_parts(parts, state).await?;
        match query.keys().next() {
            Some(unknown) => Err(ApiError::bad_field(
                unknown,
                format!("unknown parameter `{unknown}`: this endpoint takes no query parameters"),
            )),
            None => Ok(NoParams),
        }
    }
}

/// Refuses a query string holding a parameter other than `known`, naming it.
pub fn only_params(query: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match query.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) if known.is_empty() => Err(ApiError::bad_field(
            unknown,
            format!(
                "unknown parameter `{unknown}`: this endpoint takes no query parameters; \
                 its fields go in the JSON body"
            ),
        )),
        Some(unknown) => Err(ApiError::bad_field(
            unknown,
            format!("unknown parameter `{unknown}`; known: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// The query flag `name`: `1` or `true`, `0` or `false`, false when absent;
/// anything else is a 400 naming it.
pub fn flag_param(query: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match query.get(name).map(String::as_str) {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(ApiError::bad_field(
            name,
            format!("invalid {name} `{other}`: expected 1 or true, 0 or false"),
        )),
    }
}

/// The processors a request names: all of them when the field is absent.
/// An empty list is refused (400, naming the field): a client whose own
/// filter came out empty would otherwise rerun the whole pipeline.
pub fn named_processors(field: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    match field {
        None => Ok(Vec::new()),
        Some(names) if names.is_empty() => Err(ApiError::bad_field(
            "processors",
            "processors is an empty list, which names none: leave the field out to \
             run every processor",
        )),
        Some(names) => match names.iter().position(|name| name.trim().is_empty()) {
            Some(at) => Err(ApiError::bad_field(
                "processors",
                format!("processors[{at}] is an empty name, which names no processor"),
            )),
            None => Ok(names),
        },
    }
}

/// Reads at most `limit` bytes of a body whose content type is one of
/// `accepted`, within `timeout`.
pub async fn read_body(
    request: Request,
    accepted: &[&str],
    limit: usize,
    timeout: Duration,
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
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("content-type"),
                format!(
                    "content type {} is not accepted here; send {}",
                    found.map_or("(none)".to_string(), |f| format!("`{f}`")),
                    accepted.join(" or ")
                ),
            ));
        }
    }
    let too_large = || {
        ApiError::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("body"),
            format!("the body is larger than the limit of {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(timeout, axum::body::to_bytes(request.into_body(), limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) if is_length_limit(&error) => Err(too_large()),
        Ok(Err(error)) => Err(ApiError::bad_field(
            "body",
            format!("the body could not be read: it ended before its declared length ({error})"),
        )),
        Err(_) => Err(ApiError::with_status(
            StatusCode::REQUEST_TIMEOUT,
            Some("body"),
            format!("the body did not arrive within {timeout:?}"),
        )),
    }
}

/// Whether reading a body failed because it was past the size limit.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Parses a date field strictly (exactly `YYYY-MM-DD`), naming the field.
pub fn date_field(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    dates::parse(text).map_err(|error| {
        let expected = match error {
            DateError::NoSuchDay(_) => "a real calendar date as YYYY-MM-DD",
            _ => "exactly YYYY-MM-DD",
        };
        ApiError::bad_field(
            field,
            format!("invalid date `{text}` in `{field}`: expected {expected}"),
        )
    })
}

/// `date` if the pipeline serves it ([`dates::serving_range`]), else a 400
/// naming the field and the range. Blocking: it may read the schedule.
pub fn served_date(
    host: &ServedHost,
    pipeline: &Pipeline,
    config: &DatesConfig,
    field: &str,
    date: NaiveDate,
) -> Result<NaiveDate, ApiError> {
    let range = dates::serving_range(host.store.as_ref(), pipeline.calendar(), config)
        .map_err(ApiError::internal)?;
    range
        .check(date)
        .map_err(|error| ApiError::bad_field(field, format!("`{field}`: {error}")))
}

/// Parses a body that must be exactly one JSON object, naming the field at
/// fault, or `body` when the fault is the JSON itself: not an object (serde
/// would take an array of a struct's fields in order), not JSON, or text
/// after the object. A body refused here starts nothing.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed =
        |message: String| ApiError::bad_field("body", format!("invalid JSON body: {message}"));
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(malformed("expected a JSON object `{...}`".to_string()));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.inner();
        if inner.is_syntax() || inner.is_eof() {
            return malformed(inner.to_string());
        }
        let message = inner.to_string();
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
    })?;
    deserializer
        .end()
        .map_err(|error| malformed(format!("text after the object: {error}")))?;
    Ok(value)
}

/// The bytes of an `application/json` body, within the server's size and
/// time limits.
async fn read_json_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let config = &state.config;
    read_body(
        request,
        &["application/json"],
        config.max_body_bytes,
        config.body_read_timeout,
    )
    .await
}

/// A JSON body of `application/json`, within the configured size limit.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        parse_json(&read_json_body(request, state).await?).map(JsonBody)
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
        let bytes = read_json_body(request, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJsonBody(None));
        }
        parse_json(&bytes).map(|v| OptionalJsonBody(Some(v)))
    }
}
