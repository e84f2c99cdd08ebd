//! `GET /runs` (filters: date, processor, status, plugin_hash, limit) and
//! `GET /runs/{id}`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;
use super::extract::{NoParams, Params, date_field};
use super::state::{AppState, ServedHost};
use crate::runs::{RunFilter, RunRecord};
use crate::store::listing;

/// The most runs one answer lists.
pub const MAX_LIMIT: usize = 1000;

/// Reads the filter from the query string, naming any bad parameter.
fn filter_from(query: &HashMap<String, String>) -> Result<RunFilter, ApiError> {
    const KNOWN: [&str; 5] = ["date", "processor", "status", "plugin_hash", "limit"];
    if let Some(unknown) = query.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::bad_field(
            unknown,
            format!("unknown filter `{unknown}`; known: {}", KNOWN.join(", ")),
        ));
    }
    let limit = match query.get("limit") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_field(
                    "limit",
                    format!("invalid limit `{text}`: expected a number from 1 to {MAX_LIMIT}"),
                ));
            }
        },
    };
    Ok(RunFilter {
        date: query
            .get("date")
            .map(|d| date_field("date", d))
            .transpose()?,
        processor: query.get("processor").cloned(),
        status: query
            .get("status")
            .map(|s| {
                s.parse()
                    .map_err(|e| ApiError::bad_field("status", format!("invalid status: {e}")))
            })
            .transpose()?,
        plugin_hash: query
            .get("plugin_hash")
            .map(|hash| {
                crate::plugin::hash_prefix(hash)
                    .map_err(|why| ApiError::bad_field("plugin_hash", why))
            })
            .transpose()?,
        limit: Some(limit),
        ..RunFilter::default()
    })
}

/// `GET /runs`: run records matching the filters, newest first. A
/// processor nobody has (no runs, not served, no registry history: a typo)
/// is a 400 naming it, as `slate runs --processor` refuses it, not an
/// empty list a monitor would read as "no runs".
pub async fn list_runs(
    State(state): State<AppState>,
    Params(query): Params,
) -> Result<Response, ApiError> {
    let filter = filter_from(&query)?;
    let page = state
        .blocking(move |host| {
            let page =
                listing::list_runs(host.store.as_ref(), &filter).map_err(ApiError::internal)?;
            if let Some(name) = filter.processor.as_deref()
                && page.runs.is_empty()
            {
                refuse_unknown_processor(host, name)?;
            }
            Ok(page)
        })
        .await?;
    // The body stays a list; a header says when the limit cut it.
    let truncated = [(
        TRUNCATED_HEADER,
        if page.truncated { "true" } else { "false" },
    )];
    Ok((truncated, Json(page.runs)).into_response())
}

/// The header of `GET /runs` that says whether its limit left runs out.
pub const TRUNCATED_HEADER: &str = "slate-truncated";

/// Refuses `name` (400, naming the field) unless it is a processor this
/// host knows ([`crate::catalog::is_known`]) or one that ever ran.
fn refuse_unknown_processor(host: &ServedHost, name: &str) -> Result<(), ApiError> {
    let pipeline = host.pipeline().map_err(ApiError::internal)?;
    if crate::catalog::is_known(&pipeline, &host.registry, name).map_err(ApiError::internal)? {
        return Ok(());
    }
    let ever_ran = host
        .store
        .runs(&RunFilter {
            processor: Some(name.to_string()),
            limit: Some(1),
            skip_upstream_check: true,
            ..RunFilter::default()
        })
        .map_err(ApiError::internal)?;
    match pipeline.select(&[name.to_string()]) {
        Err(unknown) if ever_ran.is_empty() => {
            Err(ApiError::bad_field("processor", unknown.to_string()))
        }
        _ => Ok(()),
    }
}

/// `GET /runs/{id}`: one run record.
pub async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: NoParams,
) -> Result<Json<RunRecord>, ApiError> {
    let lookup = id.clone();
    let run = state
        .blocking(move |host| host.store.run(&lookup))
        .await
        .map_err(ApiError::internal)?;
    run.map(Json)
        .ok_or_else(|| ApiError::not_found("id", format!("no run {id}")))
}
